/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: configuration from /etc/vpower/vpowerd.conf and the command line.
 *
 * One table describes every option. The same entry yields the command-line
 * flag, the keyfile key of the same name, the --help line and the parser,
 * so the two sources cannot drift apart and both report errors the same way:
 * one line naming the key. */
#include "config.h"

#include "host/conf.h"
#include "shared/vp-error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef gboolean (*VpOptionParser) (VpConfig *config, gsize offset, const char *value, GError **error);

typedef struct {
  const char *name;        /* long flag and keyfile key */
  char short_name;
  const char *arg;         /* NULL for flags that take no value */
  const char *help;
  VpOptionParser parse;
  gsize offset;
} VpOption;

typedef struct {
  const char *word;
  int value;
} VpEnumWord;

static const VpEnumWord sensor_words[] = {
  { "auto", VP_SENSOR_AUTO }, { "powercap", VP_SENSOR_POWERCAP }, { "model", VP_SENSOR_MODEL }, { NULL, 0 },
};
static const VpEnumWord policy_words[] = {
  { "busy", VP_POLICY_BUSY }, { "active", VP_POLICY_ACTIVE }, { "capacity", VP_POLICY_CAPACITY }, { NULL, 0 },
};
static const VpEnumWord topology_words[] = {
  { "mirror", VP_TOPOLOGY_MIRROR }, { "aggregate", VP_TOPOLOGY_AGGREGATE }, { NULL, 0 },
};

#define FIELD(config, offset, type) ((type *) ((char *) (config) + (offset)))

static gboolean
parse_string (VpConfig *config, gsize offset, const char *value, GError **error)
{
  if (*value == '\0')
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "must not be empty");
      return FALSE;
    }
  char **field = FIELD (config, offset, char *);
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static gboolean
parse_bool (VpConfig *config, gsize offset, const char *value, GError **error)
{
  gboolean *field = FIELD (config, offset, gboolean);
  if (g_str_equal (value, "true") || g_str_equal (value, "1"))
    *field = TRUE;
  else if (g_str_equal (value, "false") || g_str_equal (value, "0"))
    *field = FALSE;
  else
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not true or false", value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_number (const char *value, double min, double max, double *out, GError **error)
{
  char *end = NULL;
  errno = 0;
  double number = g_ascii_strtod (value, &end);
  if (errno != 0 || end == value || *end != '\0' || !(number >= min && number <= max))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not a number from %g to %g",
                   value, min, max);
      return FALSE;
    }
  *out = number;
  return TRUE;
}

static gboolean
parse_interval (VpConfig *config, gsize offset, const char *value, GError **error)
{
  /* Below 0.1 s the tick would be dominated by /proc reads and would help a
   * side-channel attacker (see design notes); above an hour it is useless. */
  return parse_number (value, 0.1, 3600, FIELD (config, offset, double), error);
}

static gboolean
parse_watts (VpConfig *config, gsize offset, const char *value, GError **error)
{
  return parse_number (value, 0, 100000, FIELD (config, offset, double), error);
}

static gboolean
parse_enum (const VpEnumWord *words, const char *value, int *out, GError **error)
{
  g_autoptr (GString) choices = g_string_new (NULL);
  for (const VpEnumWord *w = words; w->word; w++)
    {
      if (g_str_equal (w->word, value))
        {
          *out = w->value;
          return TRUE;
        }
      g_string_append_printf (choices, "%s%s", choices->len ? ", " : "", w->word);
    }
  g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not one of %s", value, choices->str);
  return FALSE;
}

static gboolean
parse_sensor (VpConfig *config, gsize offset, const char *value, GError **error)
{
  return parse_enum (sensor_words, value, (int *) FIELD (config, offset, VpSensorKind), error);
}

static gboolean
parse_policy (VpConfig *config, gsize offset, const char *value, GError **error)
{
  return parse_enum (policy_words, value, (int *) FIELD (config, offset, VpPolicy), error);
}

static gboolean
parse_topology (VpConfig *config, gsize offset, const char *value, GError **error)
{
  return parse_enum (topology_words, value, (int *) FIELD (config, offset, VpTopologyMode), error);
}

