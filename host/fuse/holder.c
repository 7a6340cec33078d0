/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the mount holder: mounts the tree, serves it, and supervises the engine process.
 *
 * Running guests hold the FUSE connection that existed when they started,
 * and libfuse cannot hand a live connection to another process, so this
 * process must outlive every engine: it does nothing that can fail at run
 * time (no libvirt, no sensors, no HTTP). It owns:
 *   - the mount, served by fuse.c from the tree in served-tree.c;
 *   - the shared memory the engine publishes into (shm.c);
 *   - the engine process: started from the binary on disk, so a restart
 *     after an upgrade runs the new code; restarted after a crash;
 *   - the socket on which the libvirt hook announces transient VMs;
 *   - the control socket, handed to each engine, which answers vpowerctl;
 *   - systemd's protocol: READY=1 once mounted and published, WATCHDOG=1
 *     from this main loop, RELOADING=1 and STOPPING=1.
 *
 * A hung engine (no publication for ENGINE_HANG_INTERVALS) is killed and
 * restarted here; systemd's watchdog only watches this process, because
 * killing it would cut every running guest's share.
 *
 * Stopping: the engine is stopped (it saves its counters), the mount is
 * detached from the host, and the process exits once no guest holds the
 * tree any more; until then those guests read their last values. */
#include "config.h"

#include "host/control/control.h"
#include "host/engine/engine-loop.h"
#include "shared/vp-fuse.h"
#include "host/fuse/holder.h"
#include "host/hook/hook-server.h"
#include "host/fuse/served-tree.h"
#include "host/snapshot/shm.h"
#include "shared/vp-sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* An engine that dies sooner than this after starting counts as crash-looping. */
#define ENGINE_HEALTHY_US (10 * G_USEC_PER_SEC)
#define ENGINE_BACKOFF_MAX_S 30.0
#define ENGINE_STOP_TIMEOUT_MS 15000
/* An engine that publishes nothing for this many intervals (and at least
 * ENGINE_HANG_MIN_S) is hung: it is killed, and restarted like a crash. */
#define ENGINE_HANG_INTERVALS 10
#define ENGINE_HANG_MIN_S 10.0
/* After detaching, how long the kernel may take to release an unused tree. */
#define DETACH_SETTLE_MS 300

typedef enum { HOLDER_STARTING, HOLDER_RUNNING, HOLDER_STOPPING, HOLDER_LINGERING } HolderPhase;

typedef struct {
  const VpConfig *config;
  const char *self_path;
  char **argv;
  VpReadyFunc ready;
  gpointer ready_data;

  GMainLoop *loop;
  HolderPhase phase;
  int exit_status;
  VpShm *shm;
  VpServedTree *served;
  VpFuse *fuse;
  VpHookServer *hook;
  int control_fd;               /* the control socket, listening; engines serve it */

  GPid engine_pid;              /* 0 when none runs */
  gint64 engine_started_us;
  guint engine_fast_crashes;
  guint64 engine_start_sequence; /* shm sequence when it started */
  gboolean engine_restart_wanted; /* SIGHUP: start again as soon as it exits */
  guint respawn_source;
  guint kill_source;
  guint watch_source;
  guint startup_source;
  guint engine_watch_source;
  guint64 seen_sequence;        /* the last publication on_engine_watch saw */
  gint64 seen_sequence_us;      /* when it was first seen */
  gboolean reloading;           /* SIGHUP: READY=1 again once the new engine published */
} Holder;

static VpTree *
get_served_tree (gpointer served)
{
  return vp_served_tree_get (served);
}

static void spawn_engine (Holder *holder);

static void
quit (Holder *holder, int status)
{
  holder->exit_status = status;
  g_main_loop_quit (holder->loop);
}

/* --- stopping --- */

static gboolean
on_settled (gpointer user_data)
{
  Holder *holder = user_data;
  if (holder->phase != HOLDER_STOPPING)
    return G_SOURCE_REMOVE;
  holder->phase = HOLDER_LINGERING;
  g_message ("the tree is detached from %s, but running guests still hold it: they keep reading their "
             "last values until they stop; vpowerd exits then (SIGTERM again to exit now, which "
             "breaks their shares until they restart)", holder->config->mount);
  return G_SOURCE_REMOVE;
}

static void
detach_mount (Holder *holder)
{
  vp_fuse_detach (holder->fuse);
  g_timeout_add (DETACH_SETTLE_MS, on_settled, holder);
}

