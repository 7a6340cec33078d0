/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the Prometheus exposition of a snapshot (GET /metrics).
 *
 * Energy is exported in base units as _joules_total counters that never
 * wrap (the monotonic totals, not the wrapped energy_uj values), so rate()
 * works across the hardware-style wraps guests see. Metric names are the
 * contract in design.md. */
#include "config.h"

#include "host/snapshot/snapshot.h"
#include "shared/vp-promtext.h"

typedef guint64 (*ZoneMicroValue) (const VpZoneSnapshot *zone);

static guint64 zone_total (const VpZoneSnapshot *zone) { return zone->total_uj; }
static guint64 zone_host_processes (const VpZoneSnapshot *zone) { return zone->host_processes_uj; }
static guint64 zone_unattributed (const VpZoneSnapshot *zone) { return zone->unattributed_uj; }

/* The host's per-zone families, table-driven. */
static const struct {
  const char *name;
  const char *help;
  ZoneMicroValue value;
} host_zone_counters[] = {
  { "vpower_host_energy_joules_total", "Energy the host's RAPL zone used, as accounted by vpowerd", zone_total },
  { "vpower_host_processes_energy_joules_total", "Energy attributed to the host's own processes (not VMs)", zone_host_processes },
  { "vpower_unattributed_energy_joules_total", "Energy attributed to no consumer (idle share under the active and capacity policies)", zone_unattributed },
};

static const VpZoneSnapshot *
zone_at (GArray *zones, guint i)
{
  return &g_array_index (zones, VpZoneSnapshot, i);
}

