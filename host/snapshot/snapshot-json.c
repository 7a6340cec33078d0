/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: JSON views of a snapshot: /api/v1/host, /api/v1/vms and --once. */
#include "config.h"

#include "host/snapshot/snapshot.h"

#include <json-glib/json-glib.h>

static void
add_zone (JsonBuilder *b, const VpZoneSnapshot *zone, gboolean host)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, zone->name);
  json_builder_set_member_name (b, "index");
  json_builder_add_string_value (b, zone->index);
  json_builder_set_member_name (b, "estimated");
  json_builder_add_boolean_value (b, zone->estimated);
  json_builder_set_member_name (b, "energy_uj");
  json_builder_add_int_value (b, (gint64) zone->energy_uj);
  json_builder_set_member_name (b, "max_energy_range_uj");
  json_builder_add_int_value (b, (gint64) zone->max_energy_range_uj);
  json_builder_set_member_name (b, "total_uj");
  json_builder_add_int_value (b, (gint64) zone->total_uj);
  json_builder_set_member_name (b, "power_w");
  json_builder_add_double_value (b, zone->power_w);
  if (host)
    {
      json_builder_set_member_name (b, "host_processes_uj");
      json_builder_add_int_value (b, (gint64) zone->host_processes_uj);
      json_builder_set_member_name (b, "unattributed_uj");
      json_builder_add_int_value (b, (gint64) zone->unattributed_uj);
      json_builder_set_member_name (b, "departed_vms_uj");
      json_builder_add_int_value (b, (gint64) zone->departed_vms_uj);
      json_builder_set_member_name (b, "busy_ratio");
      json_builder_add_double_value (b, zone->busy_ratio);
    }
  json_builder_end_object (b);
}

/* "platform": what measures the whole machine's power and how its zone is split; null when nothing
 * does (no psys zone is published then). */
static void
add_platform (JsonBuilder *b, const VpSnapshot *s)
{
  json_builder_set_member_name (b, "platform");
  if (s->platform_zone < 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  const VpZoneSnapshot *zone = &g_array_index (s->zones, VpZoneSnapshot, s->platform_zone);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, s->platform_source);
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, s->platform_description);
  json_builder_set_member_name (b, "index");
  json_builder_add_string_value (b, zone->index);
  json_builder_set_member_name (b, "stale");
  json_builder_add_boolean_value (b, s->platform_stale);
  json_builder_set_member_name (b, "watts");
  json_builder_add_double_value (b, s->platform_watts);
  json_builder_set_member_name (b, "split");
  json_builder_add_string_value (b, s->platform_split);
  /* Measured for the machine; each VM's share beyond its RAPL zones is the split's, a policy. */
  json_builder_set_member_name (b, "vm_share");
  json_builder_add_string_value (b, "policy");
  json_builder_set_member_name (b, "raised_to_rapl_uj");
  json_builder_add_int_value (b, (gint64) s->platform_raised_uj);
  json_builder_end_object (b);
}

void
vp_snapshot_json_host_members (JsonBuilder *b, const VpSnapshot *s)
{
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, PACKAGE_VERSION);
  json_builder_set_member_name (b, "sensor");
  json_builder_add_string_value (b, s->sensor);
  json_builder_set_member_name (b, "cpu_source");
  json_builder_add_string_value (b, s->cpu_source ? s->cpu_source : "none");
  json_builder_set_member_name (b, "estimated");
  json_builder_add_boolean_value (b, s->estimated);
  json_builder_set_member_name (b, "policy");
  json_builder_add_string_value (b, s->policy);
  json_builder_set_member_name (b, "topology");
  json_builder_add_string_value (b, s->topology);
  json_builder_set_member_name (b, "inventory");
  json_builder_add_string_value (b, s->inventory);
  json_builder_set_member_name (b, "libvirt_connected");
  json_builder_add_boolean_value (b, s->libvirt_connected);
  json_builder_set_member_name (b, "interval_s");
  json_builder_add_double_value (b, s->interval_s);
  json_builder_set_member_name (b, "last_interval_s");
  json_builder_add_double_value (b, s->last_interval_s);
  json_builder_set_member_name (b, "ticks");
  json_builder_add_int_value (b, (gint64) s->ticks);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_double_value (b, s->real_us / 1e6);
  json_builder_set_member_name (b, "started");
  json_builder_add_double_value (b, s->started_us / 1e6);
  json_builder_set_member_name (b, "vms");
  json_builder_add_int_value (b, s->vms->len);
  json_builder_set_member_name (b, "host_id");
  json_builder_add_string_value (b, s->host_id ? s->host_id : "");
  json_builder_set_member_name (b, "channels_connected");
  json_builder_add_int_value (b, (gint64) s->channels_connected);
  json_builder_set_member_name (b, "vms_departed");
  json_builder_add_int_value (b, (gint64) s->vms_departed);
  /* Wiring (issue 30): the mode, the VMs in each state, what vpowerd did. */
  json_builder_set_member_name (b, "wiring");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, s->wire_mode ? s->wire_mode : "off");
  json_builder_set_member_name (b, "vms");
  json_builder_begin_object (b);
  for (int state = 0; state < VP_WIRE_N_STATES; state++)
    if (s->wiring.states[state])
      {
        json_builder_set_member_name (b, vp_wire_state_to_string (state));
        json_builder_add_int_value (b, s->wiring.states[state]);
      }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "hotplugs");
  json_builder_add_int_value (b, (gint64) s->wiring.hotplugs);
  json_builder_set_member_name (b, "definitions");
  json_builder_add_int_value (b, (gint64) s->wiring.definitions);
  json_builder_set_member_name (b, "refusals");
  json_builder_add_int_value (b, (gint64) s->wiring.refusals);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "zones");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->zones->len; i++)
    add_zone (b, &g_array_index (s->zones, VpZoneSnapshot, i), TRUE);
  json_builder_end_array (b);
  add_platform (b, s);
}

