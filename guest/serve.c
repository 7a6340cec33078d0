/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent serve: the Prometheus exporter.
 *
 * A GLib main loop samples once per interval (power, process shares);
 * libmicrohttpd's thread answers scrapes, each of which re-reads only the
 * energy counters, so they are current without walking /proc per scrape. */
#include "config.h"

#include "guest/render.h"
#include "guest/serve.h"
#include "shared/vp-error.h"
#include "shared/vp-httpd.h"
#include "shared/vp-log.h"
#include "shared/vp-promtext.h"
#include "shared/vp-sdnotify.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_SERVICE_UNAVAILABLE 503
#define EXIT_CONFIG 2

typedef struct {
  VpAgentConfig *config;
  VpSampler *sampler;
  VpHttpd *httpd;
  GMainLoop *loop;
  guint timer;
  int argc;
  char **argv;   /* kept to reload */
} Serve;

static char *
render_metrics (gpointer data, gsize *length, guint *status)
{
  Serve *serve = data;
  gsize sample_length = 0, channel_length = 0;
  g_autofree char *sample = vp_sampler_render (serve->sampler, TRUE, vp_render_metrics, &sample_length);
  /* With the channel, `vpower-agent mount` keeps its counts in a status file (tmpfs). */
  g_autofree char *status_path = g_build_filename (serve->config->runtime_dir, "channel.status", NULL);
  g_autofree char *status_text = NULL;
  if (!g_file_get_contents (status_path, &status_text, NULL, NULL))
    {
      *length = sample_length;
      return g_steal_pointer (&sample);
    }
  g_autofree char *channel = vp_render_channel_metrics (status_text, &channel_length);
  *length = sample_length + channel_length;
  return g_strconcat (sample, channel, NULL);
}

static char *
render_sample (gpointer data, gsize *length, guint *status)
{
  Serve *serve = data;
  return vp_sampler_render (serve->sampler, FALSE, vp_render_json, length);
}

static char *
render_health_text (const VpAgentView *view, gsize *length)
{
  char *text = vp_reader_up (view->reader)
    ? g_strdup_printf ("ok: %u zones under %s\n", vp_reader_n_zones (view->reader), vp_reader_root (view->reader))
    : g_strdup_printf ("down: %s\n", vp_reader_problem (view->reader) ? vp_reader_problem (view->reader)
                                                                       : "not sampled yet");
  *length = strlen (text);
  return text;
}

static char *
render_health (gpointer data, gsize *length, guint *status)
{
  Serve *serve = data;
  char *text = vp_sampler_render (serve->sampler, FALSE, render_health_text, length);
  if (g_str_has_prefix (text, "down"))
    *status = HTTP_SERVICE_UNAVAILABLE;
  return text;
}

static const VpHttpdRoute routes[] = {
  { "/metrics", VP_PROMTEXT_CONTENT_TYPE, render_metrics },
  { "/api/v1/sample", "application/json", render_sample },
  { "/healthz", "text/plain; charset=utf-8", render_health },
};

static gboolean
on_tick (gpointer data)
{
  Serve *serve = data;
  vp_sampler_sample (serve->sampler);
  return G_SOURCE_CONTINUE;
}

static VpHttpd *
start_http (Serve *serve, const VpAgentConfig *config, GError **error)
{
  const VpHttpdConfig http = {
    .host = config->listen_host, .port = config->listen_port,
    .tls_cert_file = config->tls_cert, .tls_key_file = config->tls_key,
    .basic_auth_file = config->basic_auth_file,
  };
  return vp_httpd_start (&http, routes, G_N_ELEMENTS (routes), serve, error);
}

static void
start_timer (Serve *serve)
{
  if (serve->timer)
    g_source_remove (serve->timer);
  serve->timer = g_timeout_add ((guint) (serve->config->interval_s * 1000), on_tick, serve);
}

/* SIGHUP: read the config again. A bad one is reported and the running
 * configuration kept. The counters survive unless the tree to read changed. */
