/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for the /proc CPU-time source (host/sense/cpusource-proc.c): held files read what a fresh
 * read does, threads that come and go are seen, a thread confined to one package is charged to
 * it, and nothing stays open for a process that is no longer read. Real /proc, real threads. */
#include "config.h"

#include "host/sense/cpusource.h"
#include "shared/vp-error.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Two CPUs in two packages, whatever this machine has: so that a thread's affinity decides
 * whether it spans packages. */
static int two_packages[] = { 0, 1 };
static VpTopology two_cpus = { .n_cpus = 2, .package_of_cpu = two_packages, .n_packages = 2 };

static guint
open_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;
  while (g_dir_read_name (dir))
    n++;
  return n;
}

/* A thread that burns `burn_ms` of its own CPU time when told, then reports and waits. */
typedef struct {
  pthread_t thread;
  int tid;
  int pin_cpu;            /* -1: runs anywhere */
  guint burn_ms;
  gboolean quit;
  GMutex lock;
  GCond cond;
  guint rounds_asked, rounds_done;
} Worker;

static double
thread_cpu_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *
worker_main (void *data)
{
  Worker *worker = data;
  if (worker->pin_cpu >= 0)
    {
      cpu_set_t set;
      CPU_ZERO (&set);
      CPU_SET (worker->pin_cpu, &set);
      pthread_setaffinity_np (pthread_self (), sizeof set, &set);
    }
  g_mutex_lock (&worker->lock);
  worker->tid = gettid ();
  g_cond_broadcast (&worker->cond);
  for (;;)
    {
      while (!worker->quit && worker->rounds_done == worker->rounds_asked)
        g_cond_wait (&worker->cond, &worker->lock);
      if (worker->quit)
        break;
      g_mutex_unlock (&worker->lock);
      double until = thread_cpu_ms () + worker->burn_ms;
      while (thread_cpu_ms () < until)
        ;
      g_mutex_lock (&worker->lock);
      worker->rounds_done++;
      g_cond_broadcast (&worker->cond);
    }
  g_mutex_unlock (&worker->lock);
  return NULL;
}

/* Whether thread tid of this process sleeps in the kernel (its stat's state, field 3, is S). */
static gboolean
thread_sleeps (int tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/stat", tid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  const char *paren = strrchr (text, ')');
  return paren && paren[1] == ' ' && paren[2] == 'S';
}

/* Returns once the worker is asleep in the kernel, waiting: its run time is then settled. Its
 * broadcast lets this thread go on while it is still on its way into the wait: a few microseconds
 * of run time, more under ASan, which a held read and a fresh one taken after it would see
 * differently. Polled with a deadline. */
static void
worker_settle (Worker *worker)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!thread_sleeps (worker->tid) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (thread_sleeps (worker->tid));
}

static Worker *
worker_start (int pin_cpu, guint burn_ms)
{
  Worker *worker = g_new0 (Worker, 1);
  worker->pin_cpu = pin_cpu;
  worker->burn_ms = burn_ms;
  g_mutex_init (&worker->lock);
  g_cond_init (&worker->cond);
  pthread_create (&worker->thread, NULL, worker_main, worker);
  g_mutex_lock (&worker->lock);
  while (!worker->tid)
    g_cond_wait (&worker->cond, &worker->lock);
  g_mutex_unlock (&worker->lock);
  worker_settle (worker);
  return worker;
}

/* Burns once and returns when the worker is waiting again, asleep (worker_settle). */
static void
worker_burn (Worker *worker)
{
  g_mutex_lock (&worker->lock);
  worker->rounds_asked++;
  g_cond_broadcast (&worker->cond);
  while (worker->rounds_done != worker->rounds_asked)
    g_cond_wait (&worker->cond, &worker->lock);
  g_mutex_unlock (&worker->lock);
  worker_settle (worker);
}

static void
worker_stop (Worker *worker)
{
  g_mutex_lock (&worker->lock);
  worker->quit = TRUE;
  g_cond_broadcast (&worker->cond);
  g_mutex_unlock (&worker->lock);
  pthread_join (worker->thread, NULL);
  g_mutex_clear (&worker->lock);
  g_cond_clear (&worker->cond);
  g_free (worker);
}

static gboolean
has_task (const VpProcessTimes *times, int tid)
{
  for (guint i = 0; i < times->tasks->len; i++)
    if (g_array_index (times->tasks, VpTaskTime, i).tid == tid)
      return TRUE;
  return FALSE;
}

static VpTaskTime
task_of (const VpProcessTimes *times, int tid)
{
  for (guint i = 0; i < times->tasks->len; i++)
    if (g_array_index (times->tasks, VpTaskTime, i).tid == tid)
      return g_array_index (times->tasks, VpTaskTime, i);
  g_error ("thread %d was not read", tid);
}

