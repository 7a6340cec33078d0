/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: Prometheus exposition: builder rules, escaping, and `promtool check metrics`. */
#include "config.h"

#include "host/snapshot/snapshot.h"
#include "shared/vp-promtext.h"

#include <glib/gstdio.h>
#include <unistd.h>

static void
test_builder_format (void)
{
  g_autoptr (VpPromText) text = vp_promtext_new ();
  vp_promtext_family (text, "vpower_x_joules_total", "counter", "Help with \\ and\nnewline");
  vp_promtext_sample_micro (text, 1234567, "domain", "we\"ird\\na\nme", NULL);
  vp_promtext_sample_micro (text, 5, NULL);
  vp_promtext_family (text, "vpower_y", "gauge", "plain");
  vp_promtext_sample (text, 0.25, "a", "1", "b", "2", NULL);
  g_autofree char *out = vp_promtext_steal (g_steal_pointer (&text), NULL);
  g_assert_cmpstr (out, ==,
                   "# HELP vpower_x_joules_total Help with \\\\ and\\nnewline\n"
                   "# TYPE vpower_x_joules_total counter\n"
                   "vpower_x_joules_total{domain=\"we\\\"ird\\\\na\\nme\"} 1.234567\n"
                   "vpower_x_joules_total 0.000005\n"
                   "# HELP vpower_y plain\n"
                   "# TYPE vpower_y gauge\n"
                   "vpower_y{a=\"1\",b=\"2\"} 0.25\n");
}

/* µJ are printed exactly: a double would turn 2^53+1 µJ into ...2. */
static void
test_micro_exact (void)
{
  g_autoptr (VpPromText) text = vp_promtext_new ();
  vp_promtext_family (text, "m_total", "counter", "h");
  vp_promtext_sample_micro (text, G_GUINT64_CONSTANT (9007199254740993), NULL);
  g_autofree char *out = vp_promtext_steal (g_steal_pointer (&text), NULL);
  g_assert_nonnull (strstr (out, "m_total 9007199254.740993\n"));
}

static VpSnapshot *
sample_snapshot (void)
{
  VpSnapshot *s = vp_snapshot_new ();
  s->sensor = g_strdup ("powercap");
  s->policy = g_strdup ("busy");
  s->topology = g_strdup ("mirror");
  s->inventory = g_strdup ("libvirt");
  s->ticks = 42;
  s->interval_s = 1;
  const char *names[] = { "package-0", "dram" }, *indices[] = { "0", "0:1" };
  for (guint z = 0; z < 2; z++)
    {
      VpZoneSnapshot zone = { names[z], indices[z], 262143328850, 100, 5000000 + z, 12.5 };
      g_array_append_val (s->zones, zone);
    }
  /* Two VMs in the snapshot's own flat storage, as the engine lays them out. */
  s->vm_storage = g_new0 (VpVmSnapshot, 2);
  s->zone_storage = g_new0 (VpZoneSnapshot, 4);
  for (guint v = 0; v < 2; v++)
    {
      VpVmSnapshot *vm = &s->vm_storage[v];
      vm->name = v ? "db \"primary\"" : "web1";
      vm->uuid = v ? "0b5d6c1e-0000-4000-8000-000000000001" : "0b5d6c1e-0000-4000-8000-000000000000";
      vm->state = "running";
      vm->arrival = "booted";
      /* Owner labels as vp-metadata.c leaves them: no control characters,
       * but quotes and backslashes a tenant typed. */
      static const char *const labels[] = { "project_id", "9a8b", "project", "acme \"web\" \\ 1",
                                            "label_team", "}, evil=\"1", NULL };
      vm->labels = v ? NULL : labels;
      vm->cpu_ns_total = 1500000000;
      vm->n_zones = 2;
      vm->zones = &s->zone_storage[v * 2];
      for (guint z = 0; z < 2; z++)
        vm->zones[z] = (VpZoneSnapshot) { names[z], indices[z], 262143328850, 7, 7, 0.5 };
      g_ptr_array_add (s->vms, vm);
    }
  return s;
}

