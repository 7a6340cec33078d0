/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: a power meter's readings (µW, at the meter's own pace) made into an energy counter (µJ).
 *
 * Platform meters (a BMC, the ACPI power meter) give power, not energy, about once a second or
 * slower. Each reading is held until the next one (zero-order hold): the energy between two
 * readings is the first one's power times the time between them. So the counter can be read at
 * any moment, between readings too, and what it says then is exactly what the next reading adds:
 * it never goes back. A meter that stops answering is held for at most STALE_AFTER, then counts
 * nothing more until it answers again, and is stale: the energy of a dead meter is not invented.
 * Pure: times are given, so that tests need no clock. */
#pragma once

#include <glib.h>

typedef struct {
  gint64 stale_after_us;   /* how long a reading is held without a new one */
  gboolean has_reading;
  gint64 last_us;          /* monotonic time of the last reading */
  guint64 last_power_uw;
  guint64 energy_uj;       /* up to last_us */
  guint64 remainder;       /* below 1 µJ, in µW·µs (1 µJ = 1e6 µW·µs) */
} VpPowerIntegrator;

/* Readings above this (1 MW) are not a server's: a meter's garbage, refused by the callers. */
#define VP_POWER_MAX_UW G_GUINT64_CONSTANT (1000000000000)

void vp_power_integrator_init (VpPowerIntegrator *integrator, gint64 stale_after_us);

/* A reading of POWER_UW taken at NOW_US (monotonic, not before the last one's). */
void vp_power_integrator_add (VpPowerIntegrator *integrator, gint64 now_us, guint64 power_uw);

/* The energy counted up to NOW_US: the last reading held up to now, or up to STALE_AFTER. */
guint64 vp_power_integrator_energy_uj (const VpPowerIntegrator *integrator, gint64 now_us);

/* Whether the last reading is older than STALE_AFTER at NOW_US, or there was none. */
gboolean vp_power_integrator_stale (const VpPowerIntegrator *integrator, gint64 now_us);
