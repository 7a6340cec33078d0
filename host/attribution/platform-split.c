/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the platform's energy split between VMs (see platform-split.h). */
#include "config.h"

#include "host/attribution/platform-split.h"

guint64
vp_platform_split (VpPlatformSplit split, const VpPlatformTick *tick, const guint64 *contained,
                   VpSplitItem *items, gsize n_vms, guint64 *raised_uj)
{
  VpSplitItem *host = &items[VP_ATTRIB_HOST (n_vms)];
  VpSplitItem *unattributed = &items[VP_ATTRIB_UNATTRIBUTED (n_vms)];
  guint64 counted = MAX (tick->platform_uj, tick->contained_uj);
  *raised_uj = counted - tick->platform_uj;
  guint64 rest = counted - tick->contained_uj;

  guint64 vm_weight = 0;
  for (gsize i = 0; i < n_vms; i++)
    vm_weight += items[i].weight;
  host->weight = 0;
  unattributed->weight = 0;
  switch (split)
    {
    case VP_PLATFORM_SPLIT_VCPUS:
      unattributed->weight = tick->host_cpus > vm_weight ? tick->host_cpus - vm_weight : 0;
      break;
    case VP_PLATFORM_SPLIT_CPU_TIME:
      /* As attrib.c: the host's own share is what the VMs did not use, never negative. */
      host->weight = tick->host_busy_ns > vm_weight ? tick->host_busy_ns - vm_weight : 0;
      break;
    case VP_PLATFORM_SPLIT_EVEN:
    default:
      break;
    }
  if (!vp_split_exact (rest, items, VP_ATTRIB_N_ITEMS (n_vms)))
    {
      /* Nobody to split it by (no VM, nothing busy): the host keeps the machine running for
       * cpu-time; the rest is nobody's for the others. */
      for (gsize i = 0; i < VP_ATTRIB_N_ITEMS (n_vms); i++)
        items[i].share = 0;
      VpSplitItem *owner = split == VP_PLATFORM_SPLIT_CPU_TIME ? host : unattributed;
      owner->share = rest;
    }
  for (gsize i = 0; i < VP_ATTRIB_N_ITEMS (n_vms); i++)
    items[i].share += contained[i];
  return counted;
}
