/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the FUSE adapter: maps libfuse low-level requests onto the tree model.
 *
 * The only file that includes fuse_lowlevel.h. Every handler takes a
 * reference to the current tree, asks it, and turns the answer into a reply
 * or an errno. Handlers never block on anything but memory: no libvirt, no
 * engine (design.md: libvirt stats the share while starting a VM, so a
 * handler that waited on libvirt could deadlock it). */
#include "config.h"

#include "shared/vp-fuse.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

/* Names and attributes may be cached for a second: owners change when a
 * VM starts, and directories come and go with VMs. Misses are never cached
 * (a VM defined now must be visible to the libvirt start that follows). */
#define ENTRY_TIMEOUT_S 1.0
#define ATTR_TIMEOUT_S 1.0
/* sysfs reports 4096 for every attribute file; readers read to EOF anyway. */
#define FILE_SIZE 4096

struct _VpFuse {
  struct fuse_session *session;
  char *mountpoint;
  VpFuseGetTree get_tree;     /* the current tree, a new reference */
  gpointer tree_source;
  GThread *thread;
  struct timespec mounted_at;
  GSourceFunc on_finished;
  gpointer user_data;
  gboolean detached;
  gint loop_ended;   /* atomic */
};

/* A directory listing taken at opendir, so offsets stay meaningful. */
typedef struct {
  GArray *entries;   /* VpDirEntry */
  VpTree *tree;      /* keeps the entry names alive */
  guint64 ino;
} OpenDir;

static VpFuse *
fuse_of (fuse_req_t req)
{
  return fuse_req_userdata (req);
}

static VpTree *
current_tree (fuse_req_t req)
{
  VpFuse *fuse = fuse_of (req);
  return fuse->get_tree (fuse->tree_source);
}

static void
fill_attr (VpFuse *fuse, const VpNodeStat *node, struct stat *st)
{
  memset (st, 0, sizeof *st);
  st->st_ino = node->ino;
  st->st_uid = node->uid;
  st->st_gid = node->gid;
  st->st_blksize = 4096;
  st->st_atim = st->st_mtim = st->st_ctim = fuse->mounted_at;
  switch (node->type)
    {
    case VP_NODE_DIR:
      st->st_mode = S_IFDIR | node->mode;
      st->st_nlink = 2;
      break;
    case VP_NODE_SYMLINK:
      st->st_mode = S_IFLNK | node->mode;
      st->st_nlink = 1;
      break;
    case VP_NODE_FILE:
      st->st_mode = S_IFREG | node->mode;
      st->st_nlink = 1;
      st->st_size = FILE_SIZE;
      break;
    }
}

static void
op_init (void *user_data, struct fuse_conn_info *conn)
{
  /* A zone's symlink target follows from its index and never changes, so
   * the kernel may keep it: otherwise every open through a flat link
   * (intel-rapl:0/energy_uj, as node_exporter reads) costs a READLINK
   * round trip (bench/README.md). */
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
    conn->want |= FUSE_CAP_CACHE_SYMLINKS;
}

static void
op_lookup (fuse_req_t req, fuse_ino_t parent, const char *name)
{
  VpFuse *fuse = fuse_of (req);
  g_autoptr (VpTree) tree = fuse->get_tree (fuse->tree_source);
  VpNodeStat node;
  int rc = vp_tree_lookup (tree, parent, name, &node);
  if (rc < 0)
    {
      fuse_reply_err (req, -rc);
      return;
    }
  struct fuse_entry_param entry = {
    .ino = node.ino,
    .generation = 1,
    .attr_timeout = ATTR_TIMEOUT_S,
    .entry_timeout = ENTRY_TIMEOUT_S,
  };
  fill_attr (fuse, &node, &entry.attr);
  fuse_reply_entry (req, &entry);
}

static void
op_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  VpFuse *fuse = fuse_of (req);
  g_autoptr (VpTree) tree = fuse->get_tree (fuse->tree_source);
  VpNodeStat node;
  int rc = vp_tree_stat (tree, ino, &node);
  if (rc < 0)
    {
      fuse_reply_err (req, -rc);
      return;
    }
  struct stat st;
  fill_attr (fuse, &node, &st);
  fuse_reply_attr (req, &st, ATTR_TIMEOUT_S);
}

static void
op_readlink (fuse_req_t req, fuse_ino_t ino)
{
  g_autoptr (VpTree) tree = current_tree (req);
  g_autofree char *target = NULL;
  int rc = vp_tree_readlink (tree, ino, &target);
  if (rc < 0)
    fuse_reply_err (req, -rc);
  else
    fuse_reply_readlink (req, target);
}

