/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the mount holder: mounts the tree, serves it, and supervises the engine process. */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/engine/engine-loop.h"

/* Runs vpowerd as two processes (design.md, "The process that holds the
 * FUSE mount must never restart with the engine"): this one holds the
 * mount and serves it from shared memory; the engine runs in a child that
 * is started as `self_path argv[1..] --engine-fd=N` and restarted when it
 * dies. argv is the command line vpowerd was started with, kept so that the
 * engine reads the configuration the same way. Returns the exit status. */
int vp_holder_run (const VpConfig *config, const char *self_path, char **argv, VpReadyFunc ready,
                   gpointer user_data);
