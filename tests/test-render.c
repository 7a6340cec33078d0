/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: what the agent shows (guest/render.c over guest/sampler.c):
 * the exposition's exact values, families and escaping, and the JSON. */
#include "config.h"

#include "guest/render.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>

typedef struct {
  char *dir;
  char *tree;
  char *proc;
} Fixture;

static void
write_file (const char *path, const char *text)
{
  g_autofree char *parent = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
write_zone (const Fixture *f, const char *key, const char *name, guint64 energy)
{
  g_autofree char *dir = g_strdup_printf ("%s/intel-rapl:%s", f->tree, key);
  g_autofree char *name_path = g_build_filename (dir, "name", NULL);
  g_autofree char *max_path = g_build_filename (dir, "max_energy_range_uj", NULL);
  g_autofree char *energy_path = g_build_filename (dir, "energy_uj", NULL);
  g_autofree char *name_text = g_strdup_printf ("%s\n", name);
  g_autofree char *energy_text = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", energy);
  write_file (name_path, name_text);
  write_file (max_path, "262143328850\n");
  write_file (energy_path, energy_text);
}

/* One process whose name needs escaping in a label value. */
static void
write_proc (const Fixture *f, guint64 busy, guint64 cpu)
{
  g_autofree char *stat = g_build_filename (f->proc, "stat", NULL);
  g_autofree char *pid_stat = g_build_filename (f->proc, "77", "stat", NULL);
  g_autofree char *stat_text = g_strdup_printf ("cpu  %" G_GUINT64_FORMAT " 0 0 100 0 0 0 0 0 0\n", busy);
  g_autofree char *pid_text = g_strdup_printf ("77 (a\"b\\c) R 1 1 1 0 -1 0 0 0 0 0 %" G_GUINT64_FORMAT
                                               " 0 0 0 20 0 1 0 99 0 0\n", cpu);
  write_file (stat, stat_text);
  write_file (pid_stat, pid_text);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("vp-render-XXXXXX", NULL);
  f->tree = g_build_filename (f->dir, "tree", NULL);
  f->proc = g_build_filename (f->dir, "proc", NULL);
  write_zone (f, "0", "package-0", 1000000);
  write_zone (f, "0:0", "core", 400000);
  write_proc (f, 1000, 500);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (command), ==, 0);
  g_free (f->dir);
  g_free (f->tree);
  g_free (f->proc);
}

/* Two samples: 3 J of package energy in the interval; the process ran 30 of
 * the 40 busy ticks, so it gets 2.25 J and "other" 0.75 J. */
static VpSampler *
two_samples (Fixture *f)
{
  VpSampler *sampler = vp_sampler_new (f->tree, f->proc, 5);
  vp_sampler_sample (sampler);
  write_zone (f, "0", "package-0", 4000000);
  write_zone (f, "0:0", "core", 1400000);
  write_proc (f, 1040, 530);
  vp_sampler_sample (sampler);
  return sampler;
}

static void
test_metrics_exposition (Fixture *f, gconstpointer data)
{
  g_autoptr (VpSampler) sampler = two_samples (f);
  /* A scrape re-reads the counters: 0.5 J more since the sample. */
  write_zone (f, "0", "package-0", 4500000);
  gsize length = 0;
  g_autofree char *text = vp_sampler_render (sampler, TRUE, vp_render_metrics, &length);
  g_assert_cmpuint (length, ==, strlen (text));
  g_assert_true (g_str_has_suffix (text, "\n"));

  g_assert_nonnull (strstr (text, "# TYPE vpower_up gauge\nvpower_up 1\n"));
  g_assert_nonnull (strstr (text, "# TYPE vpower_energy_joules_total counter\n"
                                  "vpower_energy_joules_total{zone=\"package-0\",index=\"0\"} 4.500000\n"
                                  "vpower_energy_joules_total{zone=\"core\",index=\"0:0\"} 1.400000\n"));
  g_assert_nonnull (strstr (text, "vpower_process_energy_joules_total{pid=\"77\",comm=\"a\\\"b\\\\c\"} 2.250000\n"));
  g_assert_nonnull (strstr (text, "vpower_process_energy_joules_total{pid=\"" VP_OTHER_LABEL "\",comm=\""
                                  VP_OTHER_LABEL "\"} 0.750000\n"));
  g_assert_nonnull (strstr (text, "# TYPE vpower_power_watts gauge\n"));
  g_assert_nonnull (strstr (text, "# TYPE vpower_process_power_watts gauge\n"));
  g_assert_nonnull (strstr (text, "vpower_agent_samples_total 2\n"));
  g_assert_nonnull (strstr (text, "vpower_agent_scrapes_total 1\n"));

  /* Every family is announced once, before its samples. */
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GHashTable) typed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (char **line = lines; *line && **line; line++)
    {
      if (g_str_has_prefix (*line, "# TYPE "))
        {
          g_auto (GStrv) parts = g_strsplit (*line + 7, " ", 2);
          g_assert_false (g_hash_table_contains (typed, parts[0]));
          g_hash_table_add (typed, g_strdup (parts[0]));
        }
      else if (**line != '#')
        {
          g_autofree char *family = g_strndup (*line, strcspn (*line, "{ "));
          g_assert_true (g_hash_table_contains (typed, family));
        }
    }
}

