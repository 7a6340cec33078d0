/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the immutable snapshot the engine publishes each tick.
 *
 * Readers (HTTP now, FUSE later) only ever hold a reference to a finished
 * snapshot; the engine builds a new one per tick and swaps the pointer. No
 * lock is held while a reader renders. */
#include "config.h"

#include "host/snapshot.h"

static void
zone_snapshot_clear (gpointer data)
{
  VpZoneSnapshot *zone = data;
  g_free (zone->name);
  g_free (zone->index);
}

GArray *
vp_zone_snapshot_array_new (void)
{
  GArray *zones = g_array_new (FALSE, TRUE, sizeof (VpZoneSnapshot));
  g_array_set_clear_func (zones, zone_snapshot_clear);
  return zones;
}

static void
vm_snapshot_free (gpointer data)
{
  VpVmSnapshot *vm = data;
  g_free (vm->name);
  g_free (vm->uuid);
  g_free (vm->state);
  g_array_unref (vm->zones);
  g_free (vm);
}

VpVmSnapshot *
vp_vm_snapshot_new (void)
{
  VpVmSnapshot *vm = g_new0 (VpVmSnapshot, 1);
  vm->zones = vp_zone_snapshot_array_new ();
  return vm;
}

static void
snapshot_clear (gpointer data)
{
  VpSnapshot *snapshot = data;
  g_free (snapshot->sensor);
  g_free (snapshot->policy);
  g_free (snapshot->topology);
  g_free (snapshot->inventory);
  g_array_unref (snapshot->zones);
  g_ptr_array_unref (snapshot->vms);
}

VpSnapshot *
vp_snapshot_new (void)
{
  VpSnapshot *snapshot = g_atomic_rc_box_new0 (VpSnapshot);
  snapshot->zones = vp_zone_snapshot_array_new ();
  snapshot->vms = g_ptr_array_new_with_free_func (vm_snapshot_free);
  return snapshot;
}

VpSnapshot *
vp_snapshot_ref (VpSnapshot *snapshot)
{
  return g_atomic_rc_box_acquire (snapshot);
}

void
vp_snapshot_unref (VpSnapshot *snapshot)
{
  if (snapshot)
    g_atomic_rc_box_release_full (snapshot, snapshot_clear);
}
