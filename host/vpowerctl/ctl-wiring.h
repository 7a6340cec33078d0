/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerctl wiring: the lines that give a VM vpower's channel under a manager other than libvirt. */
#pragma once

#include <glib.h>

typedef enum {
  VP_WIRING_PROXMOX,   /* an args: line for /etc/pve/qemu-server/VMID.conf */
  VP_WIRING_INCUS,     /* raw.qemu.conf for an Incus instance */
  VP_WIRING_LXD,       /* raw.qemu.conf for an LXD instance */
  VP_WIRING_GANETI,    /* a kvm_extra hypervisor parameter for a Ganeti instance */
  VP_WIRING_QEMU,      /* QEMU arguments */
} VpWiringKind;

/* The wiring text for vm (Proxmox: its VMID; Incus/LXD: the instance's name,
 * in project, NULL for the default one; QEMU: its -name). runtime_dir is
 * vpowerd's (the channels' sockets are in its channels/ directory); etc_root
 * is "" but for tests (Proxmox's configuration says whether the agent's bus
 * exists; Ganeti: the instance). *note (free it) says how to apply it. NULL with an error for a VM
 * or name that cannot be wired. */
char *vp_ctl_wiring (VpWiringKind kind, const char *vm, const char *project, const char *runtime_dir,
                     const char *etc_root, char **note, GError **error);

/* The socket vpowerd connects to for a VM wired by vp_ctl_wiring(). */
char *vp_ctl_wiring_socket (VpWiringKind kind, const char *vm, const char *project, const char *runtime_dir);
