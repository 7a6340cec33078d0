/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: host energy sensors behind one interface, and the auto choice. */
#include "config.h"

#define VP_SENSOR_IMPLEMENTATION
#include "host/sense/sensor-priv.h"

void
vp_zone_clear (gpointer data)
{
  VpZone *zone = data;
  g_free (zone->key);
  g_free (zone->name);
}

gboolean
vp_zone_in_platform (const VpZone *zone)
{
  return !zone->platform && ((zone->parent < 0 && g_str_has_prefix (zone->name, "package-")) ||
                             g_str_equal (zone->name, "dram"));
}

VpSensor *
vp_sensor_new (const char *name, gboolean estimated)
{
  VpSensor *sensor = g_new0 (VpSensor, 1);
  sensor->name = name;
  sensor->estimated = estimated;
  sensor->zones = g_array_new (FALSE, TRUE, sizeof (VpZone));
  g_array_set_clear_func (sensor->zones, vp_zone_clear);
  return sensor;
}

void
vp_sensor_free (VpSensor *sensor)
{
  if (!sensor)
    return;
  if (sensor->free_impl)
    sensor->free_impl (sensor->impl);
  g_array_unref (sensor->zones);
  g_free (sensor);
}

const char *
vp_sensor_name (const VpSensor *sensor)
{
  return sensor->name;
}

gboolean
vp_sensor_estimated (const VpSensor *sensor)
{
  return sensor->estimated;
}

guint
vp_sensor_n_zones (const VpSensor *sensor)
{
  return sensor->zones->len;
}

const VpZone *
vp_sensor_zone (const VpSensor *sensor, guint index)
{
  return &g_array_index (sensor->zones, VpZone, index);
}

gboolean
vp_sensor_read_zone (VpSensor *sensor, guint index, const VpCpuSample *cpu, guint64 *reading, GError **error)
{
  g_return_val_if_fail (index < sensor->zones->len, FALSE);
  return sensor->read_zone (sensor, index, cpu, reading, error);
}

guint
vp_sensor_read (VpSensor *sensor, const VpCpuSample *cpu, guint64 *readings,
                gboolean *ok, GError **error)
{
  guint failures = 0;
  for (guint i = 0; i < sensor->zones->len; i++)
    {
      g_autoptr (GError) local = NULL;
      guint64 value = 0;
      ok[i] = sensor->read_zone (sensor, i, cpu, &value, &local);
      if (ok[i])
        readings[i] = value;
      else if (failures++ == 0)
        g_propagate_error (error, g_steal_pointer (&local));
    }
  return failures;
}

VpSensor *
vp_sensor_open (const VpConfig *config, const VpTopology *topology, GError **error)
{
  g_autoptr (GError) local = NULL;
  VpSensor *sensor;

  switch (config->sensor)
    {
    case VP_SENSOR_POWERCAP:
      return vp_powercap_open (config->powercap_root, topology, error);
    case VP_SENSOR_MODEL:
      return vp_model_open (topology, config->model_idle_watts, config->model_max_watts);
    case VP_SENSOR_AUTO:
    default:
      sensor = vp_powercap_open (config->powercap_root, topology, &local);
      if (sensor)
        {
          g_message ("sensor: powercap, %u zones under %s (chosen by --sensor auto)",
                     vp_sensor_n_zones (sensor), config->powercap_root);
          return sensor;
        }
      g_message ("sensor: model (estimated energy: %g W idle, %g W busy per package), "
                 "because powercap is unusable: %s",
                 config->model_idle_watts, config->model_max_watts, local->message);
      return vp_model_open (topology, config->model_idle_watts, config->model_max_watts);
    }
}