static gboolean
parse_inventory (VpConfig *config, gsize offset, const char *value, GError **error)
{
  if (!g_str_equal (value, "libvirt") &&
      !(g_str_has_prefix (value, "static:") && value[strlen ("static:")] != '\0'))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not libvirt or static:FILE", value);
      return FALSE;
    }
  return parse_string (config, offset, value, error);
}

static gboolean
parse_listen (VpConfig *config, gsize offset, const char *value, GError **error)
{
  /* ADDR:PORT, with [v6]:PORT for IPv6 addresses. */
  const char *colon = strrchr (value, ':');
  guint64 port = 0;
  if (!colon || colon == value ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not ADDR:PORT", value);
      return FALSE;
    }
  g_autofree char *host = g_strndup (value, colon - value);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  unsigned char address[sizeof (struct in6_addr)];
  if (inet_pton (AF_INET, host, address) != 1 && inet_pton (AF_INET6, host, address) != 1)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not a numeric IP address", host);
      return FALSE;
    }
  g_free (config->listen_host);
  config->listen_host = g_steal_pointer (&host);
  config->listen_port = (guint) port;
  return TRUE;
}

#define OPT(name, short_name, arg, help, parser, member) \
  { name, short_name, arg, help, parser, offsetof (VpConfig, member) }

static const VpOption vp_options[] = {
  OPT ("connect", 0, "URI", "libvirt connection URI (default qemu:///system)", parse_string, connect),
  OPT ("inventory", 0, "libvirt|static:FILE", "where VMs come from (default libvirt)", parse_inventory, inventory),
  OPT ("sensor", 0, "auto|powercap|model", "host energy source (default auto)", parse_sensor, sensor),
  OPT ("powercap-root", 0, "DIR", "powercap tree to read (default /sys/class/powercap)", parse_string, powercap_root),
  OPT ("proc-root", 0, "DIR", "procfs to read (default /proc)", parse_string, proc_root),
  OPT ("sysfs-root", 0, "DIR", "sysfs to read CPU topology from (default /sys)", parse_string, sysfs_root),
  OPT ("interval", 0, "SECONDS", "tick length (default 1)", parse_interval, interval_s),
  OPT ("policy", 0, "busy|active|capacity", "attribution policy (default busy)", parse_policy, policy),
  OPT ("topology", 0, "mirror|aggregate", "zone layout per VM (default mirror)", parse_topology, topology),
  OPT ("state-dir", 0, "DIR", "where counters persist (default /var/lib/vpowerd)", parse_string, state_dir),
  OPT ("mount", 0, "DIR", "where the per-VM powercap trees are mounted (default " VP_DEFAULT_MOUNT ")", parse_string, mount),
  OPT ("no-mount", 0, NULL, "run without the FUSE tree: HTTP only, in one process", parse_bool, no_mount),
  OPT ("runtime-dir", 0, "DIR", "lock file and the libvirt hook's socket (default " VP_DEFAULT_RUNTIME_DIR ")", parse_string, runtime_dir),
  OPT ("listen", 0, "ADDR:PORT", "HTTP endpoint (default 127.0.0.1:" G_STRINGIFY (VPOWERD_DEFAULT_PORT) ")", parse_listen, listen_host),
  OPT ("save-interval", 0, "SECONDS", "how often the state file is flushed to disk (default 60)", parse_interval, save_interval_s),
  OPT ("model-idle-watts", 0, "WATTS", "model sensor: package power when idle (default 20)", parse_watts, model_idle_watts),
  OPT ("model-max-watts", 0, "WATTS", "model sensor: package power when fully busy (default 120)", parse_watts, model_max_watts),
  OPT ("once", 0, NULL, "sample twice one interval apart, print the attribution as JSON, exit", parse_bool, once),
  OPT ("foreground", 0, NULL, "stay in the foreground and log to stderr", parse_bool, foreground),
  OPT ("verbose", 'v', NULL, "log every tick", parse_bool, verbose),
};

static const VpOption *
find_option (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (vp_options); i++)
    if (g_str_equal (vp_options[i].name, name))
      return &vp_options[i];
  return NULL;
}

