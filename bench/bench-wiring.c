/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark: what wiring adds to the engine's tick at 10, 100 and 1000 libvirt VMs (issue 30).
 *
 * vp_autowire_reconcile runs on the engine's thread every tick. With the inventory's list
 * unchanged (the common tick) it returns at once; after a change (a libvirt event: a VM started,
 * stopped, migrated) it plans every VM again. The baseline, measured in the same run, is what the
 * libvirt inventory itself does at each such change: copy every VM into the list it publishes
 * (inventory-libvirt.c publish()). Reported: both, and their ratio; medians of 15 rounds; for a
 * host whose VMs are all wired, and for one where none has a controller (each plan then writes
 * the longest advice there is).
 *
 *   bench/bench-wiring N...      (no libvirt needed: every VM is listed wired, so no job starts) */
#include "config.h"

#include "host/wiring/autowire.h"

#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 15
#define REPEAT 20

/* wired: every VM has the channel (the common host); otherwise none has a controller, and each
 * plan writes Nova's advice, the longest reason there is. */
static GPtrArray *
make_list (guint n, guint generation, gboolean wired)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) vp_vm_info_free);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("instance-%08x", i);
      g_autofree char *uuid = g_strdup_printf ("%08x-0000-4000-8000-%012x", i, generation);
      VpVmInfo *vm = vp_vm_info_new (name, uuid, "running", 10000 + (int) i);
      vm->from_libvirt = TRUE;
      vm->persistent = TRUE;
      vm->has_virtio_serial = wired;
      vm->has_channel = wired;
      vm->manager = "nova";
      char *labels[] = { "vm_name", name, "project", "acme", NULL };
      vm->labels = g_strdupv (labels);
      g_ptr_array_add (list, vm);
    }
  return list;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: bench-wiring N...\n");
      return 2;
    }
  VpConfig config = { .connect = "test:///default", .wire = VP_WIRE_MODE_AUTO };
  printf ("%8s  %14s  %14s  %14s  %14s  %8s\n", "VMs", "wired", "unchanged", "after a change", "inventory copy",
          "ratio");
  for (int a = 1; a < 2 * argc - 1; a++)
    {
      guint n = (guint) atoi (argv[(a + 1) / 2]);
      gboolean wired = a % 2;
      g_autoptr (VpAutowire) autowire = vp_autowire_new (&config);
      double changed[ROUNDS], same[ROUNDS], copy[ROUNDS];
      for (int r = 0; r < ROUNDS; r++)
        {
          /* The same VMs, relisted: a new list of new copies, as an event publishes. */
          GPtrArray *lists[REPEAT];
          for (int i = 0; i < REPEAT; i++)
            lists[i] = make_list (n, 0, wired);
          gint64 t0 = g_get_monotonic_time ();
          for (int i = 0; i < REPEAT; i++)
            vp_autowire_reconcile (autowire, lists[i], TRUE);
          gint64 t1 = g_get_monotonic_time ();
          for (int i = 0; i < REPEAT; i++)
            vp_autowire_reconcile (autowire, lists[REPEAT - 1], TRUE);
          gint64 t2 = g_get_monotonic_time ();
          for (int i = 0; i < REPEAT; i++)
            {
              g_autoptr (GPtrArray) copied = g_ptr_array_new_full (n, (GDestroyNotify) vp_vm_info_free);
              for (guint v = 0; v < n; v++)
                g_ptr_array_add (copied, vp_vm_info_copy (lists[i]->pdata[v]));
            }
          gint64 t3 = g_get_monotonic_time ();
          for (int i = 0; i < REPEAT; i++)
            g_ptr_array_unref (lists[i]);
          changed[r] = (double) (t1 - t0) / REPEAT;
          same[r] = (double) (t2 - t1) / REPEAT;
          copy[r] = (double) (t3 - t2) / REPEAT;
        }
      qsort (changed, ROUNDS, sizeof (double), compare_double);
      qsort (same, ROUNDS, sizeof (double), compare_double);
      qsort (copy, ROUNDS, sizeof (double), compare_double);
      double c = changed[ROUNDS / 2], s = same[ROUNDS / 2], b = copy[ROUNDS / 2];
      printf ("%8u  %14s  %11.2f µs  %11.1f µs  %11.1f µs  %7.2fx\n", n, wired ? "all" : "none (advice)", s, c, b,
              c / b);
      printf ("RESULT vms=%u wired=%d unchanged_us=%.2f changed_us=%.1f inventory_copy_us=%.1f ratio=%.2f\n", n, wired,
              s, c, b, c / b);
    }
  return 0;
}
