/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what libvirt's lifecycle events say of a VM's comings and goings (migration, restore).
 *
 * Pure logic over libvirt's event and state-reason numbers, so that the
 * sequences recorded from real migrations can be replayed in unit tests
 * (tests/test-lifecycle.c) without a guest. inventory-libvirt.c feeds it. */
#pragma once

#include <glib.h>

typedef enum {
  VP_ARRIVAL_UNKNOWN = 0,   /* learnt at a resync that could not tell */
  VP_ARRIVAL_BOOTED,        /* started here */
  VP_ARRIVAL_RESTORED,      /* restored from a save file */
  VP_ARRIVAL_MIGRATED,      /* came from another host */
} VpArrival;

typedef enum {
  VP_MOVE_NONE = 0,
  VP_MOVE_OUTGOING,         /* paused here for a migration away (not charged while paused) */
  VP_MOVE_INCOMING,         /* arriving by migration, not yet resumed (counted from the resume) */
  VP_MOVE_DEPARTED,         /* left for another host: its counters wait here for its return */
} VpMove;

typedef struct {
  VpMove move;
  VpArrival arrival;
  gint64 arrived_us;        /* wall clock it started running here (boot, restore, or the resume
                             * that ends an incoming migration); 0 when unknown */
  gint64 departed_us;       /* wall clock of its departure, while move is DEPARTED */
} VpLifecycle;

/* Applies one lifecycle event (libvirt's VIR_DOMAIN_EVENT_* and detail) seen
 * at now_us. Returns what the log should say about it (free it), or NULL
 * when it is an ordinary state change the inventory reports anyway. Events
 * out of order are taken for what the state allows: a VM that left stays
 * gone until it is started again here. */
char *vp_lifecycle_event (VpLifecycle *life, const char *name, int event, int detail, gint64 now_us);

/* Reconciles with the domain's state and reason as libvirt reports them
 * (VIR_DOMAIN_* and its reason), which win over what the events said: at a
 * resync after a reconnect there were no events at all. Returns a log line
 * (free it) or NULL. */
char *vp_lifecycle_reconcile (VpLifecycle *life, const char *name, int state, int reason, gint64 now_us);

/* The domain is gone from libvirt (a transient domain that stopped). Gone
 * while its outgoing migration was under way, it left for another host: with
 * libvirt 11 the inventory, prompted by another callback, can find it gone
 * before the Stopped/Migrated event that says so arrives. Returns a log line
 * (free it) or NULL. */
char *vp_lifecycle_gone (VpLifecycle *life, const char *name, gint64 now_us);

const char *vp_arrival_to_string (VpArrival arrival);
const char *vp_move_to_string (VpMove move);
