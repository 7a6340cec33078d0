/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the ACPI power meter through hwmon (see hwmon.h). */
#include "config.h"

#include "host/sense/hwmon.h"
#include "host/sense/power-integrator.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <string.h>

#define POWER_METER_NAME "power_meter"

void
vp_hwmon_meter_free (VpHwmonMeter *meter)
{
  if (!meter)
    return;
  g_free (meter->power_path);
  g_free (meter->device);
  g_free (meter);
}

gboolean
vp_hwmon_parse_power (const char *text, guint64 *power_uw, GError **error)
{
  guint64 value;
  if (!vp_parse_u64 (text, &value) || value > VP_POWER_MAX_UW)
    {
      g_autofree char *shown = g_strescape (text, NULL);
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "not a power in µW: \"%.40s\"", shown);
      return FALSE;
    }
  *power_uw = value;
  return TRUE;
}

/* DIR's NAME file says "power_meter". */
static gboolean
is_power_meter (const char *dir)
{
  char name[64];
  g_autofree char *path = g_build_filename (dir, "name", NULL);
  if (vp_read_small_file (path, name, sizeof name, NULL) < 0)
    return FALSE;
  g_strstrip (name);
  return g_str_equal (name, POWER_METER_NAME);
}

/* The meter's files in DIR, if it has a power reading there. */
static VpHwmonMeter *
meter_in (const char *dir, const char *device)
{
  static const char *const readings[] = { "power1_average", "power1_input" };
  for (gsize i = 0; i < G_N_ELEMENTS (readings); i++)
    {
      g_autofree char *path = g_build_filename (dir, readings[i], NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      VpHwmonMeter *meter = g_new0 (VpHwmonMeter, 1);
      meter->power_path = g_steal_pointer (&path);
      meter->device = g_strdup (device);
      g_autofree char *interval_path = g_build_filename (dir, "power1_average_interval", NULL);
      guint64 interval_ms;
      if (vp_read_u64_file (interval_path, &interval_ms, NULL) && interval_ms <= G_MAXUINT)
        meter->interval_ms = (guint) interval_ms;
      return meter;
    }
  return NULL;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

VpHwmonMeter *
vp_hwmon_find_power_meter (const char *sysfs_root, GError **error)
{
  g_autofree char *class_dir = g_build_filename (sysfs_root, "class", "hwmon", NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) dir = g_dir_open (class_dir, 0, &local);
  if (!dir)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no ACPI power meter: no hwmon devices under %s",
                   class_dir);
      return NULL;
    }
  /* In name order, so that the choice does not depend on readdir's. */
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (const char *entry; (entry = g_dir_read_name (dir));)
    if (g_str_has_prefix (entry, "hwmon"))
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *hwmon = g_build_filename (class_dir, names->pdata[i], NULL);
      g_autofree char *device = g_build_filename (hwmon, "device", NULL);
      VpHwmonMeter *meter = NULL;
      if (is_power_meter (hwmon))
        meter = meter_in (hwmon, hwmon);
      if (!meter && is_power_meter (device))
        meter = meter_in (device, hwmon);
      if (meter)
        return meter;
    }
  g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no ACPI power meter (hwmon \"" POWER_METER_NAME
               "\" with power1_average or power1_input) under %s", class_dir);
  return NULL;
}

gboolean
vp_hwmon_read_power (const VpHwmonMeter *meter, guint64 *power_uw, GError **error)
{
  char text[64];
  if (vp_read_small_file (meter->power_path, text, sizeof text, error) < 0)
    return FALSE;
  g_autoptr (GError) local = NULL;
  if (!vp_hwmon_parse_power (text, power_uw, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s: %s", meter->power_path, local->message);
      return FALSE;
    }
  return TRUE;
}
