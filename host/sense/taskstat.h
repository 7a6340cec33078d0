/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: per-thread CPU run time of a process, and the CPU each thread last ran on. */
#pragma once

#include <glib.h>

typedef struct {
  int tid;
  int cpu;              /* stat field 39: the CPU the thread last ran on */
  guint64 runtime_ns;   /* schedstat field 1: nanoseconds spent running */
} VpTaskTime;

/* Run time in slots, each charged to a CPU's package: one slot per thread (/proc), or one per CPU
 * (BPF: tid is the CPU + 1). */
typedef struct {
  int pid;
  /* Which counters these are: two samples are subtracted only when it matches. /proc: the
   * process's start time (stat field 22), which tells a reused PID from the same process. BPF:
   * its program's instance, with VP_TIMES_PER_CPU set, which no start time has. */
  guint64 start_ticks;
  GArray *tasks;        /* VpTaskTime, sorted by tid */
} VpProcessTimes;

#define VP_TIMES_PER_CPU (G_GUINT64_CONSTANT (1) << 63)

/* TRUE for a sample of per-CPU slots (BPF), FALSE for one of threads (/proc). */
static inline gboolean
vp_process_times_per_cpu (const VpProcessTimes *times)
{
  return (times->start_ticks & VP_TIMES_PER_CPU) != 0;
}

VpProcessTimes *vp_process_times_new (void);
void vp_process_times_free (VpProcessTimes *times);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpProcessTimes, vp_process_times_free)

/* Reads every thread of pid under proc_root. Fails (VP_ERROR_NOT_FOUND) when
 * the process is gone. Threads that exit during the scan are skipped. */
gboolean vp_process_times_read (const char *proc_root, int pid, VpProcessTimes *times, GError **error);

/* Parses the text of /proc/<pid>/task/<tid>/stat: the start time (field 22)
 * and the last CPU (field 39), reading fields only after the last ')'
 * because thread names may contain spaces and parentheses ("CPU 0/TCG"). */
gboolean vp_parse_task_stat (const char *text, guint64 *start_ticks, int *cpu);

/* The numeric fields of a /proc stat line named in fields (ascending, from 3: those after the
 * last ')'), into values. FALSE when one is missing or not a number. */
gboolean vp_parse_stat_fields (const char *text, const guint *fields, guint n_fields, guint64 *values);

/* Opens <proc_root>/<pid>/task as a directory. -1 with error when it cannot: VP_ERROR_NOT_FOUND
 * when the process is gone. */
int vp_task_dir_open (const char *proc_root, int pid, GError **error);

/* Adds, per dense package, the run time each thread of cur gained since prev
 * (threads new since prev count from zero: they started after it). Returns
 * FALSE when prev is not the same process (PID reuse or restart), in which
 * case nothing is added. package_of_cpu maps a CPU number to a dense package. */
gboolean vp_process_times_package_deltas (const VpProcessTimes *prev, const VpProcessTimes *cur,
                                          const int *package_of_cpu, guint n_cpus,
                                          guint64 *delta_ns_per_package);
