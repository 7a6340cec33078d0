/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: who a VM belongs to, from its libvirt <metadata>.
 *
 * libvirt keeps each application's metadata as one element under
 * <metadata>, in that application's XML namespace, with whatever prefix it
 * chose (virsh metadata --key). So elements are matched by namespace URI and
 * local name, never by prefix. GMarkup knows nothing of namespaces: the
 * xmlns declarations in scope are tracked here.
 *
 * The values end up as Prometheus label values and in JSON: they are
 * trimmed, stripped of control characters and bounded in length and count
 * (vp-metadata.h), whatever the XML holds. */
#include "config.h"

#include "shared/vp-metadata.h"
#include "shared/vp-domxml.h"
#include "shared/vp-error.h"

#include <string.h>

typedef enum {
  SOURCE_NOVA, SOURCE_OPENNEBULA, SOURCE_VPOWER, SOURCE_WIRING, SOURCE_LIBOSINFO, SOURCE_OVIRT, SOURCE_KUBEVIRT,
  N_SOURCES,
  SOURCE_NONE = -1
} Source;
enum { VM_NAME, PROJECT_ID, PROJECT, USER_ID, USER, FLAVOR, N_OWNER };

static const char *const owner_label_names[N_OWNER] = { VP_METADATA_OWNER_LABELS };

static const struct {
  const char *uri;
  Source source;
} namespaces[] = {
  { VP_METADATA_NS_NOVA_1_1, SOURCE_NOVA },
  { VP_METADATA_NS_NOVA_1_0, SOURCE_NOVA },
  { VP_METADATA_NS_OPENNEBULA, SOURCE_OPENNEBULA },
  { VP_METADATA_NS_VPOWER, SOURCE_VPOWER },
  { VP_METADATA_NS_WIRING, SOURCE_WIRING },
  { VP_METADATA_NS_LIBOSINFO, SOURCE_LIBOSINFO },
  { VP_METADATA_NS_OVIRT, SOURCE_OVIRT },
  { VP_METADATA_NS_KUBEVIRT, SOURCE_KUBEVIRT },
};

/* The manager each source's presence names (VpMetadataFacts). */
static const char *const source_managers[N_SOURCES] = {
  [SOURCE_NOVA] = "nova", [SOURCE_OPENNEBULA] = "opennebula", [SOURCE_LIBOSINFO] = "virt-install",
  [SOURCE_OVIRT] = "ovirt", [SOURCE_KUBEVIRT] = "kubevirt",
};

/* Where each cloud keeps an owner label: the path of local names from its
 * element under <metadata>, and the attribute holding the value (NULL: the
 * element's text). OpenNebula's groups are its tenancy: gname is the project. */
static const struct {
  Source source;
  const char *path;
  const char *attribute;
  int label;
} owner_fields[] = {
  { SOURCE_NOVA, "instance/name", NULL, VM_NAME },
  { SOURCE_NOVA, "instance/owner/project", "uuid", PROJECT_ID },
  { SOURCE_NOVA, "instance/owner/project", NULL, PROJECT },
  { SOURCE_NOVA, "instance/owner/user", "uuid", USER_ID },
  { SOURCE_NOVA, "instance/owner/user", NULL, USER },
  { SOURCE_NOVA, "instance/flavor", "name", FLAVOR },
  { SOURCE_OPENNEBULA, "vm/name", NULL, VM_NAME },
  { SOURCE_OPENNEBULA, "vm/gid", NULL, PROJECT_ID },
  { SOURCE_OPENNEBULA, "vm/gname", NULL, PROJECT },
  { SOURCE_OPENNEBULA, "vm/uid", NULL, USER_ID },
  { SOURCE_OPENNEBULA, "vm/uname", NULL, USER },
};

#define VPOWER_LABEL_PATH "labels/label"
#define WIRING_PATH "wiring"
#define KUBEVIRT_UID_PATH "kubevirt/uid"
/* capture_label's value while KubeVirt's <uid> is read. */
#define CAPTURE_KUBEVIRT_UID (-3)
/* capture_label's value while the wiring element's text is read. */
#define CAPTURE_WIRING (-2)
/* Text kept of one element, before it is cut to VP_METADATA_VALUE_MAX. */
#define CAPTURE_MAX 4096

