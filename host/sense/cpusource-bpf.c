/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: VMs' CPU time from a BPF sched_switch program (issue 24; the program is
 * cputime.bpf.c).
 *
 * Each VM's QEMU process gets a slot; the program adds every interval its threads run to the
 * slot's counter for that CPU. A sample is then one slot per CPU with run time, read from memory
 * mapped from the kernel, with the interval still running on each CPU added: exact per CPU, so
 * exact per package, where /proc knows only the CPU a thread ran on last. Reading costs no system
 * call per VM: one epoll_wait a tick tells which VMs' processes have exited (their pidfds).
 *
 * Its samples are told from /proc's by their identity (start_ticks): the program's instance, with
 * VP_TIMES_PER_CPU set, which no process start time has. So a sample of another source or another
 * run of the program is never subtracted from one of this run; the engine bridges such a gap with
 * /proc readings instead (host/engine/vmcpu.c). */
#include "config.h"

#define VP_CPU_SOURCE_IMPLEMENTATION
#include "host/sense/cpusource-priv.h"
#include <linux/types.h>

#include "host/sense/cputime-shared.h"
#include "host/sense/cputime.skel.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  guint32 slot;
  int pidfd;
  gboolean exited;
  guint64 read_in_tick;
} Slot;

typedef struct {
  struct vp_cputime *skel;
  char *proc_root;
  guint n_cpus;                       /* possible CPUs: cpu_state's length */
  guint n_slots;
  struct vp_cpu_state *states;        /* mapped cpu_state */
  guint64 *slot_ns;                   /* mapped slot_ns: [cpu * n_slots + slot] */
  gsize states_size, slot_ns_size;
  GHashTable *slots;                  /* pid -> Slot */
  GArray *free_slots;                 /* guint32 */
  int epoll_fd;                       /* pidfds of the slotted processes */
  guint64 identity;
  guint64 tick;
  gboolean polled;                    /* this tick's exits are known */
  VpCpuSource *overflow;              /* /proc, for VMs beyond n_slots */
  gboolean said_overflow;
} BpfSource;

static void
slot_free (gpointer data)
{
  Slot *slot = data;
  if (slot->pidfd >= 0)
    close (slot->pidfd);
  g_free (slot);
}

static void
release_slot (BpfSource *self, int pid, Slot *slot)
{
  guint32 tgid = (guint32) pid;
  bpf_map__delete_elem (self->skel->maps.tgid_slot, &tgid, sizeof tgid, 0);
  g_array_append_val (self->free_slots, slot->slot);
}

static void
bpf_source_free (gpointer data)
{
  BpfSource *self = data;
  if (self->slots)
    g_hash_table_unref (self->slots);
  if (self->free_slots)
    g_array_unref (self->free_slots);
  if (self->epoll_fd >= 0)
    close (self->epoll_fd);
  if (self->states)
    munmap (self->states, self->states_size);
  if (self->slot_ns)
    munmap (self->slot_ns, self->slot_ns_size);
  /* Detaches the program and frees it and its maps, as the kernel also does when the process
   * dies: nothing outlives the engine. */
  vp_cputime__destroy (self->skel);
  vp_cpu_source_free (self->overflow);
  g_free (self->proc_root);
  g_free (self);
}

/* Marks the slotted processes that have exited since the last poll: one epoll_wait for all. */
static void
poll_exits (BpfSource *self)
{
  struct epoll_event events[64];
  int n;
  do
    {
      n = epoll_wait (self->epoll_fd, events, G_N_ELEMENTS (events), 0);
      for (int i = 0; i < n; i++)
        {
          Slot *slot = g_hash_table_lookup (self->slots, GINT_TO_POINTER (events[i].data.u32));
          if (slot && !slot->exited)
            {
              slot->exited = TRUE;
              epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, slot->pidfd, NULL);
            }
        }
    }
  while (n == G_N_ELEMENTS (events));
  self->polled = TRUE;
}

static Slot *
assign_slot (BpfSource *self, int pid, GError **error)
{
  int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, saved == ESRCH ? VP_ERROR_NOT_FOUND : VP_ERROR_IO,
                   "process %d: %s", pid, g_strerror (saved));
      return NULL;
    }
  guint32 index = g_array_index (self->free_slots, guint32, self->free_slots->len - 1);
  /* Counted from zero: what a freed slot held was another process's. */
  for (guint cpu = 0; cpu < self->n_cpus; cpu++)
    __atomic_store_n (&self->slot_ns[(gsize) cpu * self->n_slots + index], 0, __ATOMIC_RELAXED);
  guint32 tgid = (guint32) pid;
  struct epoll_event event = { .events = EPOLLIN, .data.u32 = tgid };
  if (bpf_map__update_elem (self->skel->maps.tgid_slot, &tgid, sizeof tgid, &index, sizeof index, BPF_ANY) != 0 ||
      epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, pidfd, &event) != 0)
    {
      int saved = errno;
      close (pidfd);
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "process %d: cannot give it a BPF slot: %s", pid,
                   g_strerror (saved));
      return NULL;
    }
  g_array_set_size (self->free_slots, self->free_slots->len - 1);
  Slot *slot = g_new0 (Slot, 1);
  slot->slot = index;
  slot->pidfd = pidfd;
  g_hash_table_insert (self->slots, GINT_TO_POINTER (pid), slot);
  return slot;
}