static void
add_host (JsonBuilder *b, const VpSnapshot *s)
{
  json_builder_begin_object (b);
  vp_snapshot_json_host_members (b, s);
  json_builder_end_object (b);
}

void
vp_snapshot_json_vm_members (JsonBuilder *b, const VpVmSnapshot *vm)
{
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, vm->name);
  json_builder_set_member_name (b, "uuid");
  json_builder_add_string_value (b, vm->uuid);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, vm->state);
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, vm->pid);
  json_builder_set_member_name (b, "uid");
  json_builder_add_int_value (b, vm->uid);
  json_builder_set_member_name (b, "gid");
  json_builder_add_int_value (b, vm->gid);
  json_builder_set_member_name (b, "cpu_seconds");
  json_builder_add_double_value (b, vm->cpu_ns_total / 1e9);
  json_builder_set_member_name (b, "cpu_share");
  json_builder_add_double_value (b, vm->cpu_share);
  /* The virtio-serial channel (issue #12): wired, and this tick's message delivered to its socket. */
  json_builder_set_member_name (b, "channel");
  json_builder_add_string_value (b, !vm->has_channel ? "none" : vm->channel_connected ? "connected" : "waiting");
  /* As a string: JSON numbers lose precision above 2^53. */
  g_autofree char *epoch = g_strdup_printf ("%" G_GUINT64_FORMAT, vm->epoch);
  json_builder_set_member_name (b, "epoch");
  json_builder_add_string_value (b, epoch);
  /* Migration (issue #13): how it came here, where it is in a move, and counts. */
  json_builder_set_member_name (b, "arrival");
  json_builder_add_string_value (b, vm->arrival ? vm->arrival : "unknown");
  json_builder_set_member_name (b, "migration");
  json_builder_add_string_value (b, vm->move ? vm->move : "none");
  json_builder_set_member_name (b, "migrations_in");
  json_builder_add_int_value (b, (gint64) vm->migrations_in);
  json_builder_set_member_name (b, "migrations_out");
  json_builder_add_int_value (b, (gint64) vm->migrations_out);
  json_builder_set_member_name (b, "arrived");
  if (vm->arrived_us)
    json_builder_add_double_value (b, vm->arrived_us / 1e6);
  else
    json_builder_add_null_value (b);
  /* Who it belongs to, from its <metadata> (issue #15): the same labels as vpower_vm_info. */
  json_builder_set_member_name (b, "labels");
  json_builder_begin_object (b);
  for (const char *const *label = vm->labels; label && label[0] && label[1]; label += 2)
    {
      json_builder_set_member_name (b, label[0]);
      json_builder_add_string_value (b, label[1]);
    }
  json_builder_end_object (b);
  /* How the VM is wired, from libvirt's (live, while running) definition. */
  json_builder_set_member_name (b, "transports");
  json_builder_begin_array (b);
  if (vm->has_channel)
    json_builder_add_string_value (b, "channel");
  if (vm->has_9p)
    json_builder_add_string_value (b, "9p");
  if (vm->has_virtiofs)
    json_builder_add_string_value (b, "virtiofs");
  json_builder_end_array (b);
  /* How its channel is wired (issue 30), in words an operator can act on. */
  json_builder_set_member_name (b, "wiring");
  if (vm->wiring)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, vp_wire_state_to_string (vm->wiring->state));
      json_builder_set_member_name (b, "by_vpowerd");
      json_builder_add_boolean_value (b, vm->wiring->by_vpowerd);
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, vm->wiring->reason);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "zones");
  json_builder_begin_array (b);
  for (guint z = 0; z < vm->n_zones; z++)
    add_zone (b, &vm->zones[z], FALSE);
  json_builder_end_array (b);
}

static void
add_vms (JsonBuilder *b, const VpSnapshot *s)
{
  json_builder_begin_array (b);
  for (guint i = 0; i < s->vms->len; i++)
    {
      json_builder_begin_object (b);
      vp_snapshot_json_vm_members (b, s->vms->pdata[i]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static char *
finish (JsonBuilder *b, gboolean pretty)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, pretty);
  return g_strconcat (text, "\n", NULL);
}

char *
vp_snapshot_host_json (const VpSnapshot *snapshot, gboolean pretty)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  add_host (b, snapshot);
  return finish (b, pretty);
}

char *
vp_snapshot_vms_json (const VpSnapshot *snapshot, gboolean pretty)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  /* The tick says which snapshot these values are from (scripts compare). */
  json_builder_set_member_name (b, "ticks");
  json_builder_add_int_value (b, (gint64) snapshot->ticks);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_double_value (b, snapshot->real_us / 1e6);
  json_builder_set_member_name (b, "vms");
  add_vms (b, snapshot);
  json_builder_end_object (b);
  return finish (b, pretty);
}

char *
vp_snapshot_once_json (const VpSnapshot *snapshot)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "host");
  add_host (b, snapshot);
  json_builder_set_member_name (b, "vms");
  add_vms (b, snapshot);
  json_builder_end_object (b);
  return finish (b, TRUE);
}
