/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the powercap sensor, reading RAPL zones from /sys/class/powercap.
 *
 * The kernel (drivers/powercap/powercap_sys.c) lists each zone under
 * /sys/class/powercap as intel-rapl:<i>[:<j>...] (see shared/vp-rapl-scan.h).
 * Each zone holds name, energy_uj (0400 since Linux 5.10, CVE-2020-8694) and
 * max_energy_range_uj. */
#include "config.h"

#define VP_SENSOR_IMPLEMENTATION
#include "host/sense/sensor-priv.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"
#include "shared/vp-rapl-scan.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <unistd.h>


typedef struct {
  GPtrArray *energy_paths;   /* per zone */
} Powercap;

static void
powercap_free (gpointer data)
{
  Powercap *impl = data;
  g_ptr_array_unref (impl->energy_paths);
  g_free (impl);
}

/* The physical package a top-level zone measures: "package-1" and
 * "package-1-die-0" (multi-die parts) name package 1. */
static int
package_from_name (const char *name)
{
  if (!g_str_has_prefix (name, "package-") || !g_ascii_isdigit (name[8]))
    return -1;
  return atoi (name + 8);
}

static gboolean
powercap_read_zone (VpSensor *sensor, guint index, const VpCpuSample *cpu,
                    guint64 *reading, GError **error)
{
  Powercap *impl = sensor->impl;
  return vp_read_u64_file (impl->energy_paths->pdata[index], reading, error);
}

/* Reads one zone's static files. Returns FALSE with a message naming the
 * file. Sets *fatal for errors that every zone would share (permissions). */
static gboolean
read_zone_files (const char *dir, VpZone *zone, gboolean *fatal, GError **error)
{
  char buf[256];
  g_autofree char *name_path = g_build_filename (dir, "name", NULL);
  g_autofree char *max_path = g_build_filename (dir, "max_energy_range_uj", NULL);
  g_autofree char *energy_path = g_build_filename (dir, "energy_uj", NULL);
  g_autoptr (GError) local = NULL;
  guint64 energy;

  if (vp_read_small_file (name_path, buf, sizeof buf, error) < 0)
    return FALSE;
  g_strstrip (buf);
  if (buf[0] == '\0')
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s is empty", name_path);
      return FALSE;
    }
  zone->name = g_strdup (buf);

  /* Without the range a wrap cannot be told from a reset, and guest readers
   * (prometheus/procfs) refuse a zone without it: skip such a zone. */
  if (!vp_read_u64_file (max_path, &zone->max_energy_range_uj, error))
    return FALSE;
  if (zone->max_energy_range_uj == 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s is 0", max_path);
      return FALSE;
    }

  if (!vp_read_u64_file (energy_path, &energy, &local))
    {
      if (g_access (energy_path, R_OK) != 0 && errno == EACCES)
        {
          *fatal = TRUE;
          g_set_error (error, VP_ERROR, VP_ERROR_IO,
                       "cannot read %s: permission denied (energy_uj is readable by root only "
                       "since Linux 5.10, CVE-2020-8694; run vpowerd as root)", energy_path);
          return FALSE;
        }
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

VpSensor *
vp_powercap_open (const char *root, const VpTopology *topology, GError **error)
{
  g_autoptr (GError) scan_error = NULL;
  g_autoptr (GPtrArray) keys = vp_rapl_scan_keys (root, &scan_error);
  if (!keys)
    {
      if (g_error_matches (scan_error, VP_ERROR, VP_ERROR_NOT_FOUND) && !g_file_test (root, G_FILE_TEST_EXISTS))
        g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND,
                     "%s does not exist (no RAPL driver loaded, or running in a VM)", root);
      else
        g_propagate_error (error, g_steal_pointer (&scan_error));
      return NULL;
    }

  g_autoptr (VpSensor) sensor = vp_sensor_new ("powercap", FALSE);
  Powercap *impl = g_new0 (Powercap, 1);
  impl->energy_paths = g_ptr_array_new_with_free_func (g_free);
  sensor->impl = impl;
  sensor->free_impl = powercap_free;
  sensor->read_zone = powercap_read_zone;

  g_autoptr (GString) skipped = g_string_new (NULL);
  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = keys->pdata[i];
      g_autofree char *zone_dir = g_strdup_printf ("%s/" VP_RAPL_PREFIX "%s", root, key);
      VpZone zone = { .key = g_strdup (key), .package = -1, .parent = -1 };
      gboolean fatal = FALSE;
      g_autoptr (GError) zone_error = NULL;

      g_autofree char *parent_key = vp_rapl_parent_key (key);
      if (parent_key)
        {
          for (guint z = 0; z < sensor->zones->len; z++)
            if (g_str_equal (g_array_index (sensor->zones, VpZone, z).key, parent_key))
              zone.parent = (int) z;
          if (zone.parent < 0)
            g_set_error (&zone_error, VP_ERROR, VP_ERROR_NOT_FOUND,
                         "%s: its parent zone " VP_RAPL_PREFIX "%s is missing or unusable", zone_dir, parent_key);
        }
      if (!zone_error && !read_zone_files (zone_dir, &zone, &fatal, &zone_error) && fatal)
        {
          vp_zone_clear (&zone);
          g_propagate_error (error, g_steal_pointer (&zone_error));
          return NULL;
        }
      if (zone_error)
        {
          g_warning ("powercap: skipping zone " VP_RAPL_PREFIX "%s: %s", key, zone_error->message);
          g_string_append_printf (skipped, "; %s", zone_error->message);
          vp_zone_clear (&zone);
          continue;
        }

      if (zone.parent >= 0)
        zone.package = g_array_index (sensor->zones, VpZone, zone.parent).package;
      else if (package_from_name (zone.name) >= 0)
        {
          zone.package = vp_topology_package_index (topology, package_from_name (zone.name));
          if (zone.package < 0)
            g_warning ("powercap: zone %s measures a package with no online CPU here; "
                       "its energy is split by the CPU time of all packages", zone.name);
        }
      g_array_append_val (sensor->zones, zone);
      g_ptr_array_add (impl->energy_paths, g_build_filename (zone_dir, "energy_uj", NULL));
    }

  if (sensor->zones->len == 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no usable RAPL zone (" VP_RAPL_PREFIX "*) under %s%s",
                   root, skipped->str);
      return NULL;
    }
  return g_steal_pointer (&sensor);
}
