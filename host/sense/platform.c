/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the platform's power meter as a sensor, read by a thread of its own (see platform.h). */
#include "config.h"

#define VP_SENSOR_IMPLEMENTATION
#include "host/sense/hwmon.h"
#include "host/sense/platform.h"
#include "host/sense/power-integrator.h"
#include "host/sense/sensor-priv.h"

#define HWMON_PERIOD_DEFAULT_US G_USEC_PER_SEC
#define HWMON_PERIOD_MIN_US (G_USEC_PER_SEC / 10)
#define HWMON_PERIOD_MAX_US (10 * G_USEC_PER_SEC)
#define STALE_AFTER_MIN_US (5 * G_USEC_PER_SEC)

typedef struct {
  gint refs;                    /* the sensor's and the thread's */
  VpPowerSource *source;
  GMutex lock;                  /* guards what follows; never held while the meter is read */
  GCond wake;
  gboolean quit;
  VpPowerIntegrator meter;
  gboolean failing;             /* the last read failed (logged once) */
  gboolean stale_said;          /* the turn to stale was logged */
} Platform;

static void
power_source_free (VpPowerSource *source)
{
  if (source->free_source)
    source->free_source (source->source);
  g_free (source->description);
  g_free (source);
}

static void
platform_unref (Platform *platform)
{
  if (!g_atomic_int_dec_and_test (&platform->refs))
    return;
  power_source_free (platform->source);
  g_mutex_clear (&platform->lock);
  g_cond_clear (&platform->wake);
  g_free (platform);
}

static gpointer
poll_meter (gpointer data)
{
  Platform *platform = data;
  VpPowerSource *source = platform->source;
  g_mutex_lock (&platform->lock);
  while (!platform->quit)
    {
      g_mutex_unlock (&platform->lock);
      guint64 power_uw = 0;
      g_autoptr (GError) error = NULL;
      gboolean ok = source->read (source->source, &power_uw, &error);
      gint64 now_us = g_get_monotonic_time ();
      g_mutex_lock (&platform->lock);
      if (ok)
        {
          vp_power_integrator_add (&platform->meter, now_us, power_uw);
          platform->failing = FALSE;
        }
      else if (!platform->failing)
        {
          g_warning ("platform: cannot read %s: %s; its last reading is held for %g s at most",
                     source->description, error->message, platform->meter.stale_after_us / 1e6);
          platform->failing = TRUE;
        }
      gint64 until_us = g_get_monotonic_time () + source->period_us;
      while (!platform->quit && g_cond_wait_until (&platform->wake, &platform->lock, until_us))
        ;
    }
  g_mutex_unlock (&platform->lock);
  platform_unref (platform);
  return NULL;
}

static void
platform_free (gpointer data)
{
  Platform *platform = data;
  g_mutex_lock (&platform->lock);
  platform->quit = TRUE;
  g_cond_signal (&platform->wake);
  g_mutex_unlock (&platform->lock);
  /* A read that hangs (a BMC) holds the thread until it times out: it finishes alone, with its
   * own reference, rather than hold up vpowerd's stop. */
  platform_unref (platform);
}

static gboolean
platform_read_zone (VpSensor *sensor, guint index, const VpCpuSample *cpu, guint64 *reading, GError **error)
{
  Platform *platform = sensor->impl;
  g_mutex_lock (&platform->lock);
  *reading = vp_power_integrator_energy_uj (&platform->meter, g_get_monotonic_time ());
  g_mutex_unlock (&platform->lock);
  return TRUE;
}

VpSensor *
vp_platform_sensor_new (VpPowerSource *source, gint64 stale_after_us)
{
  VpSensor *sensor = vp_sensor_new (source->kind, FALSE);
  Platform *platform = g_new0 (Platform, 1);
  platform->source = source;
  g_mutex_init (&platform->lock);
  g_cond_init (&platform->wake);
  vp_power_integrator_init (&platform->meter, stale_after_us);
  /* A counter in µJ from vpowerd's start: 64 bits do not wrap in this machine's life. */
  VpZone zone = { .key = g_strdup ("psys"), .name = g_strdup ("psys"), .package = -1, .parent = -1,
                  .max_energy_range_uj = G_MAXUINT64 };
  g_array_append_val (sensor->zones, zone);
  sensor->impl = platform;
  sensor->free_impl = platform_free;
  sensor->read_zone = platform_read_zone;
  platform->refs = 2;
  g_thread_unref (g_thread_new ("vp-platform", poll_meter, platform));
  return sensor;
}

const char *
vp_platform_description (VpSensor *sensor)
{
  g_return_val_if_fail (sensor->read_zone == platform_read_zone, NULL);
  Platform *platform = sensor->impl;
  return platform->source->description;
}

gboolean
vp_platform_stale (VpSensor *sensor, double *last_watts)
{
  g_return_val_if_fail (sensor->read_zone == platform_read_zone, TRUE);
  Platform *platform = sensor->impl;
  g_mutex_lock (&platform->lock);
  gboolean stale = vp_power_integrator_stale (&platform->meter, g_get_monotonic_time ());
  *last_watts = platform->meter.last_power_uw / 1e6;
  /* Before its first reading a meter is not stale: it has not answered yet. */
  gboolean say = platform->meter.has_reading && stale != platform->stale_said;
  if (platform->meter.has_reading)
    platform->stale_said = stale;
  g_mutex_unlock (&platform->lock);
  if (say && stale)
    g_warning ("platform: %s is stale: no reading for %g s; the platform's energy does not grow until it "
               "answers", platform->source->description, platform->meter.stale_after_us / 1e6);
  else if (say)
    g_message ("platform: %s answers again (%.1f W)", platform->source->description, *last_watts);
  return stale;
}

static gboolean
hwmon_read (gpointer source, guint64 *power_uw, GError **error)
{
  return vp_hwmon_read_power (source, power_uw, error);
}

VpSensor *
vp_platform_hwmon_open (const char *sysfs_root, GError **error)
{
  VpHwmonMeter *meter = vp_hwmon_find_power_meter (sysfs_root, error);
  if (!meter)
    return NULL;
  VpPowerSource *source = g_new0 (VpPowerSource, 1);
  source->kind = "hwmon";
  source->description = g_strdup_printf ("the ACPI power meter %s", meter->device);
  source->period_us = meter->interval_ms ? CLAMP ((gint64) meter->interval_ms * 1000, HWMON_PERIOD_MIN_US,
                                                  HWMON_PERIOD_MAX_US)
                                         : HWMON_PERIOD_DEFAULT_US;
  source->read = hwmon_read;
  source->source = meter;
  source->free_source = (GDestroyNotify) vp_hwmon_meter_free;
  return vp_platform_sensor_new (source, MAX (3 * source->period_us, STALE_AFTER_MIN_US));
}
