/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what a QEMU process's command line says of its VM, read as QEMU reads it.
 *
 * The managers write the same facts in different ways: libvirt -name
 * guest=NAME,debug-threads=on; Proxmox -name NAME,debug-threads=on and the
 * UUID only in -smbios type=1,uuid=; Incus -name NAME -uuid UUID and its
 * devices in a -readconfig file. So -name and the others are parsed as
 * QemuOpts, as QEMU does (util/qemu-option.c), not split at the first comma. */
#include "config.h"

#include "host/inventory/qemu-cmdline.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* Options that take no value: the next word is not theirs. Any other option
 * takes the next word unless it starts with '-' (QEMU's own table is long and
 * changes between versions; of the options read here none is in doubt). */
static const char *const flag_options[] = {
  "S", "daemonize", "nodefaults", "no-user-config", "nographic", "no-shutdown", "no-reboot", "snapshot",
  "enable-kvm", "no-hpet", "no-acpi", "full-screen", "preconfig", "only-migratable", "enable-fips",
  "no-fd-bootchk", "win2k-hack", "no-quit", "alt-grab", "ctrl-grab", "curses", "sdl", "singlestep",
  "s", "usb", "no-kvm", "version", "help", "h", "semihosting", "rtc-td-hack", "no-frame", "portrait",
  NULL,
};

static gboolean
is_flag_option (const char *name)
{
  return g_strv_contains (flag_options, name);
}

