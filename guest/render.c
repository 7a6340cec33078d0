/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the views of a sample: Prometheus /metrics, JSON, and the text of `top`.
 *
 * Energies are printed from integer µJ (vp_promtext_sample_micro), so a
 * counter shows exactly the value of the tree it was read from. */
#include "config.h"

#include "guest/render.h"
#include "shared/vp-fileio.h"
#include "shared/vp-promtext.h"

#include <json-glib/json-glib.h>
#include <unistd.h>

static double
watts (guint64 energy_uj, double seconds)
{
  return seconds > 0 ? energy_uj / 1e6 / seconds : 0;
}

static const VpReaderZone *
zone_at (const VpAgentView *view, guint i)
{
  return vp_reader_zone (view->reader, i);
}

/* The agent's own CPU time and memory, as every Prometheus client library
 * exports them. */
static void
add_process_metrics (VpPromText *text)
{
  char buf[1024];
  long ticks_per_s = sysconf (_SC_CLK_TCK), page = sysconf (_SC_PAGESIZE);
  if (vp_read_small_file ("/proc/self/stat", buf, sizeof buf, NULL) > 0 && strrchr (buf, ')'))
    {
      g_auto (GStrv) fields = g_strsplit (strrchr (buf, ')') + 2, " ", 15);
      guint64 utime, stime;
      if (g_strv_length (fields) >= 14 &&
          g_ascii_string_to_unsigned (fields[11], 10, 0, G_MAXUINT64, &utime, NULL) &&
          g_ascii_string_to_unsigned (fields[12], 10, 0, G_MAXUINT64, &stime, NULL))
        {
          vp_promtext_family (text, "process_cpu_seconds_total", "counter", "CPU time the agent has used.");
          vp_promtext_sample (text, (double) (utime + stime) / ticks_per_s, NULL);
        }
    }
  if (vp_read_small_file ("/proc/self/statm", buf, sizeof buf, NULL) > 0)
    {
      g_auto (GStrv) fields = g_strsplit (buf, " ", 3);
      guint64 resident;
      if (g_strv_length (fields) >= 2 && g_ascii_string_to_unsigned (fields[1], 10, 0, G_MAXUINT64, &resident, NULL))
        {
          vp_promtext_family (text, "process_resident_memory_bytes", "gauge", "Resident memory of the agent.");
          vp_promtext_sample (text, (double) resident * page, NULL);
        }
    }
}

char *
vp_render_metrics (const VpAgentView *view, gsize *length)
{
  g_autoptr (VpPromText) text = vp_promtext_new ();
  guint n = vp_reader_n_zones (view->reader);
  const VpProcSplitResult *procs = view->procs;

  vp_promtext_family (text, "vpower_up", "gauge",
                      "1 when the last read of the powercap tree succeeded for every zone, else 0.");
  vp_promtext_sample (text, vp_reader_up (view->reader) ? 1 : 0, NULL);

  vp_promtext_family (text, "vpower_energy_joules_total", "counter",
                      "Energy of this machine per RAPL zone, as its powercap tree counts it (wraps unfolded).");
  for (guint i = 0; i < n; i++)
    vp_promtext_sample_micro (text, zone_at (view, i)->total_uj,
                              "zone", zone_at (view, i)->name, "index", zone_at (view, i)->key, NULL);

  if (view->have_interval)
    {
      vp_promtext_family (text, "vpower_power_watts", "gauge", "Average power per RAPL zone over the last interval.");
      for (guint i = 0; i < n; i++)
        if (zone_at (view, i)->present)
          vp_promtext_sample (text, watts (zone_at (view, i)->interval_uj, view->interval_s),
                              "zone", zone_at (view, i)->name, "index", zone_at (view, i)->key, NULL);

      vp_promtext_family (text, "vpower_process_energy_joules_total", "counter",
                          "Energy attributed to a process since the agent first saw it (the top processes of the "
                          "last interval; pid=\"" VP_OTHER_LABEL "\" holds everything else).");
      for (guint i = 0; i < procs->top->len; i++)
        {
          const VpProcShare *share = &g_array_index (procs->top, VpProcShare, i);
          char pid[16];
          g_snprintf (pid, sizeof pid, "%d", share->pid);
          vp_promtext_sample_micro (text, share->total_uj, "pid", pid, "comm", share->comm, NULL);
        }
      vp_promtext_sample_micro (text, procs->other_total_uj, "pid", VP_OTHER_LABEL, "comm", VP_OTHER_LABEL, NULL);

      vp_promtext_family (text, "vpower_process_power_watts", "gauge",
                          "Average power attributed to a process over the last interval; with "
                          "pid=\"" VP_OTHER_LABEL "\" they add up to the power split (the package zones', else psys).");
      for (guint i = 0; i < procs->top->len; i++)
        {
          const VpProcShare *share = &g_array_index (procs->top, VpProcShare, i);
          char pid[16];
          g_snprintf (pid, sizeof pid, "%d", share->pid);
          vp_promtext_sample (text, watts (share->energy_uj, view->interval_s), "pid", pid, "comm", share->comm, NULL);
        }
      vp_promtext_sample (text, watts (procs->other_uj, view->interval_s),
                          "pid", VP_OTHER_LABEL, "comm", VP_OTHER_LABEL, NULL);
    }

  vp_promtext_family (text, "vpower_agent_wraps_total", "counter",
                      "Times a zone's energy_uj wrapped at max_energy_range_uj.");
  for (guint i = 0; i < n; i++)
    vp_promtext_sample (text, (double) zone_at (view, i)->wraps,
                        "zone", zone_at (view, i)->name, "index", zone_at (view, i)->key, NULL);
  vp_promtext_family (text, "vpower_agent_resets_total", "counter",
                      "Times a zone's energy_uj went backwards without wrapping (counted from zero, not as a spike).");
  for (guint i = 0; i < n; i++)
    vp_promtext_sample (text, (double) zone_at (view, i)->resets,
                        "zone", zone_at (view, i)->name, "index", zone_at (view, i)->key, NULL);

  vp_promtext_family (text, "vpower_agent_samples_total", "counter", "Sampling intervals completed.");
  vp_promtext_sample (text, (double) view->samples, NULL);
  vp_promtext_family (text, "vpower_agent_read_errors_total", "counter",
                      "Samples and scrapes that could not read the whole powercap tree.");
  vp_promtext_sample (text, (double) view->read_errors, NULL);
  vp_promtext_family (text, "vpower_agent_scrapes_total", "counter", "Scrapes of /metrics served.");
  vp_promtext_sample (text, (double) view->scrapes, NULL);
  vp_promtext_family (text, "vpower_agent_sample_duration_seconds", "gauge", "How long the last sample took.");
  vp_promtext_sample (text, view->sample_seconds, NULL);
  vp_promtext_family (text, "vpower_agent_processes", "gauge", "Processes seen at the last sample.");
  vp_promtext_sample (text, procs->n_processes, NULL);
  vp_promtext_family (text, "vpower_agent_build_info", "gauge", "The agent's version and the tree it reads.");
  vp_promtext_sample (text, 1, "version", PACKAGE_VERSION, "root", vp_reader_root (view->reader), NULL);
  add_process_metrics (text);
  return vp_promtext_steal (g_steal_pointer (&text), length);
}