static gboolean
on_fuse_finished (gpointer user_data)
{
  Holder *holder = user_data;
  if (holder->phase == HOLDER_STOPPING || holder->phase == HOLDER_LINGERING)
    {
      g_message ("unmounted %s; stopped", holder->config->mount);
      quit (holder, holder->exit_status);
      return G_SOURCE_REMOVE;
    }
  g_critical ("the tree at %s was unmounted by someone else; stopping", holder->config->mount);
  holder->phase = HOLDER_STOPPING;
  holder->exit_status = EXIT_FAILURE;
  if (holder->engine_pid)
    kill (holder->engine_pid, SIGTERM);
  else
    quit (holder, EXIT_FAILURE);
  return G_SOURCE_REMOVE;
}

static gboolean
on_engine_stop_timeout (gpointer user_data)
{
  Holder *holder = user_data;
  holder->kill_source = 0;
  if (holder->engine_pid)
    {
      g_warning ("the engine (pid %d) did not stop in %d s; killing it", holder->engine_pid,
                 ENGINE_STOP_TIMEOUT_MS / 1000);
      kill (holder->engine_pid, SIGKILL);
    }
  return G_SOURCE_REMOVE;
}

static void
stop_engine (Holder *holder)
{
  if (!holder->engine_pid)
    return;
  kill (holder->engine_pid, SIGTERM);
  if (!holder->kill_source)
    holder->kill_source = g_timeout_add (ENGINE_STOP_TIMEOUT_MS, on_engine_stop_timeout, holder);
}

