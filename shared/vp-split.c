/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: exact integer split of an energy amount by weights, with carried remainders. */
#include "config.h"

#include "vp-split.h"

#include <stdlib.h>

typedef unsigned __int128 vp_u128;
typedef __int128 vp_i128;

/* Carries are bounded so that a consumer that stays at weight zero with a
 * negative carry, or a long run of clamping, cannot grow them without limit. */
#define CARRY_LIMIT (2 * VP_SPLIT_CARRY_ONE)

typedef struct {
  gsize index;
  vp_i128 frac;   /* ideal - given, in carry units */
} Remainder;

static int
compare_remainder_desc (const void *a, const void *b)
{
  const Remainder *ra = a, *rb = b;
  if (ra->frac != rb->frac)
    return ra->frac > rb->frac ? -1 : 1;
  /* Ties broken by position, so the result does not depend on qsort. */
  return ra->index < rb->index ? -1 : (ra->index > rb->index);
}

gboolean
vp_split_exact (guint64 amount, VpSplitItem *items, gsize n)
{
  vp_u128 total_weight = 0;

  for (gsize i = 0; i < n; i++)
    total_weight += items[i].weight;
  if (n == 0 || total_weight == 0)
    return FALSE;

  g_autofree vp_i128 *ideal = g_new (vp_i128, n);
  vp_i128 handed_out = 0;

  for (gsize i = 0; i < n; i++)
    {
      /* amount * weight / W in 32.32 fixed point without overflowing:
       * amount < 2^64 and weight < 2^64 give a product < 2^128. */
      vp_u128 product = (vp_u128) amount * items[i].weight;
      vp_u128 whole = product / total_weight;
      vp_u128 rest = product % total_weight;
      vp_u128 fixed = (whole << 32) + (rest << 32) / total_weight;

      ideal[i] = (vp_i128) fixed + items[i].carry;
      vp_i128 given = ideal[i] >= 0 ? ideal[i] >> 32 : 0;
      items[i].share = (guint64) given;
      handed_out += given;
    }

  /* Largest remainder: hand the leftover µJ (or take back the excess, which
   * carries from departed consumers can cause) one by one, to those whose
   * ideal share is furthest from what they got. */
  vp_i128 leftover = (vp_i128) amount - handed_out;
  if (leftover != 0)
    {
      g_autofree Remainder *order = g_new (Remainder, n);
      for (gsize i = 0; i < n; i++)
        {
          order[i].index = i;
          order[i].frac = ideal[i] - ((vp_i128) items[i].share << 32);
        }
      qsort (order, n, sizeof *order, compare_remainder_desc);

      for (gsize k = 0; leftover > 0; k = (k + 1) % n)
        {
          items[order[k].index].share++;
          leftover--;
        }
      for (gsize k = n; leftover < 0 && k-- > 0;)
        {
          /* Walk from the most overpaid; wrap around if one pass is not enough. */
          VpSplitItem *item = &items[order[k].index];
          if (item->share > 0)
            {
              item->share--;
              leftover++;
            }
          if (k == 0 && leftover < 0)
            k = n;
        }
    }

  for (gsize i = 0; i < n; i++)
    {
      vp_i128 carry = ideal[i] - ((vp_i128) items[i].share << 32);
      items[i].carry = (gint64) CLAMP (carry, -CARRY_LIMIT, CARRY_LIMIT);
    }
  return TRUE;
}
