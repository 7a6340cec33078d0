/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz harnesses: what they share (quiet logs, a scratch directory, splitting an input). */
#include "config.h"

#include "fuzz/fuzz.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    {
      for (gsize i = 0; i < n_fields; i++)
        if (g_str_equal (fields[i].key, "MESSAGE"))
          fprintf (stderr, "critical: %s\n", (const char *) fields[i].value);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

void
vp_fuzz_init (void)
{
  static gsize done;
  if (g_once_init_enter (&done))
    {
      g_log_set_writer_func (quiet_writer, NULL, NULL);
      g_once_init_leave (&done, 1);
    }
}

static char *scratch;

static void
remove_scratch (void)
{
  g_autoptr (GDir) dir = g_dir_open (scratch, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (scratch, name, NULL);
      g_remove (path);
    }
  g_rmdir (scratch);
}

const char *
vp_fuzz_dir (void)
{
  if (!scratch)
    {
      const char *base = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir ();
      g_autofree char *template = g_build_filename (base, "vp-fuzz-XXXXXX", NULL);
      scratch = g_mkdtemp (g_steal_pointer (&template));
      if (!scratch)
        abort ();
      atexit (remove_scratch);
    }
  return scratch;
}

void
vp_fuzz_write (const char *name, const void *data, gsize size)
{
  g_autofree char *path = g_build_filename (vp_fuzz_dir (), name, NULL);
  if (!g_file_set_contents (path, data, (gssize) size, NULL))
    abort ();
}

char **
vp_fuzz_split (const uint8_t *data, size_t size, guint n)
{
  char **parts = g_new0 (char *, n + 1);
  size_t start = 0;
  for (guint i = 0; i < n; i++)
    {
      size_t end = size;
      const uint8_t *nul = i + 1 < n && start < size ? memchr (data + start, '\0', size - start) : NULL;
      if (nul)
        end = (size_t) (nul - data);
      parts[i] = start < end ? g_strndup ((const char *) data + start, end - start) : g_strdup ("");
      start = end < size ? end + 1 : size;
    }
  return parts;
}
