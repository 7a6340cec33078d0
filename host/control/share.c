/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: wiring a VM's tree into its libvirt domain: the checks and the attach (vpowerctl).
 *
 * libvirt's own errors for these cases are terse ("unsupported
 * configuration") and some only appear when the VM next starts, so the
 * known cases are checked here first and refused with the reason and the
 * fix; libvirt still has the last word. */
#include "config.h"

#include "host/inventory/libvirt-util.h"
#include "host/control/share.h"
#include "shared/vp-channel.h"
#include "shared/vp-error.h"

static GMutex claims_lock;
static GHashTable *claims;     /* uuid: an attach to that VM is under way */

gboolean
vp_share_claim (const char *uuid)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&claims_lock);
  if (!claims)
    claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return g_hash_table_add (claims, g_strdup (uuid));
}

void
vp_share_release (const char *uuid)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&claims_lock);
  if (claims)
    g_hash_table_remove (claims, uuid);
}

char *
vp_share_directory (const VpConfig *config, const char *vm_name)
{
  return g_build_filename (config->mount, vm_name, NULL);
}

/* A share of this VM's tree: its directory, or the tag the agent mounts
 * (two shares with one tag would leave the guest guessing). */
static gboolean
is_vpower_share (const VpDomainFilesystem *fs, const char *directory, const char *tag)
{
  return g_strcmp0 (fs->source_dir, directory) == 0 || g_strcmp0 (fs->target_dir, tag) == 0;
}

GPtrArray *
vp_share_wired (const VpDomainXml *xml, const char *directory, const char *tag)
{
  GPtrArray *wired = g_ptr_array_new ();
  for (guint i = 0; i < xml->filesystems->len; i++)
    {
      const VpDomainFilesystem *fs = xml->filesystems->pdata[i];
      if (is_vpower_share (fs, directory, tag))
        g_ptr_array_add (wired, (gpointer) vp_share_transport_name (vp_domain_filesystem_is_virtiofs (fs)
                                                                      ? VP_SHARE_VIRTIOFS : VP_SHARE_9P));
    }
  if (xml->has_channel)
    g_ptr_array_add (wired, (gpointer) vp_share_transport_name (VP_SHARE_CHANNEL));
  return wired;
}

gboolean
vp_share_check_attach (const VpDomainXml *xml, VpShareTransport transport, const char *directory,
                       const char *tag, gboolean live, GError **error)
{
  if (transport == VP_SHARE_CHANNEL)
    {
      /* Checked before libvirt is asked: a second attach fails there, but
       * only after replacing the live socket with a dead one. */
      if (xml->has_channel)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "%s already has the vpower channel (%s) in its %s definition; "
                       "nothing to do", xml->name, VP_CHANNEL_PORT_NAME, live ? "running" : "persistent");
          return FALSE;
        }
      if (live && !xml->has_virtio_serial)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_FAILED,
                       "the running %s has no virtio-serial controller, and libvirt cannot hot-plug one: "
                       "use --config (libvirt adds the controller with the channel) and restart the VM; "
                       "from then on the channel can come and go live", xml->name);
          return FALSE;
        }
      return TRUE;
    }
  for (guint i = 0; i < xml->filesystems->len; i++)
    {
      const VpDomainFilesystem *fs = xml->filesystems->pdata[i];
      if (is_vpower_share (fs, directory, tag))
        {
          g_set_error (error, VP_ERROR, VP_ERROR_FAILED,
                       "%s already has a %s share with tag '%s' from %s; nothing to do",
                       xml->name, vp_domain_filesystem_is_virtiofs (fs) ? "virtiofs" : "9p",
                       fs->target_dir ? fs->target_dir : "?", fs->source_dir ? fs->source_dir : "?");
          return FALSE;
        }
    }
  /* virtiofsd maps the guest's RAM: libvirt refuses to start a virtiofs VM
   * without shared memory, and changing the memory needs a redefinition,
   * which is the operator's call. */
  if (transport == VP_SHARE_VIRTIOFS && !xml->shared_memory)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED,
                   "virtiofs needs shared guest memory, and %s's %s definition has none: add "
                   "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking> "
                   "(virsh edit %s; `vpowerctl xml %s --virtiofs` prints it), restart the VM, then attach; "
                   "or use --9p",
                   xml->name, live ? "running" : "persistent", xml->name, xml->name);
      return FALSE;
    }
  return TRUE;
}

