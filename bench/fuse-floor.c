/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark: the FUSE floor, a minimal low-level server with one constant file, configured like vpowerd.
 *
 *   fuse-floor MOUNTPOINT
 *
 * Serves MOUNTPOINT/vm1/intel-rapl/intel-rapl:0/energy_uj (a real chain of
 * directories, the same depth as vpowerd's nested path) holding "123456789\n".
 * Everything a reader's open+read+close meets is set as vpowerd sets it: the
 * mount options, 1 s entry and attribute timeouts, direct_io on open, a 4096
 * byte file size, and the multi-threaded loop with 8 idle threads. Runs in
 * the foreground until SIGTERM or SIGINT, then unmounts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ENTRY_TIMEOUT_S 1.0
#define ATTR_TIMEOUT_S 1.0
#define FILE_SIZE 4096
#define N_NODES 5

static const char content[] = "123456789\n";

/* Inode i (1-based) is the only child of inode i - 1; the last one is the file. */
static const char *const node_names[N_NODES + 1] = {
  NULL, "", "vm1", "intel-rapl", "intel-rapl:0", "energy_uj",
};

static struct timespec mounted_at;

static void
fill_attr (fuse_ino_t ino, struct stat *st)
{
  memset (st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_blksize = 4096;
  st->st_atim = st->st_mtim = st->st_ctim = mounted_at;
  if (ino == N_NODES)
    {
      st->st_mode = S_IFREG | 0444;
      st->st_nlink = 1;
      st->st_size = FILE_SIZE;
    }
  else
    {
      st->st_mode = S_IFDIR | 0555;
      st->st_nlink = 2;
    }
}

static void
op_lookup (fuse_req_t req, fuse_ino_t parent, const char *name)
{
  if (parent < 1 || parent >= N_NODES || strcmp (name, node_names[parent + 1]) != 0)
    {
      fuse_reply_err (req, parent == N_NODES ? ENOTDIR : ENOENT);
      return;
    }
  struct fuse_entry_param entry = {
    .ino = parent + 1,
    .generation = 1,
    .attr_timeout = ATTR_TIMEOUT_S,
    .entry_timeout = ENTRY_TIMEOUT_S,
  };
  fill_attr (entry.ino, &entry.attr);
  fuse_reply_entry (req, &entry);
}

static void
op_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  if (ino < 1 || ino > N_NODES)
    {
      fuse_reply_err (req, ENOENT);
      return;
    }
  struct stat st;
  fill_attr (ino, &st);
  fuse_reply_attr (req, &st, ATTR_TIMEOUT_S);
}

static void
op_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  if (ino != N_NODES)
    fuse_reply_err (req, EISDIR);
  else if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
    fuse_reply_err (req, EROFS);
  else
    {
      fi->direct_io = 1;
      fi->keep_cache = 0;
      fuse_reply_open (req, fi);
    }
}

static void
op_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, struct fuse_file_info *fi)
{
  size_t length = sizeof content - 1;
  if (offset < 0 || (size_t) offset >= length)
    fuse_reply_buf (req, NULL, 0);
  else
    fuse_reply_buf (req, content + offset, size < length - (size_t) offset ? size : length - (size_t) offset);
}

/* Only so that ls works: ".", "..", and the one child. */
static void
op_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, struct fuse_file_info *fi)
{
  char buffer[512];
  size_t used = 0;
  if (ino < 1 || ino >= N_NODES)
    {
      fuse_reply_err (req, ENOTDIR);
      return;
    }
  for (off_t next = offset; next < 3; next++)
    {
      struct stat st = { .st_ino = next == 2 ? ino + 1 : ino, .st_mode = S_IFDIR };
      if (next == 2 && ino + 1 == N_NODES)
        st.st_mode = S_IFREG;
      const char *name = next == 0 ? "." : next == 1 ? ".." : node_names[ino + 1];
      size_t room = size < sizeof buffer ? size : sizeof buffer;
      size_t needed = fuse_add_direntry (req, buffer + used, room - used, name, &st, next + 1);
      if (needed > room - used)
        break;
      used += needed;
    }
  fuse_reply_buf (req, buffer, used);
}

static void
op_release (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  fuse_reply_err (req, 0);
}

static void
op_forget (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
  fuse_reply_none (req);
}

static const struct fuse_lowlevel_ops floor_ops = {
  .lookup = op_lookup,
  .forget = op_forget,
  .getattr = op_getattr,
  .open = op_open,
  .read = op_read,
  .release = op_release,
  .readdir = op_readdir,
};

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s MOUNTPOINT\n", argv[0]);
      return 2;
    }
  char *fuse_argv[] = {
    argv[0], (char *) "-o",
    (char *) "ro,nosuid,nodev,noexec,allow_other,default_permissions,fsname=fuse-floor,subtype=fuse-floor",
    NULL,
  };
  struct fuse_args args = FUSE_ARGS_INIT (3, fuse_argv);
  int status = 1;
  clock_gettime (CLOCK_REALTIME, &mounted_at);

  struct fuse_session *session = fuse_session_new (&args, &floor_ops, sizeof floor_ops, NULL);
  if (!session)
    return 1;
  if (fuse_set_signal_handlers (session) != 0)
    goto out_destroy;
  if (fuse_session_mount (session, argv[1]) != 0)
    goto out_signals;

  struct fuse_loop_config config = { .clone_fd = 0, .max_idle_threads = 8 };   /* as shared/vp-fuse.c */
  /* After SIGTERM or SIGINT the loop returns the signal's number. */
  int rc = fuse_session_loop_mt (session, &config);
  status = rc != 0 && rc != SIGTERM && rc != SIGINT;
  fuse_session_unmount (session);

out_signals:
  fuse_remove_signal_handlers (session);
out_destroy:
  fuse_session_destroy (session);
  fuse_opt_free_args (&args);
  return status;
}
