/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the HTTP endpoint (libmicrohttpd): /metrics, /api/v1/host, /api/v1/vms, /healthz.
 *
 * Every response is rendered from one snapshot reference, so a scrape is
 * consistent and never waits for a tick. libmicrohttpd's connection timeout
 * defaults to none (prior-art.md): we always set it, with global and per-IP
 * connection limits, so a slow or hostile client cannot exhaust the daemon. */
#include "config.h"

#include "host/http.h"
#include "shared/vp-error.h"
#include "shared/vp-promtext.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define HTTP_CONNECTION_LIMIT 64
#define HTTP_PER_IP_LIMIT 16
#define HTTP_TIMEOUT_S 10
#define HEALTHY_INTERVALS 3

struct _VpHttp {
  struct MHD_Daemon *daemon;
  VpEngine *engine;
};

typedef char *(*Renderer) (const VpSnapshot *snapshot, gsize *length);

static char *
render_metrics (const VpSnapshot *snapshot, gsize *length)
{
  return vp_snapshot_metrics (snapshot, length);
}

static char *
render_host (const VpSnapshot *snapshot, gsize *length)
{
  char *text = vp_snapshot_host_json (snapshot, FALSE);
  *length = strlen (text);
  return text;
}

static char *
render_vms (const VpSnapshot *snapshot, gsize *length)
{
  char *text = vp_snapshot_vms_json (snapshot, FALSE);
  *length = strlen (text);
  return text;
}

/* Seconds since the snapshot's tick; healthy while within 3 intervals. */
static double
tick_age_s (const VpSnapshot *snapshot)
{
  return (g_get_monotonic_time () - snapshot->mono_us) / 1e6;
}

static gboolean
is_healthy (const VpSnapshot *snapshot)
{
  return snapshot->ticks > 0 && tick_age_s (snapshot) <= HEALTHY_INTERVALS * snapshot->interval_s;
}

static char *
render_health (const VpSnapshot *snapshot, gsize *length)
{
  char *text = snapshot->ticks == 0
    ? g_strdup ("starting: no tick completed yet\n")
    : !is_healthy (snapshot)
    ? g_strdup_printf ("stale: last tick %.1f s ago (interval %.1f s)\n", tick_age_s (snapshot), snapshot->interval_s)
    : g_strdup_printf ("ok: last tick %.1f s ago, sensor %s, %u VMs\n", tick_age_s (snapshot), snapshot->sensor,
                       snapshot->vms->len);
  *length = strlen (text);
  return text;
}

static unsigned int
health_status (const VpSnapshot *snapshot)
{
  return is_healthy (snapshot) ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
}

/* The routes, table-driven. status is NULL for "always 200". */
static const struct {
  const char *path;
  const char *content_type;
  Renderer render;
  unsigned int (*status) (const VpSnapshot *snapshot);
} routes[] = {
  { "/metrics", VP_PROMTEXT_CONTENT_TYPE, render_metrics, NULL },
  { "/api/v1/host", "application/json", render_host, NULL },
  { "/api/v1/vms", "application/json", render_vms, NULL },
  { "/healthz", "text/plain; charset=utf-8", render_health, health_status },
};

static enum MHD_Result
reply_text (struct MHD_Connection *connection, unsigned int status, const char *content_type,
            char *body, gsize length, const char *allow)
{
  struct MHD_Response *response =
    MHD_create_response_from_buffer_with_free_callback (length, body, g_free);
  MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (allow)
    MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, allow);
  enum MHD_Result result = MHD_queue_response (connection, status, response);
  MHD_destroy_response (response);
  return result;
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_data_size, void **request_state)
{
  VpHttp *http = cls;

  /* Refuse bodies outright: no endpoint takes one. */
  if (*upload_data_size != 0)
    {
      *upload_data_size = 0;
      return MHD_YES;
    }
  if (!g_str_equal (method, MHD_HTTP_METHOD_GET) && !g_str_equal (method, MHD_HTTP_METHOD_HEAD))
    return reply_text (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                       g_strdup ("only GET and HEAD are supported\n"), strlen ("only GET and HEAD are supported\n"),
                       "GET, HEAD");

  for (gsize i = 0; i < G_N_ELEMENTS (routes); i++)
    if (g_str_equal (url, routes[i].path))
      {
        g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (http->engine);
        gsize length = 0;
        char *body = routes[i].render (snapshot, &length);
        unsigned int status = routes[i].status ? routes[i].status (snapshot) : MHD_HTTP_OK;
        return reply_text (connection, status, routes[i].content_type, body, length, NULL);
      }

  const char *message = "not found; try /metrics, /api/v1/host, /api/v1/vms or /healthz\n";
  return reply_text (connection, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
                     g_strdup (message), strlen (message), NULL);
}

static void
log_mhd (void *cls, const char *format, va_list ap)
{
  g_autofree char *message = g_strdup_vprintf (format, ap);
  g_debug ("http: %s", g_strchomp (message));
}

VpHttp *
vp_http_start (VpEngine *engine, const char *host, guint port, GError **error)
{
  struct sockaddr_storage address = { 0 };
  struct sockaddr_in *v4 = (struct sockaddr_in *) &address;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) &address;
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;

  if (inet_pton (AF_INET, host, &v4->sin_addr) == 1)
    {
      v4->sin_family = AF_INET;
      v4->sin_port = htons (port);
    }
  else if (inet_pton (AF_INET6, host, &v6->sin6_addr) == 1)
    {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons (port);
      flags |= MHD_USE_IPv6;
    }
  else
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "listen address %s is not numeric", host);
      return NULL;
    }

  VpHttp *http = g_new0 (VpHttp, 1);
  http->engine = engine;
  http->daemon = MHD_start_daemon (flags, (uint16_t) port, NULL, NULL, on_request, http,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HTTP_CONNECTION_LIMIT,
                                   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) HTTP_PER_IP_LIMIT,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) HTTP_TIMEOUT_S,
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (64 * 1024),
                                   MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                                   MHD_OPTION_END);
  if (!http->daemon)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO,
                   "cannot listen on %s:%u (address in use, or not an address of this host)", host, port);
      g_free (http);
      return NULL;
    }
  g_message ("http: listening on %s%s%s:%u (/metrics, /api/v1/host, /api/v1/vms, /healthz)",
             strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "", port);
  return http;
}

void
vp_http_stop (VpHttp *http)
{
  if (!http)
    return;
  MHD_stop_daemon (http->daemon);
  g_free (http);
}
