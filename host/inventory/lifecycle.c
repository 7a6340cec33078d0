/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what libvirt's lifecycle events say of a VM's comings and goings (migration, restore).
 *
 * The events of a live migration, as measured on Debian 12's libvirt 9.0
 * (real-components.md), and what each means for the VM's books here:
 *   source:      Suspended/Migrated  paused for the switch-over: no CPU time
 *                                    is charged while paused (the engine
 *                                    charges running VMs only);
 *                Stopped/Migrated    it now runs elsewhere: its series go,
 *                                    its counters wait for its return;
 *                Resumed/Migrated    (instead of Stopped) the migration failed
 *                                    after the pause: it carries on here.
 *   destination: Started/Migrated    its directory and channel now, paused;
 *                Resumed/Migrated    running here: counted from now;
 *                Stopped/Failed      the incoming migration failed;
 *                (Resumed/Unpaused   after migrate --suspend: the resume.)
 * A post-copy migration says Suspended/Postcopy and Resumed/Postcopy: the same
 * meaning. The domain's state and reason (vp_lifecycle_reconcile) win over
 * the events, which may come late or not at all (vpowerd down, reconnect). */
#include "config.h"

#include "host/inventory/lifecycle.h"

#include <libvirt/libvirt.h>

const char *
vp_arrival_to_string (VpArrival arrival)
{
  switch (arrival)
    {
    case VP_ARRIVAL_BOOTED: return "booted";
    case VP_ARRIVAL_RESTORED: return "restored";
    case VP_ARRIVAL_MIGRATED: return "migrated";
    case VP_ARRIVAL_UNKNOWN: default: return "unknown";
    }
}

const char *
vp_move_to_string (VpMove move)
{
  switch (move)
    {
    case VP_MOVE_OUTGOING: return "outgoing";
    case VP_MOVE_INCOMING: return "incoming";
    case VP_MOVE_DEPARTED: return "departed";
    case VP_MOVE_NONE: default: return "none";
    }
}

static void
arrive (VpLifecycle *life, VpArrival arrival, gint64 now_us)
{
  life->arrival = arrival;
  life->arrived_us = now_us;
  life->departed_us = 0;
}

