/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the virtio-serial port org.vpower.0: reading the host's messages into the guest's own tree.
 *
 * One thread owns the port. It never gives up: with no host connected a
 * virtio port reads 0 at once (real-components.md), and a port that is
 * not there yet may be hot-plugged, so both are waited out. Readers of the
 * tree never wait on it: they get the last tree built, which holds the
 * last good values while no message arrives (engine down, a migration's
 * switchover, a save). */
#include "config.h"

#include "guest/channel.h"
#include "guest/follow.h"
#include "shared/vp-channel.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <unistd.h>

#define NO_HOST_RETRY_MS 250
#define NO_PORT_RETRY_MS 1000
/* Refusals are logged once, then at most once a minute with a count. */
#define REFUSAL_LOG_EVERY_US (60 * G_USEC_PER_SEC)

typedef struct {
  guint64 messages;        /* applied */
  guint64 refused;         /* damaged, malformed or replayed */
  guint64 origin_changes;  /* host id or epoch changed (vp_follower_origin_changes) */
  gboolean connected;      /* the host was there at the last read */
  gint64 last_message_us;  /* g_get_real_time() of the last applied message, 0: none */
} VpGuestChannelStats;

struct _VpGuestChannel {
  char *device;               /* NULL: find the port */
  char *ports_dir;
  char *devices_dir;
  char *status_file;
  GThread *thread;
  int stop_pipe[2];

  /* Owned by the thread. */
  VpChannelParser *parser;
  VpFollower *follower;
  VpTreeIds *ids;
  gint64 last_refusal_log_us;
  guint64 refusals_unlogged;

  GMutex lock;                /* guards the fields below */
  VpTree *tree;
  VpGuestChannelStats stats;
};

char *
vp_guest_channel_find_port (const char *ports_dir)
{
  g_autoptr (GDir) dir = g_dir_open (ports_dir, 0, NULL);
  const char *port;
  while (dir && (port = g_dir_read_name (dir)))
    {
      g_autofree char *name_path = g_build_filename (ports_dir, port, "name", NULL);
      g_autofree char *name = NULL;
      if (g_file_get_contents (name_path, &name, NULL, NULL) && g_str_equal (g_strchomp (name), VP_CHANNEL_PORT_NAME))
        return g_build_filename ("/dev", port, NULL);
    }
  return NULL;
}

gboolean
vp_guest_has_virtio_serial (const char *devices_dir)
{
  g_autoptr (GDir) dir = g_dir_open (devices_dir, 0, NULL);
  const char *entry;
  while (dir && (entry = g_dir_read_name (dir)))
    {
      /* The virtio bus shows each device's ID as "0x%04x" (drivers/virtio/virtio.c); the console,
       * with its multiport virtio-serial, is 3 (include/uapi/linux/virtio_ids.h). */
      g_autofree char *path = g_build_filename (devices_dir, entry, "device", NULL);
      g_autofree char *id = NULL;
      if (g_file_get_contents (path, &id, NULL, NULL) && g_str_equal (g_strstrip (id), "0x0003"))
        return TRUE;
    }
  return FALSE;
}

char *
vp_guest_channel_missing_advice (const char *ports_dir, const char *devices_dir)
{
  g_autoptr (GString) ports = g_string_new (NULL);
  g_autoptr (GDir) dir = g_dir_open (ports_dir, 0, NULL);
  const char *port;
  while (dir && (port = g_dir_read_name (dir)))
    {
      g_autofree char *name_path = g_build_filename (ports_dir, port, "name", NULL);
      g_autofree char *name = NULL;
      if (g_file_get_contents (name_path, &name, NULL, NULL) && *g_strstrip (name))
        g_string_append_printf (ports, "%s%s", ports->len ? ", " : "", name);
    }
  if (vp_guest_has_virtio_serial (devices_dir))
    return g_strdup_printf (
      "This VM has a virtio-serial controller (ports: %s), so the host can plug the port " VP_CHANNEL_PORT_NAME
      " into it while it runs: on a libvirt host, vpowerd does so within seconds of the VM's start, unless "
      "vpowerd is not running there, runs with wire = off, or this VM is opted out or excluded (`vpowerctl show "
      "VM` on the host says which). On Proxmox VE, Incus, LXD and Ganeti the operator adds it to the VM's "
      "configuration (`vpowerctl wiring --all`) and restarts the VM once",
      ports->len ? ports->str : "none yet");
  return g_strdup (
    "This VM has no virtio-serial controller, and none can be added while it runs: the host's operator must "
    "add the channel " VP_CHANNEL_PORT_NAME " to its definition and restart it once (on libvirt: `vpowerctl "
    "attach VM --channel --config`, or wire = define in vpowerd.conf; OpenStack: the image property "
    "hw_qemu_guest_agent=yes gives instances the controller, and vpowerd then plugs the port; Proxmox VE, "
    "Incus, LXD, Ganeti: `vpowerctl wiring --all`). `vpowerctl show VM` on the host says what applies");
}