static VpConfig *
config_new_defaults (void)
{
  VpConfig *config = g_new0 (VpConfig, 1);
  config->connect = g_strdup ("qemu:///system");
  config->inventory = g_strdup ("libvirt");
  config->sensor = VP_SENSOR_AUTO;
  config->powercap_root = g_strdup ("/sys/class/powercap");
  config->proc_root = g_strdup ("/proc");
  config->sysfs_root = g_strdup ("/sys");
  config->interval_s = 1.0;
  config->policy = VP_POLICY_BUSY;
  config->topology = VP_TOPOLOGY_MIRROR;
  config->state_dir = g_strdup (LOCALSTATEDIR "/lib/vpowerd");
  config->mount = g_strdup (VP_DEFAULT_MOUNT);
  config->runtime_dir = g_strdup (VP_DEFAULT_RUNTIME_DIR);
  config->engine_fd = -1;
  config->listen_host = g_strdup ("127.0.0.1");
  config->listen_port = VPOWERD_DEFAULT_PORT;
  config->save_interval_s = 60.0;
  config->model_idle_watts = 20.0;
  config->model_max_watts = 120.0;
  return config;
}

void
vp_config_free (VpConfig *config)
{
  if (!config)
    return;
  g_free (config->config_file);
  g_free (config->connect);
  g_free (config->inventory);
  g_free (config->powercap_root);
  g_free (config->proc_root);
  g_free (config->sysfs_root);
  g_free (config->state_dir);
  g_free (config->mount);
  g_free (config->runtime_dir);
  g_free (config->listen_host);
  g_free (config);
}

static gboolean
apply_value (VpConfig *config, const VpOption *option, const char *value,
             const char *source, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (!option->parse (config, option->offset, value, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: invalid value for '%s': %s",
                   source, option->name, local->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_consistency (VpConfig *config, GError **error)
{
  if (config->model_max_watts < config->model_idle_watts)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                   "invalid value for 'model-max-watts': %g is below model-idle-watts (%g)",
                   config->model_max_watts, config->model_idle_watts);
      return FALSE;
    }
  return TRUE;
}

/* Applies a keyfile over config. A missing file is an error only when
 * required (the user named it with --config). */
static gboolean
apply_keyfile (VpConfig *config, const char *path, gboolean required, GError **error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) local = NULL;

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, &local))
    {
      if (!required && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: %s", path, local->message);
      return FALSE;
    }

  g_auto (GStrv) groups = g_key_file_get_groups (keyfile, NULL);
  for (char **group = groups; *group; group++)
    if (!g_str_equal (*group, VP_CONFIG_GROUP))
      {
        g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: unknown group [%s] (expected [%s])",
                     path, *group, VP_CONFIG_GROUP);
        return FALSE;
      }

  g_auto (GStrv) keys = g_key_file_get_keys (keyfile, VP_CONFIG_GROUP, NULL, NULL);
  for (char **key = keys; keys && *key; key++)
    {
      const VpOption *option = find_option (*key);
      if (!option)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: unknown key '%s' in [%s]",
                       path, *key, VP_CONFIG_GROUP);
          return FALSE;
        }
      g_autofree char *value = g_key_file_get_value (keyfile, VP_CONFIG_GROUP, *key, NULL);
      if (!apply_value (config, option, g_strstrip (value), path, error))
        return FALSE;
    }
  return TRUE;
}

VpConfig *
vp_config_load_file (const char *path, GError **error)
{
  g_autoptr (VpConfig) config = config_new_defaults ();
  config->config_file = g_strdup (path);
  if (!apply_keyfile (config, path, TRUE, error) || !check_consistency (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* Command-line values are collected first, in order, and applied after the
 * file: that is what makes the command line override the file. */
typedef struct {
  GPtrArray *names;    /* const VpOption name, in command-line order */
  GPtrArray *values;
  char *config_file;
  gboolean version;
  int engine_fd;
} CliValues;

static gboolean
on_cli_option (const char *option_name, const char *value, gpointer user_data, GError **error)
{
  CliValues *cli = user_data;
  const char *name = option_name;

  while (*name == '-')
    name++;
  if (strlen (name) == 1)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (vp_options); i++)
        if (vp_options[i].short_name == name[0])
          name = vp_options[i].name;
    }
  const VpOption *option = find_option (name);
  if (!option)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "unknown option %s", option_name);
      return FALSE;
    }
  g_ptr_array_add (cli->names, (gpointer) option->name);
  g_ptr_array_add (cli->values, g_strdup (value ? value : "true"));
  return TRUE;
}

