/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GTest helpers for the powercap fixture trees under tests/data/powercap. */
#pragma once

#include <glib.h>
#include <stdlib.h>

/* The fixture tree tests/data/powercap/NAME (read-only: copy to change it). */
static inline char *
vp_test_fixture (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "powercap", name, NULL);
}

/* A writable copy of a fixture, symlinks kept; remove it with vp_test_remove_tree. */
static inline char *
vp_test_copy_fixture (const char *name)
{
  g_autofree char *source = vp_test_fixture (name);
  char *dir = g_dir_make_tmp ("vp-fixture-XXXXXX", NULL);
  g_autofree char *command = g_strdup_printf ("cp -a '%s/.' '%s/'", source, dir);
  g_assert_cmpint (system (command), ==, 0);
  return dir;
}

static inline void
vp_test_remove_tree (const char *dir)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (command), ==, 0);
}
