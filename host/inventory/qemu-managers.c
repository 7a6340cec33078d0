/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: which manager started a QEMU process, the VM's key in that manager, and its labels.
 *
 * The key is what the manager itself calls the VM, so that the directory
 * /var/lib/vpower/KEY is the name its operators type:
 *   Proxmox     the VMID (the -pidfile's basename, as qmeventd finds it; or -id)
 *   Incus, LXD  the run directory's name: NAME in the default project, else PROJECT_NAME
 *   Ganeti      the instance (the pidfile's name)
 *   libvirt     the domain's name, as the libvirt inventory calls it (told by its domain
 *               directory in the command line: libvirt passes no -pidfile)
 *   KubeVirt    the domain's name too, NAMESPACE_NAME (a libvirt one whose pod says so)
 *   plain QEMU  -name, else the UUID
 * The counters are kept by UUID: -uuid, else -smbios type=1,uuid= (Proxmox
 * passes only that), else one derived from the manager and the key. */
#include "config.h"

#include "host/inventory/qemu-managers.h"

#include <string.h>

#define KEY_MAX 200   /* bytes: a directory name, with room to spare under NAME_MAX */

void
vp_qemu_identity_clear (VpQemuIdentity *identity)
{
  g_clear_pointer (&identity->key, g_free);
  g_clear_pointer (&identity->uuid, g_free);
  g_clear_pointer (&identity->vm_name, g_free);
  g_clear_pointer (&identity->project, g_free);
  g_clear_pointer (&identity->vmid, g_free);
  g_clear_pointer (&identity->vmi_uid, g_free);
}

const char *
vp_manager_to_string (VpManager manager)
{
  switch (manager)
    {
    case VP_MANAGER_PROXMOX: return "proxmox";
    case VP_MANAGER_INCUS: return "incus";
    case VP_MANAGER_LXD: return "lxd";
    case VP_MANAGER_GANETI: return "ganeti";
    case VP_MANAGER_LIBVIRT: return "libvirt";
    case VP_MANAGER_KUBEVIRT: return "kubevirt";
    case VP_MANAGER_PLAIN: break;
    }
  return "qemu";
}

static gboolean
fit_for_directory (const char *name)
{
  if (!name || !*name || strlen (name) > KEY_MAX || !g_utf8_validate (name, -1, NULL) ||
      g_str_equal (name, ".") || g_str_equal (name, ".."))
    return FALSE;
  for (const char *p = name; *p; p++)
    if (*p == '/' || (guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

static gboolean
all_digits (const char *text)
{
  if (!*text)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

/* The pidfile's path with /var/run read as /run (Debian's symlink) and its
 * directory and base name split. */
static void
split_pidfile (const char *pidfile, char **dir, char **base)
{
  g_autofree char *path = g_str_has_prefix (pidfile, "/var/run/") ? g_strconcat ("/run/", pidfile + 9, NULL)
                                                                   : g_strdup (pidfile);
  *dir = g_path_get_dirname (path);
  *base = g_path_get_basename (path);
}

/* A name-based UUID (RFC 9562 version 5 layout over SHA-1) for a VM whose
 * command line has none: stable for as long as its manager and key are. */
static char *
derived_uuid (VpManager manager, const char *key)
{
  g_autofree char *seed = g_strdup_printf ("vpower:%s:%s", vp_manager_to_string (manager), key);
  guint8 digest[20];
  gsize length = sizeof digest;
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sha1, (const guchar *) seed, -1);
  g_checksum_get_digest (sha1, digest, &length);
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", digest[0],
                          digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7], digest[8],
                          digest[9], digest[10], digest[11], digest[12], digest[13], digest[14], digest[15]);
}

/* Incus and LXD name an instance's directories PROJECT_NAME, or NAME in the
 * default project (instance names have no '_'). */
static void
split_instance (const char *dir_name, VpQemuIdentity *identity)
{
  const char *underscore = strchr (dir_name, '_');
  identity->project = underscore ? g_strndup (dir_name, underscore - dir_name) : g_strdup ("default");
  identity->vm_name = g_strdup (underscore ? underscore + 1 : dir_name);
}

static void
classify (const VpQemuCmdline *cmdline, VpQemuIdentity *identity)
{
  g_autofree char *dir = NULL, *base = NULL, *parent = NULL, *parent_base = NULL;
  if (cmdline->pidfile)
    {
      split_pidfile (cmdline->pidfile, &dir, &base);
      parent = g_path_get_dirname (dir);
      parent_base = g_path_get_basename (dir);
    }

  if (dir && g_str_equal (dir, "/run/qemu-server") && g_str_has_suffix (base, ".pid"))
    {
      g_autofree char *vmid = g_strndup (base, strlen (base) - 4);
      if (all_digits (vmid))
        {
          identity->manager = VP_MANAGER_PROXMOX;
          identity->vmid = g_steal_pointer (&vmid);
        }
    }
  if (!identity->manager && cmdline->id && all_digits (cmdline->id))
    {
      identity->manager = VP_MANAGER_PROXMOX;
      identity->vmid = g_strdup (cmdline->id);
    }
  if (identity->manager == VP_MANAGER_PROXMOX)
    {
      identity->key = g_strdup (identity->vmid);
      identity->vm_name = g_strdup (cmdline->name);
      return;
    }
  if (dir && g_str_equal (base, "qemu.pid") &&
      (g_str_equal (parent, "/run/incus") || g_str_equal (parent, "/var/lib/incus/run")))
    {
      identity->manager = VP_MANAGER_INCUS;
      identity->key = g_strdup (parent_base);
      split_instance (parent_base, identity);
      return;
    }
  if (dir && g_str_equal (base, "qemu.pid") &&
      (g_str_equal (parent, "/var/log/lxd") || g_str_equal (parent, "/var/snap/lxd/common/lxd/logs")))
    {
      identity->manager = VP_MANAGER_LXD;
      identity->key = g_strdup (parent_base);
      split_instance (parent_base, identity);
      return;
    }
  if (dir && g_str_equal (dir, "/run/ganeti/kvm-hypervisor/pid"))
    {
      identity->manager = VP_MANAGER_GANETI;
      identity->key = g_strdup (base);
      return;
    }
  if (cmdline->libvirt || (dir && strstr (dir, "/libvirt/qemu")))
    {
      identity->manager = VP_MANAGER_LIBVIRT;
      identity->key = g_strdup (cmdline->name);
      return;
    }
  identity->manager = VP_MANAGER_PLAIN;
  identity->key = g_strdup (cmdline->name ? cmdline->name : cmdline->uuid);
}

gboolean
vp_qemu_identify (const VpQemuCmdline *cmdline, VpQemuIdentity *identity)
{
  memset (identity, 0, sizeof *identity);
  classify (cmdline, identity);
  if (!fit_for_directory (identity->key))
    {
      vp_qemu_identity_clear (identity);
      return FALSE;
    }
  if (identity->vm_name && (!g_utf8_validate (identity->vm_name, -1, NULL) || g_str_equal (identity->vm_name, identity->key)))
    g_clear_pointer (&identity->vm_name, g_free);
  identity->uuid = cmdline->uuid ? g_strdup (cmdline->uuid) : derived_uuid (identity->manager, identity->key);
  return TRUE;
}

void
vp_qemu_identity_set_kubevirt (VpQemuIdentity *identity, const char *namespace, const char *vmi_name,
                               const char *vmi_uid)
{
  identity->manager = VP_MANAGER_KUBEVIRT;
  g_free (identity->project);
  identity->project = g_strdup (namespace);
  g_free (identity->vm_name);
  identity->vm_name = g_strdup (vmi_name);
  g_free (identity->vmi_uid);
  identity->vmi_uid = g_strdup (vmi_uid);
}

void
vp_proxmox_conf_clear (VpProxmoxConf *conf)
{
  g_clear_pointer (&conf->name, g_free);
  g_clear_pointer (&conf->tags, g_free);
  conf->agent = FALSE;
}

/* Proxmox's lists (pve-tag-list, split_list) take ';', ',' and spaces alike. */
static char *
normalise_list (const char *value)
{
  g_auto (GStrv) words = g_strsplit_set (value, ";, \t", -1);
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  for (char **word = words; *word; word++)
    if (**word)
      g_ptr_array_add (kept, *word);
  g_ptr_array_add (kept, NULL);
  return kept->len > 1 ? g_strjoinv (";", (char **) kept->pdata) : NULL;
}

void
vp_proxmox_conf_parse (const char *text, gsize length, VpProxmoxConf *conf)
{
  memset (conf, 0, sizeof *conf);
  g_autofree char *copy = g_strndup (text, length);
  g_auto (GStrv) lines = g_strsplit (copy, "\n", -1);
  for (char **line = lines; *line; line++)
    {
      char *l = g_strstrip (*line);
      if (l[0] == '[')
        break;   /* [snapshot], [PENDING], [special:cloudinit]: not the VM as it runs */
      char *colon = strchr (l, ':');
      if (l[0] == '#' || !colon)
        continue;
      *colon = '\0';
      const char *key = g_strstrip (l), *value = g_strstrip (colon + 1);
      if (!g_utf8_validate (value, -1, NULL))
        continue;
      if (g_str_equal (key, "name"))
        {
          g_free (conf->name);
          conf->name = g_strdup (value);
        }
      else if (g_str_equal (key, "tags"))
        {
          g_free (conf->tags);
          conf->tags = normalise_list (value);
        }
      else if (g_str_equal (key, "agent"))
        {
          g_auto (GStrv) opts = vp_qemu_opts_parse (value, "enabled");
          const char *enabled = vp_qemu_opts_get (opts, "enabled");
          const char *type = vp_qemu_opts_get (opts, "type");
          conf->agent = enabled && (g_str_equal (enabled, "1") || g_str_equal (enabled, "on")) &&
                        (!type || g_str_equal (type, "virtio"));
        }
    }
}

char *
vp_proxmox_pool_of (const char *user_cfg, gsize length, const char *vmid)
{
  g_autofree char *copy = g_strndup (user_cfg, length);
  g_auto (GStrv) lines = g_strsplit (copy, "\n", -1);
  for (char **line = lines; *line; line++)
    {
      if (!g_str_has_prefix (*line, "pool:"))
        continue;
      g_auto (GStrv) fields = g_strsplit (*line, ":", 5);
      if (g_strv_length (fields) < 4 || !g_utf8_validate (fields[1], -1, NULL))
        continue;
      g_auto (GStrv) vms = g_strsplit_set (fields[3], ";, \t", -1);
      for (char **vm = vms; *vm; vm++)
        if (g_str_equal (*vm, vmid))
          return g_strdup (fields[1]);
    }
  return NULL;
}

static char *
read_small (const char *path)
{
  g_autofree char *text = NULL;
  gsize length;
  if (!g_file_get_contents (path, &text, &length, NULL) || length > (1 << 20))
    return NULL;
  return g_steal_pointer (&text);
}

static void
add_label (GPtrArray *labels, const char *name, const char *value)
{
  if (!value || !*value)
    return;
  g_ptr_array_add (labels, g_strdup (name));
  g_ptr_array_add (labels, g_utf8_substring (value, 0, MIN (g_utf8_strlen (value, -1), 128)));
}

char **
vp_qemu_identity_labels (const VpQemuIdentity *identity, const char *etc_root)
{
  GPtrArray *labels = g_ptr_array_new ();
  g_autofree char *pool = NULL;
  g_auto (VpProxmoxConf) conf = { 0 };

  if (identity->manager == VP_MANAGER_PROXMOX)
    {
      g_autofree char *conf_path = g_strdup_printf ("%s/etc/pve/qemu-server/%s.conf", etc_root, identity->vmid);
      g_autofree char *user_path = g_strdup_printf ("%s/etc/pve/user.cfg", etc_root);
      g_autofree char *text = read_small (conf_path);
      g_autofree char *users = read_small (user_path);
      if (text)
        vp_proxmox_conf_parse (text, strlen (text), &conf);
      if (users)
        pool = vp_proxmox_pool_of (users, strlen (users), identity->vmid);
    }
  add_label (labels, "vm_name", conf.name ? conf.name : identity->vm_name);
  add_label (labels, "project", pool ? pool : identity->project);
  add_label (labels, "label_manager", vp_manager_to_string (identity->manager));
  add_label (labels, "label_tags", conf.tags);
  add_label (labels, "label_uid", identity->vmi_uid);
  g_ptr_array_add (labels, NULL);
  return (char **) g_ptr_array_free (labels, FALSE);
}
