/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the root-only socket on which the libvirt hook announces a VM about to start.
 *
 * libvirt refuses to start a VM whose share source does not exist, and a
 * transient domain (virsh create) is unknown to vpowerd until it runs. The
 * qemu hook runs at "prepare begin", before QEMU starts, and tells the mount
 * holder here, which makes the directory exist at once (design.md). The
 * holder answers from memory only: it never calls libvirt, which is busy
 * starting that VM and waiting for the hook. */
#include "config.h"

#include "host/hook/hook-server.h"
#include "host/snapshot/publication.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define REQUEST_TIMEOUT_S 2

struct _VpHookServer {
  int fd;
  char *path;
  guint source;
  VpAnnounceFunc announce;
  gpointer user_data;
};

static void
reply (int fd, const char *text)
{
  if (send (fd, text, strlen (text), MSG_NOSIGNAL) < 0)
    g_debug ("libvirt hook: the client left before the reply: %s", g_strerror (errno));
}

void
vp_hook_request_clear (VpHookRequest *request)
{
  g_clear_pointer (&request->uuid, g_free);
  g_clear_pointer (&request->name, g_free);
}

const char *
vp_hook_request_parse (const char *bytes, gsize length, VpHookRequest *request)
{
  *request = (VpHookRequest) { 0 };
  if (length > VP_HOOK_REQUEST_MAX)
    return "request too long";
  const char *newline = memchr (bytes, '\n', length);
  if (!newline)
    return "incomplete request";
  g_autofree char *line = g_strndup (bytes, (gsize) (newline - bytes));
  if (strlen (line) != (gsize) (newline - bytes))
    return "a NUL byte in the request";
  g_auto (GStrv) fields = g_strsplit (line, "\t", 5);
  guint64 uid, gid;
  if (g_strv_length (fields) != 5 || !g_str_equal (fields[0], VP_HOOK_REQUEST_ANNOUNCE))
    return "unknown request";
  if (!g_uuid_string_is_valid (fields[1]))
    return "bad uuid";
  if (!g_ascii_string_to_unsigned (fields[2], 10, 0, G_MAXUINT32 - 1, &uid, NULL) ||
      !g_ascii_string_to_unsigned (fields[3], 10, 0, G_MAXUINT32 - 1, &gid, NULL))
    return "bad uid or gid";
  if (!vp_publication_name_is_valid (fields[4]))
    return "bad name";
  request->uuid = g_strdup (fields[1]);
  request->name = g_strdup (fields[4]);
  request->uid = (uid_t) uid;
  request->gid = (gid_t) gid;
  return NULL;
}

static gboolean
on_incoming (int listen_fd, GIOCondition condition, gpointer user_data)
{
  VpHookServer *server = user_data;
  int fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    return G_SOURCE_CONTINUE;

  /* The socket is 0600 root's; checking the peer too costs nothing. */
  struct ucred peer;
  socklen_t peer_length = sizeof peer;
  struct timeval timeout = { .tv_sec = REQUEST_TIMEOUT_S };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0 || peer.uid != 0)
    {
      reply (fd, "error\tonly root may announce VMs\n");
      close (fd);
      return G_SOURCE_CONTINUE;
    }

  char buffer[VP_HOOK_REQUEST_MAX];
  gsize used = 0;
  while (used < VP_HOOK_REQUEST_MAX && !memchr (buffer, '\n', used))
    {
      ssize_t n = recv (fd, buffer + used, VP_HOOK_REQUEST_MAX - used, 0);
      if (n <= 0)
        break;
      used += (gsize) n;
    }
  VpHookRequest request;
  const char *problem = vp_hook_request_parse (buffer, used, &request);
  if (!problem && !server->announce (request.name, request.uuid, request.uid, request.gid, server->user_data))
    problem = "refused";
  vp_hook_request_clear (&request);
  if (problem)
    {
      g_warning ("libvirt hook: refused a request: %s", problem);
      g_autofree char *text = g_strdup_printf ("error\t%s\n", problem);
      reply (fd, text);
    }
  else
    reply (fd, "ok\n");
  close (fd);
  return G_SOURCE_CONTINUE;
}

VpHookServer *
vp_hook_server_new (const char *path, VpAnnounceFunc announce, gpointer user_data, GError **error)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof address.sun_path)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "the hook socket path %s is too long", path);
      return NULL;
    }
  strcpy (address.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  /* Only the process holding the runtime directory's lock gets here, so
   * a socket file left there is a dead vpowerd's. */
  g_unlink (path);
  mode_t old_mask = umask (0177);
  gboolean ok = fd >= 0 && bind (fd, (struct sockaddr *) &address, sizeof address) == 0 && listen (fd, 16) == 0;
  int saved = errno;
  umask (old_mask);
  if (!ok)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot listen on %s: %s", path, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  VpHookServer *server = g_new0 (VpHookServer, 1);
  server->fd = fd;
  server->path = g_strdup (path);
  server->announce = announce;
  server->user_data = user_data;
  server->source = g_unix_fd_add (fd, G_IO_IN, on_incoming, server);
  return server;
}

void
vp_hook_server_free (VpHookServer *server)
{
  if (!server)
    return;
  g_source_remove (server->source);
  close (server->fd);
  g_free (server->path);
  g_free (server);
}
