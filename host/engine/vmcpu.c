/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: each VM's CPU time per package in a tick.
 *
 * Normally the difference of two samples from the CPU-time source (host/sense/cpusource.h).
 * A per-CPU source (BPF) counts from zero in each engine, so its samples cannot be subtracted
 * across a restart, the state file's from the new engine's; nor can a sample of one source from
 * one of another. What bridges such a gap is a per-thread /proc reading, a checkpoint, taken for
 * each VM every CHECKPOINT_EVERY ticks and saved with the state, with the CPU time counted since
 * it: the gap's CPU time is what /proc says ran since the checkpoint less what was counted
 * since. So a restart, an upgrade or a change of cpu-source charges the downtime to the VMs
 * that ran in it, as with /proc alone. (A thread that exited since the checkpoint takes its
 * share of /proc's difference with it: then the bridge counts less, never more.)
 *
 * A VM without a readable process (another host's PID namespace) is charged libvirt's cpu.time,
 * spread over the packages by their busy time. */
#include "config.h"

#include "host/engine/vmcpu.h"

/* How often each VM's checkpoint is refreshed with a per-CPU source: a tenth of the VMs a tick,
 * held files re-read with pread. */
#define CHECKPOINT_EVERY 10

struct _VpVmCpu {
  VpCpuSource *source;
  const VpTopology *topology;
  GHashTable *missing;        /* uuids of running VMs whose process is gone, to log that once */
  guint64 tick;
};

VpVmCpu *
vp_vm_cpu_new (VpCpuSource *source, const VpTopology *topology)
{
  VpVmCpu *vm_cpu = g_new0 (VpVmCpu, 1);
  vm_cpu->source = source;
  vm_cpu->topology = topology;
  vm_cpu->missing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return vm_cpu;
}

void
vp_vm_cpu_free (VpVmCpu *vm_cpu)
{
  if (!vm_cpu)
    return;
  g_hash_table_unref (vm_cpu->missing);
  g_free (vm_cpu);
}

void
vp_vm_cpu_forget (VpVmCpu *vm_cpu, const char *uuid)
{
  g_hash_table_remove (vm_cpu->missing, uuid);
}

static gboolean
same_counters (const VpProcessTimes *a, const VpProcessTimes *b)
{
  return a->pid == b->pid && a->start_ticks == b->start_ticks;
}

/* With a per-CPU source: a checkpoint now, for a VM whose sample cannot be subtracted from the
 * previous one (new, restarted engine, other source) and, staggered, for every VM now and then. */
static gboolean
checkpoint_due (const VpVmCpu *vm_cpu, const VpSample *prev, const char *uuid, const VpProcessTimes *now)
{
  const VpProcessTimes *before = prev ? g_hash_table_lookup (prev->processes, uuid) : NULL;
  return !before || !same_counters (before, now) || !g_hash_table_contains (prev->checkpoints, uuid) ||
         (vm_cpu->tick + g_str_hash (uuid)) % CHECKPOINT_EVERY == 0;
}

void
vp_vm_cpu_sample (VpVmCpu *vm_cpu, VpInventory *inventory, const GPtrArray *vms, const VpSample *prev,
                  VpSample *cur)
{
  g_autoptr (GPtrArray) need_libvirt = g_ptr_array_new ();
  gboolean per_cpu = vp_cpu_source_per_cpu (vm_cpu->source);

  for (guint i = 0; i < vms->len; i++)
    {
      const VpVmInfo *vm = vms->pdata[i];
      if (!vp_vm_info_is_running (vm))
        continue;
      /* Paused to leave, or arriving and not yet resumed: its QEMU's work
       * is the migration's (copying memory), the host's and not the
       * guest's. Charged again from its resume here. */
      if (vm->life.move == VP_MOVE_OUTGOING || vm->life.move == VP_MOVE_INCOMING)
        continue;
      if (vm->pid > 0)
        {
          g_autoptr (VpProcessTimes) times = vp_process_times_new ();
          g_autoptr (GError) error = NULL;
          if (vp_cpu_source_read (vm_cpu->source, vm->pid, times, &error))
            {
              if (g_hash_table_remove (vm_cpu->missing, vm->uuid))
                g_message ("VM %s: process %d is running again", vm->name, vm->pid);
              if (per_cpu && checkpoint_due (vm_cpu, prev, vm->uuid, times))
                {
                  g_autoptr (VpProcessTimes) threads = vp_process_times_new ();
                  if (vp_cpu_source_read_threads (vm_cpu->source, vm->pid, threads, NULL))
                    g_hash_table_replace (cur->checkpoints, g_strdup (vm->uuid), g_steal_pointer (&threads));
                }
              g_hash_table_replace (cur->processes, g_strdup (vm->uuid), g_steal_pointer (&times));
              continue;
            }
          /* Said once per disappearance: with libvirt this is usually a VM
           * that just stopped, and the next event will say so. */
          if (g_hash_table_add (vm_cpu->missing, g_strdup (vm->uuid)))
            g_message ("VM %s: %s; it gets no CPU time (hence no energy) while it is gone",
                       vm->name, error->message);
        }
      g_ptr_array_add (need_libvirt, vm->uuid);
    }
  vp_cpu_source_end_tick (vm_cpu->source);
  vm_cpu->tick++;
  if (need_libvirt->len == 0)
    return;

  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) times = vp_inventory_cpu_times (inventory, &error);
  if (error)
    g_debug ("fallback CPU times: %s", error->message);
  for (guint i = 0; times && i < need_libvirt->len; i++)
    {
      guint64 *ns = g_hash_table_lookup (times, need_libvirt->pdata[i]);
      if (ns)
        g_hash_table_replace (cur->libvirt_cpu_ns, g_strdup (need_libvirt->pdata[i]), g_memdup2 (ns, sizeof *ns));
    }
}

/* Spreads total over the packages in proportion to weights (their sum: weight_sum), the last
 * package taking what rounding left. */
static void
spread (guint64 total, const guint64 *weights, guint64 weight_sum, guint n_packages, guint64 *row)
{
  guint64 given = 0;
  for (guint p = 0; p < n_packages; p++)
    {
      row[p] = p + 1 == n_packages ? total - given
             : weight_sum ? (guint64) ((unsigned __int128) total * weights[p] / weight_sum)
             : total / n_packages;
      given += row[p];
    }
}

/* A gap the source's samples cannot span: the per-thread difference from the last checkpoint
 * (or from a /proc sample) to now, less what was counted since that checkpoint. */
static gboolean
bridge (const VpVmCpu *vm_cpu, const VpSample *prev, const VpSample *cur, const char *uuid, guint64 *row)
{
  const VpProcessTimes *then = g_hash_table_lookup (prev->checkpoints, uuid);
  guint64 since = 0;
  if (then)
    {
      const guint64 *counted = g_hash_table_lookup (prev->since_ns, uuid);
      since = counted ? *counted : 0;
    }
  else if (!(then = g_hash_table_lookup (prev->processes, uuid)) || vp_process_times_per_cpu (then))
    return FALSE;
  const VpProcessTimes *now = g_hash_table_lookup (cur->checkpoints, uuid);
  if (!now && (!(now = g_hash_table_lookup (cur->processes, uuid)) || vp_process_times_per_cpu (now)))
    return FALSE;

  guint n_packages = vm_cpu->topology->n_packages;
  g_autofree guint64 *ran = g_new0 (guint64, n_packages);
  if (!vp_process_times_package_deltas (then, now, vm_cpu->topology->package_of_cpu, vm_cpu->topology->n_cpus, ran))
    return FALSE;
  guint64 ran_total = 0;
  for (guint p = 0; p < n_packages; p++)
    ran_total += ran[p];
  spread (ran_total > since ? ran_total - since : 0, ran, ran_total, n_packages, row);
  return TRUE;
}

/* Keeps a VM's checkpoint in cur: the one taken this tick, or prev's with this tick's time added
 * to what was counted since it. */
static void
carry_checkpoint (VpSample *prev, VpSample *cur, const char *uuid, const guint64 *row, guint n_packages)
{
  guint64 counted = 0;
  if (!g_hash_table_contains (cur->checkpoints, uuid))
    {
      gpointer key, value;
      if (!g_hash_table_steal_extended (prev->checkpoints, uuid, &key, &value))
        return;
      g_hash_table_replace (cur->checkpoints, key, value);
      const guint64 *before = g_hash_table_lookup (prev->since_ns, uuid);
      counted = before ? *before : 0;
      for (guint p = 0; p < n_packages; p++)
        counted += row[p];
    }
  g_hash_table_replace (cur->since_ns, g_strdup (uuid), g_memdup2 (&counted, sizeof counted));
}

void
vp_vm_cpu_deltas (VpVmCpu *vm_cpu, const GPtrArray *vms, VpSample *prev, VpSample *cur,
                  const guint64 *package_busy_ns, guint64 *vm_ns)
{
  guint n_packages = vm_cpu->topology->n_packages;
  guint64 busy_sum = 0;
  for (guint p = 0; p < n_packages; p++)
    busy_sum += package_busy_ns[p];

  for (guint i = 0; i < vms->len; i++)
    {
      const VpVmInfo *vm = vms->pdata[i];
      guint64 *row = &vm_ns[(gsize) i * n_packages];
      const VpProcessTimes *before = g_hash_table_lookup (prev->processes, vm->uuid);
      const VpProcessTimes *after = g_hash_table_lookup (cur->processes, vm->uuid);
      gboolean counted = before && after &&
                         vp_process_times_package_deltas (before, after, vm_cpu->topology->package_of_cpu,
                                                          vm_cpu->topology->n_cpus, row);
      if (!counted && after)
        counted = bridge (vm_cpu, prev, cur, vm->uuid, row);
      if (after && vp_process_times_per_cpu (after))
        carry_checkpoint (prev, cur, vm->uuid, row, n_packages);
      if (counted)
        continue;

      const guint64 *total_before = g_hash_table_lookup (prev->libvirt_cpu_ns, vm->uuid);
      const guint64 *total_after = g_hash_table_lookup (cur->libvirt_cpu_ns, vm->uuid);
      if (total_before && total_after && *total_after > *total_before)
        spread (*total_after - *total_before, package_busy_ns, busy_sum, n_packages, row);
    }
}
