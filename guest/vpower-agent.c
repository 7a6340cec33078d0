/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the guest agent's entry point: options, logging, and the
 * commands mount, umount, once and top (serve is guest/serve.c; mount over
 * the channel is guest/vpower-agent-tree.c, which this execs). */
#include "config.h"

#include "guest/agent-conf.h"
#include "guest/render.h"
#include "guest/serve.h"
#include "guest/share.h"
#include "guest/channel.h"
#include "shared/vp-channel.h"
#include "shared/vp-sdnotify.h"
#include "shared/vp-error.h"
#include "shared/vp-log.h"

#include <errno.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EXIT_CONFIG 2
#define CLEAR_SCREEN "\033[H\033[2J"

/* The channel when the VM has the port (it migrates, saves and hot-plugs;
 * 9p and virtiofs do not on QEMU 7.2), else a share. */
static gboolean
use_channel (const VpAgentConfig *config)
{
  if (config->transport != VP_TRANSPORT_AUTO)
    return config->transport == VP_TRANSPORT_CHANNEL;
  if (config->channel_device)
    return TRUE;
  g_autofree char *port = vp_guest_channel_find_port (config->virtio_ports);
  return port != NULL;
}

/* The channel's tree server: beside this program (a build tree, or a guest
 * image that ships both in one directory), else where make install put it. */
static char *
tree_server_path (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : NULL;
  g_autofree char *sibling = dir ? g_build_filename (dir, "vpower-agent-tree", NULL) : NULL;
  if (sibling && g_file_test (sibling, G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&sibling);
  return g_strdup (PKGLIBEXECDIR "/vpower-agent-tree");
}

/* Serves the channel's tree: exec, not spawn, so that the PID stays the one systemd started
 * (Type=notify). */
static int
exec_tree_server (char **original_argv)
{
  g_autofree char *server = tree_server_path ();
  g_free (original_argv[0]);
  original_argv[0] = g_strdup (server);
  execv (server, original_argv);
  g_critical ("cannot run the channel's tree server %s: %s", server, g_strerror (errno));
  return EXIT_FAILURE;
}

static int
run_mount (const VpAgentConfig *config, char **original_argv)
{
  g_autoptr (GError) error = NULL;
  if (use_channel (config))
    return exec_tree_server (original_argv);
  if (vp_share_mount (config, &error))
    {
      /* Under a Type=notify unit, the share is up: this process is done. */
      vp_sd_notify ("READY=1");
      return EXIT_SUCCESS;
    }
  gboolean missing = g_error_matches (error, VP_ERROR, VP_ERROR_SHARE_MISSING);
  /* Neither the port nor a share, but a controller: vpowerd plugs the port into a running VM
   * that has one (issue 30), maybe only after this VM booted. Serve the channel's tree and wait. */
  if (missing && config->transport == VP_TRANSPORT_AUTO && !config->channel_device &&
      vp_guest_has_virtio_serial (config->virtio_devices))
    {
      g_message ("no share and no channel port yet: serving the channel's tree, empty until the port is plugged");
      return exec_tree_server (original_argv);
    }
  g_critical ("%s", error->message);
  if (missing)
    {
      /* Say what the operator has to do, and show the share's XML, ready to paste. */
      g_autofree char *advice = vp_guest_channel_missing_advice (config->virtio_ports, config->virtio_devices);
      g_printerr ("vpower-agent: the channel (%s): %s.\n", VP_CHANNEL_PORT_NAME, advice);
      g_autofree char *xml = vp_share_libvirt_xml (config->tag);
      fputs (xml, stdout);
    }
  return EXIT_FAILURE;
}

static int
run_umount (const VpAgentConfig *config)
{
  g_autoptr (GError) error = NULL;
  if (vp_share_umount (config, &error))
    return EXIT_SUCCESS;
  g_critical ("%s", error->message);
  return EXIT_FAILURE;
}

static void
print_view (VpSampler *sampler, VpViewRender render)
{
  gsize length = 0;
  g_autofree char *text = vp_sampler_render (sampler, FALSE, render, &length);
  fwrite (text, 1, length, stdout);
  fflush (stdout);
}

/* once: two samples one interval apart. Exit 1 when the tree was not readable. */
static int
run_once (const VpAgentConfig *config)
{
  g_autoptr (VpSampler) sampler = vp_sampler_new (vp_agent_config_root (config), config->proc_root, config->top);
  vp_sampler_sample (sampler);
  g_usleep ((gulong) (config->interval_s * G_USEC_PER_SEC));
  vp_sampler_sample (sampler);
  print_view (sampler, config->json ? vp_render_json : vp_render_text);
  return vp_sampler_up (sampler) ? EXIT_SUCCESS : EXIT_FAILURE;
}

typedef struct {
  VpSampler *sampler;
  GMainLoop *loop;
  guint remaining;      /* refreshes left; 0 = until interrupted */
  gboolean clear;
} Top;

static gboolean
on_top_tick (gpointer data)
{
  Top *top = data;
  vp_sampler_sample (top->sampler);
  if (top->clear)
    fputs (CLEAR_SCREEN, stdout);
  else
    fputs ("\n", stdout);
  print_view (top->sampler, vp_render_text);
  if (top->remaining > 0 && --top->remaining == 0)
    {
      g_main_loop_quit (top->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_top_stop (gpointer data)
{
  g_main_loop_quit (((Top *) data)->loop);
  return G_SOURCE_CONTINUE;
}

/* top: a screen per interval, cleared when stdout is a terminal. */
static int
run_top (const VpAgentConfig *config)
{
  g_autoptr (VpSampler) sampler = vp_sampler_new (vp_agent_config_root (config), config->proc_root, config->top);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Top top = { .sampler = sampler, .loop = loop, .remaining = config->count, .clear = isatty (STDOUT_FILENO) };

  vp_sampler_sample (sampler);
  if (top.clear)
    printf (CLEAR_SCREEN "vpower-agent: measuring for %g s...\n", config->interval_s);
  fflush (stdout);
  guint timer = g_timeout_add ((guint) (config->interval_s * 1000), on_top_tick, &top);
  guint sigint = g_unix_signal_add (SIGINT, on_top_stop, &top);
  guint sigterm = g_unix_signal_add (SIGTERM, on_top_stop, &top);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (config->count == 0 || top.remaining > 0)
    g_source_remove (timer);
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  vp_log_init ("vpower-agent");
  /* Kept whole: serve parses it again on SIGHUP. */
  g_auto (GStrv) original_argv = g_strdupv (argv);
  int original_argc = argc;
  g_autoptr (VpAgentConfig) config = vp_agent_config_load (&argc, &argv, &error);
  if (!config)
    {
      if (!error)
        return EXIT_SUCCESS;   /* --help or --version */
      g_printerr ("vpower-agent: %s\n", error->message);
      return EXIT_CONFIG;
    }
  vp_log_set_verbose (config->verbose);

  if (g_str_equal (config->command, "mount"))
    return run_mount (config, original_argv);
  if (g_str_equal (config->command, "umount"))
    return run_umount (config);
  if (g_str_equal (config->command, "once"))
    return run_once (config);
  if (g_str_equal (config->command, "top"))
    return run_top (config);
  return vp_serve_run (g_steal_pointer (&config), original_argc, original_argv);
}
