/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: who a VM belongs to, from a domain's <metadata> (shared/vp-metadata.c), and what else it
 * says: which manager wrote it, vpower's wiring opt-out, KubeVirt's VMI UID.
 *
 * Whatever the XML, what comes out must be safe to put in an exposition:
 * known or "label_" names, at most the bounded count, values of at most
 * VP_METADATA_VALUE_MAX bytes of valid UTF-8 without control characters;
 * and the manager is one of the few names wiring's advice knows, or none.
 * The harness aborts if not. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "shared/vp-metadata.h"

#include <stdlib.h>
#include <string.h>

static gboolean
is_owner_name (const char *name)
{
  static const char *const owner[] = { VP_METADATA_OWNER_LABELS };
  for (gsize i = 0; i < G_N_ELEMENTS (owner); i++)
    if (g_str_equal (name, owner[i]))
      return TRUE;
  return FALSE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  g_autoptr (GError) error = NULL;
  guint ignored = 0;
  VpMetadataFacts facts = { 0 };
  g_auto (GStrv) labels = vp_metadata_parse ((const char *) data, (gssize) size, &ignored, &facts, &error);
  if (!labels)
    return 0;
  static const char *const managers[] = { "nova", "opennebula", "ovirt", "virt-install", "kubevirt" };
  gboolean known = !facts.manager;
  for (gsize i = 0; i < G_N_ELEMENTS (managers) && !known; i++)
    known = g_str_equal (facts.manager, managers[i]);
  if (!known)
    abort ();
  /* KubeVirt's <uid>: a UID or nothing, never whatever the XML held. */
  gsize uid_length = strnlen (facts.kubevirt_uid, sizeof facts.kubevirt_uid);
  if (uid_length != 0 && uid_length != 36)
    abort ();
  for (gsize i = 0; i < uid_length; i++)
    if (!g_ascii_isxdigit (facts.kubevirt_uid[i]) && facts.kubevirt_uid[i] != '-')
      abort ();
  guint n = g_strv_length (labels);
  if (n % 2 || n / 2 > 6 + VP_METADATA_FREE_LABELS_MAX)
    abort ();
  for (guint i = 0; i < n; i += 2)
    {
      const char *name = labels[i], *value = labels[i + 1];
      if (!is_owner_name (name) &&
          (!g_str_has_prefix (name, "label_") || strlen (name) > strlen ("label_") + VP_METADATA_NAME_MAX))
        abort ();
      if (!*value || strlen (value) > VP_METADATA_VALUE_MAX || !g_utf8_validate (value, -1, NULL))
        abort ();
      for (const char *c = value; *c; c++)
        if ((guchar) *c < 0x20 || *c == 0x7f)
          abort ();
    }
  g_free (vp_metadata_labels_to_string ((const char *const *) labels));
  return 0;
}
