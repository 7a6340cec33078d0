/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the platform's power meter (the whole machine's power, not only RAPL's) as a sensor.
 *
 * A platform meter gives power at its own pace (a BMC about once a second or slower, the ACPI
 * power meter at its averaging interval). A thread of the sensor's own reads it and makes its
 * readings into energy (power-integrator.h); the sensor's one zone, "psys" (as Intel calls its
 * platform domain, package -1), reads that counter at once. So a slow, hung or dead meter costs
 * the tick nothing: it turns stale, its counter stops, and the sensor says so once. */
#pragma once

#include "host/sense/sensor.h"

/* Where the readings come from: READ gives the power now in µW, and may block (a BMC over the
 * network) or fail (no reading, garbage). Every PERIOD_US while the sensor lives. */
typedef struct {
  const char *kind;                 /* "hwmon", "ipmi": the sensor's name */
  char *description;                /* what exactly: "ACPI power meter /sys/class/hwmon/hwmon3" */
  gint64 period_us;
  gboolean (*read) (gpointer source, guint64 *power_uw, GError **error);
  gpointer source;
  GDestroyNotify free_source;
} VpPowerSource;

/* The sensor over SOURCE (taken), its counter held STALE_AFTER_US past the last reading. Its
 * thread starts now. */
VpSensor *vp_platform_sensor_new (VpPowerSource *source, gint64 stale_after_us);

/* The ACPI power meter under SYSFS_ROOT, polled at its averaging interval (1 s if it gives none,
 * within 0.1 to 10 s), stale after three intervals or 5 s, whichever is longer. NULL with error
 * set when there is none. */
VpSensor *vp_platform_hwmon_open (const char *sysfs_root, GError **error);

/* What measures it, for the API and the logs. */
const char *vp_platform_description (VpSensor *sensor);

/* Whether its last reading is older than the sensor holds one, and the power of that reading in
 * W (0 before the first). Logs once when it turns stale and once when it answers again. */
gboolean vp_platform_stale (VpSensor *sensor, double *last_watts);
