/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the guest's powercap reader (guest/reader.c) on fixture trees:
 * one socket, two sockets with dram, psys, wraps, resets, garbage, and a
 * tree that disappears mid-run. */
#include "config.h"

#include "tests/test-fixture.h"

#include "guest/reader.h"

#include <glib/gstdio.h>
#include <stdlib.h>

#define RAPL_MAX G_GUINT64_CONSTANT (262143328850)

/* A writable copy of a vp_test_fixture (symlinks kept), removed by the caller. */
static void
set_energy (const char *root, const char *zone, guint64 value)
{
  g_autofree char *path = g_strdup_printf ("%s/%s/energy_uj", root, zone);
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", value);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static const VpReaderZone *
zone_by_key (VpReader *reader, const char *key)
{
  for (guint i = 0; i < vp_reader_n_zones (reader); i++)
    if (g_str_equal (vp_reader_zone (reader, i)->key, key))
      return vp_reader_zone (reader, i);
  g_assert_not_reached ();
}

/* The first reading is the total: the guest shows the host's counter. */
static void
test_single_socket (void)
{
  g_autofree char *root = vp_test_fixture ("single");
  g_autoptr (VpReader) reader = vp_reader_new (root);
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_reader_scan (reader, &error));
  g_assert_true (vp_reader_up (reader));
  g_assert_cmpuint (vp_reader_n_zones (reader), ==, 3);
  g_assert_cmpstr (vp_reader_zone (reader, 0)->name, ==, "package-0");
  g_assert_cmpstr (vp_reader_zone (reader, 1)->key, ==, "0:0");
  g_assert_cmpstr (vp_reader_zone (reader, 2)->name, ==, "uncore");
  g_assert_cmpuint (zone_by_key (reader, "0")->total_uj, ==, 1000000);
  g_assert_true (zone_by_key (reader, "0")->top_level);
  g_assert_false (zone_by_key (reader, "0:1")->top_level);
}

/* Two sockets: the processes' energy is the packages' (dram and core are
 * inside them, and counted once). */
static void
test_two_sockets (void)
{
  g_autofree char *copy = vp_test_copy_fixture ("dual-dram");
  g_autofree char *root = g_build_filename (copy, "class", "powercap", NULL);
  g_autoptr (VpReader) reader = vp_reader_new (root);
  g_assert_true (vp_reader_scan (reader, NULL));
  vp_reader_mark (reader);
  g_assert_cmpuint (vp_reader_n_zones (reader), ==, 6);
  g_assert_cmpuint (zone_by_key (reader, "1:1")->max_energy_range_uj, ==, 65712999613);

  set_energy (root, "intel-rapl:0", 5000000 + 3000000);
  set_energy (root, "intel-rapl:0:1", 700000 + 500000);
  set_energy (root, "intel-rapl:1", 6000000 + 2000000);
  g_assert_true (vp_reader_scan (reader, NULL));
  vp_reader_mark (reader);
  g_assert_cmpuint (zone_by_key (reader, "0")->interval_uj, ==, 3000000);
  g_assert_cmpuint (zone_by_key (reader, "0:1")->interval_uj, ==, 500000);
  g_assert_cmpuint (zone_by_key (reader, "0")->interval_start_uj, ==, 5000000);
  g_assert_cmpuint (vp_reader_cpu_interval_uj (reader), ==, 5000000);
  vp_test_remove_tree (copy);
}

/* psys is the platform total: with packages present it is not added to them. */
static void
test_psys_not_added (void)
{
  g_autofree char *copy = vp_test_copy_fixture ("psys");
  g_autoptr (VpReader) reader = vp_reader_new (copy);
  g_assert_true (vp_reader_scan (reader, NULL));
  vp_reader_mark (reader);
  set_energy (copy, "intel-rapl:0", 3000000 + 100);
  set_energy (copy, "intel-rapl:1", 9000000 + 700);
  g_assert_true (vp_reader_scan (reader, NULL));
  vp_reader_mark (reader);
  g_assert_cmpuint (vp_reader_cpu_interval_uj (reader), ==, 100);
  vp_test_remove_tree (copy);
}

/* Wrap: near the top to near zero adds the wrapped energy. Reset: any other
 * decrease counts from zero; the total never goes back, never spikes. */
static void
test_wrap_and_reset (void)
{
  g_autofree char *copy = vp_test_copy_fixture ("single");
  g_autoptr (VpReader) reader = vp_reader_new (copy);
  set_energy (copy, "intel-rapl:0", RAPL_MAX - 1000);
  g_assert_true (vp_reader_scan (reader, NULL));
  vp_reader_mark (reader);
  guint64 start = zone_by_key (reader, "0")->total_uj;

  set_energy (copy, "intel-rapl:0", 4000);
  g_assert_true (vp_reader_refresh (reader, NULL));
  g_assert_cmpuint (zone_by_key (reader, "0")->total_uj, ==, start + 5000);
  g_assert_cmpuint (zone_by_key (reader, "0")->wraps, ==, 1);

  set_energy (copy, "intel-rapl:0", 3000);   /* backwards, but not a wrap */
  g_assert_true (vp_reader_refresh (reader, NULL));
  g_assert_cmpuint (zone_by_key (reader, "0")->total_uj, ==, start + 5000 + 3000);
  g_assert_cmpuint (zone_by_key (reader, "0")->resets, ==, 1);
  g_assert_cmpuint (zone_by_key (reader, "0")->raw_uj, ==, 3000);
  vp_reader_mark (reader);
  g_assert_cmpuint (zone_by_key (reader, "0")->interval_uj, ==, 8000);
  vp_test_remove_tree (copy);
}

