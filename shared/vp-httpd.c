/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: a small read-only HTTP server on libmicrohttpd. */
#include "config.h"

#include "shared/vp-error.h"
#include "shared/vp-httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define HTTPD_CONNECTION_LIMIT 64
#define HTTPD_PER_IP_LIMIT 16
#define HTTPD_TIMEOUT_S 10
#define HTTPD_MEMORY_LIMIT (64 * 1024)
#define HTTPD_REALM "vpower"
#define SHA256_HEX_LENGTH 64

struct _VpHttpd {
  struct MHD_Daemon *daemon;
  const VpHttpdRoute *routes;
  gsize n_routes;
  gpointer data;
  GHashTable *credentials;   /* NULL: no auth */
  char *tls_cert;            /* PEM text; libmicrohttpd borrows it */
  char *tls_key;
  char *not_found;           /* the 404 body, listing the routes */
};

GHashTable *
vp_httpd_load_credentials (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, NULL, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "basic auth file: %s", local->message);
      return NULL;
    }
  g_autoptr (GHashTable) credentials = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      char *line = g_strstrip (lines[i]);
      if (*line == '\0' || *line == '#')
        continue;
      const char *colon = strrchr (line, ':');
      const char *hash = colon ? colon + 1 : "";
      if (!colon || colon == line || strlen (hash) != SHA256_HEX_LENGTH ||
          strspn (hash, "0123456789abcdefABCDEF") != SHA256_HEX_LENGTH)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                       "%s:%u: expected USER:SHA256 (64 hex digits, as printed by "
                       "\"printf %%s PASSWORD | sha256sum\")", path, i + 1);
          return NULL;
        }
      g_hash_table_replace (credentials, g_strndup (line, colon - line), g_ascii_strdown (hash, -1));
    }
  if (g_hash_table_size (credentials) == 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s names no user", path);
      return NULL;
    }
  return g_steal_pointer (&credentials);
}

/* Compares in time independent of where the strings differ. */
static gboolean
equal_constant_time (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  unsigned char diff = la != lb;
  for (gsize i = 0; i < MIN (la, lb); i++)
    diff |= (unsigned char) (a[i] ^ b[i]);
  return diff == 0;
}

static gboolean
is_authorized (VpHttpd *httpd, struct MHD_Connection *connection)
{
  char *password = NULL;
  char *user = MHD_basic_auth_get_username_password (connection, &password);
  gboolean ok = FALSE;
  if (user && password)
    {
      const char *expected = g_hash_table_lookup (httpd->credentials, user);
      g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, password, -1);
      ok = expected && equal_constant_time (hash, expected);
    }
  MHD_free (user);
  MHD_free (password);
  return ok;
}

static enum MHD_Result
reply (struct MHD_Connection *connection, unsigned int status, const char *content_type,
       char *body, gsize length, gboolean challenge)
{
  struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback (length, body, g_free);
  MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result result = challenge
    ? MHD_queue_basic_auth_fail_response (connection, HTTPD_REALM, response)
    : MHD_queue_response (connection, status, response);
  MHD_destroy_response (response);
  return result;
}

static enum MHD_Result
reply_message (struct MHD_Connection *connection, unsigned int status, const char *message, gboolean challenge)
{
  return reply (connection, status, "text/plain; charset=utf-8", g_strdup (message), strlen (message), challenge);
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_data_size, void **request_state)
{
  VpHttpd *httpd = cls;

  /* Refuse bodies outright: no route takes one. */
  if (*upload_data_size != 0)
    {
      *upload_data_size = 0;
      return MHD_YES;
    }
  if (httpd->credentials && !is_authorized (httpd, connection))
    return reply_message (connection, MHD_HTTP_UNAUTHORIZED, "authentication required\n", TRUE);
  if (!g_str_equal (method, MHD_HTTP_METHOD_GET) && !g_str_equal (method, MHD_HTTP_METHOD_HEAD))
    return reply_message (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are supported\n", FALSE);

  for (gsize i = 0; i < httpd->n_routes; i++)
    if (g_str_equal (url, httpd->routes[i].path))
      {
        gsize length = 0;
        guint status = MHD_HTTP_OK;
        char *body = httpd->routes[i].render (httpd->data, &length, &status);
        return reply (connection, status, httpd->routes[i].content_type, body, length, FALSE);
      }
  return reply_message (connection, MHD_HTTP_NOT_FOUND, httpd->not_found, FALSE);
}

static void
log_mhd (void *cls, const char *format, va_list ap)
{
  g_autofree char *message = g_strdup_vprintf (format, ap);
  g_debug ("http: %s", g_strchomp (message));
}

static void
httpd_free (VpHttpd *httpd)
{
  if (httpd->credentials)
    g_hash_table_unref (httpd->credentials);
  g_free (httpd->tls_cert);
  g_free (httpd->tls_key);
  g_free (httpd->not_found);
  g_free (httpd);
}

static gboolean
load_tls (VpHttpd *httpd, const VpHttpdConfig *config, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (!config->tls_cert_file != !config->tls_key_file)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "TLS needs both tls-cert and tls-key");
      return FALSE;
    }
  if (!config->tls_cert_file)
    return TRUE;
  if (!MHD_is_feature_supported (MHD_FEATURE_TLS))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "this libmicrohttpd was built without TLS");
      return FALSE;
    }
  if (!g_file_get_contents (config->tls_cert_file, &httpd->tls_cert, NULL, &local) ||
      !g_file_get_contents (config->tls_key_file, &httpd->tls_key, NULL, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "TLS: %s", local->message);
      return FALSE;
    }
  return TRUE;
}

