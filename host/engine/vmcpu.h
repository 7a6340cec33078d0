/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: each VM's CPU time per package in a tick, from the CPU-time source, bridged across a
 * restart or a change of source, with libvirt's cpu.time for VMs without a readable process. */
#pragma once

#include <glib.h>

#include "host/inventory/inventory.h"
#include "host/sense/cpusource.h"
#include "host/sense/sample.h"

typedef struct _VpVmCpu VpVmCpu;

/* source and topology are borrowed: they outlive it. */
VpVmCpu *vp_vm_cpu_new (VpCpuSource *source, const VpTopology *topology);
void vp_vm_cpu_free (VpVmCpu *vm_cpu);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpVmCpu, vp_vm_cpu_free)

/* Samples every running VM of vms into cur. prev (may be NULL) decides which need a /proc
 * checkpoint now. */
void vp_vm_cpu_sample (VpVmCpu *vm_cpu, VpInventory *inventory, const GPtrArray *vms, const VpSample *prev,
                       VpSample *cur);

/* Each VM's CPU time per dense package since prev, into vm_ns[vm * n_packages + package]; carries
 * the checkpoints from prev into cur (taking them from prev). package_busy_ns: the host's busy
 * time per package in the tick, which spreads libvirt's totals. */
void vp_vm_cpu_deltas (VpVmCpu *vm_cpu, const GPtrArray *vms, VpSample *prev, VpSample *cur,
                       const guint64 *package_busy_ns, guint64 *vm_ns);

/* The VM's counters were dropped: forget that its process was missing. */
void vp_vm_cpu_forget (VpVmCpu *vm_cpu, const char *uuid);
