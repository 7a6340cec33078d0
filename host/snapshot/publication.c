/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what the engine publishes to the mount holder each tick, and its wire format.
 *
 * The wire format is a serialised GVariant. GLib validates serialised data
 * from untrusted sources (g_variant_get_normal_form), so a half-written or
 * corrupt publication can never crash the holder: it is refused, and the
 * holder keeps serving the last good one. */
#include "config.h"

#include "host/snapshot/publication.h"
#include "shared/vp-error.h"

#include <string.h>

/* (ticks, published_mono_us, inventory_complete, [(index, name, max)], [(name, uuid, uid, gid, [energy])]) */
#define VP_PUBLICATION_TYPE "(txba(sst)a(ssuuat))"

GBytes *
vp_publication_encode (const VpSnapshot *snapshot)
{
  GVariantBuilder zones, vms;
  g_variant_builder_init (&zones, G_VARIANT_TYPE ("a(sst)"));
  for (guint z = 0; z < snapshot->vm_layout->len; z++)
    {
      const VpZoneSnapshot *zone = &g_array_index (snapshot->vm_layout, VpZoneSnapshot, z);
      g_variant_builder_add (&zones, "(sst)", zone->index, zone->name, zone->max_energy_range_uj);
    }
  g_variant_builder_init (&vms, G_VARIANT_TYPE ("a(ssuuat)"));
  for (guint i = 0; i < snapshot->vms->len; i++)
    {
      const VpVmSnapshot *vm = snapshot->vms->pdata[i];
      g_autofree guint64 *energy = g_new (guint64, MAX (vm->n_zones, 1));
      for (guint z = 0; z < vm->n_zones; z++)
        energy[z] = vm->zones[z].energy_uj;
      GVariant *array = g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, energy, vm->n_zones, sizeof (guint64));
      g_variant_builder_add (&vms, "(ssuu@at)", vm->name, vm->uuid, vm->owner_known ? vm->uid : VP_OWNER_UNKNOWN,
                             vm->owner_known ? vm->gid : VP_OWNER_UNKNOWN, array);
    }
  g_autoptr (GVariant) variant = g_variant_ref_sink (
    g_variant_new ("(txba(sst)a(ssuuat))", snapshot->ticks, snapshot->mono_us, snapshot->libvirt_connected,
                   &zones, &vms));
  return g_variant_get_data_as_bytes (variant);
}

VpPublication *
vp_publication_decode (GBytes *bytes, GError **error)
{
  g_autoptr (GVariant) raw = g_variant_ref_sink (
    g_variant_new_from_bytes (G_VARIANT_TYPE (VP_PUBLICATION_TYPE), bytes, FALSE));
  /* Normal form is what makes every later accessor safe on foreign data. */
  g_autoptr (GVariant) variant = g_variant_get_normal_form (raw);
  if (!g_variant_is_normal_form (raw))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "publication is not in normal form (%" G_GSIZE_FORMAT " bytes)",
                   g_bytes_get_size (bytes));
      return NULL;
    }

  g_autoptr (VpPublication) publication = g_new0 (VpPublication, 1);
  g_autoptr (GVariant) zones = NULL, vms = NULL;
  g_variant_get (variant, "(txb@a(sst)@a(ssuuat))", &publication->ticks, &publication->published_mono_us,
                 &publication->inventory_complete, &zones, &vms);

  publication->n_zones = (guint) g_variant_n_children (zones);
  publication->zones = g_new0 (VpPubZone, MAX (publication->n_zones, 1));
  for (guint z = 0; z < publication->n_zones; z++)
    {
      VpPubZone *zone = &publication->zones[z];
      g_variant_get_child (zones, z, "(sst)", &zone->index, &zone->name, &zone->max_energy_range_uj);
    }
  if (!vp_publication_check_zones (publication, "publication", error))
    return NULL;

  publication->n_vms = (guint) g_variant_n_children (vms);
  publication->vms = g_new0 (VpPubVm, MAX (publication->n_vms, 1));
  for (guint v = 0; v < publication->n_vms; v++)
    {
      VpPubVm *vm = &publication->vms[v];
      g_autoptr (GVariant) energy = NULL;
      g_variant_get_child (vms, v, "(ssuu@at)", &vm->name, &vm->uuid, &vm->uid, &vm->gid, &energy);
      gsize n_energy = 0;
      const guint64 *values = g_variant_get_fixed_array (energy, &n_energy, sizeof (guint64));
      if (!vp_publication_name_is_valid (vm->name) || !g_uuid_string_is_valid (vm->uuid) ||
          n_energy != publication->n_zones)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "publication: bad VM \"%s\"", vm->name);
          return NULL;
        }
      vm->energy_uj = g_memdup2 (values, MAX (n_energy, 1) * sizeof (guint64));
    }
  return g_steal_pointer (&publication);
}
