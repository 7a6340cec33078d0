/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: small-file reads for /proc, sysfs and powercap, and strict number parsing. */
#include "config.h"

#include "vp-fileio.h"
#include "vp-error.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static gssize
read_fd_and_close (int fd, const char *display_path, char *buf, gsize size, GError **error)
{
  gsize used = 0;

  /* sysfs and procfs deliver small files in one read, but loop anyway:
   * a short read is legal for any file descriptor. */
  while (used + 1 < size)
    {
      gssize n = read (fd, buf + used, size - 1 - used);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          int saved = errno;
          close (fd);
          g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot read %s: %s",
                       display_path, g_strerror (saved));
          return -1;
        }
      if (n == 0)
        break;
      used += (gsize) n;
    }
  close (fd);
  buf[used] = '\0';
  return (gssize) used;
}

gssize
vp_read_small_file_at (int dirfd, const char *relpath, const char *display_path,
                       char *buf, gsize size, GError **error)
{
  g_return_val_if_fail (size > 0, -1);

  int fd = openat (dirfd, relpath, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot open %s: %s",
                   display_path ? display_path : relpath, g_strerror (saved));
      return -1;
    }
  return read_fd_and_close (fd, display_path ? display_path : relpath, buf, size, error);
}

gssize
vp_read_small_file (const char *path, char *buf, gsize size, GError **error)
{
  return vp_read_small_file_at (AT_FDCWD, path, path, buf, size, error);
}

gboolean
vp_parse_u64 (const char *text, guint64 *out)
{
  guint64 value = 0;
  const char *p = text;

  if (!g_ascii_isdigit (*p))
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    {
      guint digit = (guint) (*p - '0');
      if (value > (G_MAXUINT64 - digit) / 10)
        return FALSE;
      value = value * 10 + digit;
    }
  if (*p == '\n')
    p++;
  if (*p != '\0')
    return FALSE;
  *out = value;
  return TRUE;
}

gboolean
vp_read_u64_file (const char *path, guint64 *out, GError **error)
{
  char buf[64];

  if (vp_read_small_file (path, buf, sizeof buf, error) < 0)
    return FALSE;
  if (!vp_parse_u64 (buf, out))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE,
                   "%s does not hold an unsigned decimal number: \"%s\"",
                   path, g_strchomp (buf));
      return FALSE;
    }
  return TRUE;
}
