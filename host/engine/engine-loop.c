/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the engine process's main loop: the tick timer, HTTP, publication, clean stop. */
#include "config.h"

#include "host/control/control.h"
#include "host/engine/engine-loop.h"
#include "host/engine/engine.h"
#include "host/http/http.h"
#include "host/snapshot/publication.h"
#include "shared/vp-sdnotify.h"

#include <errno.h>
#include <glib-unix.h>
#include <pthread.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
  GMainContext *context;
  GMainLoop *loop;
  VpEngine *engine;
  VpShm *shm;
  double interval_s;
  gint64 next_tick_us;
  gboolean publish_failed;
} EngineLoop;

static gboolean on_tick (gpointer user_data);

void
vp_engine_stop_signals (sigset_t *set)
{
  sigemptyset (set);
  sigaddset (set, SIGTERM);
  sigaddset (set, SIGINT);
  sigaddset (set, SIGHUP);
}

/* Attaches SOURCE, calling FUNC, to the engine's own main context; returns its id there. */
static guint
attach (GMainContext *context, GSource *source, GSourceFunc func, gpointer user_data)
{
  g_source_set_callback (source, func, user_data, NULL);
  guint id = g_source_attach (source, context);
  g_source_unref (source);
  return id;
}

/* g_source_remove() looks in GLib's global default context only. */
static void
remove_source (GMainContext *context, guint id)
{
  GSource *source = id ? g_main_context_find_source_by_id (context, id) : NULL;
  if (source)
    g_source_destroy (source);
}

/* Ticks are scheduled on absolute deadlines so they do not drift by the
 * tick's own duration; after a stall we skip ahead rather than burst. */
static void
schedule_tick (EngineLoop *self)
{
  gint64 interval_us = (gint64) (self->interval_s * G_USEC_PER_SEC);
  gint64 now = g_get_monotonic_time ();
  self->next_tick_us += interval_us;
  if (self->next_tick_us <= now)
    self->next_tick_us = now + interval_us;
  attach (self->context, g_timeout_source_new ((guint) ((self->next_tick_us - now + 999) / 1000)), on_tick, self);
}

/* Hands the tick's snapshot to the mount holder. */
static void
publish (EngineLoop *self)
{
  if (!self->shm)
    return;
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (self->engine);
  g_autoptr (GBytes) bytes = vp_publication_encode (snapshot);
  g_autoptr (GError) error = NULL;
  gboolean ok = vp_shm_write (self->shm, bytes, &error);
  if (!ok && !self->publish_failed)
    g_warning ("cannot publish to the mount: %s; the tree keeps its last values", error->message);
  else if (ok && self->publish_failed)
    g_message ("publishing to the mount again");
  self->publish_failed = !ok;
}

