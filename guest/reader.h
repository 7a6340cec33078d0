/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: reading a powercap tree (the vpower share, or a native
 * /sys/class/powercap) into monotonic per-zone energy totals. */
#pragma once

#include <glib.h>

typedef struct {
  char *key;                    /* "0", "0:1": the zone is intel-rapl:<key> */
  char *name;                   /* package-0, core, uncore, dram, psys */
  gboolean top_level;
  guint64 max_energy_range_uj;  /* the counter's modulus */
  guint64 raw_uj;               /* the last energy_uj read */
  guint64 total_uj;             /* monotonic: the first reading, plus every delta since */
  guint64 wraps;
  guint64 resets;
  gboolean present;             /* read without error by the last scan or refresh */
  /* Between two vp_reader_mark calls (one sampling interval): */
  guint64 marked_total_uj;
  guint64 marked_raw_uj;        /* energy_uj at the last mark */
  guint64 interval_start_uj;    /* energy_uj when the last interval began */
  guint64 interval_uj;          /* energy in the last interval */
} VpReaderZone;

typedef struct _VpReader VpReader;

VpReader *vp_reader_new (const char *root);
void vp_reader_free (VpReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpReader, vp_reader_free)

const char *vp_reader_root (const VpReader *reader);

/* Lists the tree again and reads every zone's name, range and energy. Zones
 * that vanish keep their totals and come back where they left off. Returns
 * FALSE, with one message, when the tree cannot be listed, has no zone, or a
 * zone cannot be read; the log says so once per change, not every call. */
gboolean vp_reader_scan (VpReader *reader, GError **error);

/* Reads only energy_uj of the zones the last scan found (cheap: a scrape);
 * scans instead after a failure or while no zone was found yet. Zones a
 * healthy listing no longer shows are not looked for at every refresh: the
 * next scan (once per interval) finds them if they return. */
gboolean vp_reader_refresh (VpReader *reader, GError **error);

/* TRUE when the last scan or refresh read every zone. */
gboolean vp_reader_up (const VpReader *reader);

/* Why the tree is down (the last failure's message), or NULL when up. */
const char *vp_reader_problem (const VpReader *reader);

/* Ends a sampling interval: sets each zone's interval_uj to the energy since
 * the previous mark (0 at the first). */
void vp_reader_mark (VpReader *reader);

guint vp_reader_n_zones (const VpReader *reader);
const VpReaderZone *vp_reader_zone (const VpReader *reader, guint index);

/* The energy of the last interval that CPU time drives, to split between
 * processes: the package zones' sum; psys when there is no package zone;
 * otherwise every top-level zone. Child zones are inside their parents and
 * never added. */
guint64 vp_reader_cpu_interval_uj (const VpReader *reader);
