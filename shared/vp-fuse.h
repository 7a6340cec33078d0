/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the FUSE adapter: maps libfuse low-level requests onto the tree model. */
#pragma once

#include <glib.h>

#include "shared/vp-tree.h"

typedef struct _VpFuse VpFuse;

/* The tree to answer from now (a new reference). Called from FUSE threads
 * for every request, so it must not block on anything but memory. vpowerd's
 * holder passes its served tree (host/fuse/served-tree.c); the guest agent
 * the tree of the last channel message (guest/channel-tree.c). */
typedef VpTree *(*VpFuseGetTree) (gpointer tree_source);

/* Mounts read-only (ro, nosuid, nodev, noexec, allow_other,
 * default_permissions) at mountpoint and serves from its own threads.
 * on_finished runs in the main context once the kernel has let go of the
 * connection (after vp_fuse_detach, when no guest holds the tree any more). */
VpFuse *vp_fuse_mount (const char *mountpoint, VpFuseGetTree get_tree, gpointer tree_source,
                       GSourceFunc on_finished, gpointer user_data, GError **error);

/* Removes the mount from the host's namespace (a lazy unmount), so that it
 * no longer serves new VMs and a new vpowerd can mount there. Guests that
 * still hold it (QEMU's 9p server and virtiofsd keep their own references)
 * go on being served until they let go. */
void vp_fuse_detach (VpFuse *fuse);

/* TRUE once the kernel has released the connection and serving has ended. */
gboolean vp_fuse_finished (VpFuse *fuse);

/* Frees a finished session. Stops serving at once (guests that still hold the tree get errors). */
void vp_fuse_free (VpFuse *fuse);
