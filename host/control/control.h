/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the control socket vpowerctl talks to (root-only unix socket, JSON lines). */
#pragma once

#include <glib.h>

#include "host/conf.h"
#include "host/engine/engine.h"

/* Creates the listening socket at path, mode 0600. With take_over (the
 * caller holds the runtime directory's lock) an old socket file is replaced;
 * without, one that another vpowerd still answers on is an error. Returns
 * the fd (close-on-exec), or -1. */
int vp_control_listen (const char *path, gboolean take_over, GError **error);

typedef struct _VpControl VpControl;

/* Serves requests on listen_fd (taking it over) from the default main
 * context, answering from engine's snapshots. */
VpControl *vp_control_start (VpEngine *engine, const VpConfig *config, int listen_fd, GError **error);
/* The same without a socket: for vp_control_answer alone (the fuzz harness). */
VpControl *vp_control_new (VpEngine *engine, const VpConfig *config);
/* The answer line (with its newline) to one request's bytes, as the socket
 * sends it: {"ok":true,"result":...} or {"ok":false,"error":"..."}. */
char *vp_control_answer (VpControl *control, const char *request, gsize length);
/* Stops accepting and waits for requests in progress. */
void vp_control_stop (VpControl *control);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpControl, vp_control_stop)
