/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what sensor implementations share; not for other modules. */
#pragma once

#ifndef VP_SENSOR_IMPLEMENTATION
# error "sensor-priv.h is only for sensor implementations"
#endif

#include "host/sense/sensor.h"

struct _VpSensor {
  const char *name;
  gboolean estimated;
  GArray *zones;               /* VpZone */
  gboolean (*read_zone) (VpSensor *sensor, guint index, const VpCpuSample *cpu,
                         guint64 *reading, GError **error);
  gpointer impl;
  GDestroyNotify free_impl;
};

VpSensor *vp_sensor_new (const char *name, gboolean estimated);
void vp_zone_clear (gpointer zone);
