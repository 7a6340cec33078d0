/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: configuration from /etc/vpower/vpowerd.conf and the command line.
 *
 * One table (vp_options) describes every option; shared/vp-options.c turns it
 * into the command-line flags, the keyfile keys, --help and one-line errors. */
#include "config.h"

#include "host/conf.h"
#include "shared/vp-error.h"
#include "shared/vp-options.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static const VpEnumWord sensor_words[] = {
  { "auto", VP_SENSOR_AUTO }, { "powercap", VP_SENSOR_POWERCAP }, { "model", VP_SENSOR_MODEL }, { NULL, 0 },
};
static const VpEnumWord platform_words[] = {
  { "auto", VP_PLATFORM_AUTO }, { "none", VP_PLATFORM_NONE }, { "psys", VP_PLATFORM_PSYS },
  { "hwmon", VP_PLATFORM_HWMON }, { "ipmi", VP_PLATFORM_IPMI }, { NULL, 0 },
};
static const VpEnumWord platform_split_words[] = {
  { "vcpus", VP_PLATFORM_SPLIT_VCPUS }, { "cpu-time", VP_PLATFORM_SPLIT_CPU_TIME },
  { "even", VP_PLATFORM_SPLIT_EVEN }, { NULL, 0 },
};
static const VpEnumWord policy_words[] = {
  { "busy", VP_POLICY_BUSY }, { "active", VP_POLICY_ACTIVE }, { "capacity", VP_POLICY_CAPACITY }, { NULL, 0 },
};
static const VpEnumWord topology_words[] = {
  { "mirror", VP_TOPOLOGY_MIRROR }, { "aggregate", VP_TOPOLOGY_AGGREGATE }, { NULL, 0 },
};

static const VpEnumWord cpu_source_words[] = {
  { "auto", VP_CPU_SOURCE_AUTO }, { "bpf", VP_CPU_SOURCE_BPF }, { "proc", VP_CPU_SOURCE_PROC }, { NULL, 0 },
};

static const VpEnumWord wire_words[] = {
  { "auto", VP_WIRE_MODE_AUTO }, { "off", VP_WIRE_MODE_OFF }, { "define", VP_WIRE_MODE_DEFINE }, { NULL, 0 },
};

static gboolean
parse_inventory (gpointer config, const VpOption *option, const char *value, GError **error)
{
  if (!g_str_equal (value, "auto") && !g_str_equal (value, "libvirt") && !g_str_equal (value, "processes") &&
      !(g_str_has_prefix (value, "static:") && value[strlen ("static:")] != '\0'))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not auto, libvirt, processes or static:FILE", value);
      return FALSE;
    }
  return vp_option_parse_string (config, option, value, error);
}

static gboolean
parse_dirs (gpointer data, const VpOption *option, const char *value, GError **error)
{
  VpConfig *config = data;
  g_auto (GStrv) dirs = g_strsplit (value, ",", -1);
  for (char **dir = dirs; *dir; dir++)
    if (!g_path_is_absolute (g_strstrip (*dir)))
      {
        g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not an absolute path", *dir);
        return FALSE;
      }
  g_strfreev (config->pidfile_dirs);
  config->pidfile_dirs = g_steal_pointer (&dirs);
  return TRUE;
}

/* wire-exclude: each pattern is checked here, so that a typo stops vpowerd at start rather than
 * wiring a VM the operator meant to leave alone (host/wiring/wire-plan.c matches them). */
static gboolean
parse_wire_exclude (gpointer data, const VpOption *option, const char *value, GError **error)
{
  VpConfig *config = data;
  g_autoptr (GPtrArray) patterns = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) items = g_strsplit (value, ",", -1);
  for (char **item = items; *item; item++)
    {
      const char *pattern = g_strstrip (*item);
      if (!*pattern)
        continue;
      const char *equals = strchr (pattern, '=');
      if (equals && (equals == pattern || !equals[1]))
        {
          g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is neither a name pattern nor LABEL=PATTERN", pattern);
          return FALSE;
        }
      g_ptr_array_add (patterns, g_strdup (pattern));
    }
  g_ptr_array_add (patterns, NULL);
  g_strfreev (config->wire_exclude);
  config->wire_exclude = (char **) g_ptr_array_free (g_steal_pointer (&patterns), FALSE);
  return TRUE;
}

