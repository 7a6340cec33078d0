/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the host's sensor with the platform's zone (see with-platform.h). */
#include "config.h"

#define VP_SENSOR_IMPLEMENTATION
#include "host/sense/ipmi.h"
#include "host/sense/platform.h"
#include "host/sense/sensor-priv.h"
#include "host/sense/with-platform.h"
#include "shared/vp-error.h"

/* RAPL's zones, but its psys, then the meter's. */
typedef struct {
  VpSensor *rapl;
  VpSensor *meter;
  GArray *rapl_index;       /* guint: for each of RAPL's zones kept here, its index in RAPL */
} WithMeter;

static void
with_meter_free (gpointer data)
{
  WithMeter *impl = data;
  vp_sensor_free (impl->rapl);
  vp_sensor_free (impl->meter);
  g_array_unref (impl->rapl_index);
  g_free (impl);
}

static gboolean
with_meter_read_zone (VpSensor *sensor, guint index, const VpCpuSample *cpu, guint64 *reading, GError **error)
{
  WithMeter *impl = sensor->impl;
  if (index < impl->rapl_index->len)
    {
      guint z = g_array_index (impl->rapl_index, guint, index);
      return impl->rapl->read_zone (impl->rapl, z, cpu, reading, error);
    }
  guint64 energy_uj;
  if (!impl->meter->read_zone (impl->meter, 0, cpu, &energy_uj, error))
    return FALSE;
  *reading = energy_uj % VP_PLATFORM_RANGE_UJ;
  return TRUE;
}

/* The top-level index after RAPL's: a zone of the VMs' trees, intel-rapl:N. */
static char *
next_top_key (const VpSensor *rapl)
{
  guint64 next = 0;
  for (guint z = 0; z < rapl->zones->len; z++)
    {
      const VpZone *zone = &g_array_index (rapl->zones, VpZone, z);
      if (zone->parent < 0)
        next = MAX (next, g_ascii_strtoull (zone->key, NULL, 16) + 1);
    }
  return g_strdup_printf ("%" G_GINT64_MODIFIER "x", next);
}

static VpSensor *
with_meter (VpSensor *rapl, VpSensor *meter, int *platform_zone)
{
  VpSensor *sensor = vp_sensor_new (rapl->name, rapl->estimated);
  WithMeter *impl = g_new0 (WithMeter, 1);
  impl->rapl_index = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint z = 0; z < rapl->zones->len; z++)
    {
      const VpZone *zone = &g_array_index (rapl->zones, VpZone, z);
      if (zone->parent < 0 && g_str_equal (zone->name, "psys"))
        {
          g_message ("platform: RAPL's psys zone intel-rapl:%s is not used: %s measures the platform",
                     zone->key, vp_platform_description (meter));
          continue;
        }
      VpZone copy = *zone;
      copy.key = g_strdup (zone->key);
      copy.name = g_strdup (zone->name);
      /* Parents are indices: the psys zone dropped is top-level and has no children. */
      if (copy.parent >= 0)
        for (guint k = 0; k < impl->rapl_index->len; k++)
          if (g_array_index (impl->rapl_index, guint, k) == (guint) zone->parent)
            copy.parent = (int) k;
      g_array_append_val (sensor->zones, copy);
      g_array_append_val (impl->rapl_index, z);
    }
  VpZone platform = *vp_sensor_zone (meter, 0);
  platform.key = next_top_key (rapl);
  platform.name = g_strdup ("psys");
  platform.max_energy_range_uj = VP_PLATFORM_RANGE_UJ;
  platform.platform = TRUE;
  g_array_append_val (sensor->zones, platform);
  *platform_zone = (int) sensor->zones->len - 1;
  impl->rapl = rapl;
  impl->meter = meter;
  sensor->impl = impl;
  sensor->free_impl = with_meter_free;
  sensor->read_zone = with_meter_read_zone;
  return sensor;
}

