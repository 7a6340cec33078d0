/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the static inventory, a keyfile of VMs for hosts without libvirt and for tests.
 *
 *   [web1]
 *   uuid=0b5d6c1e-...
 *   pid=12345
 *   owner=+64055:+64055     (optional: the QEMU user, as a libvirt DAC label)
 *   channel=/path/to/socket (optional: the VM's channel socket, org.vpower.0)
 *   vcpus=4                 (optional: the vCPUs it reserves, for platform-split=vcpus; 1)
 *   metadata=web1.xml       (optional: who it belongs to, a libvirt <metadata>
 *                            element or domain XML; relative to this file)
 *
 * The file is re-read when its modification time changes, so VMs can be
 * added and removed without a restart. A file that turns bad keeps the last
 * good list and is reported once. */
#include "config.h"

#include "host/inventory/inventory.h"
#include "shared/vp-domxml.h"
#include "shared/vp-error.h"
#include "shared/vp-metadata.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

typedef struct {
  char *path;
  struct timespec mtime;
  gboolean complete;
  GPtrArray *vms;   /* VpVmInfo, immutable; replaced on reload */
} StaticInventory;

/* A libvirt <metadata> element (or a whole domain XML) of at most 1 MiB. */
#define METADATA_FILE_MAX (1 << 20)

static char **
read_metadata (const char *inventory_path, const char *group, const char *file, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (inventory_path);
  g_autofree char *path = g_path_is_absolute (file) ? g_strdup (file) : g_build_filename (dir, file, NULL);
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr (GError) local = NULL;
  char **labels = NULL;

  if (g_file_get_contents (path, &text, &length, &local) && length <= METADATA_FILE_MAX)
    labels = vp_metadata_labels_parse (text, (gssize) length, NULL, &local);
  if (!labels)
    g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "static inventory %s: metadata of [%s]: %s", inventory_path,
                 group, local ? local->message : "over 1 MiB");
  return labels;
}

static GPtrArray *
parse_file (const char *path, GError **error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) local = NULL;

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "static inventory %s: %s", path, local->message);
      return NULL;
    }
  g_autoptr (GPtrArray) vms = g_ptr_array_new_with_free_func ((GDestroyNotify) vp_vm_info_free);
  g_auto (GStrv) groups = g_key_file_get_groups (keyfile, NULL);
  for (char **name = groups; *name; name++)
    {
      g_autofree char *uuid = g_key_file_get_string (keyfile, *name, "uuid", NULL);
      if (!uuid || !g_uuid_string_is_valid (uuid))
        {
          g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                       "static inventory %s: [%s] needs uuid= with a valid UUID", path, *name);
          return NULL;
        }
      g_auto (GStrv) keys = g_key_file_get_keys (keyfile, *name, NULL, NULL);
      for (char **key = keys; *key; key++)
        if (!g_str_equal (*key, "uuid") && !g_str_equal (*key, "pid") && !g_str_equal (*key, "owner") &&
            !g_str_equal (*key, "channel") && !g_str_equal (*key, "metadata") && !g_str_equal (*key, "vcpus"))
          {
            g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                         "static inventory %s: unknown key '%s' in [%s]", path, *key, *name);
            return NULL;
          }
      int pid = 0;
      if (g_key_file_has_key (keyfile, *name, "pid", NULL))
        {
          g_autofree char *text = g_key_file_get_value (keyfile, *name, "pid", NULL);
          guint64 value;
          if (!g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, G_MAXINT, &value, NULL))
            {
              g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                           "static inventory %s: invalid value for 'pid' in [%s]: \"%s\"", path, *name, text);
              return NULL;
            }
          pid = (int) value;
        }
      guint64 vcpus = 1;
      if (g_key_file_has_key (keyfile, *name, "vcpus", NULL))
        {
          g_autofree char *text = g_key_file_get_value (keyfile, *name, "vcpus", NULL);
          if (!g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, 16384, &vcpus, NULL))
            {
              g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                           "static inventory %s: invalid value for 'vcpus' in [%s]: \"%s\" (1 to 16384)", path,
                           *name, text);
              return NULL;
            }
        }
      uid_t uid = 0;
      gid_t gid = 0;
      g_autofree char *owner = g_key_file_get_value (keyfile, *name, "owner", NULL);
      g_autoptr (GError) owner_error = NULL;
      if (owner && !vp_dac_label_parse (owner, &uid, &gid, &owner_error))
        {
          g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                       "static inventory %s: invalid value for 'owner' in [%s]: %s", path, *name,
                       owner_error->message);
          return NULL;
        }
      for (guint i = 0; i < vms->len; i++)
        if (g_ascii_strcasecmp (((VpVmInfo *) vms->pdata[i])->uuid, uuid) == 0)
          {
            g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                         "static inventory %s: [%s] repeats the uuid of [%s]", path, *name,
                         ((VpVmInfo *) vms->pdata[i])->name);
            return NULL;
          }
      g_autofree char *metadata = g_key_file_get_string (keyfile, *name, "metadata", NULL);
      g_auto (GStrv) labels = metadata ? read_metadata (path, *name, metadata, error) : NULL;
      if (metadata && !labels)
        return NULL;
      VpVmInfo *vm = vp_vm_info_new (*name, uuid, pid ? "running" : "shutoff", pid);
      vm->labels = g_steal_pointer (&labels);
      vm->vcpus = (guint) vcpus;
      vm->uid = uid;
      vm->gid = gid;
      vm->channel_path = g_key_file_get_string (keyfile, *name, "channel", NULL);
      vm->has_channel = vm->channel_path != NULL;
      g_ptr_array_add (vms, vm);
    }
  return g_steal_pointer (&vms);
}

