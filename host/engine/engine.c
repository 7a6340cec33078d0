/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the engine: one tick samples, attributes, counts, publishes and saves.
 *
 * A tick (vp_engine_tick) is:
 *   1. sample: /proc/stat, every sensor zone, every running VM's QEMU threads;
 *   2. deltas against the previous sample: per package, host busy time and
 *      each VM's CPU time; per zone, energy (wrap-aware);
 *   3. attribution per zone (attrib.c) into the ledger's counters;
 *   4. publish an immutable snapshot, then save the state.
 * The previous sample may come from the state file: then the first tick
 * attributes the energy spent while the daemon was down. */
#include "config.h"

#include "host/engine/engine.h"
#include "host/engine/view.h"
#include "host/engine/vmcpu.h"
#include "host/attribution/attrib.h"
#include "host/attribution/platform-split.h"
#include "host/sense/cpusource.h"
#include "host/sense/cpustat.h"
#include "host/inventory/inventory.h"
#include "host/wiring/autowire.h"
#include "host/counters/ledger.h"
#include "host/sense/sample.h"
#include "host/sense/sensor.h"
#include "host/sense/platform.h"
#include "host/sense/with-platform.h"
#include "host/counters/state.h"
#include "host/channel/channel.h"
#include "shared/vp-counter.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <time.h>


struct _VpEngine {
  VpPolicy policy;
  double interval_s;
  double save_interval_s;
  gint64 departed_retention_us;
  guint64 quantum_uj;         /* published VM energy moves in multiples of this (1: every µJ) */
  VpTopologyMode topology_mode;
  char *proc_root;
  VpStateStore *state;
  char *boot_id;
  gboolean persist;

  VpTopology *topology;
  VpCpuSource *cpu_source;
  VpVmCpu *vm_cpu;
  VpSensor *sensor;
  VpPlatformChoice platform;  /* the sensor's platform zone, if any (with-platform.h) */
  VpPlatformSplit platform_split;
  guint64 platform_raised_uj; /* what the platform zone was raised by to RAPL's zones in it */
  VpInventory *inventory;
  VpChannels *channels;
  VpAutowire *autowire;       /* the channel into libvirt's running VMs (NULL for --once) */
  const char *wire_mode;
  VpLedger *ledger;
  VpSample *prev;
  GArray *view;               /* VpViewZone */

  /* Per-tick scratch, sized once. */
  gboolean *zone_ok;
  guint64 *package_busy_ns;
  guint64 *package_total_ns;

  /* Counters for the self-metrics. */
  gint64 started_us;          /* wall clock at start: a crash loop shows as its changes */
  guint64 ticks;
  guint64 sensor_errors;
  guint64 state_save_errors;
  double tick_duration_s;
  double tick_duration_total_s;
  gint64 last_durable_save_us;
  /* The last error of each source, so a persistent one is logged once. */
  char *last_cpu_error;
  char *last_sensor_error;
  char *last_save_error;

  GMutex lock;
  VpSnapshot *published;
};

void
vp_engine_free (VpEngine *engine)
{
  if (!engine)
    return;
  vp_channels_free (engine->channels);
  vp_autowire_free (engine->autowire);
  vp_inventory_free (engine->inventory);
  vp_sensor_free (engine->sensor);
  vp_platform_choice_clear (&engine->platform);
  vp_vm_cpu_free (engine->vm_cpu);
  vp_cpu_source_free (engine->cpu_source);
  vp_topology_free (engine->topology);
  vp_ledger_free (engine->ledger);
  vp_sample_free (engine->prev);
  if (engine->view)
    g_array_unref (engine->view);
  g_free (engine->zone_ok);
  g_free (engine->package_busy_ns);
  g_free (engine->package_total_ns);
  g_free (engine->proc_root);
  vp_state_store_free (engine->state);
  g_free (engine->boot_id);
  g_free (engine->last_cpu_error);
  g_free (engine->last_sensor_error);
  g_free (engine->last_save_error);
  vp_snapshot_unref (engine->published);
  g_mutex_clear (&engine->lock);
  g_free (engine);
}

static void publish (VpEngine *engine, const GPtrArray *listed, const GPtrArray *vms, VpVmLedger **vm_ledgers,
                     double interval_s, gint64 tick_started_us);