VpConfig *
vp_config_load (int *argc, char ***argv, GError **error)
{
  CliValues cli = {
    .names = g_ptr_array_new (),
    .values = g_ptr_array_new_with_free_func (g_free),
    .engine_fd = -1,
  };
  g_autoptr (GPtrArray) owned_names = cli.names;
  g_autoptr (GPtrArray) owned_values = cli.values;
  g_autofree char *config_file = NULL;
  g_autoptr (GError) local = NULL;

  g_autoptr (GArray) entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  GOptionEntry config_entry = { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
                                "config file (default " VP_CONFIG_DEFAULT_FILE ")", "FILE" };
  GOptionEntry version_entry = { "version", 'V', 0, G_OPTION_ARG_NONE, &cli.version,
                                 "print the version and exit", NULL };
  g_array_append_val (entries, config_entry);
  for (gsize i = 0; i < G_N_ELEMENTS (vp_options); i++)
    {
      const VpOption *option = &vp_options[i];
      GOptionEntry entry = {
        .long_name = option->name,
        .short_name = option->short_name,
        .flags = option->arg ? 0 : G_OPTION_FLAG_NO_ARG,
        .arg = G_OPTION_ARG_CALLBACK,
        .arg_data = (gpointer) on_cli_option,
        .description = option->help,
        .arg_description = option->arg,
      };
      g_array_append_val (entries, entry);
    }
  g_array_append_val (entries, version_entry);
  /* Internal: how the mount holder hands the shared memory to the engine
   * process it starts (holder.c). Not a config key. */
  GOptionEntry engine_entry = { "engine-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &cli.engine_fd, NULL, NULL };
  g_array_append_val (entries, engine_entry);

  g_autoptr (GOptionContext) context = g_option_context_new ("- per-VM RAPL energy counters");
  GOptionGroup *group = g_option_group_new (NULL, NULL, NULL, &cli, NULL);
  g_option_group_add_entries (group, (GOptionEntry *) entries->data);
  g_option_context_set_main_group (context, group);
  g_option_context_set_summary (context,
    "vpowerd reads the host's RAPL energy (or estimates it), splits it between\n"
    "libvirt VMs by their CPU time, and keeps one monotonic energy counter per VM\n"
    "and zone, served as a read-only FUSE tree per VM laid out like\n"
    "/sys/class/powercap (--mount), and as Prometheus metrics and JSON.");
  g_option_context_set_description (context,
    "Every option is also a key of the [vpowerd] group in the config file;\n"
    "the command line overrides the file. See vpowerd(8) and vpowerd.conf(5).\n"
    "\n"
    "HTTP endpoints: /metrics, /api/v1/host, /api/v1/vms, /healthz.\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad configuration or usage.");

  if (!g_option_context_parse (context, argc, argv, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s (see --help)", local->message);
      return NULL;
    }
  if (*argc > 1)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "unexpected argument '%s' (see --help)", (*argv)[1]);
      return NULL;
    }
  if (cli.version)
    {
      printf ("vpowerd %s\n", PACKAGE_VERSION);
      return NULL;
    }

  g_autoptr (VpConfig) config = config_new_defaults ();
  config->engine_fd = cli.engine_fd;
  config->config_file = g_strdup (config_file ? config_file : VP_CONFIG_DEFAULT_FILE);
  if (!apply_keyfile (config, config->config_file, config_file != NULL, error))
    return NULL;
  for (guint i = 0; i < cli.names->len; i++)
    {
      const VpOption *option = find_option (cli.names->pdata[i]);
      if (!apply_value (config, option, cli.values->pdata[i], "command line", error))
        return NULL;
    }
  if (!check_consistency (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

const char *
vp_policy_to_string (VpPolicy policy)
{
  return policy_words[policy].word;
}

const char *
vp_topology_to_string (VpTopologyMode topology)
{
  return topology_words[topology].word;
}
