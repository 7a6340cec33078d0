/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: one log writer for every program: "ident: warning: message" on
 * stderr, or syslog once a daemon has detached. Debug and info messages
 * appear only when verbose. */
#pragma once

#include <glib.h>

void vp_log_init (const char *ident);
void vp_log_set_verbose (gboolean verbose);
/* From now on, log to syslog (LOG_DAEMON) under ident, with the PID. */
void vp_log_use_syslog (const char *ident);
