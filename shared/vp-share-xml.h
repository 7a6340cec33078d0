/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the libvirt XML that shares a VM's tree with the guest (9p or virtiofs). */
#pragma once

#include <glib.h>

/* The tag the guest mounts (vpower-agent --tag). */
#define VP_SHARE_DEFAULT_TAG "vpower"

typedef enum { VP_SHARE_9P, VP_SHARE_VIRTIOFS } VpShareTransport;

const char *vp_share_transport_name (VpShareTransport transport);   /* "9p", "virtiofs" */
gboolean vp_share_transport_parse (const char *name, VpShareTransport *transport);

/* The <filesystem> element for <devices>, sharing source_dir read-only under tag. */
char *vp_share_filesystem_xml (VpShareTransport transport, const char *source_dir, const char *tag);

/* virtiofs needs guest RAM that virtiofsd can map: this element, in <domain>. */
const char *vp_share_memory_backing_xml (void);
