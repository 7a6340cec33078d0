/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: reading a powercap tree into monotonic per-zone energy totals.
 *
 * Each zone's total starts at its first reading, so while the counter has
 * neither wrapped nor been reset the total equals energy_uj: a guest sees
 * the same number as the host's counter for that VM. Deltas go through
 * vp_counter_step: a wrap at max_energy_range_uj adds the wrapped energy, a
 * counter that goes backwards otherwise is a reset, never a spike. */
#include "config.h"

#include "guest/reader.h"
#include "shared/vp-counter.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"
#include "shared/vp-rapl-scan.h"

struct _VpReader {
  char *root;
  GArray *zones;        /* VpReaderZone, in the order first seen (key order) */
  gboolean up;
  gboolean marked;      /* a first mark was made */
  char *last_problem;   /* what the log last said was wrong, NULL when fine */
};

static void
zone_clear (gpointer data)
{
  VpReaderZone *zone = data;
  g_free (zone->key);
  g_free (zone->name);
}

VpReader *
vp_reader_new (const char *root)
{
  VpReader *reader = g_new0 (VpReader, 1);
  reader->root = g_strdup (root);
  reader->zones = g_array_new (FALSE, TRUE, sizeof (VpReaderZone));
  g_array_set_clear_func (reader->zones, zone_clear);
  return reader;
}

void
vp_reader_free (VpReader *reader)
{
  if (!reader)
    return;
  g_array_unref (reader->zones);
  g_free (reader->root);
  g_free (reader->last_problem);
  g_free (reader);
}

const char *
vp_reader_root (const VpReader *reader)
{
  return reader->root;
}

gboolean
vp_reader_up (const VpReader *reader)
{
  return reader->up;
}

const char *
vp_reader_problem (const VpReader *reader)
{
  return reader->last_problem;
}

guint
vp_reader_n_zones (const VpReader *reader)
{
  return reader->zones->len;
}

const VpReaderZone *
vp_reader_zone (const VpReader *reader, guint index)
{
  return &g_array_index (reader->zones, VpReaderZone, index);
}

static VpReaderZone *
find_zone (VpReader *reader, const char *key)
{
  for (guint i = 0; i < reader->zones->len; i++)
    if (g_str_equal (g_array_index (reader->zones, VpReaderZone, i).key, key))
      return &g_array_index (reader->zones, VpReaderZone, i);
  return NULL;
}

static char *
zone_path (const VpReader *reader, const char *key, const char *file)
{
  return g_strdup_printf ("%s/" VP_RAPL_PREFIX "%s/%s", reader->root, key, file);
}

/* Feeds a new reading into a zone's total. */
static void
zone_advance (VpReaderZone *zone, guint64 raw_uj)
{
  VpCounterStep step;
  guint64 delta = vp_counter_step (zone->raw_uj, raw_uj, zone->max_energy_range_uj, &step);
  if (step == VP_COUNTER_WRAPPED)
    zone->wraps++;
  else if (step == VP_COUNTER_RESET)
    {
      zone->resets++;
      g_message ("zone %s (intel-rapl:%s): energy_uj went back from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                 ": counted as a reset, not a wrap", zone->name, zone->key, zone->raw_uj, raw_uj);
    }
  zone->total_uj += delta;
  zone->raw_uj = raw_uj;
}

static gboolean
read_energy (const VpReader *reader, VpReaderZone *zone, GError **error)
{
  g_autofree char *path = zone_path (reader, zone->key, "energy_uj");
  guint64 raw_uj;
  if (!vp_read_u64_file (path, &raw_uj, error))
    return FALSE;
  zone_advance (zone, raw_uj);
  return TRUE;
}

/* Reads name, range and energy, and marks the zone present. A zone seen for
 * the first time (or whose name changed: another tree now) starts its total
 * at its first reading. */
static gboolean
scan_zone (VpReader *reader, const char *key, GError **error)
{
  g_autofree char *name_path = zone_path (reader, key, "name");
  g_autofree char *max_path = zone_path (reader, key, "max_energy_range_uj");
  g_autofree char *energy_path = zone_path (reader, key, "energy_uj");
  char name[128];
  guint64 max_uj, raw_uj;

  if (vp_read_small_file (name_path, name, sizeof name, error) < 0 ||
      !vp_read_u64_file (max_path, &max_uj, error) ||
      !vp_read_u64_file (energy_path, &raw_uj, error))
    return FALSE;
  g_strstrip (name);
  if (name[0] == '\0')
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s is empty", name_path);
      return FALSE;
    }

  VpReaderZone *zone = find_zone (reader, key);
  if (zone && !g_str_equal (zone->name, name))
    {
      g_message ("zone intel-rapl:%s is now %s (was %s): counting it afresh", key, name, zone->name);
      g_array_remove_index (reader->zones, zone - (VpReaderZone *) (gpointer) reader->zones->data);
      zone = NULL;
    }
  if (!zone)
    {
      g_autofree char *parent_key = vp_rapl_parent_key (key);
      VpReaderZone fresh = {
        .key = g_strdup (key), .name = g_strdup (name), .top_level = parent_key == NULL,
        .max_energy_range_uj = max_uj, .raw_uj = raw_uj, .total_uj = raw_uj,
        .marked_total_uj = raw_uj, .marked_raw_uj = raw_uj, .interval_start_uj = raw_uj, .present = TRUE,
      };
      g_array_append_val (reader->zones, fresh);
      g_info ("zone %s (intel-rapl:%s) under %s, range %" G_GUINT64_FORMAT " uJ", name, key, reader->root, max_uj);
      return TRUE;
    }
  zone->max_energy_range_uj = max_uj;
  zone_advance (zone, raw_uj);
  zone->present = TRUE;
  return TRUE;
}

