/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the inventory of VMs (libvirt or a static keyfile) behind one interface. */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "host/conf.h"
#include "host/inventory/lifecycle.h"

/* One VM as the inventory last saw it. Immutable once listed. */
typedef struct {
  char *name;
  char *uuid;       /* canonical lower-case 36-character form */
  char *state;      /* running, paused, shutoff, crashed, pmsuspended, other */
  int pid;          /* the QEMU process, 0 when not running or unknown */
  guint vcpus;      /* the vCPUs it reserves (<vcpu>, -smp, vcpus=); 0 when unknown */
  uid_t uid;        /* who QEMU runs as (libvirt's DAC label); root when unknown */
  gid_t gid;
  gboolean has_channel; /* the domain has the vpower channel (vpowerctl attach --channel) */
  gboolean has_9p;      /* a 9p share with the tag "vpower" */
  gboolean has_virtiofs; /* a virtiofs share with the tag "vpower" */
  char *channel_path;   /* its socket while running (from the live XML), or NULL */
  int channel_peer_pid; /* not 0: the socket must be this process's own (SO_PEERCRED), as a path
                         * read from a command line anyone may write could name any socket */
  int channel_root_pid; /* not 0: channel_path is inside this process's root (a pod's QEMU), resolved
                         * there (foreign-root.h), and whoever listens on it must have that
                         * process's root (libvirt in the pod or container opens it for QEMU) */
  VpLifecycle life;     /* migration and arrival, from libvirt's events (lifecycle.h) */
  char **labels;        /* who it belongs to: label pairs from its <metadata> (vp-metadata.h), or NULL */
  /* What wiring needs (host/wiring/wire-plan.h): */
  gboolean from_libvirt;      /* listed by libvirt, which can hot-plug the channel into it */
  gboolean persistent;        /* libvirt: it has a persistent definition */
  gboolean has_virtio_serial; /* libvirt: its (live, while running) definition has a virtio-serial controller */
  gboolean defined_channel;   /* libvirt: its persistent definition has the channel */
  gboolean wiring_off;        /* its <metadata> (live or persistent) opts it out of wiring */
  const char *manager;        /* who defines it: "nova", "opennebula", "ovirt", "virt-install" (from its
                               * metadata), "proxmox", "incus", "lxd", "ganeti", "qemu" (its process), or
                               * NULL; a static string */
} VpVmInfo;

VpVmInfo *vp_vm_info_new (const char *name, const char *uuid, const char *state, int pid);
VpVmInfo *vp_vm_info_copy (const VpVmInfo *vm);
void vp_vm_info_free (VpVmInfo *vm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpVmInfo, vp_vm_info_free)
gboolean vp_vm_info_is_running (const VpVmInfo *vm);

typedef struct _VpInventory VpInventory;

/* Opens config->inventory: "auto" (libvirt where it answers, QEMU processes
 * for the rest), "libvirt" (config->connect), "processes" or "static:FILE".
 * A libvirt inventory that cannot connect yet still opens: it retries in the
 * background. */
VpInventory *vp_inventory_open (const VpConfig *config, GError **error);
void vp_inventory_free (VpInventory *inventory);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpInventory, vp_inventory_free)

/* The current VMs, as a new reference to an immutable array of VpVmInfo*.
 * *complete is TRUE when the list is known to be the whole truth (libvirt
 * connected and synced; a readable static file): only then may the caller
 * forget VMs that are missing from it. */
GPtrArray *vp_inventory_list (VpInventory *inventory, gboolean *complete);

/* For VMs whose QEMU threads cannot be read: cumulative CPU time in ns by
 * UUID (libvirt's cpu.time), or NULL when the inventory has none. */
GHashTable *vp_inventory_cpu_times (VpInventory *inventory, GError **error);

/* Waits up to timeout_ms for the first connection attempt to finish, so a
 * one-shot run sees the VMs. Returns vp_inventory_connected(). */
gboolean vp_inventory_wait_ready (VpInventory *inventory, guint timeout_ms);

/* FALSE while a libvirt inventory is disconnected. Always TRUE for static. */
gboolean vp_inventory_connected (VpInventory *inventory);
const char *vp_inventory_kind (VpInventory *inventory);

/* Private to implementations. */
typedef struct {
  const char *kind;
  GPtrArray *(*list) (gpointer impl, gboolean *complete);
  GHashTable *(*cpu_times) (gpointer impl, GError **error);
  gboolean (*connected) (gpointer impl);
  gboolean (*wait_ready) (gpointer impl, guint timeout_ms);
  void (*free) (gpointer impl);
} VpInventoryOps;

gpointer vp_inventory_static_open (const char *path, GError **error);
extern const VpInventoryOps vp_inventory_static_ops;
/* optional: a libvirt that does not answer is not an error (inventory=auto). */
gpointer vp_inventory_libvirt_open (const char *uri, gboolean optional, GError **error);
extern const VpInventoryOps vp_inventory_libvirt_ops;
/* skip_libvirt: leave the QEMU processes libvirt started to the libvirt inventory. */
gpointer vp_inventory_processes_open (const VpConfig *config, gboolean skip_libvirt, GError **error);
extern const VpInventoryOps vp_inventory_processes_ops;
gpointer vp_inventory_auto_open (const VpConfig *config, GError **error);
extern const VpInventoryOps vp_inventory_auto_ops;
