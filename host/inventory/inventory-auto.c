/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: inventory=auto, libvirt's VMs and those of every other manager, each listed once.
 *
 * The libvirt inventory lists what libvirtd or virtqemud knows (it retries in
 * the background, so a libvirt started later is picked up); the process
 * inventory lists the other QEMU processes and leaves libvirt's alone (their
 * pidfiles are under libvirt's run directory). A UUID both list is
 * libvirt's. Until libvirt has answered once, the host is taken to have no
 * libvirt: the list is complete without it, and nothing reports it missing. */
#include "config.h"

#include "host/inventory/inventory.h"

typedef struct {
  gpointer libvirt;
  gpointer processes;
  GPtrArray *from_libvirt;     /* the lists merged last, to notice a change */
  GPtrArray *from_processes;
  GPtrArray *merged;
  gboolean libvirt_seen;
} AutoInventory;

gpointer
vp_inventory_auto_open (const VpConfig *config, GError **error)
{
  gpointer processes = vp_inventory_processes_open (config, TRUE, error);
  if (!processes)
    return NULL;
  gpointer libvirt = vp_inventory_libvirt_open (config->connect, TRUE, error);
  if (!libvirt)
    {
      vp_inventory_processes_ops.free (processes);
      return NULL;
    }
  AutoInventory *inventory = g_new0 (AutoInventory, 1);
  inventory->libvirt = libvirt;
  inventory->processes = processes;
  inventory->merged = g_ptr_array_new_with_free_func ((GDestroyNotify) vp_vm_info_free);
  return inventory;
}

static gboolean
auto_libvirt_in_use (AutoInventory *inventory)
{
  if (!inventory->libvirt_seen && vp_inventory_libvirt_ops.connected (inventory->libvirt))
    inventory->libvirt_seen = TRUE;
  return inventory->libvirt_seen;
}

static GPtrArray *
auto_list (gpointer impl, gboolean *complete)
{
  AutoInventory *inventory = impl;
  gboolean libvirt_complete, processes_complete;
  g_autoptr (GPtrArray) libvirt = vp_inventory_libvirt_ops.list (inventory->libvirt, &libvirt_complete);
  g_autoptr (GPtrArray) processes = vp_inventory_processes_ops.list (inventory->processes, &processes_complete);
  *complete = processes_complete && (!auto_libvirt_in_use (inventory) || libvirt_complete);
  if (libvirt == inventory->from_libvirt && processes == inventory->from_processes)
    return g_ptr_array_ref (inventory->merged);

  GPtrArray *merged = g_ptr_array_new_full (libvirt->len + processes->len, (GDestroyNotify) vp_vm_info_free);
  g_autoptr (GHashTable) uuids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < libvirt->len; i++)
    {
      const VpVmInfo *vm = libvirt->pdata[i];
      g_hash_table_add (uuids, vm->uuid);
      g_ptr_array_add (merged, vp_vm_info_copy (vm));
    }
  for (guint i = 0; i < processes->len; i++)
    {
      const VpVmInfo *vm = processes->pdata[i];
      if (!g_hash_table_contains (uuids, vm->uuid))
        g_ptr_array_add (merged, vp_vm_info_copy (vm));
    }
  g_clear_pointer (&inventory->from_libvirt, g_ptr_array_unref);
  g_clear_pointer (&inventory->from_processes, g_ptr_array_unref);
  inventory->from_libvirt = g_steal_pointer (&libvirt);
  inventory->from_processes = g_steal_pointer (&processes);
  g_ptr_array_unref (inventory->merged);
  inventory->merged = merged;
  return g_ptr_array_ref (merged);
}

static GHashTable *
auto_cpu_times (gpointer impl, GError **error)
{
  AutoInventory *inventory = impl;
  return vp_inventory_libvirt_ops.cpu_times (inventory->libvirt, error);
}

/* Disconnected only from a libvirt that is there. */
static gboolean
auto_connected (gpointer impl)
{
  AutoInventory *inventory = impl;
  return !auto_libvirt_in_use (inventory) || vp_inventory_libvirt_ops.connected (inventory->libvirt);
}

static gboolean
auto_wait_ready (gpointer impl, guint timeout_ms)
{
  AutoInventory *inventory = impl;
  vp_inventory_libvirt_ops.wait_ready (inventory->libvirt, timeout_ms);
  return auto_connected (inventory);
}

static void
auto_free (gpointer impl)
{
  AutoInventory *inventory = impl;
  vp_inventory_libvirt_ops.free (inventory->libvirt);
  vp_inventory_processes_ops.free (inventory->processes);
  g_clear_pointer (&inventory->from_libvirt, g_ptr_array_unref);
  g_clear_pointer (&inventory->from_processes, g_ptr_array_unref);
  g_ptr_array_unref (inventory->merged);
  g_free (inventory);
}

const VpInventoryOps vp_inventory_auto_ops = {
  .kind = "auto",
  .list = auto_list,
  .cpu_times = auto_cpu_times,
  .connected = auto_connected,
  .wait_ready = auto_wait_ready,
  .free = auto_free,
};