VpEngine *
vp_engine_new (const VpConfig *config, gboolean persist, guint64 origin_key, GError **error)
{
  g_autoptr (VpEngine) engine = g_new0 (VpEngine, 1);
  g_mutex_init (&engine->lock);
  engine->policy = config->policy;
  engine->interval_s = config->interval_s;
  engine->save_interval_s = config->save_interval_s;
  engine->departed_retention_us = (gint64) (config->departed_retention_days * 86400 * G_USEC_PER_SEC);
  engine->quantum_uj = MAX (config->quantum_uj, 1);
  engine->topology_mode = config->topology;
  engine->proc_root = g_strdup (config->proc_root);
  engine->persist = persist;
  engine->boot_id = vp_state_read_boot_id (config->proc_root);
  engine->started_us = g_get_real_time ();

  engine->topology = vp_topology_load (config->proc_root, config->sysfs_root, error);
  if (!engine->topology)
    return NULL;
  engine->cpu_source = vp_cpu_source_open (config->cpu_source, config->proc_root, engine->topology, error);
  if (!engine->cpu_source)
    return NULL;
  engine->vm_cpu = vp_vm_cpu_new (engine->cpu_source, engine->topology);
  engine->platform.zone = -1;
  VpSensor *rapl = vp_sensor_open (config, engine->topology, error);
  engine->sensor = rapl ? vp_sensor_with_platform (rapl, config, &engine->platform, error) : NULL;
  if (!engine->sensor)
    return NULL;
  engine->platform_split = config->platform_split;

  guint n_zones = vp_sensor_n_zones (engine->sensor);
  g_autofree const char **keys = g_new0 (const char *, n_zones + 1);
  for (guint z = 0; z < n_zones; z++)
    {
      const VpZone *zone = vp_sensor_zone (engine->sensor, z);
      keys[z] = zone->key;
      g_info ("zone intel-rapl:%s %s, range %" G_GUINT64_FORMAT " uJ, %s", zone->key, zone->name,
              zone->max_energy_range_uj, zone->package >= 0 ? "per package" : "whole platform");
    }
  engine->ledger = vp_ledger_new (n_zones, keys);
  engine->ledger->origin_key = origin_key ? origin_key : vp_counter_origin_key_new ();
  engine->view = vp_view_build (engine->sensor, config->topology);
  engine->zone_ok = g_new0 (gboolean, n_zones);
  engine->package_busy_ns = g_new0 (guint64, engine->topology->n_packages);
  engine->package_total_ns = g_new0 (guint64, engine->topology->n_packages);

  if (persist)
    {
      if (g_mkdir_with_parents (config->state_dir, 0700) != 0)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot create state directory %s: %s",
                       config->state_dir, g_strerror (errno));
          return NULL;
        }
      g_autofree char *path = g_build_filename (config->state_dir, "counters.state", NULL);
      engine->state = vp_state_store_new (path);
      if (!vp_state_store_load (engine->state, engine->ledger, engine->boot_id, &engine->prev, error))
        return NULL;
      /* A meter's counter starts again with vpowerd (RAPL's is the hardware's): what the platform
       * drew while vpowerd was down is not known. Its first tick counts from now; the downtime's
       * RAPL energy raises it. */
      if (engine->prev && engine->platform.meter)
        {
          guint z = (guint) engine->platform.zone;
          vp_sensor_read_zone (engine->sensor, z, NULL, &engine->prev->zone_raw[z], NULL);
        }
    }

  engine->inventory = vp_inventory_open (config, error);
  if (!engine->inventory)
    return NULL;
  /* Only an engine whose counters persist talks to guests: --once counts
   * from zero, and its values must never reach a guest (QEMU would hand
   * the channel to it once the daemon's connection closed). */
  engine->channels = persist ? vp_channels_new (config->host_id, error) : NULL;
  if (persist && !engine->channels)
    return NULL;
  /* --once is a diagnostic: it changes no VM. */
  engine->autowire = persist ? vp_autowire_new (config) : NULL;
  engine->wire_mode = persist ? vp_wire_mode_to_string (config->wire) : "off";

  /* Publish the restored counters at once, so readers never see less than
   * what was published before a restart. */
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  publish (engine, none, none, NULL, 0, 0);
  return g_steal_pointer (&engine);
}

static gint64
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Logs an error the first time it is seen, and when it clears, instead of
 * once per tick. */
static void
note_error (char **last, const char *what, const GError *error)
{
  if (error && g_strcmp0 (*last, error->message) != 0)
    {
      g_warning ("%s: %s (retrying every tick)", what, error->message);
      g_free (*last);
      *last = g_strdup (error->message);
    }
  else if (!error && *last)
    {
      g_message ("%s: working again", what);
      g_clear_pointer (last, g_free);
    }
}

