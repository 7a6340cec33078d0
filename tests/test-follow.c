/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the guest's counters from channel messages (guest/follow.c): exact on one host, carried on across a
 * change of host or epoch, never going back, wrapping only at the range they were first shown with. */
#include "config.h"

#include "guest/follow.h"
#include "shared/vp-error.h"

#define MAX_A G_GUINT64_CONSTANT (262143328850)
#define MAX_B G_GUINT64_CONSTANT (65532610987)

typedef struct {
  const char *host;
  guint64 epoch, run, seq;
  guint64 max;
  guint64 package, core;
} Step;

static VpChannelMessage *
message (const Step *step)
{
  VpChannelMessage *m = g_new0 (VpChannelMessage, 1);
  m->version = 1;
  m->host_id = g_strdup (step->host);
  m->epoch = step->epoch;
  m->run = step->run;
  m->seq = step->seq;
  m->n_zones = 2;
  m->zones = g_new0 (VpPubZone, 2);
  m->zones[0] = (VpPubZone) { g_strdup ("0"), g_strdup ("package-0"), step->max };
  m->zones[1] = (VpPubZone) { g_strdup ("0:0"), g_strdup ("core"), step->max };
  m->energy_uj = g_new0 (guint64, 2);
  m->energy_uj[0] = step->package;
  m->energy_uj[1] = step->core;
  return m;
}

/* Applies a step and returns what the guest's package and core files show. */
static gboolean
apply (VpFollower *follower, const Step *step, guint64 *package, guint64 *core, guint64 *max)
{
  g_autoptr (VpChannelMessage) m = message (step);
  g_autoptr (GError) error = NULL;
  gboolean ok = vp_follower_apply (follower, m, &error);
  g_autoptr (VpPublication) shown = vp_follower_publication (follower);
  *package = shown->vms[0].energy_uj[0];
  *core = shown->vms[0].energy_uj[1];
  *max = shown->zones[0].max_energy_range_uj;
  g_assert_cmpuint (shown->vms[0].uid, ==, 0);
  return ok;
}

/* One host, one epoch: exactly the host's values, a wrap included; across an
 * engine restart (a new run, seq from 1) too. */
static void
test_exact_on_one_host (void)
{
  g_autoptr (VpFollower) follower = vp_follower_new ();
  g_assert_null (vp_follower_publication (follower));
  const Step steps[] = {
    { "a", 5, 1, 1, MAX_A, MAX_A - 1000, 10 },
    { "a", 5, 1, 2, MAX_A, MAX_A, 20 },          /* 0 is shown as max */
    { "a", 5, 1, 3, MAX_A, 500, 30 },            /* wrapped */
    { "a", 5, 2, 1, MAX_A, 900, 40 },            /* engine restarted: new run */
  };
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      guint64 package, core, max;
      g_assert_true (apply (follower, &steps[i], &package, &core, &max));
      g_assert_cmpuint (package, ==, steps[i].package);
      g_assert_cmpuint (core, ==, steps[i].core);
      g_assert_cmpuint (max, ==, MAX_A);
    }
  g_assert_cmpuint (vp_follower_origin_changes (follower), ==, 0);
}

/* Another host or epoch: carry on from the last value, the change's message
 * adds nothing, the next ones add the new host's increments; the first
 * range is kept. */
