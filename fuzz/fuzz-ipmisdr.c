/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: the BMC's sensor records (host/sense/ipmi.c), as vpowerd chooses the system's power among
 * them with FreeIPMI's parsers.
 *
 * The input is a first byte (odd: ipmi-sensor names "Pwr Consumption"), then records, each a
 * length byte and that many bytes, as the BMC's SDR repository would give them. Without FreeIPMI
 * the harness does nothing. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/sense/ipmi.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
#ifdef VP_HAVE_FREEIPMI
  if (size == 0)
    return 0;
  const char *wanted = data[0] & 1 ? "Pwr Consumption" : NULL;
  g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (size_t at = 1; at < size;)
    {
      size_t length = MIN ((size_t) data[at], size - at - 1);
      g_ptr_array_add (records, g_bytes_new (data + at + 1, length));
      at += 1 + length;
    }
  guint chosen = 0;
  g_autofree char *name = NULL;
  g_autoptr (GError) error = NULL;
  if (vp_ipmi_pick_sensor (records, wanted, &chosen, &name, &error) && (chosen >= records->len || !name))
    abort ();
#endif
  return 0;
}