/* Books one zone's split of one tick into the ledger. */
static void
book (VpEngine *engine, VpVmLedger **vm_ledgers, guint n_vms, guint z, const VpSplitItem *items, guint64 energy_uj)
{
  VpLedger *ledger = engine->ledger;
  for (guint i = 0; i < n_vms; i++)
    vp_counter_add (&vm_ledgers[i]->zones[z], items[i].share, items[i].carry);
  vp_counter_add (&ledger->host[z], items[VP_ATTRIB_HOST (n_vms)].share, items[VP_ATTRIB_HOST (n_vms)].carry);
  vp_counter_add (&ledger->unattributed[z], items[VP_ATTRIB_UNATTRIBUTED (n_vms)].share,
                  items[VP_ATTRIB_UNATTRIBUTED (n_vms)].carry);
  ledger->accounted_uj[z] += energy_uj;
  ledger->last_delta_uj[z] = energy_uj;
  g_debug ("tick: zone %s %" G_GUINT64_FORMAT " uJ, %u VMs, host %" G_GUINT64_FORMAT " uJ, unattributed %"
           G_GUINT64_FORMAT " uJ", vp_sensor_zone (engine->sensor, z)->name, energy_uj, n_vms,
           items[VP_ATTRIB_HOST (n_vms)].share, items[VP_ATTRIB_UNATTRIBUTED (n_vms)].share);
}

/* The platform's zone, after the zones it contains: each VM's share of those, plus its share of
 * the rest of the machine by the platform-split policy (platform-split.h). */
static void
split_platform (VpEngine *engine, const GPtrArray *vms, VpVmLedger **vm_ledgers, const guint64 *vm_ns,
                const VpSample *prev, const VpSample *cur, const guint64 *contained, guint64 contained_uj,
                VpSplitItem *items)
{
  guint z = (guint) engine->platform.zone, n_vms = vms->len, n_packages = engine->topology->n_packages;
  const VpZone *zone = vp_sensor_zone (engine->sensor, z);
  VpPlatformTick tick = {
    .platform_uj = vp_counter_delta (prev->zone_raw[z], cur->zone_raw[z], zone->max_energy_range_uj),
    .contained_uj = contained_uj,
    .host_cpus = engine->topology->n_cpus,
  };
  for (guint p = 0; p < n_packages; p++)
    tick.host_busy_ns += engine->package_busy_ns[p];
  for (guint i = 0; i < n_vms; i++)
    {
      const VpVmInfo *vm = vms->pdata[i];
      guint64 cpu_ns = 0;
      for (guint p = 0; p < n_packages; p++)
        cpu_ns += vm_ns[(gsize) i * n_packages + p];
      /* A VM whose vCPUs are not known counts as one. */
      items[i].weight = engine->platform_split == VP_PLATFORM_SPLIT_VCPUS      ? MAX (vm->vcpus, 1)
                        : engine->platform_split == VP_PLATFORM_SPLIT_CPU_TIME ? cpu_ns
                                                                               : (guint64) vp_vm_info_is_running (vm);
      items[i].carry = vm_ledgers[i]->zones[z].carry;
    }
  items[VP_ATTRIB_HOST (n_vms)].carry = engine->ledger->host[z].carry;
  items[VP_ATTRIB_UNATTRIBUTED (n_vms)].carry = engine->ledger->unattributed[z].carry;
  guint64 raised_uj;
  guint64 counted = vp_platform_split (engine->platform_split, &tick, contained, items, n_vms, &raised_uj);
  engine->platform_raised_uj += raised_uj;
  book (engine, vm_ledgers, n_vms, z, items, counted);
}

