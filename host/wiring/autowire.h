/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: wiring libvirt's running VMs: the channel hot-plugged into each one that lacks it. */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/wiring/wire-plan.h"

typedef struct _VpAutowire VpAutowire;

/* How many VMs are in each state, and what vpowerd did since it started. */
typedef struct {
  guint states[VP_WIRE_N_STATES];
  guint64 hotplugs;       /* channels hot-plugged into running VMs */
  guint64 definitions;    /* channels added to persistent definitions (wire = define) */
  guint64 refusals;       /* of either, refused by libvirt (or libvirt not answering) */
} VpWireCounts;

/* Wires through config->connect (a read-write connection, opened when there is first something to
 * do) as config->wire and config->wire_exclude say. */
VpAutowire *vp_autowire_new (const VpConfig *config);
/* Waits for the hot-plugs under way (each bounded by libvirt's keepalive); drops queued ones. */
void vp_autowire_free (VpAutowire *autowire);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpAutowire, vp_autowire_free)

/* On the engine's thread, once a tick: the inventory's list (listed, complete as
 * vp_inventory_list says) against what is wired. Queues what needs libvirt for the workers and
 * returns at once: it never waits on libvirt. Cheap when nothing changed. */
void vp_autowire_reconcile (VpAutowire *autowire, GPtrArray *listed, gboolean complete);

/* A VM's status as of the last reconcile, or NULL; valid while the array
 * vp_autowire_statuses returned after that reconcile is held. */
const VpWireStatus *vp_autowire_status (VpAutowire *autowire, const char *uuid);
/* A new reference to the statuses of the last reconcile (for a snapshot to hold). */
GPtrArray *vp_autowire_statuses (VpAutowire *autowire);
void vp_autowire_counts (VpAutowire *autowire, VpWireCounts *counts);