static void
test_carries_on_across_changes (void)
{
  g_autoptr (VpFollower) follower = vp_follower_new ();
  guint64 package, core, max;
  const Step a1 = { "a", 5, 1, 1, MAX_A, 1000000, 70 };
  const Step a2 = { "a", 5, 1, 2, MAX_A, 1000500, 80 };
  g_assert_true (apply (follower, &a1, &package, &core, &max));
  g_assert_true (apply (follower, &a2, &package, &core, &max));
  /* B: far lower values, another range. */
  const Step b1 = { "b", 9, 3, 1, MAX_B, MAX_B - 150, 7 };
  const Step b2 = { "b", 9, 3, 2, MAX_B, MAX_B - 50, 17 };
  g_assert_true (apply (follower, &b1, &package, &core, &max));
  g_assert_cmpuint (package, ==, 1000500);
  g_assert_cmpuint (core, ==, 80);
  g_assert_cmpuint (max, ==, MAX_A);
  g_assert_true (apply (follower, &b2, &package, &core, &max));
  g_assert_cmpuint (package, ==, 1000600);
  g_assert_cmpuint (core, ==, 90);
  /* B wraps at its own range: the increment still counts, once. */
  const Step b3 = { "b", 9, 3, 3, MAX_B, 30, 27 };   /* from MAX_B - 50: 50 + 30 */
  g_assert_true (apply (follower, &b3, &package, &core, &max));
  g_assert_cmpuint (package, ==, 1000680);
  /* Same host, new epoch (its counters began anew): carried on too. */
  const Step b4 = { "b", 10, 3, 4, MAX_B, 5, 5 };
  g_assert_true (apply (follower, &b4, &package, &core, &max));
  g_assert_cmpuint (package, ==, 1000680);
  g_assert_cmpuint (vp_follower_origin_changes (follower), ==, 2);
  /* Back on A in its old epoch: still a change (the host changed), still no step back. */
  const Step a3 = { "a", 5, 1, 3, MAX_A, 2000000, 100 };
  guint64 before = package;
  g_assert_true (apply (follower, &a3, &package, &core, &max));
  g_assert_cmpuint (package, ==, before);
  g_assert_cmpuint (vp_follower_origin_changes (follower), ==, 3);
}

/* The guest's counter wraps at its own (first) range when the increments of
 * another host's range carry it past the top. */
static void
test_wraps_at_own_range (void)
{
  g_autoptr (VpFollower) follower = vp_follower_new ();
  guint64 package, core, max;
  const Step a1 = { "a", 1, 1, 1, MAX_B, MAX_B - 10, 1 };
  const Step b1 = { "b", 1, 1, 1, MAX_A, 1000, 1 };
  const Step b2 = { "b", 1, 1, 2, MAX_A, 1030, 1 };
  g_assert_true (apply (follower, &a1, &package, &core, &max));
  g_assert_true (apply (follower, &b1, &package, &core, &max));
  g_assert_true (apply (follower, &b2, &package, &core, &max));
  g_assert_cmpuint (max, ==, MAX_B);
  g_assert_cmpuint (package, ==, 20);   /* MAX_B - 10 + 30, wrapped at MAX_B */
}

/* Within one run, a seq not above the last is refused and changes nothing. A
 * host counter that goes back within an epoch (more than half a range) is
 * taken as a change of origin, never shown. */
static void
test_refusals_and_going_back (void)
{
  g_autoptr (VpFollower) follower = vp_follower_new ();
  guint64 package, core, max;
  const Step s5 = { "a", 1, 7, 5, MAX_A, 5000000, 50 };
  const Step s6 = { "a", 1, 7, 6, MAX_A, 5000100, 60 };
  const Step replay = { "a", 1, 7, 5, MAX_A, 9000000, 90 };
  g_assert_true (apply (follower, &s5, &package, &core, &max));
  g_assert_true (apply (follower, &s6, &package, &core, &max));
  g_assert_false (apply (follower, &replay, &package, &core, &max));
  g_assert_cmpuint (package, ==, 5000100);
  const Step same_seq = { "a", 1, 7, 6, MAX_A, 5000200, 70 };
  g_assert_false (apply (follower, &same_seq, &package, &core, &max));
  /* Back by a little: more than half a range forward if taken as a wrap. */
  const Step back = { "a", 1, 7, 7, MAX_A, 4000000, 60 };
  g_test_expect_message ("vpower-agent", G_LOG_LEVEL_WARNING, "*counter went back within one epoch*");
  g_assert_true (apply (follower, &back, &package, &core, &max));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (package, ==, 5000100);
  g_assert_cmpuint (vp_follower_origin_changes (follower), ==, 1);
  const Step next = { "a", 1, 7, 8, MAX_A, 4000300, 61 };
  g_assert_true (apply (follower, &next, &package, &core, &max));
  g_assert_cmpuint (package, ==, 5000400);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/follow/exact-on-one-host", test_exact_on_one_host);
  g_test_add_func ("/follow/carries-on", test_carries_on_across_changes);
  g_test_add_func ("/follow/wraps-at-own-range", test_wraps_at_own_range);
  g_test_add_func ("/follow/refusals-and-going-back", test_refusals_and_going_back);
  return g_test_run ();
}
