/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: attribution policies, splitting one zone's energy for one tick. */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "shared/vp-split.h"

/* The consumers of a zone's energy, in the items[] array passed to
 * vp_attrib_split: items[0 .. n_vms) are the VMs, then these two. */
#define VP_ATTRIB_HOST(n_vms) (n_vms)
#define VP_ATTRIB_UNATTRIBUTED(n_vms) ((n_vms) + 1)
#define VP_ATTRIB_N_ITEMS(n_vms) ((n_vms) + 2)

typedef struct {
  guint64 energy_uj;     /* the zone's energy this tick */
  guint64 host_busy_ns;  /* busy time of the zone's CPUs, all processes (/proc/stat) */
  guint64 capacity_ns;   /* the zone's CPUs x the interval */
} VpAttribZone;

/* Splits zone->energy_uj between the VMs (whose CPU time on the zone's CPUs
 * this tick is items[i].weight on input, for i < n_vms), the host's own
 * processes and "unattributed", as the policy says:
 *
 *   busy      by share of busy CPU time; consumers are the VMs and the host
 *             (whatever of host_busy_ns the VMs did not use). Nothing is
 *             unattributed unless nothing at all was busy.
 *   active    as busy, but only the busy fraction of the energy
 *             (busy / capacity); the idle fraction is unattributed.
 *   capacity  each VM gets energy x its CPU time / capacity; the host gets
 *             nothing; the rest is unattributed.
 *
 * On return items[i].share holds each consumer's µJ, and the shares add up to
 * exactly zone->energy_uj. Carries (items[i].carry) must be kept by the
 * caller between ticks. Weights of the host and unattributed items are set
 * here. */
void vp_attrib_split (VpPolicy policy, const VpAttribZone *zone, VpSplitItem *items, gsize n_vms);
