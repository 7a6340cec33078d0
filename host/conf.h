/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: configuration from /etc/vpower/vpowerd.conf and the command line. */
#pragma once

/* The shortest interval without allow-fast-updates (side channels). */
#define VP_INTERVAL_FLOOR_S 1.0

#include <glib.h>

#define VP_CONFIG_GROUP "vpowerd"
#define VP_CONFIG_DEFAULT_FILE SYSCONFDIR "/vpower/vpowerd.conf"
#define VP_DEFAULT_MOUNT LOCALSTATEDIR "/lib/vpower"
#define VP_DEFAULT_RUNTIME_DIR "/run/vpower"
#define VP_HOOK_SOCKET_NAME "hook.sock"
#define VP_CONTROL_SOCKET_NAME "control.sock"   /* vpowerctl; see host/control/control.c */

typedef enum { VP_SENSOR_AUTO, VP_SENSOR_POWERCAP, VP_SENSOR_MODEL } VpSensorKind;
/* Where the whole machine's power comes from (host/sense/with-platform.h). */
typedef enum { VP_PLATFORM_AUTO, VP_PLATFORM_NONE, VP_PLATFORM_PSYS, VP_PLATFORM_HWMON, VP_PLATFORM_IPMI } VpPlatformKind;
/* How the platform's energy beyond RAPL's is split between VMs (host/attribution/platform-split.h). */
typedef enum { VP_PLATFORM_SPLIT_VCPUS, VP_PLATFORM_SPLIT_CPU_TIME, VP_PLATFORM_SPLIT_EVEN } VpPlatformSplit;
typedef enum { VP_POLICY_BUSY, VP_POLICY_ACTIVE, VP_POLICY_CAPACITY } VpPolicy;
typedef enum { VP_TOPOLOGY_MIRROR, VP_TOPOLOGY_AGGREGATE } VpTopologyMode;
/* Where each VM's CPU time comes from (host/sense/cpusource.h). */
typedef enum { VP_CPU_SOURCE_AUTO, VP_CPU_SOURCE_BPF, VP_CPU_SOURCE_PROC } VpCpuSourceKind;
/* Whether vpowerd gives libvirt's running VMs the channel itself (host/wiring/autowire.h):
 * hot-plugged (auto), also into the persistent definition (define), or not at all (off). */
typedef enum { VP_WIRE_MODE_AUTO, VP_WIRE_MODE_OFF, VP_WIRE_MODE_DEFINE } VpWireMode;

typedef struct {
  char *config_file;
  char *connect;
  char *inventory;          /* "auto", "libvirt", "processes" or "static:FILE" */
  double process_rescan_s;  /* processes: a full look at /proc this often (events between) */
  char **pidfile_dirs;      /* processes: more directories of QEMU pidfiles to watch */
  VpWireMode wire;          /* libvirt: hot-plug the channel into running VMs */
  char **wire_exclude;      /* VMs left alone: name globs, or KEY=GLOB on their labels */
  VpSensorKind sensor;
  VpPlatformKind platform;
  VpPlatformSplit platform_split;
  char *ipmi_host;          /* platform=ipmi over the LAN; NULL: in-band */
  char *ipmi_credentials;   /* a root-only key file with the BMC's user and password */
  char *ipmi_sensor;        /* the SDR sensor in watts to read when the BMC has no DCMI */
  char *powercap_root;
  char *proc_root;
  char *sysfs_root;
  VpCpuSourceKind cpu_source;
  double interval_s;
  VpPolicy policy;
  VpTopologyMode topology;
  char *state_dir;
  char *mount;              /* where the FUSE tree is mounted */
  gboolean no_mount;
  char *runtime_dir;        /* lock file, control socket, the libvirt hook's socket */
  char *listen_host;
  guint listen_port;
  double save_interval_s;
  gboolean allow_fast_updates;    /* interval may go below VP_INTERVAL_FLOOR_S */
  guint quantum_uj;               /* published VM energy moves in multiples of this; 0: 1 uJ */
  double departed_retention_days; /* counters of a VM that migrated away are kept this long */
  char *host_id;            /* told to guests over the channel; NULL: /etc/machine-id */
  double model_idle_watts;  /* per package */
  double model_max_watts;   /* per package */
  gboolean once;
  gboolean foreground;
  gboolean verbose;
  int engine_fd;            /* internal: set in the engine process the holder starts */
  int control_fd;           /* internal: the control socket the holder listens on, for the engine */
} VpConfig;

void vp_config_free (VpConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpConfig, vp_config_free)

/* Parses argv (removing what it consumes), reads the config file it names
 * (or the default one, which may be absent) and merges them, the command line
 * winning. On error returns NULL with a one-line message naming the key. When
 * --help or --version was handled, returns NULL with no error: exit 0. */
VpConfig *vp_config_load (int *argc, char ***argv, GError **error);

/* Reads only the keyfile at path over the defaults: used by tests and reload. */
VpConfig *vp_config_load_file (const char *path, GError **error);

const char *vp_policy_to_string (VpPolicy policy);
const char *vp_topology_to_string (VpTopologyMode topology);
const char *vp_cpu_source_kind_to_string (VpCpuSourceKind kind);
const char *vp_wire_mode_to_string (VpWireMode mode);
const char *vp_platform_split_to_string (VpPlatformSplit split);
