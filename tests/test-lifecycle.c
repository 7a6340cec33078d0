/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of host/inventory/lifecycle.c: libvirt event sequences replayed, as recorded.
 *
 * The sequences marked "recorded" are what `virsh event --all --loop` printed
 * on both libvirtds of tests/migration-guest.sh's bed (Debian 12, libvirt
 * 9.0, QEMU 7.2, a 192 MiB TCG guest), each event with the state and reason
 * virDomainGetState gave when it was handled. The others are the faults the
 * issue names: events out of order, a destination that never resumes, a
 * migration failing at each phase, vpowerd starting mid-way. */
#include "config.h"

#include "host/inventory/lifecycle.h"

#include <libvirt/libvirt.h>

#define NONE -1
#define GONE -2   /* the domain is gone from libvirt (transient, stopped) */

typedef struct {
  int event, detail;     /* NONE: no event (a resync) */
  int state, reason;     /* GONE: lookup failed, no reconcile */
} Step;

typedef struct {
  VpMove move;
  VpArrival arrival;
  gboolean arrived_set;
  gboolean departed_set;
} Expect;

/* Feeds steps as inventory-libvirt.c does (event, then reconcile with the
 * state) and checks the outcome after each. Returns the log lines said. */
static guint
replay (VpLifecycle *life, const Step *steps, const Expect *expect, guint n)
{
  guint said = 0;
  for (guint i = 0; i < n; i++)
    {
      gint64 now = 1000000 * (gint64) (i + 1);
      g_autofree char *a = steps[i].event == NONE ? NULL
                           : vp_lifecycle_event (life, "vm", steps[i].event, steps[i].detail, now);
      g_autofree char *b = steps[i].state == GONE ? vp_lifecycle_gone (life, "vm", now)
                           : vp_lifecycle_reconcile (life, "vm", steps[i].state, steps[i].reason, now);
      said += (a != NULL) + (b != NULL);
      if (a)
        g_test_message ("step %u: %s", i, a);
      if (b)
        g_test_message ("step %u: %s", i, b);
      g_assert_cmpstr (vp_move_to_string (life->move), ==, vp_move_to_string (expect[i].move));
      g_assert_cmpstr (vp_arrival_to_string (life->arrival), ==, vp_arrival_to_string (expect[i].arrival));
      g_assert_cmpint (life->arrived_us != 0, ==, expect[i].arrived_set);
      g_assert_cmpint (life->departed_us != 0, ==, expect[i].departed_set);
    }
  return said;
}

/* Recorded, source side: A -> B; later B -> A (the same on --p2p). */
static void
test_source_there_and_back (void)
{
  VpLifecycle life = { 0 };
  const Step steps[] = {
    { NONE, 0, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED },                  /* resync: booted here */
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_MIGRATED },
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED },
  };
  const Expect expect[] = {
    { VP_MOVE_NONE, VP_ARRIVAL_BOOTED, FALSE, FALSE },
    { VP_MOVE_OUTGOING, VP_ARRIVAL_BOOTED, FALSE, FALSE },
    { VP_MOVE_DEPARTED, VP_ARRIVAL_BOOTED, FALSE, TRUE },
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },   /* arrived at its resume, not before */
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
  };
  g_assert_cmpuint (replay (&life, steps, expect, G_N_ELEMENTS (steps)), ==, 4);
}

/* Recorded, destination side, transient domain: in, then away (it is gone). */
static void
test_destination_transient (void)
{
  VpLifecycle life = { 0 };
  const Step steps[] = {
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED },
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, GONE, 0 },
  };
  const Expect expect[] = {
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
    { VP_MOVE_OUTGOING, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
    { VP_MOVE_DEPARTED, VP_ARRIVAL_MIGRATED, TRUE, TRUE },
  };
  replay (&life, steps, expect, G_N_ELEMENTS (steps));
}

/* Seen on Debian 13 (libvirt 11.3, QEMU 10.0), destination side, transient domain going away:
 * vpowerd looks the domain up, prompted by something other than its lifecycle event, and finds it
 * gone before Stopped/Migrated arrives. Gone during its outgoing migration, it left: its counters
 * are kept (vpowerd 0.1 dropped them there, and B's books lost the VM's energy). */
