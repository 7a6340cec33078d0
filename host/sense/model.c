/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the model sensor, estimating package energy from /proc/stat.
 *
 * For hosts whose RAPL is unreadable (nested virtualisation, some clouds, CI)
 * each package's power is estimated as idle + (max - idle) * busy ratio. The
 * counter is a pure function of the cumulative CPU times in /proc/stat, so it
 * needs no state of its own and is consistent across daemon restarts within
 * one boot: energy = idle * elapsed + (max - idle) * busy time, per CPU of
 * the package. */
#include "config.h"

#define VP_SENSOR_IMPLEMENTATION
#include "host/sense/sensor-priv.h"
#include "shared/vp-error.h"

/* What a typical server package reports (0xFFFFFFFF * 61.035 µJ), so that
 * guests see a realistic range. */
#define MODEL_MAX_ENERGY_RANGE_UJ G_GUINT64_CONSTANT (262143328850)

typedef struct {
  VpTopology topology;  /* a copy of the maps we need */
  double idle_watts;
  double max_watts;
} Model;

static void
model_free (gpointer data)
{
  Model *model = data;
  g_free (model->topology.package_of_cpu);
  g_free (model->topology.cpus_in_package);
  g_free (model);
}

static gboolean
model_read_zone (VpSensor *sensor, guint index, const VpCpuSample *cpu,
                 guint64 *reading, GError **error)
{
  Model *model = sensor->impl;
  const VpZone *zone = vp_sensor_zone (sensor, index);
  guint64 busy_ns = 0, total_ns = 0;

  for (guint c = 0; c < MIN (cpu->n_cpus, model->topology.n_cpus); c++)
    if (model->topology.package_of_cpu[c] == zone->package)
      {
        busy_ns += cpu->cpu[c].busy_ns;
        total_ns += cpu->cpu[c].total_ns;
      }
  guint ncpus = model->topology.cpus_in_package[zone->package];
  if (total_ns == 0 || ncpus == 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "model: no CPU time for %s", zone->name);
      return FALSE;
    }
  /* Per-CPU averages: seconds elapsed and seconds busy for the package. */
  double elapsed_s = (double) total_ns / ncpus / 1e9;
  double busy_s = (double) busy_ns / ncpus / 1e9;
  double joules = model->idle_watts * elapsed_s + (model->max_watts - model->idle_watts) * busy_s;
  /* Not wrapped: the engine's delta then never loses a wrap, however long a
   * restart gap; the published value is wrapped like any other. */
  *reading = (guint64) (joules * 1e6);
  return TRUE;
}

VpSensor *
vp_model_open (const VpTopology *topology, double idle_watts, double max_watts)
{
  VpSensor *sensor = vp_sensor_new ("model", TRUE);
  Model *model = g_new0 (Model, 1);

  model->topology.n_cpus = topology->n_cpus;
  model->topology.n_packages = topology->n_packages;
  model->topology.package_of_cpu = g_memdup2 (topology->package_of_cpu, topology->n_cpus * sizeof (int));
  model->topology.cpus_in_package = g_memdup2 (topology->cpus_in_package, topology->n_packages * sizeof (guint));
  model->idle_watts = idle_watts;
  model->max_watts = max_watts;
  sensor->impl = model;
  sensor->free_impl = model_free;
  sensor->read_zone = model_read_zone;

  for (guint p = 0; p < topology->n_packages; p++)
    {
      VpZone zone = {
        .key = g_strdup_printf ("%u", p),
        .name = g_strdup_printf ("package-%d", topology->physical_id[p]),
        .package = (int) p,
        .parent = -1,
        .max_energy_range_uj = MODEL_MAX_ENERGY_RANGE_UJ,
      };
      g_array_append_val (sensor->zones, zone);
    }
  return sensor;
}
