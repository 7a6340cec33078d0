/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: the host's powercap tree (host/sense/powercap.c): zone names, ranges and energy values.
 *
 * The input is nine parts separated by NUL bytes: name, max_energy_range_uj
 * and energy_uj of intel-rapl:0, intel-rapl:0:0 and intel-rapl:1, written as
 * a powercap tree. vp_powercap_open scans it as vpowerd does at start, and
 * two vp_sensor_read calls read it as the tick does. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/sense/cpustat.h"
#include "host/sense/sensor.h"

#include <glib/gstdio.h>
#include <stdlib.h>

static const char *const zone_dirs[] = { "intel-rapl:0", "intel-rapl:0:0", "intel-rapl:1" };
static const char *const files[] = { "name", "max_energy_range_uj", "energy_uj" };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  static char *root;
  if (!root)
    {
      root = g_build_filename (vp_fuzz_dir (), "powercap", NULL);
      for (guint z = 0; z < G_N_ELEMENTS (zone_dirs); z++)
        {
          g_autofree char *dir = g_build_filename (root, zone_dirs[z], NULL);
          g_mkdir_with_parents (dir, 0700);
        }
    }
  g_auto (GStrv) parts = vp_fuzz_split (data, size, 9);
  for (guint z = 0; z < G_N_ELEMENTS (zone_dirs); z++)
    for (guint f = 0; f < G_N_ELEMENTS (files); f++)
      {
        g_autofree char *path = g_build_filename (root, zone_dirs[z], files[f], NULL);
        if (!g_file_set_contents (path, parts[z * 3 + f], -1, NULL))
          abort ();
      }

  /* Two CPUs in one package, physical id 0. */
  int package_of_cpu[] = { 0, 0 }, physical_id[] = { 0 };
  guint cpus_in_package[] = { 2 };
  VpTopology topology = { .n_cpus = 2, .package_of_cpu = package_of_cpu, .n_packages = 1,
                          .physical_id = physical_id, .cpus_in_package = cpus_in_package };
  g_autoptr (GError) error = NULL;
  g_autoptr (VpSensor) sensor = vp_powercap_open (root, &topology, &error);
  if (!sensor)
    return 0;
  VpCpuTimes times[2] = { { 1, 2 }, { 1, 2 } };
  VpCpuSample cpu = { .n_cpus = 2, .cpu = times };
  guint n = vp_sensor_n_zones (sensor);
  g_autofree guint64 *readings = g_new0 (guint64, n);
  g_autofree gboolean *ok = g_new0 (gboolean, n);
  for (int i = 0; i < 2; i++)
    {
      g_autoptr (GError) read_error = NULL;
      (void) vp_sensor_read (sensor, &cpu, readings, ok, &read_error);
    }
  return 0;
}