static guint64
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * 1000000000u + (guint64) ts.tv_nsec;
}

/* The run time the kernel has counted for thread tid of pid (schedstat's first field: its
 * se.sum_exec_runtime, brought up to date at each scheduler tick while it runs), or 0. */
static guint64
thread_exec_ns (const BpfSource *self, int pid, guint32 tid)
{
  char path[PATH_MAX], text[96];
  g_snprintf (path, sizeof path, "%s/%d/task/%u/schedstat", self->proc_root, pid, tid);
  if (vp_read_small_file (path, text, sizeof text, NULL) <= 0)
    return 0;
  char *end = NULL;
  guint64 ns = g_ascii_strtoull (text, &end, 10);
  return end != text && *end == ' ' ? ns : 0;
}

/* The slot's run time on one CPU, with what its thread still running there has run since it
 * was switched in. That part is read from the thread's own count, the one the program charges
 * at its switch-out: never more than what the switch-out then adds, so a VM's time never goes
 * back from one sample to the next (the sequence number says that the thread has not switched
 * out meanwhile; if it has, the counter holds its time). */
static guint64
slot_time_on (const BpfSource *self, guint cpu, guint32 slot, int pid)
{
  const struct vp_cpu_state *state = &self->states[cpu];
  const guint64 *counter = &self->slot_ns[(gsize) cpu * self->n_slots + slot];
  for (;;)
    {
      guint64 seq = __atomic_load_n (&state->seq, __ATOMIC_ACQUIRE);
      if (seq & 1)
        continue;   /* the program is between its two writes: a few instructions */
      guint64 ns = __atomic_load_n (counter, __ATOMIC_RELAXED);
      gint64 running = __atomic_load_n (&state->slot, __ATOMIC_RELAXED);
      guint64 exec_in = __atomic_load_n (&state->exec_ns, __ATOMIC_RELAXED);
      guint32 tid = __atomic_load_n (&state->tid, __ATOMIC_RELAXED);
      __atomic_thread_fence (__ATOMIC_ACQUIRE);
      if (__atomic_load_n (&state->seq, __ATOMIC_RELAXED) != seq)
        continue;
      if (running != (gint64) slot)
        return ns;
      guint64 exec_now = thread_exec_ns (self, pid, tid);
      __atomic_thread_fence (__ATOMIC_ACQUIRE);
      if (__atomic_load_n (&state->seq, __ATOMIC_RELAXED) != seq)
        continue;   /* it switched out meanwhile: its time is in the counter now */
      return ns + (exec_now > exec_in ? exec_now - exec_in : 0);
    }
}

static gboolean
bpf_read (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error)
{
  BpfSource *self = source->impl;
  if (!self->polled)
    poll_exits (self);
  Slot *slot = g_hash_table_lookup (self->slots, GINT_TO_POINTER (pid));
  if (!slot && self->free_slots->len == 0)
    {
      if (!self->said_overflow)
        {
          self->said_overflow = TRUE;
          g_warning ("cpu time: all %u BPF slots are taken; VMs beyond them are read from /proc", self->n_slots);
        }
      return vp_cpu_source_read (self->overflow, pid, times, error);
    }
  if (!slot && !(slot = assign_slot (self, pid, error)))
    return FALSE;
  slot->read_in_tick = self->tick;
  if (slot->exited)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "process %d has exited", pid);
      return FALSE;
    }

  g_array_set_size (times->tasks, 0);
  times->pid = pid;
  times->start_ticks = self->identity;
  for (guint cpu = 0; cpu < self->n_cpus; cpu++)
    {
      guint64 ns = slot_time_on (self, cpu, slot->slot, pid);
      if (ns == 0)
        continue;
      /* One slot per CPU: vp_process_times_package_deltas charges each to its CPU's package. */
      VpTaskTime task = { .tid = (int) cpu + 1, .cpu = (int) cpu, .runtime_ns = ns };
      g_array_append_val (times->tasks, task);
    }
  return TRUE;
}

static gboolean
bpf_read_threads (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error)
{
  BpfSource *self = source->impl;
  return vp_cpu_source_read (self->overflow, pid, times, error);
}

static void
bpf_end_tick (VpCpuSource *source)
{
  BpfSource *self = source->impl;
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Slot *slot = value;
      if (slot->read_in_tick == self->tick && !slot->exited)
        continue;
      release_slot (self, GPOINTER_TO_INT (key), slot);
      g_hash_table_iter_remove (&iter);
    }
  vp_cpu_source_end_tick (self->overflow);
  self->tick++;
  self->polled = FALSE;
}

/* libbpf's messages, kept for the error that says why loading failed (the verifier's log). */
static GString *libbpf_log;

