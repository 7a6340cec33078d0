/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: host CPU time per CPU and per package, from /proc/stat and sysfs topology. */
#pragma once

#include <glib.h>

/* Which package each CPU belongs to, read once from
 * <sysfs>/devices/system/cpu/cpuN/topology/physical_package_id. Packages are
 * numbered densely (0..n_packages) in the order of their physical ids. */
typedef struct {
  guint n_cpus;             /* highest CPU number + 1 */
  int *package_of_cpu;      /* dense package index per CPU, -1 if the CPU is absent */
  guint n_packages;
  int *physical_id;         /* physical package id per dense index */
  guint *cpus_in_package;   /* online CPUs per dense index */
} VpTopology;

VpTopology *vp_topology_load (const char *proc_root, const char *sysfs_root, GError **error);
void vp_topology_free (VpTopology *topology);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpTopology, vp_topology_free)

/* Dense package index for a physical package id, or -1. */
int vp_topology_package_index (const VpTopology *topology, int physical_id);

/* Cumulative CPU times of one CPU, in ns (converted from USER_HZ ticks). */
typedef struct {
  guint64 busy_ns;   /* user+nice+system+irq+softirq; guest time is inside user/nice already */
  guint64 total_ns;  /* busy + idle + iowait + steal */
} VpCpuTimes;

typedef struct {
  guint n_cpus;
  VpCpuTimes *cpu;   /* indexed by CPU number; absent CPUs are zero */
} VpCpuSample;

void vp_cpu_sample_clear (VpCpuSample *sample);

/* Reads <proc>/stat into sample (reusing its buffer). */
gboolean vp_cpu_sample_read (const char *proc_root, VpCpuSample *sample, GError **error);

/* Parses the text of /proc/stat; exposed for unit tests. */
gboolean vp_cpu_sample_parse (const char *text, VpCpuSample *sample, GError **error);

/* Busy and total time per dense package between two samples (arrays of
 * topology->n_packages). CPUs whose counters went backwards (hotplug) count 0. */
void vp_cpu_sample_package_deltas (const VpTopology *topology, const VpCpuSample *prev,
                                   const VpCpuSample *cur, guint64 *busy_ns, guint64 *total_ns);
