/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the tree the mount holder serves: the engine's latest publication plus announced VMs. */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "host/snapshot/shm.h"
#include "shared/vp-tree.h"

typedef struct _VpServedTree VpServedTree;

/* Serves what the engine publishes in shm (borrowed; it must outlive this). */
VpServedTree *vp_served_tree_new (VpShm *shm);
void vp_served_tree_free (VpServedTree *served);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpServedTree, vp_served_tree_free)

/* The current tree (a new reference), rebuilt first when the engine has
 * published since. Safe from any thread; FUSE handlers call it per request. */
VpTree *vp_served_tree_get (VpServedTree *served);

/* Makes a VM's directory exist before its QEMU starts (libvirt hook for a
 * transient domain), until the engine publishes it or, once the engine has
 * published for a while without it, the VM evidently did not start. */
void vp_served_tree_announce (VpServedTree *served, const char *name, const char *uuid, uid_t uid, gid_t gid);
