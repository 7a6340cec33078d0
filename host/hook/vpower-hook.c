/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-hook: the libvirt qemu hook that makes a VM's directory exist before its QEMU starts.
 *
 * Install it as /etc/libvirt/hooks/qemu.d/vpower (libvirt >= 6.5 runs every
 * executable there; libvirtd must be restarted once to notice it). libvirt
 * calls it as `vpower NAME OPERATION SUB-OPERATION EXTRA` with the domain XML
 * on stdin, synchronously, while it starts the VM. So this program:
 *   - acts only on "prepare begin" and, for an incoming migration, the
 *     earlier "migrate begin", and ignores every other call;
 *   - never writes to stdout: at "migrate begin" libvirt would take what it
 *     printed as a replacement for the domain XML;
 *   - never calls libvirt (that would deadlock the start);
 *   - gives up after a few seconds;
 *   - always exits 0: a vpower problem must never stop a VM from starting.
 *     (A VM whose share needs the directory fails in libvirt anyway, with
 *     libvirt's own message about the missing source.) */
#include "config.h"

#include "host/conf.h"
#include "host/hook/hook-server.h"
#include "shared/vp-domxml.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#define TIMEOUT_S 5
#define XML_MAX (16 << 20)

static void
say (int priority, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
say (int priority, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  /* libvirt keeps the hook's stderr in its log; syslog reaches operators. */
  fprintf (stderr, "vpower-hook: %s\n", text);
  syslog (priority, "%s", text);
}

static char *
read_stdin (gsize *length)
{
  g_autoptr (GString) text = g_string_new (NULL);
  char buffer[65536];
  ssize_t n;
  while ((n = read (STDIN_FILENO, buffer, sizeof buffer)) > 0 && text->len < XML_MAX)
    g_string_append_len (text, buffer, n);
  *length = text->len;
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static gboolean
announce (const char *socket_path, const VpDomainXml *xml, GError **error)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  struct timeval timeout = { .tv_sec = TIMEOUT_S };
  g_snprintf (address.sun_path, sizeof address.sun_path, "%s", socket_path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "socket: %s", g_strerror (errno));
      return FALSE;
    }
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) != 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot reach vpowerd at %s: %s", socket_path, g_strerror (errno));
      close (fd);
      return FALSE;
    }
  /* Unknown owner: root, like the tree does for defined domains. */
  g_autofree char *request = g_strdup_printf ("%s\t%s\t%u\t%u\t%s\n", VP_HOOK_REQUEST_ANNOUNCE, xml->uuid,
                                              xml->owner_known ? (guint) xml->uid : 0,
                                              xml->owner_known ? (guint) xml->gid : 0, xml->name);
  char answer[512] = "";
  ssize_t n = -1;
  if (send (fd, request, strlen (request), MSG_NOSIGNAL) == (ssize_t) strlen (request))
    n = recv (fd, answer, sizeof answer - 1, MSG_WAITALL);
  close (fd);
  answer[MAX (n, 0)] = '\0';
  if (!g_str_equal (answer, "ok\n"))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "vpowerd did not accept %s: %s", xml->name,
                   n > 0 ? g_strstrip (answer) : "no answer");
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  const char *runtime_dir = VP_DEFAULT_RUNTIME_DIR;

  setlocale (LC_ALL, "");
  openlog ("vpower-hook", LOG_PID, LOG_DAEMON);
  /* --runtime-dir DIR, before libvirt's arguments: for a vpowerd that
   * runs with a non-default runtime-dir. */
  if (argc > 2 && g_str_equal (argv[1], "--runtime-dir"))
    {
      runtime_dir = argv[2];
      argv += 2;
      argc -= 2;
    }
  if (argc < 4 || g_str_equal (argv[1], "--help"))
    {
      fprintf (stderr, "usage: %s [--runtime-dir DIR] DOMAIN OPERATION SUB-OPERATION [EXTRA]\n"
                       "A libvirt qemu hook: install it as /etc/libvirt/hooks/qemu.d/vpower.\n"
                       "On 'prepare begin' and 'migrate begin' it reads the domain XML on stdin\n"
                       "and tells vpowerd, through %s/%s, to create the VM's directory.\n"
                       "It prints nothing (the domain XML stays as it is) and always exits 0.\n",
               argv[0], VP_DEFAULT_RUNTIME_DIR, VP_HOOK_SOCKET_NAME);
      return EXIT_SUCCESS;
    }
  /* An incoming migration calls "migrate begin" first, then "prepare
   * begin" like any start: announcing at both is harmless (the second is a
   * no-op) and gives the directory the earliest moment. */
  if ((!g_str_equal (argv[2], "prepare") && !g_str_equal (argv[2], "migrate")) || !g_str_equal (argv[3], "begin"))
    return EXIT_SUCCESS;

  gsize length = 0;
  g_autofree char *text = read_stdin (&length);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, (gssize) length, &error);
  g_autofree char *socket_path = g_build_filename (runtime_dir, VP_HOOK_SOCKET_NAME, NULL);
  if (!xml)
    say (LOG_WARNING, "%s: %s", argv[1], error->message);
  else if (!announce (socket_path, xml, &error))
    say (LOG_WARNING, "%s", error->message);
  return EXIT_SUCCESS;
}
