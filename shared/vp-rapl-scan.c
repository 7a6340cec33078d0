/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: listing the RAPL zones of a powercap tree. */
#include "config.h"

#include "shared/vp-error.h"
#include "shared/vp-rapl-scan.h"

#include <errno.h>

/* "0:a" -> [0, 10]. FALSE unless every component is lower-case hex. */
static gboolean
parse_key (const char *key, GArray *components)
{
  g_auto (GStrv) parts = g_strsplit (key, ":", -1);
  g_array_set_size (components, 0);
  for (char **part = parts; *part; part++)
    {
      guint64 value;
      if (**part == '\0' || strspn (*part, "0123456789abcdef") != strlen (*part) ||
          !g_ascii_string_to_unsigned (*part, 16, 0, G_MAXINT, &value, NULL))
        return FALSE;
      int v = (int) value;
      g_array_append_val (components, v);
    }
  return components->len > 0;
}

static int
compare_keys (gconstpointer a, gconstpointer b)
{
  const char *ka = *(char *const *) a, *kb = *(char *const *) b;
  g_autoptr (GArray) ca = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) cb = g_array_new (FALSE, FALSE, sizeof (int));
  parse_key (ka, ca);
  parse_key (kb, cb);
  for (guint i = 0; i < MIN (ca->len, cb->len); i++)
    {
      int x = g_array_index (ca, int, i), y = g_array_index (cb, int, i);
      if (x != y)
        return x < y ? -1 : 1;
    }
  return (ca->len > cb->len) - (ca->len < cb->len);
}

GPtrArray *
vp_rapl_scan_keys (const char *root, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (root, 0, NULL);
  if (!dir)
    {
      int saved = errno;
      if (saved == ENOENT)
        g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "%s does not exist", root);
      else
        g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "cannot list %s: %s", root, g_strerror (saved));
      return NULL;
    }

  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) components = g_array_new (FALSE, FALSE, sizeof (int));
  const char *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (entry, VP_RAPL_PREFIX) && parse_key (entry + strlen (VP_RAPL_PREFIX), components))
      g_ptr_array_add (keys, g_strdup (entry + strlen (VP_RAPL_PREFIX)));
  /* Parents sort before their children, so a child can find its parent. */
  g_ptr_array_sort (keys, compare_keys);
  return keys;
}

char *
vp_rapl_parent_key (const char *key)
{
  const char *last_colon = strrchr (key, ':');
  return last_colon ? g_strndup (key, last_colon - key) : NULL;
}
