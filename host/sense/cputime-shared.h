/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what the BPF CPU-time program and the daemon share: one CPU's state. */
#pragma once

/* Written only by the program on this CPU, read by the daemon through a mapping. */
struct vp_cpu_state {
  __u64 seq;        /* odd while the program writes */
  __s64 slot;       /* the VM slot of the task running here, or -1 */
  __u64 exec_ns;    /* that task's se.sum_exec_runtime at its switch-in */
  __u32 tid;        /* that task (its thread id), for the daemon to read the run time it has now */
  __u32 pad32;
  __u64 pad[4];     /* one cache line per CPU: no false sharing between CPUs */
};