static gboolean
parse_listen (gpointer data, const VpOption *option, const char *value, GError **error)
{
  VpConfig *config = data;
  return vp_parse_listen (value, &config->listen_host, &config->listen_port, error);
}

#define OPT(name, short_name, arg, help, parser, member) \
  { name, short_name, arg, help, parser, offsetof (VpConfig, member), NULL, 0, 0 }
#define OPT_ENUM(name, arg, help, words, member) \
  { name, 0, arg, help, vp_option_parse_enum, offsetof (VpConfig, member), words, 0, 0 }
/* Below 0.1 s a tick would be dominated by /proc reads and would help a
 * side-channel attacker (see design notes); above an hour it is useless. */
#define OPT_SECONDS(name, help, member) \
  { name, 0, "SECONDS", help, vp_option_parse_double, offsetof (VpConfig, member), NULL, 0.1, 3600 }
#define OPT_WATTS(name, help, member) \
  { name, 0, "WATTS", help, vp_option_parse_double, offsetof (VpConfig, member), NULL, 0, 100000 }

static const VpOption vp_options[] = {
  OPT ("connect", 0, "URI", "libvirt connection URI (default qemu:///system)", vp_option_parse_string, connect),
  OPT ("inventory", 0, "auto|libvirt|processes|static:FILE", "where VMs come from: libvirt, QEMU processes "
       "(Proxmox VE, Incus, LXD, Ganeti, plain QEMU) or a file (default auto: libvirt where it answers, "
       "processes for the rest)", parse_inventory, inventory),
  OPT_SECONDS ("process-rescan", "processes: a full look at /proc this often; pidfiles and exits are seen "
               "within a tick between (default 10)", process_rescan_s),
  OPT ("pidfile-dirs", 0, "DIR[,DIR...]", "processes: more directories where QEMU writes its -pidfile, "
       "watched as the managers' are (default: none)", parse_dirs, pidfile_dirs),
  OPT_ENUM ("wire", "auto|off|define", "give libvirt's running VMs the channel: hot-plugged into each one with a "
            "virtio-serial controller (auto, the default), also added to persistent definitions no cloud "
            "manager writes (define), or never (off)", wire_words, wire),
  OPT ("wire-exclude", 0, "PATTERN[,PATTERN...]", "VMs wiring leaves alone: a glob on the VM's name, or "
       "LABEL=GLOB on one of its labels (project=ci-*, manager=nova; default: none)", parse_wire_exclude, wire_exclude),
  OPT_ENUM ("sensor", "auto|powercap|model", "host energy source (default auto)", sensor_words, sensor),
  OPT_ENUM ("platform", "auto|none|psys|hwmon|ipmi", "the whole machine's power, published to each VM as a psys "
            "zone: RAPL's psys zone, the ACPI power meter, the BMC, or none (default auto: psys, else the power "
            "meter, else the BMC in-band, else none)", platform_words, platform),
  OPT ("ipmi-host", 0, "HOST[:PORT]", "platform=ipmi: the BMC over the LAN (default: in-band, /dev/ipmi0)",
       vp_option_parse_string, ipmi_host),
  OPT ("ipmi-credentials", 0, "FILE", "platform=ipmi over the LAN: a root-only key file, [ipmi] user= password=",
       vp_option_parse_string, ipmi_credentials),
  OPT ("ipmi-sensor", 0, "NAME", "platform=ipmi without DCMI: the BMC's sensor in watts to read (default: the only "
       "one, or the one named as the system's total)", vp_option_parse_string, ipmi_sensor),
  OPT_ENUM ("platform-split", "vcpus|cpu-time|even", "how the platform's energy beyond RAPL's is split between "
            "VMs: by their share of the host's CPUs (vcpus, the default), by CPU time, or evenly between "
            "running VMs", platform_split_words, platform_split),
  OPT ("powercap-root", 0, "DIR", "powercap tree to read (default /sys/class/powercap)", vp_option_parse_string, powercap_root),
  OPT ("proc-root", 0, "DIR", "procfs to read (default /proc)", vp_option_parse_string, proc_root),
  OPT ("sysfs-root", 0, "DIR", "sysfs to read CPU topology and the ACPI power meter (hwmon) from (default /sys)",
       vp_option_parse_string, sysfs_root),
  OPT_ENUM ("cpu-source", "auto|bpf|proc", "where VMs' CPU time comes from: a BPF sched_switch program or /proc "
            "(default auto: BPF where it loads, else /proc)", cpu_source_words, cpu_source),
  OPT_SECONDS ("interval", "tick length (default 1; below 1 only with allow-fast-updates)", interval_s),
  OPT ("allow-fast-updates", 0, NULL, "allow an interval below 1 s (down to 0.1 s): finer counters, a wider side channel",
       vp_option_parse_bool, allow_fast_updates),
  { "quantum-uj", 0, "MICROJOULES", "publish each VM's energy only in whole multiples of this (default 0: every uJ)",
    vp_option_parse_uint, offsetof (VpConfig, quantum_uj), NULL, 0, 1000000000 },
  OPT_ENUM ("policy", "busy|active|capacity", "attribution policy (default busy)", policy_words, policy),
  OPT_ENUM ("topology", "mirror|aggregate", "zone layout per VM (default mirror)", topology_words, topology),
  OPT ("state-dir", 0, "DIR", "where counters persist (default /var/lib/vpowerd)", vp_option_parse_string, state_dir),
  OPT ("mount", 0, "DIR", "where the per-VM powercap trees are mounted (default " VP_DEFAULT_MOUNT ")", vp_option_parse_string, mount),
  OPT ("no-mount", 0, NULL, "run without the FUSE tree: HTTP and the control socket only, in one process", vp_option_parse_bool, no_mount),
  OPT ("runtime-dir", 0, "DIR", "lock file, control socket and the libvirt hook's socket (default " VP_DEFAULT_RUNTIME_DIR ")", vp_option_parse_string, runtime_dir),
  OPT ("listen", 0, "ADDR:PORT", "HTTP endpoint (default 127.0.0.1:" G_STRINGIFY (VPOWERD_DEFAULT_PORT) ")", parse_listen, listen_host),
  OPT ("host-id", 0, "ID", "this host's id in channel messages: letters, digits, . _ : - (default: /etc/machine-id)", vp_option_parse_string, host_id),
  { "departed-retention", 0, "DAYS", "how long the counters of a VM that migrated away wait for its return (default 30)",
    vp_option_parse_double, offsetof (VpConfig, departed_retention_days), NULL, 0, 3650 },
  OPT_SECONDS ("save-interval", "how often the state file is flushed to disk (default 60)", save_interval_s),
  OPT_WATTS ("model-idle-watts", "model sensor: package power when idle (default 20)", model_idle_watts),
  OPT_WATTS ("model-max-watts", "model sensor: package power when fully busy (default 120)", model_max_watts),
  OPT ("once", 0, NULL, "sample twice one interval apart, print the attribution as JSON, exit", vp_option_parse_bool, once),
  OPT ("foreground", 0, NULL, "stay in the foreground and log to stderr", vp_option_parse_bool, foreground),
  OPT ("verbose", 'v', NULL, "log every tick", vp_option_parse_bool, verbose),
};

