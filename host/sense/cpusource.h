/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: where each VM's CPU time comes from, behind one interface (issue 24).
 *
 * A source fills a VpProcessTimes per VM each tick: cumulative run time in slots, each with the
 * CPU it belongs to, so that vp_process_times_package_deltas splits two samples per package
 * whatever the source. The /proc back end (cpusource-proc.c) has one slot per thread. */
#pragma once

#include <glib.h>

#include "host/sense/cpustat.h"
#include "host/sense/taskstat.h"

typedef struct _VpCpuSource VpCpuSource;

/* The /proc back end: each thread's schedstat, held open and re-read with pread. On a root that
 * is not a procfs (fixture trees), it reads the files afresh each time instead. */
VpCpuSource *vp_cpu_source_proc_new (const char *proc_root, const VpTopology *topology);

void vp_cpu_source_free (VpCpuSource *source);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpCpuSource, vp_cpu_source_free)

/* "proc": what /api/v1/host and the logs call it. */
const char *vp_cpu_source_name (const VpCpuSource *source);

/* The run time of process pid so far. Fails with VP_ERROR_NOT_FOUND when the process is gone. */
gboolean vp_cpu_source_read (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error);

/* After a tick's reads: lets go of what is held for processes that were not read in this tick
 * (stopped VMs). */
void vp_cpu_source_end_tick (VpCpuSource *source);
