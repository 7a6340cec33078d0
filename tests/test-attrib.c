/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the attribution policies (host/attribution/attrib.c), table-driven, plus conservation. */
#include "config.h"

#include "host/attribution/attrib.h"

#include <math.h>

#define S G_GUINT64_CONSTANT (1000000000)   /* one second in ns */

typedef struct {
  const char *what;
  VpPolicy policy;
  guint64 energy_uj;
  guint64 host_busy_ns;
  guint64 capacity_ns;
  guint n_vms;
  guint64 vm_ns[3];
  guint64 want_vms[3];
  guint64 want_host;
  guint64 want_unattributed;
} AttribCase;

/* A 2-CPU package over 1 s (capacity 2 s), 100 J in the tick. */
static const AttribCase cases[] = {
  { "busy: VMs and host by busy share", VP_POLICY_BUSY, 100000000, 1 * S, 2 * S, 2,
    { S / 2, S / 4 }, { 50000000, 25000000 }, 25000000, 0 },
  { "busy: idle host, one VM takes it all", VP_POLICY_BUSY, 100000000, S / 10, 2 * S, 1,
    { S / 10 }, { 100000000 }, 0, 0 },
  { "busy: nothing busy, host keeps the energy", VP_POLICY_BUSY, 100000000, 0, 2 * S, 1,
    { 0 }, { 0 }, 100000000, 0 },
  { "busy: VM time above /proc/stat busy (tick rounding) leaves host 0", VP_POLICY_BUSY, 90, S, 2 * S, 2,
    { S, S / 2 }, { 60, 30 }, 0, 0 },
  { "active: idle fraction unattributed", VP_POLICY_ACTIVE, 100000000, 1 * S, 2 * S, 2,
    { S / 2, S / 4 }, { 25000000, 12500000 }, 12500000, 50000000 },
  { "active: fully busy package leaves nothing unattributed", VP_POLICY_ACTIVE, 100000000, 2 * S, 2 * S, 1,
    { S }, { 50000000 }, 50000000, 0 },
  { "active: nothing busy, all unattributed", VP_POLICY_ACTIVE, 100000000, 0, 2 * S, 1,
    { 0 }, { 0 }, 0, 100000000 },
  { "capacity: energy x CPU time / (CPUs x interval)", VP_POLICY_CAPACITY, 100000000, 1 * S, 2 * S, 2,
    { S / 2, S / 4 }, { 25000000, 12500000 }, 0, 62500000 },
  { "capacity: over-full VM time is capped at the energy", VP_POLICY_CAPACITY, 100000000, 2 * S, 2 * S, 2,
    { 2 * S, 2 * S }, { 50000000, 50000000 }, 0, 0 },
  { "capacity: no VMs, all unattributed", VP_POLICY_CAPACITY, 1000, S, 2 * S, 0,
    { 0 }, { 0 }, 0, 1000 },
  { "zero-length tick: busy gives it to the host", VP_POLICY_BUSY, 10, 0, 0, 1,
    { 0 }, { 0 }, 10, 0 },
  { "zero-length tick: capacity leaves it unattributed", VP_POLICY_CAPACITY, 10, 0, 0, 1,
    { 0 }, { 0 }, 0, 10 },
};

static void
test_policy_table (void)
{
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const AttribCase *t = &cases[c];
      VpSplitItem items[VP_ATTRIB_N_ITEMS (3)] = { 0 };
      VpAttribZone zone = { .energy_uj = t->energy_uj, .host_busy_ns = t->host_busy_ns, .capacity_ns = t->capacity_ns };
      g_test_message ("%s", t->what);
      for (guint i = 0; i < t->n_vms; i++)
        items[i].weight = t->vm_ns[i];
      vp_attrib_split (t->policy, &zone, items, t->n_vms);
      for (guint i = 0; i < t->n_vms; i++)
        g_assert_cmpuint (items[i].share, ==, t->want_vms[i]);
      g_assert_cmpuint (items[VP_ATTRIB_HOST (t->n_vms)].share, ==, t->want_host);
      g_assert_cmpuint (items[VP_ATTRIB_UNATTRIBUTED (t->n_vms)].share, ==, t->want_unattributed);
    }
}

/* Property: under every policy, over randomized ticks and many VMs,
 * sum(VMs) + host + unattributed == the zone's energy, exactly, every
 * tick; and over thousands of ticks each VM's total stays within 1 µJ of
 * its exact real-valued share (no drift). */
static void
test_conservation_random (gconstpointer data)
{
  VpPolicy policy = GPOINTER_TO_INT (data);
  enum { N_VMS = 12, TICKS = 5000 };
  VpSplitItem items[VP_ATTRIB_N_ITEMS (N_VMS)] = { 0 };
  guint64 energy_total = 0, sums[VP_ATTRIB_N_ITEMS (N_VMS)] = { 0 };
  double exact_vm0 = 0;

  for (int tick = 0; tick < TICKS; tick++)
    {
      guint cpus = 1 + g_test_rand_int_range (0, 64);
      guint64 capacity = cpus * S;
      guint64 vm_sum = 0;
      for (int i = 0; i < N_VMS; i++)
        {
          /* Some ticks a VM is stopped; times in ns, not multiples of anything. */
          items[i].weight = g_test_rand_bit () ? (guint64) g_test_rand_int_range (0, (gint32) (S / 3)) : 0;
          vm_sum += items[i].weight;
        }
      VpAttribZone zone = {
        .energy_uj = (guint64) g_test_rand_int_range (0, 400000000),
        .host_busy_ns = MIN (capacity, vm_sum + (guint64) g_test_rand_int_range (0, (gint32) S)),
        .capacity_ns = capacity,
      };
      /* The exact share of VM 0 under this policy, as a real number. */
      guint64 host_ns = zone.host_busy_ns > vm_sum ? zone.host_busy_ns - vm_sum : 0;
      double denominator = policy == VP_POLICY_BUSY ? (double) (vm_sum + host_ns)
                         : policy == VP_POLICY_ACTIVE ? (double) MAX (capacity, vm_sum + host_ns)
                         : (double) MAX (capacity, vm_sum);
      if (denominator > 0)
        exact_vm0 += (double) zone.energy_uj * items[0].weight / denominator;

      vp_attrib_split (policy, &zone, items, N_VMS);
      guint64 sum = 0;
      for (gsize i = 0; i < VP_ATTRIB_N_ITEMS (N_VMS); i++)
        {
          sum += items[i].share;
          sums[i] += items[i].share;
        }
      g_assert_cmpuint (sum, ==, zone.energy_uj);
      energy_total += zone.energy_uj;
    }
  guint64 grand = 0;
  for (gsize i = 0; i < VP_ATTRIB_N_ITEMS (N_VMS); i++)
    grand += sums[i];
  g_assert_cmpuint (grand, ==, energy_total);
  g_assert_cmpfloat (fabs ((double) sums[0] - exact_vm0), <=, 1.0);
  if (policy == VP_POLICY_CAPACITY)
    g_assert_cmpuint (sums[VP_ATTRIB_HOST (N_VMS)], ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attrib/policy/table", test_policy_table);
  g_test_add_data_func ("/attrib/busy/conservation", GINT_TO_POINTER (VP_POLICY_BUSY), test_conservation_random);
  g_test_add_data_func ("/attrib/active/conservation", GINT_TO_POINTER (VP_POLICY_ACTIVE), test_conservation_random);
  g_test_add_data_func ("/attrib/capacity/conservation", GINT_TO_POINTER (VP_POLICY_CAPACITY), test_conservation_random);
  return g_test_run ();
}
