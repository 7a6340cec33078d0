/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the powercap sensor over fixture trees in tests/data, and the model sensor. */
#include "config.h"

#include "tests/test-fixture.h"

#include "host/sense/sensor.h"
#include "shared/vp-counter.h"

#include <glib/gstdio.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

static VpTopology *
two_package_topology (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *proc = g_test_build_filename (G_TEST_DIST, "data", "proc-4cpu", NULL);
  g_autofree char *sys = g_test_build_filename (G_TEST_DIST, "data", "sysfs-2pkg", NULL);
  VpTopology *topology = vp_topology_load (proc, sys, &error);
  g_assert_no_error (error);
  return topology;
}

static char *
fixture (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "powercap", name, NULL);
}

typedef struct {
  const char *key, *name;
  int package, parent;
  guint64 max;
  guint64 energy;
} WantZone;

#define RAPL_MAX G_GUINT64_CONSTANT (262143328850)

static void
check_zones (const char *root, const WantZone *want, guint n)
{
  g_autoptr (VpTopology) topology = two_package_topology ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VpSensor) sensor = vp_powercap_open (root, topology, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vp_sensor_name (sensor), ==, "powercap");
  g_assert_false (vp_sensor_estimated (sensor));
  g_assert_cmpuint (vp_sensor_n_zones (sensor), ==, n);

  g_autofree guint64 *readings = g_new0 (guint64, n);
  g_autofree gboolean *ok = g_new0 (gboolean, n);
  VpCpuSample none = { 0 };
  g_assert_cmpuint (vp_sensor_read (sensor, &none, readings, ok, &error), ==, 0);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      const VpZone *zone = vp_sensor_zone (sensor, i);
      g_assert_cmpstr (zone->key, ==, want[i].key);
      g_assert_cmpstr (zone->name, ==, want[i].name);
      g_assert_cmpint (zone->package, ==, want[i].package);
      g_assert_cmpint (zone->parent, ==, want[i].parent);
      g_assert_cmpuint (zone->max_energy_range_uj, ==, want[i].max);
      g_assert_true (ok[i]);
      g_assert_cmpuint (readings[i], ==, want[i].energy);
    }
}

static void
test_single_socket (void)
{
  static const WantZone want[] = {
    { "0", "package-0", 0, -1, RAPL_MAX, 1000000 },
    { "0:0", "core", 0, 0, RAPL_MAX, 400000 },
    { "0:1", "uncore", 0, 0, RAPL_MAX, 100000 },
  };
  g_autofree char *root = fixture ("single");
  check_zones (root, want, G_N_ELEMENTS (want));
}

static void
test_two_sockets_dram (void)
{
  /* The kernel's real layout: flat symlinks into a nested devices tree. */
  static const WantZone want[] = {
    { "0", "package-0", 0, -1, RAPL_MAX, 5000000 },
    { "0:0", "core", 0, 0, RAPL_MAX, 2000000 },
    { "0:1", "dram", 0, 0, 65712999613, 700000 },
    { "1", "package-1", 1, -1, RAPL_MAX, 6000000 },
    { "1:0", "core", 1, 3, RAPL_MAX, 2500000 },
    { "1:1", "dram", 1, 3, 65712999613, 800000 },
  };
  g_autofree char *root = g_test_build_filename (G_TEST_DIST, "data", "powercap", "dual-dram", "class", "powercap", NULL);
  check_zones (root, want, G_N_ELEMENTS (want));
}

static void
test_psys (void)
{
  static const WantZone want[] = {
    { "0", "package-0", 0, -1, RAPL_MAX, 3000000 },
    { "0:0", "core", 0, 0, RAPL_MAX, 1000000 },
    { "1", "psys", -1, -1, RAPL_MAX, 9000000 },   /* the whole platform */
  };
  g_autofree char *root = fixture ("psys");
  check_zones (root, want, G_N_ELEMENTS (want));
}

static void
test_amd (void)
{
  /* intel-rapl-mmio:0 measures package 0 again and must not be counted. */
  static const WantZone want[] = {
    { "0", "package-0", 0, -1, RAPL_MAX, 7000000 },
    { "0:0", "core", 0, 0, RAPL_MAX, 3000000 },
  };
  g_autofree char *root = fixture ("amd");
  check_zones (root, want, G_N_ELEMENTS (want));
}