static const VpOptionTable vp_option_table = {
  VP_CONFIG_GROUP, vp_options, G_N_ELEMENTS (vp_options),
};

static VpConfig *
config_new_defaults (void)
{
  VpConfig *config = g_new0 (VpConfig, 1);
  config->connect = g_strdup ("qemu:///system");
  config->inventory = g_strdup ("auto");
  config->wire = VP_WIRE_MODE_AUTO;
  config->process_rescan_s = 10.0;
  config->sensor = VP_SENSOR_AUTO;
  config->platform = VP_PLATFORM_AUTO;
  config->platform_split = VP_PLATFORM_SPLIT_VCPUS;
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
  config->control_fd = -1;
  config->listen_host = g_strdup ("127.0.0.1");
  config->listen_port = VPOWERD_DEFAULT_PORT;
  config->save_interval_s = 60.0;
  config->departed_retention_days = 30.0;
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
  g_strfreev (config->pidfile_dirs);
  g_strfreev (config->wire_exclude);
  g_free (config->ipmi_host);
  g_free (config->ipmi_credentials);
  g_free (config->ipmi_sensor);
  g_free (config->powercap_root);
  g_free (config->proc_root);
  g_free (config->sysfs_root);
  g_free (config->state_dir);
  g_free (config->mount);
  g_free (config->runtime_dir);
  g_free (config->listen_host);
  g_free (config->host_id);
  g_free (config);
}

