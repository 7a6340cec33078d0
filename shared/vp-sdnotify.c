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

static gboolean
on_watchdog (gpointer user_data)
{
  vp_sd_notify ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

guint
vp_sd_watchdog_start (void)
{
  const char *usec_text = g_getenv ("WATCHDOG_USEC");
  const char *pid_text = g_getenv ("WATCHDOG_PID");
  guint64 usec, pid;

  if (!usec_text || !g_ascii_string_to_unsigned (usec_text, 10, 1, G_MAXUINT64, &usec, NULL))
    return 0;
  /* The variables are inherited by children, which must not ping for us. */
  if (pid_text && (!g_ascii_string_to_unsigned (pid_text, 10, 1, G_MAXINT, &pid, NULL) || (pid_t) pid != getpid ()))
    return 0;
  guint period_ms = (guint) MAX (1, MIN (usec / 2000, G_MAXUINT));
  g_message ("systemd watchdog: a keep-alive every %.1f s", period_ms / 1000.0);
  vp_sd_notify ("WATCHDOG=1");
  /* On the caller's thread-default context: vpowerd's engine keeps its own (engine-loop.c). */
  GSource *source = g_timeout_source_new (period_ms);
  g_source_set_callback (source, on_watchdog, NULL, NULL);
  guint id = g_source_attach (source, g_main_context_get_thread_default ());
  g_source_unref (source);
  return id;
}
