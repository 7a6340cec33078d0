/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: wiring a VM's tree into its libvirt domain: the checks and the attach (vpowerctl). */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "host/conf.h"
#include "shared/vp-domxml.h"
#include "shared/vp-share-xml.h"

/* Where a VM's tree is on the host: MOUNT/NAME. */
char *vp_share_directory (const VpConfig *config, const char *vm_name);

/* The shares already wired in a domain definition that point at directory
 * or use the tag ("9p", "virtiofs"), and "channel" when it has the vpower
 * channel; or an empty array. */
GPtrArray *vp_share_wired (const VpDomainXml *xml, const char *directory, const char *tag);

/* Whether this definition (the live one when live) can take the share: not
 * already wired, and shared memory for virtiofs. On FALSE the error says why
 * in a sentence an operator can act on (refuse, never half-attach). Whether
 * the transport can be added live at all is vp_share_attach's first check. */
gboolean vp_share_check_attach (const VpDomainXml *xml, VpShareTransport transport, const char *directory,
                                const char *tag, gboolean live, GError **error);

/* One attach at a time per VM, whoever asks (vpowerctl, or wiring): each checks the XML and then
 * attaches, and two at once could both find the channel missing. libvirt refuses the second
 * channel, but only after replacing the running one's socket with a dead one
 * (real-components.md). FALSE: another attach to that VM is under way. */
gboolean vp_share_claim (const char *uuid);
void vp_share_release (const char *uuid);

typedef struct {
  gboolean config;   /* the persistent definition (next boot) */
  gboolean live;     /* the running VM */
} VpShareTarget;

/* Attaches the share to the domain with this UUID: checks first (with the
 * definition the target affects), then virDomainAttachDeviceFlags. Returns a
 * one-line account of what was done. */
char *vp_share_attach (virConnectPtr conn, const char *uuid, VpShareTransport transport, const char *directory,
                       VpShareTarget target, GError **error);
