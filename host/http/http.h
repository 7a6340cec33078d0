/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the HTTP endpoint (libmicrohttpd): /metrics, /api/v1/host, /api/v1/vms, /healthz. */
#pragma once

#include <glib.h>

#include "host/engine/engine.h"
#include "shared/vp-httpd.h"

/* Listens on host:port, serving the engine's snapshots from libmicrohttpd's
 * own thread (shared/vp-httpd.c: limits, timeouts); stop with vp_httpd_stop. */
VpHttpd *vp_http_start (VpEngine *engine, const char *host, guint port, GError **error);
