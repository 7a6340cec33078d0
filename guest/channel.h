/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the virtio-serial port org.vpower.0: reading the host's messages into the guest's own tree. */
#pragma once

#include <glib.h>

#include "shared/vp-tree.h"

#define VP_VIRTIO_PORTS_DIR "/sys/class/virtio-ports"
#define VP_VIRTIO_DEVICES_DIR "/sys/bus/virtio/devices"

/* The device of the port named VP_CHANNEL_PORT_NAME, found through
 * <ports_dir>/<port>/name (udev's /dev/virtio-ports/ link may be missing:
 * busybox has none), or NULL when the guest has no such port. */
char *vp_guest_channel_find_port (const char *ports_dir);

/* Whether the VM has a virtio-serial controller: a virtio console device (virtio ID 3) among
 * devices_dir's. Only with one can the host plug the port into the running VM. */
gboolean vp_guest_has_virtio_serial (const char *devices_dir);

/* Why this VM has no port org.vpower.0, as far as the guest can tell (whether it has a controller,
 * which ports it has), and what the host's operator has to do about it: one paragraph for the
 * tenant to hand on. */
char *vp_guest_channel_missing_advice (const char *ports_dir, const char *devices_dir);

typedef struct _VpGuestChannel VpGuestChannel;

/* Reads from device, or when device is NULL, from the port found in
 * ports_dir, waiting for it to appear (hot-plug; while it waits, the log says what the operator
 * must do, devices_dir telling whether the VM has a controller). A thread reads and
 * parses; the tree it keeps is what the agent's FUSE mount serves.
 * status_file, when set, gets the channel's counts after every message
 * (vpower-agent(8), FILES): `serve` exports them from there. */
VpGuestChannel *vp_guest_channel_start (const char *device, const char *ports_dir, const char *devices_dir,
                                         const char *status_file);
void vp_guest_channel_stop (VpGuestChannel *channel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpGuestChannel, vp_guest_channel_stop)

/* The current tree, a new reference (a VpFuseGetTree): one VM's directory,
 * empty before the first message, the last good values ever after. */
VpTree *vp_guest_channel_tree (gpointer channel);