static gboolean
on_tick (gpointer user_data)
{
  EngineLoop *self = user_data;
  vp_engine_tick (self->engine);
  publish (self);
  schedule_tick (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stop_signal (gpointer user_data)
{
  EngineLoop *self = user_data;
  g_message ("stopping on signal");
  if (!self->shm)
    vp_sd_notify ("STOPPING=1");
  g_main_loop_quit (self->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sighup (gpointer user_data)
{
  EngineLoop *self = user_data;
  /* Under a mount holder, SIGHUP goes to the holder, which restarts this
   * process with the new configuration; alone, there is nobody to do that. */
  if (self->shm)
    {
      g_message ("SIGHUP: send it to the mount holder (pid %d), which restarts this engine", getppid ());
      return G_SOURCE_CONTINUE;
    }
  g_message ("SIGHUP: with --no-mount the configuration is not reloaded; "
             "restart vpowerd to apply changes (counters persist across restarts)");
  return G_SOURCE_CONTINUE;
}

/* The control socket: handed over by the mount holder, which keeps it
 * across engine restarts; alone (--no-mount), ours to create and remove.
 * vpowerd runs without it rather than not at all: it only serves vpowerctl. */
static VpControl *
start_control (VpEngine *engine, const VpConfig *config, char **own_path)
{
  g_autoptr (GError) error = NULL;
  int fd = config->control_fd;
  if (fd < 0)
    {
      g_autofree char *path = g_build_filename (config->runtime_dir, VP_CONTROL_SOCKET_NAME, NULL);
      if (g_mkdir_with_parents (config->runtime_dir, 0755) != 0)
        g_set_error (&error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s",
                     config->runtime_dir, g_strerror (errno));
      else if ((fd = vp_control_listen (path, FALSE, &error)) >= 0)
        *own_path = g_steal_pointer (&path);
    }
  VpControl *control = fd >= 0 ? vp_control_start (engine, config, fd, &error) : NULL;
  if (!control)
    g_warning ("no control socket, so vpowerctl cannot reach this vpowerd: %s", error->message);
  return control;
}

static int
run_on (GMainContext *context, const VpConfig *config, VpShm *shm, VpReadyFunc ready, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VpEngine) engine = vp_engine_new (config, TRUE, shm ? vp_shm_origin_key (shm) : 0, &error);
  g_autoptr (VpHttpd) http = engine ? vp_http_start (engine, config->listen_host, config->listen_port, &error) : NULL;
  if (!http)
    {
      g_critical ("%s", error->message);
      ready (FALSE, user_data);
      return EXIT_FAILURE;
    }

  g_autofree char *own_control_path = NULL;
  g_autoptr (VpControl) control = start_control (engine, config, &own_control_path);
  g_autoptr (GMainLoop) loop = g_main_loop_new (context, FALSE);
  EngineLoop self = {
    .context = context,
    .loop = loop,
    .engine = engine,
    .shm = shm,
    .interval_s = config->interval_s,
    .next_tick_us = g_get_monotonic_time (),
  };
  guint sources[] = {
    attach (context, g_unix_signal_source_new (SIGTERM), on_stop_signal, &self),
    attach (context, g_unix_signal_source_new (SIGINT), on_stop_signal, &self),
    attach (context, g_unix_signal_source_new (SIGHUP), on_sighup, &self),
  };
  /* Handled from here: a stop that came while the engine started (vp_engine_run) is taken now. */
  sigset_t stop;
  vp_engine_stop_signals (&stop);
  pthread_sigmask (SIG_UNBLOCK, &stop, NULL);

  /* The first publication should list every defined VM, so that its
   * directory exists when vpowerd reports ready; libvirt usually answers in
   * milliseconds, and a libvirtd that is down does not hold us up long. */
  if (!vp_engine_wait_inventory (engine, 5000))
    g_message ("the inventory is not connected yet; VMs appear when it is");
  /* The first sample; attribution starts at the next tick (or right away,
   * from the saved sample, after a restart). */
  vp_engine_tick (engine);
  publish (&self);
  schedule_tick (&self);
  ready (TRUE, user_data);
  /* Under a mount holder, the holder answers systemd's watchdog. */
  guint watchdog = shm ? 0 : vp_sd_watchdog_start ();
  g_main_loop_run (loop);
  remove_source (context, watchdog);

  g_clear_pointer (&http, vp_httpd_stop);
  g_clear_pointer (&control, vp_control_stop);
  if (own_control_path)
    g_unlink (own_control_path);
  if (vp_engine_save (engine, TRUE, &error))
    g_message ("stopped; counters saved in %s", config->state_dir);
  else
    g_warning ("stopped, but the counters could not be saved: %s", error->message);
  /* The stop signals' sources stay until the counters are saved: removing a signal's last source
   * restores its default action, and a second stop signal would then kill the engine mid-save.
   * One comes whenever a container shares the host's PID namespace (a DaemonSet with hostPID):
   * its runtime signals every process of it, and the holder passes its own signal on. Stopping is
   * under way: later ones are ignored. */
  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    remove_source (context, sources[i]);
  signal (SIGTERM, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  return EXIT_SUCCESS;
}

int
vp_engine_run (const VpConfig *config, VpShm *shm, VpReadyFunc ready, gpointer user_data)
{
  /* Until run_on handles them, the stop signals wait: an engine asked to stop while it starts
   * (loading the BPF program, connecting to libvirt) would otherwise die of SIGTERM's default
   * action without saving, or making, its state (a stop right after a start: tests/packages.sh
   * saw it). The threads it starts meanwhile keep them blocked, so they reach this one. */
  sigset_t stop;
  vp_engine_stop_signals (&stop);
  pthread_sigmask (SIG_BLOCK, &stop, NULL);
  /* The engine's timers, signal handlers and control socket live on a main
   * context of its own, made the thread's default before any of them is
   * made, not on GLib's global default one. libvirt's event loop (the
   * inventory's thread, in virEventRunDefaultImpl) iterates the global
   * default context: there it ran our ticks on its thread, even after this
   * loop had stopped and while the engine was being freed (a crash on
   * SIGTERM); and newer libvirt, whose virEventRunDefaultImpl first
   * acquires that context, fails while another thread holds it. */
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  int status = run_on (context, config, shm, ready, user_data);
  g_main_context_pop_thread_default (context);
  return status;
}
