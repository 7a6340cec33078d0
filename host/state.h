/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the persisted state: counters plus the last sample, written atomically. */
#pragma once

#include <glib.h>

#include "host/ledger.h"
#include "host/sample.h"

/* Writes ledger and sample to path: write a temporary file, optionally
 * fsync it (durable), keep the previous file as path.prev, rename. A kill
 * between any two steps leaves a complete file at path or path.prev. */
gboolean vp_state_save (const char *path, const VpLedger *ledger, const VpSample *sample,
                        const char *boot_id, gboolean durable, GError **error);

/* Reads path into ledger (whose zones are already set; counters of zones
 * the host no longer has are dropped, with a message). On success returns
 * TRUE and, when the file holds a sample taken in this same boot with the
 * same zones, *sample (else NULL). A missing file is not an error: TRUE
 * with nothing loaded. A corrupt or truncated file is renamed aside to
 * path.corrupt, reported, and path.prev is tried instead. */
gboolean vp_state_load (const char *path, VpLedger *ledger, const char *boot_id,
                        VpSample **sample, GError **error);

/* The kernel's boot id (random per boot), to tell a restart from a reboot. */
char *vp_state_read_boot_id (const char *proc_root);
