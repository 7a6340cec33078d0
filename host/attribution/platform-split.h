/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the platform's energy (the whole machine's, at the wall or the board) split between
 * VMs, for one tick.
 *
 * RAPL measures the packages and DRAM, and each of those zones is split by the attribution
 * policy (attrib.h). The platform's energy contains them. The rest of the machine (fans, PSU
 * losses, disks, NICs, the BMC) is not split by anything that was measured per VM: it is split
 * by a policy, which the API and the tree say.
 *
 *   vcpus     by the share of the host's CPUs each VM reserves (its vCPUs over the host's CPUs),
 *             as GSF's SCI and Cloud Carbon Footprint charge static power. The share no VM
 *             reserves is unattributed; with more vCPUs than CPUs the VMs split all of it.
 *   cpu-time  by CPU time this tick, the host's own processes taking theirs.
 *   even      evenly between the running VMs.
 *
 * A consumer's platform energy is what it got of the RAPL zones the platform contains, plus its
 * share of the rest. The shares add up to the platform's energy exactly, in µJ. A meter that
 * says less than RAPL's zones this tick (its readings lag, or it is stale) is raised to them:
 * nothing of the rest is split then, and the raise is counted. */
#pragma once

#include <glib.h>

#include "host/attribution/attrib.h"
#include "host/conf.h"

typedef struct {
  guint64 platform_uj;  /* the platform's energy this tick, as its meter says */
  guint64 contained_uj; /* RAPL's zones in it (packages, DRAM), this tick */
  guint host_cpus;      /* vcpus: the CPUs the VMs' vCPUs are a share of */
  guint64 host_busy_ns; /* cpu-time: the busy time of every CPU, the VMs' included */
} VpPlatformTick;

/* Splits one tick's platform energy. items[VP_ATTRIB_N_ITEMS (n_vms)] are the VMs, the host's
 * processes and unattributed, as for attrib.h; for VMs, weight is their vCPUs (vcpus), their CPU
 * time on every package (cpu-time) or 1 if running (even); carries are the caller's to keep.
 * contained[i] is what consumer i got of the contained zones this tick. On return
 * items[i].share is consumer i's platform energy. Returns the platform energy counted: the
 * meter's, or the contained zones' if more (*raised_uj then says by how much). */
guint64 vp_platform_split (VpPlatformSplit split, const VpPlatformTick *tick, const guint64 *contained,
                           VpSplitItem *items, gsize n_vms, guint64 *raised_uj);
