/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: attribution policies, splitting one zone's energy for one tick.
 *
 * Each policy only chooses weights; vp_split_exact() turns them into whole
 * µJ with remainders carried, which is what keeps conservation exact. */
#include "config.h"

#include "host/attribution/attrib.h"

void
vp_attrib_split (VpPolicy policy, const VpAttribZone *zone, VpSplitItem *items, gsize n_vms)
{
  VpSplitItem *host = &items[VP_ATTRIB_HOST (n_vms)];
  VpSplitItem *unattributed = &items[VP_ATTRIB_UNATTRIBUTED (n_vms)];
  guint64 vm_ns = 0;

  for (gsize i = 0; i < n_vms; i++)
    vm_ns += items[i].weight;
  /* /proc/stat counts in 10 ms ticks and schedstat in ns, so the VMs' sum can
   * exceed the host's busy time by a tick's worth: the host's own share is
   * what is left, never negative. */
  guint64 host_ns = zone->host_busy_ns > vm_ns ? zone->host_busy_ns - vm_ns : 0;
  guint64 busy_ns = vm_ns + host_ns;
  guint64 idle_ns = zone->capacity_ns > busy_ns ? zone->capacity_ns - busy_ns : 0;

  switch (policy)
    {
    case VP_POLICY_BUSY:
      host->weight = host_ns;
      unattributed->weight = 0;
      break;
    case VP_POLICY_ACTIVE:
      host->weight = host_ns;
      unattributed->weight = idle_ns;
      break;
    case VP_POLICY_CAPACITY:
    default:
      host->weight = 0;
      unattributed->weight = zone->capacity_ns > vm_ns ? zone->capacity_ns - vm_ns : 0;
      break;
    }

  if (!vp_split_exact (zone->energy_uj, items, VP_ATTRIB_N_ITEMS (n_vms)))
    {
      /* Nothing ran and there is no capacity to speak of (a zero-length
       * tick): busy gives the energy to the host, which kept the package
       * powered; the other policies leave it unattributed. */
      VpSplitItem *owner = policy == VP_POLICY_BUSY ? host : unattributed;
      for (gsize i = 0; i < VP_ATTRIB_N_ITEMS (n_vms); i++)
        items[i].share = 0;
      owner->weight = 1;
      vp_split_exact (zone->energy_uj, items, VP_ATTRIB_N_ITEMS (n_vms));
    }
}
