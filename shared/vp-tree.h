/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the virtual powercap tree as pure data: what is at each inode (no FUSE here). */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "shared/vp-publication.h"

/* Inode numbers are computed from stable ids, not stored per node:
 *   1                          the mount root (the VM's root in a vm_root tree)
 *   (vm_id << 16) | node       inside a VM's directory
 * where vm_id is given once per UUID and zone ids once per zone index, and
 * neither is ever reused while the holder runs. The kernel's cached inodes
 * therefore stay valid across publications and engine restarts, and a stale
 * one can never point into another VM. */
#define VP_TREE_ROOT_INO 1

typedef enum { VP_NODE_DIR, VP_NODE_FILE, VP_NODE_SYMLINK } VpNodeType;

typedef struct {
  guint64 ino;
  VpNodeType type;
  guint mode;                   /* permission bits only */
  uid_t uid;
  gid_t gid;
} VpNodeStat;

typedef struct {
  const char *name;             /* valid while the tree lives */
  VpNodeStat stat;
} VpDirEntry;

/* Stable ids, owned by whoever builds trees (the holder), for its lifetime. */
typedef struct _VpTreeIds VpTreeIds;
VpTreeIds *vp_tree_ids_new (void);
void vp_tree_ids_free (VpTreeIds *ids);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpTreeIds, vp_tree_ids_free)

/* An immutable tree; readers hold a reference for one operation. */
typedef struct _VpTree VpTree;

/* Builds the tree of a publication plus extra VMs (VpPubVm, with energy for
 * the publication's zones, or NULL: 0) that are not in it, such as VMs a
 * libvirt hook announced before the engine saw them. VMs later in the list
 * lose name clashes. */
VpTree *vp_tree_build (VpTreeIds *ids, const VpPublication *publication, const GPtrArray *extra_vms);
/* One VM's directory at the mount's root: the guest agent's tree, built
 * from a publication of at most one VM (the first is used; with none, the
 * root is an empty directory). */
VpTree *vp_tree_build_vm_root (VpTreeIds *ids, const VpPublication *publication);
VpTree *vp_tree_ref (VpTree *tree);
void vp_tree_unref (VpTree *tree);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpTree, vp_tree_unref)

guint vp_tree_n_vms (const VpTree *tree);

/* Each returns 0 or a negative errno (-ENOENT, -ENOTDIR, -EINVAL). */
int vp_tree_lookup (const VpTree *tree, guint64 parent, const char *name, VpNodeStat *out);
int vp_tree_stat (const VpTree *tree, guint64 ino, VpNodeStat *out);
/* Entries of a directory, without "." and "..", in a stable order. */
int vp_tree_list (const VpTree *tree, guint64 ino, GArray **entries);
/* A symlink's target, relative and inside its VM's directory. */
int vp_tree_readlink (const VpTree *tree, guint64 ino, char **target);
/* A file's whole content, rendered now. */
int vp_tree_render (const VpTree *tree, guint64 ino, GString *out);

/* An open file, read as sysfs files are (fs/kernfs/file.c, seq_file): a
 * read at offset 0 renders the current content, whether the file was just
 * opened or has been open for hours (MangoHud, Alumet and the powercap
 * library keep energy_uj open and rewind; so do QEMU's 9p server and
 * virtiofsd, which pread a host fd at offset 0 for every guest read). A
 * read at a later offset continues the last offset-0 rendering, so a value
 * read in pieces is never torn. */
typedef struct _VpTreeFile VpTreeFile;

/* Checks that ino is a file (-ENOENT, -EISDIR, or -EINVAL for a symlink)
 * and returns a handle. Renders nothing: opening is cheap and has no side
 * effects (QEMU's 9p server opens every file twice per guest open). */
int vp_tree_open (const VpTree *tree, guint64 ino, VpTreeFile **file);
void vp_tree_file_free (VpTreeFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpTreeFile, vp_tree_file_free)

/* Copies up to size bytes at offset into buffer, rendering from tree first
 * when offset is 0 or nothing was rendered yet. Returns the byte count (0
 * past the end) or a negative errno. Safe from several threads at once. */
gssize vp_tree_file_read (VpTreeFile *file, const VpTree *tree, goffset offset, char *buffer, gsize size);
