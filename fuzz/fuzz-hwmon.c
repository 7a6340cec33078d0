/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: the platform's power from hwmon (host/sense/hwmon.c): the device's name, its power reading
 * and its averaging interval.
 *
 * The input is three parts separated by NUL bytes: name, power1_average and
 * power1_average_interval of hwmon0, written as a hwmon tree. vp_hwmon_find_power_meter looks for
 * the ACPI power meter as vpowerd does at start, and vp_hwmon_read_power reads it as the meter's
 * thread does. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/sense/hwmon.h"

#include <glib/gstdio.h>
#include <stdlib.h>

static const char *const files[] = { "name", "power1_average", "power1_average_interval" };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  static char *sysfs, *device;
  if (!sysfs)
    {
      sysfs = g_build_filename (vp_fuzz_dir (), "sys", NULL);
      device = g_build_filename (sysfs, "class", "hwmon", "hwmon0", NULL);
      g_mkdir_with_parents (device, 0700);
    }
  g_auto (GStrv) parts = vp_fuzz_split (data, size, G_N_ELEMENTS (files));
  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autofree char *path = g_build_filename (device, files[f], NULL);
      if (!g_file_set_contents (path, parts[f], -1, NULL))
        abort ();
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (VpHwmonMeter) meter = vp_hwmon_find_power_meter (sysfs, &error);
  if (!meter)
    return 0;
  guint64 power_uw;
  g_autoptr (GError) read_error = NULL;
  if (vp_hwmon_read_power (meter, &power_uw, &read_error) && power_uw > G_GUINT64_CONSTANT (1000000000000))
    abort ();
  return 0;
}