/* Sleeps up to ms, or less when asked to stop. Returns TRUE to go on. */
static gboolean
wait_or_stop (VpGuestChannel *channel, int ms)
{
  struct pollfd stop = { .fd = channel->stop_pipe[0], .events = POLLIN };
  return poll (&stop, 1, ms) == 0;
}

static void
write_status (VpGuestChannel *channel, const VpGuestChannelStats *stats)
{
  if (!channel->status_file)
    return;
  g_autofree char *text = g_strdup_printf (
    "messages %" G_GUINT64_FORMAT "\nrefused %" G_GUINT64_FORMAT "\norigin_changes %" G_GUINT64_FORMAT
    "\nconnected %d\nlast_message_us %" G_GINT64_FORMAT "\n",
    stats->messages, stats->refused, stats->origin_changes, stats->connected ? 1 : 0, stats->last_message_us);
  g_autoptr (GError) error = NULL;
  if (!g_file_set_contents (channel->status_file, text, -1, &error))
    g_debug ("channel: %s", error->message);
}

static void
note_refusal (VpGuestChannel *channel, const GError *error)
{
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&channel->lock);
  channel->stats.refused++;
  g_mutex_unlock (&channel->lock);
  if (channel->last_refusal_log_us == 0 || now - channel->last_refusal_log_us >= REFUSAL_LOG_EVERY_US)
    {
      if (channel->refusals_unlogged > 0)
        g_warning ("%s (and %" G_GUINT64_FORMAT " more refused since the last report)", error->message,
                   channel->refusals_unlogged);
      else
        g_warning ("%s; the tree keeps its last good values", error->message);
      channel->last_refusal_log_us = now;
      channel->refusals_unlogged = 0;
    }
  else
    channel->refusals_unlogged++;
}

static void
take_messages (VpGuestChannel *channel)
{
  gboolean changed = FALSE, refused = FALSE;
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (VpChannelMessage) message = vp_channel_parser_next (channel->parser, &error);
      if (!error && !message)
        break;
      if (!error && vp_follower_apply (channel->follower, message, &error))
        changed = TRUE;
      else
        {
          note_refusal (channel, error);
          refused = TRUE;
        }
    }
  if (!changed)
    {
      if (refused)
        {
          g_mutex_lock (&channel->lock);
          VpGuestChannelStats stats = channel->stats;
          g_mutex_unlock (&channel->lock);
          write_status (channel, &stats);
        }
      return;
    }

  g_autoptr (VpPublication) publication = vp_follower_publication (channel->follower);
  VpTree *tree = vp_tree_build_vm_root (channel->ids, publication);
  VpGuestChannelStats stats;
  g_mutex_lock (&channel->lock);
  gboolean first = channel->stats.messages == 0;
  VpTree *old = channel->tree;
  channel->tree = tree;
  channel->stats.messages++;
  channel->stats.origin_changes = vp_follower_origin_changes (channel->follower);
  channel->stats.last_message_us = g_get_real_time ();
  stats = channel->stats;
  g_mutex_unlock (&channel->lock);
  vp_tree_unref (old);
  if (first)
    g_message ("channel: the first message from the host arrived (zones: %u)", publication->n_zones);
  write_status (channel, &stats);
}

static void
set_connected (VpGuestChannel *channel, gboolean connected)
{
  g_mutex_lock (&channel->lock);
  gboolean was = channel->stats.connected;
  channel->stats.connected = connected;
  VpGuestChannelStats stats = channel->stats;
  g_mutex_unlock (&channel->lock);
  if (was != connected)
    {
      if (connected)
        g_message ("channel: the host is connected");
      else
        g_message ("channel: no host on the port (engine down, or the VM is moving); serving the last values");
      write_status (channel, &stats);
    }
}

