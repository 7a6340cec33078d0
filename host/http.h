/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the HTTP endpoint (libmicrohttpd): /metrics, /api/v1/host, /api/v1/vms, /healthz. */
#pragma once

#include <glib.h>

#include "host/engine.h"

typedef struct _VpHttp VpHttp;

/* Listens on host:port, serving the engine's snapshots from libmicrohttpd's
 * own thread, with connection limits and timeouts. */
VpHttp *vp_http_start (VpEngine *engine, const char *host, guint port, GError **error);
void vp_http_stop (VpHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpHttp, vp_http_stop)
