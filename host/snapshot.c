/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the immutable snapshot the engine publishes each tick.
 *
 * Readers (HTTP now, FUSE later) only ever hold a reference to a finished
 * snapshot; the engine builds a new one per tick and swaps the pointer. No
 * lock is held while a reader renders. */
#include "config.h"

#include "host/snapshot.h"

GArray *
vp_zone_snapshot_array_new (void)
{
  return g_array_new (FALSE, TRUE, sizeof (VpZoneSnapshot));
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
  g_array_unref (snapshot->vm_layout);
  g_ptr_array_unref (snapshot->vms);
  g_free (snapshot->vm_storage);
  g_free (snapshot->zone_storage);
  g_ptr_array_unref (snapshot->keepalive);
}

VpSnapshot *
vp_snapshot_new (void)
{
  VpSnapshot *snapshot = g_atomic_rc_box_new0 (VpSnapshot);
  snapshot->zones = vp_zone_snapshot_array_new ();
  snapshot->vm_layout = vp_zone_snapshot_array_new ();
  snapshot->vms = g_ptr_array_new ();
  snapshot->keepalive = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
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
