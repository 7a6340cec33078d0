/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the virtio-serial channels: each tick, every connected VM's whole state, never waiting on a guest.
 *
 * QEMU listens on the channel's unix socket (libvirt picks its path at
 * every start, restore and incoming migration; the inventory reads it from
 * the live XML) and forwards what we write to the guest's port. The guest
 * is not trusted and never waited on:
 * - Sockets are non-blocking, and a message that does not fit now is
 *   dropped: a guest that does not read misses messages, nothing more. The
 *   send buffer is kept small, so a guest that starts reading late gets a
 *   few stale messages, not minutes of them.
 * - What the guest writes is read, at most DRAIN_LIMIT bytes per tick, and
 *   thrown away: only to notice a closed socket.
 * - A socket that is missing, refuses or resets is closed and tried again
 *   with a backoff; the first failure of a streak is logged, not every one.
 * Each message is the VM's whole state, so losing any of them (around a
 * switchover, a save, a full socket) loses nothing for good. */
#include "config.h"

#include "host/channel/channel.h"
#include "host/inventory/foreign-root.h"
#include "host/inventory/inventory.h"
#include "shared/vp-channel.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000
#define DRAIN_LIMIT 4096
#define SEND_BUFFER_BYTES 16384

typedef struct {
  char *uuid;
  char *name;
  char *path;                 /* the socket, as the inventory last gave it */
  int peer_pid;               /* not 0: the process that must be listening on it */
  int root_pid;               /* not 0: path is inside this process's root (VpVmInfo.channel_root_pid) */
  int fd;                     /* -1 while not connected */
  gint64 retry_at_us;
  guint retry_ms;
  gboolean failure_logged;    /* this streak's failure was logged */
  guint64 seen_tick;
} Link;

struct _VpChannels {
  char *host_id;
  guint64 run;                /* per engine process: the guest orders messages by (run, seq) */
  /* One sequence for all the run's messages, so a VM's link can be dropped
   * (stopped, saved) and made again without its seq starting over. */
  guint64 seq;
  GHashTable *links;          /* uuid -> Link */
  GString *message;
  GArray *polls;              /* struct pollfd, per tick: who wrote or hung up */
  GPtrArray *polled;          /* Link*, parallel to polls */
  guint64 tick;
  VpChannelStats stats;
};

static void
link_close (Link *link)
{
  if (link->fd >= 0)
    close (link->fd);
  link->fd = -1;
}

static void
link_free (gpointer data)
{
  Link *link = data;
  link_close (link);
  g_free (link->uuid);
  g_free (link->name);
  g_free (link->path);
  g_free (link);
}

/* /etc/machine-id is stable across reboots and unique per host; a host
 * name is the fallback (containers without one). */
static char *
default_host_id (void)
{
  g_autofree char *machine_id = NULL;
  if (g_file_get_contents ("/etc/machine-id", &machine_id, NULL, NULL) && vp_channel_host_id_is_valid (g_strstrip (machine_id)))
    return g_steal_pointer (&machine_id);
  g_autofree char *name = g_strdup (g_get_host_name ());
  for (char *c = name; *c; c++)
    if (!g_ascii_isalnum (*c) && !strchr ("._:-", *c))
      *c = '-';
  return vp_channel_host_id_is_valid (name) ? g_steal_pointer (&name) : g_strdup ("vpowerd");
}

VpChannels *
vp_channels_new (const char *host_id, GError **error)
{
  if (host_id && !vp_channel_host_id_is_valid (host_id))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                   "host-id \"%s\" must be 1 to %d letters, digits or . _ : -", host_id, VP_CHANNEL_MAX_HOST_ID);
      return NULL;
    }
  VpChannels *channels = g_new0 (VpChannels, 1);
  channels->host_id = host_id ? g_strdup (host_id) : default_host_id ();
  channels->run = ((guint64) g_random_int () << 32) | g_random_int ();
  channels->links = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, link_free);
  channels->message = g_string_sized_new (1024);
  channels->polls = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  channels->polled = g_ptr_array_new ();
  return channels;
}

void
vp_channels_free (VpChannels *channels)
{
  if (!channels)
    return;
  g_hash_table_unref (channels->links);
  g_string_free (channels->message, TRUE);
  g_array_unref (channels->polls);
  g_ptr_array_unref (channels->polled);
  g_free (channels->host_id);
  g_free (channels);
}

const char *
vp_channels_host_id (const VpChannels *channels)
{
  return channels->host_id;
}

