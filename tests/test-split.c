/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the exact integer split with carried remainders (shared/vp-split.c). */
#include "config.h"

#include "shared/vp-split.h"

#include <math.h>

static guint64
sum_shares (const VpSplitItem *items, gsize n)
{
  guint64 sum = 0;
  for (gsize i = 0; i < n; i++)
    sum += items[i].share;
  return sum;
}

static void
test_split_table (void)
{
  static const struct {
    guint64 amount;
    guint64 weights[4];
    guint64 shares[4];
  } cases[] = {
    { 100, { 1, 1, 0, 0 }, { 50, 50, 0, 0 } },
    { 100, { 3, 1, 0, 0 }, { 75, 25, 0, 0 } },
    { 10, { 1, 1, 1, 0 }, { 4, 3, 3, 0 } },         /* leftover to the first of equals */
    { 1, { 1, 1000000, 0, 0 }, { 0, 1, 0, 0 } },
    { 0, { 5, 5, 5, 5 }, { 0, 0, 0, 0 } },
    { G_MAXUINT64 / 2, { G_MAXUINT64 / 4, G_MAXUINT64 / 4, 0, 0 }, { G_MAXUINT64 / 4 + 1, G_MAXUINT64 / 4, 0, 0 } },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      VpSplitItem items[4] = { 0 };
      for (int i = 0; i < 4; i++)
        items[i].weight = cases[c].weights[i];
      g_assert_true (vp_split_exact (cases[c].amount, items, 4));
      for (int i = 0; i < 4; i++)
        g_assert_cmpuint (items[i].share, ==, cases[c].shares[i]);
    }
}

static void
test_split_zero_weights (void)
{
  VpSplitItem items[2] = { { .weight = 0 }, { .weight = 0 } };
  g_assert_false (vp_split_exact (100, items, 2));
  g_assert_false (vp_split_exact (100, items, 0));
}

/* Over thousands of ticks, a consumer with a tiny weight gets its exact
 * share (within 1 µJ), not zero every tick: the carry at work. */
static void
test_split_no_drift (void)
{
  VpSplitItem items[3] = { { .weight = 1 }, { .weight = 997 }, { .weight = 2 } };
  guint64 totals[3] = { 0 }, amount_total = 0;
  for (int tick = 0; tick < 5000; tick++)
    {
      guint64 amount = 7;   /* 7 * 1/1000 = 0.007 µJ a tick for the first */
      amount_total += amount;
      g_assert_true (vp_split_exact (amount, items, 3));
      g_assert_cmpuint (sum_shares (items, 3), ==, amount);
      for (int i = 0; i < 3; i++)
        totals[i] += items[i].share;
    }
  double exact[3] = { amount_total * 1 / 1000.0, amount_total * 997 / 1000.0, amount_total * 2 / 1000.0 };
  for (int i = 0; i < 3; i++)
    g_assert_cmpfloat (fabs ((double) totals[i] - exact[i]), <=, 1.0);
}

/* Property: for random amounts and weights, shares always add up exactly,
 * and carries stay bounded. */
static void
test_split_conservation_random (void)
{
  VpSplitItem items[17] = { 0 };
  for (int round = 0; round < 20000; round++)
    {
      gsize n = (gsize) g_test_rand_int_range (1, G_N_ELEMENTS (items) + 1);
      guint64 amount = (guint64) g_test_rand_int () * (guint64) g_test_rand_int_range (0, 1 << 20);
      gboolean any = FALSE;
      for (gsize i = 0; i < n; i++)
        {
          items[i].weight = g_test_rand_bit () ? (guint64) g_test_rand_int () * 1000 : 0;
          any |= items[i].weight != 0;
        }
      if (!any)
        continue;
      g_assert_true (vp_split_exact (amount, items, n));
      g_assert_cmpuint (sum_shares (items, n), ==, amount);
      for (gsize i = 0; i < n; i++)
        g_assert_cmpint (items[i].carry, <=, 2 * VP_SPLIT_CARRY_ONE);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/split/table", test_split_table);
  g_test_add_func ("/split/zero-weights", test_split_zero_weights);
  g_test_add_func ("/split/no-drift", test_split_no_drift);
  g_test_add_func ("/split/conservation/random", test_split_conservation_random);
  return g_test_run ();
}
