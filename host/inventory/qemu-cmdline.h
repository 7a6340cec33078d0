/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what a QEMU process's command line says of its VM, read as QEMU reads it.
 *
 * Pure parsing of outside bytes (/proc/PID/cmdline, a -readconfig file), for
 * the process inventory (inventory-processes.c) and fuzz/fuzz-qemucmd.c. */
#pragma once

#include <glib.h>

/* The name of the virtio-serial port vpower's channel uses (vpowerctl attach --channel). */
#define VP_CHANNEL_PORT_NAME "org.vpower.0"

/* Bounds, so that a hostile command line cannot blow up the inventory. */
#define VP_QEMU_CMDLINE_MAX (1 << 20)   /* bytes read of /proc/PID/cmdline */
#define VP_QEMU_CONFIG_MAX (1 << 20)    /* bytes read of a -readconfig file */

typedef struct {
  char *name;            /* -name's guest (its implied first key), or NULL */
  gboolean debug_threads;/* -name ...,debug-threads=on: vCPU threads are named "CPU N/..." */
  char *uuid;            /* -uuid, else -smbios type=1,uuid=; canonical lower case; NULL if none valid */
  char *pidfile;         /* -pidfile */
  guint vcpus;           /* -smp: the vCPUs it starts with; 0 when not given (QEMU's default is 1) */
  char *id;              /* -id (Proxmox's pve-qemu: the VMID) */
  char *incoming;        /* -incoming: it waits for a migration's state */
  gboolean daemonize;    /* -daemonize: the exec'd process is not the VM's (it forks twice) */
  gboolean libvirt;      /* libvirt's: its files are in a domain directory of libvirt's (see qemu-cmdline.c) */
  GPtrArray *readconfig; /* -readconfig files, in order (char*) */
  /* What the channel is made of: socket chardevs (id -> path) and the chardev of
   * the virtserialport named VP_CHANNEL_PORT_NAME, from the command line and any
   * -readconfig file added with vp_qemu_cmdline_add_config(). */
  GHashTable *socket_chardevs;
  char *channel_chardev;
} VpQemuCmdline;

/* Parses a NUL-separated argv as /proc/PID/cmdline gives it (argv[0] first).
 * Options are -opt or --opt; an option's value is QemuOpts (key=value pairs,
 * ",," for a comma, an implied first key). Never fails: what cannot be read
 * is left out. */
VpQemuCmdline *vp_qemu_cmdline_parse (const char *bytes, gsize length);
void vp_qemu_cmdline_free (VpQemuCmdline *cmdline);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpQemuCmdline, vp_qemu_cmdline_free)

/* Adds the [chardev "ID"] and [device "ID"] sections of a -readconfig file
 * (QEMU's ini-like format: key = "value"), as Incus puts its devices there.
 * FALSE with an error on a line QEMU would refuse; what came before is kept. */
gboolean vp_qemu_cmdline_add_config (VpQemuCmdline *cmdline, const char *text, gsize length, GError **error);

/* The path of the socket behind the port org.vpower.0, or NULL. */
const char *vp_qemu_cmdline_channel (const VpQemuCmdline *cmdline);

/* One QemuOpts value as a NULL-terminated vector of {key, value, ...}: ",,"
 * is a comma; a first element without "=" is implied_key's value (when
 * implied_key is not NULL); a later bare "key" is key=on, "nokey" key=off. */
char **vp_qemu_opts_parse (const char *value, const char *implied_key);
/* The last value of key in a vector from vp_qemu_opts_parse, or NULL. */
const char *vp_qemu_opts_get (char *const *opts, const char *key);

/* TRUE for a QEMU system emulator's file name: qemu-system-*, qemu-kvm, kvm
 * (Debian's and Proxmox's /usr/bin/kvm). */
gboolean vp_qemu_exe_is_qemu (const char *path);
