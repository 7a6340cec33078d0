/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: systemd's readiness protocol (sd_notify(3)) without libsystemd:
 * one datagram to $NOTIFY_SOCKET. A no-op when not started by systemd. */
#pragma once

#include <glib.h>

/* Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1"). FALSE when there is
 * no $NOTIFY_SOCKET or the send failed. */
gboolean vp_sd_notify (const char *state);