static void
link_failed (Link *link, const char *what, int saved_errno, gint64 now_us)
{
  link_close (link);
  if (!link->failure_logged)
    g_message ("channel of %s: %s %s: %s; retrying with a backoff", link->name, what, link->path,
               g_strerror (saved_errno));
  link->failure_logged = TRUE;
  link->retry_ms = link->retry_ms ? MIN (link->retry_ms * 2, RETRY_MAX_MS) : RETRY_MIN_MS;
  link->retry_at_us = now_us + (gint64) link->retry_ms * 1000;
}

/* Connects link->fd to a path inside a pod's QEMU's root, resolved there: a symlink the tenant
 * planted cannot lead to a host socket. */
static gboolean
connect_in_root (Link *link, int *saved_errno)
{
  g_autoptr (GError) error = NULL;
  int root_fd = vp_foreign_root_open ("/proc", link->root_pid, &error);
  gboolean ok = root_fd >= 0 && vp_foreign_root_connect (root_fd, link->path, link->fd, &error);
  *saved_errno = errno;
  if (root_fd >= 0)
    close (root_fd);
  return ok;
}

static gboolean
connect_path (Link *link, int *saved_errno)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  if (strlen (link->path) >= sizeof address.sun_path)
    {
      *saved_errno = ENAMETOOLONG;
      return FALSE;
    }
  strcpy (address.sun_path, link->path);
  gboolean ok = connect (link->fd, (struct sockaddr *) &address, sizeof address) == 0;
  *saved_errno = errno;
  return ok;
}

/* Whether the process listening on the connected link is the one that should: the QEMU whose
 * command line named the socket, or, for a QEMU in a pod or a container, a process with that
 * QEMU's root and not vpowerd's (its libvirt opens the socket and hands it to QEMU; a libvirt
 * that gives QEMU a mount namespace of its own, as Kolla's does, is in another one than QEMU's
 * but has its root). */
static gboolean
right_listener (const Link *link, int *listener)
{
  struct ucred peer = { 0 };
  socklen_t peer_size = sizeof peer;
  if (getsockopt (link->fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0)
    return FALSE;
  *listener = (int) peer.pid;
  if (link->root_pid)
    return peer.pid > 0 && vp_foreign_root_same_root ("/proc", (int) peer.pid, link->root_pid) &&
           vp_foreign_root_other_root ("/proc", (int) peer.pid, getpid ());
  return !link->peer_pid || peer.pid == link->peer_pid;
}

static void
link_connect (VpChannels *channels, Link *link, gint64 now_us)
{
  link->fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (link->fd < 0)
    {
      link_failed (link, "cannot make a socket for", errno, now_us);
      return;
    }
  int size = SEND_BUFFER_BYTES;
  setsockopt (link->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  /* A unix socket connects at once or fails at once (EAGAIN: QEMU's backlog is full). */
  int saved_errno = 0;
  if (!(link->root_pid ? connect_in_root (link, &saved_errno) : connect_path (link, &saved_errno)))
    {
      link_failed (link, saved_errno == ENAMETOOLONG ? "cannot use" : "cannot connect to", saved_errno, now_us);
      return;
    }
  int listener = 0;
  if ((link->peer_pid || link->root_pid) && !right_listener (link, &listener))
    {
      /* Not the VM's QEMU: its command line named someone else's socket, or the pod's path led
       * to a socket of another. */
      if (!link->failure_logged)
        {
          if (link->root_pid)
            g_warning ("channel of %s: %s in QEMU %d's root is not a socket of that root (process %d listens "
                       "on it); not used", link->name, link->path, link->root_pid, listener);
          else
            g_warning ("channel of %s: %s is not QEMU %d's own socket (process %d listens on it); not used",
                       link->name, link->path, link->peer_pid, listener);
        }
      link->failure_logged = TRUE;
      link_close (link);
      link->retry_ms = RETRY_MAX_MS;
      link->retry_at_us = now_us + (gint64) RETRY_MAX_MS * 1000;
      return;
    }
  g_message ("channel of %s: connected to %s%s", link->name, link->path,
             link->root_pid ? " in its QEMU's root" : "");
  link->failure_logged = FALSE;
  link->retry_ms = 0;
  channels->stats.connects++;
}

/* Reads and discards what the guest wrote, up to DRAIN_LIMIT bytes. FALSE
 * when the other end is gone. Only for links that one poll() of all of
 * them found readable or hung up: a recv per VM per tick would cost more
 * than the message. */
static gboolean
link_drain (VpChannels *channels, Link *link, gint64 now_us)
{
  char scratch[DRAIN_LIMIT];
  gssize n = recv (link->fd, scratch, sizeof scratch, MSG_DONTWAIT);
  if (n > 0)
    channels->stats.discarded_bytes += (guint64) n;
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
    {
      /* QEMU closed it: the VM stopped, or is moving. Its next socket comes with the next event. */
      link_failed (link, n == 0 ? "the other end closed" : "lost", n == 0 ? ECONNRESET : errno, now_us);
      return FALSE;
    }
  return TRUE;
}

static void
encode (VpChannels *channels, Link *link, const VpSnapshot *snapshot, const VpVmSnapshot *vm, guint64 epoch)
{
  GString *out = channels->message;
  g_string_truncate (out, 0);
  gsize start = vp_channel_encode_begin (out, channels->host_id, epoch, channels->run, ++channels->seq, snapshot->real_us,
                                         (guint64) (snapshot->interval_s * G_USEC_PER_SEC), vm->uuid);
  for (guint z = 0; z < vm->n_zones; z++)
    vp_channel_encode_zone (out, vm->zones[z].index, vm->zones[z].name, vm->zones[z].max_energy_range_uj,
                            vm->zones[z].energy_uj);
  vp_channel_encode_end (out, start);
}

static void
link_send (VpChannels *channels, Link *link, gint64 now_us)
{
  gssize n = send (link->fd, channels->message->str, channels->message->len, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == (gssize) channels->message->len)
    {
      channels->stats.sent++;
      return;
    }
  channels->stats.dropped++;
  /* A part written is harmless: the next message begins with a newline,
   * and the guest refuses the cut one. */
  /* A QEMU that exits closes its end: a send may see it before the drain does, and says so the
   * same way. */
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    link_failed (link, errno == EPIPE || errno == ECONNRESET ? "the other end closed" : "lost", errno, now_us);
}

/* One poll() over every connected link; drains those with input or a hang-up. */
static void
drain_all (VpChannels *channels, gint64 now_us)
{
  g_array_set_size (channels->polls, 0);
  g_ptr_array_set_size (channels->polled, 0);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, channels->links);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Link *link = value;
      if (link->fd < 0)
        continue;
      struct pollfd entry = { .fd = link->fd, .events = POLLIN };
      g_array_append_val (channels->polls, entry);
      g_ptr_array_add (channels->polled, link);
    }
  if (channels->polls->len == 0 ||
      poll ((struct pollfd *) (gpointer) channels->polls->data, channels->polls->len, 0) <= 0)
    return;
  for (guint i = 0; i < channels->polls->len; i++)
    if (g_array_index (channels->polls, struct pollfd, i).revents)
      link_drain (channels, channels->polled->pdata[i], now_us);
}

