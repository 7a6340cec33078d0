/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark: engine CPU time per tick for N VMs, against the raw reads it needs, in one run.
 *
 *   bench-engine [--threads T] POWERCAP_ROOT N [N ...]
 *   bench-engine --channels POWERCAP_ROOT N [THREADS]
 *   bench-engine --daemon VPOWERD POWERCAP_ROOT SECONDS N [N ...]
 *
 * For each N it starts N idle processes, lists them in a static inventory
 * and runs the real engine (vp_engine_tick: sampling, attribution, snapshot,
 * state file) in this process. The baseline, measured in the same run and
 * interleaved with the engine so machine noise hits both alike, does only
 * the reads a tick must do: open+read+close of /proc/stat, every zone's
 * energy_uj, and for every VM its task directory and each thread's schedstat
 * and stat: the /proc walk every tick did before issue 24, which the engine's CPU-time source
 * must beat by 3x. A second floor does only what the held-file source must: per VM one fstat of its
 * task directory and per thread one pread of its held schedstat. Each VM is a process of T threads
 * (default 1; a 1-vCPU TCG QEMU has 4). CPU time is this process's user+system time (getrusage).
 *
 * --channels: the cost of the virtio-serial channels. Two engines over the
 * same N VMs, interleaved: one as above, one where every VM has a channel
 * socket (host/channel/channel.c sends each its message every tick). A
 * child process plays QEMU: it listens on the N sockets and reads and
 * discards what arrives, so its CPU time is not the engine's. Each VM is a
 * process with THREADS threads (default 1; a 1-vCPU TCG QEMU here has 4:
 * main, call_rcu, "CPU 0/TCG", "IO mon_iothread"), which the tick reads.
 *
 * --daemon: a real vpowerd (the binary VPOWERD, --no-mount, 1 s ticks) over N idle processes of
 * 4 threads, once with cpu-source=bpf and once with proc: its own CPU time (utime+stime of
 * /proc/PID/stat) over SECONDS after 3 s to start, per second, that is per tick. */
#include "config.h"

#include "host/engine/engine.h"
#include "host/sense/taskstat.h"
#include "shared/vp-fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* Exactly the files one tick read before issue 24 (the /proc walk), with no parsing and no
 * bookkeeping. */
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

/* The least a tick must read with held files: /proc/stat and the zones as before, then per VM
 * an fstat of its task directory (the thread count) and a pread of each thread's schedstat. */
typedef struct {
  int task_fd;
  GArray *schedstat_fds;
} HeldVm;

static HeldVm *
held_open (const pid_t *pids, guint n)
{
  HeldVm *vms = g_new0 (HeldVm, n);
  char path[512];
  for (guint i = 0; i < n; i++)
    {
      g_snprintf (path, sizeof path, "/proc/%d/task", pids[i]);
      vms[i].task_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      vms[i].schedstat_fds = g_array_new (FALSE, FALSE, sizeof (int));
      DIR *dir = opendir (path);
      struct dirent *entry;
      while (dir && (entry = readdir (dir)) != NULL)
        {
          if (entry->d_name[0] == '.')
            continue;
          g_snprintf (path, sizeof path, "/proc/%d/task/%s/schedstat", pids[i], entry->d_name);
          int fd = open (path, O_RDONLY | O_CLOEXEC);
          g_array_append_val (vms[i].schedstat_fds, fd);
        }
      if (dir)
        closedir (dir);
    }
  return vms;
}

static void
held_close (HeldVm *vms, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      for (guint t = 0; t < vms[i].schedstat_fds->len; t++)
        close (g_array_index (vms[i].schedstat_fds, int, t));
      g_array_unref (vms[i].schedstat_fds);
      close (vms[i].task_fd);
    }
  g_free (vms);
}

