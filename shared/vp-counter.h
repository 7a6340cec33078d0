/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: energy counter arithmetic (wrap, publish), shared by host and guest.
 *
 * Hardware RAPL counters wrap at max_energy_range_uj. The readers our guests
 * run (prometheus/procfs for node_exporter and Kepler) compute the delta over
 * a wrap as (max - prev) + cur, i.e. they treat max_energy_range_uj as the
 * modulus. We use that same convention both when reading the host and when
 * publishing virtual counters, so a guest reader gets the exact delta. */
#pragma once

#include <glib.h>

/* Energy between two readings of a counter that wraps at max_uj, assuming at
 * most one wrap happened in between. A reading above max_uj (impossible for a
 * wrapping counter) or max_uj == 0 (unknown range) with cur < prev is treated
 * as a reset: the delta is cur, counted from zero. */
static inline guint64
vp_counter_delta (guint64 prev_uj, guint64 cur_uj, guint64 max_uj)
{
  if (cur_uj >= prev_uj)
    return cur_uj - prev_uj;
  if (max_uj == 0 || prev_uj > max_uj)
    return cur_uj;
  return (max_uj - prev_uj) + cur_uj;
}

/* The value a virtual energy_uj file shows for a monotonic total: the total
 * modulo max_uj, as a hardware counter would (see above for the modulus). */
static inline guint64
vp_counter_publish (guint64 total_uj, guint64 max_uj)
{
  return max_uj ? total_uj % max_uj : total_uj;
}

typedef enum {
  VP_COUNTER_ADVANCED,   /* cur >= prev */
  VP_COUNTER_WRAPPED,    /* went past max_energy_range_uj once */
  VP_COUNTER_RESET,      /* went backwards: the counter restarted from zero */
} VpCounterStep;

/* Energy between two readings of a counter a reader does not control, such
 * as a guest reading its share. A decrease is a wrap only when the wrapped
 * delta is under half the range: a wrap follows a value near the top with
 * one near zero. Any other decrease (the host lost its state, the tree was
 * replaced) is a reset, counted from zero, so it never shows as a spike of
 * nearly a whole range. The half-range rule holds as long as readings are
 * closer together than half a wrap period (minutes even at 400 W). */
static inline guint64
vp_counter_step (guint64 prev_uj, guint64 cur_uj, guint64 max_uj, VpCounterStep *step)
{
  if (cur_uj >= prev_uj)
    {
      *step = VP_COUNTER_ADVANCED;
      return cur_uj - prev_uj;
    }
  if (max_uj != 0 && prev_uj <= max_uj && cur_uj <= max_uj && (max_uj - prev_uj) + cur_uj < max_uj / 2)
    {
      *step = VP_COUNTER_WRAPPED;
      return (max_uj - prev_uj) + cur_uj;
    }
  *step = VP_COUNTER_RESET;
  return cur_uj;
}
