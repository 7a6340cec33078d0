/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: configuration from /etc/vpower/vpower-agent.conf and the command line. */
#pragma once

#include <glib.h>

#include "shared/vp-share-xml.h"

#define VP_AGENT_CONFIG_GROUP "vpower-agent"
#define VP_AGENT_CONFIG_DEFAULT_FILE SYSCONFDIR "/vpower/vpower-agent.conf"
#define VP_AGENT_DEFAULT_MOUNT LOCALSTATEDIR "/lib/vpower"
/* The host side (vpowerctl xml/attach) uses the same tag. */
#define VP_AGENT_DEFAULT_TAG VP_SHARE_DEFAULT_TAG
#define VP_SYSFS_POWERCAP "/sys/class/powercap"
#define VP_AGENT_DEFAULT_RUNTIME_DIR "/run/vpower-agent"

/* How mount gets the counters (--transport). */
typedef enum {
  VP_TRANSPORT_AUTO,        /* the channel when the port is there, else virtiofs, else 9p */
  VP_TRANSPORT_CHANNEL,     /* the virtio-serial port: the agent serves the tree itself */
  VP_TRANSPORT_VIRTIOFS,
  VP_TRANSPORT_9P,
} VpTransport;

typedef struct {
  char *config_file;
  char *command;            /* mount, umount, serve, top, once */
  VpTransport transport;
  char *tag;                /* the share's mount tag */
  char *channel_device;     /* the port's device; NULL: found in virtio_ports */
  char *virtio_ports;       /* where ports are listed (injectable) */
  char *virtio_devices;     /* where virtio devices are listed: is there a virtio-serial controller? */
  char *runtime_dir;        /* the channel's status file */
  char *mount;              /* where the share is mounted */
  gboolean bind_sysfs;      /* mount: also bind the share over sysfs_powercap */
  char *sysfs_powercap;     /* where --bind-sysfs binds */
  char *root;               /* the tree to read; NULL: the mount point */
  char *proc_root;
  double interval_s;
  guint top;                /* processes reported by name */
  char *listen_host;
  guint listen_port;
  char *tls_cert;
  char *tls_key;
  char *basic_auth_file;
  gboolean json;            /* once: print JSON */
  guint count;              /* top: refreshes before exiting, 0 = until interrupted */
  gboolean verbose;
} VpAgentConfig;

void vp_agent_config_free (VpAgentConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpAgentConfig, vp_agent_config_free)

/* Parses argv and the config file it names (or the default one, which may
 * be absent); the command line wins. Returns NULL with a one-line error, or
 * NULL without one when --help or --version was handled (exit 0). */
VpAgentConfig *vp_agent_config_load (int *argc, char ***argv, GError **error);

/* The tree the reader reads: root if set, else the mount point. */
const char *vp_agent_config_root (const VpAgentConfig *config);
