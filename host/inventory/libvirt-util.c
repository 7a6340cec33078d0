/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: libvirt helpers. */
#include "config.h"

#include "host/inventory/libvirt-util.h"
#include "shared/vp-error.h"

#include <string.h>

void
vp_libvirt_set_error (GError **error, const char *what)
{
  virErrorPtr last = virGetLastError ();
  g_set_error (error, VP_ERROR, VP_ERROR_LIBVIRT, "%s: %s", what,
               last && last->message ? last->message : "unknown libvirt error");
}

static void
ignore_libvirt_error (void *user_data, virErrorPtr error)
{
}

void
vp_libvirt_silence (void)
{
  virSetErrorFunc (NULL, ignore_libvirt_error);
}

/* The socket= parameter of a qemu+unix URI, or NULL. */
static char *
socket_of_uri (const char *uri)
{
  const char *query = strchr (uri, '?');
  if (!query)
    return NULL;
  g_autoptr (GHashTable) params = g_uri_parse_params (query + 1, -1, "&", G_URI_PARAMS_NONE, NULL);
  const char *socket = params ? g_hash_table_lookup (params, "socket") : NULL;
  return socket && socket[0] ? g_strdup (socket) : NULL;
}

char *
vp_libvirt_pid_dir_for_uri (const char *uri)
{
  /* libvirt's own run directory, not ours (vpowerd's --prefix does not move libvirt's
   * pidfiles). */
  gboolean system = g_str_has_prefix (uri, "qemu:///system") || g_str_has_prefix (uri, "qemu+unix:///system");
  gboolean session = g_str_has_prefix (uri, "qemu:///session") || g_str_has_prefix (uri, "qemu+unix:///session");
  if (!system && !session)
    return NULL;
  g_autofree char *socket = g_str_has_prefix (uri, "qemu+unix:") ? socket_of_uri (uri) : NULL;
  if (socket)
    {
      g_autofree char *name = g_path_get_basename (socket);
      if (!g_path_is_absolute (socket) || g_str_has_prefix (socket, "/proc/") ||
          !(g_str_equal (name, "libvirt-sock") || g_str_equal (name, "virtqemud-sock")))
        return NULL;
      g_autofree char *dir = g_path_get_dirname (socket);
      return g_build_filename (dir, "qemu", session ? "run" : NULL, NULL);
    }
  if (system)
    return g_strdup ("/run/libvirt/qemu");
  return g_build_filename (g_get_user_runtime_dir (), "libvirt", "qemu", "run", NULL);
}