static int
open_port (VpGuestChannel *channel, gboolean *reported_missing)
{
  g_autofree char *path = channel->device ? g_strdup (channel->device) : vp_guest_channel_find_port (channel->ports_dir);
  if (!path)
    {
      if (!*reported_missing)
        {
          g_autofree char *advice = vp_guest_channel_missing_advice (channel->ports_dir, channel->devices_dir);
          g_message ("channel: no port named %s yet (%s). %s. Waiting for it", VP_CHANNEL_PORT_NAME,
                     channel->ports_dir, advice);
        }
      *reported_missing = TRUE;
      return -1;
    }
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      if (!*reported_missing)
        g_warning ("channel: cannot open %s: %s; retrying", path, g_strerror (errno));
      *reported_missing = TRUE;
      return -1;
    }
  *reported_missing = FALSE;
  g_message ("channel: reading the host's counters from %s", path);
  return fd;
}

static gpointer
read_thread (gpointer data)
{
  VpGuestChannel *channel = data;
  gboolean reported_missing = FALSE;
  int fd = -1;
  char buffer[4096];

  for (;;)
    {
      if (fd < 0)
        {
          fd = open_port (channel, &reported_missing);
          if (fd < 0)
            {
              if (!wait_or_stop (channel, NO_PORT_RETRY_MS))
                break;
              continue;
            }
        }
      struct pollfd fds[2] = { { .fd = fd, .events = POLLIN }, { .fd = channel->stop_pipe[0], .events = POLLIN } };
      if (poll (fds, 2, 1000) < 0 && errno != EINTR)
        break;
      if (fds[1].revents)
        break;
      if (!fds[0].revents)
        continue;
      gssize n = read (fd, buffer, sizeof buffer);
      if (n > 0)
        {
          set_connected (channel, TRUE);
          vp_channel_parser_feed (channel->parser, buffer, (gsize) n);
          take_messages (channel);
        }
      else if (n == 0 || errno == EAGAIN || errno == EINTR)
        {
          /* No host on the other end: a partial message will never end. */
          if (n == 0)
            {
              set_connected (channel, FALSE);
              vp_channel_parser_reset (channel->parser);
            }
          if (!wait_or_stop (channel, NO_HOST_RETRY_MS))
            break;
        }
      else
        {
          g_warning ("channel: reading the port failed: %s; opening it again", g_strerror (errno));
          set_connected (channel, FALSE);
          vp_channel_parser_reset (channel->parser);
          close (fd);
          fd = -1;
          if (!wait_or_stop (channel, NO_PORT_RETRY_MS))
            break;
        }
    }
  if (fd >= 0)
    close (fd);
  return NULL;
}

VpGuestChannel *
vp_guest_channel_start (const char *device, const char *ports_dir, const char *devices_dir, const char *status_file)
{
  VpGuestChannel *channel = g_new0 (VpGuestChannel, 1);
  channel->device = g_strdup (device);
  channel->ports_dir = g_strdup (ports_dir ? ports_dir : VP_VIRTIO_PORTS_DIR);
  channel->devices_dir = g_strdup (devices_dir ? devices_dir : VP_VIRTIO_DEVICES_DIR);
  channel->status_file = g_strdup (status_file);
  channel->parser = vp_channel_parser_new ();
  channel->follower = vp_follower_new ();
  channel->ids = vp_tree_ids_new ();
  g_mutex_init (&channel->lock);
  channel->tree = vp_tree_build_vm_root (channel->ids, NULL);
  if (!g_unix_open_pipe (channel->stop_pipe, FD_CLOEXEC, NULL))
    g_error ("cannot create a pipe");
  write_status (channel, &channel->stats);
  channel->thread = g_thread_new ("channel", read_thread, channel);
  return channel;
}

void
vp_guest_channel_stop (VpGuestChannel *channel)
{
  if (!channel)
    return;
  if (write (channel->stop_pipe[1], "x", 1) < 0)
    g_warning ("channel: cannot wake the reader: %s", g_strerror (errno));
  g_thread_join (channel->thread);
  close (channel->stop_pipe[0]);
  close (channel->stop_pipe[1]);
  vp_tree_unref (channel->tree);
  vp_tree_ids_free (channel->ids);
  vp_follower_free (channel->follower);
  vp_channel_parser_free (channel->parser);
  g_mutex_clear (&channel->lock);
  g_free (channel->device);
  g_free (channel->ports_dir);
  g_free (channel->devices_dir);
  g_free (channel->status_file);
  g_free (channel);
}

VpTree *
vp_guest_channel_tree (gpointer data)
{
  VpGuestChannel *channel = data;
  g_mutex_lock (&channel->lock);
  VpTree *tree = vp_tree_ref (channel->tree);
  g_mutex_unlock (&channel->lock);
  return tree;
}
