/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: host CPU accounting (/proc/stat, topology) and per-thread run time. */
#include "config.h"

#include "host/sense/cpustat.h"
#include "host/sense/taskstat.h"
#include "shared/vp-error.h"

#include <unistd.h>

static guint64 tick_ns;

static void
test_proc_stat_parse (void)
{
  g_autofree char *proc = g_test_build_filename (G_TEST_DIST, "data", "proc-4cpu", NULL);
  VpCpuSample sample = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_cpu_sample_read (proc, &sample, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sample.n_cpus, ==, 4);
  /* cpu1: user 100 nice 0 system 50 idle 1000 iowait 10 irq 0 softirq 5
   * steal 5 guest 75: busy = 100+0+50+0+5 = 155 ticks; the 75 guest ticks
   * are inside user already and must not be added again. */
  g_assert_cmpuint (sample.cpu[1].busy_ns, ==, 155 * tick_ns);
  g_assert_cmpuint (sample.cpu[1].total_ns, ==, (155 + 1000 + 10 + 5) * tick_ns);
  g_assert_cmpuint (sample.cpu[0].busy_ns, ==, 150 * tick_ns);
  vp_cpu_sample_clear (&sample);
}

static void
test_proc_stat_malformed (void)
{
  VpCpuSample sample = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_false (vp_cpu_sample_parse ("cpu  1 2 3\ncpu0 1 2 x\n", &sample, &error));
  g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_false (vp_cpu_sample_parse ("intr 1 2 3\n", &sample, &error));
  g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
  vp_cpu_sample_clear (&sample);
}