char **
vp_qemu_opts_parse (const char *value, const char *implied_key)
{
  GPtrArray *out = g_ptr_array_new ();
  const char *p = value;
  gboolean first = TRUE;

  while (*p)
    {
      size_t key_length = strcspn (p, "=,");
      g_autofree char *key = NULL;
      GString *text = g_string_new (NULL);
      if (p[key_length] == '=' || !(first && implied_key))
        {
          key = g_strndup (p, key_length);
          p += key_length;
          if (*p == '=')
            p++;
          else
            {
              /* A bare key is a boolean: "key" is on, "nokey" off. */
              gboolean off = g_str_has_prefix (key, "no") && key[2];
              g_string_assign (text, off ? "off" : "on");
              if (off)
                memmove (key, key + 2, strlen (key + 2) + 1);
              goto add;
            }
        }
      else
        key = g_strdup (implied_key);
      /* A value runs to the next single comma; ",," is a comma. */
      for (; *p; p++)
        {
          if (*p == ',')
            {
              if (p[1] != ',')
                break;
              p++;
            }
          g_string_append_c (text, *p);
        }
    add:
      g_ptr_array_add (out, g_steal_pointer (&key));
      g_ptr_array_add (out, g_string_free (text, FALSE));
      if (*p == ',')
        p++;
      first = FALSE;
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

const char *
vp_qemu_opts_get (char *const *opts, const char *key)
{
  const char *found = NULL;
  for (char *const *pair = opts; pair[0] && pair[1]; pair += 2)
    if (g_str_equal (pair[0], key))
      found = pair[1];
  return found;
}

static char *
canonical_uuid (const char *text)
{
  return text && g_uuid_string_is_valid (text) ? g_ascii_strdown (text, -1) : NULL;
}

static gboolean
is_on (const char *value)
{
  return value && (g_str_equal (value, "on") || g_str_equal (value, "yes") || g_str_equal (value, "true"));
}

/* A chardev's options (from -chardev or a [chardev "ID"] section): a socket
 * QEMU listens on is one vpowerd can connect to. */
static void
note_chardev (VpQemuCmdline *cmdline, const char *id, const char *backend, const char *path, const char *server)
{
  if (!id || !backend || !g_str_equal (backend, "socket") || !path || !*path)
    return;
  if (!is_on (server))
    {
      g_hash_table_remove (cmdline->socket_chardevs, id);
      return;
    }
  g_hash_table_replace (cmdline->socket_chardevs, g_strdup (id), g_strdup (path));
}

static void
note_device (VpQemuCmdline *cmdline, const char *driver, const char *name, const char *chardev)
{
  if (driver && g_str_equal (driver, "virtserialport") && name && g_str_equal (name, VP_CHANNEL_PORT_NAME) && chardev)
    {
      g_free (cmdline->channel_chardev);
      cmdline->channel_chardev = g_strdup (chardev);
    }
}

/* -device is key=value or, since QEMU 6.2, JSON (libvirt writes JSON). */
static void
note_device_option (VpQemuCmdline *cmdline, const char *value)
{
  if (value[0] != '{')
    {
      g_auto (GStrv) opts = vp_qemu_opts_parse (value, "driver");
      note_device (cmdline, vp_qemu_opts_get (opts, "driver"), vp_qemu_opts_get (opts, "name"),
                   vp_qemu_opts_get (opts, "chardev"));
      return;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, value, -1, NULL))
    return;
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  JsonObject *object = json_node_get_object (root);
  const char *fields[3] = { "driver", "name", "chardev" };
  const char *values[3] = { NULL, NULL, NULL };
  for (int i = 0; i < 3; i++)
    {
      JsonNode *node = json_object_get_member (object, fields[i]);
      if (node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        values[i] = json_node_get_string (node);
    }
  note_device (cmdline, values[0], values[1], values[2]);
}

/* libvirt passes no -pidfile (it writes the pidfile itself), but every QEMU it starts has files in
 * its per-domain directory, .../libvirt/qemu/domain-ID-NAME/: the master key's -object (libvirt
 * 2.0 and later), the monitor's socket in older releases. */
static gboolean
names_libvirt_domain_dir (const char *value)
{
  return strstr (value, "/libvirt/qemu/domain-") != NULL;
}

/* -smp [cpus=]N[,sockets=S][,dies=D][,clusters=C][,cores=C][,threads=T][,maxcpus=M]: the vCPUs it
 * starts with; without N, QEMU's product of the topology. 0 when it says nothing usable. */
static guint
smp_cpus (const char *value)
{
  static const char *const topology[] = { "sockets", "dies", "clusters", "cores", "threads" };
  g_auto (GStrv) opts = vp_qemu_opts_parse (value, "cpus");
  const char *given = vp_qemu_opts_get (opts, "cpus");
  guint64 cpus = 0, n;
  if (given && vp_parse_u64 (given, &n))
    cpus = n;
  else
    for (gsize i = 0; i < G_N_ELEMENTS (topology); i++)
      {
        const char *count = vp_qemu_opts_get (opts, topology[i]);
        if (count && vp_parse_u64 (count, &n) && n > 0 && n <= 16384)
          cpus = MAX (cpus, 1) * n;
      }
  return cpus > 0 && cpus <= 16384 ? (guint) cpus : 0;
}

static void
take_option (VpQemuCmdline *cmdline, const char *option, const char *value)
{
  if ((g_str_equal (option, "object") || g_str_equal (option, "chardev")) && names_libvirt_domain_dir (value))
    cmdline->libvirt = TRUE;
  if (g_str_equal (option, "name"))
    {
      g_auto (GStrv) opts = vp_qemu_opts_parse (value, "guest");
      g_free (cmdline->name);
      cmdline->name = g_strdup (vp_qemu_opts_get (opts, "guest"));
      cmdline->debug_threads = is_on (vp_qemu_opts_get (opts, "debug-threads"));
    }
  else if (g_str_equal (option, "uuid"))
    {
      g_free (cmdline->uuid);
      cmdline->uuid = canonical_uuid (value);
    }
  else if (g_str_equal (option, "smbios"))
    {
      g_auto (GStrv) opts = vp_qemu_opts_parse (value, NULL);
      g_autofree char *uuid = canonical_uuid (vp_qemu_opts_get (opts, "uuid"));
      /* -uuid wins: QEMU itself takes the SMBIOS UUID from it when both are given. */
      if (uuid && !cmdline->uuid && g_strcmp0 (vp_qemu_opts_get (opts, "type"), "1") == 0)
        cmdline->uuid = g_steal_pointer (&uuid);
    }
  else if (g_str_equal (option, "smp"))
    cmdline->vcpus = smp_cpus (value);
  else if (g_str_equal (option, "pidfile"))
    {
      g_free (cmdline->pidfile);
      cmdline->pidfile = g_strdup (value);
    }
  else if (g_str_equal (option, "id"))
    {
      g_free (cmdline->id);
      cmdline->id = g_strdup (value);
    }
  else if (g_str_equal (option, "incoming"))
    {
      g_free (cmdline->incoming);
      cmdline->incoming = g_strdup (value);
    }
  else if (g_str_equal (option, "readconfig"))
    g_ptr_array_add (cmdline->readconfig, g_strdup (value));
  else if (g_str_equal (option, "chardev"))
    {
      g_auto (GStrv) opts = vp_qemu_opts_parse (value, "backend");
      note_chardev (cmdline, vp_qemu_opts_get (opts, "id"), vp_qemu_opts_get (opts, "backend"),
                    vp_qemu_opts_get (opts, "path"), vp_qemu_opts_get (opts, "server"));
    }
  else if (g_str_equal (option, "device"))
    note_device_option (cmdline, value);
}

VpQemuCmdline *
vp_qemu_cmdline_parse (const char *bytes, gsize length)
{
  VpQemuCmdline *cmdline = g_new0 (VpQemuCmdline, 1);
  cmdline->readconfig = g_ptr_array_new_with_free_func (g_free);
  cmdline->socket_chardevs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  /* The words: NUL-separated, the last NUL optional. Words that are not valid
   * UTF-8 are kept as bytes: paths need not be text, and a name that is not
   * is refused later, where it would be published. */
  g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
  for (gsize start = 0; start < length;)
    {
      const char *end = memchr (bytes + start, '\0', length - start);
      gsize word_length = end ? (gsize) (end - (bytes + start)) : length - start;
      g_ptr_array_add (words, g_strndup (bytes + start, word_length));
      start += word_length + 1;
    }

  for (guint i = 1; i < words->len; i++)
    {
      const char *word = words->pdata[i];
      if (word[0] != '-' || word[1] == '\0')
        continue;   /* a disk image, or a value this parser did not expect */
      const char *option = word + (word[1] == '-' ? 2 : 1);
      if (g_str_equal (option, "daemonize"))
        cmdline->daemonize = TRUE;
      if (is_flag_option (option))
        continue;
      const char *value = i + 1 < words->len ? words->pdata[i + 1] : NULL;
      if (!value)
        break;
      if (value[0] == '-' && value[1] != '\0')
        continue;
      i++;
      take_option (cmdline, option, value);
    }
  return cmdline;
}

void
vp_qemu_cmdline_free (VpQemuCmdline *cmdline)
{
  if (!cmdline)
    return;
  g_free (cmdline->name);
  g_free (cmdline->uuid);
  g_free (cmdline->pidfile);
  g_free (cmdline->id);
  g_free (cmdline->incoming);
  g_ptr_array_unref (cmdline->readconfig);
  g_hash_table_unref (cmdline->socket_chardevs);
  g_free (cmdline->channel_chardev);
  g_free (cmdline);
}

/* One section of a -readconfig file, applied when it ends. */
typedef struct {
  char *group;
  char *id;
  GHashTable *values;
} ConfigSection;

static void
section_apply (VpQemuCmdline *cmdline, ConfigSection *section)
{
  if (!section->group)
    return;
  GHashTable *v = section->values;
  if (g_str_equal (section->group, "chardev"))
    note_chardev (cmdline, section->id, g_hash_table_lookup (v, "backend"), g_hash_table_lookup (v, "path"),
                  g_hash_table_lookup (v, "server"));
  else if (g_str_equal (section->group, "device"))
    note_device (cmdline, g_hash_table_lookup (v, "driver"), g_hash_table_lookup (v, "name"),
                 g_hash_table_lookup (v, "chardev"));
  g_clear_pointer (&section->group, g_free);
  g_clear_pointer (&section->id, g_free);
  g_hash_table_remove_all (v);
}

/* "[group]" or "[group "id"]"; *id is NULL for the first form. */
static gboolean
parse_section_header (const char *line, char **group, char **id)
{
  size_t length = strlen (line);
  if (length < 3 || line[0] != '[' || line[length - 1] != ']')
    return FALSE;
  g_autofree char *inner = g_strndup (line + 1, length - 2);
  char *space = strchr (inner, ' ');
  if (!space)
    {
      if (strchr (inner, '"') || !*inner)
        return FALSE;
      *group = g_strdup (inner);
      *id = NULL;
      return TRUE;
    }
  *space = '\0';
  const char *quoted = space + 1;
  size_t quoted_length = strlen (quoted);
  if (!*inner || quoted_length < 2 || quoted[0] != '"' || quoted[quoted_length - 1] != '"' ||
      memchr (quoted + 1, '"', quoted_length - 2))
    return FALSE;
  *group = g_strdup (inner);
  *id = g_strndup (quoted + 1, quoted_length - 2);
  return TRUE;
}

/* ' key = "value"' (QEMU: " %63s = \"%1023[^\"]\""). */
static gboolean
parse_assignment (const char *line, char **key, char **value)
{
  const char *p = line;
  while (*p == ' ' || *p == '\t')
    p++;
  const char *key_start = p;
  while (*p && *p != ' ' && *p != '\t' && *p != '=')
    p++;
  if (p == key_start)
    return FALSE;
  g_autofree char *k = g_strndup (key_start, p - key_start);
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p++ != '=')
    return FALSE;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p++ != '"')
    return FALSE;
  const char *end = strchr (p, '"');
  if (!end)
    return FALSE;
  *key = g_steal_pointer (&k);
  *value = g_strndup (p, end - p);
  return TRUE;
}

