/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: VMs' CPU time from /proc, with each thread's files held open (issue 24).
 *
 * Opening, reading and closing /proc/PID/task/TID/{schedstat,stat} for every thread of every VM
 * each tick was nearly all of a tick's cost at 1000 VMs (perf: openat, d_lookup, pid_revalidate,
 * do_task_stat). A held file re-read with pread at offset 0 is formatted afresh by the kernel
 * (fs/proc/base.c, proc_single_show) at about a third of that cost. So:
 *  - each VM's task directory and each of its threads' schedstat stay open;
 *  - the thread list is walked again only when the thread count changes (the task directory's
 *    link count is 2 + the number of threads: fs/proc/base.c, proc_task_getattr), when a held
 *    thread has gone, or every WALK_EVERY ticks, to see affinity changes;
 *  - a process's files are let go of once it has not been read for RETAIN_TICKS ticks;
 *  - stat (field 39, the CPU a thread last ran on) is read only for a thread that ran since the
 *    last read and whose allowed CPUs span more than one package: a thread confined to one
 *    package is charged to it exactly without it.
 * A thread seen late loses nothing: its first sighting counts its run time from zero
 * (vp_process_times_package_deltas). Nor does one that exits: what it ran after its last reading
 * (all of it, if it came and went between two) is found in the process's own total (stat fields 14 and 15, which keep
 * the time of exited threads) less the live threads' and what was counted of the gone ones, and
 * shown as one more slot (exited_tid). Held files belong to the process they were opened for, not
 * to its PID: once it has exited they fail (ESRCH), and a new process with that PID is opened
 * afresh. */
#include "config.h"

#define VP_CPU_SOURCE_IMPLEMENTATION
#include "host/sense/cpusource-priv.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Ticks between walks of a VM's thread list when its thread count has not changed: how long a
 * vCPU re-pinned to another package (virsh vcpupin) may still be charged to its old one. */
#define WALK_EVERY 10

/* Ticks a process's files stay held without being read: a VM's /proc checkpoints are read every
 * 10 ticks when its CPU time comes from BPF (host/engine/vmcpu.c), and must not be opened anew
 * each time. */
#define RETAIN_TICKS 32

typedef struct {
  int tid;
  int schedstat_fd;       /* -1: read afresh each time (no descriptor left) */
  int stat_fd;            /* opened the first time this thread's last CPU is needed */
  int home_cpu;           /* a CPU of the one package its affinity allows, or -1 */
  int last_cpu;
  guint64 last_runtime_ns;
  gboolean gone;          /* its file failed: counted into gone_counted_ns already */
} HeldThread;

typedef struct {
  int task_fd;            /* PID/task */
  int stat_fd;            /* PID/stat: the whole process's CPU time, exited threads' included */
  guint64 start_ticks;
  /* Exited threads: the process's total less its live threads' (dead_ns) when first read, what
   * was counted of the threads gone since, and the slot of their uncounted time (monotonic). */
  guint64 dead_base_ns;
  guint64 gone_counted_ns;
  guint64 exited_ns;
  int exited_cpu;
  gboolean threads_went;  /* since the process's total was last read */
  guint ticks_to_total;
  GArray *threads;        /* HeldThread, sorted by tid */
  guint ticks_to_walk;
  guint64 read_in_tick;
} HeldProcess;

typedef struct {
  char *proc_root;
  gboolean holds;         /* a real procfs: files can be held; a fixture tree is read afresh */
  gboolean own_pid_ns;    /* its PIDs are ours, so sched_getaffinity() can ask about them */
  guint n_cpus;
  int *package_of_cpu;
  GHashTable *processes;  /* pid -> HeldProcess */
  guint64 tick;
  /* The slot of exited threads' time: above any PID, and another in each engine, as its value
   * counts from this engine's first reading. */
  int exited_tid;
  guint64 ns_per_clock_tick;
  gboolean said_out_of_fds;
} ProcSource;

static void
held_thread_close (HeldThread *thread)
{
  if (thread->schedstat_fd >= 0)
    close (thread->schedstat_fd);
  if (thread->stat_fd >= 0)
    close (thread->stat_fd);
}

static void
held_process_free (HeldProcess *held)
{
  for (guint i = 0; i < held->threads->len; i++)
    held_thread_close (&g_array_index (held->threads, HeldThread, i));
  g_array_unref (held->threads);
  close (held->task_fd);
  if (held->stat_fd >= 0)
    close (held->stat_fd);
  g_free (held);
}

/* Opens TID/NAME under a task directory to hold it; -1 when it cannot be (then it is read afresh
 * each time). Running out of descriptors is said once: it costs more but loses nothing. */
