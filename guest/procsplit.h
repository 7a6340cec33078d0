/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the VM's energy split between the processes inside it.
 *
 * The rule is the host's busy-share rule one level down: each interval the
 * energy is split in proportion to busy CPU time. The consumers are the
 * processes that ran, plus the busy time no process accounts for (interrupts,
 * processes that exited within the interval). The top N processes are
 * reported by name; everything else is "other". The split is exact in whole
 * µJ: the reported shares plus other always add up to the energy split, and
 * rounding remainders are carried to the next interval (shared/vp-split.h). */
#pragma once

#include <glib.h>

#define VP_COMM_SIZE 64   /* a comm is at most 15 bytes, more once made valid UTF-8 */

/* One process as /proc shows it. */
typedef struct {
  int pid;
  guint64 start_ticks;     /* /proc/PID/stat starttime: tells a reused PID apart */
  guint64 cpu_ticks;       /* utime + stime, in clock ticks */
  char comm[VP_COMM_SIZE];
} VpProcReading;

/* One process's share of an interval. */
typedef struct {
  int pid;
  char comm[VP_COMM_SIZE];
  guint64 cpu_ticks;       /* in the interval */
  guint64 energy_uj;       /* in the interval */
  guint64 total_uj;        /* since the agent first saw the process */
} VpProcShare;

typedef struct {
  guint64 energy_uj;       /* what was split */
  guint64 busy_ticks;      /* the system's busy CPU time in the interval */
  guint n_processes;       /* processes seen */
  GArray *top;             /* VpProcShare, most energy first, at most top_n */
  guint64 other_uj;        /* everything not in top, in the interval */
  guint64 other_total_uj;  /* other, summed over every interval */
} VpProcSplitResult;

typedef struct _VpProcSplit VpProcSplit;

VpProcSplit *vp_proc_split_new (guint top_n);
void vp_proc_split_free (VpProcSplit *split);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpProcSplit, vp_proc_split_free)

void vp_proc_split_result_init (VpProcSplitResult *result);
void vp_proc_split_result_clear (VpProcSplitResult *result);

/* Splits energy_uj, the energy of the interval that ends now, by the CPU
 * time each process spent since the previous call. busy_ticks_total is the
 * system's cumulative busy time (/proc/stat). The first call only takes the
 * baseline: all its energy goes to other. Pure: no I/O. */
void vp_proc_split_apply (VpProcSplit *split, const GArray *readings, guint64 busy_ticks_total,
                          guint64 energy_uj, VpProcSplitResult *result);

/* Reads every process under proc_root into readings (VpProcReading), and the
 * system's busy time: user + nice + system + irq + softirq. Guest time is
 * inside user already, and steal is time this system did not run. Processes
 * that exit while being read are skipped. */
gboolean vp_proc_read (const char *proc_root, GArray *readings, guint64 *busy_ticks_total, GError **error);
