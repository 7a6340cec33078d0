/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the guest's per-process energy split (guest/procsplit.c). */
#include "config.h"

#include "guest/procsplit.h"

#include "shared/vp-error.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static void
add_reading (GArray *readings, int pid, guint64 start, guint64 cpu, const char *comm)
{
  VpProcReading reading = { .pid = pid, .start_ticks = start, .cpu_ticks = cpu };
  g_strlcpy (reading.comm, comm, sizeof reading.comm);
  g_array_append_val (readings, reading);
}

static guint64
result_sum (const VpProcSplitResult *result)
{
  guint64 sum = result->other_uj;
  for (guint i = 0; i < result->top->len; i++)
    sum += g_array_index (result->top, VpProcShare, i).energy_uj;
  return sum;
}

static const VpProcShare *
top_at (const VpProcSplitResult *result, guint i)
{
  return &g_array_index (result->top, VpProcShare, i);
}

/* The first interval has no CPU deltas: its energy is "other", no process is
 * charged for CPU time it spent before the agent started. */
static void
test_baseline_goes_to_other (void)
{
  g_autoptr (VpProcSplit) split = vp_proc_split_new (5);
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  VpProcSplitResult result;
  vp_proc_split_result_init (&result);
  add_reading (readings, 10, 1, 5000, "old");
  vp_proc_split_apply (split, readings, 100000, 7000000, &result);
  g_assert_cmpuint (result.top->len, ==, 0);
  g_assert_cmpuint (result.other_uj, ==, 7000000);
  vp_proc_split_result_clear (&result);
}

/* Shares follow CPU time; busy time no process accounts for (interrupts,
 * exited processes) is part of "other"; top N are named, the rest in other. */
static void
test_busy_share_rule (void)
{
  g_autoptr (VpProcSplit) split = vp_proc_split_new (2);
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  VpProcSplitResult result;
  vp_proc_split_result_init (&result);

  add_reading (readings, 1, 1, 100, "a");
  add_reading (readings, 2, 1, 100, "b");
  add_reading (readings, 3, 1, 100, "c");
  vp_proc_split_apply (split, readings, 1000, 0, &result);

  /* Next interval: a ran 50 ticks, b 30, c 10, and 10 ticks went elsewhere. */
  g_array_set_size (readings, 0);
  add_reading (readings, 1, 1, 150, "a");
  add_reading (readings, 2, 1, 130, "b");
  add_reading (readings, 3, 1, 110, "c");
  vp_proc_split_apply (split, readings, 1100, 10000000, &result);

  g_assert_cmpuint (result.busy_ticks, ==, 100);
  g_assert_cmpuint (result.top->len, ==, 2);
  g_assert_cmpint (top_at (&result, 0)->pid, ==, 1);
  g_assert_cmpuint (top_at (&result, 0)->energy_uj, ==, 5000000);
  g_assert_cmpuint (top_at (&result, 0)->cpu_ticks, ==, 50);
  g_assert_cmpint (top_at (&result, 1)->pid, ==, 2);
  g_assert_cmpuint (top_at (&result, 1)->energy_uj, ==, 3000000);
  g_assert_cmpstr (top_at (&result, 1)->comm, ==, "b");
  /* c's 1 J and the unaccounted 1 J */
  g_assert_cmpuint (result.other_uj, ==, 2000000);
  g_assert_cmpuint (result_sum (&result), ==, 10000000);
  vp_proc_split_result_clear (&result);
}

/* An idle interval (no busy time at all) still hands out all the energy. */
static void
test_idle_interval (void)
{
  g_autoptr (VpProcSplit) split = vp_proc_split_new (3);
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  VpProcSplitResult result;
  vp_proc_split_result_init (&result);
  add_reading (readings, 1, 1, 100, "a");
  vp_proc_split_apply (split, readings, 500, 0, &result);
  vp_proc_split_apply (split, readings, 500, 123456, &result);
  g_assert_cmpuint (result.top->len, ==, 0);
  g_assert_cmpuint (result.other_uj, ==, 123456);
  /* And with no process readable at all. */
  g_array_set_size (readings, 0);
  vp_proc_split_apply (split, readings, 600, 654321, &result);
  g_assert_cmpuint (result.other_uj, ==, 654321);
  g_assert_cmpuint (result.other_total_uj, ==, 123456 + 654321);
  vp_proc_split_result_clear (&result);
}

/* A PID reused by a new process is a new process: all its CPU time is new,
 * and it does not inherit the old one's total. */
static void
test_pid_reuse (void)
{
  g_autoptr (VpProcSplit) split = vp_proc_split_new (3);
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  VpProcSplitResult result;
  vp_proc_split_result_init (&result);
  add_reading (readings, 7, 100, 1000, "old");
  vp_proc_split_apply (split, readings, 10000, 0, &result);
  g_array_set_size (readings, 0);
  add_reading (readings, 7, 100, 1010, "old");
  vp_proc_split_apply (split, readings, 10010, 1000, &result);
  g_assert_cmpuint (top_at (&result, 0)->total_uj, ==, 1000);

  g_array_set_size (readings, 0);
  add_reading (readings, 7, 900, 30, "new");
  add_reading (readings, 8, 100, 0, "idle");
  vp_proc_split_apply (split, readings, 10050, 4000, &result);
  g_assert_cmpuint (result.top->len, ==, 1);
  g_assert_cmpstr (top_at (&result, 0)->comm, ==, "new");
  g_assert_cmpuint (top_at (&result, 0)->cpu_ticks, ==, 30);
  g_assert_cmpuint (top_at (&result, 0)->energy_uj, ==, 3000);   /* 30 of 40 busy ticks */
  g_assert_cmpuint (top_at (&result, 0)->total_uj, ==, 3000);
  g_assert_cmpuint (result.other_uj, ==, 1000);
  vp_proc_split_result_clear (&result);
}