VpHttpd *
vp_httpd_start (const VpHttpdConfig *config, const VpHttpdRoute *routes, gsize n_routes,
                gpointer data, GError **error)
{
  struct sockaddr_storage address = { 0 };
  struct sockaddr_in *v4 = (struct sockaddr_in *) &address;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) &address;
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;

  if (inet_pton (AF_INET, config->host, &v4->sin_addr) == 1)
    {
      v4->sin_family = AF_INET;
      v4->sin_port = htons (config->port);
    }
  else if (inet_pton (AF_INET6, config->host, &v6->sin6_addr) == 1)
    {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons (config->port);
      flags |= MHD_USE_IPv6;
    }
  else
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "listen address %s is not numeric", config->host);
      return NULL;
    }

  VpHttpd *httpd = g_new0 (VpHttpd, 1);
  httpd->routes = routes;
  httpd->n_routes = n_routes;
  httpd->data = data;
  g_autoptr (GString) paths = g_string_new ("not found; try");
  for (gsize i = 0; i < n_routes; i++)
    g_string_append_printf (paths, "%s %s", i == 0 ? "" : i + 1 == n_routes ? " or" : ",", routes[i].path);
  g_string_append_c (paths, '\n');
  httpd->not_found = g_string_free (g_steal_pointer (&paths), FALSE);

  if (!load_tls (httpd, config, error))
    {
      httpd_free (httpd);
      return NULL;
    }
  if (config->basic_auth_file)
    {
      struct stat st;
      if (!(httpd->credentials = vp_httpd_load_credentials (config->basic_auth_file, error)))
        {
          httpd_free (httpd);
          return NULL;
        }
      if (stat (config->basic_auth_file, &st) == 0 && (st.st_mode & 0077))
        g_warning ("http: %s is readable by other users; chmod 600 it", config->basic_auth_file);
    }

  if (httpd->tls_cert)
    flags |= MHD_USE_TLS;
  httpd->daemon = MHD_start_daemon (flags, (uint16_t) config->port, NULL, NULL, on_request, httpd,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HTTPD_CONNECTION_LIMIT,
                                    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) HTTPD_PER_IP_LIMIT,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) HTTPD_TIMEOUT_S,
                                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTPD_MEMORY_LIMIT,
                                    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                                    httpd->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, httpd->tls_cert,
                                    MHD_OPTION_HTTPS_MEM_KEY, httpd->tls_key,
                                    MHD_OPTION_END);
  if (!httpd->daemon)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO,
                   "cannot listen on %s:%u (address in use, not an address of this host%s)",
                   config->host, config->port, httpd->tls_cert ? ", or an unusable TLS key or certificate" : "");
      httpd_free (httpd);
      return NULL;
    }
  gboolean v6_host = strchr (config->host, ':') != NULL;
  g_message ("http: listening on %s://%s%s%s:%u%s", httpd->tls_cert ? "https" : "http", v6_host ? "[" : "",
             config->host, v6_host ? "]" : "", config->port, httpd->credentials ? " with basic auth" : "");
  return httpd;
}

void
vp_httpd_stop (VpHttpd *httpd)
{
  if (!httpd)
    return;
  MHD_stop_daemon (httpd->daemon);
  httpd_free (httpd);
}