static void
test_snapshot_metrics_names (void)
{
  g_autoptr (VpSnapshot) snapshot = sample_snapshot ();
  g_autofree char *out = vp_snapshot_metrics (snapshot, NULL);
  /* The contract's names (design.md). */
  static const char *const expected[] = {
    "vpower_host_energy_joules_total{zone=\"package-0\",index=\"0\"} 5.000000\n",
    "vpower_host_power_watts{zone=\"dram\",index=\"0:1\"} 12.5\n",
    "vpower_vm_energy_joules_total{domain=\"web1\",uuid=\"0b5d6c1e-0000-4000-8000-000000000000\",zone=\"package-0\",index=\"0\"} 0.000007\n",
    "vpower_vm_power_watts{domain=\"db \\\"primary\\\"\"",
    "vpower_vm_cpu_seconds_total{domain=\"web1\",uuid=\"0b5d6c1e-0000-4000-8000-000000000000\"} 1.500000\n",
    "vpower_unattributed_energy_joules_total{",
    "vpower_ticks_total 42\n",
    /* Owner labels are on the info series only, escaped, after the fixed ones. */
    "vpower_vm_info{domain=\"web1\",uuid=\"0b5d6c1e-0000-4000-8000-000000000000\",state=\"running\",arrival=\"booted\","
    "project_id=\"9a8b\",project=\"acme \\\"web\\\" \\\\ 1\",label_team=\"}, evil=\\\"1\"} 1\n",
    "vpower_vm_info{domain=\"db \\\"primary\\\"\",uuid=\"0b5d6c1e-0000-4000-8000-000000000001\",state=\"running\",arrival=\"booted\"} 1\n",
    "vpower_engine_start_time_seconds ",
    "vpower_sensor_errors_total 0\n",
    "vpower_libvirt_connected 0\n",
    "vpower_tick_duration_seconds ",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    if (!strstr (out, expected[i]))
      g_error ("missing %s in:\n%s", expected[i], out);
  g_assert_true (g_str_has_suffix (out, "\n"));
}

/* The real linter, from Debian's prometheus package. */
static void
test_promtool_accepts (void)
{
  const char *promtool = g_getenv ("PROMTOOL");
  if (!promtool || !*promtool)
    {
      if (g_strcmp0 (g_getenv ("CI"), "true") == 0)
        g_error ("promtool is required in CI (apt-get install prometheus)");
      g_test_skip ("promtool not installed (apt-get install prometheus)");
      return;
    }
  g_autoptr (VpSnapshot) snapshot = sample_snapshot ();
  g_autofree char *out = vp_snapshot_metrics (snapshot, NULL);
  g_autoptr (GError) error = NULL;
  int status = -1;
  g_autofree char *child_out = NULL, *child_err = NULL;
  /* promtool reads the exposition on stdin; g_spawn_sync cannot feed it. */
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("vp-metrics-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, out, -1, NULL));
  g_autofree char *command = g_strdup_printf ("'%s' check metrics < '%s'", promtool, path);
  const char *shell[] = { "/bin/sh", "-c", command, NULL };
  g_assert_true (g_spawn_sync (NULL, (char **) shell, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &child_out, &child_err, &status, &error));
  g_unlink (path);
  if (!g_spawn_check_wait_status (status, NULL) || (child_out && *child_out) || (child_err && *child_err))
    g_error ("promtool check metrics complained:\n%s%s\n--- input ---\n%s", child_out, child_err, out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/promtext/builder", test_builder_format);
  g_test_add_func ("/promtext/micro-exact", test_micro_exact);
  g_test_add_func ("/metrics/names", test_snapshot_metrics_names);
  g_test_add_func ("/metrics/promtool", test_promtool_accepts);
  return g_test_run ();
}
