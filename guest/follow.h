/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the guest's own counters from the host's channel messages: exact on one host, never going back. */
#pragma once

#include <glib.h>

#include "shared/vp-channel.h"
#include "shared/vp-publication.h"

/* The rule (vpower-channel(7), issue #12):
 * - While the host id and the counter epoch stay the same, a zone shows the
 *   host's energy_uj unchanged: a guest on one host reads exactly what that
 *   host publishes.
 * - When either changes (the VM moved, or its counters on the host began
 *   anew), each zone carries on from the last value it showed and adds the
 *   new host's deltas from then on: the message of the change adds nothing,
 *   so at most one tick of energy is lost, and nothing goes back.
 * - A zone keeps the max_energy_range_uj it was first shown with, and wraps
 *   only there, whatever the next host's range.
 * - Within one engine run and epoch, sequence numbers only increase: a
 *   replayed or out-of-order message is refused. */
typedef struct _VpFollower VpFollower;

VpFollower *vp_follower_new (void);
void vp_follower_free (VpFollower *follower);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpFollower, vp_follower_free)

/* Applies a message, or refuses it with one error (the counters stay). */
gboolean vp_follower_apply (VpFollower *follower, const VpChannelMessage *message, GError **error);

/* What the guest's tree shows now: one VM (owned by root, as the kernel's
 * powercap files are) with the last message's zones, or NULL before the
 * first message. */
VpPublication *vp_follower_publication (const VpFollower *follower);

/* How many times the host id or epoch changed, or a host's counter went
 * back within an epoch and was treated as such a change. */
guint64 vp_follower_origin_changes (const VpFollower *follower);
