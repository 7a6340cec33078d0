/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark: what the BPF CPU-time source's sched_switch program costs the host (issue 24).
 *
 *   bench-switch [ROUND_TRIPS]     (default 200000; as root)
 *
 * A context-switch-heavy workload: two processes pinned to CPU 0 pass a byte back and forth over
 * two pipes, so every round trip is two context switches. Its wall time per round trip is
 * measured in alternating blocks (medians of 5), in the same run:
 *   none      no program loaded;
 *   unlisted  the program loaded (vp_cpu_source_bpf_new), the two processes not VMs: a switch
 *             costs its two hash lookups, as almost all of a host's switches do;
 *   listed    the two processes given slots, as VMs: every switch also charges a counter.
 * Then the program's own time per run, from the kernel's BPF statistics
 * (kernel.bpf_stats_enabled, switched on for that pass only, as it costs a clock read itself),
 * and the switch rate the workload reached. */
#include "config.h"

#include "host/sense/cpusource.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <glib.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
pin_to_cpu0 (void)
{
  cpu_set_t set;
  CPU_ZERO (&set);
  CPU_SET (0, &set);
  sched_setaffinity (0, sizeof set, &set);
}

static int to_child[2], to_parent[2];

/* The child: echoes every byte back, until the pipe closes. */
static pid_t
start_echo (void)
{
  if (pipe (to_child) != 0 || pipe (to_parent) != 0)
    exit (1);
  pid_t child = fork ();
  if (child == 0)
    {
      /* Only its own ends: the parent's closing its write end must be the end of input. */
      close (to_child[1]);
      close (to_parent[0]);
      pin_to_cpu0 ();
      char byte;
      while (read (to_child[0], &byte, 1) == 1)
        if (write (to_parent[1], &byte, 1) != 1)
          break;
      _exit (0);
    }
  close (to_child[0]);
  close (to_parent[1]);
  return child;
}

/* Seconds per round trip over n round trips. */
static double
round_trips (guint n)
{
  char byte = 'x';
  double start = now_s ();
  for (guint i = 0; i < n; i++)
    if (write (to_child[1], &byte, 1) != 1 || read (to_parent[0], &byte, 1) != 1)
      exit (1);
  return (now_s () - start) / n;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* The id of the BPF program this process holds (its link's fdinfo says), or 0. */
static guint
own_program_id (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fdinfo", 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename ("/proc/self/fdinfo", name, NULL);
      g_autofree char *text = NULL;
      const char *line;
      if (g_file_get_contents (path, &text, NULL, NULL) && (line = strstr (text, "prog_id:")))
        return (guint) atoi (line + strlen ("prog_id:"));
    }
  return 0;
}

/* Written in place: g_file_set_contents would rename a new file over it, which procfs refuses. */
static gboolean
set_bpf_stats (const char *value)
{
  FILE *file = fopen ("/proc/sys/kernel/bpf_stats_enabled", "w");
  gboolean ok = file && fputs (value, file) >= 0;
  if (file)
    ok &= fclose (file) == 0;
  return ok;
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 200000;
  pin_to_cpu0 ();
  pid_t child = start_echo ();
  int package_of_cpu[1] = { 0 };
  VpTopology topology = { .n_cpus = 1, .package_of_cpu = package_of_cpu, .n_packages = 1 };

  const int rounds = 5;
  double none[5], unlisted[5], listed[5];
  round_trips (n / 10);   /* warm up */
  for (int r = 0; r < rounds; r++)
    {
      none[r] = round_trips (n);
      g_autoptr (GError) error = NULL;
      g_autoptr (VpCpuSource) source = vp_cpu_source_bpf_new ("/proc", &topology, 16, &error);
      if (!source)
        {
          fprintf (stderr, "bench-switch: %s\n", error->message);
          kill (child, SIGKILL);
          return 1;
        }
      unlisted[r] = round_trips (n);
      g_autoptr (VpProcessTimes) times = vp_process_times_new ();
      vp_cpu_source_read (source, getpid (), times, NULL);
      vp_cpu_source_read (source, child, times, NULL);
      listed[r] = round_trips (n);
    }
  qsort (none, rounds, sizeof (double), compare_double);
  qsort (unlisted, rounds, sizeof (double), compare_double);
  qsort (listed, rounds, sizeof (double), compare_double);
  double base = none[rounds / 2], lookups = unlisted[rounds / 2], charges = listed[rounds / 2];

  /* The program's own time per run, from the kernel's statistics. */
  double per_run_unlisted = 0, per_run_listed = 0;
  if (set_bpf_stats ("1"))
    {
      for (int listed_pass = 0; listed_pass < 2; listed_pass++)
        {
          g_autoptr (VpCpuSource) source = vp_cpu_source_bpf_new ("/proc", &topology, 16, NULL);
          g_autoptr (VpProcessTimes) times = vp_process_times_new ();
          if (listed_pass)
            {
              vp_cpu_source_read (source, getpid (), times, NULL);
              vp_cpu_source_read (source, child, times, NULL);
            }
          int fd = bpf_prog_get_fd_by_id (own_program_id ());
          struct bpf_prog_info before = { 0 }, after = { 0 };
          __u32 size = sizeof before;
          bpf_obj_get_info_by_fd (fd, &before, &size);
          round_trips (n);
          size = sizeof after;
          bpf_obj_get_info_by_fd (fd, &after, &size);
          close (fd);
          double per_run = after.run_cnt > before.run_cnt
                         ? (double) (after.run_time_ns - before.run_time_ns) / (after.run_cnt - before.run_cnt) : 0;
          *(listed_pass ? &per_run_listed : &per_run_unlisted) = per_run;
        }
      set_bpf_stats ("0");
    }
  close (to_child[1]);
  waitpid (child, NULL, 0);

  double switches_per_s = 2 / base;
  printf ("ping-pong on one CPU: %.2f us a round trip (two context switches), %.0f switches/s\n", base * 1e6,
          switches_per_s);
  printf ("%-10s %12s %10s\n", "program", "round trip", "vs none");
  printf ("%-10s %9.3f us %9.3fx\n", "none", base * 1e6, 1.0);
  printf ("%-10s %9.3f us %9.3fx\n", "unlisted", lookups * 1e6, lookups / base);
  printf ("%-10s %9.3f us %9.3fx\n", "listed", charges * 1e6, charges / base);
  printf ("program's own time per run (bpf_stats): %.0f ns unlisted, %.0f ns listed; at %.0f switches/s that is "
          "%.2f%% of a CPU\n", per_run_unlisted, per_run_listed, switches_per_s,
          per_run_listed * switches_per_s / 1e7);
  printf ("RESULT round_trip_us=%.3f unlisted_ratio=%.3f listed_ratio=%.3f run_ns_unlisted=%.0f run_ns_listed=%.0f "
          "switches_per_s=%.0f\n", base * 1e6, lookups / base, charges / base, per_run_unlisted, per_run_listed,
          switches_per_s);
  return 0;
}
