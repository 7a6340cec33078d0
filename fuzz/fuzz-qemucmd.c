/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: what vpowerd reads of a QEMU process it did not start (host/inventory/qemu-cmdline.c,
 * qemu-managers.c): its command line (any user may start a QEMU, with any argv), a -readconfig
 * file, a Proxmox VM's configuration and /etc/pve/user.cfg.
 *
 * The input is four parts separated by "\x01\x01\x01" (the command line has
 * NUL bytes of its own): /proc/PID/cmdline as is, then the three texts. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/inventory/qemu-cmdline.h"
#include "host/inventory/qemu-managers.h"

#include <string.h>

#define SEPARATOR "\x01\x01\x01"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  const char *parts[4] = { "", "", "", "" };
  gsize lengths[4] = { 0, 0, 0, 0 };
  const char *p = (const char *) data, *end = p + size;
  for (guint i = 0; i < 4 && p <= end; i++)
    {
      const char *next = i < 3 ? memmem (p, end - p, SEPARATOR, 3) : NULL;
      parts[i] = p;
      lengths[i] = (next ? next : end) - p;
      if (!next)
        break;
      p = next + 3;
    }

  g_autoptr (VpQemuCmdline) cmdline = vp_qemu_cmdline_parse (parts[0], lengths[0]);
  g_autoptr (GError) error = NULL;
  (void) vp_qemu_cmdline_add_config (cmdline, parts[1], lengths[1], &error);
  (void) vp_qemu_cmdline_channel (cmdline);
  g_auto (VpQemuIdentity) identity = { 0 };
  if (vp_qemu_identify (cmdline, &identity))
    g_assert_true (identity.key && g_utf8_validate (identity.key, -1, NULL) && !strchr (identity.key, '/') &&
                   g_uuid_string_is_valid (identity.uuid));

  g_auto (VpProxmoxConf) conf = { 0 };
  vp_proxmox_conf_parse (parts[2], lengths[2], &conf);
  g_autofree char *pool = vp_proxmox_pool_of (parts[3], lengths[3], "100");
  return 0;
}