/* The tree vanishes mid-run (the share unmounted, vpowerd gone): the reader
 * says so, keeps its totals, and resumes where it left off. */
static void
test_tree_disappears (void)
{
  g_autofree char *copy = vp_test_copy_fixture ("single");
  g_autofree char *root = g_build_filename (copy, "tree", NULL);
  g_autofree char *away = g_build_filename (copy, "away", NULL);
  g_autofree char *command = g_strdup_printf ("mkdir '%s' && mv '%s'/intel-rapl* '%s'/", root, copy, root);
  g_assert_cmpint (system (command), ==, 0);

  g_autoptr (VpReader) reader = vp_reader_new (root);
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_reader_scan (reader, NULL));
  guint64 before = zone_by_key (reader, "0")->total_uj;

  g_assert_cmpint (g_rename (root, away), ==, 0);
  g_test_expect_message ("vpower-agent", G_LOG_LEVEL_WARNING, "*cannot read the powercap tree*");
  g_assert_false (vp_reader_refresh (reader, &error));
  g_test_assert_expected_messages ();
  g_assert_nonnull (error);
  g_assert_false (vp_reader_up (reader));
  g_assert_cmpuint (vp_reader_n_zones (reader), ==, 3);
  g_assert_false (zone_by_key (reader, "0")->present);
  g_assert_cmpuint (zone_by_key (reader, "0")->total_uj, ==, before);
  g_clear_error (&error);
  /* Said once, not at every read. */
  g_assert_false (vp_reader_scan (reader, &error));
  g_clear_error (&error);

  set_energy (away, "intel-rapl:0", 1000000 + 777);
  g_assert_cmpint (g_rename (away, root), ==, 0);
  g_assert_true (vp_reader_refresh (reader, &error));
  g_assert_no_error (error);
  g_assert_true (vp_reader_up (reader));
  g_assert_cmpuint (zone_by_key (reader, "0")->total_uj, ==, before + 777);
  vp_test_remove_tree (copy);
}

/* Garbage in one zone: reported with the file's name, the others still read. */
static void
test_garbage_zone (void)
{
  g_autofree char *copy = vp_test_copy_fixture ("single");
  g_autoptr (VpReader) reader = vp_reader_new (copy);
  g_assert_true (vp_reader_scan (reader, NULL));
  g_autofree char *path = g_build_filename (copy, "intel-rapl:0:0", "energy_uj", NULL);
  g_assert_true (g_file_set_contents (path, "12abc\n", -1, NULL));
  set_energy (copy, "intel-rapl:0", 1000000 + 55);

  g_autoptr (GError) error = NULL;
  g_test_expect_message ("vpower-agent", G_LOG_LEVEL_WARNING, "*intel-rapl:0:0/energy_uj*");
  g_assert_false (vp_reader_scan (reader, &error));
  g_test_assert_expected_messages ();
  g_assert_nonnull (strstr (error->message, "intel-rapl:0:0/energy_uj"));
  g_assert_cmpuint (zone_by_key (reader, "0")->total_uj, ==, 1000055);
  g_assert_false (zone_by_key (reader, "0:0")->present);
  vp_test_remove_tree (copy);
}

/* No tree, or a directory with no zone: down, with a message saying where. */
static void
test_no_tree (void)
{
  g_autoptr (VpReader) reader = vp_reader_new ("/nonexistent/vpower");
  g_autoptr (GError) error = NULL;
  g_test_expect_message ("vpower-agent", G_LOG_LEVEL_WARNING, "*/nonexistent/vpower*");
  g_assert_false (vp_reader_refresh (reader, &error));
  g_test_assert_expected_messages ();
  g_assert_false (vp_reader_up (reader));
  g_assert_cmpuint (vp_reader_n_zones (reader), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reader/single-socket", test_single_socket);
  g_test_add_func ("/reader/two-sockets", test_two_sockets);
  g_test_add_func ("/reader/psys", test_psys_not_added);
  g_test_add_func ("/reader/wrap-and-reset", test_wrap_and_reset);
  g_test_add_func ("/reader/tree-disappears", test_tree_disappears);
  g_test_add_func ("/reader/garbage", test_garbage_zone);
  g_test_add_func ("/reader/no-tree", test_no_tree);
  return g_test_run ();
}