/* The tree is gone: vpower_up 0, the counters keep their last values. */
static void
test_metrics_when_down (Fixture *f, gconstpointer data)
{
  g_autoptr (VpSampler) sampler = two_samples (f);
  g_autofree char *gone = g_strconcat (f->tree, ".gone", NULL);
  g_assert_cmpint (g_rename (f->tree, gone), ==, 0);
  gsize length;
  g_test_expect_message ("vpower-agent", G_LOG_LEVEL_WARNING, "*cannot read the powercap tree*");
  g_autofree char *text = vp_sampler_render (sampler, TRUE, vp_render_metrics, &length);
  g_test_assert_expected_messages ();
  g_assert_nonnull (strstr (text, "\nvpower_up 0\n"));
  g_assert_nonnull (strstr (text, "vpower_energy_joules_total{zone=\"package-0\",index=\"0\"} 4.000000\n"));
  g_assert_nonnull (strstr (text, "vpower_agent_read_errors_total 1\n"));
}

/* JSON: the interval's zone energy and the per-process split add up exactly. */
static void
test_json (Fixture *f, gconstpointer data)
{
  g_autoptr (VpSampler) sampler = two_samples (f);
  gsize length;
  g_autofree char *text = vp_sampler_render (sampler, FALSE, vp_render_json, &length);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, text, (gssize) length, NULL));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (json_object_get_boolean_member (root, "up"));
  JsonArray *zones = json_object_get_array_member (root, "zones");
  g_assert_cmpuint (json_array_get_length (zones), ==, 2);
  JsonObject *package = json_array_get_object_element (zones, 0);
  g_assert_cmpstr (json_object_get_string_member (package, "zone"), ==, "package-0");
  g_assert_cmpint (json_object_get_int_member (package, "start_energy_uj"), ==, 1000000);
  g_assert_cmpint (json_object_get_int_member (package, "energy_uj"), ==, 4000000);
  g_assert_cmpint (json_object_get_int_member (package, "interval_uj"), ==, 3000000);

  JsonObject *processes = json_object_get_object_member (root, "processes");
  JsonArray *top = json_object_get_array_member (processes, "top");
  gint64 sum = json_object_get_int_member (json_object_get_object_member (processes, "other"), "energy_uj");
  for (guint i = 0; i < json_array_get_length (top); i++)
    sum += json_object_get_int_member (json_array_get_object_element (top, i), "energy_uj");
  g_assert_cmpint (json_object_get_int_member (processes, "energy_uj"), ==, 3000000);
  g_assert_cmpint (sum, ==, 3000000);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (top, 0), "comm"), ==, "a\"b\\c");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/render/metrics", Fixture, NULL, fixture_setup, test_metrics_exposition, fixture_teardown);
  g_test_add ("/render/metrics-down", Fixture, NULL, fixture_setup, test_metrics_when_down, fixture_teardown);
  g_test_add ("/render/json", Fixture, NULL, fixture_setup, test_json, fixture_teardown);
  return g_test_run ();
}
