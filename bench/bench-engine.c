/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark: engine CPU time per tick for N VMs, against the raw reads it needs, in one run.
 *
 *   bench-engine POWERCAP_ROOT N [N ...]
 *
 * For each N it starts N idle processes, lists them in a static inventory
 * and runs the real engine (vp_engine_tick: sampling, attribution, snapshot,
 * state file) in this process. The baseline, measured in the same run and
 * interleaved with the engine so machine noise hits both alike, does only
 * the reads a tick must do: open+read+close of /proc/stat, every zone's
 * energy_uj, and for every VM its task directory and each thread's schedstat
 * and stat. CPU time is this process's user+system time (getrusage). */
#include "config.h"

#include "host/engine/engine.h"
#include "shared/vp-fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static double
cpu_seconds (void)
{
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void
read_raw (const char *path)
{
  char buf[4096];
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  while (read (fd, buf, sizeof buf) > 0)
    ;
  close (fd);
}

/* Exactly the files one tick reads, with no parsing and no bookkeeping. */
static void
baseline_tick (const char *powercap_root, char **zones, const pid_t *pids, guint n)
{
  char path[512];
  read_raw ("/proc/stat");
  for (char **zone = zones; *zone; zone++)
    {
      g_snprintf (path, sizeof path, "%s/%s/energy_uj", powercap_root, *zone);
      read_raw (path);
    }
  for (guint i = 0; i < n; i++)
    {
      g_snprintf (path, sizeof path, "/proc/%d/task", pids[i]);
      DIR *dir = opendir (path);
      if (!dir)
        continue;
      struct dirent *entry;
      while ((entry = readdir (dir)) != NULL)
        {
          if (entry->d_name[0] == '.')
            continue;
          g_snprintf (path, sizeof path, "/proc/%d/task/%s/schedstat", pids[i], entry->d_name);
          read_raw (path);
          g_snprintf (path, sizeof path, "/proc/%d/task/%s/stat", pids[i], entry->d_name);
          read_raw (path);
        }
      closedir (dir);
    }
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *values, guint n)
{
  qsort (values, n, sizeof *values, compare_double);
  return values[n / 2];
}

typedef struct {
  guint n;
  double engine_s;    /* CPU per tick */
  double baseline_s;
} Result;

static Result
bench_one (const char *powercap_root, char **zones, guint n)
{
  g_autofree pid_t *pids = g_new (pid_t, n);
  for (guint i = 0; i < n; i++)
    {
      pids[i] = fork ();
      if (pids[i] == 0)
        {
          pause ();
          _exit (0);
        }
    }

  g_autofree char *dir = g_dir_make_tmp ("vp-bench-XXXXXX", NULL);
  g_autofree char *inventory = g_build_filename (dir, "vms.ini", NULL);
  g_autoptr (GString) vms = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (vms, "[vm%u]\nuuid=%08x-0000-4000-8000-%012x\npid=%d\n", i, i, i, pids[i]);
  g_file_set_contents (inventory, vms->str, -1, NULL);
  g_autofree char *conf = g_build_filename (dir, "vpowerd.conf", NULL);
  g_autofree char *conf_text = g_strdup_printf ("[vpowerd]\ninventory=static:%s\nsensor=powercap\n"
                                                "powercap-root=%s\nstate-dir=%s/state\n",
                                                inventory, powercap_root, dir);
  g_file_set_contents (conf, conf_text, -1, NULL);

  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) config = vp_config_load_file (conf, &error);
  g_autoptr (VpEngine) engine = config ? vp_engine_new (config, TRUE, 0, &error) : NULL;
  if (!engine)
    g_error ("%s", error->message);
  vp_engine_tick (engine);
  vp_engine_tick (engine);

  /* Rounds of R ticks, alternating engine and baseline; medians of rounds. */
  const guint rounds = 15, ticks = MAX (2, 2000 / n);
  double engine_round[15], baseline_round[15];
  for (guint r = 0; r < rounds; r++)
    {
      double start = cpu_seconds ();
      for (guint t = 0; t < ticks; t++)
        baseline_tick (powercap_root, zones, pids, n);
      baseline_round[r] = (cpu_seconds () - start) / ticks;
      start = cpu_seconds ();
      for (guint t = 0; t < ticks; t++)
        vp_engine_tick (engine);
      engine_round[r] = (cpu_seconds () - start) / ticks;
    }

  for (guint i = 0; i < n; i++)
    kill (pids[i], SIGKILL);
  for (guint i = 0; i < n; i++)
    waitpid (pids[i], NULL, 0);
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  if (system (rm) != 0)
    g_warning ("could not remove %s", dir);

  return (Result) { n, median (engine_round, rounds), median (baseline_round, rounds) };
}

static void
ignore_log (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
  /* The engine's start-up messages would drown the table. */
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "usage: bench-engine POWERCAP_ROOT N [N ...]\n");
      return 2;
    }
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
  g_log_set_handler ("vpowerd", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, ignore_log, NULL);

  g_autoptr (GPtrArray) zones = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) dir = g_dir_open (argv[1], 0, NULL);
  const char *entry;
  while (dir && (entry = g_dir_read_name (dir)))
    if (g_str_has_prefix (entry, "intel-rapl:"))
      g_ptr_array_add (zones, g_strdup (entry));
  g_ptr_array_add (zones, NULL);

  printf ("%6s %14s %14s %16s %8s\n", "VMs", "engine/tick", "raw reads/tick", "engine/VM/tick", "ratio");
  double first_per_vm = 0;
  gboolean ok = TRUE;
  for (int i = 2; i < argc; i++)
    {
      Result r = bench_one (argv[1], (char **) zones->pdata, (guint) atoi (argv[i]));
      double ratio = r.engine_s / r.baseline_s;
      double per_vm = r.engine_s / r.n;
      if (i == 2)
        first_per_vm = per_vm;
      printf ("%6u %11.1f us %11.1f us %13.2f us %7.2fx\n", r.n, r.engine_s * 1e6, r.baseline_s * 1e6,
              per_vm * 1e6, ratio);
      printf ("RESULT vms=%u engine_us=%.1f baseline_us=%.1f per_vm_us=%.2f ratio=%.3f growth_vs_first=%.2f\n",
              r.n, r.engine_s * 1e6, r.baseline_s * 1e6, per_vm * 1e6, ratio, per_vm / first_per_vm);
      ok &= ratio <= 1.5;
      if (r.n == 100)
        ok &= r.engine_s < 0.01;   /* 1% of a core at a 1 s interval */
    }
  fflush (stdout);
  return ok ? 0 : 1;
}