typedef struct {
  int depth;
  int metadata_depth;       /* depth of <metadata> while inside it, else 0 */
  gboolean metadata_seen;   /* only the first <metadata> counts, as in libvirt */
  gboolean in_status;       /* the document is libvirt's status file, a <domstatus> */
  gboolean in_status_domain; /* the depth-2 element being read is that file's <domain> */
  GPtrArray *declarations;  /* xmlns in scope: depth (as pointer), prefix, uri, ... */
  Source source;            /* of the element under <metadata> being read */
  const char *source_uri;
  GString *path;            /* local names from that element, '/'-separated */
  GArray *path_lengths;     /* path->len before each element, to pop */
  /* The element whose text is wanted. */
  int capture_depth;
  int capture_label;        /* owner label, -1 for a vpower label, CAPTURE_WIRING for <wiring> */
  GString *capture;
  char *label_name;         /* of the vpower label being read */
  char *owner[N_SOURCES][N_OWNER];
  GPtrArray *free_labels;   /* "label_NAME", value, ... */
  guint ignored;
  VpMetadataFacts facts;
} ParseState;

/* A value as a label can carry it: trimmed, control characters made
 * spaces, cut to VP_METADATA_VALUE_MAX bytes at a character boundary (the
 * text is valid UTF-8: GMarkup checked). NULL when nothing is left. */
