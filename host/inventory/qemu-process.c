/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what the process inventory reads of one QEMU process under /proc, safely. */
#include "config.h"

#include "host/inventory/qemu-process.h"
#include "host/sense/taskstat.h"
#include "shared/vp-fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

char *
vp_qemu_process_path (const char *proc_root, int pid, const char *what)
{
  return g_strdup_printf ("%s/%d/%s", proc_root, pid, what);
}

gboolean
vp_qemu_process_start_ticks (const char *proc_root, int pid, guint64 *start_ticks)
{
  g_autofree char *path = vp_qemu_process_path (proc_root, pid, "stat");
  char text[1024];
  static const guint fields[] = { 22 };
  return vp_read_small_file (path, text, sizeof text, NULL) > 0 && vp_parse_stat_fields (text, fields, 1, start_ticks);
}

char *
vp_read_regular_file (const char *path, gsize max, gsize *length)
{
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  struct stat st;
  char *text = NULL;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (guint64) st.st_size <= max)
    {
      text = g_malloc (max + 1);
      gsize got = 0;
      ssize_t n;
      while (got <= max && (n = read (fd, text + got, max + 1 - got)) > 0)
        got += (gsize) n;
      if (got > max)
        g_clear_pointer (&text, g_free);
      else
        {
          text[got] = '\0';
          *length = got;
        }
    }
  close (fd);
  return text;
}

char *
vp_qemu_process_read_file (const char *proc_root, int pid, const char *path, gsize max, gsize *length)
{
  if (!g_path_is_absolute (path))
    return NULL;
  g_autofree char *full = g_strdup_printf ("%s/%d/root%s", proc_root, pid, path);
  return vp_read_regular_file (full, max, length);
}

int
vp_read_pid_file (const char *path)
{
  gsize length;
  g_autofree char *text = vp_read_regular_file (path, 64, &length);
  guint64 value;
  return text && vp_parse_u64 (text, &value) && value > 0 && value <= G_MAXINT ? (int) value : 0;
}

int
vp_qemu_process_pidfile_pid (const char *proc_root, int pid, const char *pidfile)
{
  if (!g_path_is_absolute (pidfile))
    return 0;
  g_autofree char *full = g_strdup_printf ("%s/%d/root%s", proc_root, pid, pidfile);
  return vp_read_pid_file (full);
}

gboolean
vp_qemu_process_vcpu_schedstat (const char *proc_root, int pid, guint64 *runs, guint64 *ns)
{
  g_autofree char *task = vp_qemu_process_path (proc_root, pid, "task");
  g_autoptr (GDir) dir = g_dir_open (task, 0, NULL);
  gboolean any = FALSE;
  *runs = *ns = 0;
  for (const char *tid; dir && (tid = g_dir_read_name (dir));)
    {
      g_autofree char *comm_path = g_build_filename (task, tid, "comm", NULL);
      g_autofree char *comm = NULL;
      if (!g_file_get_contents (comm_path, &comm, NULL, NULL) || !g_str_has_prefix (comm, "CPU "))
        continue;
      g_autofree char *schedstat_path = g_build_filename (task, tid, "schedstat", NULL);
      g_autofree char *schedstat = NULL;
      guint64 run_ns, wait_ns, count;
      if (g_file_get_contents (schedstat_path, &schedstat, NULL, NULL) &&
          sscanf (schedstat, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &run_ns, &wait_ns,
                  &count) == 3)
        {
          *runs += count;
          *ns += run_ns;
          any = TRUE;
        }
    }
  return any;
}

int
vp_pidfd_open (int pid)
{
#ifdef SYS_pidfd_open
  return (int) syscall (SYS_pidfd_open, pid, 0);
#else
  errno = ENOSYS;
  return -1;
#endif
}