static int
open_held (ProcSource *self, int task_fd, int tid, const char *name)
{
  char rel[64];
  g_snprintf (rel, sizeof rel, "%d/%s", tid, name);
  int fd = openat (task_fd, rel, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && (errno == EMFILE || errno == ENFILE) && !self->said_out_of_fds)
    {
      self->said_out_of_fds = TRUE;
      g_warning ("cpu time: cannot hold more /proc files open (%s); the rest are opened each tick, "
                 "which costs more (raise LimitNOFILE)", g_strerror (errno));
    }
  return fd;
}

/* Reads TID/NAME through its held descriptor, or afresh without one. */
static gboolean
read_thread_file (const HeldProcess *held, int fd, int tid, const char *name, char *buf, gsize size)
{
  if (fd >= 0)
    {
      ssize_t n = pread (fd, buf, size - 1, 0);
      if (n <= 0)
        return FALSE;
      buf[n] = '\0';
      return TRUE;
    }
  char rel[64];
  g_snprintf (rel, sizeof rel, "%d/%s", tid, name);
  return vp_read_small_file_at (held->task_fd, rel, NULL, buf, size, NULL) > 0;
}

/* A CPU of the only package tid may run on, or -1 when its affinity spans several (or cannot be
 * known): then where it ran must be read from its stat. */
static int
home_cpu (const ProcSource *self, int tid)
{
  if (!self->own_pid_ns)
    return -1;
  /* The kernel refuses a mask smaller than its own CPU count: size it generously. */
  gsize n_bits = MAX (self->n_cpus, 8192);
  cpu_set_t *set = CPU_ALLOC (n_bits);
  gsize set_size = CPU_ALLOC_SIZE (n_bits);
  int home = -1, package = -1;
  if (set && sched_getaffinity (tid, set_size, set) == 0)
    for (guint cpu = 0; cpu < self->n_cpus; cpu++)
      {
        if (!CPU_ISSET_S (cpu, set_size, set) || self->package_of_cpu[cpu] < 0)
          continue;
        if (package < 0)
          {
            package = self->package_of_cpu[cpu];
            home = (int) cpu;
          }
        else if (self->package_of_cpu[cpu] != package)
          {
            home = -1;
            break;
          }
      }
  if (set)
    CPU_FREE (set);
  return home;
}

/* A thread no longer listed: what was counted of it joins gone_counted_ns, so that the exited
 * slot holds only what it ran after its last reading. */
static void
thread_gone (HeldProcess *held, HeldThread *thread)
{
  if (!thread->gone)
    held->gone_counted_ns += thread->last_runtime_ns;
  held->threads_went = TRUE;
  held_thread_close (thread);
}

/* The process's CPU time so far, exited threads' included, and the CPU its main thread last
 * ran on. In clock ticks: the kernel rounds it down to 10 ms. */
static gboolean
read_process_total (const ProcSource *self, const HeldProcess *held, guint64 *total_ns, int *cpu)
{
  char buf[1024];
  ssize_t n = held->stat_fd >= 0 ? pread (held->stat_fd, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0)
    return FALSE;
  buf[n] = '\0';
  static const guint fields[] = { 14, 15, 39 };   /* utime, stime, processor */
  guint64 values[3];
  if (!vp_parse_stat_fields (buf, fields, 3, values))
    return FALSE;
  *total_ns = (values[0] + values[1]) * self->ns_per_clock_tick;
  *cpu = values[2] > G_MAXINT ? -1 : (int) values[2];
  return TRUE;
}

static int
compare_int (gconstpointer a, gconstpointer b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return (x > y) - (x < y);
}

/* Lists the process's threads again: keeps what is held for those still there, holds the new
 * ones, lets go of the gone ones, and reads every affinity. FALSE when no thread is left. */