void
vp_channels_send (VpChannels *channels, const VpSnapshot *snapshot, const GPtrArray *vms,
                  VpVmSnapshot *vm_snapshots, VpVmLedger *const *ledgers)
{
  gint64 now_us = g_get_monotonic_time ();
  channels->tick++;
  drain_all (channels, now_us);
  for (guint i = 0; i < vms->len; i++)
    {
      const VpVmInfo *info = vms->pdata[i];
      VpVmSnapshot *vm = &vm_snapshots[i];
      vm->channel_connected = FALSE;
      if (!info->channel_path)
        continue;
      Link *link = g_hash_table_lookup (channels->links, info->uuid);
      if (!link)
        {
          link = g_new0 (Link, 1);
          link->uuid = g_strdup (info->uuid);
          link->fd = -1;
          g_hash_table_insert (channels->links, link->uuid, link);
        }
      link->seen_tick = channels->tick;
      if (g_strcmp0 (link->name, info->name) != 0)
        {
          g_free (link->name);
          link->name = g_strdup (info->name);
        }
      if (g_strcmp0 (link->path, info->channel_path) != 0 || link->peer_pid != info->channel_peer_pid ||
          link->root_pid != info->channel_root_pid)
        {
          /* A new socket (start, restore, migration in, hot-plug): connect now. */
          link_close (link);
          g_free (link->path);
          link->path = g_strdup (info->channel_path);
          link->peer_pid = info->channel_peer_pid;
          link->root_pid = info->channel_root_pid;
          link->retry_at_us = 0;
          link->retry_ms = 0;
          link->failure_logged = FALSE;
        }
      if (link->fd < 0 && now_us >= link->retry_at_us)
        link_connect (channels, link, now_us);
      if (link->fd < 0)
        continue;
      encode (channels, link, snapshot, vm, ledgers[i]->epoch);
      link_send (channels, link, now_us);
      vm->channel_connected = link->fd >= 0;
    }

  /* VMs that stopped or went away. */
  guint64 connected = 0;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, channels->links);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Link *link = value;
      if (link->seen_tick != channels->tick)
        g_hash_table_iter_remove (&iter);
      else if (link->fd >= 0)
        connected++;
    }
  channels->stats.connected = connected;
}

void
vp_channels_stats (const VpChannels *channels, VpChannelStats *out)
{
  *out = channels->stats;
}