static char *
clean_value (const char *raw)
{
  g_autofree char *value = g_strstrip (g_strdup (raw));
  for (char *p = value; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  gsize length = strlen (value);
  if (length > VP_METADATA_VALUE_MAX)
    {
      length = VP_METADATA_VALUE_MAX;
      while (length > 0 && ((guchar) value[length] & 0xc0) == 0x80)
        length--;
      value[length] = '\0';
      g_strchomp (value);
    }
  return value[0] ? g_steal_pointer (&value) : NULL;
}

static gboolean
label_name_is_valid (const char *name)
{
  gsize length = strlen (name);
  if (length == 0 || length > VP_METADATA_NAME_MAX || g_str_has_prefix (name, "__") ||
      !(g_ascii_isalpha (name[0]) || name[0] == '_'))
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_'))
      return FALSE;
  return TRUE;
}

static void
set_owner (ParseState *state, Source source, int label, const char *raw)
{
  if (state->owner[source][label])
    return;   /* the first one written wins */
  state->owner[source][label] = clean_value (raw);
}

static void
add_vpower_label (ParseState *state, const char *name, const char *raw)
{
  for (int i = 0; i < N_OWNER; i++)
    if (g_strcmp0 (name, owner_label_names[i]) == 0)
      {
        set_owner (state, SOURCE_VPOWER, i, raw);
        return;
      }
  g_autofree char *full = name ? g_strconcat ("label_", name, NULL) : NULL;
  gboolean repeated = FALSE;
  for (guint i = 0; full && i < state->free_labels->len; i += 2)
    repeated |= g_str_equal (state->free_labels->pdata[i], full);
  g_autofree char *value = clean_value (raw);
  if (!name || !label_name_is_valid (name) || repeated ||
      state->free_labels->len / 2 >= VP_METADATA_FREE_LABELS_MAX)
    {
      state->ignored++;
      return;
    }
  if (!value)
    return;   /* an empty label is no label, as in Prometheus */
  g_ptr_array_add (state->free_labels, g_steal_pointer (&full));
  g_ptr_array_add (state->free_labels, g_steal_pointer (&value));
}

static const char *
namespace_of (ParseState *state, const char *prefix)
{
  for (guint i = state->declarations->len; i >= 3; i -= 3)
    if (g_str_equal (state->declarations->pdata[i - 2], prefix))
      return state->declarations->pdata[i - 1];
  return NULL;
}

static Source
source_of (const char *uri)
{
  for (gsize i = 0; uri && i < G_N_ELEMENTS (namespaces); i++)
    if (g_str_equal (uri, namespaces[i].uri))
      return namespaces[i].source;
  return SOURCE_NONE;
}

static void
on_start (GMarkupParseContext *context, const char *element, const char **attr_names,
          const char **attr_values, gpointer user_data, GError **error)
{
  ParseState *state = user_data;
  state->depth++;

  for (int i = 0; attr_names[i]; i++)
    if (g_str_equal (attr_names[i], "xmlns") || g_str_has_prefix (attr_names[i], "xmlns:"))
      {
        g_ptr_array_add (state->declarations, GINT_TO_POINTER (state->depth));
        g_ptr_array_add (state->declarations, g_strdup (attr_names[i][5] == ':' ? attr_names[i] + 6 : ""));
        g_ptr_array_add (state->declarations, g_strdup (attr_values[i]));
      }
  if (!state->metadata_depth)
    {
      if (state->depth == 1)
        state->in_status = g_str_equal (element, "domstatus");
      if (state->depth == 2)
        state->in_status_domain = state->in_status && g_str_equal (element, "domain");
      /* A bare <metadata>, a <domain>'s, or, in libvirt's status file, its live <domain>'s. */
      if (g_str_equal (element, "metadata") && !state->metadata_seen &&
          (state->in_status ? state->depth == 3 && state->in_status_domain : state->depth <= 2))
        state->metadata_depth = state->depth;
      return;
    }

  const char *colon = strchr (element, ':');
  g_autofree char *prefix = colon ? g_strndup (element, colon - element) : g_strdup ("");
  const char *local = colon ? colon + 1 : element;
  const char *uri = namespace_of (state, prefix);
  int level = state->depth - state->metadata_depth;

  g_array_append_val (state->path_lengths, state->path->len);
  if (level == 1)
    {
      state->source = source_of (uri);
      state->source_uri = uri;
      g_string_assign (state->path, local);
      /* A cloud's element names the cloud; the first one found wins. */
      if (state->source != SOURCE_NONE && source_managers[state->source] && !state->facts.manager)
        state->facts.manager = source_managers[state->source];
    }
  /* An element of another namespace inside a cloud's element matches
   * nothing, and neither does anything under it: '#' is in no XML name. */
  else if (state->source != SOURCE_NONE && g_strcmp0 (uri, state->source_uri) == 0)
    g_string_append_printf (state->path, "/%s", local);
  else
    g_string_append (state->path, "/#");
  if (state->source == SOURCE_NONE)
    return;

  gboolean capture = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (owner_fields); i++)
    {
      if (owner_fields[i].source != state->source || !g_str_equal (owner_fields[i].path, state->path->str))
        continue;
      if (owner_fields[i].attribute)
        {
          const char *value = vp_markup_attribute (attr_names, attr_values, owner_fields[i].attribute);
          if (value)
            set_owner (state, state->source, owner_fields[i].label, value);
        }
      else
        {
          capture = TRUE;
          state->capture_label = owner_fields[i].label;
        }
    }
  if (state->source == SOURCE_VPOWER && g_str_equal (state->path->str, VPOWER_LABEL_PATH))
    {
      g_free (state->label_name);
      state->label_name = g_strdup (vp_markup_attribute (attr_names, attr_values, "name"));
      capture = TRUE;
      state->capture_label = -1;
    }
  if (state->source == SOURCE_WIRING && g_str_equal (state->path->str, WIRING_PATH))
    {
      capture = TRUE;
      state->capture_label = CAPTURE_WIRING;
    }
  if (state->source == SOURCE_KUBEVIRT && g_str_equal (state->path->str, KUBEVIRT_UID_PATH))
    {
      capture = TRUE;
      state->capture_label = CAPTURE_KUBEVIRT_UID;
    }
  /* A child's text is not its parent's; the parent's own text still is. */
  if (capture)
    {
      state->capture_depth = state->depth;
      g_string_truncate (state->capture, 0);
    }
}

static void
on_end (GMarkupParseContext *context, const char *element, gpointer user_data, GError **error)
{
  ParseState *state = user_data;

  if (state->metadata_depth && state->depth == state->capture_depth)
    {
      if (state->capture_label == CAPTURE_WIRING)
        {
          g_autofree char *word = g_strstrip (g_ascii_strdown (state->capture->str, -1));
          state->facts.wiring_off |= g_str_equal (word, "off");
        }
      else if (state->capture_label == CAPTURE_KUBEVIRT_UID)
        {
          /* A Kubernetes UID: 36 characters of hex and '-'; anything else is not kept. */
          g_autofree char *uid = g_strstrip (g_strdup (state->capture->str));
          gboolean fit = strlen (uid) == 36;
          for (const char *p = uid; fit && *p; p++)
            fit = g_ascii_isxdigit (*p) || *p == '-';
          if (fit && !state->facts.kubevirt_uid[0])
            g_strlcpy (state->facts.kubevirt_uid, uid, sizeof state->facts.kubevirt_uid);
        }
      else if (state->capture_label >= 0)
        set_owner (state, state->source, state->capture_label, state->capture->str);
      else
        add_vpower_label (state, state->label_name, state->capture->str);
      state->capture_depth = 0;
    }
  if (state->metadata_depth == state->depth)
    {
      state->metadata_depth = 0;
      state->metadata_seen = TRUE;
    }
  else if (state->metadata_depth && state->path_lengths->len > 0)
    {
      g_string_truncate (state->path, g_array_index (state->path_lengths, gsize, state->path_lengths->len - 1));
      g_array_set_size (state->path_lengths, state->path_lengths->len - 1);
    }
  while (state->declarations->len >= 3 &&
         GPOINTER_TO_INT (state->declarations->pdata[state->declarations->len - 3]) == state->depth)
    {
      g_free (state->declarations->pdata[state->declarations->len - 1]);
      g_free (state->declarations->pdata[state->declarations->len - 2]);
      g_ptr_array_set_size (state->declarations, state->declarations->len - 3);
    }
  state->depth--;
}

