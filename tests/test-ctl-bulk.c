/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: vpowerctl wiring --all's merge of the channel's options into what a VM's setting has
 * (host/vpowerctl/ctl-bulk.c), and Ganeti's escaping of -H values. */
#include "config.h"

#include "host/vpowerctl/ctl-bulk.h"

static char *
merge (VpWiringKind kind, const char *current, gboolean *already, char **why)
{
  return vp_ctl_bulk_merge (kind, current, "-device virtserialport,bus=qga0.0,chardev=vpower0,name=org.vpower.0",
                            already, why);
}

static void
test_merge (void)
{
  gboolean already;
  g_autofree char *why = NULL;
  /* Nothing there: ours alone; something there: kept, ours after it. */
  g_autofree char *alone = merge (VP_WIRING_PROXMOX, "", &already, &why);
  g_assert_cmpstr (alone, ==, "-device virtserialport,bus=qga0.0,chardev=vpower0,name=org.vpower.0");
  g_autofree char *kept = merge (VP_WIRING_PROXMOX, " -rtc base=localtime \n", &already, &why);
  g_assert_cmpstr (kept, ==, "-rtc base=localtime -device virtserialport,bus=qga0.0,chardev=vpower0,name=org.vpower.0");
  g_assert_false (already);
  g_assert_null (why);
  /* raw.qemu.conf is sections: a blank line between. */
  g_autofree char *conf = vp_ctl_bulk_merge (VP_WIRING_INCUS, "[device \"tablet\"]\ndriver = \"usb-tablet\"\n",
                                              "[chardev \"vpower0\"]\nbackend = \"socket\"", &already, &why);
  g_assert_cmpstr (conf, ==, "[device \"tablet\"]\ndriver = \"usb-tablet\"\n\n[chardev \"vpower0\"]\nbackend = \"socket\"");
  /* Already there, in either syntax: nothing to merge, and no refusal. */
  g_assert_null (merge (VP_WIRING_GANETI, "-device virtserialport,name=org.vpower.0", &already, &why));
  g_assert_true (already);
  g_assert_null (why);
  g_assert_null (vp_ctl_bulk_merge (VP_WIRING_INCUS, "[device \"x\"]\nname = \"org.vpower.0\"\n", "ours", &already, &why));
  g_assert_true (already);
}

/* A setting that uses one of the channel's ids, or Proxmox's pci.2 slot 0x1f, is refused, never
 * overwritten: QEMU would refuse to start, or the channel land elsewhere. */
static void
test_refusals (void)
{
  static const struct {
    VpWiringKind kind;
    const char *current;
    const char *why;
  } cases[] = {
    { VP_WIRING_PROXMOX, "-chardev socket,id=vpower0,path=/tmp/x", "id=vpower0" },
    { VP_WIRING_GANETI, "-device virtio-serial-pci,id=vpower-serial", "id=vpower-serial" },
    { VP_WIRING_INCUS, "[chardev \"vpower0\"]\nbackend = \"file\"", "[chardev \"vpower0\"]" },
    { VP_WIRING_LXD, "[device \"vpower0\"]\ndriver = \"x\"", "[device \"vpower0\"]" },
    { VP_WIRING_PROXMOX, "-device e1000,bus=pci.2,addr=0x1f", "pci.2 slot 0x1f" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean already;
      g_autofree char *why = NULL;
      g_autofree char *merged = merge (cases[i].kind, cases[i].current, &already, &why);
      g_assert_null (merged);
      g_assert_false (already);
      g_assert_nonnull (why);
      g_test_message ("%s -> %s", cases[i].current, why);
      g_assert_nonnull (strstr (why, cases[i].why));
    }
}

/* Ganeti splits -H at commas no backslash escapes, and a backslash takes the next character as it is
 * (lib/utils/text.py UnescapeAndSplit): what it stores is exactly the value. */
static char *
ganeti_unescape (const char *text, guint *parts)
{
  GString *out = g_string_new (NULL);
  *parts = 1;
  for (const char *p = text; *p; p++)
    {
      if (*p == '\\' && p[1])
        g_string_append_c (out, *++p);
      else if (*p == ',')
        (*parts)++, g_string_append_c (out, ',');
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static void
test_ganeti_escape (void)
{
  const char *values[] = { "-rtc base=utc,clock=host -device virtio-serial-pci,id=vpower-serial", "a\\,b\\\\,c", "", "," };
  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *escaped = vp_ctl_bulk_ganeti_escape (values[i]);
      guint parts;
      g_autofree char *back = ganeti_unescape (escaped, &parts);
      g_assert_cmpstr (back, ==, values[i]);
      g_assert_cmpuint (parts, ==, 1);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ctl-bulk/merge", test_merge);
  g_test_add_func ("/ctl-bulk/refusals", test_refusals);
  g_test_add_func ("/ctl-bulk/ganeti-escape", test_ganeti_escape);
  return g_test_run ();
}
