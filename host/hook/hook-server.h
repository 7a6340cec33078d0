/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the root-only socket on which the libvirt hook announces a VM about to start. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* One request per connection, one line each way (see vpower-hook.c):
 *   announce\t<uuid>\t<uid>\t<gid>\t<name>\n   ->   ok\n | error\t<why>\n */
#define VP_HOOK_REQUEST_ANNOUNCE "announce"

typedef gboolean (*VpAnnounceFunc) (const char *name, const char *uuid, uid_t uid, gid_t gid, gpointer user_data);

typedef struct _VpHookServer VpHookServer;

/* Listens on path (mode 0600) and calls announce in the main context. */
VpHookServer *vp_hook_server_new (const char *path, VpAnnounceFunc announce, gpointer user_data, GError **error);
void vp_hook_server_free (VpHookServer *server);
