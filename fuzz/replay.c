/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs a fuzz harness over files and directories of inputs, without libFuzzer: the corpus as a regression test.
 *
 *   replay-NAME PATH...   each file, or each file in each directory, once.
 * A crash or a sanitizer report fails it, exactly as under the fuzzer. */
#include "config.h"

#include "fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>

static guint
run_file (const char *path)
{
  g_autofree char *data = NULL;
  gsize size = 0;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &data, &size, &error))
    {
      fprintf (stderr, "replay: %s\n", error->message);
      exit (2);
    }
  LLVMFuzzerTestOneInput ((const uint8_t *) data, size);
  return 1;
}

int
main (int argc, char **argv)
{
  guint inputs = 0;
  for (int i = 1; i < argc; i++)
    {
      if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          inputs += run_file (argv[i]);
          continue;
        }
      g_autoptr (GError) error = NULL;
      g_autoptr (GDir) dir = g_dir_open (argv[i], 0, &error);
      if (!dir)
        {
          fprintf (stderr, "replay: %s\n", error->message);
          return 2;
        }
      const char *name;
      while ((name = g_dir_read_name (dir)))
        {
          g_autofree char *path = g_build_filename (argv[i], name, NULL);
          inputs += run_file (path);
        }
    }
  printf ("%u inputs\n", inputs);
  return inputs ? 0 : 1;
}
