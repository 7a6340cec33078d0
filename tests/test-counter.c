/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: energy counter wrap math (shared/vp-counter.h). */
#include "config.h"

#include "shared/vp-counter.h"

/* A real RAPL range: 0xFFFFFFFF energy units of 61.035 µJ. */
#define RAPL_MAX G_GUINT64_CONSTANT (262143328850)

static void
test_delta_table (void)
{
  static const struct {
    guint64 prev, cur, max, delta;
    const char *why;
  } cases[] = {
    { 100, 250, RAPL_MAX, 150, "plain increase" },
    { 250, 250, RAPL_MAX, 0, "no change" },
    { RAPL_MAX - 10, 5, RAPL_MAX, 15, "one wrap: (max - prev) + cur" },
    { RAPL_MAX - 1, 0, RAPL_MAX, 1, "wrap landing on zero" },
    { 990000, 10000, 1000000, 20000, "small range wrap" },
    { 500, 100, 0, 100, "unknown range: a decrease is a reset, counted from zero" },
    { 2000, 100, 1000, 100, "reading above range: a reset, not a huge spike" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].why);
      g_assert_cmpuint (vp_counter_delta (cases[i].prev, cases[i].cur, cases[i].max), ==, cases[i].delta);
    }
}

/* scaphandre lost the whole interval in which a counter wrapped; summing
 * deltas over a wrapping counter must equal the true energy. */
static void
test_delta_sums_across_wraps (void)
{
  const guint64 max = 1000003;   /* odd on purpose: no step divides it */
  guint64 truth = 0, raw = 0, summed = 0;
  for (int i = 0; i < 10000; i++)
    {
      guint64 step = 1 + (guint64) g_test_rand_int_range (0, 400000);
      truth += step;
      guint64 next = (raw + step) % max;
      summed += vp_counter_delta (raw, next, max);
      raw = next;
    }
  g_assert_cmpuint (summed, ==, truth);
}

/* What a guest reader computes from our published values must equal our
 * counter's increase: publish and delta use the same modulus. */
static void
test_publish_round_trips_through_guest_reader (void)
{
  const guint64 max = 65712999613;
  guint64 total = max - 7, before = vp_counter_publish (total, max);
  total += 1000;
  guint64 after = vp_counter_publish (total, max);
  g_assert_cmpuint (after, <, before);   /* it wrapped, like hardware */
  g_assert_cmpuint (vp_counter_delta (before, after, max), ==, 1000);
  g_assert_cmpuint (vp_counter_publish (42, 0), ==, 42);
}

/* Units: counters are µJ. 100 W for 1 s is 100,000,000 µJ, not 100,000,000
 * µW added once (scaphandre issue #428 added µW to a µJ counter). */
static void
test_units_are_microjoules (void)
{
  guint64 raw0 = 5000000, raw1 = raw0 + 100 * 1000000;   /* 100 J later */
  g_assert_cmpuint (vp_counter_delta (raw0, raw1, RAPL_MAX), ==, G_GUINT64_CONSTANT (100000000));
}

/* A guest cannot tell a wrap from a reset by the decrease alone: a wrap goes
 * from near the top to near zero; anything else that goes backwards is a
 * reset, counted from zero, never nearly a whole range. */
static void
test_step_table (void)
{
  static const struct {
    guint64 prev, cur, max, delta;
    VpCounterStep step;
  } cases[] = {
    { 100, 250, RAPL_MAX, 150, VP_COUNTER_ADVANCED },
    { 100, 100, RAPL_MAX, 0, VP_COUNTER_ADVANCED },
    { RAPL_MAX - 10, 5, RAPL_MAX, 15, VP_COUNTER_WRAPPED },
    { RAPL_MAX, 0, RAPL_MAX, 0, VP_COUNTER_WRAPPED },
    /* The host lost its state: 5 J counted afresh, not ~262 kJ. */
    { 90000000000, 5000000, RAPL_MAX, 5000000, VP_COUNTER_RESET },
    { 1000, 10, RAPL_MAX, 10, VP_COUNTER_RESET },
    /* A wrapped delta of exactly half the range is no longer believable. */
    { RAPL_MAX / 2, 0, RAPL_MAX, 0, VP_COUNTER_RESET },
    { 500, 20, 0, 20, VP_COUNTER_RESET },                   /* range unknown */
    { RAPL_MAX + 1, 3, RAPL_MAX, 3, VP_COUNTER_RESET },     /* above the range: not this counter */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      VpCounterStep step;
      g_assert_cmpuint (vp_counter_step (cases[i].prev, cases[i].cur, cases[i].max, &step), ==, cases[i].delta);
      g_assert_cmpint (step, ==, cases[i].step);
    }
}

/* Over a long run with wraps every few steps, step-by-step deltas add up to
 * exactly the energy that was put in. */
static void
test_step_sums_across_wraps (void)
{
  const guint64 max = 1000000;
  guint64 raw = 999000, added = 0, counted = 0;
  for (guint i = 0; i < 1000; i++)
    {
      guint64 energy = 1000 + (i * 7919) % 200000;
      VpCounterStep step;
      guint64 next = (raw + energy) % max;
      added += energy;
      counted += vp_counter_step (raw, next, max, &step);
      g_assert_cmpint (step, !=, VP_COUNTER_RESET);
      raw = next;
    }
  g_assert_cmpuint (counted, ==, added);
}

/* What an energy_uj file shows (issue #11): total plus origin, modulo the
 * range, with 0 shown as the range itself. */
