/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the few facts vpower needs from a libvirt domain XML (name, UUID, DAC owner, shares, channel).
 *
 * GMarkup is enough for libvirt's XML (no DTD, no entities beyond the
 * predefined ones) and keeps libxml2 out of the hook, which must be small
 * and fast (libvirt runs it synchronously while starting the VM). */
#include "config.h"

#include "shared/vp-domxml.h"
#include "shared/vp-channel.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

void
vp_domain_xml_free (VpDomainXml *xml)
{
  if (!xml)
    return;
  g_free (xml->name);
  g_free (xml->uuid);
  g_free (xml->channel_path);
  g_clear_pointer (&xml->filesystems, g_ptr_array_unref);
  g_free (xml);
}

static void
filesystem_free (VpDomainFilesystem *fs)
{
  g_free (fs->driver);
  g_free (fs->source_dir);
  g_free (fs->target_dir);
  g_free (fs);
}

gboolean
vp_domain_filesystem_is_virtiofs (const VpDomainFilesystem *fs)
{
  return g_strcmp0 (fs->driver, "virtiofs") == 0;
}

const char *
vp_markup_attribute (const char **names, const char **values, const char *wanted)
{
  for (int i = 0; names[i]; i++)
    if (g_str_equal (names[i], wanted))
      return values[i];
  return NULL;
}

static gboolean
parse_id (const char *text, gboolean is_user, guint32 *out, GError **error)
{
  guint64 number;
  if (text[0] == '+')
    {
      if (!g_ascii_string_to_unsigned (text + 1, 10, 0, G_MAXUINT32 - 1, &number, NULL))
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "\"%s\" is not a numeric id", text);
          return FALSE;
        }
      *out = (guint32) number;
      return TRUE;
    }
  if (is_user)
    {
      struct passwd pw, *found = NULL;
      char buffer[4096];
      if (getpwnam_r (text, &pw, buffer, sizeof buffer, &found) != 0 || !found)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no user named \"%s\"", text);
          return FALSE;
        }
      *out = pw.pw_uid;
    }
  else
    {
      struct group gr, *found = NULL;
      char buffer[4096];
      if (getgrnam_r (text, &gr, buffer, sizeof buffer, &found) != 0 || !found)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no group named \"%s\"", text);
          return FALSE;
        }
      *out = gr.gr_gid;
    }
  return TRUE;
}

gboolean
vp_dac_label_parse (const char *label, uid_t *uid, gid_t *gid, GError **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (label));
  char *colon = strchr (copy, ':');
  guint32 user_id, group_id;

  if (colon)
    *colon = '\0';
  if (copy[0] == '\0' || (colon && colon[1] == '\0'))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "\"%s\" is not a DAC label (user:group)", label);
      return FALSE;
    }
  if (!parse_id (copy, TRUE, &user_id, error))
    return FALSE;
  if (colon)
    {
      if (!parse_id (colon + 1, FALSE, &group_id, error))
        return FALSE;
    }
  else
    {
      struct passwd pw, *found = NULL;
      char buffer[4096];
      if (getpwuid_r (user_id, &pw, buffer, sizeof buffer, &found) != 0 || !found)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "user %u has no primary group", user_id);
          return FALSE;
        }
      group_id = pw.pw_gid;
    }
  *uid = user_id;
  *gid = group_id;
  return TRUE;
}

typedef struct {
  VpDomainXml *result;
  int depth;
  /* What the text at the current element is for, if anything. */
  GString **capture;
  GString *name, *uuid, *label, *vcpu;
  gboolean in_dac_seclabel;
  gboolean dac_none;
  gboolean in_memory_backing;
  gboolean in_devices;
  gboolean shared_memory;
  GPtrArray *filesystems;
  VpDomainFilesystem *filesystem; /* the <filesystem> being read, in filesystems */
  gboolean in_unix_channel;
  char *channel_source;           /* of the <channel> being read */
  gboolean channel_is_vpower;     /* of the <channel> being read */
  gboolean has_channel;
  char *channel_path;
  gboolean has_virtio_serial;
  gboolean is_status;             /* the document is a <domstatus> */
  int status_pid;
  gboolean in_domain;             /* inside the (first) <domain> */
  gboolean domain_seen;
  int base;                       /* the depth of <domain>, less one */
} ParseState;

