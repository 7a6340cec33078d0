/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the tree the mount holder serves: the engine's latest publication plus announced VMs.
 *
 * Rebuilt lazily: the first request after the engine publishes pays for
 * one rebuild (tens of µs at 100 VMs), so a read always sees the latest
 * published value and nothing polls in between. Requests that come while
 * the engine is down keep getting the last tree, never an error. */
#include "config.h"

#include "host/fuse/served-tree.h"
#include "host/snapshot/publication.h"
#include "shared/vp-counter.h"

/* How long an announced VM that the engine never published keeps its
 * directory, counted in engine time (publications), not wall time: while
 * the engine is down nothing expires. */
#define ANNOUNCE_GRACE_US (60 * G_USEC_PER_SEC)

typedef struct {
  VpPubVm vm;                 /* energy_uj: per zone of the current publication */
  guint64 origin_seed;        /* the one the engine will give it */
  gint64 announced_mono_us;
} Announced;

struct _VpServedTree {
  VpShm *shm;
  VpTreeIds *ids;             /* guarded by rebuild_lock */
  GMutex rebuild_lock;        /* one rebuild at a time; held across it */
  guint64 built_sequence;
  guint64 failed_sequence;    /* a publication refused once is not retried */
  VpPublication *publication; /* the last good one */
  GPtrArray *announced;       /* Announced*, guarded by rebuild_lock */

  GMutex tree_lock;           /* guards only the pointer swap */
  VpTree *tree;
};

static void
announced_free (gpointer data)
{
  Announced *announced = data;
  g_free (announced->vm.name);
  g_free (announced->vm.uuid);
  g_free (announced->vm.energy_uj);
  g_free (announced);
}

VpServedTree *
vp_served_tree_new (VpShm *shm)
{
  VpServedTree *served = g_new0 (VpServedTree, 1);
  served->shm = shm;
  served->ids = vp_tree_ids_new ();
  served->announced = g_ptr_array_new_with_free_func (announced_free);
  g_mutex_init (&served->rebuild_lock);
  g_mutex_init (&served->tree_lock);
  served->tree = vp_tree_build (served->ids, NULL, NULL);
  return served;
}

void
vp_served_tree_free (VpServedTree *served)
{
  if (!served)
    return;
  vp_tree_unref (served->tree);
  vp_publication_free (served->publication);
  g_ptr_array_unref (served->announced);
  vp_tree_ids_free (served->ids);
  g_mutex_clear (&served->rebuild_lock);
  g_mutex_clear (&served->tree_lock);
  g_free (served);
}

/* Drops announced VMs the engine now publishes, or that it has left out
 * of complete publications for ANNOUNCE_GRACE_US. */
static void
expire_announced (VpServedTree *served)
{
  const VpPublication *publication = served->publication;
  if (!publication)
    return;
  for (guint i = served->announced->len; i-- > 0;)
    {
      Announced *announced = served->announced->pdata[i];
      gboolean published = FALSE;
      for (guint v = 0; v < publication->n_vms && !published; v++)
        published = g_ascii_strcasecmp (publication->vms[v].uuid, announced->vm.uuid) == 0;
      if (published)
        g_ptr_array_remove_index (served->announced, i);
      else if (publication->inventory_complete &&
               publication->published_mono_us - announced->announced_mono_us > ANNOUNCE_GRACE_US)
        {
          g_message ("VM %s was announced but never appeared in libvirt; its directory is gone",
                     announced->vm.name);
          g_ptr_array_remove_index (served->announced, i);
        }
    }
}

/* Called with rebuild_lock held. */
static void
rebuild (VpServedTree *served)
{
  guint64 sequence = 0;
  g_autoptr (GBytes) bytes = vp_shm_read (served->shm, &sequence);
  if (bytes && sequence != served->failed_sequence)
    {
      g_autoptr (GError) error = NULL;
      VpPublication *publication = vp_publication_decode (bytes, &error);
      if (publication)
        {
          vp_publication_free (served->publication);
          served->publication = publication;
          served->built_sequence = sequence;
        }
      else
        {
          g_warning ("the engine published something unreadable (%s); serving the last good values",
                     error->message);
          served->failed_sequence = sequence;
        }
    }
  expire_announced (served);

  /* An announced VM reads what the engine will start it at: its origin
   * (shared/vp-counter.h), never 0, so the first value the engine
   * publishes for it is the same, not a jump. */
  const VpPublication *publication = served->publication;
  guint n_zones = publication ? publication->n_zones : 0;
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  for (guint i = 0; i < served->announced->len; i++)
    {
      Announced *announced = served->announced->pdata[i];
      g_free (announced->vm.energy_uj);
      announced->vm.energy_uj = g_new0 (guint64, MAX (n_zones, 1));
      for (guint z = 0; z < n_zones; z++)
        {
          const VpPubZone *zone = &publication->zones[z];
          announced->vm.energy_uj[z] = vp_counter_show_vm (0, announced->origin_seed, vp_counter_hash (zone->index),
                                                           zone->max_energy_range_uj);
        }
      g_ptr_array_add (extra, &announced->vm);
    }
  VpTree *tree = vp_tree_build (served->ids, served->publication, extra);

  g_mutex_lock (&served->tree_lock);
  VpTree *old = served->tree;
  served->tree = tree;
  g_mutex_unlock (&served->tree_lock);
  vp_tree_unref (old);
}

VpTree *
vp_served_tree_get (VpServedTree *served)
{
  guint64 sequence = vp_shm_sequence (served->shm);
  /* Odd: a write in progress, or one a crashed engine left unfinished. */
  if (sequence != served->built_sequence && sequence != served->failed_sequence && !(sequence & 1))
    {
      g_mutex_lock (&served->rebuild_lock);
      if (vp_shm_sequence (served->shm) != served->built_sequence)
        rebuild (served);
      g_mutex_unlock (&served->rebuild_lock);
    }
  g_mutex_lock (&served->tree_lock);
  VpTree *tree = vp_tree_ref (served->tree);
  g_mutex_unlock (&served->tree_lock);
  return tree;
}

void
vp_served_tree_announce (VpServedTree *served, const char *name, const char *uuid, uid_t uid, gid_t gid)
{
  g_mutex_lock (&served->rebuild_lock);
  for (guint i = 0; i < served->announced->len; i++)
    if (g_ascii_strcasecmp (((Announced *) served->announced->pdata[i])->vm.uuid, uuid) == 0)
      {
        g_ptr_array_remove_index (served->announced, i);
        break;
      }
  Announced *announced = g_new0 (Announced, 1);
  announced->vm.name = g_strdup (name);
  announced->vm.uuid = g_ascii_strdown (uuid, -1);
  announced->vm.uid = uid;
  announced->vm.gid = gid;
  announced->origin_seed = vp_counter_origin_seed (vp_shm_origin_key (served->shm), uuid);
  announced->announced_mono_us = g_get_monotonic_time ();
  g_ptr_array_add (served->announced, announced);
  rebuild (served);
  g_mutex_unlock (&served->rebuild_lock);
}
