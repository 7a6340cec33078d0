/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what the engine publishes to the mount holder each tick, and its wire format. */
#pragma once

#include <glib.h>

#include "host/snapshot/snapshot.h"
#include "shared/vp-publication.h"

/* The engine side: a snapshot in wire form. */
GBytes *vp_publication_encode (const VpSnapshot *snapshot);

/* The holder side. The bytes come from another process, so everything is
 * checked: a malformed publication is refused whole, with one message. */
VpPublication *vp_publication_decode (GBytes *bytes, GError **error);