static void
on_start (GMarkupParseContext *context, const char *element, const char **attr_names,
          const char **attr_values, gpointer user_data, GError **error)
{
  ParseState *state = user_data;
  state->depth++;
  state->capture = NULL;

  if (state->depth == 1)
    {
      /* libvirt's status file (its run directory's NAME.xml) wraps the live domain. */
      if (g_str_equal (element, "domstatus"))
        {
          const char *pid = vp_markup_attribute (attr_names, attr_values, "pid");
          guint64 value;
          state->is_status = TRUE;
          if (pid && vp_parse_u64 (pid, &value) && value > 0 && value <= G_MAXINT)
            state->status_pid = (int) value;
        }
      else if (g_str_equal (element, "domain"))
        state->in_domain = TRUE;
      else
        g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "the document is a <%s>, not a <domain>", element);
      return;
    }
  if (state->is_status && state->depth == 2 && g_str_equal (element, "domain") && !state->domain_seen)
    {
      state->in_domain = TRUE;
      state->base = 1;
      return;
    }
  if (!state->in_domain)
    return;
  /* From here, depths are the domain's own: 1 is <domain>. */
  const int depth = state->depth - state->base;
  /* Only the domain's own children count: disks have <seclabel>s too. */
  if (depth == 2)
    {
      if (g_str_equal (element, "name"))
        state->capture = &state->name;
      else if (g_str_equal (element, "uuid"))
        state->capture = &state->uuid;
      else if (g_str_equal (element, "vcpu"))
        state->capture = &state->vcpu;
      else if (g_str_equal (element, "seclabel"))
        {
          const char *model = NULL, *type = NULL;
          for (int i = 0; attr_names[i]; i++)
            if (g_str_equal (attr_names[i], "model"))
              model = attr_values[i];
            else if (g_str_equal (attr_names[i], "type"))
              type = attr_values[i];
          /* A <seclabel type='none'/> with no model turns every driver off. */
          if (g_strcmp0 (type, "none") == 0 && (!model || g_str_equal (model, "dac")))
            state->dac_none = TRUE;
          state->in_dac_seclabel = g_strcmp0 (model, "dac") == 0;
        }
      else if (g_str_equal (element, "memoryBacking"))
        state->in_memory_backing = TRUE;
      else if (g_str_equal (element, "devices"))
        state->in_devices = TRUE;
    }
  else if (depth == 3 && state->in_dac_seclabel && g_str_equal (element, "label"))
    state->capture = &state->label;
  /* libvirt's formatdomain: virtiofs needs <access mode='shared'/> here. */
  else if (depth == 3 && state->in_memory_backing && g_str_equal (element, "access"))
    state->shared_memory |= g_strcmp0 (vp_markup_attribute (attr_names, attr_values, "mode"), "shared") == 0;
  else if (depth == 3 && state->in_devices && g_str_equal (element, "filesystem"))
    {
      state->filesystem = g_new0 (VpDomainFilesystem, 1);
      g_ptr_array_add (state->filesystems, state->filesystem);
    }
  else if (depth == 3 && state->in_devices && g_str_equal (element, "controller"))
    state->has_virtio_serial |= g_strcmp0 (vp_markup_attribute (attr_names, attr_values, "type"), "virtio-serial") == 0;
  else if (depth == 3 && state->in_devices && g_str_equal (element, "channel"))
    {
      state->in_unix_channel = g_strcmp0 (vp_markup_attribute (attr_names, attr_values, "type"), "unix") == 0;
      state->channel_is_vpower = FALSE;
      g_clear_pointer (&state->channel_source, g_free);
    }
  else if (depth == 4 && state->in_unix_channel)
    {
      const char *path = vp_markup_attribute (attr_names, attr_values, "path");
      if (g_str_equal (element, "source") && path && !state->channel_source)
        state->channel_source = g_strdup (path);
      else if (g_str_equal (element, "target"))
        state->channel_is_vpower = g_strcmp0 (vp_markup_attribute (attr_names, attr_values, "type"), "virtio") == 0 &&
                                   g_strcmp0 (vp_markup_attribute (attr_names, attr_values, "name"), VP_CHANNEL_PORT_NAME) == 0;
    }
  else if (depth == 4 && state->filesystem)
    {
      char **field = g_str_equal (element, "driver") ? &state->filesystem->driver
                   : g_str_equal (element, "source") ? &state->filesystem->source_dir
                   : g_str_equal (element, "target") ? &state->filesystem->target_dir : NULL;
      const char *value = vp_markup_attribute (attr_names, attr_values, g_str_equal (element, "driver") ? "type" : "dir");
      if (field && value && !*field)
        *field = g_strdup (value);
    }
}