static void
attribute (VpEngine *engine, const GPtrArray *vms, VpVmLedger **vm_ledgers, VpSample *prev,
           VpSample *cur, gint64 interval_ns)
{
  VpTopology *topology = engine->topology;
  guint n_packages = topology->n_packages;
  guint n_vms = vms->len;
  VpLedger *ledger = engine->ledger;

  vp_cpu_sample_package_deltas (topology, &prev->cpu, &cur->cpu, engine->package_busy_ns,
                                engine->package_total_ns);
  g_autofree guint64 *vm_ns = g_new0 (guint64, (gsize) MAX (n_vms, 1) * n_packages);
  vp_vm_cpu_deltas (engine->vm_cpu, vms, prev, cur, engine->package_busy_ns, vm_ns);

  for (guint i = 0; i < n_vms; i++)
    {
      vm_ledgers[i]->last_cpu_ns = 0;
      for (guint p = 0; p < n_packages; p++)
        vm_ledgers[i]->last_cpu_ns += vm_ns[(gsize) i * n_packages + p];
      vm_ledgers[i]->cpu_ns_total += vm_ledgers[i]->last_cpu_ns;
    }

  g_autofree VpSplitItem *items = g_new0 (VpSplitItem, VP_ATTRIB_N_ITEMS (n_vms));
  /* What each consumer got of the zones the platform's contains (packages, DRAM), for its split. */
  g_autofree guint64 *contained = g_new0 (guint64, VP_ATTRIB_N_ITEMS (n_vms));
  guint64 contained_uj = 0;
  for (guint z = 0; z < ledger->n_zones; z++)
    {
      const VpZone *zone = vp_sensor_zone (engine->sensor, z);
      if (zone->platform)
        continue;
      VpAttribZone input = {
        .energy_uj = vp_counter_delta (prev->zone_raw[z], cur->zone_raw[z], zone->max_energy_range_uj),
      };
      guint cpus = 0;
      for (guint p = 0; p < n_packages; p++)
        if (zone->package < 0 || (guint) zone->package == p)
          {
            input.host_busy_ns += engine->package_busy_ns[p];
            cpus += topology->cpus_in_package[p];
          }
      input.capacity_ns = (guint64) cpus * (guint64) interval_ns;

      for (guint i = 0; i < n_vms; i++)
        {
          items[i].weight = 0;
          for (guint p = 0; p < n_packages; p++)
            if (zone->package < 0 || (guint) zone->package == p)
              items[i].weight += vm_ns[(gsize) i * n_packages + p];
          items[i].carry = vm_ledgers[i]->zones[z].carry;
        }
      items[VP_ATTRIB_HOST (n_vms)].carry = ledger->host[z].carry;
      items[VP_ATTRIB_UNATTRIBUTED (n_vms)].carry = ledger->unattributed[z].carry;

      vp_attrib_split (engine->policy, &input, items, n_vms);
      book (engine, vm_ledgers, n_vms, z, items, input.energy_uj);
      if (vp_zone_in_platform (zone))
        {
          for (guint i = 0; i < VP_ATTRIB_N_ITEMS (n_vms); i++)
            contained[i] += items[i].share;
          contained_uj += input.energy_uj;
        }
    }
  if (engine->platform.zone >= 0)
    split_platform (engine, vms, vm_ledgers, vm_ns, prev, cur, contained, contained_uj, items);
}

/* Forgets the counters of VMs the inventory no longer has, but only when it
 * is known to be complete: while libvirt is down we keep everything. A VM
 * that migrated away is kept whether listed or not, for departed-retention. */
static void
forget_removed_vms (VpEngine *engine, const GPtrArray *listed, const GPtrArray *here, gboolean complete)
{
  /* Every present VM has a row: equal sizes mean there is no other row. */
  if (g_hash_table_size (engine->ledger->vms) == here->len)
    return;
  gint64 now_us = g_get_real_time ();
  g_autoptr (GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < listed->len; i++)
    g_hash_table_add (present, ((VpVmInfo *) listed->pdata[i])->uuid);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, engine->ledger->vms);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      VpVmLedger *row = value;
      if (row->departed_us)
        {
          if (now_us - row->departed_us < engine->departed_retention_us)
            continue;
          g_message ("VM %s (%s) left %.1f days ago and has not come back; forgetting its counters "
                     "(departed-retention)", row->name, row->uuid, (now_us - row->departed_us) / 86400e6);
        }
      else if (!complete || g_hash_table_contains (present, key))
        continue;
      else
        g_message ("VM %s (%s) is gone; dropping its counters", row->name, (char *) key);
      vp_vm_cpu_forget (engine->vm_cpu, key);
      g_hash_table_iter_remove (&iter);
    }
}

/* Splits the inventory's list: VMs that left for another host (their rows,
 * if any, are marked departed and kept unpublished) and those here, which
 * the tick counts and publishes. Returns the latter (a new reference). */