static gboolean
on_stop_signal (gpointer user_data)
{
  Holder *holder = user_data;
  if (holder->phase == HOLDER_STOPPING || holder->phase == HOLDER_LINGERING)
    {
      g_message ("stopping now, as asked again; guests that still hold the tree lose it");
      if (holder->engine_pid)
        kill (holder->engine_pid, SIGKILL);
      quit (holder, holder->exit_status);
      return G_SOURCE_CONTINUE;
    }
  g_message ("stopping on signal");
  vp_sd_notify ("STOPPING=1\nSTATUS=stopping: saving the counters");
  holder->phase = HOLDER_STOPPING;
  g_clear_handle_id (&holder->respawn_source, g_source_remove);
  if (holder->engine_pid)
    stop_engine (holder);   /* the mount is detached once it has saved */
  else
    detach_mount (holder);
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: a new configuration, or a new binary after an upgrade, takes
 * effect by restarting the engine; the mount and running guests' shares
 * are not touched. */
static gboolean
on_sighup (gpointer user_data)
{
  Holder *holder = user_data;
  if (holder->phase != HOLDER_RUNNING)
    return G_SOURCE_CONTINUE;

  int argc = (int) g_strv_length (holder->argv);
  g_auto (GStrv) argv = g_strdupv (holder->argv);
  g_autofree char **borrowed = g_memdup2 (argv, sizeof (char *) * (argc + 1));
  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) fresh = vp_config_load (&argc, &borrowed, &error);
  if (!fresh)
    {
      g_warning ("SIGHUP: the new configuration is not valid, so the engine keeps the old one: %s",
                 error ? error->message : "no configuration");
      return G_SOURCE_CONTINUE;
    }
  if (g_strcmp0 (fresh->mount, holder->config->mount) != 0 || fresh->no_mount ||
      g_strcmp0 (fresh->runtime_dir, holder->config->runtime_dir) != 0)
    g_warning ("SIGHUP: 'mount', 'no-mount' and 'runtime-dir' only change when vpowerd restarts");
  g_message ("SIGHUP: restarting the engine with the configuration in %s", fresh->config_file);
  g_autofree char *reloading = g_strdup_printf ("RELOADING=1\nSTATUS=reloading: restarting the engine\n"
                                                "MONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  vp_sd_notify (reloading);
  holder->reloading = TRUE;
  g_clear_handle_id (&holder->respawn_source, g_source_remove);
  holder->engine_fast_crashes = 0;
  if (holder->engine_pid)
    {
      holder->engine_restart_wanted = TRUE;
      stop_engine (holder);
    }
  else
    spawn_engine (holder);
  return G_SOURCE_CONTINUE;
}

/* --- the engine process --- */

static gboolean
on_respawn (gpointer user_data)
{
  Holder *holder = user_data;
  holder->respawn_source = 0;
  spawn_engine (holder);
  return G_SOURCE_REMOVE;
}

static void
on_engine_exit (GPid pid, int status, gpointer user_data)
{
  Holder *holder = user_data;
  g_autofree char *how = WIFSIGNALED (status) ? g_strdup_printf ("was killed by signal %d", WTERMSIG (status))
                                              : g_strdup_printf ("exited with status %d", WEXITSTATUS (status));
  gboolean ran_healthy = g_get_monotonic_time () - holder->engine_started_us >= ENGINE_HEALTHY_US;
  g_spawn_close_pid (pid);
  holder->engine_pid = 0;
  holder->watch_source = 0;
  g_clear_handle_id (&holder->kill_source, g_source_remove);

  switch (holder->phase)
    {
    case HOLDER_STOPPING:
      g_message ("the engine %s", how);
      detach_mount (holder);
      return;
    case HOLDER_LINGERING:
      return;
    case HOLDER_STARTING:
      g_critical ("the engine %s before it published anything; see the messages above", how);
      holder->exit_status = EXIT_FAILURE;
      holder->phase = HOLDER_STOPPING;
      holder->ready (FALSE, holder->ready_data);
      detach_mount (holder);
      return;
    case HOLDER_RUNNING:
      break;
    }

  if (holder->engine_restart_wanted)
    {
      holder->engine_restart_wanted = FALSE;
      spawn_engine (holder);
      return;
    }
  holder->engine_fast_crashes = ran_healthy ? 0 : holder->engine_fast_crashes + 1;
  /* The first restart is immediate, so updates resume within an interval;
   * a crash loop backs off (0.5, 1, 2, ... 30 s) instead of spinning. */
  double delay_s = holder->engine_fast_crashes <= 1
                     ? 0 : MIN (ENGINE_BACKOFF_MAX_S, 0.5 * (1u << MIN (holder->engine_fast_crashes - 2, 10u)));
  g_autofree char *when = delay_s > 0 ? g_strdup_printf (" in %g s", delay_s) : g_strdup ("");
  g_warning ("the engine %s; the tree keeps serving the last values; restarting it%s", how, when);
  holder->respawn_source = g_timeout_add ((guint) (delay_s * 1000), on_respawn, holder);
}

static void
engine_child_setup (gpointer user_data)
{
  pid_t holder_pid = GPOINTER_TO_INT (user_data);
  /* The engine starts with the stop signals blocked (a mask survives exec), and takes them once
   * it handles them (engine-loop.c): a stop right after a start is then a clean stop, with the
   * counters saved, not a death by SIGTERM's default action while it loads. */
  sigset_t stop;
  vp_engine_stop_signals (&stop);
  sigprocmask (SIG_BLOCK, &stop, NULL);
  /* The engine must not outlive the holder: nothing could supervise it. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (getppid () != holder_pid)
    _exit (EXIT_FAILURE);
}

static void
spawn_engine (Holder *holder)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GError) error = NULL;
  int shm_fd = vp_shm_fd (holder->shm);
  /* The binary on disk, not this process's image: after an upgrade, the
   * new engine runs the new code. */
  g_strv_builder_add (builder, holder->self_path);
  for (char **arg = holder->argv + 1; *arg; arg++)
    g_strv_builder_add (builder, *arg);
  g_autofree char *fd_arg = g_strdup_printf ("--engine-fd=%d", shm_fd);
  g_autofree char *control_arg = g_strdup_printf ("--control-fd=%d", holder->control_fd);
  g_strv_builder_add (builder, fd_arg);
  g_strv_builder_add (builder, control_arg);
  g_auto (GStrv) argv = g_strv_builder_end (builder);

  /* The memfd and the control socket are close-on-exec for everything else
   * the holder starts. */
  int flags = fcntl (shm_fd, F_GETFD);
  int control_flags = fcntl (holder->control_fd, F_GETFD);
  fcntl (shm_fd, F_SETFD, flags & ~FD_CLOEXEC);
  fcntl (holder->control_fd, F_SETFD, control_flags & ~FD_CLOEXEC);
  GPid pid = 0;
  gboolean ok = g_spawn_async (NULL, argv, NULL,
                               G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_LEAVE_DESCRIPTORS_OPEN | G_SPAWN_CHILD_INHERITS_STDIN,
                               engine_child_setup, GINT_TO_POINTER (getpid ()), &pid, &error);
  fcntl (shm_fd, F_SETFD, flags | FD_CLOEXEC);
  fcntl (holder->control_fd, F_SETFD, control_flags | FD_CLOEXEC);
  if (!ok)
    {
      g_critical ("cannot start the engine %s: %s", holder->self_path, error->message);
      holder->engine_fast_crashes++;
      holder->respawn_source = g_timeout_add_seconds (5, on_respawn, holder);
      return;
    }
  holder->engine_pid = pid;
  holder->engine_started_us = g_get_monotonic_time ();
  holder->engine_start_sequence = vp_shm_sequence (holder->shm);
  holder->watch_source = g_child_watch_add (pid, on_engine_exit, holder);
  g_message ("engine started (pid %d)", pid);
}

/* systemd's STATUS= (and any state before it), saying what is served. */
static void
notify_serving (Holder *holder, const char *state, const char *suffix)
{
  g_autoptr (VpTree) tree = vp_served_tree_get (holder->served);
  g_autofree char *message = g_strdup_printf ("%sSTATUS=serving %u VMs under %s%s", state, vp_tree_n_vms (tree),
                                              holder->config->mount, suffix);
  vp_sd_notify (message);
}

/* Ready means: mounted, and the engine has published, so every defined
 * VM's directory exists before anyone relies on it. */
static gboolean
on_startup_poll (gpointer user_data)
{
  Holder *holder = user_data;
  if (holder->phase == HOLDER_STARTING && vp_shm_sequence (holder->shm) == holder->engine_start_sequence)
    return G_SOURCE_CONTINUE;
  holder->startup_source = 0;
  if (holder->phase != HOLDER_STARTING)
    return G_SOURCE_REMOVE;
  g_autoptr (VpTree) tree = vp_served_tree_get (holder->served);
  holder->phase = HOLDER_RUNNING;
  g_message ("serving %u VMs under %s", vp_tree_n_vms (tree), holder->config->mount);
  holder->ready (TRUE, holder->ready_data);
  notify_serving (holder, "", "");
  return G_SOURCE_REMOVE;
}

/* Once a second, the engine's publications: a reload ends (READY=1) at the
 * new engine's first; an engine with none for too long is hung. */
static gboolean
on_engine_watch (gpointer user_data)
{
  Holder *holder = user_data;
  guint64 sequence = vp_shm_sequence (holder->shm);
  gint64 now = g_get_monotonic_time ();
  if (sequence != holder->seen_sequence || !holder->engine_pid)
    {
      holder->seen_sequence = sequence;
      holder->seen_sequence_us = now;
    }
  if (holder->reloading && holder->engine_pid && sequence != holder->engine_start_sequence)
    {
      holder->reloading = FALSE;
      notify_serving (holder, "READY=1\n", " (reloaded)");
      g_message ("reloaded: the new engine (pid %d) publishes", holder->engine_pid);
    }
  double limit_s = MAX (ENGINE_HANG_MIN_S, ENGINE_HANG_INTERVALS * holder->config->interval_s);
  if (holder->phase == HOLDER_RUNNING && holder->engine_pid && !holder->kill_source &&
      now - holder->seen_sequence_us > limit_s * G_USEC_PER_SEC)
    {
      g_warning ("the engine (pid %d) has published nothing for %.0f s; killing it so that it restarts "
                 "(the tree keeps serving the last values)", holder->engine_pid, limit_s);
      kill (holder->engine_pid, SIGKILL);
      holder->seen_sequence_us = now;
    }
  return G_SOURCE_CONTINUE;
}

/* --- setting up --- */

/* One vpowerd per runtime directory: a second one would fight over the
 * mount point and the hook socket. The lock dies with the process. */
static int
take_lock (const char *runtime_dir, GError **error)
{
  g_autofree char *path = g_build_filename (runtime_dir, "vpowerd.lock", NULL);
  if (g_mkdir_with_parents (runtime_dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot create %s: %s", runtime_dir,
                   g_strerror (saved));
      return -1;
    }
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved = errno;
      g_autofree char *other = NULL;
      if (saved == EWOULDBLOCK && g_file_get_contents (path, &other, NULL, NULL))
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                     "another vpowerd (pid %s) already runs with %s", g_strstrip (other), path);
      else
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot lock %s: %s", path,
                     g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  g_autofree char *pid = g_strdup_printf ("%d\n", getpid ());
  if (ftruncate (fd, 0) != 0 || write (fd, pid, strlen (pid)) < 0)
    g_debug ("cannot write the pid into %s", path);
  return fd;
}