static void
held_tick (const char *powercap_root, char **zones, const HeldVm *vms, guint n)
{
  char path[512], buf[256];
  read_raw ("/proc/stat");
  for (char **zone = zones; *zone; zone++)
    {
      g_snprintf (path, sizeof path, "%s/%s/energy_uj", powercap_root, *zone);
      read_raw (path);
    }
  for (guint i = 0; i < n; i++)
    {
      struct stat st;
      if (fstat (vms[i].task_fd, &st) != 0)
        continue;
      for (guint t = 0; t < vms[i].schedstat_fds->len; t++)
        if (pread (g_array_index (vms[i].schedstat_fds, int, t), buf, sizeof buf, 0) < 0)
          continue;
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
  double engine_s;    /* CPU per tick, cpu-source=proc */
  double bpf_s;       /* CPU per tick, cpu-source=bpf; 0 without BPF */
  double baseline_s;  /* the /proc walk's reads */
  double held_s;      /* the held files' reads */
} Result;

static void *
idle_thread (void *data)
{
  for (;;)
    pause ();
  return NULL;
}

static pid_t *
start_idle_processes (guint n, guint threads)
{
  pid_t *pids = g_new (pid_t, n);
  for (guint i = 0; i < n; i++)
    {
      pids[i] = fork ();
      if (pids[i] == 0)
        {
          for (guint t = 1; t < threads; t++)
            {
              pthread_t thread;
              pthread_create (&thread, NULL, idle_thread, NULL);
            }
          pause ();
          _exit (0);
        }
    }
  return pids;
}

static void
stop_processes (const pid_t *pids, guint n)
{
  for (guint i = 0; i < n; i++)
    kill (pids[i], SIGKILL);
  for (guint i = 0; i < n; i++)
    waitpid (pids[i], NULL, 0);
}

/* A real engine over a static inventory of the n processes, in dir/label;
 * with channels, each VM's channel socket is dir/sock<i>. */
static VpEngine *
engine_for (const char *dir, const char *label, const char *powercap_root, const pid_t *pids, guint n,
            gboolean channels, const char *cpu_source)
{
  g_autofree char *inventory = g_strdup_printf ("%s/%s.ini", dir, label);
  g_autoptr (GString) vms = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      g_string_append_printf (vms, "[vm%u]\nuuid=%08x-0000-4000-8000-%012x\npid=%d\n", i, i, i, pids[i]);
      if (channels)
        g_string_append_printf (vms, "channel=%s/sock%u\n", dir, i);
    }
  g_file_set_contents (inventory, vms->str, -1, NULL);
  g_autofree char *conf = g_strdup_printf ("%s/%s.conf", dir, label);
  g_autofree char *conf_text = g_strdup_printf ("[vpowerd]\ninventory=static:%s\nsensor=powercap\n"
                                                "powercap-root=%s\nstate-dir=%s/state-%s\ncpu-source=%s\n",
                                                inventory, powercap_root, dir, label, cpu_source);
  g_file_set_contents (conf, conf_text, -1, NULL);

  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) config = vp_config_load_file (conf, &error);
  VpEngine *engine = config ? vp_engine_new (config, TRUE, 0, &error) : NULL;
  if (!engine && g_str_equal (cpu_source, "bpf"))
    {
      printf ("(no BPF engine: %s)\n", error->message);
      return NULL;
    }
  if (!engine)
    g_error ("%s", error->message);
  vp_engine_tick (engine);
  vp_engine_tick (engine);
  return engine;
}

static void
remove_dir (const char *dir)
{
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  if (system (rm) != 0)
    g_warning ("could not remove %s", dir);
}

static Result
bench_one (const char *powercap_root, char **zones, guint n, guint threads)
{
  g_autofree pid_t *pids = start_idle_processes (n, threads);
  g_autofree char *dir = g_dir_make_tmp ("vp-bench-XXXXXX", NULL);
  g_autoptr (VpEngine) engine = engine_for (dir, "proc", powercap_root, pids, n, FALSE, "proc");
  g_autoptr (VpEngine) bpf = engine_for (dir, "bpf", powercap_root, pids, n, FALSE, "bpf");
  HeldVm *held = held_open (pids, n);

  /* Rounds of R ticks, alternating engines and baselines; medians of rounds. */
  const guint rounds = 15, ticks = MAX (2, 2000 / n);
  double engine_round[15], bpf_round[15] = { 0 }, baseline_round[15], held_round[15];
  for (guint r = 0; r < rounds; r++)
    {
      double start = cpu_seconds ();
      for (guint t = 0; t < ticks; t++)
        baseline_tick (powercap_root, zones, pids, n);
      baseline_round[r] = (cpu_seconds () - start) / ticks;
      start = cpu_seconds ();
      for (guint t = 0; t < ticks; t++)
        held_tick (powercap_root, zones, held, n);
      held_round[r] = (cpu_seconds () - start) / ticks;
      start = cpu_seconds ();
      for (guint t = 0; t < ticks; t++)
        vp_engine_tick (engine);
      engine_round[r] = (cpu_seconds () - start) / ticks;
      start = cpu_seconds ();
      for (guint t = 0; bpf && t < ticks; t++)
        vp_engine_tick (bpf);
      bpf_round[r] = (cpu_seconds () - start) / ticks;
    }

  g_clear_pointer (&engine, vp_engine_free);
  g_clear_pointer (&bpf, vp_engine_free);
  held_close (held, n);
  stop_processes (pids, n);
  remove_dir (dir);
  return (Result) { n, median (engine_round, rounds), median (bpf_round, rounds), median (baseline_round, rounds),
                    median (held_round, rounds) };
}

