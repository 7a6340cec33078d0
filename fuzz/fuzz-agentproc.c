/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: the guest agent's walk of /proc (guest/procsplit.c), which splits the guest's energy by process.
 *
 * The input is three parts separated by NUL bytes: /proc/stat and the stat
 * files of two processes (pid 1 and pid 4242), written as a proc tree that
 * vp_proc_read walks; the readings then go through vp_proc_split_apply. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "guest/procsplit.h"

#include <glib/gstdio.h>
#include <stdlib.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  static char *root;
  if (!root)
    {
      root = g_build_filename (vp_fuzz_dir (), "proc", NULL);
      g_autofree char *one = g_build_filename (root, "1", NULL), *other = g_build_filename (root, "4242", NULL);
      g_mkdir_with_parents (one, 0700);
      g_mkdir_with_parents (other, 0700);
    }
  g_auto (GStrv) parts = vp_fuzz_split (data, size, 3);
  static const char *const names[] = { "stat", "1/stat", "4242/stat" };
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *path = g_build_filename (root, names[i], NULL);
      if (!g_file_set_contents (path, parts[i], -1, NULL))
        abort ();
    }
  g_autoptr (GArray) readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  guint64 busy = 0;
  g_autoptr (GError) error = NULL;
  if (vp_proc_read (root, readings, &busy, &error))
    {
      g_autoptr (VpProcSplit) split = vp_proc_split_new (3);
      VpProcSplitResult result;
      vp_proc_split_result_init (&result);
      vp_proc_split_apply (split, readings, busy, 1000000, &result);
      vp_proc_split_apply (split, readings, busy + 100, 2000000, &result);
      vp_proc_split_result_clear (&result);
    }
  return 0;
}
