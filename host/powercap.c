/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the powercap sensor, reading RAPL zones from /sys/class/powercap.
 *
 * The kernel (drivers/powercap/powercap_sys.c) lists each zone under
 * /sys/class/powercap as intel-rapl:<i>[:<j>...], with child indices in hex.
 * AMD hosts use the same names. Each zone holds name, energy_uj (0400 since
 * Linux 5.10, CVE-2020-8694) and max_energy_range_uj. Other control types
 * (intel-rapl-mmio, dtpm) are not read: intel-rapl-mmio measures the same
 * package again, and counting it would attribute that energy twice. */
#include "config.h"

#define VP_SENSOR_IMPLEMENTATION
#include "host/sensor-priv.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <unistd.h>

#define RAPL_PREFIX "intel-rapl:"

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

/* "0:a" -> [0, 10]. FALSE unless every component is lower-case hex. */
static gboolean
parse_key (const char *key, GArray *components)
{
  g_auto (GStrv) parts = g_strsplit (key, ":", -1);
  g_array_set_size (components, 0);
  for (char **part = parts; *part; part++)
    {
      guint64 value;
      if (**part == '\0' || strspn (*part, "0123456789abcdef") != strlen (*part) ||
          !g_ascii_string_to_unsigned (*part, 16, 0, G_MAXINT, &value, NULL))
        return FALSE;
      int v = (int) value;
      g_array_append_val (components, v);
    }
  return components->len > 0;
}

static int
compare_keys (gconstpointer a, gconstpointer b)
{
  const char *ka = *(char *const *) a, *kb = *(char *const *) b;
  g_autoptr (GArray) ca = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) cb = g_array_new (FALSE, FALSE, sizeof (int));
  parse_key (ka, ca);
  parse_key (kb, cb);
  for (guint i = 0; i < MIN (ca->len, cb->len); i++)
    {
      int x = g_array_index (ca, int, i), y = g_array_index (cb, int, i);
      if (x != y)
        return x < y ? -1 : 1;
    }
  return (ca->len > cb->len) - (ca->len < cb->len);
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
  g_autoptr (GDir) dir = g_dir_open (root, 0, NULL);
  if (!dir)
    {
      int saved = errno;
      if (saved == ENOENT)
        g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND,
                     "%s does not exist (no RAPL driver loaded, or running in a VM)", root);
      else
        g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "cannot list %s: %s", root, g_strerror (saved));
      return NULL;
    }

  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) components = g_array_new (FALSE, FALSE, sizeof (int));
  const char *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (entry, RAPL_PREFIX) && parse_key (entry + strlen (RAPL_PREFIX), components))
      g_ptr_array_add (keys, g_strdup (entry + strlen (RAPL_PREFIX)));
  /* Parents sort before their children, so a child can find its parent. */
  g_ptr_array_sort (keys, compare_keys);

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
      g_autofree char *zone_dir = g_strdup_printf ("%s/" RAPL_PREFIX "%s", root, key);
      VpZone zone = { .key = g_strdup (key), .package = -1, .parent = -1 };
      gboolean fatal = FALSE;
      g_autoptr (GError) zone_error = NULL;

      const char *last_colon = strrchr (key, ':');
      if (last_colon)
        {
          g_autofree char *parent_key = g_strndup (key, last_colon - key);
          for (guint z = 0; z < sensor->zones->len; z++)
            if (g_str_equal (g_array_index (sensor->zones, VpZone, z).key, parent_key))
              zone.parent = (int) z;
          if (zone.parent < 0)
            g_set_error (&zone_error, VP_ERROR, VP_ERROR_NOT_FOUND,
                         "%s: its parent zone " RAPL_PREFIX "%s is missing or unusable", zone_dir, parent_key);
        }
      if (!zone_error && !read_zone_files (zone_dir, &zone, &fatal, &zone_error) && fatal)
        {
          vp_zone_clear (&zone);
          g_propagate_error (error, g_steal_pointer (&zone_error));
          return NULL;
        }
      if (zone_error)
        {
          g_warning ("powercap: skipping zone " RAPL_PREFIX "%s: %s", key, zone_error->message);
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
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no usable RAPL zone (" RAPL_PREFIX "*) under %s%s",
                   root, skipped->str);
      return NULL;
    }
  return g_steal_pointer (&sensor);
}