static void
on_end (GMarkupParseContext *context, const char *element, gpointer user_data, GError **error)
{
  ParseState *state = user_data;
  const int depth = state->depth - state->base;
  /* Outside the domain (a status file's own elements) nothing is read. */
  if (!state->in_domain)
    {
      state->capture = NULL;
      state->depth--;
      return;
    }
  if (depth == 1)
    {
      state->in_domain = FALSE;
      state->domain_seen = TRUE;
    }
  else if (depth == 2 && g_str_equal (element, "seclabel"))
    state->in_dac_seclabel = FALSE;
  else if (depth == 2 && g_str_equal (element, "memoryBacking"))
    state->in_memory_backing = FALSE;
  else if (depth == 2 && g_str_equal (element, "devices"))
    state->in_devices = FALSE;
  else if (depth == 3 && g_str_equal (element, "filesystem"))
    state->filesystem = NULL;
  else if (depth == 3 && g_str_equal (element, "channel") && state->in_unix_channel)
    {
      /* The first vpower channel counts; libvirt refuses a second one. */
      if (state->channel_is_vpower && !state->has_channel)
        {
          state->has_channel = TRUE;
          state->channel_path = g_steal_pointer (&state->channel_source);
        }
      g_clear_pointer (&state->channel_source, g_free);
      state->in_unix_channel = FALSE;
    }
  state->capture = NULL;
  state->depth--;
}

static void
on_text (GMarkupParseContext *context, const char *text, gsize length, gpointer user_data, GError **error)
{
  ParseState *state = user_data;
  if (!state->capture)
    return;
  if (!*state->capture)
    *state->capture = g_string_new (NULL);
  g_string_append_len (*state->capture, text, (gssize) length);
}

VpDomainXml *
vp_domain_xml_parse (const char *text, gssize length, GError **error)
{
  static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
  ParseState state = { .filesystems = g_ptr_array_new_with_free_func ((GDestroyNotify) filesystem_free) };
  g_autoptr (GPtrArray) filesystems = state.filesystems;
  g_autoptr (GMarkupParseContext) context = g_markup_parse_context_new (&parser, 0, &state, NULL);
  g_autoptr (GError) local = NULL;
  gboolean ok = g_markup_parse_context_parse (context, text, length, &local) &&
                g_markup_parse_context_end_parse (context, &local);
  g_autoptr (GString) name = state.name, uuid = state.uuid, label = state.label, vcpu = state.vcpu;
  g_autofree char *channel_source = state.channel_source, *channel_path = state.channel_path;

  if (!ok)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "domain XML: %s", local->message);
      return NULL;
    }
  if (state.is_status && !state.domain_seen)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "domain status XML: no <domain>");
      return NULL;
    }
  if (!name || !uuid)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "domain XML: no <%s>", name ? "uuid" : "name");
      return NULL;
    }
  g_autoptr (VpDomainXml) xml = g_new0 (VpDomainXml, 1);
  xml->name = g_strstrip (g_strdup (name->str));
  xml->uuid = g_ascii_strdown (g_strstrip (uuid->str), -1);
  xml->shared_memory = state.shared_memory;
  xml->filesystems = g_steal_pointer (&filesystems);
  xml->has_channel = state.has_channel;
  xml->channel_path = g_steal_pointer (&channel_path);
  xml->has_virtio_serial = state.has_virtio_serial;
  xml->status_pid = state.status_pid;
  /* <vcpu>N</vcpu>: the vCPUs the domain may have, its reservation; current= is how many are
   * plugged now. At most 16384, libvirt's own limit. */
  guint64 vcpus;
  if (vcpu && vp_parse_u64 (g_strstrip (vcpu->str), &vcpus) && vcpus > 0 && vcpus <= 16384)
    xml->vcpus = (guint) vcpus;
  if (label && !state.dac_none)
    {
      g_autoptr (GError) label_error = NULL;
      xml->owner_known = vp_dac_label_parse (label->str, &xml->uid, &xml->gid, &label_error);
      if (!xml->owner_known)
        g_debug ("domain %s: DAC label ignored: %s", xml->name, label_error->message);
    }
  return g_steal_pointer (&xml);
}
