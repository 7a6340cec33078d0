/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helpers: telling a counter's wrap from a decrease, as a guest reader must.
 *
 * energy_uj wraps at max_energy_range_uj like hardware, and a VM's counter
 * starts anywhere in its range (issue #11), so a reader may see it wrap
 * during any test. A wrap goes from near the top to near zero: the energy
 * across it, (max - prev) + cur, is well under half the range. Any other
 * decrease is a counter going backwards. Written here independently of
 * shared/vp-counter.h, so that the tests do not grade the product by its
 * own rule. */
#pragma once

#include <libgen.h>
#include <stdio.h>
#include <string.h>

/* max_energy_range_uj of the zone whose energy_uj is at path; 0 if unknown. */
static inline unsigned long long
vp_wrap_range_beside (const char *path)
{
  char dir[4096], max_path[4200];
  unsigned long long max = 0;
  snprintf (dir, sizeof dir, "%s", path);
  snprintf (max_path, sizeof max_path, "%s/max_energy_range_uj", dirname (dir));
  FILE *f = fopen (max_path, "r");
  if (f)
    {
      if (fscanf (f, "%llu", &max) != 1)
        max = 0;
      fclose (f);
    }
  return max;
}

static inline int
vp_wrap_is_wrap (unsigned long long prev, unsigned long long cur, unsigned long long max)
{
  return cur < prev && max && prev <= max && cur <= max && (max - prev) + cur < max / 2;
}