char *
vp_render_channel_metrics (const char *status_text, gsize *length)
{
  static const struct {
    const char *key, *family, *type, *help;
  } families[] = {
    { "messages", "vpower_agent_channel_messages_total", "counter", "Channel messages from the host applied to the tree." },
    { "refused", "vpower_agent_channel_refused_total", "counter",
      "Channel input refused: damaged, malformed, replayed or out-of-order messages." },
    { "origin_changes", "vpower_agent_channel_origin_changes_total", "counter",
      "Times the host id or counter epoch changed (a migration, counters begun anew); the guest's counters carried on." },
    { "connected", "vpower_agent_channel_connected", "gauge", "1 while the host is connected to the channel." },
  };
  g_autoptr (VpPromText) text = vp_promtext_new ();
  g_auto (GStrv) lines = g_strsplit (status_text ? status_text : "", "\n", -1);
  for (guint f = 0; f < G_N_ELEMENTS (families); f++)
    for (char **line = lines; *line; line++)
      {
        g_auto (GStrv) words = g_strsplit (*line, " ", 2);
        guint64 value;
        if (g_strv_length (words) == 2 && g_str_equal (words[0], families[f].key) && vp_parse_u64 (words[1], &value))
          {
            vp_promtext_family (text, families[f].family, families[f].type, families[f].help);
            vp_promtext_sample (text, (double) value, NULL);
          }
      }
  return vp_promtext_steal (g_steal_pointer (&text), length);
}