static void
test_hex_children (void)
{
  static const WantZone want[] = {
    { "0", "package-0", 0, -1, RAPL_MAX, 100 },
    { "0:9", "core", 0, 0, RAPL_MAX, 10 },
    { "0:a", "dram", 0, 0, RAPL_MAX, 20 },   /* child 10, after child 9 */
  };
  g_autofree char *root = fixture ("hex");
  check_zones (root, want, G_N_ELEMENTS (want));
}

static void
test_garbage (void)
{
  static const WantZone want[] = {
    { "0", "package-0", 0, -1, RAPL_MAX, 1234 },
  };
  g_autofree char *root = fixture ("garbage");
  /* Each bad zone is reported once, naming the file. */
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*intel-rapl:1*energy_uj*12abc*");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*intel-rapl:1:0*parent*");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*intel-rapl:2*max_energy_range_uj*-5*");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*intel-rapl:3*name*empty*");
  check_zones (root, want, G_N_ELEMENTS (want));
  g_test_assert_expected_messages ();
}

static void
test_missing_max_energy_range (void)
{
  static const WantZone want[] = {
    { "1", "psys", -1, -1, RAPL_MAX, 2000 },
  };
  g_autofree char *root = fixture ("nomax");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*intel-rapl:0*max_energy_range_uj*");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*intel-rapl:0:0*parent*");
  check_zones (root, want, G_N_ELEMENTS (want));
  g_test_assert_expected_messages ();
}

static void
test_no_zones (void)
{
  g_autoptr (VpTopology) topology = two_package_topology ();
  g_autoptr (GError) error = NULL;
  g_autofree char *empty = g_dir_make_tmp ("vp-empty-XXXXXX", NULL);
  g_autoptr (VpSensor) sensor = vp_powercap_open (empty, topology, &error);
  g_assert_null (sensor);
  g_assert_nonnull (strstr (error->message, "no usable RAPL zone"));
  g_assert_nonnull (strstr (error->message, empty));
  g_rmdir (empty);
}

static void
write_energy (const char *root, const char *zone, const char *text)
{
  g_autofree char *path = g_build_filename (root, zone, "energy_uj", NULL);
  g_autoptr (GError) error = NULL;
  g_chmod (path, 0600);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* A counter that wraps between two reads gives the true energy. */
static void
test_wrapping_counter (void)
{
  g_autoptr (VpTopology) topology = two_package_topology ();
  g_autofree char *root = vp_test_copy_fixture ("wrap");
  g_autoptr (GError) error = NULL;
  g_autoptr (VpSensor) sensor = vp_powercap_open (root, topology, &error);
  g_assert_no_error (error);
  guint64 before = 0, after = 0;
  gboolean ok = FALSE;
  VpCpuSample none = { 0 };

  g_assert_cmpuint (vp_sensor_read (sensor, &none, &before, &ok, NULL), ==, 0);
  g_assert_cmpuint (before, ==, 990000);
  write_energy (root, "intel-rapl:0", "15000\n");   /* wrapped at 1000000 */
  g_assert_cmpuint (vp_sensor_read (sensor, &none, &after, &ok, NULL), ==, 0);
  g_assert_cmpuint (vp_counter_delta (before, after, vp_sensor_zone (sensor, 0)->max_energy_range_uj), ==, 25000);
  vp_test_remove_tree (root);
}

/* Garbage appearing at run time: the read fails, names the file, and the
 * old reading is kept (so no energy is lost, only delayed). */
static void
test_garbage_at_runtime (void)
{
  g_autoptr (VpTopology) topology = two_package_topology ();
  g_autofree char *root = vp_test_copy_fixture ("single");
  g_autoptr (GError) error = NULL;
  g_autoptr (VpSensor) sensor = vp_powercap_open (root, topology, &error);
  g_assert_no_error (error);
  guint64 readings[3] = { 0 };
  gboolean ok[3];
  VpCpuSample none = { 0 };

  vp_sensor_read (sensor, &none, readings, ok, NULL);
  write_energy (root, "intel-rapl:0:0", "not a number\n");
  write_energy (root, "intel-rapl:0", "2000000\n");
  g_assert_cmpuint (vp_sensor_read (sensor, &none, readings, ok, &error), ==, 1);
  g_assert_nonnull (strstr (error->message, "intel-rapl:0:0/energy_uj"));
  g_assert_true (ok[0]);
  g_assert_false (ok[1]);
  g_assert_cmpuint (readings[0], ==, 2000000);
  g_assert_cmpuint (readings[1], ==, 400000);   /* the last good value */
  vp_test_remove_tree (root);
}

/* energy_uj is root-only since Linux 5.10: a non-root daemon must get a
 * clear error naming the file. Root bypasses file modes, so drop to nobody. */
static void
test_unreadable_energy (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (VpTopology) topology = two_package_topology ();
      g_autoptr (GError) error = NULL;
      struct passwd *nobody = getpwnam ("nobody");
      if (getuid () == 0 && (!nobody || setgid (nobody->pw_gid) != 0 || setuid (nobody->pw_uid) != 0))
        g_error ("cannot drop to nobody");
      g_autoptr (VpSensor) sensor = vp_powercap_open (g_getenv ("VP_TEST_ROOT"), topology, &error);
      g_assert_null (sensor);
      g_printerr ("%s\n", error->message);
      return;
    }

  g_autofree char *root = vp_test_copy_fixture ("single");
  g_autofree char *energy = g_build_filename (root, "intel-rapl:0", "energy_uj", NULL);
  g_chmod (root, 0755);
  g_chmod (energy, getuid () == 0 ? 0400 : 0);
  g_setenv ("VP_TEST_ROOT", root, TRUE);
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
  g_autofree char *pattern = g_strdup_printf ("*cannot read %s: permission denied*root*", energy);
  g_test_trap_assert_stderr (pattern);
  vp_test_remove_tree (root);
}

