/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: configuration from /etc/vpower/vpower-agent.conf and the command line.
 *
 * One table (agent_options) describes every option; shared/vp-options.c turns
 * it into flags, keyfile keys, --help and one-line errors, as for vpowerd. */
#include "config.h"

#include "guest/agent-conf.h"
#include "guest/channel.h"
#include "shared/vp-error.h"
#include "shared/vp-options.h"

#include <stddef.h>
#include <stdio.h>

static gboolean
parse_listen (gpointer data, const VpOption *option, const char *value, GError **error)
{
  VpAgentConfig *config = data;
  return vp_parse_listen (value, &config->listen_host, &config->listen_port, error);
}

static const VpEnumWord transport_words[] = {
  { "auto", VP_TRANSPORT_AUTO }, { "channel", VP_TRANSPORT_CHANNEL },
  { "virtiofs", VP_TRANSPORT_VIRTIOFS }, { "9p", VP_TRANSPORT_9P }, { NULL, 0 },
};

#define OPT(name, short_name, arg, help, parser, member) \
  { name, short_name, arg, help, parser, offsetof (VpAgentConfig, member), NULL, 0, 0 }
#define OPT_STRING(name, arg, help, member) OPT (name, 0, arg, help, vp_option_parse_string, member)
#define OPT_FLAG(name, short_name, help, member) OPT (name, short_name, NULL, help, vp_option_parse_bool, member)

static const VpOption agent_options[] = {
  { "transport", 0, "auto|channel|virtiofs|9p",
    "mount: how the counters arrive (default auto: the channel port org.vpower.0 if the VM has it, else virtiofs, else 9p)",
    vp_option_parse_enum, offsetof (VpAgentConfig, transport), transport_words, 0, 0 },
  OPT_STRING ("channel-device", "PATH", "mount: read the channel from PATH instead of the port found in --virtio-ports", channel_device),
  OPT_STRING ("virtio-ports", "DIR", "mount: where virtio-serial ports are listed (default /sys/class/virtio-ports)", virtio_ports),
  OPT_STRING ("virtio-devices", "DIR", "mount: where virtio devices are listed, to tell whether the VM has a virtio-serial "
              "controller (default " VP_VIRTIO_DEVICES_DIR ")", virtio_devices),
  OPT_STRING ("runtime-dir", "DIR", "mount: where the channel's status file goes (default " VP_AGENT_DEFAULT_RUNTIME_DIR ")", runtime_dir),
  OPT_STRING ("tag", "TAG", "mount: the share's mount tag (default " VP_AGENT_DEFAULT_TAG ")", tag),
  OPT_STRING ("mount", "DIR", "mount: where the share is mounted (default " VP_AGENT_DEFAULT_MOUNT ")", mount),
  OPT_FLAG ("bind-sysfs", 0, "mount: also bind the share over " VP_SYSFS_POWERCAP " for unmodified RAPL tools", bind_sysfs),
  OPT_STRING ("sysfs-powercap", "DIR", "mount: where --bind-sysfs binds (default " VP_SYSFS_POWERCAP ")", sysfs_powercap),
  OPT_STRING ("root", "DIR", "the powercap tree to read (default: the mount point; on bare metal, " VP_SYSFS_POWERCAP ")", root),
  OPT_STRING ("proc-root", "DIR", "procfs to read processes from (default /proc)", proc_root),
  /* At most a minute: a wrap is told from a reset only while readings are
   * closer than half a wrap period (minutes at 400 W; see vp_counter_step). */
  { "interval", 0, "SECONDS", "sampling interval: power and process shares, 0.1 to 60 (default 5)",
    vp_option_parse_double, offsetof (VpAgentConfig, interval_s), NULL, 0.1, 60 },
  { "top", 0, "N", "processes reported by name; the rest add up in \"other\" (default 10)",
    vp_option_parse_uint, offsetof (VpAgentConfig, top), NULL, 0, 10000 },
  OPT ("listen", 0, "ADDR:PORT", "serve: HTTP endpoint (default 127.0.0.1:" G_STRINGIFY (VP_AGENT_DEFAULT_PORT) ")", parse_listen, listen_host),
  OPT_STRING ("tls-cert", "FILE", "serve: PEM certificate; HTTPS with --tls-key", tls_cert),
  OPT_STRING ("tls-key", "FILE", "serve: PEM private key", tls_key),
  OPT_STRING ("basic-auth-file", "FILE", "serve: require HTTP basic auth; lines USER:SHA256-OF-PASSWORD", basic_auth_file),
  OPT_FLAG ("json", 0, "once: print JSON", json),
  { "count", 0, "N", "top: refresh N times, then exit (default 0: until interrupted)",
    vp_option_parse_uint, offsetof (VpAgentConfig, count), NULL, 0, 1000000 },
  OPT_FLAG ("verbose", 'v', "log more", verbose),
};

