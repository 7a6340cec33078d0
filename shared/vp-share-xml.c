/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the libvirt XML that shares a VM's tree with the guest (9p or virtiofs).
 *
 * One copy for vpowerctl (which prints and attaches it) and vpower-agent
 * (which prints it when the guest has no share). The shapes are the ones
 * real-components.md found to work with Debian 12's libvirt 9.0 and QEMU 7.2. */
#include "config.h"

#include "shared/vp-share-xml.h"
#include "shared/vp-channel.h"

const char *
vp_share_transport_name (VpShareTransport transport)
{
  return transport == VP_SHARE_VIRTIOFS ? "virtiofs" : transport == VP_SHARE_CHANNEL ? "channel" : "9p";
}

gboolean
vp_share_transport_parse (const char *name, VpShareTransport *transport)
{
  if (g_strcmp0 (name, "9p") == 0)
    *transport = VP_SHARE_9P;
  else if (g_strcmp0 (name, "virtiofs") == 0)
    *transport = VP_SHARE_VIRTIOFS;
  else if (g_strcmp0 (name, "channel") == 0)
    *transport = VP_SHARE_CHANNEL;
  else
    return FALSE;
  return TRUE;
}

char *
vp_share_device_xml (VpShareTransport transport, const char *source_dir, const char *tag)
{
  /* No path: libvirt picks one per start, restore and migration. A fixed
   * path breaks migration: the destination binds it, then the exiting
   * source unlinks it (real-components.md). libvirt adds the virtio-serial
   * controller the channel needs. */
  if (transport == VP_SHARE_CHANNEL)
    return g_strdup ("<channel type='unix'>\n"
                     "  <source mode='bind'/>\n"
                     "  <target type='virtio' name='" VP_CHANNEL_PORT_NAME "'/>\n"
                     "</channel>\n");
  if (transport == VP_SHARE_9P)
    return g_markup_printf_escaped ("<filesystem type='mount' accessmode='passthrough'>\n"
                                    "  <driver type='path'/>\n"
                                    "  <source dir='%s'/>\n"
                                    "  <target dir='%s'/>\n"
                                    "  <readonly/>\n"
                                    "</filesystem>\n", source_dir, tag);
  /* libvirt 9.0 rejects <readonly/> on virtiofs (the tree is read-only
   * anyway). cache none: every read reaches vpowerd, so the guest never sees
   * a counter older than the last tick. libvirt finds virtiofsd through
   * /usr/share/qemu/vhost-user, so no binary path is needed. */
  return g_markup_printf_escaped ("<filesystem type='mount' accessmode='passthrough'>\n"
                                  "  <driver type='virtiofs'/>\n"
                                  "  <binary>\n"
                                  "    <cache mode='none'/>\n"
                                  "  </binary>\n"
                                  "  <source dir='%s'/>\n"
                                  "  <target dir='%s'/>\n"
                                  "</filesystem>\n", source_dir, tag);
}

const char *
vp_share_migration_warning (VpShareTransport transport)
{
  switch (transport)
    {
    case VP_SHARE_9P:
      /* QEMU's 9p device adds a migration blocker while the guest has it mounted. */
      return "a 9p share mounted in the guest blocks live migration and save (virsh save, managed save, "
             "libvirt-guests' suspend) on QEMU 7.2 and 10.0 alike; use the channel for VMs that move";
    case VP_SHARE_VIRTIOFS:
      /* libvirt migrates vhost-user-fs only when virtiofsd's descriptor says "migrate-precopy". */
      return "a virtiofs share blocks live migration and save unless virtiofsd can migrate (Debian 13's "
             "virtiofsd 1.13 can, Debian 12's cannot); where it does, the guest's energy_uj jumps to the "
             "other host's counter at each migration; use the channel for VMs that move";
    case VP_SHARE_CHANNEL:
    default:
      return NULL;
    }
}

const char *
vp_share_memory_backing_xml (void)
{
  return "<memoryBacking>\n"
         "  <source type='memfd'/>\n"
         "  <access mode='shared'/>\n"
         "</memoryBacking>\n";
}