static void
test_destination_transient_gone_first (void)
{
  VpLifecycle life = { 0 };
  const Step steps[] = {
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED },
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { NONE, 0, GONE, 0 },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, GONE, 0 },
  };
  const Expect expect[] = {
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
    { VP_MOVE_OUTGOING, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
    { VP_MOVE_DEPARTED, VP_ARRIVAL_MIGRATED, TRUE, TRUE },
    { VP_MOVE_DEPARTED, VP_ARRIVAL_MIGRATED, TRUE, TRUE },
  };
  /* arriving, resumed, paused to leave, gone so left; the late stop says nothing */
  g_assert_cmpuint (replay (&life, steps, expect, G_N_ELEMENTS (steps)), ==, 4);

  /* A domain gone with no migration under way is not taken for one that left. */
  VpLifecycle plain = { 0 };
  g_autofree char *said = vp_lifecycle_gone (&plain, "vm", 1);
  g_assert_null (said);
  g_assert_cmpint (plain.move, ==, VP_MOVE_NONE);
}

/* Recorded: the destination handled Started/Migrated when the domain
 * already ran (resumed 40-300 ms later): still one arrival, and the resume
 * that follows is reported as such, not as an unseen start. */
static void
test_destination_late_handling (void)
{
  VpLifecycle life = { 0 };
  const Step steps[] = {
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED },
  };
  const Expect expect[] = {
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
  };
  replay (&life, steps, expect, G_N_ELEMENTS (steps));
}

/* Recorded: domjobabort during pre-copy. The source sees no lifecycle event
 * at all (it never paused); the destination Started/Migrated then
 * Stopped/Failed. */
static void
test_aborted_precopy (void)
{
  VpLifecycle source = { .arrival = VP_ARRIVAL_BOOTED, .arrived_us = 1 };
  VpLifecycle dest = { 0 };
  const Step steps[] = {
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED, GONE, 0 },
  };
  const Expect expect[] = {
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, FALSE, FALSE },   /* it never arrived */
  };
  g_assert_cmpuint (replay (&dest, steps, expect, G_N_ELEMENTS (steps)), ==, 2);
  g_assert_cmpint (source.move, ==, VP_MOVE_NONE);
}

/* A failure after the switch-over began: the source resumes with
 * Resumed/Migrated; at every phase the source ends "here", never departed. */
static void
test_failure_at_each_phase (void)
{
  /* After the pause (the destination died, or its Finish failed). */
  VpLifecycle life = { .arrival = VP_ARRIVAL_BOOTED, .arrived_us = 1 };
  const Step paused[] = {
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATION_CANCELED },
  };
  const Expect after_pause[] = {
    { VP_MOVE_OUTGOING, VP_ARRIVAL_BOOTED, TRUE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_BOOTED, TRUE, FALSE },
  };
  g_assert_cmpuint (replay (&life, paused, after_pause, G_N_ELEMENTS (paused)), ==, 2);

  /* The resume event lost (libvirtd reconnect): the running state says it. */
  VpLifecycle lost = { .arrival = VP_ARRIVAL_BOOTED, .arrived_us = 1 };
  const Step resync[] = {
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { NONE, 0, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATION_CANCELED },
  };
  replay (&lost, resync, after_pause, G_N_ELEMENTS (resync));

  /* The destination: it fails before Started (prepare refused): nothing
   * is ever seen there. After Started, before the resume: Stopped/Failed. */
  VpLifecycle dest = { 0 };
  const Step dest_steps[] = {
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_FAILED },
  };
  const Expect dest_expect[] = {
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
  };
  replay (&dest, dest_steps, dest_expect, G_N_ELEMENTS (dest_steps));
}

/* A destination that never resumes (migrate --suspend, or a stuck
 * switch-over): the VM stays "incoming", paused, hence never charged; when
 * someone resumes it at last (Resumed/Unpaused), that is its arrival. */
static void
test_never_resumes (void)
{
  VpLifecycle life = { 0 };
  const Step steps[] = {
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { NONE, 0, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION },
    { NONE, 0, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_UNPAUSED },
  };
  const Expect expect[] = {
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_INCOMING, VP_ARRIVAL_MIGRATED, FALSE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
  };
  g_assert_cmpuint (replay (&life, steps, expect, G_N_ELEMENTS (steps)), ==, 2);
}