static GPtrArray *
present_vms (VpEngine *engine, GPtrArray *listed)
{
  GPtrArray *here = NULL;
  for (guint i = 0; i < listed->len; i++)
    {
      const VpVmInfo *vm = listed->pdata[i];
      if (vm->life.move != VP_MOVE_DEPARTED)
        {
          if (here)
            g_ptr_array_add (here, (gpointer) vm);
          continue;
        }
      if (!here)
        {
          here = g_ptr_array_sized_new (listed->len);
          for (guint j = 0; j < i; j++)
            g_ptr_array_add (here, listed->pdata[j]);
        }
      VpVmLedger *row = vp_ledger_lookup_vm (engine->ledger, vm->uuid);
      if (row && !row->departed_us)
        {
          row->departed_us = vm->life.departed_us ? vm->life.departed_us : g_get_real_time ();
          row->migrations_out++;
          g_message ("VM %s (%s) left for another host; its counters are kept for its return "
                     "(%s: %.6f J so far here)", row->name, row->uuid, vp_sensor_zone (engine->sensor, 0)->name,
                     row->zones[0].total_uj / 1e6);
        }
    }
  return here ? here : g_ptr_array_ref (listed);
}

/* A VM here: its row, created at zero when new; a VM that comes back
 * continues its counters; an arrival by migration is counted once, at its
 * resume. A VM that left stays departed while it is only arriving again:
 * if that migration fails, libvirt forgets it, and its row must stay. */
static VpVmLedger *
row_of_present_vm (VpEngine *engine, const VpVmInfo *vm)
{
  VpVmLedger *row = vp_ledger_vm (engine->ledger, vm->uuid, vm->name);
  if (G_UNLIKELY (row->departed_us) && vm->life.move != VP_MOVE_INCOMING)
    {
      g_message ("VM %s (%s) is back after %.1f s away; its counters continue (%s: %.6f J)", vm->name,
                 vm->uuid, (g_get_real_time () - row->departed_us) / 1e6, vp_sensor_zone (engine->sensor, 0)->name,
                 row->zones[0].total_uj / 1e6);
      row->departed_us = 0;
    }
  if (G_UNLIKELY (vm->life.arrival == VP_ARRIVAL_MIGRATED && vm->life.arrived_us > row->arrived_us))
    {
      row->arrived_us = vm->life.arrived_us;
      row->migrations_in++;
    }
  return row;
}

static void
fill_zone (VpZoneSnapshot *out, const char *name, const char *index, guint64 max_uj, guint64 total_uj,
           guint64 shown_uj, guint64 last_uj, double interval_s, gboolean estimated)
{
  out->name = name;
  out->index = index;
  out->max_energy_range_uj = max_uj;
  out->total_uj = total_uj;
  out->energy_uj = shown_uj;
  out->power_w = interval_s > 0 ? last_uj / 1e6 / interval_s : 0;
  out->estimated = estimated;
}

static gint
compare_vm_name (gconstpointer a, gconstpointer b)
{
  const VpVmSnapshot *x = *(VpVmSnapshot *const *) a, *y = *(VpVmSnapshot *const *) b;
  int by_name = g_strcmp0 (x->name, y->name);
  return by_name ? by_name : g_strcmp0 (x->uuid, y->uuid);
}

/* Fills vm (and its zones, already pointing into the snapshot's storage)
 * from its ledger row. Strings are borrowed: the caller keeps them alive. */
static void
fill_vm_snapshot (VpEngine *engine, VpVmSnapshot *vm, const VpVmLedger *ledger_vm, const char *name,
                  const char *state, int pid, double interval_s, guint64 busy_ns)
{
  gboolean estimated = vp_sensor_estimated (engine->sensor);
  vm->name = name;
  vm->uuid = ledger_vm->uuid;
  vm->state = state;
  vm->pid = pid;
  vm->cpu_ns_total = ledger_vm->cpu_ns_total;
  vm->epoch = ledger_vm->epoch;
  vm->migrations_in = ledger_vm->migrations_in;
  vm->migrations_out = ledger_vm->migrations_out;
  vm->arrived_us = ledger_vm->arrived_us;
  vm->arrival = "unknown";
  vm->move = "none";
  vm->cpu_share = busy_ns ? MIN (1.0, (double) ledger_vm->last_cpu_ns / busy_ns) : 0;
  vm->n_zones = engine->view->len;
  for (guint v = 0; v < engine->view->len; v++)
    {
      const VpViewZone *view = &g_array_index (engine->view, VpViewZone, v);
      guint64 total = 0, last = 0;
      for (guint k = 0; k < view->host_zones->len; k++)
        {
          guint z = g_array_index (view->host_zones, guint, k);
          total += ledger_vm->zones[z].total_uj;
          last += ledger_vm->zones[z].last_uj;
        }
      /* The quantum (side channels): what is published moves in whole
       * quanta; the ledger keeps every µJ, so the remainder shows once it
       * makes a quantum, and nothing is lost. The last tick's energy is the
       * published total's step, so power is quantised the same way. */
      guint64 before = total - last;
      total -= total % engine->quantum_uj;
      last = total - (before - before % engine->quantum_uj);
      guint64 shown = vp_counter_show_vm (total, ledger_vm->origin_seed, view->origin_salt,
                                          view->max_energy_range_uj);
      fill_zone (&vm->zones[v], view->name, view->index, view->max_energy_range_uj, total, shown, last,
                 interval_s, estimated && !view->platform);
    }
}

