/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the host daemon's entry point: options, logging, daemonising, and which role to run. */
#include "config.h"

#include "host/conf.h"
#include "host/engine/engine.h"
#include "host/engine/engine-loop.h"
#include "host/fuse/holder.h"
#include "shared/vp-log.h"
#include "shared/vp-sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_CONFIG 2

static int
run_once (const VpConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VpEngine) engine = vp_engine_new (config, FALSE, 0, &error);
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

static void
ignore_ready (gboolean ok, gpointer user_data)
{
}

/* The unit protects vpowerd from the OOM killer (OOMScoreAdjust=-1000),
 * which the engine inherits. The engine is the one that may be sacrificed:
 * it is restarted and resumes from its state, while losing the holder cuts
 * every running guest's share. Raising one's own score needs no privilege. */
static void
give_up_oom_protection (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/oom_score_adj", &text, NULL, NULL) || atoi (text) >= 0)
    return;
  /* Not g_file_set_contents: /proc files cannot be replaced by a rename. */
  int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  gboolean done = fd >= 0 && write (fd, "0", 1) == 1;
  if (fd >= 0)
    close (fd);
  if (done)
    g_debug ("oom_score_adj raised from %d to 0: the engine can be restarted, the holder cannot", atoi (text));
}

/* The engine, started by the mount holder with the shared memory's fd. It
 * logs like the holder (syslog unless --foreground), never detaches, and
 * dies with the holder (host/fuse/holder.c). */
static int
run_engine_process (const VpConfig *config)
{
  g_autoptr (GError) error = NULL;
  if (config->foreground)
    vp_log_init ("vpowerd-engine");
  else
    vp_log_use_syslog ("vpowerd-engine");
  give_up_oom_protection ();
  g_autoptr (VpShm) shm = vp_shm_attach (config->engine_fd, &error);
  if (!shm)
    {
      g_critical ("%s", error->message);
      return EXIT_FAILURE;
    }
  return vp_engine_run (config, shm, ignore_ready, NULL);
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

/* Ready: tells systemd (Type=notify) or the parent that daemonize() left
 * waiting. Called once the tree is mounted and has its first snapshot. */
static void
report_ready (gboolean ok, gpointer user_data)
{
  int *ready_fd = user_data;
  char status = ok ? 0 : 1;
  if (ok)
    vp_sd_notify ("READY=1");
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

/* The /proc CPU-time source holds a file per VM thread (issue 24): thousands at 1000 VMs, past
 * the soft limit of 1024 that systemd sets. Its hard limit (524288) is there for programs that need
 * more and use no select(); vpowerd polls with poll() and epoll only. */
static void
raise_open_file_limit (void)
{
  struct rlimit limit;
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  rlim_t soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
    g_debug ("open files: soft limit raised from %llu to %llu", (unsigned long long) soft,
             (unsigned long long) limit.rlim_max);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ready_fd = -1;

  setlocale (LC_ALL, "");
  vp_log_init ("vpowerd");

  /* Kept whole: the holder starts the engine with the same arguments. */
  g_auto (GStrv) original_argv = g_strdupv (argv);
  g_autoptr (VpConfig) config = vp_config_load (&argc, &argv, &error);
  if (!config)
    {
      if (!error)
        return EXIT_SUCCESS;   /* --help or --version */
      g_printerr ("vpowerd: %s\n", error->message);
      return EXIT_CONFIG;
    }
  vp_log_set_verbose (config->verbose);
  raise_open_file_limit ();

  /* The engine first: `once` in the config file must not turn every
   * engine the holder starts into a one-shot run. */
  if (config->engine_fd >= 0)
    return run_engine_process (config);
  if (config->once)
    return run_once (config);

  if (!config->foreground)
    {
      if (daemonize (&ready_fd) != 0)
        {
          g_printerr ("vpowerd: cannot start in the background: %s\n", g_strerror (errno));
          return EXIT_FAILURE;
        }
      vp_log_use_syslog ("vpowerd");
    }

  g_message ("vpowerd %s starting: inventory %s, policy %s, topology %s, interval %g s, state in %s, %s",
             PACKAGE_VERSION, g_str_equal (config->inventory, "libvirt")  ? config->connect
             : g_str_equal (config->inventory, "auto") ? "auto (libvirt where it answers, QEMU processes)"
                                                       : config->inventory,
             vp_policy_to_string (config->policy), vp_topology_to_string (config->topology),
             config->interval_s, config->state_dir, config->no_mount ? "no mount" : config->mount);

  if (config->no_mount)
    return vp_engine_run (config, NULL, report_ready, &ready_fd);

  /* The engine process is this same binary, started again by the holder
   * from the path it was started by (see host/fuse/holder.c). */
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  if (!self_path || g_str_has_suffix (self_path, " (deleted)"))
    {
      g_free (self_path);
      self_path = g_strdup (original_argv[0]);
    }
  return vp_holder_run (config, self_path, original_argv, report_ready, &ready_fd);
}
