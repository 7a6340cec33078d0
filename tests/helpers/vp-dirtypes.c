/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: what readdir() says each entry of a directory is, from d_type alone (no stat).
 *
 *   vp-dirtypes DIR
 *
 * Prints "TYPE NAME" per entry, "." and ".." included, where TYPE is d
 * (DT_DIR), l (DT_LNK), f (DT_REG), u (DT_UNKNOWN) or ? (anything else).
 * Readers that skip entries by d_type see exactly this. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: vp-dirtypes DIR\n");
      return 2;
    }
  DIR *dir = opendir (argv[1]);
  if (!dir)
    {
      fprintf (stderr, "vp-dirtypes: %s: %s\n", argv[1], strerror (errno));
      return 1;
    }
  struct dirent *entry;
  while ((entry = readdir (dir)) != NULL)
    {
      char type = entry->d_type == DT_DIR ? 'd' : entry->d_type == DT_LNK ? 'l' : entry->d_type == DT_REG ? 'f'
                : entry->d_type == DT_UNKNOWN ? 'u' : '?';
      printf ("%c %s\n", type, entry->d_name);
    }
  closedir (dir);
  return 0;
}