/* Over many intervals of awkward numbers: every interval adds up exactly,
 * and each process's total stays within 1 µJ of its exact rational share. */
static void
test_conservation_and_no_drift (void)
{
  g_autoptr (VpProcSplit) split = vp_proc_split_new (3);
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  VpProcSplitResult result;
  vp_proc_split_result_init (&result);
  guint64 cpu[5] = { 0 }, busy = 0;
  double exact[5] = { 0 };
  guint64 total[5] = { 0 };

  GRand *rand = g_rand_new_with_seed (42);
  for (guint interval = 0; interval < 2000; interval++)
    {
      guint64 deltas[5], sum = 0, energy = g_rand_int_range (rand, 0, 50000000);
      g_array_set_size (readings, 0);
      for (int p = 0; p < 5; p++)
        {
          deltas[p] = g_rand_int_range (rand, 0, 7);
          cpu[p] += deltas[p];
          sum += deltas[p];
          add_reading (readings, 100 + p, 1, cpu[p], "p");
        }
      busy += sum + 1;   /* always one tick of interrupts */
      vp_proc_split_apply (split, readings, busy, energy, &result);
      g_assert_cmpuint (result_sum (&result), ==, energy);
      if (interval == 0)
        continue;
      for (int p = 0; p < 5; p++)
        exact[p] += (double) energy * deltas[p] / (sum + 1);
      for (guint i = 0; i < result.top->len; i++)
        total[top_at (&result, i)->pid - 100] = top_at (&result, i)->total_uj;
    }
  /* Processes in the last top N: their totals are current. */
  for (guint i = 0; i < result.top->len; i++)
    {
      int p = top_at (&result, i)->pid - 100;
      g_assert_cmpfloat (fabs ((double) total[p] - exact[p]), <=, 1.0 + exact[p] * 1e-12);
    }
  g_rand_free (rand);
  vp_proc_split_result_clear (&result);
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

/* /proc as the kernel writes it, including a comm with blanks and parentheses
 * and garbage that must be skipped, not fatal. */
static void
test_read_proc_fixture (void)
{
  g_autofree char *root = g_dir_make_tmp ("vp-proc-XXXXXX", NULL);
  write_file (root, "stat", "cpu  100 20 30 4000 50 6 7 8 0 0\ncpu0 100 20 30 4000 50 6 7 8 0 0\nintr 1 2 3\n");
  write_file (root, "42/stat", "42 (we) (ird) S 1 42 42 0 -1 4194560 100 0 0 0 12 34 0 0 20 0 1 0 5555 1000 100 "
                               "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
  write_file (root, "43/stat", "garbage");
  write_file (root, "self/stat", "not a pid directory");
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  guint64 busy = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_proc_read (root, readings, &busy, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (busy, ==, 100 + 20 + 30 + 6 + 7);
  g_assert_cmpuint (readings->len, ==, 1);
  const VpProcReading *reading = &g_array_index (readings, VpProcReading, 0);
  g_assert_cmpint (reading->pid, ==, 42);
  g_assert_cmpstr (reading->comm, ==, "we) (ird");
  g_assert_cmpuint (reading->cpu_ticks, ==, 12 + 34);
  g_assert_cmpuint (reading->start_ticks, ==, 5555);

  write_file (root, "stat", "nonsense\n");
  g_assert_false (vp_proc_read (root, readings, &busy, &error));
  g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", root);
  g_assert_cmpint (system (command), ==, 0);
}

/* The real /proc: this process is there, by name. */
static void
test_read_real_proc (void)
{
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  guint64 busy = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_proc_read ("/proc", readings, &busy, &error));
  g_assert_cmpuint (busy, >, 0);
  gboolean found = FALSE;
  for (guint i = 0; i < readings->len; i++)
    if (g_array_index (readings, VpProcReading, i).pid == getpid ())
      found = g_str_has_prefix (g_array_index (readings, VpProcReading, i).comm, "test-procsplit");
  g_assert_true (found);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/procsplit/baseline", test_baseline_goes_to_other);
  g_test_add_func ("/procsplit/busy-share", test_busy_share_rule);
  g_test_add_func ("/procsplit/idle", test_idle_interval);
  g_test_add_func ("/procsplit/pid-reuse", test_pid_reuse);
  g_test_add_func ("/procsplit/conservation", test_conservation_and_no_drift);
  g_test_add_func ("/procsplit/read-fixture", test_read_proc_fixture);
  g_test_add_func ("/procsplit/read-real", test_read_real_proc);
  return g_test_run ();
}