char *
vp_render_json (const VpAgentView *view, gsize *length)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  const VpProcSplitResult *procs = view->procs;
  long ticks_per_s = sysconf (_SC_CLK_TCK);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "root");
  json_builder_add_string_value (b, vp_reader_root (view->reader));
  json_builder_set_member_name (b, "up");
  json_builder_add_boolean_value (b, vp_reader_up (view->reader));
  if (vp_reader_problem (view->reader))
    {
      json_builder_set_member_name (b, "problem");
      json_builder_add_string_value (b, vp_reader_problem (view->reader));
    }
  json_builder_set_member_name (b, "time");
  json_builder_add_double_value (b, view->sampled_at_us / 1e6);
  json_builder_set_member_name (b, "interval_s");
  json_builder_add_double_value (b, view->interval_s);

  json_builder_set_member_name (b, "zones");
  json_builder_begin_array (b);
  for (guint i = 0; i < vp_reader_n_zones (view->reader); i++)
    {
      const VpReaderZone *zone = zone_at (view, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "zone");
      json_builder_add_string_value (b, zone->name);
      json_builder_set_member_name (b, "index");
      json_builder_add_string_value (b, zone->key);
      json_builder_set_member_name (b, "present");
      json_builder_add_boolean_value (b, zone->present);
      json_builder_set_member_name (b, "max_energy_range_uj");
      json_builder_add_int_value (b, (gint64) zone->max_energy_range_uj);
      json_builder_set_member_name (b, "start_energy_uj");
      json_builder_add_int_value (b, (gint64) zone->interval_start_uj);
      json_builder_set_member_name (b, "energy_uj");
      json_builder_add_int_value (b, (gint64) zone->raw_uj);
      json_builder_set_member_name (b, "energy_total_uj");
      json_builder_add_int_value (b, (gint64) zone->total_uj);
      json_builder_set_member_name (b, "interval_uj");
      json_builder_add_int_value (b, (gint64) zone->interval_uj);
      json_builder_set_member_name (b, "power_watts");
      json_builder_add_double_value (b, watts (zone->interval_uj, view->interval_s));
      json_builder_set_member_name (b, "wraps");
      json_builder_add_int_value (b, (gint64) zone->wraps);
      json_builder_set_member_name (b, "resets");
      json_builder_add_int_value (b, (gint64) zone->resets);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "processes");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "energy_uj");
  json_builder_add_int_value (b, (gint64) procs->energy_uj);
  json_builder_set_member_name (b, "busy_cpu_seconds");
  json_builder_add_double_value (b, (double) procs->busy_ticks / ticks_per_s);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, procs->n_processes);
  json_builder_set_member_name (b, "top");
  json_builder_begin_array (b);
  for (guint i = 0; i < procs->top->len; i++)
    {
      const VpProcShare *share = &g_array_index (procs->top, VpProcShare, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "pid");
      json_builder_add_int_value (b, share->pid);
      json_builder_set_member_name (b, "comm");
      json_builder_add_string_value (b, share->comm);
      json_builder_set_member_name (b, "cpu_seconds");
      json_builder_add_double_value (b, (double) share->cpu_ticks / ticks_per_s);
      json_builder_set_member_name (b, "energy_uj");
      json_builder_add_int_value (b, (gint64) share->energy_uj);
      json_builder_set_member_name (b, "power_watts");
      json_builder_add_double_value (b, watts (share->energy_uj, view->interval_s));
      json_builder_set_member_name (b, "energy_total_uj");
      json_builder_add_int_value (b, (gint64) share->total_uj);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "other");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "energy_uj");
  json_builder_add_int_value (b, (gint64) procs->other_uj);
  json_builder_set_member_name (b, "power_watts");
  json_builder_add_double_value (b, watts (procs->other_uj, view->interval_s));
  json_builder_set_member_name (b, "energy_total_uj");
  json_builder_add_int_value (b, (gint64) procs->other_total_uj);
  json_builder_end_object (b);
  json_builder_end_object (b);

  json_builder_end_object (b);

  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  char *json = json_generator_to_data (generator, NULL);
  char *with_newline = g_strconcat (json, "\n", NULL);
  g_free (json);
  *length = strlen (with_newline);
  return with_newline;
}

char *
vp_render_text (const VpAgentView *view, gsize *length)
{
  GString *out = g_string_new (NULL);
  const VpProcSplitResult *procs = view->procs;
  g_autoptr (GDateTime) now = g_date_time_new_from_unix_local (view->sampled_at_us / G_USEC_PER_SEC);
  g_autofree char *clock = now ? g_date_time_format (now, "%H:%M:%S") : g_strdup ("?");

  g_string_append_printf (out, "vpower-agent  %s  %s  interval %.1f s\n", clock, vp_reader_root (view->reader),
                          view->interval_s);
  if (vp_reader_problem (view->reader))
    g_string_append_printf (out, "  NOT READABLE: %s\n", vp_reader_problem (view->reader));
  g_string_append_printf (out, "\n%-16s %-7s %10s %16s\n", "ZONE", "INDEX", "WATTS", "JOULES");
  for (guint i = 0; i < vp_reader_n_zones (view->reader); i++)
    {
      const VpReaderZone *zone = zone_at (view, i);
      g_string_append_printf (out, "%-16s %-7s %10.2f %16.6f%s\n", zone->name, zone->key,
                              watts (zone->interval_uj, view->interval_s), zone->total_uj / 1e6,
                              zone->present ? "" : "  (missing)");
    }
  g_string_append_printf (out, "\n%7s %-16s %8s %10s %14s\n", "PID", "COMMAND", "CPU%", "WATTS", "JOULES");
  for (guint i = 0; i < procs->top->len; i++)
    {
      const VpProcShare *share = &g_array_index (procs->top, VpProcShare, i);
      double cpu = view->interval_s > 0 ? 100.0 * share->cpu_ticks / sysconf (_SC_CLK_TCK) / view->interval_s : 0;
      g_string_append_printf (out, "%7d %-16s %8.1f %10.3f %14.6f\n", share->pid, share->comm, cpu,
                              watts (share->energy_uj, view->interval_s), share->total_uj / 1e6);
    }
  g_string_append_printf (out, "%7s %-16s %8s %10.3f %14.6f\n", "-", VP_OTHER_LABEL, "",
                          watts (procs->other_uj, view->interval_s), procs->other_total_uj / 1e6);
  *length = out->len;
  return g_string_free (out, FALSE);
}
