/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent mount over the channel: the agent serves the VM's tree itself until stopped. */
#pragma once

#include <glib.h>

#include "guest/agent-conf.h"

/* Mounts the agent's own read-only FUSE tree at config->mount (and binds it
 * over sysfs with --bind-sysfs), fed by the channel, and serves it until
 * SIGTERM or SIGINT, or until someone unmounts it (vpower-agent umount).
 * Returns the exit status. */
int vp_tree_mount_run (const VpAgentConfig *config);