/* Logs the fall once and the recovery once: a tree that stays unreadable
 * must not fill the log at every scrape. */
static void
note_health (VpReader *reader, const GError *problem)
{
  if (problem && !reader->last_problem)
    g_warning ("cannot read the powercap tree: %s", problem->message);
  else if (problem && !g_str_equal (problem->message, reader->last_problem))
    g_info ("the powercap tree is still unreadable: %s", problem->message);
  else if (!problem && reader->last_problem)
    g_message ("the powercap tree at %s is readable again", reader->root);
  g_free (reader->last_problem);
  reader->last_problem = problem ? g_strdup (problem->message) : NULL;
  reader->up = problem == NULL;
}

static gboolean
finish (VpReader *reader, GError *problem, GError **error)
{
  note_health (reader, problem);
  if (problem)
    {
      g_propagate_error (error, problem);
      return FALSE;
    }
  return TRUE;
}

gboolean
vp_reader_scan (VpReader *reader, GError **error)
{
  GError *problem = NULL;
  g_autoptr (GPtrArray) keys = vp_rapl_scan_keys (reader->root, &problem);

  for (guint i = 0; i < reader->zones->len; i++)
    g_array_index (reader->zones, VpReaderZone, i).present = FALSE;
  if (!keys)
    return finish (reader, problem, error);
  if (keys->len == 0)
    {
      g_set_error (&problem, VP_ERROR, VP_ERROR_NOT_FOUND,
                   "no RAPL zone (intel-rapl:*) under %s: is the vpower share mounted?", reader->root);
      return finish (reader, problem, error);
    }

  for (guint i = 0; i < keys->len; i++)
    {
      GError *zone_error = NULL;
      if (!scan_zone (reader, keys->pdata[i], &zone_error))
        {
          if (!problem)
            problem = zone_error;
          else
            g_error_free (zone_error);
        }
    }
  return finish (reader, problem, error);
}

gboolean
vp_reader_refresh (VpReader *reader, GError **error)
{
  GError *problem = NULL;
  /* Nothing found yet, or the last read failed: look at the whole tree again. */
  if (!reader->up || reader->zones->len == 0)
    return vp_reader_scan (reader, error);

  for (guint i = 0; i < reader->zones->len; i++)
    {
      VpReaderZone *zone = &g_array_index (reader->zones, VpReaderZone, i);
      GError *zone_error = NULL;
      if (!zone->present)
        continue;
      if (!read_energy (reader, zone, &zone_error))
        {
          zone->present = FALSE;
          if (!problem)
            problem = zone_error;
          else
            g_error_free (zone_error);
        }
    }
  return finish (reader, problem, error);
}

void
vp_reader_mark (VpReader *reader)
{
  for (guint i = 0; i < reader->zones->len; i++)
    {
      VpReaderZone *zone = &g_array_index (reader->zones, VpReaderZone, i);
      zone->interval_uj = reader->marked ? zone->total_uj - zone->marked_total_uj : 0;
      zone->interval_start_uj = zone->marked_raw_uj;
      zone->marked_total_uj = zone->total_uj;
      zone->marked_raw_uj = zone->raw_uj;
    }
  reader->marked = TRUE;
}

guint64
vp_reader_cpu_interval_uj (const VpReader *reader)
{
  static const char *const preferred[] = { "package", "psys", "" };
  for (gsize p = 0; p < G_N_ELEMENTS (preferred); p++)
    {
      guint64 sum = 0;
      gboolean found = FALSE;
      for (guint i = 0; i < reader->zones->len; i++)
        {
          const VpReaderZone *zone = &g_array_index (reader->zones, VpReaderZone, i);
          if (zone->top_level && g_str_has_prefix (zone->name, preferred[p]))
            {
              sum += zone->interval_uj;
              found = TRUE;
            }
        }
      if (found)
        return sum;
    }
  return 0;
}