/* No thread has a tid this high (pid_max is at most 2^22): the slot of exited threads' time. */
static gboolean
is_exited_slot (const VpTaskTime *task)
{
  return task->tid >= (1 << 22);
}

static guint64
total_ns (const VpProcessTimes *times)
{
  guint64 total = 0;
  for (guint i = 0; i < times->tasks->len; i++)
    total += g_array_index (times->tasks, VpTaskTime, i).runtime_ns;
  return total;
}

/* The held reads give what a fresh open+read gives, for every thread but the reading one (whose
 * own time moves while it reads), as threads come and go. */
static void
assert_same_as_fresh (VpCpuSource *source)
{
  g_autoptr (VpProcessTimes) held = vp_process_times_new ();
  g_autoptr (VpProcessTimes) fresh = vp_process_times_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_cpu_source_read (source, getpid (), held, &error));
  g_assert_no_error (error);
  if (held->tasks->len && is_exited_slot (&g_array_index (held->tasks, VpTaskTime, held->tasks->len - 1)))
    g_array_set_size (held->tasks, held->tasks->len - 1);
  vp_cpu_source_end_tick (source);
  g_assert_true (vp_process_times_read ("/proc", getpid (), fresh, &error));
  g_assert_cmpuint (held->tasks->len, ==, fresh->tasks->len);
  g_assert_cmpuint (held->start_ticks, ==, fresh->start_ticks);
  for (guint i = 0; i < fresh->tasks->len; i++)
    {
      const VpTaskTime *want = &g_array_index (fresh->tasks, VpTaskTime, i);
      const VpTaskTime *got = &g_array_index (held->tasks, VpTaskTime, i);
      g_assert_cmpint (got->tid, ==, want->tid);
      if (want->tid != gettid ())
        g_assert_cmpuint (got->runtime_ns, ==, want->runtime_ns);
    }
}

static void
test_threads_come_and_go (void)
{
  guint fds_before = open_fds ();
  g_autoptr (VpCpuSource) source = vp_cpu_source_proc_new ("/proc", &two_cpus);
  g_assert_cmpstr (vp_cpu_source_name (source), ==, "proc");

  Worker *a = worker_start (-1, 20);
  assert_same_as_fresh (source);
  worker_burn (a);
  assert_same_as_fresh (source);

  /* A thread comes (the count changes): it is read, and its run time is all there. */
  Worker *b = worker_start (-1, 30);
  worker_burn (b);
  assert_same_as_fresh (source);
  g_autoptr (VpProcessTimes) times = vp_process_times_new ();
  g_assert_true (vp_cpu_source_read (source, getpid (), times, NULL));
  vp_cpu_source_end_tick (source);
  g_assert_cmpuint (task_of (times, b->tid).runtime_ns, >=, 30 * 1000 * 1000 * 9 / 10);

  /* One goes and another comes between two reads: the count is the same, the new one is seen. */
  int gone = a->tid;
  worker_stop (a);
  a = worker_start (-1, 10);
  worker_burn (a);
  g_assert_true (vp_cpu_source_read (source, getpid (), times, NULL));
  vp_cpu_source_end_tick (source);
  g_assert_false (has_task (times, gone));
  assert_same_as_fresh (source);
  g_assert_true (has_task (times, b->tid));

  worker_stop (a);
  worker_stop (b);
  assert_same_as_fresh (source);

  /* Ticks that do not read the process let go of its files. */
  g_assert_cmpuint (open_fds (), >, fds_before);
  for (int tick = 0; tick < 64; tick++)
    vp_cpu_source_end_tick (source);
  g_assert_cmpuint (open_fds (), ==, fds_before);
}

/* A thread that runs and exits between two readings is not lost: its time shows in the exited
 * slot, to the kernel's clock tick (10 ms: the process's total is rounded down to it), at most
 * ten readings late. */
static void
test_exited_thread_counted (void)
{
  g_autoptr (VpCpuSource) source = vp_cpu_source_proc_new ("/proc", &two_cpus);
  g_autoptr (VpProcessTimes) before = vp_process_times_new ();
  g_autoptr (VpProcessTimes) after = vp_process_times_new ();
  for (int round = 0; round < 3; round++)
    {
      g_assert_true (vp_cpu_source_read (source, getpid (), before, NULL));
      vp_cpu_source_end_tick (source);
      Worker *short_lived = worker_start (-1, 100);
      worker_burn (short_lived);
      worker_stop (short_lived);
      /* A thread that left no other trace shows when the process's total is next read: within
       * ten readings. */
      for (int reading = 0; reading < 10; reading++)
        {
          g_assert_true (vp_cpu_source_read (source, getpid (), after, NULL));
          vp_cpu_source_end_tick (source);
        }
      /* Slots only rise; the new one (or the exited slot's rise) holds the 100 ms. */
      int per_package[2] = { 0, 0 };
      guint64 gained[2] = { 0, 0 };
      g_assert_true (vp_process_times_package_deltas (before, after, per_package, 2, gained));
      g_assert_cmpuint (gained[0], >=, 80 * 1000 * 1000);
      g_assert_cmpuint (total_ns (after), >=, total_ns (before) + 80 * 1000 * 1000);
    }
}

