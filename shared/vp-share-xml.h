/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the libvirt XML that wires a VM to vpower: a share of its tree (9p, virtiofs) or the channel. */
#pragma once

#include <glib.h>

/* The tag the guest mounts (vpower-agent --tag). */
#define VP_SHARE_DEFAULT_TAG "vpower"

/* How the guest gets its counters. Only the channel migrates, saves and
 * hot-plugs on QEMU 7.2 (real-components.md, "What blocks migration"). */
typedef enum { VP_SHARE_9P, VP_SHARE_VIRTIOFS, VP_SHARE_CHANNEL } VpShareTransport;

const char *vp_share_transport_name (VpShareTransport transport);   /* "9p", "virtiofs", "channel" */
gboolean vp_share_transport_parse (const char *name, VpShareTransport *transport);

/* The element for <devices>: a <filesystem> sharing source_dir read-only
 * under tag, or the channel's <channel> (source_dir and tag unused). */
char *vp_share_device_xml (VpShareTransport transport, const char *source_dir, const char *tag);

/* What a share costs a VM that moves, measured on QEMU 7.2 and 10.0 (tests/share-migration.sh),
 * for the warning vpowerctl prints; NULL for the channel, which carries the counters across. */
const char *vp_share_migration_warning (VpShareTransport transport);

/* virtiofs needs guest RAM that virtiofsd can map: this element, in <domain>. */
const char *vp_share_memory_backing_xml (void);
