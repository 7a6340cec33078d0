/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: per-thread CPU run time of a process, and the CPU each thread last ran on.
 *
 * We use /proc/<pid>/task/<tid>/schedstat (ns of run time) rather than
 * utime+stime from stat: those advance in 10 ms ticks, so at a 1 s interval a
 * VM at 5% CPU would swing by +-20% from tick to tick. */
#include "config.h"

#include "host/sense/taskstat.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

VpProcessTimes *
vp_process_times_new (void)
{
  VpProcessTimes *times = g_new0 (VpProcessTimes, 1);
  times->tasks = g_array_new (FALSE, FALSE, sizeof (VpTaskTime));
  return times;
}

void
vp_process_times_free (VpProcessTimes *times)
{
  if (!times)
    return;
  g_array_unref (times->tasks);
  g_free (times);
}

gboolean
vp_parse_stat_fields (const char *text, const guint *fields, guint n_fields, guint64 *values)
{
  const char *p = strrchr (text, ')');
  if (!p || n_fields == 0)
    return FALSE;
  p++;
  /* After the ')' each field is preceded by one blank: field n starts after
   * the (n - 2)th blank. One pass, no per-field calls: this runs for threads
   * of every VM each tick. */
  guint field = 2, next = 0;
  for (; *p && *p != '\n'; p++)
    {
      if (*p != ' ')
        continue;
      field++;
      if (field != fields[next])
        continue;
      char *end;
      errno = 0;
      values[next] = g_ascii_strtoull (p + 1, &end, 10);
      if (errno || end == p + 1)
        return FALSE;
      if (++next == n_fields)
        return TRUE;
    }
  return FALSE;
}

gboolean
vp_parse_task_stat (const char *text, guint64 *start_ticks, int *cpu)
{
  static const guint fields[] = { 22, 39 };
  guint64 values[2];
  if (!vp_parse_stat_fields (text, fields, 2, values))
    return FALSE;
  *start_ticks = values[0];
  *cpu = values[1] > G_MAXINT ? -1 : (int) values[1];
  return TRUE;
}

int
vp_task_dir_open (const char *proc_root, int pid, GError **error)
{
  char path[PATH_MAX];
  g_snprintf (path, sizeof path, "%s/%d/task", proc_root, pid);
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, saved == ENOENT ? VP_ERROR_NOT_FOUND : VP_ERROR_IO,
                   "process %d: cannot open %s: %s", pid, path, g_strerror (saved));
    }
  return fd;
}

static int
compare_tid (gconstpointer a, gconstpointer b)
{
  const VpTaskTime *x = a, *y = b;
  return (x->tid > y->tid) - (x->tid < y->tid);
}

gboolean
vp_process_times_read (const char *proc_root, int pid, VpProcessTimes *times, GError **error)
{
  char path[PATH_MAX];
  char buf[1024];

  g_array_set_size (times->tasks, 0);
  times->pid = pid;
  times->start_ticks = 0;

  g_snprintf (path, sizeof path, "%s/%d/task", proc_root, pid);
  int task_fd = vp_task_dir_open (proc_root, pid, error);
  if (task_fd < 0)
    return FALSE;
  DIR *dir = fdopendir (task_fd);
  if (!dir)
    {
      int saved = errno;
      close (task_fd);
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "process %d: %s: %s", pid, path, g_strerror (saved));
      return FALSE;
    }

  /* "<tid>/schedstat" and "<tid>/stat", relative to the task directory:
   * built by hand, as this loop runs for every thread of every VM each tick. */
  char rel[64];
  struct dirent *entry;
  while ((entry = readdir (dir)) != NULL)
    {
      if (!g_ascii_isdigit (entry->d_name[0]))
        continue;
      gsize tid_len = strnlen (entry->d_name, 16);
      if (tid_len >= 16)
        continue;
      VpTaskTime task = { .tid = atoi (entry->d_name), .cpu = -1 };
      guint64 start = 0;
      memcpy (rel, entry->d_name, tid_len);

      /* A thread may exit between readdir and open: skip it, it is not an error. */
      memcpy (rel + tid_len, "/schedstat", sizeof "/schedstat");
      if (vp_read_small_file_at (task_fd, rel, NULL, buf, sizeof buf, NULL) < 0)
        continue;
      char *end;
      task.runtime_ns = g_ascii_strtoull (buf, &end, 10);
      if (end == buf)
        continue;
      memcpy (rel + tid_len, "/stat", sizeof "/stat");
      if (vp_read_small_file_at (task_fd, rel, NULL, buf, sizeof buf, NULL) < 0 ||
          !vp_parse_task_stat (buf, &start, &task.cpu))
        continue;
      /* The main thread's start time is the process's (tid == pid). */
      if (task.tid == pid)
        times->start_ticks = start;
      g_array_append_val (times->tasks, task);
    }
  closedir (dir);

  if (times->tasks->len == 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "process %d has no readable thread under %s",
                   pid, path);
      return FALSE;
    }
  g_array_sort (times->tasks, compare_tid);
  return TRUE;
}

gboolean
vp_process_times_package_deltas (const VpProcessTimes *prev, const VpProcessTimes *cur,
                                 const int *package_of_cpu, guint n_cpus,
                                 guint64 *delta_ns_per_package)
{
  if (prev->pid != cur->pid || prev->start_ticks != cur->start_ticks)
    return FALSE;

  /* Both lists are sorted by tid: walk them together. */
  guint j = 0;
  for (guint i = 0; i < cur->tasks->len; i++)
    {
      const VpTaskTime *task = &g_array_index (cur->tasks, VpTaskTime, i);
      while (j < prev->tasks->len && g_array_index (prev->tasks, VpTaskTime, j).tid < task->tid)
        j++;
      guint64 before = 0;
      if (j < prev->tasks->len && g_array_index (prev->tasks, VpTaskTime, j).tid == task->tid)
        before = g_array_index (prev->tasks, VpTaskTime, j).runtime_ns;
      if (task->runtime_ns <= before)
        continue;
      /* A thread is charged to the package of the CPU it last ran on: the
       * best a 1 s sample can do without per-CPU scheduler tracing. */
      int package = task->cpu >= 0 && (guint) task->cpu < n_cpus ? package_of_cpu[task->cpu] : -1;
      delta_ns_per_package[package >= 0 ? package : 0] += task->runtime_ns - before;
    }
  return TRUE;
}
