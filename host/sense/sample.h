/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: one sample of everything a tick measures; two of them make a tick. */
#pragma once

#include <glib.h>

#include "host/sense/cpustat.h"
#include "host/sense/taskstat.h"

typedef struct {
  gint64 mono_ns;            /* CLOCK_MONOTONIC: shared by all processes of one boot */
  VpCpuSample cpu;           /* cumulative per-CPU times */
  guint n_zones;
  guint64 *zone_raw;         /* raw sensor counters; a failed read keeps the previous value */
  GHashTable *processes;     /* uuid -> VpProcessTimes: QEMU's run time from the CPU-time source */
  GHashTable *libvirt_cpu_ns;/* uuid -> guint64*: libvirt cpu.time, for VMs without readable threads */
  /* With a per-CPU source (BPF), whose counters start again with each engine: a per-thread /proc
   * reading now and then, and the CPU time counted since it, which bridge a restart
   * (host/engine/vmcpu.c). */
  GHashTable *checkpoints;   /* uuid -> VpProcessTimes: threads, from /proc */
  GHashTable *since_ns;      /* uuid -> guint64*: counted since its checkpoint */
} VpSample;

static inline void
vp_sample_free (VpSample *sample)
{
  if (!sample)
    return;
  vp_cpu_sample_clear (&sample->cpu);
  g_free (sample->zone_raw);
  g_hash_table_unref (sample->processes);
  g_hash_table_unref (sample->libvirt_cpu_ns);
  g_hash_table_unref (sample->checkpoints);
  g_hash_table_unref (sample->since_ns);
  g_free (sample);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpSample, vp_sample_free)

static inline VpSample *
vp_sample_new (guint n_zones)
{
  VpSample *sample = g_new0 (VpSample, 1);
  sample->n_zones = n_zones;
  sample->zone_raw = g_new0 (guint64, n_zones);
  sample->processes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) vp_process_times_free);
  sample->libvirt_cpu_ns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sample->checkpoints = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) vp_process_times_free);
  sample->since_ns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return sample;
}
