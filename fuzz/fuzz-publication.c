/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: the engine's publication as the mount holder reads it from shared memory (host/snapshot/publication.c).
 *
 * The holder must survive whatever a crashed or compromised engine left in
 * the segment: the bytes are decoded by vp_publication_decode and, if they
 * pass, built into the FUSE tree with vp_tree_build, as the holder does. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/snapshot/publication.h"
#include "shared/vp-tree.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpPublication) publication = vp_publication_decode (bytes, &error);
  if (publication)
    {
      g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
      g_autoptr (VpTree) tree = vp_tree_build (ids, publication, NULL);
    }
  return 0;
}
