/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the guest's own counters from the host's channel messages: exact on one host, never going back. */
#include "config.h"

#include "guest/follow.h"
#include "shared/vp-counter.h"
#include "shared/vp-error.h"

#include <string.h>

typedef struct {
  guint64 shown;            /* what the guest's file shows, in [1, max] */
  guint64 max;              /* the range it was first shown with */
  guint64 last_host;        /* the host's value at the last message */
  guint64 last_host_max;
} ZoneCounter;

struct _VpFollower {
  gboolean started;
  char *host_id;
  guint64 epoch;
  guint64 run;
  guint64 seq;
  char *uuid;
  GHashTable *zones;        /* "index name" -> ZoneCounter: kept when a zone is absent for a while */
  VpChannelMessage *last;   /* the zone layout to show: the last applied message's */
  GPtrArray *last_keys;     /* per zone of last: its key */
  guint64 origin_changes;
};

VpFollower *
vp_follower_new (void)
{
  VpFollower *follower = g_new0 (VpFollower, 1);
  follower->zones = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  follower->last_keys = g_ptr_array_new_with_free_func (g_free);
  return follower;
}

void
vp_follower_free (VpFollower *follower)
{
  if (!follower)
    return;
  g_free (follower->host_id);
  g_free (follower->uuid);
  g_hash_table_unref (follower->zones);
  g_ptr_array_unref (follower->last_keys);
  vp_channel_message_free (follower->last);
  g_free (follower);
}

/* The energy a host counter gained from last to now, wrapping at max (a
 * shown 0 is max itself, vp_counter_show). More than half a range in one
 * message is not a wrap but the counter going back. */
static gboolean
host_delta (guint64 last, guint64 now, guint64 max, guint64 *delta)
{
  last %= max;
  now %= max;
  *delta = now >= last ? now - last : (max - last) + now;
  return *delta <= max / 2;
}

static VpChannelMessage *
copy_layout (const VpChannelMessage *message)
{
  VpChannelMessage *copy = g_new0 (VpChannelMessage, 1);
  copy->n_zones = message->n_zones;
  copy->zones = g_new0 (VpPubZone, message->n_zones);
  copy->energy_uj = g_new0 (guint64, message->n_zones);
  for (guint z = 0; z < message->n_zones; z++)
    {
      copy->zones[z].index = g_strdup (message->zones[z].index);
      copy->zones[z].name = g_strdup (message->zones[z].name);
    }
  return copy;
}

gboolean
vp_follower_apply (VpFollower *follower, const VpChannelMessage *message, GError **error)
{
  gboolean same_host = follower->started && g_str_equal (follower->host_id, message->host_id);
  /* An older message of the same counters: its values may be behind the last. */
  if (same_host && message->run == follower->run && message->epoch == follower->epoch && message->seq <= follower->seq)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE,
                   "channel: a replayed or out-of-order message (seq %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT
                   ")", message->seq, follower->seq);
      return FALSE;
    }
  gboolean origin_changed = follower->started && !(same_host && message->epoch == follower->epoch);
  gboolean went_back = FALSE;

  g_ptr_array_set_size (follower->last_keys, 0);
  for (guint z = 0; z < message->n_zones; z++)
    {
      const VpPubZone *zone = &message->zones[z];
      guint64 host = message->energy_uj[z];
      char *key = g_strconcat (zone->index, " ", zone->name, NULL);
      g_ptr_array_add (follower->last_keys, key);
      ZoneCounter *counter = g_hash_table_lookup (follower->zones, key);
      if (!counter)
        {
          counter = g_new0 (ZoneCounter, 1);
          counter->max = zone->max_energy_range_uj;
          counter->shown = vp_counter_show (host, 0, counter->max);
          g_hash_table_insert (follower->zones, g_strdup (key), counter);
        }
      else
        {
          /* The message of a change adds nothing: the new origin's deltas count from the next. */
          guint64 delta = 0;
          if (!origin_changed && counter->last_host_max == zone->max_energy_range_uj &&
              !host_delta (counter->last_host, host, zone->max_energy_range_uj, &delta))
            {
              went_back = TRUE;
              delta = 0;
            }
          /* Added modulo the zone's own range: guest readers wrap there. */
          counter->shown = vp_counter_show (counter->shown, delta, counter->max);
        }
      counter->last_host = host;
      counter->last_host_max = zone->max_energy_range_uj;
    }

  if (origin_changed)
    g_message ("channel: the host's counters changed origin (host %s epoch %" G_GUINT64_FORMAT
               " -> host %s epoch %" G_GUINT64_FORMAT "); the guest's counters carry on from their last values",
               follower->host_id, follower->epoch, message->host_id, message->epoch);
  else if (went_back)
    g_warning ("channel: the host's counter went back within one epoch; the guest's counters carry on from "
               "their last values");
  if (origin_changed || went_back)
    follower->origin_changes++;

  follower->started = TRUE;
  g_free (follower->host_id);
  follower->host_id = g_strdup (message->host_id);
  follower->epoch = message->epoch;
  follower->run = message->run;
  follower->seq = message->seq;
  if (message->uuid)
    {
      g_free (follower->uuid);
      follower->uuid = g_strdup (message->uuid);
    }
  vp_channel_message_free (follower->last);
  follower->last = copy_layout (message);
  return TRUE;
}

VpPublication *
vp_follower_publication (const VpFollower *follower)
{
  if (!follower->last)
    return NULL;
  const VpChannelMessage *last = follower->last;
  VpPublication *publication = g_new0 (VpPublication, 1);
  publication->n_zones = last->n_zones;
  publication->zones = g_new0 (VpPubZone, last->n_zones);
  publication->n_vms = 1;
  publication->vms = g_new0 (VpPubVm, 1);
  VpPubVm *vm = &publication->vms[0];
  vm->name = g_strdup ("guest");
  vm->uuid = g_strdup (follower->uuid ? follower->uuid : "00000000-0000-0000-0000-000000000000");
  vm->uid = vm->gid = 0;
  vm->energy_uj = g_new0 (guint64, MAX (last->n_zones, 1));
  for (guint z = 0; z < last->n_zones; z++)
    {
      const ZoneCounter *counter = g_hash_table_lookup (follower->zones, follower->last_keys->pdata[z]);
      publication->zones[z].index = g_strdup (last->zones[z].index);
      publication->zones[z].name = g_strdup (last->zones[z].name);
      publication->zones[z].max_energy_range_uj = counter->max;
      vm->energy_uj[z] = counter->shown;
    }
  return publication;
}

guint64
vp_follower_origin_changes (const VpFollower *follower)
{
  return follower->origin_changes;
}
