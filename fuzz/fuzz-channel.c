/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: the channel's messages as the guest's agent reads them (shared/vp-channel.c, guest/follow.c).
 *
 * The input is fed to the real incremental parser in pieces, and every
 * message it yields goes through the real follower and into a tree, as in
 * vpower-agent-tree. Byte 0 chooses the piece size; with its top bit set the
 * harness first rewrites each "end" line with the right checksum, so that
 * the fuzzer gets past it and exercises the follower too (without that,
 * almost no mutated message would survive its checksum). */
#include "config.h"

#include "fuzz/fuzz.h"
#include "guest/follow.h"
#include "shared/vp-channel.h"
#include "shared/vp-tree.h"

#include <string.h>

static GString *
fix_checksums (const char *data, gsize size)
{
  GString *out = g_string_sized_new (size + 64);
  g_autoptr (GString) message = g_string_new (NULL);
  gboolean in_message = FALSE;
  gsize start = 0;
  while (start < size)
    {
      const char *newline = memchr (data + start, '\n', size - start);
      gsize end = newline ? (gsize) (newline - data) : size;
      const char *line = data + start;
      gsize length = end - start;
      if (length >= 15 && memcmp (line, "vpower-channel ", 15) == 0)
        {
          in_message = TRUE;
          g_string_truncate (message, 0);
        }
      if (in_message && length >= 4 && memcmp (line, "end ", 4) == 0)
        {
          g_string_append_printf (out, "end %016" G_GINT64_MODIFIER "x",
                                  vp_channel_checksum (message->str, message->len));
          in_message = FALSE;
        }
      else
        {
          g_string_append_len (out, line, (gssize) length);
          if (in_message)
            {
              g_string_append_len (message, line, (gssize) length);
              g_string_append_c (message, '\n');
            }
        }
      if (newline)
        g_string_append_c (out, '\n');
      start = end + 1;
    }
  return out;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  if (size < 1)
    return 0;
  gsize piece = (data[0] & 0x7f) + 1;
  g_autoptr (GString) input = (data[0] & 0x80) ? fix_checksums ((const char *) data + 1, size - 1)
                                                : g_string_new_len ((const char *) data + 1, (gssize) size - 1);
  VpChannelParser *parser = vp_channel_parser_new ();
  g_autoptr (VpFollower) follower = vp_follower_new ();
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  for (gsize at = 0; at < input->len; at += piece)
    {
      vp_channel_parser_feed (parser, input->str + at, MIN (piece, input->len - at));
      for (;;)
        {
          g_autoptr (GError) error = NULL;
          VpChannelMessage *message = vp_channel_parser_next (parser, &error);
          if (!message && !error)
            break;
          if (!message)
            continue;
          g_autoptr (GError) refused = NULL;
          if (vp_follower_apply (follower, message, &refused))
            {
              g_autoptr (VpPublication) publication = vp_follower_publication (follower);
              g_autoptr (VpTree) tree = vp_tree_build_vm_root (ids, publication);
            }
          vp_channel_message_free (message);
        }
    }
  vp_channel_parser_free (parser);
  return 0;
}
