/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The platform's energy split between VMs: each consumer's share of the RAPL zones in it plus
 * its share of the rest by the policy; the shares add up to the platform's energy exactly; a
 * meter below RAPL's zones is raised to them. */
#include "config.h"

#include "host/attribution/platform-split.h"

#include <math.h>
#include <string.h>

/* Two VMs (a, b), the host's processes and unattributed. */
#define N_VMS 2
#define HOST VP_ATTRIB_HOST (N_VMS)
#define NOBODY VP_ATTRIB_UNATTRIBUTED (N_VMS)

static guint64
split (VpPlatformSplit policy, const VpPlatformTick *tick, const guint64 *contained, guint64 weight_a,
       guint64 weight_b, VpSplitItem *items, guint64 *raised)
{
  memset (items, 0, sizeof (VpSplitItem) * VP_ATTRIB_N_ITEMS (N_VMS));
  items[0].weight = weight_a;
  items[1].weight = weight_b;
  return vp_platform_split (policy, tick, contained, items, N_VMS, raised);
}

static void
test_policies (void)
{
  const guint64 contained[] = { 300, 100, 50, 0 };
  VpPlatformTick tick = { .platform_uj = 1450, .contained_uj = 450, .host_cpus = 4, .host_busy_ns = 1000 };
  VpSplitItem items[VP_ATTRIB_N_ITEMS (N_VMS)];
  guint64 raised;

  /* vcpus: a reserves 1 of 4 CPUs, b 2: the rest (1000) goes 250, 500, and 250 to nobody. */
  g_assert_cmpuint (split (VP_PLATFORM_SPLIT_VCPUS, &tick, contained, 1, 2, items, &raised), ==, 1450);
  g_assert_cmpuint (raised, ==, 0);
  g_assert_cmpuint (items[0].share, ==, 300 + 250);
  g_assert_cmpuint (items[1].share, ==, 100 + 500);
  g_assert_cmpuint (items[HOST].share, ==, 50);
  g_assert_cmpuint (items[NOBODY].share, ==, 250);

  /* More vCPUs than CPUs: the VMs split all of the rest, by their vCPUs. */
  split (VP_PLATFORM_SPLIT_VCPUS, &tick, contained, 4, 4, items, &raised);
  g_assert_cmpuint (items[0].share, ==, 300 + 500);
  g_assert_cmpuint (items[1].share, ==, 100 + 500);
  g_assert_cmpuint (items[NOBODY].share, ==, 0);

  /* cpu-time: a ran 600 ns, b 200 ns, of 1000 busy: the host's processes ran 200. */
  split (VP_PLATFORM_SPLIT_CPU_TIME, &tick, contained, 600, 200, items, &raised);
  g_assert_cmpuint (items[0].share, ==, 300 + 600);
  g_assert_cmpuint (items[1].share, ==, 100 + 200);
  g_assert_cmpuint (items[HOST].share, ==, 50 + 200);
  g_assert_cmpuint (items[NOBODY].share, ==, 0);

  /* even: both running, whatever they ran. */
  split (VP_PLATFORM_SPLIT_EVEN, &tick, contained, 1, 1, items, &raised);
  g_assert_cmpuint (items[0].share, ==, 300 + 500);
  g_assert_cmpuint (items[1].share, ==, 100 + 500);
  g_assert_cmpuint (items[HOST].share + items[NOBODY].share, ==, 50);
}

static void
test_raised_and_nobody (void)
{
  const guint64 contained[] = { 300, 100, 50, 0 };
  VpSplitItem items[VP_ATTRIB_N_ITEMS (N_VMS)];
  guint64 raised;
  /* The meter says less than RAPL's zones (it lags, or is stale): raised to them, nothing more. */
  VpPlatformTick lagging = { .platform_uj = 400, .contained_uj = 450, .host_cpus = 4 };
  g_assert_cmpuint (split (VP_PLATFORM_SPLIT_VCPUS, &lagging, contained, 1, 1, items, &raised), ==, 450);
  g_assert_cmpuint (raised, ==, 50);
  g_assert_cmpuint (items[0].share, ==, 300);
  g_assert_cmpuint (items[1].share, ==, 100);
  g_assert_cmpuint (items[HOST].share, ==, 50);

  /* Nobody to split by: no VM reserves anything (they are gone) and nothing ran. */
  const guint64 none[] = { 0, 0, 0, 0 };
  VpPlatformTick idle = { .platform_uj = 900, .contained_uj = 0, .host_cpus = 0 };
  split (VP_PLATFORM_SPLIT_VCPUS, &idle, none, 0, 0, items, &raised);
  g_assert_cmpuint (items[NOBODY].share, ==, 900);
  split (VP_PLATFORM_SPLIT_CPU_TIME, &idle, none, 0, 0, items, &raised);
  g_assert_cmpuint (items[HOST].share, ==, 900);
}

/* Random ticks with carries kept: every tick's shares add up to what was counted, and over the
 * run each VM's share of the rest is its vCPUs' share, to within a µJ. */
static void
test_random (void)
{
  GRand *rand = g_rand_new_with_seed (32);
  VpSplitItem items[VP_ATTRIB_N_ITEMS (N_VMS)] = { 0 };
  guint64 rest_total = 0, rest_of[N_VMS] = { 0 };
  for (int t = 0; t < 100000; t++)
    {
      guint64 contained[VP_ATTRIB_N_ITEMS (N_VMS)];
      guint64 contained_uj = 0;
      for (int i = 0; i < VP_ATTRIB_N_ITEMS (N_VMS); i++)
        contained_uj += contained[i] = (guint64) g_rand_int_range (rand, 0, 50000);
      VpPlatformTick tick = { .platform_uj = contained_uj + (guint64) g_rand_int_range (rand, 0, 200000),
                              .contained_uj = contained_uj, .host_cpus = 7 };
      items[0].weight = 2;
      items[1].weight = 3;
      guint64 raised;
      guint64 counted = vp_platform_split (VP_PLATFORM_SPLIT_VCPUS, &tick, contained, items, N_VMS, &raised);
      guint64 sum = 0;
      for (int i = 0; i < VP_ATTRIB_N_ITEMS (N_VMS); i++)
        sum += items[i].share;
      g_assert_cmpuint (sum, ==, counted);
      g_assert_cmpuint (counted, ==, tick.platform_uj);
      rest_total += counted - contained_uj;
      for (int i = 0; i < N_VMS; i++)
        {
          g_assert_cmpuint (items[i].share, >=, contained[i]);
          rest_of[i] += items[i].share - contained[i];
        }
    }
  /* 2 and 3 of 7 CPUs. */
  g_assert_cmpfloat (fabs ((double) rest_of[0] - rest_total * 2.0 / 7.0), <=, 1.0);
  g_assert_cmpfloat (fabs ((double) rest_of[1] - rest_total * 3.0 / 7.0), <=, 1.0);
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/platform-split/policies", test_policies);
  g_test_add_func ("/platform-split/raised-and-nobody", test_raised_and_nobody);
  g_test_add_func ("/platform-split/random", test_random);
  return g_test_run ();
}