static gboolean
walk_threads (ProcSource *self, HeldProcess *held)
{
  held->ticks_to_walk = WALK_EVERY;
  int fd = openat (held->task_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
  if (!dir)
    {
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  g_autoptr (GArray) tids = g_array_new (FALSE, FALSE, sizeof (int));
  struct dirent *entry;
  while ((entry = readdir (dir)) != NULL)
    if (g_ascii_isdigit (entry->d_name[0]))
      {
        int tid = atoi (entry->d_name);
        g_array_append_val (tids, tid);
      }
  closedir (dir);
  g_array_sort (tids, compare_int);

  GArray *old = held->threads;
  GArray *threads = g_array_sized_new (FALSE, FALSE, sizeof (HeldThread), tids->len);
  guint j = 0;
  for (guint i = 0; i < tids->len; i++)
    {
      int tid = g_array_index (tids, int, i);
      for (; j < old->len && g_array_index (old, HeldThread, j).tid < tid; j++)
        thread_gone (held, &g_array_index (old, HeldThread, j));
      HeldThread thread;
      if (j < old->len && g_array_index (old, HeldThread, j).tid == tid)
        thread = g_array_index (old, HeldThread, j++);
      else
        thread = (HeldThread) {
          .tid = tid, .stat_fd = -1, .last_cpu = -1,
          .schedstat_fd = open_held (self, held->task_fd, tid, "schedstat"),
        };
      thread.home_cpu = home_cpu (self, tid);
      g_array_append_val (threads, thread);
    }
  for (; j < old->len; j++)
    thread_gone (held, &g_array_index (old, HeldThread, j));
  g_array_unref (old);
  held->threads = threads;
  return threads->len > 0;
}

static HeldProcess *
open_process (ProcSource *self, int pid, GError **error)
{
  int task_fd = vp_task_dir_open (self->proc_root, pid, error);
  if (task_fd < 0)
    return NULL;
  char path[PATH_MAX];
  HeldProcess *held = g_new0 (HeldProcess, 1);
  held->task_fd = task_fd;
  g_snprintf (path, sizeof path, "%s/%d/stat", self->proc_root, pid);
  held->stat_fd = open (path, O_RDONLY | O_CLOEXEC);
  held->exited_cpu = -1;
  held->threads = g_array_new (FALSE, FALSE, sizeof (HeldThread));
  /* The main thread's start time is the process's: it tells a reused PID from the process
   * the previous sample saw. */
  char buf[1024], rel[32];
  int cpu;
  g_snprintf (rel, sizeof rel, "%d/stat", pid);
  if (vp_read_small_file_at (task_fd, rel, NULL, buf, sizeof buf, NULL) < 0 ||
      !vp_parse_task_stat (buf, &held->start_ticks, &cpu))
    held->start_ticks = 0;
  if (!walk_threads (self, held))
    {
      held_process_free (held);
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "process %d has no readable thread under %s/%d/task",
                   pid, self->proc_root, pid);
      return NULL;
    }
  return held;
}

/* One sample of a held process. FALSE when none of its threads could be read: it has exited. */
/* The exited slot: the process's total less the live threads' is the lifetime of every exited
 * thread; less the first reading's (the base) and what was counted of them, what they ran unseen.
 * The total is read when threads have gone, and every WALK_EVERY ticks besides, as a thread may
 * come and go between two readings and leave no other trace: its time is then counted up to
 * WALK_EVERY ticks late, never lost. (Reading it every tick would cost as much as the threads'
 * own reads: the kernel sums every thread for it.) The kernel's total is rounded down to a clock
 * tick, so the slot only ever rises (to its largest reading): it is at most two ticks short, and
 * never counts twice. */
static void
account_exited (const ProcSource *self, HeldProcess *held, guint64 live_ns, gboolean first_read,
                VpProcessTimes *times)
{
  guint64 total_ns;
  int cpu;
  gboolean due = first_read || held->threads_went || --held->ticks_to_total == 0;
  if (due && read_process_total (self, held, &total_ns, &cpu))
    {
      guint64 dead_ns = total_ns > live_ns ? total_ns - live_ns : 0;
      if (first_read)
        held->dead_base_ns = dead_ns;
      else if (dead_ns > held->dead_base_ns + held->gone_counted_ns)
        held->exited_ns = MAX (held->exited_ns, dead_ns - held->dead_base_ns - held->gone_counted_ns);
      held->exited_cpu = cpu;
      held->threads_went = FALSE;
      held->ticks_to_total = WALK_EVERY;
    }
  if (held->exited_ns == 0)
    return;
  /* After every thread: the slots stay sorted by tid. */
  VpTaskTime exited = { .tid = self->exited_tid, .cpu = held->exited_cpu, .runtime_ns = held->exited_ns };
  g_array_append_val (times->tasks, exited);
}

static gboolean
read_held (ProcSource *self, HeldProcess *held, int pid, VpProcessTimes *times)
{
  gboolean first_read = held->read_in_tick == 0;
  guint64 live_ns = 0;
  struct stat st;
  gboolean count_changed = fstat (held->task_fd, &st) == 0 && st.st_nlink >= 2 &&
                           st.st_nlink - 2 != held->threads->len;
  if ((count_changed || --held->ticks_to_walk == 0) && !walk_threads (self, held))
    return FALSE;

  g_array_set_size (times->tasks, 0);
  times->pid = pid;
  times->start_ticks = held->start_ticks;
  char buf[1024];
  for (guint i = 0; i < held->threads->len; i++)
    {
      HeldThread *thread = &g_array_index (held->threads, HeldThread, i);
      char *end;
      if (!read_thread_file (held, thread->schedstat_fd, thread->tid, "schedstat", buf, sizeof buf))
        {
          /* Exited: skipped, as a fresh walk would, and its uncounted time is the exited slot's
           * below. The next tick walks again, in case another thread came while the count
           * stayed the same. */
          held->ticks_to_walk = 1;
          if (!thread->gone)
            held->gone_counted_ns += thread->last_runtime_ns;
          thread->gone = TRUE;
          held->threads_went = TRUE;
          continue;
        }
      guint64 runtime = g_ascii_strtoull (buf, &end, 10);
      if (end == buf)
        continue;
      VpTaskTime task = { .tid = thread->tid, .runtime_ns = runtime, .cpu = thread->home_cpu };
      if (task.cpu < 0 && (runtime != thread->last_runtime_ns || thread->last_cpu < 0))
        {
          guint64 start;
          if (thread->stat_fd < 0 && thread->schedstat_fd >= 0)
            thread->stat_fd = open_held (self, held->task_fd, thread->tid, "stat");
          if (read_thread_file (held, thread->stat_fd, thread->tid, "stat", buf, sizeof buf))
            vp_parse_task_stat (buf, &start, &thread->last_cpu);
        }
      if (task.cpu < 0)
        task.cpu = thread->last_cpu;
      thread->last_runtime_ns = runtime;
      live_ns += runtime;
      g_array_append_val (times->tasks, task);
    }
  if (times->tasks->len == 0)
    return FALSE;
  account_exited (self, held, live_ns, first_read, times);
  return TRUE;
}

static gboolean
proc_read (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error)
{
  ProcSource *self = source->impl;
  if (!self->holds)
    return vp_process_times_read (self->proc_root, pid, times, error);

  gpointer key = GINT_TO_POINTER (pid);
  HeldProcess *held = g_hash_table_lookup (self->processes, key);
  if (held && !read_held (self, held, pid, times))
    {
      /* The process we held has exited; the PID may be another's by now. */
      g_hash_table_remove (self->processes, key);
      held = NULL;
    }
  if (!held)
    {
      held = open_process (self, pid, error);
      if (!held)
        return FALSE;
      g_hash_table_insert (self->processes, key, held);
      if (!read_held (self, held, pid, times))
        {
          g_hash_table_remove (self->processes, key);
          g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "process %d has no readable thread under %s",
                       pid, self->proc_root);
          return FALSE;
        }
    }
  held->read_in_tick = self->tick;
  return TRUE;
}