/* QEMU's side of n channel sockets: listen, accept, read and discard. */
static pid_t
start_fake_qemu (const char *dir, guint n)
{
  int *listeners = g_new (int, n);
  for (guint i = 0; i < n; i++)
    {
      struct sockaddr_un address = { .sun_family = AF_UNIX };
      g_snprintf (address.sun_path, sizeof address.sun_path, "%s/sock%u", dir, i);
      listeners[i] = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (bind (listeners[i], (struct sockaddr *) &address, sizeof address) != 0 || listen (listeners[i], 1) != 0)
        g_error ("cannot listen on %s", address.sun_path);
    }
  pid_t child = fork ();
  if (child == 0)
    {
      struct pollfd *fds = g_new0 (struct pollfd, n);
      for (guint i = 0; i < n; i++)
        fds[i] = (struct pollfd) { .fd = listeners[i], .events = POLLIN };
      char buffer[65536];
      for (;;)
        {
          if (poll (fds, n, -1) < 0)
            continue;
          for (guint i = 0; i < n; i++)
            {
              if (!fds[i].revents)
                continue;
              if (fds[i].fd == listeners[i])
                {
                  int client = accept (listeners[i], NULL, NULL);
                  if (client >= 0)
                    fds[i].fd = client;
                }
              else if (read (fds[i].fd, buffer, sizeof buffer) <= 0)
                {
                  close (fds[i].fd);
                  fds[i].fd = listeners[i];
                }
            }
        }
    }
  for (guint i = 0; i < n; i++)
    close (listeners[i]);
  g_free (listeners);
  return child;
}

/* Engine CPU per tick with and without a channel per VM, interleaved. */
static gboolean
bench_channels (const char *powercap_root, guint n, guint threads)
{
  g_autofree pid_t *pids = start_idle_processes (n, threads);
  g_autofree char *dir = g_dir_make_tmp ("vp-bench-XXXXXX", NULL);
  pid_t qemu = start_fake_qemu (dir, n);
  g_autoptr (VpEngine) plain = engine_for (dir, "plain", powercap_root, pids, n, FALSE, "auto");
  g_autoptr (VpEngine) wired = engine_for (dir, "wired", powercap_root, pids, n, TRUE, "auto");
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (wired);
  g_autoptr (GString) metrics = g_string_new (NULL);
  guint connected = 0;
  for (guint i = 0; i < snapshot->vms->len; i++)
    connected += ((VpVmSnapshot *) snapshot->vms->pdata[i])->channel_connected;

  const guint rounds = 15, ticks = MAX (2, 2000 / n);
  double plain_round[15], wired_round[15];
  for (guint r = 0; r < rounds; r++)
    {
      double start = cpu_seconds ();
      for (guint t = 0; t < ticks; t++)
        vp_engine_tick (plain);
      plain_round[r] = (cpu_seconds () - start) / ticks;
      start = cpu_seconds ();
      for (guint t = 0; t < ticks; t++)
        vp_engine_tick (wired);
      wired_round[r] = (cpu_seconds () - start) / ticks;
    }
  g_clear_pointer (&snapshot, vp_snapshot_unref);
  snapshot = vp_engine_snapshot (wired);
  double plain_s = median (plain_round, rounds), wired_s = median (wired_round, rounds);
  double added = (wired_s - plain_s) / plain_s;
  printf ("%6s %8s %14s %14s %16s %10s\n", "VMs", "threads", "tick", "tick+channels", "channel/VM/tick", "added");
  printf ("%6u %8u %11.1f us %11.1f us %13.2f us %9.1f%%\n", n, threads, plain_s * 1e6, wired_s * 1e6,
          (wired_s - plain_s) / n * 1e6, added * 100);
  printf ("RESULT channels vms=%u threads=%u connected=%u sent=%" G_GUINT64_FORMAT " dropped=%" G_GUINT64_FORMAT
          " tick_us=%.1f tick_with_channels_us=%.1f per_vm_us=%.2f added=%.3f target=0.10\n",
          n, threads, connected, snapshot->channel_sent, snapshot->channel_dropped, plain_s * 1e6, wired_s * 1e6,
          (wired_s - plain_s) / n * 1e6, added);
  fflush (stdout);

  g_clear_pointer (&plain, vp_engine_free);
  g_clear_pointer (&wired, vp_engine_free);
  kill (qemu, SIGKILL);
  waitpid (qemu, NULL, 0);
  stop_processes (pids, n);
  remove_dir (dir);
  return connected == n && snapshot->channel_dropped == 0 && added < 0.10;
}