char *
vp_snapshot_metrics (const VpSnapshot *s, gsize *length)
{
  g_autoptr (VpPromText) text = vp_promtext_new ();

  for (guint f = 0; f < G_N_ELEMENTS (host_zone_counters); f++)
    {
      vp_promtext_family (text, host_zone_counters[f].name, "counter", host_zone_counters[f].help);
      for (guint i = 0; i < s->zones->len; i++)
        vp_promtext_sample_micro (text, host_zone_counters[f].value (zone_at (s->zones, i)),
                                  "zone", zone_at (s->zones, i)->name, "index", zone_at (s->zones, i)->index, NULL);
    }
  /* A gauge: it falls when a VM comes back (its energy returns to
   * vpower_vm_energy_joules_total) or is forgotten. With it the books add
   * up: host = VMs + departed VMs + host processes + unattributed. */
  vp_promtext_family (text, "vpower_departed_vms_energy_joules", "gauge",
                      "Energy of the VMs that migrated away, whose counters are kept here for their return");
  for (guint i = 0; i < s->zones->len; i++)
    vp_promtext_sample_micro (text, zone_at (s->zones, i)->departed_vms_uj,
                              "zone", zone_at (s->zones, i)->name, "index", zone_at (s->zones, i)->index, NULL);
  vp_promtext_family (text, "vpower_host_power_watts", "gauge", "Host zone power over the last tick");
  for (guint i = 0; i < s->zones->len; i++)
    vp_promtext_sample (text, zone_at (s->zones, i)->power_w,
                        "zone", zone_at (s->zones, i)->name, "index", zone_at (s->zones, i)->index, NULL);
  vp_promtext_family (text, "vpower_zone_estimated", "gauge",
                      "1 when the zone's energy is estimated by the model sensor, 0 when measured");
  for (guint i = 0; i < s->zones->len; i++)
    vp_promtext_sample (text, zone_at (s->zones, i)->estimated,
                        "zone", zone_at (s->zones, i)->name, "index", zone_at (s->zones, i)->index, NULL);

  vp_promtext_family (text, "vpower_vm_energy_joules_total", "counter", "Energy attributed to the VM");
  for (guint v = 0; v < s->vms->len; v++)
    {
      const VpVmSnapshot *vm = s->vms->pdata[v];
      for (guint i = 0; i < vm->n_zones; i++)
        vp_promtext_sample_micro (text, (&vm->zones[i])->total_uj, "domain", vm->name, "uuid", vm->uuid,
                                  "zone", (&vm->zones[i])->name, "index", (&vm->zones[i])->index, NULL);
    }
  vp_promtext_family (text, "vpower_vm_power_watts", "gauge", "Power attributed to the VM over the last tick");
  for (guint v = 0; v < s->vms->len; v++)
    {
      const VpVmSnapshot *vm = s->vms->pdata[v];
      for (guint i = 0; i < vm->n_zones; i++)
        vp_promtext_sample (text, (&vm->zones[i])->power_w, "domain", vm->name, "uuid", vm->uuid,
                            "zone", (&vm->zones[i])->name, "index", (&vm->zones[i])->index, NULL);
    }
  vp_promtext_family (text, "vpower_vm_cpu_seconds_total", "counter", "CPU time of the VM's QEMU threads counted by vpowerd");
  for (guint v = 0; v < s->vms->len; v++)
    {
      const VpVmSnapshot *vm = s->vms->pdata[v];
      vp_promtext_sample_micro (text, vm->cpu_ns_total / 1000, "domain", vm->name, "uuid", vm->uuid, NULL);
    }
  /* Who the VM belongs to (project, user, flavor... from its <metadata>)
   * is here only, never on the counters: a relabel then starts a new info
   * series and leaves every counter whole. Join with
   *   * on (uuid) group_left (project) vpower_vm_info */
  vp_promtext_family (text, "vpower_vm_info", "gauge",
                      "VM known to vpowerd: its state, how it came to run here (booted, restored, migrated), "
                      "and who it belongs to (from its libvirt metadata)");
  for (guint v = 0; v < s->vms->len; v++)
    {
      const VpVmSnapshot *vm = s->vms->pdata[v];
      vp_promtext_sample_with (text, 1, vm->labels, "domain", vm->name, "uuid", vm->uuid, "state", vm->state,
                               "arrival", vm->arrival, NULL);
    }
  /* Counts and times are their own series: a label that changed at every
   * migration would break joins on vpower_vm_info. */
  vp_promtext_family (text, "vpower_vm_migrations_total", "counter",
                      "Live migrations of the VM into (direction=in) and away from (out) this host since its counters began here");
  for (guint v = 0; v < s->vms->len; v++)
    {
      const VpVmSnapshot *vm = s->vms->pdata[v];
      vp_promtext_sample (text, (double) vm->migrations_in, "domain", vm->name, "uuid", vm->uuid, "direction", "in", NULL);
      vp_promtext_sample (text, (double) vm->migrations_out, "domain", vm->name, "uuid", vm->uuid, "direction", "out", NULL);
    }
  vp_promtext_family (text, "vpower_vm_arrived_timestamp_seconds", "gauge",
                      "Unix time the VM last arrived here by live migration");
  for (guint v = 0; v < s->vms->len; v++)
    {
      const VpVmSnapshot *vm = s->vms->pdata[v];
      if (vm->arrived_us)
        vp_promtext_sample (text, vm->arrived_us / 1e6, "domain", vm->name, "uuid", vm->uuid, NULL);
    }

  /* Self-metrics. */
  vp_promtext_family (text, "vpower_build_info", "gauge", "vpowerd version");
  vp_promtext_sample (text, 1, "version", PACKAGE_VERSION, NULL);
  vp_promtext_family (text, "vpower_sensor_info", "gauge", "The energy sensor in use and the attribution settings");
  vp_promtext_sample (text, 1, "sensor", s->sensor, "policy", s->policy, "topology", s->topology,
                      "inventory", s->inventory, NULL);
  /* The whole machine's power: its source, and that a VM's share of it beyond RAPL's is a policy. */
  if (s->platform_zone >= 0)
    {
      vp_promtext_family (text, "vpower_platform_info", "gauge",
                          "What measures the whole machine's power (zone psys), and the policy that splits "
                          "what is beyond RAPL's zones between VMs");
      vp_promtext_sample (text, 1, "source", s->platform_source, "description", s->platform_description, "split",
                          s->platform_split, NULL);
      vp_promtext_family (text, "vpower_platform_stale", "gauge",
                          "1 while the platform's meter has not answered for longer than a reading is held");
      vp_promtext_sample (text, s->platform_stale, NULL);
      vp_promtext_family (text, "vpower_platform_raised_joules_total", "counter",
                          "Energy the platform zone was raised by to RAPL's zones in it (its meter lagged or was stale)");
      vp_promtext_sample (text, s->platform_raised_uj / 1e6, NULL);
    }
  vp_promtext_family (text, "vpower_cpu_source_info", "gauge",
                      "Where VMs' CPU time comes from: bpf (a sched_switch program, per CPU) or proc (/proc, per thread)");
  vp_promtext_sample (text, 1, "source", s->cpu_source ? s->cpu_source : "none", NULL);
  vp_promtext_family (text, "vpower_engine_start_time_seconds", "gauge",
                      "Unix time this engine started (it changes at each restart: a crash loop shows)");
  vp_promtext_sample (text, s->started_us / 1e6, NULL);
  vp_promtext_family (text, "vpower_ticks_total", "counter", "Attribution ticks completed");
  vp_promtext_sample (text, (double) s->ticks, NULL);
  vp_promtext_family (text, "vpower_tick_duration_seconds", "gauge", "Wall time the last tick took");
  vp_promtext_sample (text, s->tick_duration_s, NULL);
  vp_promtext_family (text, "vpower_tick_duration_seconds_total", "counter", "Wall time all ticks took");
  vp_promtext_sample (text, s->tick_duration_total_s, NULL);
  vp_promtext_family (text, "vpower_last_tick_timestamp_seconds", "gauge", "Unix time of the last tick");
  vp_promtext_sample (text, s->real_us / 1e6, NULL);
  vp_promtext_family (text, "vpower_sensor_errors_total", "counter", "Failed reads of a host energy zone or of /proc/stat");
  vp_promtext_sample (text, (double) s->sensor_errors, NULL);
  vp_promtext_family (text, "vpower_state_save_errors_total", "counter", "Failed writes of the state file");
  vp_promtext_sample (text, (double) s->state_save_errors, NULL);
  vp_promtext_family (text, "vpower_libvirt_connected", "gauge", "1 while the inventory is connected (always 1 for static)");
  vp_promtext_sample (text, s->libvirt_connected, NULL);
  vp_promtext_family (text, "vpower_vms", "gauge", "VMs known to vpowerd");
  vp_promtext_sample (text, s->vms->len, NULL);
  vp_promtext_family (text, "vpower_vms_departed", "gauge", "VMs that migrated away whose counters are kept here");
  vp_promtext_sample (text, (double) s->vms_departed, NULL);
  vp_promtext_family (text, "vpower_channel_messages_sent_total", "counter", "Channel messages written whole to a VM's socket");
  vp_promtext_sample (text, (double) s->channel_sent, NULL);
  vp_promtext_family (text, "vpower_channel_messages_dropped_total", "counter",
                      "Channel messages a full or closed socket did not take (a guest not reading)");
  vp_promtext_sample (text, (double) s->channel_dropped, NULL);
  vp_promtext_family (text, "vpower_channel_connections_total", "counter", "Connections made to VMs' channel sockets");
  vp_promtext_sample (text, (double) s->channel_connects, NULL);
  vp_promtext_family (text, "vpower_channel_discarded_bytes_total", "counter",
                      "Bytes guests wrote into their channel, read (at most 4 KiB per VM and tick) and thrown away");
  vp_promtext_sample (text, (double) s->channel_discarded_bytes, NULL);
  vp_promtext_family (text, "vpower_channels_connected", "gauge", "VMs whose channel socket is connected");
  vp_promtext_sample (text, (double) s->channels_connected, NULL);
  /* Wiring (vpowerd(8) WIRING): every state, 0 included, so that an alert on no-controller has
   * a series to watch. */
  vp_promtext_family (text, "vpower_wiring_vms", "gauge", "VMs by the state of their channel's wiring");
  for (int state = 0; state < VP_WIRE_N_STATES; state++)
    vp_promtext_sample (text, s->wiring.states[state], "state", vp_wire_state_to_string (state), NULL);
  vp_promtext_family (text, "vpower_wiring_hotplugs_total", "counter", "Channels vpowerd hot-plugged into running VMs");
  vp_promtext_sample (text, (double) s->wiring.hotplugs, NULL);
  vp_promtext_family (text, "vpower_wiring_definitions_total", "counter",
                      "Channels vpowerd added to VMs' persistent definitions (wire = define)");
  vp_promtext_sample (text, (double) s->wiring.definitions, NULL);
  vp_promtext_family (text, "vpower_wiring_refusals_total", "counter",
                      "Hot-plugs and definitions libvirt refused, or could not be asked for");
  vp_promtext_sample (text, (double) s->wiring.refusals, NULL);

  return vp_promtext_steal (g_steal_pointer (&text), length);
}