static void
proc_end_tick (VpCpuSource *source)
{
  ProcSource *self = source->impl;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (self->tick - ((HeldProcess *) value)->read_in_tick >= RETAIN_TICKS)
      g_hash_table_iter_remove (&iter);
  self->tick++;
}

static void
proc_source_free (gpointer data)
{
  ProcSource *self = data;
  g_hash_table_unref (self->processes);
  g_free (self->package_of_cpu);
  g_free (self->proc_root);
  g_free (self);
}

/* TRUE when proc_root shows this process's own PID namespace: its "self" is our PID. */
static gboolean
is_own_pid_ns (const char *proc_root)
{
  g_autofree char *self_link = g_build_filename (proc_root, "self", NULL);
  g_autofree char *target = g_file_read_link (self_link, NULL);
  return target && atoi (target) == getpid ();
}

VpCpuSource *
vp_cpu_source_proc_new (const char *proc_root, const VpTopology *topology)
{
  ProcSource *self = g_new0 (ProcSource, 1);
  struct statfs fs;
  self->proc_root = g_strdup (proc_root);
  self->holds = statfs (proc_root, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
  self->own_pid_ns = self->holds && is_own_pid_ns (proc_root);
  self->n_cpus = topology->n_cpus;
  self->package_of_cpu = g_memdup2 (topology->package_of_cpu, topology->n_cpus * sizeof (int));
  self->processes = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                           (GDestroyNotify) held_process_free);
  self->tick = 1;
  /* pid_max is at most 2^22 (kernel/pid.c): these are no thread's. */
  self->exited_tid = G_MAXINT - (int) g_random_int_range (0, 1 << 20);
  long hz = sysconf (_SC_CLK_TCK);
  self->ns_per_clock_tick = 1000000000u / (guint64) (hz > 0 ? hz : 100);

  VpCpuSource *source = g_new0 (VpCpuSource, 1);
  source->name = "proc";
  source->read = proc_read;
  source->end_tick = proc_end_tick;
  source->impl = self;
  source->free_impl = proc_source_free;
  return source;
}