/* utime + stime of pid, in seconds. */
static double
process_cpu_seconds (pid_t pid)
{
  char path[64], buf[1024];
  g_snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (vp_read_small_file (path, buf, sizeof buf, NULL) < 0)
    return -1;
  static const guint fields[] = { 14, 15 };   /* utime, stime */
  guint64 values[2];
  if (!vp_parse_stat_fields (buf, fields, 2, values))
    return -1;
  return (double) (values[0] + values[1]) / sysconf (_SC_CLK_TCK);
}

/* A real vpowerd's CPU per 1 s tick over n idle VMs of 4 threads, with that cpu-source. */
static double
daemon_cpu_per_tick (const char *vpowerd, const char *powercap_root, const char *dir, guint n,
                     const char *cpu_source, double seconds)
{
  g_autofree char *conf = g_strdup_printf ("%s/empty.conf", dir);
  g_autofree char *inventory = g_strdup_printf ("static:%s/daemon.ini", dir);
  g_autofree char *state = g_strdup_printf ("%s/state-daemon-%s", dir, cpu_source);
  g_autofree char *run = g_strdup_printf ("%s/run-%s", dir, cpu_source);
  g_file_set_contents (conf, "", 0, NULL);
  /* A port nothing listens on: vpowerd's HTTP is not used here. */
  int probe = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in any = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t length = sizeof any;
  bind (probe, (struct sockaddr *) &any, sizeof any);
  getsockname (probe, (struct sockaddr *) &any, &length);
  g_autofree char *listen_at = g_strdup_printf ("127.0.0.1:%u", ntohs (any.sin_port));
  close (probe);
  pid_t daemon = fork ();
  if (daemon == 0)
    {
      execl (vpowerd, vpowerd, "--foreground", "--no-mount", "--config", conf, "--inventory", inventory,
             "--sensor", "powercap", "--powercap-root", powercap_root, "--interval", "1", "--cpu-source", cpu_source,
             "--state-dir", state, "--runtime-dir", run, "--listen", listen_at, (char *) NULL);
      _exit (127);
    }
  g_usleep (3 * G_USEC_PER_SEC);   /* a benchmark's warm-up: start, first ticks */
  double before = process_cpu_seconds (daemon);
  g_usleep ((gulong) (seconds * G_USEC_PER_SEC));
  double after = process_cpu_seconds (daemon);
  if (waitpid (daemon, NULL, WNOHANG) != 0)
    return -1;   /* it did not stay up */
  kill (daemon, SIGTERM);
  waitpid (daemon, NULL, 0);
  return before < 0 || after < 0 ? -1 : (after - before) / seconds;
}

static gboolean
bench_daemon (const char *vpowerd, const char *powercap_root, double seconds, char **counts)
{
  printf ("a real vpowerd, 1 s ticks, VMs of 4 idle threads: its CPU per tick over %.0f s\n", seconds);
  printf ("%6s %12s %12s %10s\n", "VMs", "bpf", "proc", "proc/bpf");
  gboolean ok = TRUE;
  for (char **count = counts; *count; count++)
    {
      guint n = (guint) atoi (*count);
      g_autofree pid_t *pids = start_idle_processes (n, 4);
      g_autofree char *dir = g_dir_make_tmp ("vp-bench-XXXXXX", NULL);
      g_autoptr (GString) vms = g_string_new (NULL);
      for (guint i = 0; i < n; i++)
        g_string_append_printf (vms, "[vm%u]\nuuid=%08x-0000-4000-8000-%012x\npid=%d\n", i, i, i, pids[i]);
      g_autofree char *ini = g_strdup_printf ("%s/daemon.ini", dir);
      g_file_set_contents (ini, vms->str, -1, NULL);
      double bpf = daemon_cpu_per_tick (vpowerd, powercap_root, dir, n, "bpf", seconds);
      double proc = daemon_cpu_per_tick (vpowerd, powercap_root, dir, n, "proc", seconds);
      printf ("%6u %9.2f ms %9.2f ms %9.2fx\n", n, bpf * 1e3, proc * 1e3, proc / bpf);
      printf ("RESULT daemon vms=%u threads=4 bpf_ms=%.2f proc_ms=%.2f\n", n, bpf * 1e3, proc * 1e3);
      if (n >= 1000)
        ok &= bpf >= 0 && bpf < 0.01;   /* under 1% of a core */
      stop_processes (pids, n);
      remove_dir (dir);
    }
  fflush (stdout);
  return ok;
}

