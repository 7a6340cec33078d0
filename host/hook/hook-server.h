/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the root-only socket on which the libvirt hook announces a VM about to start. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* One request per connection, one line each way (see vpower-hook.c):
 *   announce\t<uuid>\t<uid>\t<gid>\t<name>\n   ->   ok\n | error\t<why>\n */
#define VP_HOOK_REQUEST_ANNOUNCE "announce"

/* The most a request may be; more is refused. */
#define VP_HOOK_REQUEST_MAX 1024

/* A request as parsed from the bytes a client sent. */
typedef struct {
  char *uuid;
  char *name;
  uid_t uid;
  gid_t gid;
} VpHookRequest;

/* Parses what a client sent (length bytes, any content): fills request and
 * returns NULL, or returns why it is refused (a static string). Free the
 * fields with vp_hook_request_clear either way. */
const char *vp_hook_request_parse (const char *bytes, gsize length, VpHookRequest *request);
void vp_hook_request_clear (VpHookRequest *request);

typedef gboolean (*VpAnnounceFunc) (const char *name, const char *uuid, uid_t uid, gid_t gid, gpointer user_data);

typedef struct _VpHookServer VpHookServer;

/* Listens on path (mode 0600) and calls announce in the main context. */
VpHookServer *vp_hook_server_new (const char *path, VpAnnounceFunc announce, gpointer user_data, GError **error);
void vp_hook_server_free (VpHookServer *server);
