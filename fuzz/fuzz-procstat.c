/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: the /proc files vpowerd reads each tick (host/sense/cpustat.c, host/sense/taskstat.c).
 *
 * The input is three parts separated by NUL bytes: /proc/stat, a thread's
 * stat and its schedstat. The first goes to vp_cpu_sample_parse; the others
 * are written as <root>/1/task/1/{stat,schedstat} and read back by
 * vp_process_times_read, the function the tick calls on every QEMU thread. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/sense/cpustat.h"
#include "host/sense/taskstat.h"

#include <glib/gstdio.h>
#include <stdlib.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  g_auto (GStrv) parts = vp_fuzz_split (data, size, 3);

  VpCpuSample sample = { 0 };
  g_autoptr (GError) error = NULL;
  (void) vp_cpu_sample_parse (parts[0], &sample, &error);
  vp_cpu_sample_clear (&sample);

  static char *task_dir;
  if (!task_dir)
    {
      task_dir = g_build_filename (vp_fuzz_dir (), "1", "task", "1", NULL);
      g_mkdir_with_parents (task_dir, 0700);
    }
  g_autofree char *stat = g_build_filename (task_dir, "stat", NULL);
  g_autofree char *schedstat = g_build_filename (task_dir, "schedstat", NULL);
  if (!g_file_set_contents (stat, parts[1], -1, NULL) || !g_file_set_contents (schedstat, parts[2], -1, NULL))
    abort ();
  g_autoptr (VpProcessTimes) times = vp_process_times_new ();
  g_autoptr (GError) read_error = NULL;
  (void) vp_process_times_read (vp_fuzz_dir (), 1, times, &read_error);
  return 0;
}
