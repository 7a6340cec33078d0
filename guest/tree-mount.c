/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent mount over the channel: the agent serves the VM's tree itself until stopped.
 *
 * A share (9p, virtiofs) is served by the host, so mounting it is one
 * system call. The channel only carries numbers: the tree they make needs
 * a process, this one. It uses the same tree model and FUSE adapter as
 * vpowerd's mount (shared/vp-tree.c, shared/vp-fuse.c), so the layout,
 * modes and read semantics are the host's by construction. The mount
 * appears at once, empty until the first message (never zeros). */
#include "config.h"

#include "guest/channel.h"
#include "guest/share.h"
#include "guest/tree-mount.h"
#include "shared/vp-fuse.h"
#include "shared/vp-sdnotify.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>

/* After a stop, how long readers holding files may keep the tree alive. */
#define DRAIN_TIMEOUT_MS 5000

typedef struct {
  const VpAgentConfig *config;
  GMainLoop *loop;
  VpFuse *fuse;
  gboolean stopping;
} TreeMount;

static gboolean
on_fuse_finished (gpointer data)
{
  TreeMount *mount = data;
  if (!mount->stopping)
    g_message ("the tree was unmounted; stopping");
  g_main_loop_quit (mount->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_drain_timeout (gpointer data)
{
  g_warning ("files of the tree are still open after %d s; exiting anyway", DRAIN_TIMEOUT_MS / 1000);
  g_main_loop_quit (((TreeMount *) data)->loop);
  return G_SOURCE_REMOVE;
}

/* Unbinds sysfs and unmounts the tree; serving ends once the kernel lets
 * go of it, when no reader holds a file any more. */
static void
stop (TreeMount *mount)
{
  if (mount->stopping)
    return;
  mount->stopping = TRUE;
  g_message ("stopping: unmounting the tree");
  vp_sd_notify ("STOPPING=1");
  g_autoptr (GError) error = NULL;
  /* The sysfs bind first, then the tree (a lazy unmount if files are open). */
  if (!vp_share_umount (mount->config, &error))
    {
      g_warning ("%s", error->message);
      vp_fuse_detach (mount->fuse);
    }
  g_timeout_add (DRAIN_TIMEOUT_MS, on_drain_timeout, mount);
}

static gboolean
on_stop_signal (gpointer data)
{
  stop (data);
  return G_SOURCE_CONTINUE;
}

int
vp_tree_mount_run (const VpAgentConfig *config)
{
  g_autoptr (GError) error = NULL;
  if (g_mkdir_with_parents (config->mount, 0755) != 0 || g_mkdir_with_parents (config->runtime_dir, 0755) != 0)
    {
      g_critical ("cannot create %s or %s: %s", config->mount, config->runtime_dir, g_strerror (errno));
      return EXIT_FAILURE;
    }
  g_autofree char *status_file = g_build_filename (config->runtime_dir, "channel.status", NULL);
  g_autoptr (VpGuestChannel) channel = vp_guest_channel_start (config->channel_device, config->virtio_ports, config->virtio_devices,
                                                              status_file);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  TreeMount mount = { .config = config, .loop = loop };
  mount.fuse = vp_fuse_mount (config->mount, vp_guest_channel_tree, channel, on_fuse_finished, &mount, &error);
  if (!mount.fuse)
    {
      g_critical ("%s", error->message);
      return EXIT_FAILURE;
    }
  g_message ("serving the host's counters from the channel at %s (read-only)", config->mount);
  guint sigterm = g_unix_signal_add (SIGTERM, on_stop_signal, &mount);
  guint sigint = g_unix_signal_add (SIGINT, on_stop_signal, &mount);
  int status = EXIT_SUCCESS;
  if (config->bind_sysfs && !vp_share_bind_sysfs (config, &error))
    {
      g_critical ("%s", error->message);
      status = EXIT_FAILURE;
      stop (&mount);
    }
  else
    vp_sd_notify ("READY=1");

  g_main_loop_run (loop);
  g_source_remove (sigterm);
  g_source_remove (sigint);
  /* A tree some reader still holds is left to the kernel at exit. */
  if (vp_fuse_finished (mount.fuse))
    vp_fuse_free (mount.fuse);
  return status;
}
