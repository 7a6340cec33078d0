/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: each VM's zones, laid out from the host's (see view.h). */
#include "config.h"

#include "host/engine/view.h"
#include "shared/vp-counter.h"

static void
view_zone_clear (gpointer data)
{
  VpViewZone *zone = data;
  g_free (zone->name);
  g_free (zone->index);
  g_array_unref (zone->host_zones);
}

static VpViewZone *
view_add (GArray *view, const char *name, const char *index)
{
  VpViewZone zone = {
    .name = g_strdup (name),
    .index = g_strdup (index),
    .origin_salt = vp_counter_hash (index),
    .host_zones = g_array_new (FALSE, FALSE, sizeof (guint)),
  };
  g_array_append_val (view, zone);
  return &g_array_index (view, VpViewZone, view->len - 1);
}

static void
view_take (VpViewZone *zone, guint host_zone, const VpZone *info)
{
  g_array_append_val (zone->host_zones, host_zone);
  zone->max_energy_range_uj = MAX (zone->max_energy_range_uj, info->max_energy_range_uj);
  zone->platform = zone->platform || info->platform;
}

GArray *
vp_view_build (const VpSensor *sensor, VpTopologyMode mode)
{
  GArray *view = g_array_new (FALSE, TRUE, sizeof (VpViewZone));
  g_array_set_clear_func (view, view_zone_clear);
  guint n = vp_sensor_n_zones (sensor);

  if (mode == VP_TOPOLOGY_MIRROR)
    {
      for (guint z = 0; z < n; z++)
        view_take (view_add (view, vp_sensor_zone (sensor, z)->name, vp_sensor_zone (sensor, z)->key),
                   z, vp_sensor_zone (sensor, z));
      return view;
    }

  guint package_view = G_MAXUINT;
  guint next_top = 0, next_sub = 0;
  for (guint z = 0; z < n; z++)
    {
      const VpZone *zone = vp_sensor_zone (sensor, z);
      if (zone->parent >= 0 || !g_str_has_prefix (zone->name, "package-"))
        continue;
      if (package_view == G_MAXUINT)
        {
          view_add (view, "package-0", "0");
          package_view = view->len - 1;
          next_top = 1;
        }
      view_take (&g_array_index (view, VpViewZone, package_view), z, zone);
    }
  for (guint z = 0; z < n; z++)
    {
      const VpZone *zone = vp_sensor_zone (sensor, z);
      const VpZone *parent = zone->parent >= 0 ? vp_sensor_zone (sensor, zone->parent) : NULL;
      if (!parent || parent->parent >= 0 || !g_str_has_prefix (parent->name, "package-"))
        continue;
      VpViewZone *target = NULL;
      for (guint v = 0; v < view->len && !target; v++)
        {
          VpViewZone *candidate = &g_array_index (view, VpViewZone, v);
          if (g_str_has_prefix (candidate->index, "0:") && g_str_equal (candidate->name, zone->name))
            target = candidate;
        }
      if (!target)
        {
          g_autofree char *index = g_strdup_printf ("0:%x", next_sub++);
          target = view_add (view, zone->name, index);
        }
      view_take (target, z, zone);
    }
  for (guint z = 0; z < n; z++)
    {
      const VpZone *zone = vp_sensor_zone (sensor, z);
      if (zone->parent >= 0 || g_str_has_prefix (zone->name, "package-"))
        continue;
      g_autofree char *index = g_strdup_printf ("%x", next_top++);
      view_take (view_add (view, zone->name, index), z, zone);
    }
  return view;
}
