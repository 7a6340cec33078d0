/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: host energy sensors (powercap, model) behind one interface. */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/sense/cpustat.h"

/* One RAPL zone, as the kernel names it: intel-rapl:<key> is called <name>. */
typedef struct {
  char *key;                    /* index path: "0", "0:0", "1", "0:a" (hex children) */
  char *name;                   /* package-0, core, uncore, dram, psys */
  int package;                  /* dense package index, or -1 for the whole platform (psys) */
  int parent;                   /* index of the parent zone, -1 for a top-level zone */
  guint64 max_energy_range_uj;  /* the counter's modulus */
  gboolean platform;            /* the whole machine's power (host/sense/with-platform.h), split as such */
} VpZone;

/* Whether ZONE is part of what a platform zone measures, RAPL's share of it: a package (top-level
 * package-N) or DRAM. Core and uncore are inside their package. */
gboolean vp_zone_in_platform (const VpZone *zone);

typedef struct _VpSensor VpSensor;

/* Opens the sensor config->sensor asks for. With "auto", tries powercap and
 * falls back to the model, logging which one it picked and why. */
VpSensor *vp_sensor_open (const VpConfig *config, const VpTopology *topology, GError **error);

/* The powercap sensor alone, over a tree such as /sys/class/powercap. */
VpSensor *vp_powercap_open (const char *root, const VpTopology *topology, GError **error);

/* The model sensor: idle + (max - idle) * busy per package. */
VpSensor *vp_model_open (const VpTopology *topology, double idle_watts, double max_watts);

void vp_sensor_free (VpSensor *sensor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpSensor, vp_sensor_free)

const char *vp_sensor_name (const VpSensor *sensor);
/* TRUE when zones are estimates rather than measurements (the model). */
gboolean vp_sensor_estimated (const VpSensor *sensor);
guint vp_sensor_n_zones (const VpSensor *sensor);
const VpZone *vp_sensor_zone (const VpSensor *sensor, guint index);

/* Reads every zone's raw counter into readings[]. A zone that fails keeps
 * its old reading and gets ok[i] = FALSE; the first failure is returned in
 * error. Returns the number of zones that failed. cpu is the current host
 * CPU sample (the model derives its energy from it). */
guint vp_sensor_read (VpSensor *sensor, const VpCpuSample *cpu, guint64 *readings,
                      gboolean *ok, GError **error);

/* Reads one zone's raw counter (as vp_sensor_read does for every zone); cpu may be NULL for a
 * zone that is not the model's. */
gboolean vp_sensor_read_zone (VpSensor *sensor, guint index, const VpCpuSample *cpu, guint64 *reading,
                              GError **error);
