/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: a small read-only HTTP server on libmicrohttpd, shared by vpowerd and vpower-agent.
 *
 * Routes are a table of GET paths with a renderer each. The server always
 * sets a connection timeout (libmicrohttpd's default is none), a global and a
 * per-IP connection limit and a memory limit per connection, so a slow or
 * hostile client cannot exhaust the process. TLS and HTTP basic auth are
 * optional and come from files. */
#pragma once

#include <glib.h>

/* Renders a response body (g_free'd by the server). *status starts at 200. */
typedef char *(*VpHttpdRender) (gpointer data, gsize *length, guint *status);

typedef struct {
  const char *path;
  const char *content_type;
  VpHttpdRender render;
} VpHttpdRoute;

typedef struct {
  const char *host;              /* numeric IPv4 or IPv6 address */
  guint port;
  const char *tls_cert_file;     /* PEM; TLS when both cert and key are set */
  const char *tls_key_file;
  const char *basic_auth_file;   /* lines "user:SHA256-hex-of-password"; NULL: no auth */
} VpHttpdConfig;

typedef struct _VpHttpd VpHttpd;

VpHttpd *vp_httpd_start (const VpHttpdConfig *config, const VpHttpdRoute *routes, gsize n_routes,
                         gpointer data, GError **error);
void vp_httpd_stop (VpHttpd *httpd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpHttpd, vp_httpd_stop)

/* Reads a basic-auth file into user -> lower-case SHA-256 hex. Fails on any
 * malformed line, naming it. Exposed for tests. */
GHashTable *vp_httpd_load_credentials (const char *path, GError **error);
