/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the virtio-serial channels: each tick, every connected VM's whole state, never waiting on a guest. */
#pragma once

#include <glib.h>

#include "host/counters/ledger.h"
#include "host/snapshot/snapshot.h"

typedef struct _VpChannels VpChannels;

/* host_id: what guests are told this host is (vpower-channel(7)); NULL
 * reads /etc/machine-id, then the host name. Fails on an id the format
 * cannot carry. */
VpChannels *vp_channels_new (const char *host_id, GError **error);
void vp_channels_free (VpChannels *channels);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpChannels, vp_channels_free)

const char *vp_channels_host_id (const VpChannels *channels);

/* Sends each VM of vms (VpVmInfo*, whose state is vm_snapshots[i] and
 * whose counters are ledgers[i]) that has a channel socket its message,
 * connecting first where needed, and sets vm_snapshots[i].channel_connected. Nothing here blocks: a socket that is not there, refuses, or
 * cannot take a message now costs that VM this tick's message, and no
 * other VM anything. Links of VMs not in vms are closed. */
void vp_channels_send (VpChannels *channels, const VpSnapshot *snapshot, const GPtrArray *vms,
                       VpVmSnapshot *vm_snapshots, VpVmLedger *const *ledgers);

typedef struct {
  guint64 sent;          /* messages written whole */
  guint64 dropped;       /* messages a full or closed socket did not take */
  guint64 connects;      /* successful connections */
  guint64 connected;     /* links connected now */
  guint64 discarded_bytes; /* what guests wrote, read and thrown away */
} VpChannelStats;

void vp_channels_stats (const VpChannels *channels, VpChannelStats *out);