void
vp_platform_choice_clear (VpPlatformChoice *choice)
{
  g_clear_pointer (&choice->description, g_free);
  *choice = (VpPlatformChoice) { .zone = -1 };
}

static int
psys_zone (const VpSensor *rapl)
{
  for (guint z = 0; z < rapl->zones->len; z++)
    {
      const VpZone *zone = &g_array_index (rapl->zones, VpZone, z);
      if (zone->parent < 0 && g_str_equal (zone->name, "psys"))
        return (int) z;
    }
  return -1;
}

VpSensor *
vp_sensor_with_platform (VpSensor *rapl, const VpConfig *config, VpPlatformChoice *choice, GError **error)
{
  *choice = (VpPlatformChoice) { .zone = -1 };
  if (config->platform == VP_PLATFORM_NONE)
    {
      g_info ("platform: none (platform = none): no psys zone is split as the machine's");
      return rapl;
    }
  int psys = vp_sensor_estimated (rapl) ? -1 : psys_zone (rapl);
  if (psys >= 0 && (config->platform == VP_PLATFORM_AUTO || config->platform == VP_PLATFORM_PSYS))
    {
      VpZone *zone = &g_array_index (rapl->zones, VpZone, psys);
      zone->platform = TRUE;
      choice->zone = psys;
      choice->source = "psys";
      choice->description = g_strdup_printf ("RAPL's psys zone intel-rapl:%s", zone->key);
      g_message ("platform: %s", choice->description);
      return rapl;
    }
  if (config->platform == VP_PLATFORM_PSYS)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "platform = psys, but %s has no psys zone%s",
                   config->powercap_root, vp_sensor_estimated (rapl) ? " (the model sensor estimates RAPL)" : "");
      vp_sensor_free (rapl);
      return NULL;
    }
  g_autoptr (GError) hwmon_error = NULL, ipmi_error = NULL;
  VpSensor *meter = NULL;
  if (config->platform != VP_PLATFORM_IPMI)
    meter = vp_platform_hwmon_open (config->sysfs_root, &hwmon_error);
  if (!meter && config->platform == VP_PLATFORM_HWMON)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "platform = hwmon: %s", hwmon_error->message);
      vp_sensor_free (rapl);
      return NULL;
    }
  /* auto tries the BMC in-band only where the kernel's IPMI driver is: a BMC over the LAN is the
   * operator's to name. */
  gboolean try_ipmi = config->platform == VP_PLATFORM_IPMI ||
                      (config->platform == VP_PLATFORM_AUTO && !meter &&
                       (g_file_test ("/dev/ipmi0", G_FILE_TEST_EXISTS) ||
                        g_file_test ("/dev/ipmi/0", G_FILE_TEST_EXISTS) ||
                        g_file_test ("/dev/ipmidev/0", G_FILE_TEST_EXISTS)));
  if (!meter && try_ipmi)
    {
      VpIpmiOptions ipmi = { config->ipmi_host, config->ipmi_credentials, config->ipmi_sensor };
      meter = vp_platform_ipmi_open (&ipmi, &ipmi_error);
      if (!meter && config->platform == VP_PLATFORM_IPMI)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "platform = ipmi: %s", ipmi_error->message);
          vp_sensor_free (rapl);
          return NULL;
        }
    }
  if (!meter)
    {
      /* Most hosts have none: said with --verbose, and by vpowerctl status and the API. */
      g_info ("platform: none: no psys zone, %s%s%s; no psys zone is published", hwmon_error->message,
              ipmi_error ? ", and " : "", ipmi_error ? ipmi_error->message : "");
      return rapl;
    }
  VpSensor *sensor = with_meter (rapl, meter, &choice->zone);
  choice->source = vp_sensor_name (meter);
  choice->description = g_strdup (vp_platform_description (meter));
  choice->meter = meter;
  g_message ("platform: %s, as zone intel-rapl:%s", choice->description,
             vp_sensor_zone (sensor, (guint) choice->zone)->key);
  return sensor;
}