static void
test_show_table (void)
{
  static const struct {
    guint64 total, origin, max, shown;
    const char *why;
  } cases[] = {
    { 0, 5000, RAPL_MAX, 5000, "a new counter shows its origin" },
    { 250, 5000, RAPL_MAX, 5250, "then counts up from it" },
    { 10, RAPL_MAX - 10, RAPL_MAX, RAPL_MAX, "0 modulo the range is shown as the range, never 0" },
    { 11, RAPL_MAX - 10, RAPL_MAX, 1, "and the count goes on past it" },
    { 0, 0, RAPL_MAX, RAPL_MAX, "no origin and nothing counted: still not 0" },
    { 3 * RAPL_MAX + 7, 0, RAPL_MAX, 7, "no origin: the plain wrapped total" },
    { G_MAXUINT64 - 1, G_MAXUINT64 - 2, G_MAXUINT64, G_MAXUINT64 - 3, "no overflow at the top of the range" },
    { 5, 3 * RAPL_MAX + 2, RAPL_MAX, 7, "an origin beyond the range is brought into it" },
    { 0, 0, 0, 1, "no range (never from a real zone): nothing wraps, still not 0" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].why);
      g_assert_cmpuint (vp_counter_show (cases[i].total, cases[i].origin, cases[i].max), ==, cases[i].shown);
    }
}

/* A counter with an origin, read by a guest across many wraps: it never
 * reads 0, and the reader's own wrap arithmetic (the prometheus/procfs
 * convention) adds up to exactly the energy counted, wrap after wrap,
 * including the steps that land on the range itself. */
static void
test_show_never_zero_and_exact (void)
{
  const guint64 max = 1000;
  for (guint64 origin = 0; origin < max; origin += 37)
    {
      guint64 total = 0, counted = 0, prev = vp_counter_show (0, origin, max);
      for (guint i = 0; i < 500; i++)
        {
          guint64 step = (i * 7919 + origin) % 400;   /* 0 included, well under half the range */
          total += step;
          guint64 shown = vp_counter_show (total, origin, max);
          g_assert_cmpuint (shown, >=, 1);
          g_assert_cmpuint (shown, <=, max);
          VpCounterStep kind;
          counted += vp_counter_step (prev, shown, max, &kind);
          g_assert_cmpint (kind, !=, VP_COUNTER_RESET);
          prev = shown;
        }
      g_assert_cmpuint (counted, ==, total);
    }
}

/* Origins: random-looking, in [1, max - 1], the same for the same VM and
 * zone under one key (so the mount holder and any engine agree), different
 * for other VMs, zones and keys; none at all for seed 0. */
static void
test_origins (void)
{
  const char *uuid = "aaaaaaaa-0000-4000-8000-000000000001";
  guint64 key = vp_counter_origin_key_new ();
  g_assert_cmpuint (key, !=, 0);
  g_assert_cmpuint (vp_counter_origin_key_new (), !=, key);
  guint64 seed = vp_counter_origin_seed (key, uuid);
  g_assert_cmpuint (seed, !=, 0);
  g_assert_cmpuint (vp_counter_origin_seed (key, "AAAAAAAA-0000-4000-8000-000000000001"), ==, seed);
  g_assert_cmpuint (vp_counter_origin_seed (key, "aaaaaaaa-0000-4000-8000-000000000002"), !=, seed);
  g_assert_cmpuint (vp_counter_origin_seed (key + 1, uuid), !=, seed);

  guint64 package = vp_counter_origin (seed, vp_counter_hash ("0"), RAPL_MAX);
  guint64 dram = vp_counter_origin (seed, vp_counter_hash ("0:1"), RAPL_MAX);
  g_assert_cmpuint (package, !=, dram);
  g_assert_cmpuint (vp_counter_origin (seed, vp_counter_hash ("0"), RAPL_MAX), ==, package);
  g_assert_cmpuint (vp_counter_origin (0, vp_counter_hash ("0"), RAPL_MAX), ==, 0);

  /* Spread over the whole range, and never 0 or the range itself, for
   * many VMs; the smallest range that still has room is respected. */
  guint64 low = G_MAXUINT64, high = 0;
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *other = g_strdup_printf ("aaaaaaaa-0000-4000-8000-%012u", i);
      guint64 origin = vp_counter_origin (vp_counter_origin_seed (key, other), vp_counter_hash ("0"), RAPL_MAX);
      g_assert_cmpuint (origin, >=, 1);
      g_assert_cmpuint (origin, <, RAPL_MAX);
      low = MIN (low, origin);
      high = MAX (high, origin);
      g_assert_cmpuint (vp_counter_origin (vp_counter_origin_seed (key, other), 0, 2), ==, 1);
    }
  g_assert_cmpuint (low, <, RAPL_MAX / 100);
  g_assert_cmpuint (high, >, RAPL_MAX - RAPL_MAX / 100);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/counter/delta/table", test_delta_table);
  g_test_add_func ("/counter/delta/sums-across-wraps", test_delta_sums_across_wraps);
  g_test_add_func ("/counter/publish/guest-reader", test_publish_round_trips_through_guest_reader);
  g_test_add_func ("/counter/units", test_units_are_microjoules);
  g_test_add_func ("/counter/step/table", test_step_table);
  g_test_add_func ("/counter/step/sums-across-wraps", test_step_sums_across_wraps);
  g_test_add_func ("/counter/show/table", test_show_table);
  g_test_add_func ("/counter/show/never-zero-and-exact", test_show_never_zero_and_exact);
  g_test_add_func ("/counter/origin", test_origins);
  return g_test_run ();
}
