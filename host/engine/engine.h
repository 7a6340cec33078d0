/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the engine: one tick samples, attributes, counts, publishes and saves. */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/snapshot/snapshot.h"

typedef struct _VpEngine VpEngine;

/* Opens the sensor and inventory and, when persist is TRUE, restores the
 * counters from config->state_dir. origin_key seeds new VMs' counter
 * origins (the mount holder's, vp_shm_origin_key); 0 picks a random one. */
VpEngine *vp_engine_new (const VpConfig *config, gboolean persist, guint64 origin_key, GError **error);
void vp_engine_free (VpEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpEngine, vp_engine_free)

/* Takes a sample and, when there is a previous one, attributes the energy in
 * between. Never fails: errors are logged and counted in the snapshot. */
void vp_engine_tick (VpEngine *engine);

/* Writes the state file; durable also fsyncs it. */
gboolean vp_engine_save (VpEngine *engine, gboolean durable, GError **error);

/* Waits for the inventory's first connection attempt (see inventory.h). */
gboolean vp_engine_wait_inventory (VpEngine *engine, guint timeout_ms);

/* The latest published snapshot (a new reference). Safe from any thread. */
VpSnapshot *vp_engine_snapshot (VpEngine *engine);