static gboolean
check_consistency (VpConfig *config, GError **error)
{
  /* Each tick tells every guest a little about its neighbours (docs/side-channels.md): faster than once a second only when asked for. */
  if (config->interval_s < VP_INTERVAL_FLOOR_S && !config->allow_fast_updates)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                   "invalid value for 'interval': %g s is below the %g s floor that keeps the side channel coarse; "
                   "set allow-fast-updates=true (or --allow-fast-updates) to go down to 0.1 s",
                   config->interval_s, VP_INTERVAL_FLOOR_S);
      return FALSE;
    }
  if (config->model_max_watts < config->model_idle_watts)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                   "invalid value for 'model-max-watts': %g is below model-idle-watts (%g)",
                   config->model_max_watts, config->model_idle_watts);
      return FALSE;
    }
  return TRUE;
}

VpConfig *
vp_config_load_file (const char *path, GError **error)
{
  g_autoptr (VpConfig) config = config_new_defaults ();
  config->config_file = g_strdup (path);
  if (!vp_options_apply_keyfile (&vp_option_table, config, path, TRUE, error) || !check_consistency (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

VpConfig *
vp_config_load (int *argc, char ***argv, GError **error)
{
  g_autoptr (VpOptionCli) cli = vp_option_cli_new (&vp_option_table);
  g_autofree char *config_file = NULL;
  gboolean version = FALSE;
  int engine_fd = -1;
  int control_fd = -1;
  g_autoptr (GError) local = NULL;

  const GOptionEntry first[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "config file (default " VP_CONFIG_DEFAULT_FILE ")", "FILE" },
    { NULL },
  };
  const GOptionEntry last[] = {
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version and exit", NULL },
    /* Internal: how the mount holder hands the shared memory to the engine
     * process it starts (host/fuse/holder.c). Not a config key. */
    { "engine-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &engine_fd, NULL, NULL },
    { "control-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &control_fd, NULL, NULL },
    { NULL },
  };

  g_autoptr (GOptionContext) context = g_option_context_new ("- per-VM RAPL energy counters");
  g_option_context_set_main_group (context, vp_option_cli_group (cli, first, last));
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
  if (version)
    {
      printf ("vpowerd %s\n", PACKAGE_VERSION);
      return NULL;
    }

  g_autoptr (VpConfig) config = config_new_defaults ();
  config->engine_fd = engine_fd;
  config->control_fd = control_fd;
  config->config_file = g_strdup (config_file ? config_file : VP_CONFIG_DEFAULT_FILE);
  if (!vp_options_apply_keyfile (&vp_option_table, config, config->config_file, config_file != NULL, error) ||
      !vp_option_cli_apply (cli, config, error) ||
      !check_consistency (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

const char *
vp_platform_split_to_string (VpPlatformSplit split)
{
  return vp_enum_word (platform_split_words, split);
}

const char *
vp_policy_to_string (VpPolicy policy)
{
  return vp_enum_word (policy_words, policy);
}

const char *
vp_topology_to_string (VpTopologyMode topology)
{
  return vp_enum_word (topology_words, topology);
}

const char *
vp_cpu_source_kind_to_string (VpCpuSourceKind kind)
{
  return vp_enum_word (cpu_source_words, kind);
}

const char *
vp_wire_mode_to_string (VpWireMode mode)
{
  return vp_enum_word (wire_words, mode);
}