gboolean
vp_qemu_cmdline_add_config (VpQemuCmdline *cmdline, const char *text, gsize length, GError **error)
{
  ConfigSection section = { NULL, NULL, g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free) };
  g_autofree char *copy = g_strndup (text, length);
  g_auto (GStrv) lines = g_strsplit (copy, "\n", -1);
  gboolean ok = TRUE;

  for (guint n = 0; lines[n]; n++)
    {
      char *line = g_strstrip (lines[n]);
      if (*line == '\0' || *line == '#')
        continue;
      char *group = NULL, *id = NULL, *key = NULL, *value = NULL;
      if (line[0] == '[')
        {
          if (!parse_section_header (line, &group, &id))
            {
              g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "line %u: not a [group \"id\"] header", n + 1);
              ok = FALSE;
              break;
            }
          section_apply (cmdline, &section);
          section.group = group;
          section.id = id;
        }
      else if (parse_assignment (line, &key, &value))
        {
          if (!section.group)
            {
              g_free (key);
              g_free (value);
              g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "line %u: a value outside any [group]", n + 1);
              ok = FALSE;
              break;
            }
          g_hash_table_replace (section.values, key, value);
        }
      else
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "line %u: not key = \"value\"", n + 1);
          ok = FALSE;
          break;
        }
    }
  if (ok)
    section_apply (cmdline, &section);
  g_free (section.group);
  g_free (section.id);
  g_hash_table_unref (section.values);
  return ok;
}

const char *
vp_qemu_cmdline_channel (const VpQemuCmdline *cmdline)
{
  return cmdline->channel_chardev ? g_hash_table_lookup (cmdline->socket_chardevs, cmdline->channel_chardev) : NULL;
}

gboolean
vp_qemu_exe_is_qemu (const char *path)
{
  const char *base = strrchr (path, '/');
  base = base ? base + 1 : path;
  /* An upgraded package leaves the running binary " (deleted)". */
  size_t length = strlen (base);
  if (g_str_has_suffix (base, " (deleted)"))
    length -= strlen (" (deleted)");
  size_t prefix = strlen ("qemu-system-");
  return (length > prefix && strncmp (base, "qemu-system-", prefix) == 0) ||
         (length == strlen ("qemu-kvm") && strncmp (base, "qemu-kvm", length) == 0) ||
         (length == strlen ("kvm") && strncmp (base, "kvm", length) == 0);
}
