/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the engine process's main loop: the tick timer, HTTP, publication, clean stop. */
#pragma once

#include <glib.h>
#include <signal.h>

#include "host/conf.h"
#include "host/snapshot/shm.h"

/* Called once: TRUE when the engine serves, FALSE when it could not start. */
typedef void (*VpReadyFunc) (gboolean ok, gpointer user_data);

/* Runs the engine until SIGTERM or SIGINT, then saves the counters. Each
 * tick's snapshot is also published to shm when it is not NULL (the engine
 * under a mount holder). Returns the process exit status. */
/* Fills SET with the signals that stop or reload the engine (SIGTERM, SIGINT, SIGHUP). They stay
 * blocked while the engine starts (the mount holder blocks them in the engine's child, which keeps
 * the mask across exec) and are taken once its loop handles them. Async-signal-safe. */
void vp_engine_stop_signals (sigset_t *set);

int vp_engine_run (const VpConfig *config, VpShm *shm, VpReadyFunc ready, gpointer user_data);
