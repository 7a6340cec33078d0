/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the host daemon's entry point: options, logging, signals, the tick timer. */
#include "config.h"

#include "host/conf.h"
#include "host/engine.h"
#include "host/http.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define EXIT_CONFIG 2

static gboolean log_verbose;
static gboolean log_to_syslog;

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *message = NULL;
  const char *prefix = "";
  int priority = LOG_INFO;

  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !log_verbose)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      message = fields[i].value;
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    prefix = "error: ", priority = LOG_ERR;
  else if (level & G_LOG_LEVEL_WARNING)
    prefix = "warning: ", priority = LOG_WARNING;
  else if (level & G_LOG_LEVEL_DEBUG)
    priority = LOG_DEBUG;

  if (log_to_syslog)
    syslog (priority, "%s%s", prefix, message ? message : "");
  else
    fprintf (stderr, "vpowerd: %s%s\n", prefix, message ? message : "");
  return G_LOG_WRITER_HANDLED;
}

typedef struct {
  GMainLoop *loop;
  VpEngine *engine;
  double interval_s;
  gint64 next_tick_us;
} Daemon;

static gboolean on_tick (gpointer user_data);

/* Ticks are scheduled on absolute deadlines so they do not drift by the
 * tick's own duration; after a stall we skip ahead rather than burst. */
static void
schedule_tick (Daemon *daemon)
{
  gint64 interval_us = (gint64) (daemon->interval_s * G_USEC_PER_SEC);
  gint64 now = g_get_monotonic_time ();
  daemon->next_tick_us += interval_us;
  if (daemon->next_tick_us <= now)
    daemon->next_tick_us = now + interval_us;
  g_timeout_add ((guint) ((daemon->next_tick_us - now + 999) / 1000), on_tick, daemon);
}

static gboolean
on_tick (gpointer user_data)
{
  Daemon *daemon = user_data;
  vp_engine_tick (daemon->engine);
  schedule_tick (daemon);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stop_signal (gpointer user_data)
{
  Daemon *daemon = user_data;
  g_message ("stopping on signal");
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sighup (gpointer user_data)
{
  g_message ("SIGHUP: configuration reload is not supported by this version; "
             "restart vpowerd to apply changes (counters persist across restarts)");
  return G_SOURCE_CONTINUE;
}

static int
run_once (const VpConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VpEngine) engine = vp_engine_new (config, FALSE, &error);
  if (!engine)
    {
      g_printerr ("vpowerd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  /* --once is a diagnostic: it starts from zero and never touches the state. */
  if (!vp_engine_wait_inventory (engine, 10000))
    g_printerr ("vpowerd: warning: the inventory is not connected; VMs may be missing\n");
  vp_engine_tick (engine);
  g_usleep ((gulong) (config->interval_s * G_USEC_PER_SEC));
  vp_engine_tick (engine);
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (engine);
  g_autofree char *json = vp_snapshot_once_json (snapshot);
  fputs (json, stdout);
  return EXIT_SUCCESS;
}

/* Classic double-duty daemonisation: the parent waits on a pipe until the
 * child reports that it is serving (or why it failed), so the exit status of
 * `vpowerd` tells whether the daemon really started. */
static int
daemonize (int *ready_fd)
{
  int fds[2];
  if (pipe (fds) != 0)
    return -1;
  pid_t pid = fork ();
  if (pid < 0)
    return -1;
  if (pid > 0)
    {
      char status = 1;
      close (fds[1]);
      if (read (fds[0], &status, 1) != 1)
        status = 1;
      _exit (status);
    }
  close (fds[0]);
  setsid ();
  *ready_fd = fds[1];
  return 0;
}

static void
report_ready (int *ready_fd, char status)
{
  if (*ready_fd < 0)
    return;
  if (write (*ready_fd, &status, 1) != 1)
    g_debug ("the parent process is gone");
  close (*ready_fd);
  *ready_fd = -1;
  if (status == 0)
    {
      int null_fd = open ("/dev/null", O_RDWR);
      if (null_fd >= 0)
        {
          dup2 (null_fd, STDIN_FILENO);
          dup2 (null_fd, STDOUT_FILENO);
          dup2 (null_fd, STDERR_FILENO);
          if (null_fd > STDERR_FILENO)
            close (null_fd);
        }
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ready_fd = -1;

  setlocale (LC_ALL, "");
  g_log_set_writer_func (write_log, NULL, NULL);

  g_autoptr (VpConfig) config = vp_config_load (&argc, &argv, &error);
  if (!config)
    {
      if (!error)
        return EXIT_SUCCESS;   /* --help or --version */
      g_printerr ("vpowerd: %s\n", error->message);
      return EXIT_CONFIG;
    }
  log_verbose = config->verbose;

  if (config->once)
    return run_once (config);

  if (!config->foreground)
    {
      if (daemonize (&ready_fd) != 0)
        {
          g_printerr ("vpowerd: cannot start in the background: %s\n", g_strerror (errno));
          return EXIT_FAILURE;
        }
      openlog ("vpowerd", LOG_PID, LOG_DAEMON);
      log_to_syslog = TRUE;
    }

  g_message ("vpowerd %s starting: inventory %s, policy %s, topology %s, interval %g s, state in %s",
             PACKAGE_VERSION, g_str_equal (config->inventory, "libvirt") ? config->connect : config->inventory,
             vp_policy_to_string (config->policy), vp_topology_to_string (config->topology),
             config->interval_s, config->state_dir);

  g_autoptr (VpEngine) engine = vp_engine_new (config, TRUE, &error);
  g_autoptr (VpHttp) http = engine ? vp_http_start (engine, config->listen_host, config->listen_port, &error) : NULL;
  if (!http)
    {
      g_critical ("%s", error->message);
      /* A detaching vpowerd logs to syslog: say it on the terminal too. */
      if (log_to_syslog)
        g_printerr ("vpowerd: %s\n", error->message);
      report_ready (&ready_fd, 1);
      return EXIT_FAILURE;
    }

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Daemon daemon = {
    .loop = loop,
    .engine = engine,
    .interval_s = config->interval_s,
    .next_tick_us = g_get_monotonic_time (),
  };
  g_unix_signal_add (SIGTERM, on_stop_signal, &daemon);
  g_unix_signal_add (SIGINT, on_stop_signal, &daemon);
  g_unix_signal_add (SIGHUP, on_sighup, &daemon);

  vp_engine_tick (engine);   /* the first sample; attribution starts at the next */
  schedule_tick (&daemon);
  report_ready (&ready_fd, 0);
  g_main_loop_run (loop);

  g_clear_pointer (&http, vp_http_stop);
  g_autofree char *state_dir = g_strdup (config->state_dir);
  if (vp_engine_save (engine, TRUE, &error))
    g_message ("stopped; counters saved in %s", state_dir);
  else
    g_warning ("stopped, but the counters could not be saved: %s", error->message);
  return EXIT_SUCCESS;
}