/* Out of order: a late Suspended or Resumed after Stopped/Migrated must not
 * bring a departed VM back (it would be charged and published twice, here
 * and on its new host); a late Stopped/Migrated after it came back (the
 * start handled first) must not send it away while it runs here. */
static void
test_out_of_order (void)
{
  VpLifecycle life = { .arrival = VP_ARRIVAL_BOOTED, .arrived_us = 1 };
  const Step steps[] = {
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, GONE, 0 },
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, GONE, 0 },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, GONE, 0 },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, GONE, 0 },
    /* It comes back; a duplicate Stopped/Migrated is handled when it already runs. */
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED },
  };
  const Expect expect[] = {
    { VP_MOVE_DEPARTED, VP_ARRIVAL_BOOTED, TRUE, TRUE },
    { VP_MOVE_DEPARTED, VP_ARRIVAL_BOOTED, TRUE, TRUE },
    { VP_MOVE_DEPARTED, VP_ARRIVAL_BOOTED, TRUE, TRUE },
    { VP_MOVE_DEPARTED, VP_ARRIVAL_BOOTED, TRUE, TRUE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_MIGRATED, TRUE, FALSE },
  };
  replay (&life, steps, expect, G_N_ELEMENTS (steps));
}

/* vpowerd (re)connects with no events: the state's reason tells. A
 * persistent domain shut off because it migrated is departed; one running
 * after an incoming migration arrived by migration, at an unknown time (so
 * the engine does not count it again). */
static void
test_resync_reasons (void)
{
  VpLifecycle gone = { 0 }, came = { 0 }, restored = { 0 };
  g_autofree char *said = vp_lifecycle_reconcile (&gone, "vm", VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_MIGRATED, 5);
  g_assert_nonnull (said);
  g_assert_cmpint (gone.move, ==, VP_MOVE_DEPARTED);
  g_assert_cmpint (gone.departed_us, ==, 5);
  g_assert_null (vp_lifecycle_reconcile (&came, "vm", VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED, 5));
  g_assert_cmpint (came.arrival, ==, VP_ARRIVAL_MIGRATED);
  g_assert_cmpint (came.arrived_us, ==, 0);
  g_assert_null (vp_lifecycle_reconcile (&restored, "vm", VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_RESTORED, 5));
  g_assert_cmpint (restored.arrival, ==, VP_ARRIVAL_RESTORED);
  /* Said once: a second resync says nothing more. */
  g_assert_null (vp_lifecycle_reconcile (&gone, "vm", VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_MIGRATED, 9));
  g_assert_cmpint (gone.departed_us, ==, 5);
}

/* Save and restore (recorded in channel-guest.sh) is no migration. */
static void
test_save_restore (void)
{
  VpLifecycle life = { .arrival = VP_ARRIVAL_BOOTED, .arrived_us = 1 };
  const Step steps[] = {
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_SAVE },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SAVED },
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_UNKNOWN },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_RESTORED },
  };
  const Expect expect[] = {
    { VP_MOVE_NONE, VP_ARRIVAL_BOOTED, TRUE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_BOOTED, TRUE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_RESTORED, TRUE, FALSE },
    { VP_MOVE_NONE, VP_ARRIVAL_RESTORED, TRUE, FALSE },
  };
  g_assert_cmpuint (replay (&life, steps, expect, G_N_ELEMENTS (steps)), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lifecycle/source-there-and-back", test_source_there_and_back);
  g_test_add_func ("/lifecycle/destination-transient", test_destination_transient);
  g_test_add_func ("/lifecycle/destination-transient-gone-first", test_destination_transient_gone_first);
  g_test_add_func ("/lifecycle/destination-late-handling", test_destination_late_handling);
  g_test_add_func ("/lifecycle/aborted-precopy", test_aborted_precopy);
  g_test_add_func ("/lifecycle/failure-at-each-phase", test_failure_at_each_phase);
  g_test_add_func ("/lifecycle/never-resumes", test_never_resumes);
  g_test_add_func ("/lifecycle/out-of-order", test_out_of_order);
  g_test_add_func ("/lifecycle/resync-reasons", test_resync_reasons);
  g_test_add_func ("/lifecycle/save-restore", test_save_restore);
  return g_test_run ();
}
