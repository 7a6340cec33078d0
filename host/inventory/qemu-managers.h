/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: which manager started a QEMU process, the VM's key in that manager, and its labels.
 *
 * Each manager leaves its mark in the command line (the -pidfile's
 * directory, Proxmox's -id) and keeps the VM's description in its own files.
 * Pure functions over a parsed command line and file texts, so that unit
 * tests and the fuzzer need no manager; qemu_identity_load() reads the files. */
#pragma once

#include <glib.h>

#include "host/inventory/qemu-cmdline.h"

typedef enum {
  VP_MANAGER_PLAIN = 0,   /* QEMU started by hand or by a script */
  VP_MANAGER_PROXMOX,     /* qemu-server: /var/run/qemu-server/VMID.pid */
  VP_MANAGER_INCUS,       /* /run/incus/[PROJECT_]NAME/qemu.pid */
  VP_MANAGER_LXD,         /* /var/log/lxd/[PROJECT_]NAME/qemu.pid (or the snap's) */
  VP_MANAGER_GANETI,      /* /var/run/ganeti/kvm-hypervisor/pid/INSTANCE */
  VP_MANAGER_LIBVIRT,     /* .../libvirt/qemu/domain-ID-NAME/ files: the libvirt inventory's */
  VP_MANAGER_KUBEVIRT,    /* libvirt's, in a KubeVirt pod (qemu-kubevirt.h): vp_qemu_identity_set_kubevirt */
} VpManager;

typedef struct {
  VpManager manager;
  char *key;        /* the VM's name in vpower: the manager's own key (see qemu-managers.c) */
  char *uuid;       /* from the command line, else derived from the manager and key */
  char *vm_name;    /* the manager's display name, when it is not the key */
  char *project;    /* Incus/LXD project; Proxmox pool */
  char *vmid;       /* Proxmox */
  char *vmi_uid;    /* KubeVirt: the VMI's UID */
} VpQemuIdentity;

void vp_qemu_identity_clear (VpQemuIdentity *identity);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VpQemuIdentity, vp_qemu_identity_clear)

/* Names the VM of a parsed command line. FALSE when it has nothing to be
 * known by (no -name, -uuid or manager key), or when the name it would get is
 * not fit for a directory (not UTF-8, '/', control characters, too long). */
gboolean vp_qemu_identify (const VpQemuCmdline *cmdline, VpQemuIdentity *identity);

const char *vp_manager_to_string (VpManager manager);

/* Makes a libvirt identity a KubeVirt VM's: the key stays the domain's name (NAMESPACE_NAME); the
 * namespace is its project and the VMI's name its vm_name, as for Incus. */
void vp_qemu_identity_set_kubevirt (VpQemuIdentity *identity, const char *namespace, const char *vmi_name,
                                    const char *vmi_uid);

/* What a Proxmox VM's configuration (/etc/pve/qemu-server/VMID.conf) says:
 * only its main section, before any [snapshot] or [PENDING]. */
typedef struct {
  char *name;
  char *tags;       /* "a;b", as the configuration lists them, separators normalised */
  gboolean agent;   /* agent: 1 (or enabled=1): the virtio-serial bus qga0.0 exists */
} VpProxmoxConf;

void vp_proxmox_conf_clear (VpProxmoxConf *conf);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VpProxmoxConf, vp_proxmox_conf_clear)
void vp_proxmox_conf_parse (const char *text, gsize length, VpProxmoxConf *conf);

/* The pool of vmid in /etc/pve/user.cfg's "pool:NAME:COMMENT:VMIDS:STORAGES:" lines, or NULL. */
char *vp_proxmox_pool_of (const char *user_cfg, gsize length, const char *vmid);

/* The owner labels (vp-metadata.h's pairs) of a VM: vm_name and project,
 * then label_manager and, for Proxmox, label_tags; for KubeVirt, label_uid (the VMI's).
 * etc_root is "/" but for tests: where /etc/pve is read. */
char **vp_qemu_identity_labels (const VpQemuIdentity *identity, const char *etc_root);
