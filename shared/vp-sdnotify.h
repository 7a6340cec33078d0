/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: systemd's readiness protocol (sd_notify(3)) without libsystemd:
 * one datagram to $NOTIFY_SOCKET. A no-op when not started by systemd. */
#pragma once

#include <glib.h>

/* Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1"). FALSE when there is
 * no $NOTIFY_SOCKET or the send failed. */
gboolean vp_sd_notify (const char *state);

/* When systemd asked for keep-alives (WatchdogSec= sets $WATCHDOG_USEC, and
 * $WATCHDOG_PID, if set, is this process), sends WATCHDOG=1 every half of
 * that period from the thread-default main context, so a hung main loop stops the
 * pings. Returns the source id, or 0 when no watchdog was asked for. */
guint vp_sd_watchdog_start (void);
