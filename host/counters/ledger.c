/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the ledger of virtual energy counters, per VM and per host zone. */
#include "config.h"

#include "host/counters/ledger.h"
#include "shared/vp-counter.h"

static void
vm_ledger_free (gpointer data)
{
  VpVmLedger *vm = data;
  g_free (vm->uuid);
  g_free (vm->name);
  g_free (vm->zones);
  g_free (vm);
}

VpLedger *
vp_ledger_new (guint n_zones, const char *const *zone_keys)
{
  VpLedger *ledger = g_new0 (VpLedger, 1);
  ledger->n_zones = n_zones;
  ledger->zone_keys = g_new0 (char *, n_zones + 1);
  for (guint i = 0; i < n_zones; i++)
    ledger->zone_keys[i] = g_strdup (zone_keys[i]);
  ledger->host = g_new0 (VpCounter, n_zones);
  ledger->unattributed = g_new0 (VpCounter, n_zones);
  ledger->accounted_uj = g_new0 (guint64, n_zones);
  ledger->last_delta_uj = g_new0 (guint64, n_zones);
  ledger->vms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, vm_ledger_free);
  return ledger;
}

void
vp_ledger_free (VpLedger *ledger)
{
  if (!ledger)
    return;
  g_strfreev (ledger->zone_keys);
  g_free (ledger->host);
  g_free (ledger->unattributed);
  g_free (ledger->accounted_uj);
  g_free (ledger->last_delta_uj);
  g_hash_table_unref (ledger->vms);
  g_free (ledger);
}

VpVmLedger *
vp_ledger_lookup_vm (VpLedger *ledger, const char *uuid)
{
  return g_hash_table_lookup (ledger->vms, uuid);
}

VpVmLedger *
vp_ledger_vm (VpLedger *ledger, const char *uuid, const char *name)
{
  VpVmLedger *vm = g_hash_table_lookup (ledger->vms, uuid);
  if (!vm)
    {
      vm = g_new0 (VpVmLedger, 1);
      vm->uuid = g_strdup (uuid);
      vm->origin_seed = ledger->origin_key ? vp_counter_origin_seed (ledger->origin_key, uuid) : 0;
      vm->epoch = vp_counter_origin_key_new ();   /* any random nonzero value */
      vm->zones = g_new0 (VpCounter, ledger->n_zones);
      g_hash_table_insert (ledger->vms, vm->uuid, vm);
    }
  if (g_strcmp0 (vm->name, name) != 0)
    {
      g_free (vm->name);
      vm->name = g_strdup (name);
    }
  return vm;
}

int
vp_ledger_zone_index (const VpLedger *ledger, const char *key)
{
  for (guint i = 0; i < ledger->n_zones; i++)
    if (g_str_equal (ledger->zone_keys[i], key))
      return (int) i;
  return -1;
}