static gboolean
on_reload (gpointer data)
{
  Serve *serve = data;
  g_autoptr (GError) error = NULL;
  int argc = serve->argc;
  /* A shallow copy: parsing the options moves the pointers in it, not in serve->argv. */
  g_autofree char **argv = g_new (char *, argc + 1);
  memcpy (argv, serve->argv, sizeof (char *) * (argc + 1));
  g_autoptr (VpAgentConfig) fresh = vp_agent_config_load (&argc, &argv, &error);

  if (!fresh)
    {
      g_warning ("reload: %s; keeping the running configuration", error ? error->message : "no configuration");
      return G_SOURCE_CONTINUE;
    }
  /* Stop serving first: the new endpoint may be the same address, and the
   * HTTP thread renders from the sampler, which may be replaced. */
  g_clear_pointer (&serve->httpd, vp_httpd_stop);
  VpSampler *previous = NULL;
  if (g_strcmp0 (vp_agent_config_root (fresh), vp_agent_config_root (serve->config)) != 0 ||
      g_strcmp0 (fresh->proc_root, serve->config->proc_root) != 0 || fresh->top != serve->config->top)
    {
      previous = serve->sampler;
      serve->sampler = vp_sampler_new (vp_agent_config_root (fresh), fresh->proc_root, fresh->top);
      vp_sampler_sample (serve->sampler);
    }
  serve->httpd = start_http (serve, fresh, &error);
  if (!serve->httpd)
    {
      /* All or nothing: back to the previous sampler and endpoint. */
      g_warning ("reload: %s; keeping the running configuration", error->message);
      g_clear_error (&error);
      if (previous)
        {
          vp_sampler_free (serve->sampler);
          serve->sampler = previous;
        }
      serve->httpd = start_http (serve, serve->config, &error);
      if (!serve->httpd)
        {
          g_critical ("cannot serve again: %s", error->message);
          g_main_loop_quit (serve->loop);
        }
      return G_SOURCE_CONTINUE;
    }
  if (previous)
    vp_sampler_free (previous);
  vp_agent_config_free (serve->config);
  serve->config = g_steal_pointer (&fresh);
  vp_log_set_verbose (serve->config->verbose);
  start_timer (serve);
  g_message ("reloaded %s", serve->config->config_file);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stop (gpointer data)
{
  Serve *serve = data;
  g_message ("stopping");
  vp_sd_notify ("STOPPING=1");
  g_main_loop_quit (serve->loop);
  return G_SOURCE_CONTINUE;
}

int
vp_serve_run (VpAgentConfig *config, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  Serve serve = { .config = config, .argc = argc, .argv = argv };

  serve.sampler = vp_sampler_new (vp_agent_config_root (config), config->proc_root, config->top);
  vp_sampler_sample (serve.sampler);
  serve.httpd = start_http (&serve, config, &error);
  if (!serve.httpd)
    {
      g_critical ("%s", error->message);
      vp_sampler_free (serve.sampler);
      vp_agent_config_free (serve.config);
      /* A TLS or basic-auth file that cannot be used is a configuration
       * error (exit 2: systemd then does not restart in a loop). */
      return g_error_matches (error, VP_ERROR, VP_ERROR_CONFIG) ? EXIT_CONFIG : EXIT_FAILURE;
    }
  g_message ("serving the powercap tree at %s every %g s", vp_agent_config_root (config), config->interval_s);

  serve.loop = g_main_loop_new (NULL, FALSE);
  start_timer (&serve);
  guint sources[] = {
    g_unix_signal_add (SIGTERM, on_stop, &serve),
    g_unix_signal_add (SIGINT, on_stop, &serve),
    g_unix_signal_add (SIGHUP, on_reload, &serve),
  };
  vp_sd_notify ("READY=1");
  g_main_loop_run (serve.loop);

  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    g_source_remove (sources[i]);
  g_source_remove (serve.timer);
  vp_httpd_stop (serve.httpd);
  vp_sampler_free (serve.sampler);
  g_main_loop_unref (serve.loop);
  vp_agent_config_free (serve.config);
  return EXIT_SUCCESS;
}