/* The model: energy = idle * elapsed + (max - idle) * busy, per package. */
static void
test_model (void)
{
  g_autoptr (VpTopology) topology = two_package_topology ();
  g_autoptr (VpSensor) sensor = vp_model_open (topology, 10.0, 110.0);
  g_assert_cmpstr (vp_sensor_name (sensor), ==, "model");
  g_assert_true (vp_sensor_estimated (sensor));
  g_assert_cmpuint (vp_sensor_n_zones (sensor), ==, 2);
  g_assert_cmpstr (vp_sensor_zone (sensor, 1)->name, ==, "package-1");

  VpCpuTimes times0[4] = { { 0, 10 * 1000000000ull }, { 0, 10 * 1000000000ull },
                           { 0, 10 * 1000000000ull }, { 0, 10 * 1000000000ull } };
  /* One second later: package 0 half busy (one CPU of two fully), package 1 idle. */
  VpCpuTimes times1[4] = { { 1000000000ull, 11 * 1000000000ull }, { 0, 11 * 1000000000ull },
                           { 0, 11 * 1000000000ull }, { 0, 11 * 1000000000ull } };
  VpCpuSample s0 = { 4, times0 }, s1 = { 4, times1 };
  guint64 r0[2], r1[2];
  gboolean ok[2];
  g_assert_cmpuint (vp_sensor_read (sensor, &s0, r0, ok, NULL), ==, 0);
  g_assert_cmpuint (vp_sensor_read (sensor, &s1, r1, ok, NULL), ==, 0);
  /* 10 W idle + 100 W x 0.5 busy over 1 s = 60 J; the idle package 10 J. */
  g_assert_cmpuint (r1[0] - r0[0], ==, 60000000);
  g_assert_cmpuint (r1[1] - r0[1], ==, 10000000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/powercap/single-socket", test_single_socket);
  g_test_add_func ("/powercap/two-sockets-dram", test_two_sockets_dram);
  g_test_add_func ("/powercap/psys", test_psys);
  g_test_add_func ("/powercap/amd", test_amd);
  g_test_add_func ("/powercap/hex-children", test_hex_children);
  g_test_add_func ("/powercap/garbage", test_garbage);
  g_test_add_func ("/powercap/missing-max-energy-range", test_missing_max_energy_range);
  g_test_add_func ("/powercap/no-zones", test_no_zones);
  g_test_add_func ("/powercap/wrap", test_wrapping_counter);
  g_test_add_func ("/powercap/garbage-at-runtime", test_garbage_at_runtime);
  g_test_add_func ("/powercap/unreadable-energy", test_unreadable_energy);
  g_test_add_func ("/model/formula", test_model);
  return g_test_run ();
}