static void
ignore_log (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
  /* The engine's start-up messages would drown the table. */
}

int
main (int argc, char **argv)
{
  guint threads = 1;
  if (argc > 2 && g_str_equal (argv[1], "--threads"))
    {
      threads = (guint) MAX (1, atoi (argv[2]));
      argv += 2;
      argc -= 2;
    }
  if (argc < 3 || (g_str_equal (argv[1], "--channels") && argc != 4 && argc != 5))
    {
      fprintf (stderr, "usage: bench-engine [--threads T] POWERCAP_ROOT N [N ...] | "
                       "bench-engine --channels POWERCAP_ROOT N [THREADS]\n");
      return 2;
    }
  /* Held files: up to 1 + T per VM in the engine and as many in the held floor. */
  struct rlimit limit;
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
  g_log_set_handler ("vpowerd", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, ignore_log, NULL);
  if (g_str_equal (argv[1], "--daemon") && argc >= 6)
    return bench_daemon (argv[2], argv[3], atof (argv[4]), argv + 5) ? 0 : 1;
  if (g_str_equal (argv[1], "--channels"))
    return bench_channels (argv[2], (guint) atoi (argv[3]), argc == 5 ? (guint) MAX (1, atoi (argv[4])) : 1) ? 0 : 1;

  g_autoptr (GPtrArray) zones = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) dir = g_dir_open (argv[1], 0, NULL);
  const char *entry;
  while (dir && (entry = g_dir_read_name (dir)))
    if (g_str_has_prefix (entry, "intel-rapl:"))
      g_ptr_array_add (zones, g_strdup (entry));
  g_ptr_array_add (zones, NULL);

  printf ("VMs of %u thread%s; CPU per tick of the engine with each source, and of the bare reads\n", threads,
          threads == 1 ? "" : "s");
  printf ("%6s %12s %12s %12s %12s %9s %9s %9s\n", "VMs", "bpf", "proc", "/proc walk", "held reads",
          "bpf/walk", "proc/walk", "proc/held");
  double first_proc = 0, first_bpf = 0;
  gboolean ok = TRUE;
  for (int i = 2; i < argc; i++)
    {
      Result r = bench_one (argv[1], (char **) zones->pdata, (guint) atoi (argv[i]), threads);
      double proc_walk = r.engine_s / r.baseline_s, proc_held = r.engine_s / r.held_s;
      double bpf_walk = r.bpf_s / r.baseline_s;
      if (i == 2)
        first_proc = r.engine_s / r.n, first_bpf = r.bpf_s / r.n;
      printf ("%6u %9.1f us %9.1f us %9.1f us %9.1f us %8.3fx %8.3fx %8.2fx\n", r.n, r.bpf_s * 1e6, r.engine_s * 1e6,
              r.baseline_s * 1e6, r.held_s * 1e6, bpf_walk, proc_walk, proc_held);
      printf ("RESULT vms=%u threads=%u bpf_us=%.1f proc_us=%.1f walk_us=%.1f held_us=%.1f bpf_vs_walk=%.3f "
              "proc_vs_walk=%.3f proc_vs_held=%.3f bpf_per_vm_growth=%.2f proc_per_vm_growth=%.2f\n",
              r.n, threads, r.bpf_s * 1e6, r.engine_s * 1e6, r.baseline_s * 1e6, r.held_s * 1e6, bpf_walk, proc_walk,
              proc_held, first_bpf > 0 ? r.bpf_s / r.n / first_bpf : 0, r.engine_s / r.n / first_proc);
      /* Issue 24: /proc at least 3x cheaper than the walk's bare reads (the old engine cost more
       * than them); BPF under 1% of a core at a 1 s interval (10 ms a tick) at 1000 VMs. */
      ok &= proc_walk <= 1.0 / 3;
      if (r.n >= 1000)
        ok &= r.bpf_s > 0 && r.bpf_s < 0.01;
      if (r.n == 100)
        ok &= r.engine_s < 0.01;   /* 1% of a core at a 1 s interval */
    }
  fflush (stdout);
  return ok ? 0 : 1;
}