static void
publish (VpEngine *engine, const GPtrArray *listed, const GPtrArray *vms, VpVmLedger **vm_ledgers,
         double interval_s, gint64 tick_started_us)
{
  VpSnapshot *snapshot = vp_snapshot_new ();
  VpLedger *ledger = engine->ledger;
  gboolean estimated = vp_sensor_estimated (engine->sensor);
  guint64 busy_ns = 0;

  for (guint p = 0; p < engine->topology->n_packages; p++)
    busy_ns += engine->package_busy_ns[p];
  snapshot->ticks = engine->ticks;
  snapshot->started_us = engine->started_us;
  snapshot->mono_us = g_get_monotonic_time ();
  snapshot->real_us = g_get_real_time ();
  snapshot->interval_s = engine->interval_s;
  snapshot->last_interval_s = interval_s;
  snapshot->sensor = g_strdup (vp_sensor_name (engine->sensor));
  snapshot->cpu_source = vp_cpu_source_name (engine->cpu_source);
  snapshot->estimated = estimated;
  snapshot->policy = g_strdup (vp_policy_to_string (engine->policy));
  snapshot->topology = g_strdup (vp_topology_to_string (engine->topology_mode));
  snapshot->inventory = g_strdup (vp_inventory_kind (engine->inventory));
  snapshot->wire_mode = engine->wire_mode;
  snapshot->libvirt_connected = vp_inventory_connected (engine->inventory);
  snapshot->sensor_errors = engine->sensor_errors;
  snapshot->state_save_errors = engine->state_save_errors;
  snapshot->platform_zone = engine->platform.zone;
  if (engine->platform.zone >= 0)
    {
      snapshot->platform_source = engine->platform.source;
      snapshot->platform_description = engine->platform.description;
      snapshot->platform_split = vp_platform_split_to_string (engine->platform_split);
      snapshot->platform_raised_uj = engine->platform_raised_uj;
      if (engine->platform.meter)
        snapshot->platform_stale = vp_platform_stale (engine->platform.meter, &snapshot->platform_watts);
      else
        snapshot->platform_watts = interval_s > 0 ? engine->ledger->last_delta_uj[engine->platform.zone] / 1e6 / interval_s : 0;
    }

  for (guint z = 0; z < ledger->n_zones; z++)
    {
      const VpZone *zone = vp_sensor_zone (engine->sensor, z);
      g_array_set_size (snapshot->zones, z + 1);
      VpZoneSnapshot *out = &g_array_index (snapshot->zones, VpZoneSnapshot, z);
      /* The host's energy_uj is the sensor's own reading, like sysfs. */
      guint64 raw = engine->prev ? vp_counter_publish (engine->prev->zone_raw[z], zone->max_energy_range_uj) : 0;
      fill_zone (out, zone->name, zone->key, zone->max_energy_range_uj, ledger->accounted_uj[z], raw,
                 ledger->last_delta_uj[z], interval_s, estimated && !zone->platform);
      out->host_processes_uj = ledger->host[z].total_uj;
      out->unattributed_uj = ledger->unattributed[z].total_uj;
      guint64 zone_busy = 0, zone_total = 0;
      for (guint p = 0; p < engine->topology->n_packages; p++)
        if (zone->package < 0 || (guint) zone->package == p)
          {
            zone_busy += engine->package_busy_ns[p];
            zone_total += engine->package_total_ns[p];
          }
      out->busy_ratio = zone_total ? MIN (1.0, (double) zone_busy / zone_total) : 0;
    }

  /* VMs only the state file knows (libvirt not answering yet) are served
   * too; VMs that left are not, but their energy is shown on the host's
   * zones so that its books still add up. Every present VM has a row, so
   * equal sizes mean there are neither. */
  g_autoptr (GPtrArray) unlisted = g_ptr_array_new ();
  if (g_hash_table_size (ledger->vms) != vms->len)
    {
      g_autoptr (GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < vms->len; i++)
        g_hash_table_add (present, vm_ledgers[i]->uuid);
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, ledger->vms);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          VpVmLedger *row = value;
          if (g_hash_table_contains (present, row->uuid))
            continue;
          if (!row->departed_us)
            {
              g_ptr_array_add (unlisted, row);
              continue;
            }
          snapshot->vms_departed++;
          for (guint z = 0; z < ledger->n_zones; z++)
            g_array_index (snapshot->zones, VpZoneSnapshot, z).departed_vms_uj += row->zones[z].total_uj;
        }
    }

  guint n_vms = vms->len + unlisted->len, n_view = engine->view->len;
  for (guint v = 0; v < n_view; v++)
    {
      const VpViewZone *view = &g_array_index (engine->view, VpViewZone, v);
      VpZoneSnapshot layout = {
        .name = view->name, .index = view->index, .max_energy_range_uj = view->max_energy_range_uj,
        .estimated = estimated && !view->platform,
      };
      g_array_append_val (snapshot->vm_layout, layout);
    }
  snapshot->vm_storage = g_new0 (VpVmSnapshot, MAX (n_vms, 1));
  snapshot->zone_storage = g_new0 (VpZoneSnapshot, MAX (n_vms * n_view, 1));
  /* Listed VMs' strings live in the inventory's immutable list; unlisted
   * ones' in copies. The snapshot holds both. */
  g_ptr_array_add (snapshot->keepalive, g_ptr_array_ref ((GPtrArray *) listed));
  if (engine->autowire)
    {
      g_ptr_array_add (snapshot->keepalive, vp_autowire_statuses (engine->autowire));
      vp_autowire_counts (engine->autowire, &snapshot->wiring);
    }
  GPtrArray *copies = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (snapshot->keepalive, copies);
  for (guint i = 0; i < n_vms; i++)
    {
      VpVmSnapshot *vm = &snapshot->vm_storage[i];
      vm->zones = &snapshot->zone_storage[(gsize) i * n_view];
      if (i < vms->len)
        {
          const VpVmInfo *info = vms->pdata[i];
          fill_vm_snapshot (engine, vm, vm_ledgers[i], info->name, info->state, info->pid, interval_s, busy_ns);
          vm->uid = info->uid;
          vm->gid = info->gid;
          vm->owner_known = TRUE;
          vm->has_channel = info->has_channel;
          vm->has_9p = info->has_9p;
          vm->has_virtiofs = info->has_virtiofs;
          vm->arrival = vp_arrival_to_string (info->life.arrival);
          vm->move = vp_move_to_string (info->life.move);
          vm->labels = (const char *const *) info->labels;
          vm->wiring = engine->autowire ? vp_autowire_status (engine->autowire, info->uuid) : NULL;
        }
      else
        {
          VpVmLedger *row = unlisted->pdata[i - vms->len];
          char *uuid = g_strdup (row->uuid), *name = g_strdup (row->name);
          g_ptr_array_add (copies, uuid);
          g_ptr_array_add (copies, name);
          fill_vm_snapshot (engine, vm, row, name, "unknown", 0, interval_s, busy_ns);
          vm->uuid = uuid;   /* the row may be forgotten while the snapshot lives */
        }
      g_ptr_array_add (snapshot->vms, vm);
    }
  /* Before the snapshot is shared: sending sets each VM's channel state. */
  VpChannelStats channel_stats = { 0 };
  if (engine->channels)
    {
      vp_channels_send (engine->channels, snapshot, vms, snapshot->vm_storage, vm_ledgers);
      vp_channels_stats (engine->channels, &channel_stats);
      snapshot->host_id = g_strdup (vp_channels_host_id (engine->channels));
    }
  snapshot->channel_sent = channel_stats.sent;
  snapshot->channel_dropped = channel_stats.dropped;
  snapshot->channel_connects = channel_stats.connects;
  snapshot->channel_discarded_bytes = channel_stats.discarded_bytes;
  snapshot->channels_connected = channel_stats.connected;
  /* The tick's duration covers all its work, the channels' sends included. */
  if (tick_started_us)
    {
      engine->tick_duration_s = (g_get_monotonic_time () - tick_started_us) / 1e6;
      engine->tick_duration_total_s += engine->tick_duration_s;
    }
  snapshot->tick_duration_s = engine->tick_duration_s;
  snapshot->tick_duration_total_s = engine->tick_duration_total_s;
  g_ptr_array_sort (snapshot->vms, compare_vm_name);

  g_mutex_lock (&engine->lock);
  VpSnapshot *old = engine->published;
  engine->published = snapshot;
  g_mutex_unlock (&engine->lock);
  vp_snapshot_unref (old);
}

