/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: systemd's readiness protocol without libsystemd. */
#include "config.h"

#include "shared/vp-sdnotify.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

gboolean
vp_sd_notify (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  gsize length = path ? strlen (path) : 0;

  if (length == 0 || length >= sizeof address.sun_path || (path[0] != '/' && path[0] != '@'))
    return FALSE;
  memcpy (address.sun_path, path, length);
  if (path[0] == '@')
    address.sun_path[0] = '\0';   /* an abstract socket */

  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  gssize sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &address,
                        (socklen_t) (offsetof (struct sockaddr_un, sun_path) + length));
  close (fd);
  return sent == (gssize) strlen (state);
}
