/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: mounting the host's vpower share inside the guest. */
#pragma once

#include <glib.h>

#include "guest/agent-conf.h"

/* What /proc/self/mountinfo calls the agent's own FUSE tree. */
#define VP_AGENT_TREE_FSTYPE "fuse.vpower"

/* Mounts the share tagged config->tag at config->mount, read-only, nosuid,
 * nodev, noexec: virtiofs first, then 9p. With config->bind_sysfs, binds it
 * over config->sysfs_powercap too. Idempotent. Fails with VP_ERROR_SHARE_MISSING
 * when no such share is attached. */
gboolean vp_share_mount (const VpAgentConfig *config, GError **error);

/* Binds config->mount (the share, or the agent's own tree) over
 * config->sysfs_powercap, read-only. Idempotent. */
gboolean vp_share_bind_sysfs (const VpAgentConfig *config, GError **error);

/* Undoes vp_share_mount: the sysfs bind, then the share. */
gboolean vp_share_umount (const VpAgentConfig *config, GError **error);

/* The libvirt <filesystem> elements an operator adds to attach the share. */
char *vp_share_libvirt_xml (const char *tag);