/* A thread allowed on one package only is charged to it; one allowed on both, to where it last
 * ran (stat's field 39), as a fresh read says. */
static void
test_package_of_thread (void)
{
  if (sysconf (_SC_NPROCESSORS_ONLN) < 2)
    {
      g_test_skip ("needs two CPUs");
      return;
    }
  g_autoptr (VpCpuSource) source = vp_cpu_source_proc_new ("/proc", &two_cpus);
  Worker *pinned = worker_start (1, 10), *free_thread = worker_start (-1, 10);
  g_autoptr (VpProcessTimes) times = vp_process_times_new ();
  g_autoptr (VpProcessTimes) fresh = vp_process_times_new ();
  for (int round = 0; round < 3; round++)
    {
      worker_burn (pinned);
      worker_burn (free_thread);
      g_assert_true (vp_cpu_source_read (source, getpid (), times, NULL));
      vp_cpu_source_end_tick (source);
      g_assert_true (vp_process_times_read ("/proc", getpid (), fresh, NULL));
      g_assert_cmpint (task_of (times, pinned->tid).cpu, ==, 1);
      g_assert_cmpint (task_of (times, free_thread->tid).cpu, ==, task_of (fresh, free_thread->tid).cpu);
    }
  worker_stop (pinned);
  worker_stop (free_thread);
}

/* A process that exits is NOT_FOUND, and nothing of it stays open. */
static void
test_process_gone (void)
{
  guint fds_before = open_fds ();
  g_autoptr (VpCpuSource) source = vp_cpu_source_proc_new ("/proc", &two_cpus);
  pid_t child = fork ();
  if (child == 0)
    {
      pause ();
      _exit (0);
    }
  g_autoptr (VpProcessTimes) times = vp_process_times_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_cpu_source_read (source, child, times, &error));
  g_assert_no_error (error);
  g_assert_cmpint (times->pid, ==, child);
  vp_cpu_source_end_tick (source);
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);
  g_assert_false (vp_cpu_source_read (source, child, times, &error));
  g_assert_error (error, VP_ERROR, VP_ERROR_NOT_FOUND);
  g_assert_cmpuint (open_fds (), ==, fds_before);
}

/* A fixture tree is no procfs: its files are read afresh, so rewriting them is seen. */
static void
test_fixture_root (void)
{
  g_autofree char *root = g_dir_make_tmp ("vp-cpusource-XXXXXX", NULL);
  g_autofree char *task = g_build_filename (root, "4242", "task", "4242", NULL);
  g_assert_cmpint (g_mkdir_with_parents (task, 0755), ==, 0);
  g_autofree char *schedstat = g_build_filename (task, "schedstat", NULL);
  g_autofree char *stat = g_build_filename (task, "stat", NULL);
  g_autoptr (GString) stat_text = g_string_new ("4242 (qemu) S");
  for (int field = 4; field <= 52; field++)
    g_string_append_printf (stat_text, " %d", field == 22 ? 777 : field == 39 ? 1 : 0);
  g_assert_true (g_file_set_contents (stat, stat_text->str, -1, NULL));

  g_autoptr (VpCpuSource) source = vp_cpu_source_proc_new (root, &two_cpus);
  g_autoptr (VpProcessTimes) times = vp_process_times_new ();
  for (guint64 runtime = 1000; runtime <= 3000; runtime += 1000)
    {
      g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT " 0 0\n", runtime);
      g_assert_true (g_file_set_contents (schedstat, text, -1, NULL));
      g_assert_true (vp_cpu_source_read (source, 4242, times, NULL));
      vp_cpu_source_end_tick (source);
      g_assert_cmpuint (times->start_ticks, ==, 777);
      g_assert_cmpuint (times->tasks->len, ==, 1);
      g_assert_cmpuint (g_array_index (times->tasks, VpTaskTime, 0).runtime_ns, ==, runtime);
      g_assert_cmpint (g_array_index (times->tasks, VpTaskTime, 0).cpu, ==, 1);
    }
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", root);
  g_assert_cmpint (system (rm), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpusource/proc/threads-come-and-go", test_threads_come_and_go);
  g_test_add_func ("/cpusource/proc/package-of-thread", test_package_of_thread);
  g_test_add_func ("/cpusource/proc/exited-thread-counted", test_exited_thread_counted);
  g_test_add_func ("/cpusource/proc/process-gone", test_process_gone);
  g_test_add_func ("/cpusource/proc/fixture-root", test_fixture_root);
  return g_test_run ();
}
