/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: power readings made into an energy counter (see power-integrator.h). */
#include "config.h"

#include "host/sense/power-integrator.h"

#define UW_US_PER_UJ 1000000u

void
vp_power_integrator_init (VpPowerIntegrator *integrator, gint64 stale_after_us)
{
  *integrator = (VpPowerIntegrator) { .stale_after_us = stale_after_us };
}

/* The time the last reading is held for, up to NOW_US. */
static guint64
held_us (const VpPowerIntegrator *integrator, gint64 now_us)
{
  if (!integrator->has_reading || now_us <= integrator->last_us)
    return 0;
  return (guint64) MIN (now_us - integrator->last_us, integrator->stale_after_us);
}

/* The energy of the last reading held for HELD_US, added to what is counted: µJ, and the rest. */
static guint64
counted_uj (const VpPowerIntegrator *integrator, guint64 held, guint64 *remainder)
{
  /* 1 MW for an hour is 3.6e18 µW·µs: 128 bits, so that nothing a meter says overflows. */
  unsigned __int128 product = (unsigned __int128) integrator->last_power_uw * held + integrator->remainder;
  *remainder = (guint64) (product % UW_US_PER_UJ);
  return integrator->energy_uj + (guint64) (product / UW_US_PER_UJ);
}

void
vp_power_integrator_add (VpPowerIntegrator *integrator, gint64 now_us, guint64 power_uw)
{
  if (integrator->has_reading && now_us < integrator->last_us)
    now_us = integrator->last_us;
  guint64 remainder;
  integrator->energy_uj = counted_uj (integrator, held_us (integrator, now_us), &remainder);
  integrator->remainder = remainder;
  integrator->has_reading = TRUE;
  integrator->last_us = now_us;
  integrator->last_power_uw = MIN (power_uw, VP_POWER_MAX_UW);
}

guint64
vp_power_integrator_energy_uj (const VpPowerIntegrator *integrator, gint64 now_us)
{
  guint64 remainder;
  return counted_uj (integrator, held_us (integrator, now_us), &remainder);
}

gboolean
vp_power_integrator_stale (const VpPowerIntegrator *integrator, gint64 now_us)
{
  return !integrator->has_reading || now_us - integrator->last_us > integrator->stale_after_us;
}