gboolean
vp_engine_wait_inventory (VpEngine *engine, guint timeout_ms)
{
  return vp_inventory_wait_ready (engine->inventory, timeout_ms);
}

VpSnapshot *
vp_engine_snapshot (VpEngine *engine)
{
  g_mutex_lock (&engine->lock);
  VpSnapshot *snapshot = vp_snapshot_ref (engine->published);
  g_mutex_unlock (&engine->lock);
  return snapshot;
}

gboolean
vp_engine_save (VpEngine *engine, gboolean durable, GError **error)
{
  if (!engine->persist)
    return TRUE;
  if (!vp_state_store_save (engine->state, engine->ledger, engine->prev, engine->boot_id, durable, error))
    {
      engine->state_save_errors++;
      return FALSE;
    }
  if (durable)
    engine->last_durable_save_us = g_get_monotonic_time ();
  return TRUE;
}

void
vp_engine_tick (VpEngine *engine)
{
  gint64 started_us = g_get_monotonic_time ();
  guint n_zones = engine->ledger->n_zones;
  g_autoptr (VpSample) cur = vp_sample_new (n_zones);
  g_autoptr (GError) error = NULL;

  cur->mono_ns = monotonic_ns ();
  if (!vp_cpu_sample_read (engine->proc_root, &cur->cpu, &error))
    {
      engine->sensor_errors++;
      note_error (&engine->last_cpu_error, "cpu accounting", error);
      return;
    }
  /* A zone that fails to read keeps its last value: its energy is then
   * counted at the next good read, not lost. */
  if (engine->prev)
    memcpy (cur->zone_raw, engine->prev->zone_raw, n_zones * sizeof *cur->zone_raw);
  note_error (&engine->last_cpu_error, "cpu accounting", NULL);
  guint failures = vp_sensor_read (engine->sensor, &cur->cpu, cur->zone_raw, engine->zone_ok, &error);
  engine->sensor_errors += failures;
  note_error (&engine->last_sensor_error, "sensor", error);
  if (!engine->prev && failures)
    {
      /* No earlier value to keep for the failed zones: start over next tick. */
      return;
    }

  gboolean complete = FALSE;
  g_autoptr (GPtrArray) listed = vp_inventory_list (engine->inventory, &complete);
  if (engine->autowire)
    vp_autowire_reconcile (engine->autowire, listed, complete);
  g_autoptr (GPtrArray) vms = present_vms (engine, listed);
  /* Each present VM's ledger row, looked up once for the whole tick. */
  g_autofree VpVmLedger **vm_ledgers = g_new (VpVmLedger *, MAX (vms->len, 1));
  for (guint i = 0; i < vms->len; i++)
    vm_ledgers[i] = row_of_present_vm (engine, vms->pdata[i]);
  vp_vm_cpu_sample (engine->vm_cpu, engine->inventory, vms, engine->prev, cur);

  double interval_s = 0;
  if (engine->prev && cur->mono_ns > engine->prev->mono_ns)
    {
      gint64 interval_ns = cur->mono_ns - engine->prev->mono_ns;
      interval_s = interval_ns / 1e9;
      attribute (engine, vms, vm_ledgers, engine->prev, cur, interval_ns);
      engine->ticks++;
    }
  forget_removed_vms (engine, listed, vms, complete);

  vp_sample_free (engine->prev);
  engine->prev = g_steal_pointer (&cur);

  /* Saved every tick, before publishing, so a kill -9 never loses a
   * published value (the page cache survives the process); fsynced every
   * save-interval, so a power loss costs at most that much. */
  g_autoptr (GError) save_error = NULL;
  gboolean durable = g_get_monotonic_time () - engine->last_durable_save_us >=
                     (gint64) (engine->save_interval_s * G_USEC_PER_SEC);
  vp_engine_save (engine, durable, &save_error);
  note_error (&engine->last_save_error, "state", save_error);

  publish (engine, listed, vms, vm_ledgers, interval_s, started_us);
}
