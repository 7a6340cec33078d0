/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the persisted state: counters plus the last sample, written atomically. */
#pragma once

#include <glib.h>

#include "host/counters/ledger.h"
#include "host/sense/sample.h"

/* Where the state lives: PATH (durable) and PATH.0, PATH.1 (per tick);
 * see state.c for why. */
typedef struct _VpStateStore VpStateStore;

VpStateStore *vp_state_store_new (const char *path);
void vp_state_store_free (VpStateStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpStateStore, vp_state_store_free)

/* Saves ledger and sample: into the next tick slot, or, when durable, to
 * PATH with fsync and an atomic rename. */
gboolean vp_state_store_save (VpStateStore *store, const VpLedger *ledger, const VpSample *sample,
                              const char *boot_id, gboolean durable, GError **error);

/* Restores the newest valid save into ledger (whose zones are already set;
 * counters of zones the host no longer has are dropped, with a message).
 * *sample is set when that save was taken in this same boot with the same
 * zones, so the first tick can attribute the downtime. No file is not an
 * error; a corrupt one is reported, renamed to FILE.corrupt and skipped. */
gboolean vp_state_store_load (VpStateStore *store, VpLedger *ledger, const char *boot_id,
                              VpSample **sample, GError **error);

/* The kernel's boot id (random per boot), to tell a restart from a reboot. */
char *vp_state_read_boot_id (const char *proc_root);
