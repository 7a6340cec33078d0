/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the HTTP endpoint: /metrics, /api/v1/host, /api/v1/vms, /healthz.
 *
 * Every response is rendered from one snapshot reference, so a scrape is
 * consistent and never waits for a tick. The server itself (limits,
 * timeouts) is shared/vp-httpd.c. */
#include "config.h"

#include "host/http/http.h"
#include "shared/vp-promtext.h"

#define HTTP_SERVICE_UNAVAILABLE 503

static char *
render_metrics (gpointer engine, gsize *length, guint *status)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (engine);
  return vp_snapshot_metrics (snapshot, length);
}

static char *
render_host (gpointer engine, gsize *length, guint *status)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (engine);
  char *text = vp_snapshot_host_json (snapshot, FALSE);
  *length = strlen (text);
  return text;
}

static char *
render_vms (gpointer engine, gsize *length, guint *status)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (engine);
  char *text = vp_snapshot_vms_json (snapshot, FALSE);
  *length = strlen (text);
  return text;
}

static char *
render_health (gpointer engine, gsize *length, guint *status)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (engine);
  double age_s;
  VpHealth health = vp_snapshot_health (snapshot, &age_s);
  char *text = health == VP_HEALTH_STARTING
    ? g_strdup ("starting: no tick completed yet\n")
    : health == VP_HEALTH_STALE
    ? g_strdup_printf ("stale: last tick %.1f s ago (interval %.1f s)\n", age_s, snapshot->interval_s)
    : g_strdup_printf ("ok: last tick %.1f s ago, sensor %s, %u VMs\n", age_s, snapshot->sensor, snapshot->vms->len);
  if (health != VP_HEALTH_OK)
    *status = HTTP_SERVICE_UNAVAILABLE;
  *length = strlen (text);
  return text;
}

static const VpHttpdRoute routes[] = {
  { "/metrics", VP_PROMTEXT_CONTENT_TYPE, render_metrics },
  { "/api/v1/host", "application/json", render_host },
  { "/api/v1/vms", "application/json", render_vms },
  { "/healthz", "text/plain; charset=utf-8", render_health },
};

VpHttpd *
vp_http_start (VpEngine *engine, const char *host, guint port, GError **error)
{
  const VpHttpdConfig config = { .host = host, .port = port };
  return vp_httpd_start (&config, routes, G_N_ELEMENTS (routes), engine, error);
}