char *
vp_lifecycle_event (VpLifecycle *life, const char *name, int event, int detail, gint64 now_us)
{
  VpMove was = life->move;
  gboolean migration_detail;

  switch (event)
    {
    case VIR_DOMAIN_EVENT_STARTED:
      life->move = detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED ? VP_MOVE_INCOMING : VP_MOVE_NONE;
      if (detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED)
        {
          /* Its arrival time is that of its resume: an incoming migration
           * that fails never arrived. */
          arrive (life, VP_ARRIVAL_MIGRATED, life->arrived_us);
          return g_strdup_printf ("VM %s is arriving by migration: its directory and channel are ready now; "
                                  "it is counted from its resume", name);
        }
      if (detail == VIR_DOMAIN_EVENT_STARTED_RESTORED)
        arrive (life, VP_ARRIVAL_RESTORED, now_us);
      else if (detail != VIR_DOMAIN_EVENT_STARTED_WAKEUP)
        arrive (life, VP_ARRIVAL_BOOTED, now_us);
      else
        life->departed_us = 0;
      return was == VP_MOVE_DEPARTED ? g_strdup_printf ("VM %s, which had left for another host, is started "
                                                        "here again", name) : NULL;

    case VIR_DOMAIN_EVENT_SUSPENDED:
      if (was == VP_MOVE_DEPARTED)
        return g_strdup_printf ("VM %s: a suspend event after its departure, ignored (events out of order)", name);
      if (detail != VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED && detail != VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY)
        return NULL;
      if (was == VP_MOVE_INCOMING)
        return NULL;   /* post-copy at the destination: still arriving */
      life->move = VP_MOVE_OUTGOING;
      return g_strdup_printf ("VM %s is paused for an outgoing migration; it is not charged while paused", name);

    case VIR_DOMAIN_EVENT_RESUMED:
      if (was == VP_MOVE_DEPARTED)
        return g_strdup_printf ("VM %s: a resume event after its departure, ignored (events out of order)", name);
      migration_detail = detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED || detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY ||
                         detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED;
      life->move = VP_MOVE_NONE;
      if (was == VP_MOVE_INCOMING && !migration_detail)
        {
          /* migrate --suspend: the destination keeps it paused until someone resumes it. */
          life->arrived_us = now_us;
          return g_strdup_printf ("VM %s, arrived paused by migration, is resumed here; counted from now", name);
        }
      if (!migration_detail)
        return NULL;
      if (was == VP_MOVE_OUTGOING)
        return g_strdup_printf ("VM %s: its outgoing migration failed or was cancelled; it carries on here", name);
      /* (The incoming state may already be gone: the domain was seen running
       * when its start event was handled.) */
      life->arrived_us = now_us;
      if (was == VP_MOVE_INCOMING || life->arrival == VP_ARRIVAL_MIGRATED)
        return g_strdup_printf ("VM %s resumed here after its migration; counted from now", name);
      /* A resume with no start seen: vpowerd connected mid-migration. */
      life->arrival = VP_ARRIVAL_MIGRATED;
      return g_strdup_printf ("VM %s resumed after a migration whose start vpowerd did not see; counted from now", name);

    case VIR_DOMAIN_EVENT_STOPPED:
      if (detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
        {
          if (was == VP_MOVE_DEPARTED)
            return NULL;
          life->move = VP_MOVE_DEPARTED;
          life->departed_us = now_us;
          return g_strdup_printf ("VM %s left for another host: its series go, its counters are kept here "
                                  "for its return", name);
        }
      if (was == VP_MOVE_DEPARTED)
        return NULL;   /* a stale stop after it left: it stays departed */
      life->move = VP_MOVE_NONE;
      if (was == VP_MOVE_INCOMING)
        return g_strdup_printf ("VM %s: its incoming migration failed; it never ran here", name);
      if (was == VP_MOVE_OUTGOING)
        return g_strdup_printf ("VM %s stopped during its outgoing migration", name);
      return NULL;

    default:
      return NULL;
    }
}

char *
vp_lifecycle_gone (VpLifecycle *life, const char *name, gint64 now_us)
{
  if (life->move != VP_MOVE_OUTGOING)
    return NULL;
  life->move = VP_MOVE_DEPARTED;
  life->departed_us = now_us;
  return g_strdup_printf ("VM %s is gone at the end of its outgoing migration: it left for another host; its "
                          "counters are kept here for its return", name);
}

char *
vp_lifecycle_reconcile (VpLifecycle *life, const char *name, int state, int reason, gint64 now_us)
{
  gboolean active = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_BLOCKED ||
                    state == VIR_DOMAIN_SHUTDOWN || state == VIR_DOMAIN_PMSUSPENDED;

  if (active && life->move == VP_MOVE_DEPARTED)
    {
      /* Its start event was lost: it runs here, so it has not left. */
      life->move = VP_MOVE_NONE;
      life->departed_us = 0;
      return g_strdup_printf ("VM %s runs here again", name);
    }
  if (state == VIR_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_MIGRATED && life->move != VP_MOVE_DEPARTED)
    {
      /* Left while vpowerd was not listening (a persistent definition stays). */
      life->move = VP_MOVE_DEPARTED;
      life->departed_us = now_us;
      return g_strdup_printf ("VM %s is shut off here because it migrated to another host: its counters are "
                              "kept here for its return", name);
    }
  if (state == VIR_DOMAIN_SHUTOFF && (life->move == VP_MOVE_OUTGOING || life->move == VP_MOVE_INCOMING))
    life->move = VP_MOVE_NONE;
  if (state == VIR_DOMAIN_RUNNING && life->move != VP_MOVE_NONE &&
      reason != VIR_DOMAIN_RUNNING_POSTCOPY)
    life->move = VP_MOVE_NONE;   /* a resume event was lost */
  if (active && life->arrival == VP_ARRIVAL_UNKNOWN)
    {
      /* libvirt keeps the reason a domain last started running for. */
      if (state == VIR_DOMAIN_RUNNING && (reason == VIR_DOMAIN_RUNNING_MIGRATED || reason == VIR_DOMAIN_RUNNING_POSTCOPY))
        life->arrival = VP_ARRIVAL_MIGRATED;
      else if (state == VIR_DOMAIN_RUNNING && reason == VIR_DOMAIN_RUNNING_RESTORED)
        life->arrival = VP_ARRIVAL_RESTORED;
      else if (state == VIR_DOMAIN_RUNNING && reason == VIR_DOMAIN_RUNNING_BOOTED)
        life->arrival = VP_ARRIVAL_BOOTED;
    }
  return NULL;
}