static void
op_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  /* The mount is read-only, so the kernel refuses writes first; this is
   * the second line. */
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
    {
      fuse_reply_err (req, EROFS);
      return;
    }
  g_autoptr (VpTree) tree = current_tree (req);
  VpTreeFile *file = NULL;
  int rc = vp_tree_open (tree, ino, &file);
  if (rc < 0)
    {
      fuse_reply_err (req, -rc);
      return;
    }
  fi->fh = (uint64_t) (uintptr_t) file;
  /* Every read must reach us, so that a read at offset 0 renders the
   * current value (tree.h): no page cache. */
  fi->direct_io = 1;
  fi->keep_cache = 0;
  if (fuse_reply_open (req, fi) != 0)
    vp_tree_file_free (file);   /* the opener was interrupted: no release will come */
}

static void
op_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, struct fuse_file_info *fi)
{
  VpTreeFile *file = (VpTreeFile *) (uintptr_t) fi->fh;
  g_autoptr (VpTree) tree = current_tree (req);
  /* Reply from a copy: the kernel can complete the reader's read() while
   * fuse_reply_buf() is still returning, and the reader's close() then
   * frees `file` in another thread (ASan saw exactly that). Files are a
   * few dozen bytes at most (a zone name is at most 255); a longer one
   * would be read in pieces. */
  char copy[512];
  gssize length = vp_tree_file_read (file, tree, offset, copy, MIN (size, sizeof copy));
  if (length < 0)
    fuse_reply_err (req, (int) -length);
  else
    fuse_reply_buf (req, copy, (size_t) length);
}

static void
op_release (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  vp_tree_file_free ((VpTreeFile *) (uintptr_t) fi->fh);
  fuse_reply_err (req, 0);
}

static void
op_opendir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  VpTree *tree = current_tree (req);
  GArray *entries = NULL;
  int rc = vp_tree_list (tree, ino, &entries);
  if (rc < 0)
    {
      vp_tree_unref (tree);
      fuse_reply_err (req, -rc);
      return;
    }
  OpenDir *dir = g_new0 (OpenDir, 1);
  dir->entries = entries;
  dir->tree = tree;
  dir->ino = ino;
  fi->fh = (uint64_t) (uintptr_t) dir;
  if (fuse_reply_open (req, fi) != 0)
    {
      g_array_unref (entries);
      vp_tree_unref (tree);
      g_free (dir);
    }
}

static void
op_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, struct fuse_file_info *fi)
{
  VpFuse *fuse = fuse_of (req);
  OpenDir *dir = (OpenDir *) (uintptr_t) fi->fh;
  g_autofree char *buffer = g_malloc (size);
  gsize used = 0;

  /* Offsets: 0 ".", 1 "..", then entry i at 2 + i; each entry carries the
   * offset of the next one. */
  for (off_t next = offset; next < (off_t) dir->entries->len + 2; next++)
    {
      struct stat st = { 0 };
      const char *name;
      if (next < 2)
        {
          name = next == 0 ? "." : "..";
          /* The kernel resolves ".." itself; readdir only needs a number. */
          st.st_ino = dir->ino;
          st.st_mode = S_IFDIR;
        }
      else
        {
          const VpDirEntry *entry = &g_array_index (dir->entries, VpDirEntry, next - 2);
          name = entry->name;
          fill_attr (fuse, &entry->stat, &st);
        }
      gsize needed = fuse_add_direntry (req, buffer + used, size - used, name, &st, next + 1);
      if (needed > size - used)
        break;
      used += needed;
    }
  fuse_reply_buf (req, buffer, used);
}

static void
op_releasedir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  OpenDir *dir = (OpenDir *) (uintptr_t) fi->fh;
  g_array_unref (dir->entries);
  vp_tree_unref (dir->tree);
  g_free (dir);
  fuse_reply_err (req, 0);
}

static void
op_statfs (fuse_req_t req, fuse_ino_t ino)
{
  struct statvfs st = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255 };
  fuse_reply_statfs (req, &st);
}

/* Inode numbers are computed, not allocated: there is nothing to forget. */
static void
op_forget (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
  fuse_reply_none (req);
}

static void
op_forget_multi (fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
  fuse_reply_none (req);
}

/* Everything that would change the tree. The kernel refuses most of these
 * on a read-only mount before asking; the answers here are the same. */
static void
op_setattr (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
  fuse_reply_err (req, EROFS);
}

static void
op_setxattr (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
  fuse_reply_err (req, EROFS);
}

static void
op_removexattr (fuse_req_t req, fuse_ino_t ino, const char *name)
{
  fuse_reply_err (req, EROFS);
}

static void
op_mknod (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
  fuse_reply_err (req, EROFS);
}

static void
op_mkdir (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
  fuse_reply_err (req, EROFS);
}

static void
op_unlink (fuse_req_t req, fuse_ino_t parent, const char *name)
{
  fuse_reply_err (req, EROFS);
}

