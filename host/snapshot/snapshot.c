/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the immutable snapshot the engine publishes each tick.
 *
 * Readers (HTTP now, FUSE later) only ever hold a reference to a finished
 * snapshot; the engine builds a new one per tick and swaps the pointer. No
 * lock is held while a reader renders. */
#include "config.h"

#include "host/snapshot/snapshot.h"

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
  g_free (snapshot->host_id);
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
  snapshot->platform_zone = -1;
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

VpHealth
vp_snapshot_health (const VpSnapshot *snapshot, double *age_s)
{
  *age_s = (g_get_monotonic_time () - snapshot->mono_us) / 1e6;
  if (snapshot->ticks == 0)
    return VP_HEALTH_STARTING;
  return *age_s <= VP_SNAPSHOT_HEALTHY_INTERVALS * snapshot->interval_s ? VP_HEALTH_OK : VP_HEALTH_STALE;
}

const char *
vp_health_to_string (VpHealth health)
{
  static const char *const words[] = { "starting", "ok", "stale" };
  return words[health];
}

const VpVmSnapshot *
vp_snapshot_find_vm (const VpSnapshot *snapshot, const char *name_or_uuid)
{
  for (guint i = 0; i < snapshot->vms->len; i++)
    {
      const VpVmSnapshot *vm = snapshot->vms->pdata[i];
      if (g_str_equal (vm->name, name_or_uuid) || g_ascii_strcasecmp (vm->uuid, name_or_uuid) == 0)
        return vm;
    }
  return NULL;
}
