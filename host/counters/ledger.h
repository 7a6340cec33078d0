/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the ledger of virtual energy counters, per VM and per host zone.
 *
 * Counters are monotonic totals in µJ, one per consumer (each VM by UUID,
 * the host's own processes, unattributed) and per host zone. What a guest
 * sees in energy_uj is the total wrapped at the zone's max_energy_range_uj
 * (vp_counter_publish). Each counter keeps the carry of the exact split, so
 * that conservation holds to the µJ across ticks and restarts. */
#pragma once

#include <glib.h>

typedef struct {
  guint64 total_uj;
  gint64 carry;       /* see VpSplitItem */
  guint64 last_uj;    /* the share of the last tick, for power */
} VpCounter;

typedef struct {
  char *uuid;
  char *name;
  /* Where the VM's energy_uj files start (vp_counter_origin): random per
   * VM, kept in the state file; 0 for counters saved before origins
   * existed, which go on from where they were. Totals ignore it. */
  guint64 origin_seed;
  /* Random and never 0, chosen when the VM's counters begin here and kept
   * with them: it changes exactly when they start anew (state lost, VM
   * forgotten and back), which the channel tells the guest (issue #12). */
  guint64 epoch;
  VpCounter *zones;       /* per host zone */
  guint64 cpu_ns_total;   /* CPU time counted for this VM since its counters began */
  guint64 last_cpu_ns;    /* CPU time in the last tick */
  /* Migration (issue #13). A VM that left for another host keeps its row,
   * unpublished, so that it continues its counters when it comes back. */
  gint64 departed_us;     /* wall clock it left at; 0 while it is here */
  gint64 arrived_us;      /* wall clock of the last arrival by migration counted */
  guint64 migrations_in;  /* arrivals by migration, and departures, since its counters began */
  guint64 migrations_out;
} VpVmLedger;

typedef struct {
  guint n_zones;
  char **zone_keys;       /* per host zone: the powercap index path, for persistence */
  VpCounter *host;        /* per zone: the host's own processes */
  VpCounter *unattributed;/* per zone */
  guint64 *accounted_uj;  /* per zone: all energy accounted since the ledger began */
  guint64 *last_delta_uj; /* per zone: energy of the last tick */
  GHashTable *vms;        /* uuid -> VpVmLedger */
  guint64 origin_key;     /* seeds new VMs' origins; 0: they get none */
} VpLedger;

VpLedger *vp_ledger_new (guint n_zones, const char *const *zone_keys);
void vp_ledger_free (VpLedger *ledger);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpLedger, vp_ledger_free)

/* The VM's counters, created at zero (with an origin seed from origin_key)
 * when new. Updates the name. */
VpVmLedger *vp_ledger_vm (VpLedger *ledger, const char *uuid, const char *name);
VpVmLedger *vp_ledger_lookup_vm (VpLedger *ledger, const char *uuid);

/* Index of a zone key, or -1. */
int vp_ledger_zone_index (const VpLedger *ledger, const char *key);

/* Adds a tick's share to a counter. */
static inline void
vp_counter_add (VpCounter *counter, guint64 share_uj, gint64 carry)
{
  counter->total_uj += share_uj;
  counter->last_uj = share_uj;
  counter->carry = carry;
}
