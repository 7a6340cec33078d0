/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the kernel half of the BPF CPU-time source (issue 24; host/sense/cpusource-bpf.c).
 *
 * On each context switch, the time the outgoing task ran is added to its VM's counter for this
 * CPU, when its thread group is one vpowerd listed (tgid_slot). Nothing else: no hardware
 * counters, no per-task state, so a switch between tasks of no VM costs one hash lookup.
 * The daemon maps cpu_state and slot_ns and reads them without a system call; it adds the
 * interval still running on each CPU itself, so a vCPU that never switches out is not missed.
 *
 * The time is the kernel's own count of it, the growth of the task's se.sum_exec_runtime between
 * its switch-in and its switch-out, not the clock between them: the kernel leaves out of that
 * count the time the CPU was stolen by the hypervisor below (CONFIG_PARAVIRT_TIME_ACCOUNTING) and
 * the time it spent in interrupts (CONFIG_IRQ_TIME_ACCOUNTING), as /proc's schedstat does and
 * /proc/stat books them apart. With the clock, a VM on a host whose CPUs are stolen (a nested or
 * cloud-hosted hypervisor) was charged the steal: BPF counted 2% more than /proc on a loaded CI
 * machine with about 20% of a CPU stolen (issue 30). */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "host/sense/cputime-shared.h"

/* Only the fields read here; CO-RE relocates them against the running kernel's BTF, so the
 * object does not depend on the headers of the kernel it was built on. */
struct sched_entity {
  __u64 sum_exec_runtime;
} __attribute__ ((preserve_access_index));

struct task_struct {
  int pid;
  int tgid;
  struct sched_entity se;
} __attribute__ ((preserve_access_index));

/* Set before load: the number of VM slots (the row length of slot_ns). */
const volatile __u32 n_slots = 1;

struct {
  __uint (type, BPF_MAP_TYPE_HASH);
  __type (key, __u32);     /* tgid */
  __type (value, __u32);   /* slot */
  __uint (max_entries, 1); /* n_slots, set before load */
} tgid_slot SEC (".maps");

struct {
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __uint (map_flags, BPF_F_MMAPABLE);
  __type (key, __u32);     /* CPU */
  __type (value, struct vp_cpu_state);
  __uint (max_entries, 1); /* CPUs, set before load */
} cpu_state SEC (".maps");

struct {
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __uint (map_flags, BPF_F_MMAPABLE);
  __type (key, __u32);     /* CPU * n_slots + slot */
  __type (value, __u64);   /* ns run */
  __uint (max_entries, 1); /* CPUs * n_slots, set before load */
} slot_ns SEC (".maps");

SEC ("tp_btf/sched_switch")
int
BPF_PROG (vp_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
  __u32 cpu = bpf_get_smp_processor_id ();
  struct vp_cpu_state *state = bpf_map_lookup_elem (&cpu_state, &cpu);
  if (!state)
    return 0;
  /* The outgoing task is looked up only if a VM's task was switched in here: on a host, most
   * switches are between tasks of no VM, and cost this one lookup. Values, not the pointers:
   * clang would OR two map pointers, which the verifier refuses. */
  __s64 running = state->slot, prev_slot = -1, next_slot = -1;
  __u32 next_tgid = next->tgid;
  __u32 *found = bpf_map_lookup_elem (&tgid_slot, &next_tgid);
  if (found)
    next_slot = *found;
  if (running < 0 && next_slot < 0)
    return 0;
  if (running >= 0)
    {
      __u32 prev_tgid = prev->tgid;
      found = bpf_map_lookup_elem (&tgid_slot, &prev_tgid);
      if (found)
        prev_slot = *found;
    }

  /* By now the scheduler has brought prev's run time up to date (update_curr, as it put prev
   * back), and next's is what it was when it last stopped. */
  __u64 prev_exec = prev->se.sum_exec_runtime;
  __u64 next_exec = next->se.sum_exec_runtime;
  /* A seqlock with one writer, this CPU: odd while it writes, so that the reader never takes a
   * counter and a switch-in from two different switches. */
  __sync_fetch_and_add (&state->seq, 1);
  /* Charged only if it was switched in as that VM's: a thread group listed while it ran has
   * no switch-in to count from. */
  if (prev_slot >= 0 && running == prev_slot)
    {
      __u32 index = cpu * n_slots + (__u32) prev_slot;
      __u64 *ns = bpf_map_lookup_elem (&slot_ns, &index);
      if (ns && prev_exec > state->exec_ns)
        *ns += prev_exec - state->exec_ns;
    }
  state->slot = next_slot;
  state->exec_ns = next_exec;
  state->tid = next->pid;
  __sync_fetch_and_add (&state->seq, 1);
  return 0;
}

char LICENSE[] SEC ("license") = "GPL";
