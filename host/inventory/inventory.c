/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the inventory of VMs behind one interface. */
#include "config.h"

#include "host/inventory/inventory.h"

#include <errno.h>

struct _VpInventory {
  const VpInventoryOps *ops;
  gpointer impl;
};

VpVmInfo *
vp_vm_info_new (const char *name, const char *uuid, const char *state, int pid)
{
  VpVmInfo *vm = g_new0 (VpVmInfo, 1);
  vm->name = g_strdup (name);
  vm->uuid = g_ascii_strdown (uuid, -1);
  vm->state = g_strdup (state);
  vm->pid = pid;
  return vm;
}

VpVmInfo *
vp_vm_info_copy (const VpVmInfo *vm)
{
  VpVmInfo *copy = vp_vm_info_new (vm->name, vm->uuid, vm->state, vm->pid);
  copy->vcpus = vm->vcpus;
  copy->uid = vm->uid;
  copy->gid = vm->gid;
  copy->has_channel = vm->has_channel;
  copy->has_9p = vm->has_9p;
  copy->has_virtiofs = vm->has_virtiofs;
  copy->channel_path = g_strdup (vm->channel_path);
  copy->channel_peer_pid = vm->channel_peer_pid;
  copy->channel_root_pid = vm->channel_root_pid;
  copy->life = vm->life;
  copy->labels = g_strdupv (vm->labels);
  copy->from_libvirt = vm->from_libvirt;
  copy->persistent = vm->persistent;
  copy->has_virtio_serial = vm->has_virtio_serial;
  copy->defined_channel = vm->defined_channel;
  copy->wiring_off = vm->wiring_off;
  copy->manager = vm->manager;
  return copy;
}

void
vp_vm_info_free (VpVmInfo *vm)
{
  if (!vm)
    return;
  g_free (vm->channel_path);
  g_strfreev (vm->labels);
  g_free (vm->name);
  g_free (vm->uuid);
  g_free (vm->state);
  g_free (vm);
}

gboolean
vp_vm_info_is_running (const VpVmInfo *vm)
{
  return g_str_equal (vm->state, "running") || g_str_equal (vm->state, "paused");
}

/* Where the VMs wired by `vpowerctl wiring` (Proxmox, plain QEMU) have QEMU
 * listen for vpowerd: it must exist before such a VM starts, or QEMU fails
 * (the packages' tmpfiles.d makes it at boot too). */
static void
make_channels_dir (const VpConfig *config)
{
  g_autofree char *dir = g_build_filename (config->runtime_dir, "channels", NULL);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    g_warning ("cannot create %s (%s): VMs wired to it cannot start", dir, g_strerror (errno));
}

VpInventory *
vp_inventory_open (const VpConfig *config, GError **error)
{
  const VpInventoryOps *ops;
  gpointer impl;

  if (g_str_has_prefix (config->inventory, "static:"))
    {
      ops = &vp_inventory_static_ops;
      impl = vp_inventory_static_open (config->inventory + strlen ("static:"), error);
    }
  else if (g_str_equal (config->inventory, "processes"))
    {
      make_channels_dir (config);
      ops = &vp_inventory_processes_ops;
      impl = vp_inventory_processes_open (config, FALSE, error);
    }
  else if (g_str_equal (config->inventory, "auto"))
    {
      make_channels_dir (config);
      ops = &vp_inventory_auto_ops;
      impl = vp_inventory_auto_open (config, error);
    }
  else
    {
      ops = &vp_inventory_libvirt_ops;
      impl = vp_inventory_libvirt_open (config->connect, FALSE, error);
    }
  if (!impl)
    return NULL;
  VpInventory *inventory = g_new0 (VpInventory, 1);
  inventory->ops = ops;
  inventory->impl = impl;
  return inventory;
}

void
vp_inventory_free (VpInventory *inventory)
{
  if (!inventory)
    return;
  inventory->ops->free (inventory->impl);
  g_free (inventory);
}

GPtrArray *
vp_inventory_list (VpInventory *inventory, gboolean *complete)
{
  return inventory->ops->list (inventory->impl, complete);
}

GHashTable *
vp_inventory_cpu_times (VpInventory *inventory, GError **error)
{
  return inventory->ops->cpu_times ? inventory->ops->cpu_times (inventory->impl, error) : NULL;
}

gboolean
vp_inventory_connected (VpInventory *inventory)
{
  return inventory->ops->connected (inventory->impl);
}

gboolean
vp_inventory_wait_ready (VpInventory *inventory, guint timeout_ms)
{
  if (inventory->ops->wait_ready)
    return inventory->ops->wait_ready (inventory->impl, timeout_ms);
  return vp_inventory_connected (inventory);
}

const char *
vp_inventory_kind (VpInventory *inventory)
{
  return inventory->ops->kind;
}
