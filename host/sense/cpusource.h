/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: where each VM's CPU time comes from, behind one interface (issue 24).
 *
 * A source fills a VpProcessTimes per VM each tick: cumulative run time in slots, each with the
 * CPU it belongs to, so that vp_process_times_package_deltas splits two samples per package
 * whatever the source. The /proc back end (cpusource-proc.c) has one slot per thread. */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/sense/cpustat.h"
#include "host/sense/taskstat.h"

typedef struct _VpCpuSource VpCpuSource;

/* The source kind asks for: bpf or proc; auto tries BPF and falls back to /proc with one log line
 * that says why. A refused bpf is an error. */
VpCpuSource *vp_cpu_source_open (VpCpuSourceKind kind, const char *proc_root, const VpTopology *topology,
                                 GError **error);

/* The /proc back end: each thread's schedstat, held open and re-read with pread. On a root that
 * is not a procfs (fixture trees), it reads the files afresh each time instead. */
VpCpuSource *vp_cpu_source_proc_new (const char *proc_root, const VpTopology *topology);

/* The BPF back end (cpusource-bpf.c, where configure built it): a sched_switch program counts
 * each listed process's run time per CPU; n_slots processes at most, the rest from /proc. */
VpCpuSource *vp_cpu_source_bpf_new (const char *proc_root, const VpTopology *topology, guint n_slots,
                                    GError **error);

void vp_cpu_source_free (VpCpuSource *source);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpCpuSource, vp_cpu_source_free)

/* "proc": what /api/v1/host and the logs call it. */
const char *vp_cpu_source_name (const VpCpuSource *source);

/* The run time of process pid so far. Fails with VP_ERROR_NOT_FOUND when the process is gone. */
gboolean vp_cpu_source_read (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error);

/* TRUE when the source's samples are per CPU (BPF): their counters start again with each engine,
 * so the engine bridges a restart with per-thread readings (vp_cpu_source_read_threads). */
gboolean vp_cpu_source_per_cpu (const VpCpuSource *source);

/* A per-thread /proc reading of pid, which a sample of another engine or source can be subtracted
 * from. For the /proc back end, the same as vp_cpu_source_read. */
gboolean vp_cpu_source_read_threads (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error);

/* After a tick's reads: lets go of what is held for processes that have not been read for a
 * while (stopped VMs). */
void vp_cpu_source_end_tick (VpCpuSource *source);