/* Reloads when the file changed. Reports each new failure once. */
static void
refresh (StaticInventory *inventory)
{
  GStatBuf st;
  if (g_stat (inventory->path, &st) != 0)
    {
      if (inventory->complete)
        g_warning ("static inventory %s: %s; keeping the last list", inventory->path, g_strerror (errno));
      inventory->complete = FALSE;
      return;
    }
  if (st.st_mtim.tv_sec == inventory->mtime.tv_sec && st.st_mtim.tv_nsec == inventory->mtime.tv_nsec)
    return;
  inventory->mtime = st.st_mtim;

  g_autoptr (GError) error = NULL;
  GPtrArray *vms = parse_file (inventory->path, &error);
  if (!vms)
    {
      g_warning ("%s; keeping the last list", error->message);
      inventory->complete = FALSE;
      return;
    }
  g_message ("static inventory %s: %u VMs", inventory->path, vms->len);
  g_ptr_array_unref (inventory->vms);
  inventory->vms = vms;
  inventory->complete = TRUE;
}

gpointer
vp_inventory_static_open (const char *path, GError **error)
{
  GPtrArray *vms = parse_file (path, error);
  if (!vms)
    return NULL;
  StaticInventory *inventory = g_new0 (StaticInventory, 1);
  GStatBuf st;
  inventory->path = g_strdup (path);
  inventory->vms = vms;
  inventory->complete = TRUE;
  if (g_stat (path, &st) == 0)
    inventory->mtime = st.st_mtim;
  g_message ("static inventory %s: %u VMs", path, vms->len);
  return inventory;
}

static GPtrArray *
static_list (gpointer impl, gboolean *complete)
{
  StaticInventory *inventory = impl;
  refresh (inventory);
  *complete = inventory->complete;
  return g_ptr_array_ref (inventory->vms);
}

static gboolean
static_connected (gpointer impl)
{
  return TRUE;
}

static void
static_free (gpointer impl)
{
  StaticInventory *inventory = impl;
  g_free (inventory->path);
  g_ptr_array_unref (inventory->vms);
  g_free (inventory);
}

const VpInventoryOps vp_inventory_static_ops = {
  .kind = "static",
  .list = static_list,
  .cpu_times = NULL,
  .connected = static_connected,
  .free = static_free,
};