/* A mount point left over by a vpowerd that was killed answers ENOTCONN;
 * detaching it lets this one mount cleanly (its guests were already cut). */
static gboolean
prepare_mountpoint (const char *mountpoint, GError **error)
{
  struct stat st;
  if (stat (mountpoint, &st) != 0 && errno == ENOTCONN)
    {
      g_message ("%s is a stale mount of a vpowerd that is gone; detaching it", mountpoint);
      umount2 (mountpoint, MNT_DETACH);
    }
  if (g_mkdir_with_parents (mountpoint, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot create the mount point %s: %s",
                   mountpoint, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
on_announce (const char *name, const char *uuid, uid_t uid, gid_t gid, gpointer user_data)
{
  Holder *holder = user_data;
  vp_served_tree_announce (holder->served, name, uuid, uid, gid);
  g_message ("libvirt hook: %s (%s) is about to start; its directory is ready", name, uuid);
  return TRUE;
}

int
vp_holder_run (const VpConfig *config, const char *self_path, char **argv, VpReadyFunc ready,
               gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  Holder holder = {
    .config = config,
    .self_path = self_path,
    .argv = argv,
    .ready = ready,
    .ready_data = user_data,
    .phase = HOLDER_STARTING,
    .exit_status = EXIT_SUCCESS,
    .control_fd = -1,
  };
  g_autofree char *control_path = g_build_filename (config->runtime_dir, VP_CONTROL_SOCKET_NAME, NULL);

  int lock_fd = take_lock (config->runtime_dir, &error);
  if (lock_fd < 0 || !prepare_mountpoint (config->mount, &error) ||
      !(holder.shm = vp_shm_create (&error)) ||
      (holder.control_fd = vp_control_listen (control_path, TRUE, &error)) < 0)
    {
      g_critical ("%s", error->message);
      ready (FALSE, user_data);
      g_clear_pointer (&holder.shm, vp_shm_free);
      if (lock_fd >= 0)
        close (lock_fd);
      return EXIT_FAILURE;
    }
  holder.loop = g_main_loop_new (NULL, FALSE);
  holder.served = vp_served_tree_new (holder.shm);
  holder.fuse = vp_fuse_mount (config->mount, get_served_tree, holder.served, on_fuse_finished,
                               &holder, &error);
  g_autofree char *hook_path = g_build_filename (config->runtime_dir, VP_HOOK_SOCKET_NAME, NULL);
  if (holder.fuse)
    holder.hook = vp_hook_server_new (hook_path, on_announce, &holder, &error);
  if (!holder.fuse || !holder.hook)
    {
      g_critical ("%s", error->message);
      ready (FALSE, user_data);
      holder.exit_status = EXIT_FAILURE;
    }
  else
    {
      g_message ("mounted the per-VM trees on %s; libvirt hook socket %s; control socket %s", config->mount,
                 hook_path, control_path);
      guint sources[] = {
        g_unix_signal_add (SIGTERM, on_stop_signal, &holder),
        g_unix_signal_add (SIGINT, on_stop_signal, &holder),
        g_unix_signal_add (SIGHUP, on_sighup, &holder),
        vp_sd_watchdog_start (),
      };
      holder.engine_watch_source = g_timeout_add_seconds (1, on_engine_watch, &holder);
      holder.startup_source = g_timeout_add (50, on_startup_poll, &holder);
      spawn_engine (&holder);
      g_main_loop_run (holder.loop);
      for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
        g_clear_handle_id (&sources[i], g_source_remove);
      g_clear_handle_id (&holder.engine_watch_source, g_source_remove);
    }

  if (holder.engine_pid)
    {
      kill (holder.engine_pid, SIGKILL);
      g_clear_handle_id (&holder.watch_source, g_source_remove);
      waitpid (holder.engine_pid, NULL, 0);
    }
  g_clear_handle_id (&holder.respawn_source, g_source_remove);
  g_clear_handle_id (&holder.kill_source, g_source_remove);
  g_clear_handle_id (&holder.startup_source, g_source_remove);
  vp_hook_server_free (holder.hook);
  g_unlink (hook_path);
  close (holder.control_fd);
  g_unlink (control_path);
  if (holder.fuse)
    {
      vp_fuse_detach (holder.fuse);
      for (int waited_ms = 0; !vp_fuse_finished (holder.fuse) && waited_ms < DETACH_SETTLE_MS; waited_ms += 10)
        g_usleep (10000);
    }
  if (holder.fuse && !vp_fuse_finished (holder.fuse))
    {
      /* Stopping while guests still hold the tree: FUSE threads are still
       * serving from the structures below, so leave without freeing them;
       * closing the device at exit aborts the connection. */
      _exit (holder.exit_status);
    }
  vp_fuse_free (holder.fuse);
  vp_served_tree_free (holder.served);
  vp_shm_free (holder.shm);
  g_main_loop_unref (holder.loop);
  close (lock_fd);
  return holder.exit_status;
}
