/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: each VM's zones, laid out from the host's (--topology mirror or aggregate). */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/sense/sensor.h"

/* A VM's zone in its own layout: one host zone (mirror) or the sum of
 * several (aggregate). */
typedef struct {
  char *name;
  char *index;
  guint64 max_energy_range_uj;
  guint64 origin_salt;  /* vp_counter_hash (index): where each VM's origin for it comes from */
  GArray *host_zones;   /* guint indices into the sensor's zones */
  gboolean platform;    /* the platform's zone: measured, whatever RAPL's sensor is */
} VpViewZone;

/* The VMs' zones over SENSOR's: mirror: each VM has the host's zones; aggregate: one package-0
 * summing every package, with one subzone per subzone name (core, uncore, dram) summing those;
 * zones outside packages (psys) follow as their own. A GArray of VpViewZone. */
GArray *vp_view_build (const VpSensor *sensor, VpTopologyMode mode);
