/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: vpowerd's state file after a crash (host/counters/state.c): both per-tick slots and the durable file.
 *
 * The input is three parts separated by NUL bytes, written as PATH, PATH.0
 * and PATH.1; vp_state_store_load then picks and parses the newest valid
 * one, as the engine does at start. Bit i of the byte before them asks for
 * part i to get a correct checksum line appended, so that the fuzzer reaches
 * the records behind it (a mutated file almost never passes it). */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/counters/ledger.h"
#include "host/counters/state.h"
#define VP_STATE_TESTING
#include "host/counters/state-priv.h"
#include "host/sense/sample.h"

static const char *const zone_keys[] = { "0", "0:0", "0:1", NULL };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  if (size < 1)
    return 0;
  guint8 fix = data[0];
  g_auto (GStrv) parts = vp_fuzz_split (data + 1, size - 1, 3);
  static const char *const names[] = { "counters.state", "counters.state.0", "counters.state.1" };
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GString) text = g_string_new (parts[i]);
      if (fix & (1u << i))
        g_string_append_printf (text, "fnv1a64 %016" G_GINT64_MODIFIER "x\n", vp_state_checksum (text->str, text->len));
      vp_fuzz_write (names[i], text->str, text->len);
    }
  g_autofree char *path = g_build_filename (vp_fuzz_dir (), names[0], NULL);
  g_autoptr (VpStateStore) store = vp_state_store_new (path);
  g_autoptr (VpLedger) ledger = vp_ledger_new (3, zone_keys);
  g_autoptr (VpSample) sample = NULL;
  g_autoptr (GError) error = NULL;
  (void) vp_state_store_load (store, ledger, "boot", &sample, &error);
  return 0;
}