static void
test_topology_and_package_deltas (void)
{
  g_autofree char *proc = g_test_build_filename (G_TEST_DIST, "data", "proc-4cpu", NULL);
  g_autofree char *sys = g_test_build_filename (G_TEST_DIST, "data", "sysfs-2pkg", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpTopology) topology = vp_topology_load (proc, sys, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (topology->n_packages, ==, 2);
  g_assert_cmpint (topology->package_of_cpu[1], ==, 0);
  g_assert_cmpint (topology->package_of_cpu[2], ==, 1);
  g_assert_cmpuint (topology->cpus_in_package[1], ==, 2);

  VpCpuTimes before[4] = { { 100, 1000 }, { 100, 1000 }, { 100, 1000 }, { 100, 1000 } };
  VpCpuTimes after[4] = { { 150, 2000 }, { 130, 2000 }, { 100, 2000 }, { 90, 2000 } };
  VpCpuSample prev = { 4, before }, cur = { 4, after };
  guint64 busy[2], total[2];
  vp_cpu_sample_package_deltas (topology, &prev, &cur, busy, total);
  g_assert_cmpuint (busy[0], ==, 80);
  g_assert_cmpuint (busy[1], ==, 0);   /* cpu3 went backwards (hotplug): counts 0, not 2^64 */
  g_assert_cmpuint (total[1], ==, 2000);
}

static void
test_topology_without_sysfs (void)
{
  /* No topology files (containers): everything is package 0. */
  g_autofree char *proc = g_test_build_filename (G_TEST_DIST, "data", "proc-4cpu", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpTopology) topology = vp_topology_load (proc, "/nonexistent", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (topology->n_packages, ==, 1);
  g_assert_cmpuint (topology->cpus_in_package[0], ==, 4);
}

static void
test_task_stat_parse (void)
{
  /* QEMU names threads "CPU 0/TCG"; a hostile name can hold ") " too. */
  static const char *const lines[] = {
    "1234 (CPU 0/TCG) S 1 1 1 0 -1 4194624 0 0 0 0 10 5 0 0 20 0 3 0 4242 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 -1 3 0 0 0 0 0\n",
    "1234 (a) b) c (d) R 1 1 1 0 -1 4194624 0 0 0 0 10 5 0 0 20 0 3 0 4242 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 -1 3 0 0 0 0 0\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      guint64 start = 0;
      int cpu = -2;
      g_assert_true (vp_parse_task_stat (lines[i], &start, &cpu));
      g_assert_cmpuint (start, ==, 4242);
      g_assert_cmpint (cpu, ==, 3);
      /* utime and stime, which the /proc source adds up for a process's total. */
      static const guint times[] = { 14, 15 };
      guint64 values[2] = { 0, 0 };
      g_assert_true (vp_parse_stat_fields (lines[i], times, 2, values));
      g_assert_cmpuint (values[0], ==, 10);
      g_assert_cmpuint (values[1], ==, 5);
    }
  guint64 start;
  int cpu;
  g_assert_false (vp_parse_task_stat ("1234 (short) S 1 2 3\n", &start, &cpu));
  g_assert_false (vp_parse_task_stat ("no parenthesis at all", &start, &cpu));
  static const guint fourteen[] = { 14 };
  guint64 value;
  g_assert_false (vp_parse_stat_fields ("1 (x) S 1 2 3 4 5 6 7 8 9 10 x\n", fourteen, 1, &value));
}

static void
test_process_times_real (void)
{
  g_autoptr (VpProcessTimes) times = vp_process_times_new ();
  g_autoptr (GError) error = NULL;
  /* Another process: a running thread's own schedstat may lag until the
   * scheduler next updates it, and vpowerd never reads itself. */
  g_assert_true (vp_process_times_read ("/proc", getppid (), times, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (times->tasks->len, >=, 1);
  g_assert_cmpuint (times->start_ticks, >, 0);
  g_assert_cmpuint (g_array_index (times->tasks, VpTaskTime, 0).runtime_ns, >, 0);

  g_assert_false (vp_process_times_read ("/proc", G_MAXINT - 1, times, &error));
  g_assert_error (error, VP_ERROR, VP_ERROR_NOT_FOUND);
}

static void
test_process_package_deltas (void)
{
  int package_of_cpu[4] = { 0, 0, 1, 1 };
  g_autoptr (VpProcessTimes) prev = vp_process_times_new ();
  g_autoptr (VpProcessTimes) cur = vp_process_times_new ();
  VpTaskTime before[] = { { 10, 0, 1000 }, { 11, 2, 500 }, { 12, 3, 700 } };
  /* Thread 12 exited; thread 13 is new (counts from zero); thread 11 moved to cpu 1. */
  VpTaskTime after[] = { { 10, 1, 1600 }, { 11, 1, 900 }, { 13, 3, 250 } };
  prev->pid = cur->pid = 10;
  prev->start_ticks = cur->start_ticks = 77;
  g_array_append_vals (prev->tasks, before, 3);
  g_array_append_vals (cur->tasks, after, 3);

  guint64 per_package[2] = { 0, 0 };
  g_assert_true (vp_process_times_package_deltas (prev, cur, package_of_cpu, 4, per_package));
  g_assert_cmpuint (per_package[0], ==, 600 + 400);
  g_assert_cmpuint (per_package[1], ==, 250);

  /* Same PID, another process (PID reuse): nothing is counted. */
  cur->start_ticks = 78;
  per_package[0] = per_package[1] = 0;
  g_assert_false (vp_process_times_package_deltas (prev, cur, package_of_cpu, 4, per_package));
  g_assert_cmpuint (per_package[0] + per_package[1], ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tick_ns = 1000000000ull / (guint64) sysconf (_SC_CLK_TCK);
  g_test_add_func ("/cpustat/proc-stat/parse", test_proc_stat_parse);
  g_test_add_func ("/cpustat/proc-stat/malformed", test_proc_stat_malformed);
  g_test_add_func ("/cpustat/topology/package-deltas", test_topology_and_package_deltas);
  g_test_add_func ("/cpustat/topology/no-sysfs", test_topology_without_sysfs);
  g_test_add_func ("/taskstat/stat/parse", test_task_stat_parse);
  g_test_add_func ("/taskstat/process/real", test_process_times_real);
  g_test_add_func ("/taskstat/process/package-deltas", test_process_package_deltas);
  return g_test_run ();
}