static void
op_symlink (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
  fuse_reply_err (req, EROFS);
}

static void
op_rename (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
           unsigned int flags)
{
  fuse_reply_err (req, EROFS);
}

static void
op_link (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
  fuse_reply_err (req, EROFS);
}

static void
op_create (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
  fuse_reply_err (req, EROFS);
}

static void
op_write (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
  fuse_reply_err (req, EROFS);
}

static const struct fuse_lowlevel_ops vp_fuse_ops = {
  .init = op_init,
  .lookup = op_lookup,
  .forget = op_forget,
  .forget_multi = op_forget_multi,
  .getattr = op_getattr,
  .readlink = op_readlink,
  .open = op_open,
  .read = op_read,
  .release = op_release,
  .opendir = op_opendir,
  .readdir = op_readdir,
  .releasedir = op_releasedir,
  .statfs = op_statfs,
  .setattr = op_setattr,
  .setxattr = op_setxattr,
  .removexattr = op_removexattr,
  .mknod = op_mknod,
  .mkdir = op_mkdir,
  .unlink = op_unlink,
  .rmdir = op_unlink,
  .symlink = op_symlink,
  .rename = op_rename,
  .link = op_link,
  .create = op_create,
  .write = op_write,
};

static gpointer
serve_thread (gpointer data)
{
  VpFuse *fuse = data;
  /* Signals belong to the main loop (g_unix_signal_add), not to FUSE
   * workers, whose reads would otherwise be interrupted. */
  sigset_t all;
  sigfillset (&all);
  pthread_sigmask (SIG_BLOCK, &all, NULL);

  /* FUSE API 35's loop configuration (libfuse 3.12 and later convert it):
   * up to 8 idle workers kept, one device fd. */
  struct fuse_loop_config config = { .clone_fd = 0, .max_idle_threads = 8 };
  int rc = fuse_session_loop_mt (fuse->session, &config);
  g_debug ("fuse: the session loop ended (%d)", rc);
  g_atomic_int_set (&fuse->loop_ended, 1);
  g_idle_add (fuse->on_finished, fuse->user_data);
  return NULL;
}

VpFuse *
vp_fuse_mount (const char *mountpoint, VpFuseGetTree get_tree, gpointer tree_source, GSourceFunc on_finished,
               gpointer user_data, GError **error)
{
  char *argv[] = {
    (char *) "vpower", (char *) "-o",
    (char *) "ro,nosuid,nodev,noexec,allow_other,default_permissions,fsname=vpower,subtype=vpower",
    NULL,
  };
  struct fuse_args args = FUSE_ARGS_INIT (3, argv);
  VpFuse *fuse = g_new0 (VpFuse, 1);
  fuse->mountpoint = g_strdup (mountpoint);
  fuse->get_tree = get_tree;
  fuse->tree_source = tree_source;
  fuse->on_finished = on_finished;
  fuse->user_data = user_data;
  clock_gettime (CLOCK_REALTIME, &fuse->mounted_at);

  fuse->session = fuse_session_new (&args, &vp_fuse_ops, sizeof vp_fuse_ops, fuse);
  fuse_opt_free_args (&args);
  if (!fuse->session)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "cannot create the FUSE session");
      g_free (fuse->mountpoint);
      g_free (fuse);
      return NULL;
    }
  if (fuse_session_mount (fuse->session, mountpoint) != 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED,
                   "cannot mount the tree on %s (is /dev/fuse there, and are we root?)", mountpoint);
      fuse_session_destroy (fuse->session);
      g_free (fuse->mountpoint);
      g_free (fuse);
      return NULL;
    }
  fuse->thread = g_thread_new ("fuse", serve_thread, fuse);
  return fuse;
}

void
vp_fuse_detach (VpFuse *fuse)
{
  if (fuse->detached)
    return;
  fuse->detached = TRUE;
  /* Not fuse_session_unmount(): it also closes the connection, which would
   * break every running guest that still holds the tree. */
  if (umount2 (fuse->mountpoint, MNT_DETACH) != 0)
    g_warning ("cannot unmount %s: %s", fuse->mountpoint, g_strerror (errno));
}

gboolean
vp_fuse_finished (VpFuse *fuse)
{
  return g_atomic_int_get (&fuse->loop_ended);
}

void
vp_fuse_free (VpFuse *fuse)
{
  if (!fuse)
    return;
  g_return_if_fail (vp_fuse_finished (fuse));
  g_thread_join (fuse->thread);
  /* The connection is gone, so this finds the device in error and only
   * releases libfuse's copy of the mount point: it does not unmount, and
   * cannot touch a newer mount at the same path. */
  fuse_session_unmount (fuse->session);
  fuse_session_destroy (fuse->session);
  g_free (fuse->mountpoint);
  g_free (fuse);
}
