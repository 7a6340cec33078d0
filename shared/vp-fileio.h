/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: small-file reads for /proc, sysfs and powercap, and strict number parsing. */
#pragma once

#include <glib.h>

/* Reads at most size-1 bytes of a small pseudo-file into buf with one
 * open+read+close, NUL-terminates it, and returns the length, or -1 with
 * error set (the message names the file and the errno). */
gssize vp_read_small_file (const char *path, char *buf, gsize size, GError **error);

/* Like vp_read_small_file, relative to a directory fd (openat). */
gssize vp_read_small_file_at (int dirfd, const char *relpath, const char *display_path,
                              char *buf, gsize size, GError **error);

/* Parses a whole unsigned decimal, allowing one trailing newline: "123\n".
 * Rejects signs, blanks, garbage and overflow. */
gboolean vp_parse_u64 (const char *text, guint64 *out);

/* Reads a file holding a single unsigned decimal (energy_uj, ids). */
gboolean vp_read_u64_file (const char *path, guint64 *out, GError **error);
