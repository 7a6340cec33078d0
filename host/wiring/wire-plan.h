/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what wiring should do about one VM, and what to tell the operator (pure logic).
 *
 * autowire.c feeds it each VM the inventory lists, with what it remembers of that VM, and does
 * what it says: hot-plug the channel into the running VM, add it to the persistent definition
 * (wire = define), or nothing. No I/O here, so that every rule is unit-tested
 * (tests/test-wire-plan.c). */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/inventory/inventory.h"

typedef enum {
  VP_WIRE_WIRED,          /* it has the channel */
  VP_WIRE_ATTACHING,      /* vpowerd is hot-plugging it */
  VP_WIRE_NO_CONTROLLER,  /* runs without a virtio-serial controller, which libvirt cannot hot-plug */
  VP_WIRE_OPTED_OUT,      /* its metadata says wiring off */
  VP_WIRE_EXCLUDED,       /* wire-exclude matches it */
  VP_WIRE_OFF,            /* wire = off */
  VP_WIRE_FAILED,         /* libvirt refused the hot-plug: tried again later */
  VP_WIRE_NOT_RUNNING,    /* shut off: wired when it starts */
  VP_WIRE_MIGRATING,      /* in or after a migration: wired, if need be, once it runs here */
  VP_WIRE_DETACHED,       /* someone detached its channel: left alone until it restarts */
  VP_WIRE_MANUAL,         /* not libvirt's: its manager's configuration wires it (vpowerctl wiring) */
  VP_WIRE_N_STATES,
} VpWireState;

/* "wired", "attaching", "no-controller", "opted-out", ...: the API's words. */
const char *vp_wire_state_to_string (VpWireState state);

/* What the API, vpowerctl and the metrics say of one VM's wiring. Immutable and shared
 * (snapshots hold references); made by vp_wire_status_new. */
typedef struct {
  VpWireState state;
  gboolean by_vpowerd;    /* vpowerd hot-plugged the channel into the running VM */
  char *reason;           /* a sentence an operator can act on */
} VpWireStatus;

VpWireStatus *vp_wire_status_new (VpWireState state, gboolean by_vpowerd, const char *reason);
VpWireStatus *vp_wire_status_ref (VpWireStatus *status);
void vp_wire_status_unref (VpWireStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpWireStatus, vp_wire_status_unref)
gboolean vp_wire_status_equal (const VpWireStatus *a, VpWireState state, gboolean by_vpowerd, const char *reason);

/* wire and wire-exclude, compiled. */
typedef struct _VpWireSettings VpWireSettings;
VpWireSettings *vp_wire_settings_new (VpWireMode mode, char *const *exclude);
void vp_wire_settings_free (VpWireSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpWireSettings, vp_wire_settings_free)
VpWireMode vp_wire_settings_mode (const VpWireSettings *settings);

/* The wire-exclude pattern that matches vm (its name, or one of its labels or its manager as
 * KEY=GLOB), or NULL. */
const char *vp_wire_excluded (const VpWireSettings *settings, const VpVmInfo *vm);

/* What autowire.c remembers of one VM. */
typedef struct {
  guint64 instance;       /* the QEMU instance the rest is about (vp_wire_instance) */
  gboolean attached;      /* vpowerd hot-plugged the channel into it */
  gboolean confirmed;     /* and the inventory has listed it with the channel since */
  gboolean live_busy;     /* a hot-plug is queued or under way */
  guint live_failures;
  gint64 live_retry_us;   /* monotonic: not again before this */
  char *live_error;       /* libvirt's last refusal, or NULL */
  gboolean define_busy;   /* an addition to the definition is queued or under way */
  guint define_failures;
  gint64 define_retry_us;
  char *define_error;
  gboolean defined;       /* vpowerd added the channel to its persistent definition */
} VpWireMemory;

void vp_wire_memory_clear (VpWireMemory *memory);

/* One QEMU instance of a VM: its PID, or when unknown the time it last came to run here. A
 * start, a restore and an incoming migration each make a new one. */
guint64 vp_wire_instance (const VpVmInfo *vm);

/* The retry delay after a VM's n-th refusal in a row: 2 s, doubling, at most 5 minutes. */
gint64 vp_wire_backoff_us (guint failures);

typedef struct {
  VpWireState state;
  gboolean by_vpowerd;
  char *reason;           /* owned */
  gboolean attach;        /* hot-plug it now */
  gboolean define;        /* add it to the persistent definition now */
} VpWirePlan;

void vp_wire_plan_clear (VpWirePlan *plan);

/* Decides for vm at now_us (monotonic). Updates the bookkeeping of memory that follows from the
 * VM alone (a new instance forgets the old one's; a hot-plug seen listed is confirmed); the
 * caller marks what it queues. */
void vp_wire_plan (const VpWireSettings *settings, const VpVmInfo *vm, VpWireMemory *memory, gint64 now_us,
                   VpWirePlan *plan);

/* Why a running VM without a virtio-serial controller cannot be wired live, and what its manager
 * (vm->manager) offers instead, as one sentence for the operator. */
char *vp_wire_no_controller_advice (const VpVmInfo *vm);