static int
collect_libbpf_log (enum libbpf_print_level level, const char *format, va_list args)
{
  if (level == LIBBPF_DEBUG || !libbpf_log)
    return 0;
  g_string_append_vprintf (libbpf_log, format, args);
  return 0;
}

/* The last non-empty line of libbpf's log: the verifier's or libbpf's own reason. */
static char *
last_log_line (const GString *log)
{
  g_auto (GStrv) lines = g_strsplit (log->str, "\n", -1);
  for (int i = (int) g_strv_length (lines) - 1; i >= 0; i--)
    if (*g_strstrip (lines[i]))
      return g_strdup (lines[i]);
  return g_strdup ("no message");
}

static void *
map_shared (struct bpf_map *map, gsize size, int prot)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  void *mem = mmap (NULL, (size + page - 1) / page * page, prot, MAP_SHARED, bpf_map__fd (map), 0);
  return mem == MAP_FAILED ? NULL : mem;
}

VpCpuSource *
vp_cpu_source_bpf_new (const char *proc_root, const VpTopology *topology, guint n_slots, GError **error)
{
  if (access ("/sys/kernel/btf/vmlinux", R_OK) != 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED,
                   "the kernel has no BTF (/sys/kernel/btf/vmlinux: %s; CONFIG_DEBUG_INFO_BTF)", g_strerror (errno));
      return NULL;
    }
  int n_cpus = libbpf_num_possible_cpus ();
  if (n_cpus <= 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "cannot count the possible CPUs: %s",
                   g_strerror (-n_cpus));
      return NULL;
    }

  g_autoptr (GString) log = g_string_new (NULL);
  libbpf_log = log;
  libbpf_print_fn_t previous = libbpf_set_print (collect_libbpf_log);
  BpfSource *self = g_new0 (BpfSource, 1);
  self->epoll_fd = -1;
  self->proc_root = g_strdup (proc_root);
  self->n_cpus = (guint) n_cpus;
  self->n_slots = MAX (n_slots, 1);
  struct vp_cputime *skel = self->skel = vp_cputime__open ();
  int err = -ENOMEM;
  if (skel)
    {
      skel->rodata->n_slots = self->n_slots;
      bpf_map__set_max_entries (skel->maps.tgid_slot, self->n_slots);
      bpf_map__set_max_entries (skel->maps.cpu_state, self->n_cpus);
      bpf_map__set_max_entries (skel->maps.slot_ns, self->n_cpus * self->n_slots);
      err = vp_cputime__load (self->skel);
    }
  if (!err && skel)
    {
      /* Every CPU starts with no VM running: the program knows a task's switch-in only from the
       * first switch it sees on that CPU. */
      self->states_size = self->n_cpus * sizeof *self->states;
      self->slot_ns_size = (gsize) self->n_cpus * self->n_slots * sizeof *self->slot_ns;
      self->states = map_shared (skel->maps.cpu_state, self->states_size, PROT_READ | PROT_WRITE);
      self->slot_ns = map_shared (skel->maps.slot_ns, self->slot_ns_size, PROT_READ | PROT_WRITE);
      if (!self->states || !self->slot_ns)
        err = -errno;
      for (guint cpu = 0; !err && cpu < self->n_cpus; cpu++)
        self->states[cpu].slot = -1;
    }
  if (!err && skel)
    err = vp_cputime__attach (skel);
  libbpf_set_print (previous);
  libbpf_log = NULL;
  if (err)
    {
      int code = -err;
      g_autofree char *reason = last_log_line (log);
      const char *why = code == EPERM || code == EACCES ? "not permitted (vpowerd needs CAP_BPF and CAP_PERFMON, or root)"
                      : code == EINVAL || code == ENOTSUP || code == EOPNOTSUPP ? "the kernel refused it (too old a kernel, or the verifier)"
                      : g_strerror (code);
      g_set_error (error, VP_ERROR, code == EPERM || code == EACCES ? VP_ERROR_FAILED : VP_ERROR_FAILED,
                   "cannot load the sched_switch program: %s (libbpf: %s)", why, reason);
      bpf_source_free (self);
      return NULL;
    }

  self->slots = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, slot_free);
  self->free_slots = g_array_sized_new (FALSE, FALSE, sizeof (guint32), self->n_slots);
  for (guint32 slot = self->n_slots; slot > 0; slot--)
    {
      guint32 index = slot - 1;
      g_array_append_val (self->free_slots, index);
    }
  self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  self->identity = VP_TIMES_PER_CPU | (monotonic_ns () ^ ((guint64) g_random_int () << 20));
  self->overflow = vp_cpu_source_proc_new (proc_root, topology);

  VpCpuSource *source = g_new0 (VpCpuSource, 1);
  source->name = "bpf";
  source->per_cpu = TRUE;
  source->read_threads = bpf_read_threads;
  source->read = bpf_read;
  source->end_tick = bpf_end_tick;
  source->impl = self;
  source->free_impl = bpf_source_free;
  return source;
}