static void
on_text (GMarkupParseContext *context, const char *text, gsize length, gpointer user_data, GError **error)
{
  ParseState *state = user_data;
  /* Only the element's own text, not that of its children. */
  if (state->capture_depth == 0 || state->capture_depth != state->depth)
    return;
  gsize room = CAPTURE_MAX - MIN (state->capture->len, CAPTURE_MAX);
  g_string_append_len (state->capture, text, (gssize) MIN (length, room));
}

static void
parse_state_clear (ParseState *state)
{
  for (guint i = 0; i < state->declarations->len; i += 3)
    {
      g_free (state->declarations->pdata[i + 1]);
      g_free (state->declarations->pdata[i + 2]);
    }
  g_ptr_array_unref (state->declarations);
  g_string_free (state->path, TRUE);
  g_array_unref (state->path_lengths);
  g_string_free (state->capture, TRUE);
  g_free (state->label_name);
  for (int s = 0; s < N_SOURCES; s++)
    for (int i = 0; i < N_OWNER; i++)
      g_free (state->owner[s][i]);
  g_ptr_array_unref (state->free_labels);
}

char **
vp_metadata_labels_parse (const char *text, gssize length, guint *ignored, GError **error)
{
  return vp_metadata_parse (text, length, ignored, NULL, error);
}

char **
vp_metadata_parse (const char *text, gssize length, guint *ignored, VpMetadataFacts *facts, GError **error)
{
  static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
  ParseState state = {
    .declarations = g_ptr_array_new (),
    .source = SOURCE_NONE,
    .path = g_string_new (NULL),
    .path_lengths = g_array_new (FALSE, FALSE, sizeof (gsize)),
    .capture = g_string_new (NULL),
    .free_labels = g_ptr_array_new_with_free_func (g_free),
  };
  /* OpenNebula writes its values as CDATA. */
  g_autoptr (GMarkupParseContext) context =
    g_markup_parse_context_new (&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, &state, NULL);
  g_autoptr (GError) local = NULL;

  if (!g_markup_parse_context_parse (context, text, length, &local) ||
      !g_markup_parse_context_end_parse (context, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "metadata: %s", local->message);
      parse_state_clear (&state);
      return NULL;
    }
  GPtrArray *labels = g_ptr_array_new ();
  for (int i = 0; i < N_OWNER; i++)
    for (int s = 0; s < N_SOURCES; s++)
      if (state.owner[s][i])
        {
          g_ptr_array_add (labels, g_strdup (owner_label_names[i]));
          g_ptr_array_add (labels, g_strdup (state.owner[s][i]));
          break;
        }
  for (guint i = 0; i < state.free_labels->len; i++)
    g_ptr_array_add (labels, g_strdup (state.free_labels->pdata[i]));
  g_ptr_array_add (labels, NULL);
  if (ignored)
    *ignored = state.ignored;
  if (facts)
    *facts = state.facts;
  parse_state_clear (&state);
  return (char **) g_ptr_array_free (labels, FALSE);
}

char *
vp_metadata_labels_to_string (const char *const *labels)
{
  GString *out = g_string_new (NULL);
  for (; labels && labels[0] && labels[1]; labels += 2)
    g_string_append_printf (out, "%s%s=%s", out->len ? " " : "", labels[0], labels[1]);
  return g_string_free (out, FALSE);
}