static const VpOptionTable agent_option_table = {
  VP_AGENT_CONFIG_GROUP, agent_options, G_N_ELEMENTS (agent_options),
};

static const char *const commands[] = { "mount", "umount", "serve", "top", "once", NULL };

static VpAgentConfig *
config_new_defaults (void)
{
  VpAgentConfig *config = g_new0 (VpAgentConfig, 1);
  config->tag = g_strdup (VP_AGENT_DEFAULT_TAG);
  config->virtio_ports = g_strdup ("/sys/class/virtio-ports");
  config->virtio_devices = g_strdup (VP_VIRTIO_DEVICES_DIR);
  config->runtime_dir = g_strdup (VP_AGENT_DEFAULT_RUNTIME_DIR);
  config->mount = g_strdup (VP_AGENT_DEFAULT_MOUNT);
  config->sysfs_powercap = g_strdup (VP_SYSFS_POWERCAP);
  config->proc_root = g_strdup ("/proc");
  config->interval_s = 5.0;
  config->top = 10;
  config->listen_host = g_strdup ("127.0.0.1");
  config->listen_port = VP_AGENT_DEFAULT_PORT;
  return config;
}

void
vp_agent_config_free (VpAgentConfig *config)
{
  if (!config)
    return;
  g_free (config->config_file);
  g_free (config->command);
  g_free (config->tag);
  g_free (config->channel_device);
  g_free (config->virtio_ports);
  g_free (config->virtio_devices);
  g_free (config->runtime_dir);
  g_free (config->mount);
  g_free (config->sysfs_powercap);
  g_free (config->root);
  g_free (config->proc_root);
  g_free (config->listen_host);
  g_free (config->tls_cert);
  g_free (config->tls_key);
  g_free (config->basic_auth_file);
  g_free (config);
}

const char *
vp_agent_config_root (const VpAgentConfig *config)
{
  return config->root ? config->root : config->mount;
}

VpAgentConfig *
vp_agent_config_load (int *argc, char ***argv, GError **error)
{
  g_autoptr (VpOptionCli) cli = vp_option_cli_new (&agent_option_table);
  g_autofree char *config_file = NULL;
  gboolean version = FALSE;
  g_autoptr (GError) local = NULL;

  const GOptionEntry first[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      "config file (default " VP_AGENT_CONFIG_DEFAULT_FILE ")", "FILE" },
    { NULL },
  };
  const GOptionEntry last[] = {
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version and exit", NULL },
    { NULL },
  };

  g_autoptr (GOptionContext) context = g_option_context_new ("COMMAND - RAPL energy inside a VM");
  g_option_context_set_main_group (context, vp_option_cli_group (cli, first, last));
  g_option_context_set_summary (context,
    "Commands:\n"
    "  mount    with the channel port org.vpower.0, serve the tree it carries\n"
    "           (stays running); else mount the host's share (virtiofs, else\n"
    "           9p) read-only; with --bind-sysfs, also over " VP_SYSFS_POWERCAP "\n"
    "  umount   undo mount\n"
    "  serve    Prometheus exporter: /metrics (and /api/v1/sample as JSON)\n"
    "  top      a live view of zones and the processes using the energy\n"
    "  once     sample twice one interval apart and print the result (--json)\n"
    "\n"
    "The counters come from vpowerd on the host, over the virtio-serial channel\n"
    "or the share it exports for this VM, or from a native " VP_SYSFS_POWERCAP "\n"
    "(--root) on bare metal.");
  g_option_context_set_description (context,
    "Every option is also a key of the [vpower-agent] group in the config file;\n"
    "the command line overrides the file. See vpower-agent(8).\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (such as no share attached),\n"
    "2 bad configuration or usage.");

  if (!g_option_context_parse (context, argc, argv, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s (see --help)", local->message);
      return NULL;
    }
  if (version)
    {
      printf ("vpower-agent %s\n", PACKAGE_VERSION);
      return NULL;
    }
  if (*argc < 2)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "no command: use mount, umount, serve, top or once (see --help)");
      return NULL;
    }
  if (!g_strv_contains (commands, (*argv)[1]))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "unknown command '%s': use mount, umount, serve, top or once",
                   (*argv)[1]);
      return NULL;
    }
  if (*argc > 2)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "unexpected argument '%s' (see --help)", (*argv)[2]);
      return NULL;
    }

  g_autoptr (VpAgentConfig) config = config_new_defaults ();
  config->command = g_strdup ((*argv)[1]);
  config->config_file = g_strdup (config_file ? config_file : VP_AGENT_CONFIG_DEFAULT_FILE);
  if (!vp_options_apply_keyfile (&agent_option_table, config, config->config_file, config_file != NULL, error) ||
      !vp_option_cli_apply (cli, config, error))
    return NULL;
  if (!config->tls_cert != !config->tls_key)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "tls-cert and tls-key go together: set both or neither");
      return NULL;
    }
  return g_steal_pointer (&config);
}
