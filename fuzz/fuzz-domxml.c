/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: libvirt's domain XML as vpowerd and vpower-hook read it (shared/vp-domxml.c).
 *
 * The whole input goes to vp_domain_xml_parse (the DAC label, the shares, the
 * channel and its path, the controllers); its first line alone also goes to
 * vp_dac_label_parse, the "+UID:+GID" / "user:group" label parser. */
#include "config.h"

#include "fuzz/fuzz.h"
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

  const uint8_t *newline = memchr (data, '\n', size);
  g_autofree char *label = g_strndup ((const char *) data, newline ? (gsize) (newline - data) : size);
  uid_t uid;
  gid_t gid;
  g_autoptr (GError) label_error = NULL;
  (void) vp_dac_label_parse (label, &uid, &gid, &label_error);
  return 0;
}