static char *attach_claimed (virConnectPtr conn, const char *uuid, VpShareTransport transport,
                             const char *directory, VpShareTarget target, GError **error);

char *
vp_share_attach (virConnectPtr conn, const char *uuid, VpShareTransport transport, const char *directory,
                 VpShareTarget target, GError **error)
{
  if (!vp_share_claim (uuid))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "another attach to this VM is under way (vpowerd's wiring, "
                   "or another vpowerctl); try again in a moment");
      return NULL;
    }
  char *message = attach_claimed (conn, uuid, transport, directory, target, error);
  vp_share_release (uuid);
  return message;
}

static char *
attach_claimed (virConnectPtr conn, const char *uuid, VpShareTransport transport, const char *directory,
                VpShareTarget target, GError **error)
{
  g_autoptr (virDomain) domain = virDomainLookupByUUIDString (conn, uuid);
  if (!domain)
    {
      vp_libvirt_set_error (error, "cannot find the domain in libvirt");
      return NULL;
    }
  const char *name = virDomainGetName (domain);
  /* QEMU's virtio-9p device cannot be hot-plugged, whatever the VM's state. */
  if (transport == VP_SHARE_9P && target.live)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED,
                   "a 9p share cannot be added to a running VM (QEMU cannot hot-plug 9p); "
                   "use --config and restart %s, or use --virtiofs", name);
      return NULL;
    }
  int persistent = virDomainIsPersistent (domain);
  int active = virDomainIsActive (domain);
  if (persistent < 0 || active < 0)
    {
      vp_libvirt_set_error (error, "cannot ask libvirt about the domain");
      return NULL;
    }
  if (target.config && !persistent)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED,
                   "%s is transient (virsh create): it has no persistent definition for --config; use --live", name);
      return NULL;
    }
  if (target.live && !active)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "%s is not running, so --live has nothing to attach to; "
                   "use --config", name);
      return NULL;
    }
  if (transport != VP_SHARE_CHANNEL && !g_file_test (directory, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "%s does not exist: is the tree mounted?", directory);
      return NULL;
    }

  /* Check each definition the attach changes. */
  unsigned int flags = 0;
  const gboolean live_flags[] = { FALSE, TRUE };
  for (gsize i = 0; i < G_N_ELEMENTS (live_flags); i++)
    {
      gboolean live = live_flags[i];
      if (live ? !target.live : !target.config)
        continue;
      flags |= live ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
      g_autofree char *text = virDomainGetXMLDesc (domain, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
      if (!text)
        {
          vp_libvirt_set_error (error, "cannot read the domain's XML");
          return NULL;
        }
      g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, -1, error);
      if (!xml || !vp_share_check_attach (xml, transport, directory, VP_SHARE_DEFAULT_TAG, live, error))
        return NULL;
    }

  g_autofree char *device = vp_share_device_xml (transport, directory, VP_SHARE_DEFAULT_TAG);
  if (virDomainAttachDeviceFlags (domain, device, flags) != 0)
    {
      g_autofree char *what = g_strdup_printf ("libvirt refused the %s share", vp_share_transport_name (transport));
      vp_libvirt_set_error (error, what);
      return NULL;
    }
  const char *where = target.config && target.live ? "its definition and the running VM"
                    : target.live ? "the running VM"
                    : active ? "its definition (the guest sees it after the VM is shut down and started again)"
                    : "its definition (the guest sees it when the VM starts)";
  if (transport == VP_SHARE_CHANNEL)
    {
      g_message ("attached the vpower channel to %s: %s", name, where);
      return g_strdup_printf ("attached the channel %s to %s: %s; in the guest: vpower-agent mount",
                              VP_CHANNEL_PORT_NAME, name, where);
    }
  g_message ("attached the %s share %s to %s: %s", vp_share_transport_name (transport), directory, name, where);
  return g_strdup_printf ("attached the %s share %s (tag '%s') to %s: %s; in the guest: vpower-agent mount",
                          vp_share_transport_name (transport), directory, VP_SHARE_DEFAULT_TAG, name, where);
}
