/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: files and sockets inside another process's root, resolved there (foreign-root.h). */
#include "config.h"

#include "host/inventory/foreign-root.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int
vp_foreign_root_open (const char *proc_root, int pid, GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/%d/root", proc_root, pid);
  int fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot open %s: %s", path, g_strerror (saved));
      errno = saved;
    }
  return fd;
}

int
vp_foreign_root_openat (int root_fd, const char *path, int flags, GError **error)
{
  /* RESOLVE_IN_ROOT: "/" and ".." stop at root_fd, and so do absolute symlinks. No magic links:
   * a /proc/self/... in the pod would otherwise lead anywhere. */
  struct open_how how = {
    .flags = (guint64) (flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd;
  do
    fd = (int) syscall (SYS_openat2, root_fd, path, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);   /* a rename raced the lookup: the kernel asks to retry */
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot open %s in the process's root: %s", path,
                   g_strerror (saved));
      errno = saved;
    }
  return fd;
}

char *
vp_foreign_root_read_file (int root_fd, const char *path, gsize max_bytes, GError **error)
{
  /* O_NONBLOCK: a FIFO planted at the path must not hold the caller; it is refused below. */
  int fd = vp_foreign_root_openat (root_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, error);
  if (fd < 0)
    return NULL;
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "%s in the process's root is not a regular file", path);
      close (fd);
      return NULL;
    }
  if ((guint64) st.st_size > max_bytes)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "%s in the process's root is larger than %" G_GSIZE_FORMAT " bytes",
                   path, max_bytes);
      close (fd);
      return NULL;
    }
  /* One byte more than allowed tells a file that grew since the fstat. */
  g_autofree char *text = g_malloc (max_bytes + 2);
  gsize used = 0;
  while (used < max_bytes + 1)
    {
      gssize n = read (fd, text + used, max_bytes + 1 - used);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot read %s in the process's root: %s", path,
                       g_strerror (saved));
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      used += (gsize) n;
    }
  close (fd);
  if (used > max_bytes)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "%s in the process's root is larger than %" G_GSIZE_FORMAT " bytes",
                   path, max_bytes);
      return NULL;
    }
  text[used] = '\0';
  return g_steal_pointer (&text);
}

gboolean
vp_foreign_root_connect (int root_fd, const char *path, int sock, GError **error)
{
  int fd = vp_foreign_root_openat (root_fd, path, O_PATH, error);
  if (fd < 0)
    return FALSE;
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISSOCK (st.st_mode))
    {
      close (fd);
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "%s in the process's root is not a socket", path);
      errno = ENOTSOCK;
      return FALSE;
    }
  /* connect() looks its path up again; through the descriptor's own /proc link it reaches the
   * inode opened above and nothing else. */
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_snprintf (address.sun_path, sizeof address.sun_path, "/proc/self/fd/%d", fd);
  int status = connect (sock, (struct sockaddr *) &address, sizeof address);
  int saved = errno;
  close (fd);
  if (status != 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot connect to %s in the process's root: %s", path,
                   g_strerror (saved));
      errno = saved;
      return FALSE;
    }
  return TRUE;
}

/* Whether ENTRY of processes A and B (PROC_ROOT/PID/ENTRY: "ns/mnt", "root") is one file: -1 when
 * either cannot be read, 0 when not, 1 when it is. */
static int
compare_entry (const char *proc_root, int pid_a, int pid_b, const char *entry)
{
  g_autofree char *path_a = g_strdup_printf ("%s/%d/%s", proc_root, pid_a, entry);
  g_autofree char *path_b = g_strdup_printf ("%s/%d/%s", proc_root, pid_b, entry);
  struct stat a, b;
  if (stat (path_a, &a) != 0 || stat (path_b, &b) != 0)
    return -1;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

gboolean
vp_foreign_root_same_mount_ns (const char *proc_root, int pid_a, int pid_b)
{
  return compare_entry (proc_root, pid_a, pid_b, "ns/mnt") == 1;
}

gboolean
vp_foreign_root_other_mount_ns (const char *proc_root, int pid_a, int pid_b)
{
  return compare_entry (proc_root, pid_a, pid_b, "ns/mnt") == 0;
}

gboolean
vp_foreign_root_same_root (const char *proc_root, int pid_a, int pid_b)
{
  return compare_entry (proc_root, pid_a, pid_b, "root") == 1;
}

gboolean
vp_foreign_root_other_root (const char *proc_root, int pid_a, int pid_b)
{
  return compare_entry (proc_root, pid_a, pid_b, "root") == 0;
}
