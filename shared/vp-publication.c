/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: what a tree shows: zones and VMs with their values, and the checks any source of them passes. */
#include "config.h"

#include "shared/vp-publication.h"
#include "shared/vp-error.h"

#include <string.h>

void
vp_publication_free (VpPublication *publication)
{
  if (!publication)
    return;
  for (guint z = 0; z < publication->n_zones; z++)
    {
      g_free (publication->zones[z].index);
      g_free (publication->zones[z].name);
    }
  for (guint v = 0; v < publication->n_vms; v++)
    {
      g_free (publication->vms[v].name);
      g_free (publication->vms[v].uuid);
      g_free (publication->vms[v].energy_uj);
    }
  g_free (publication->zones);
  g_free (publication->vms);
  g_free (publication);
}

gboolean
vp_publication_name_is_valid (const char *name)
{
  return name[0] != '\0' && strlen (name) <= 255 && !strchr (name, '/') &&
         !g_str_equal (name, ".") && !g_str_equal (name, "..");
}

gboolean
vp_publication_zone_index_is_valid (const char *index)
{
  gboolean expect_digit = TRUE;
  if (strlen (index) > 64)
    return FALSE;
  for (const char *c = index; *c; c++)
    {
      if (g_ascii_isxdigit (*c) && !g_ascii_isupper (*c))
        expect_digit = FALSE;
      else if (*c == ':' && !expect_digit)
        expect_digit = TRUE;
      else
        return FALSE;
    }
  return !expect_digit;
}

gboolean
vp_publication_check_zones (const VpPublication *publication, const char *what, GError **error)
{
  g_autoptr (GHashTable) indices = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint z = 0; z < publication->n_zones; z++)
    {
      const VpPubZone *zone = &publication->zones[z];
      if (!vp_publication_zone_index_is_valid (zone->index) || !vp_publication_name_is_valid (zone->name) ||
          strchr (zone->name, '\n') || !g_hash_table_add (indices, zone->index))
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s: bad zone \"%s\" (%s)", what, zone->index, zone->name);
          return FALSE;
        }
    }
  for (guint z = 0; z < publication->n_zones; z++)
    {
      const char *index = publication->zones[z].index, *colon = strrchr (index, ':');
      g_autofree char *parent = colon ? g_strndup (index, colon - index) : NULL;
      if (parent && !g_hash_table_contains (indices, parent))
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s: zone \"%s\" has no parent", what, index);
          return FALSE;
        }
    }
  return TRUE;
}
