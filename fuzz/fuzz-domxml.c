/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: libvirt's domain XML as vpowerd and vpower-hook read it (shared/vp-domxml.c).
 *
 * The whole input goes to vp_domain_xml_parse (the DAC label, the shares, the
 * channel and its path, the controllers, a status file's <domstatus>), and to
 * vp_kubevirt_parse_status, as a KubeVirt pod's status file (its tenant writes it);
 * its first line alone also goes to vp_dac_label_parse, the "+UID:+GID" /
 * "user:group" label parser. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/inventory/qemu-kubevirt.h"
#include "shared/vp-domxml.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VpDomainXml) xml = vp_domain_xml_parse ((const char *) data, (gssize) size, &error);
  if (xml)
    for (guint i = 0; i < xml->filesystems->len; i++)
      (void) vp_domain_filesystem_is_virtiofs (xml->filesystems->pdata[i]);

  g_auto (VpKubevirtVm) pod = { 0 };
  g_autoptr (GError) pod_error = NULL;
  (void) vp_kubevirt_parse_status ((const char *) data, size, 87, "ns1_vmi1", "5f0ad2a4-6f65-5b0c-9d1e-4f3a9b1e2c77",
                                   &pod, &pod_error);

  const uint8_t *newline = memchr (data, '\n', size);
  g_autofree char *label = g_strndup ((const char *) data, newline ? (gsize) (newline - data) : size);
  uid_t uid;
  gid_t gid;
  g_autoptr (GError) label_error = NULL;
  (void) vp_dac_label_parse (label, &uid, &gid, &label_error);
  return 0;
}
