/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerctl: the human-readable views of vpowerd's answers (tables and summaries).
 *
 * Pure functions of the JSON that --json prints, so what a person reads and
 * what a script parses cannot disagree. */
#include "config.h"

#include "host/vpowerctl/ctl-render.h"

static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;
  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
           ? json_node_get_string (node) : NULL;
}

static const char *
string_or_unknown (JsonObject *object, const char *name)
{
  const char *value = string_member (object, name);
  return value ? value : "?";
}

static double
number_member (JsonObject *object, const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;
  return node && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_double (node) : 0;
}

static gboolean
flag_member (JsonObject *object, const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;
  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
         json_node_get_boolean (node);
}

static JsonArray *
array_member (JsonObject *object, const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;
  return node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static guint
length_of (JsonArray *array)
{
  return array ? json_array_get_length (array) : 0;
}

static gboolean
is_top_level (JsonObject *zone)
{
  return strchr (string_or_unknown (zone, "index"), ':') == NULL;
}

/* g_strv_builder_take needs GLib 2.80; Debian 12 has 2.74. */
static void
add_owned (GStrvBuilder *builder, char *value)
{
  g_strv_builder_add (builder, value);
  g_free (value);
}

/* --- a plain text table: first column left-aligned, the rest right --- */

static char *
render_table (GPtrArray *rows, guint left_aligned)
{
  guint n_columns = rows->len ? g_strv_length (rows->pdata[0]) : 0;
  g_autofree guint *width = g_new0 (guint, n_columns);
  for (guint r = 0; r < rows->len; r++)
    for (guint c = 0; c < n_columns; c++)
      width[c] = MAX (width[c], (guint) g_utf8_strlen (((char **) rows->pdata[r])[c], -1));
  GString *out = g_string_new (NULL);
  for (guint r = 0; r < rows->len; r++)
    {
      char **row = rows->pdata[r];
      for (guint c = 0; c < n_columns; c++)
        {
          int pad = (int) width[c] - (int) g_utf8_strlen (row[c], -1);
          if (c > 0)
            g_string_append (out, "  ");
          if (c >= left_aligned)
            g_string_append_printf (out, "%*s", pad, "");
          g_string_append (out, row[c]);
          if (c < left_aligned && c + 1 < n_columns)
            g_string_append_printf (out, "%*s", pad, "");
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

/* --- status --- */

static void
append_zone_powers (GString *out, JsonArray *zones)
{
  for (guint z = 0; z < length_of (zones); z++)
    {
      JsonObject *zone = json_array_get_object_element (zones, z);
      g_string_append_printf (out, "%s%s %.2f W", z ? ", " : "", string_or_unknown (zone, "name"),
                              number_member (zone, "power_w"));
    }
  if (!length_of (zones))
    g_string_append (out, "no zones");
}

static JsonObject *
object_member (JsonObject *object, const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* "wiring     auto: 5 wired, 1 no-controller; 3 hot-plugged by vpowerd", then each VM an operator must
 * look at, with what to do. */
static void
append_wiring_summary (GString *out, JsonObject *result)
{
  JsonObject *wiring = object_member (result, "wiring");
  if (!wiring)
    return;
  g_string_append_printf (out, "wiring     %s:", string_or_unknown (wiring, "mode"));
  JsonObject *vms = object_member (wiring, "vms");
  g_autoptr (GList) states = vms ? json_object_get_members (vms) : NULL;
  for (GList *l = states; l; l = l->next)
    g_string_append_printf (out, "%s %.0f %s", l == states ? "" : ",", number_member (vms, l->data),
                            (const char *) l->data);
  if (!states)
    g_string_append (out, " no VMs");
  g_string_append_printf (out, "; %.0f hot-plugged by vpowerd", number_member (wiring, "hotplugs"));
  if (number_member (wiring, "definitions") > 0)
    g_string_append_printf (out, ", %.0f added to definitions", number_member (wiring, "definitions"));
  if (number_member (wiring, "refusals") > 0)
    g_string_append_printf (out, ", %.0f refused by libvirt", number_member (wiring, "refusals"));
  g_string_append_c (out, '\n');
  JsonArray *attention = array_member (result, "wiring_attention");
  for (guint i = 0; i < length_of (attention); i++)
    {
      JsonObject *vm = json_array_get_object_element (attention, i);
      g_string_append_printf (out, "  not wired: %s (%s): %s\n", string_or_unknown (vm, "name"),
                              string_or_unknown (vm, "state"), string_or_unknown (vm, "reason"));
    }
}

char *
vp_ctl_render_status (JsonObject *result)
{
  GString *out = g_string_new (NULL);
  const char *health = string_or_unknown (result, "health");
  g_string_append_printf (out, "vpowerd %s: %s", string_or_unknown (result, "version"), health);
  if (g_str_equal (health, "starting"))
    g_string_append (out, ", no tick completed yet\n");
  else
    g_string_append_printf (out, ", last tick %.1f s ago (every %g s, %.0f ticks)\n",
                            number_member (result, "tick_age_s"), number_member (result, "interval_s"),
                            number_member (result, "ticks"));
  g_string_append_printf (out, "sensor     %s%s\n", string_or_unknown (result, "sensor"),
                          flag_member (result, "estimated") ? " (estimated: RAPL is not readable)" : "");
  const char *cpu_source = string_or_unknown (result, "cpu_source");
  g_string_append_printf (out, "cpu time   %s%s\n", cpu_source,
                          g_str_equal (cpu_source, "bpf") ? " (a sched_switch program: per CPU)"
                          : g_str_equal (cpu_source, "proc") ? " (/proc: per thread, by the CPU it last ran on)" : "");
  g_string_append_printf (out, "policy     %s, topology %s\n", string_or_unknown (result, "policy"),
                          string_or_unknown (result, "topology"));
  JsonObject *platform = object_member (result, "platform");
  if (platform)
    g_string_append_printf (out, "platform   %s: %s, %.1f W%s; the rest of the machine split by %s (a policy)\n",
                            string_or_unknown (platform, "source"), string_or_unknown (platform, "description"),
                            number_member (platform, "watts"),
                            flag_member (platform, "stale") ? " (STALE: the meter does not answer)" : "",
                            string_or_unknown (platform, "split"));
  else
    g_string_append (out, "platform   none: no psys zone is published\n");
  const char *connect = string_member (result, "connect");
  if (connect)
    g_string_append_printf (out, "inventory  libvirt %s, %s\n", connect,
                            flag_member (result, "libvirt_connected") ? "connected" : "NOT connected");
  else
    g_string_append_printf (out, "inventory  %s\n", string_or_unknown (result, "inventory"));
  g_string_append_printf (out, "VMs        %.0f, %.0f with a connected channel, %.0f migrated away (counters kept)\n",
                          number_member (result, "vms"), number_member (result, "channels_connected"),
                          number_member (result, "vms_departed"));
  append_wiring_summary (out, result);
  g_string_append_printf (out, "host id    %s (told to guests over the channel)\n", string_or_unknown (result, "host_id"));
  const char *mount = string_member (result, "mount");
  g_string_append_printf (out, "mount      %s\n", mount ? mount : "none (--no-mount)");
  g_string_append_printf (out, "HTTP       %s\n", string_or_unknown (result, "listen"));
  g_string_append_printf (out, "state      %s\n", string_or_unknown (result, "state_dir"));
  g_string_append_printf (out, "engine     pid %.0f\n", number_member (result, "engine_pid"));
  g_string_append (out, "host       ");
  append_zone_powers (out, array_member (result, "zones"));
  g_string_append_c (out, '\n');
  return g_string_free (out, FALSE);
}

/* --- list --- */

double
vp_ctl_vm_joules (JsonObject *vm)
{
  JsonArray *zones = array_member (vm, "zones");
  double packages_uj = 0, psys_uj = 0, top_uj = 0;
  gboolean has_package = FALSE, has_psys = FALSE;
  for (guint z = 0; z < length_of (zones); z++)
    {
      JsonObject *zone = json_array_get_object_element (zones, z);
      if (!is_top_level (zone))
        continue;
      double total = number_member (zone, "total_uj");
      const char *name = string_or_unknown (zone, "name");
      top_uj += total;
      if (g_str_has_prefix (name, "package"))
        has_package = TRUE, packages_uj += total;
      else if (g_str_equal (name, "psys"))
        has_psys = TRUE, psys_uj += total;
    }
  return (has_package ? packages_uj : has_psys ? psys_uj : top_uj) / 1e6;
}

char *
vp_ctl_render_list (JsonObject *result)
{
  JsonArray *vms = array_member (result, "vms");
  /* One watts column per top-level zone name, in the order first seen. */
  g_autoptr (GPtrArray) zone_names = g_ptr_array_new ();
  for (guint v = 0; v < length_of (vms); v++)
    {
      JsonArray *zones = array_member (json_array_get_object_element (vms, v), "zones");
      for (guint z = 0; z < length_of (zones); z++)
        {
          JsonObject *zone = json_array_get_object_element (zones, z);
          const char *name = string_or_unknown (zone, "name");
          if (is_top_level (zone) && !g_ptr_array_find_with_equal_func (zone_names, name, g_str_equal, NULL))
            g_ptr_array_add (zone_names, (gpointer) name);
        }
    }
  if (!length_of (vms))
    return g_strdup ("no VMs\n");

  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autoptr (GStrvBuilder) header = g_strv_builder_new ();
  g_strv_builder_add_many (header, "VM", "STATE", NULL);
  for (guint n = 0; n < zone_names->len; n++)
    add_owned (header, g_strdup_printf ("%s W", (char *) zone_names->pdata[n]));
  g_strv_builder_add_many (header, "JOULES", "CPU%", NULL);
  g_ptr_array_add (rows, g_strv_builder_end (header));

  for (guint v = 0; v < length_of (vms); v++)
    {
      JsonObject *vm = json_array_get_object_element (vms, v);
      JsonArray *zones = array_member (vm, "zones");
      g_autoptr (GStrvBuilder) row = g_strv_builder_new ();
      g_strv_builder_add_many (row, string_or_unknown (vm, "name"), string_or_unknown (vm, "state"), NULL);
      for (guint n = 0; n < zone_names->len; n++)
        {
          char *cell = g_strdup ("-");
          for (guint z = 0; z < length_of (zones); z++)
            {
              JsonObject *zone = json_array_get_object_element (zones, z);
              if (is_top_level (zone) && g_str_equal (string_or_unknown (zone, "name"), zone_names->pdata[n]))
                {
                  g_free (cell);
                  cell = g_strdup_printf ("%.2f", number_member (zone, "power_w"));
                }
            }
          add_owned (row, cell);
        }
      add_owned (row, g_strdup_printf ("%.1f", vp_ctl_vm_joules (vm)));
      add_owned (row, g_strdup_printf ("%.1f", 100 * number_member (vm, "cpu_share")));
      g_ptr_array_add (rows, g_strv_builder_end (row));
    }
  return render_table (rows, 2);
}

/* --- show --- */

char *
vp_ctl_render_show (JsonObject *result)
{
  GString *out = g_string_new (NULL);
  const char *name = string_or_unknown (result, "name");
  g_string_append_printf (out, "%s (%s)\n", name, string_or_unknown (result, "state"));
  g_string_append_printf (out, "uuid       %s\n", string_or_unknown (result, "uuid"));
  if (number_member (result, "pid") > 0)
    g_string_append_printf (out, "QEMU       pid %.0f, runs as %.0f:%.0f\n", number_member (result, "pid"),
                            number_member (result, "uid"), number_member (result, "gid"));
  else
    g_string_append (out, "QEMU       not running\n");
  g_string_append_printf (out, "CPU        %.2f s in all, %.1f%% of the host's busy CPU time in the last tick\n",
                          number_member (result, "cpu_seconds"), 100 * number_member (result, "cpu_share"));
  const char *directory = string_member (result, "directory");
  g_string_append_printf (out, "directory  %s\n", directory ? directory : "none (--no-mount)");

  JsonArray *shares = array_member (result, "shares");
  g_string_append (out, "shares     ");
  if (!shares)
    g_string_append_printf (out, "unknown: %s\n", string_or_unknown (result, "shares_error"));
  else if (!length_of (shares))
    g_string_append_printf (out, "none wired (vpowerctl attach %s --channel|--9p|--virtiofs)\n", name);
  else
    {
      for (guint i = 0; i < length_of (shares); i++)
        g_string_append_printf (out, "%s%s", i ? ", " : "", json_array_get_string_element (shares, i));
      g_string_append (out, " (in the libvirt definition)\n");
    }
  const char *channel = string_or_unknown (result, "channel");
  g_string_append_printf (out, "channel    %s\n",
                          g_str_equal (channel, "connected") ? "connected: the guest's agent gets every tick"
                          : g_str_equal (channel, "waiting") ? "wired, not connected (VM not running, or its socket refused)"
                          : "none in the running VM");
  JsonObject *wiring = object_member (result, "wiring");
  if (wiring)
    g_string_append_printf (out, "wiring     %s%s: %s\n", string_or_unknown (wiring, "state"),
                            flag_member (wiring, "by_vpowerd") ? " (hot-plugged by vpowerd)" : "",
                            string_or_unknown (wiring, "reason"));
  const char *move = string_or_unknown (result, "migration");
  g_string_append_printf (out, "arrival    %s; %.0f migrations in, %.0f out%s\n", string_or_unknown (result, "arrival"),
                          number_member (result, "migrations_in"), number_member (result, "migrations_out"),
                          g_str_equal (move, "outgoing") ? "; now paused to leave"
                          : g_str_equal (move, "incoming") ? "; now arriving (counted from its resume)" : "");
  JsonObject *labels = json_object_has_member (result, "labels") ? json_object_get_object_member (result, "labels") : NULL;
  g_string_append (out, "labels    ");
  g_autoptr (GList) names = labels ? json_object_get_members (labels) : NULL;
  for (GList *l = names; l; l = l->next)
    g_string_append_printf (out, " %s=\"%s\"", (const char *) l->data, json_object_get_string_member (labels, l->data));
  g_string_append (out, names ? "\n" : " none (no Nova, OpenNebula or vpower metadata)\n");

  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_ptr_array_add (rows, g_strsplit ("ZONE INDEX WATTS JOULES ENERGY_UJ MAX_ENERGY_RANGE_UJ", " ", -1));
  JsonArray *zones = array_member (result, "zones");
  for (guint z = 0; z < length_of (zones); z++)
    {
      JsonObject *zone = json_array_get_object_element (zones, z);
      g_autoptr (GStrvBuilder) row = g_strv_builder_new ();
      g_strv_builder_add_many (row, string_or_unknown (zone, "name"), string_or_unknown (zone, "index"), NULL);
      add_owned (row, g_strdup_printf ("%.2f", number_member (zone, "power_w")));
      add_owned (row, g_strdup_printf ("%.3f", number_member (zone, "total_uj") / 1e6));
      add_owned (row, g_strdup_printf ("%.0f", number_member (zone, "energy_uj")));
      add_owned (row, g_strdup_printf ("%.0f", number_member (zone, "max_energy_range_uj")));
      g_ptr_array_add (rows, g_strv_builder_end (row));
    }
  g_autofree char *table = render_table (rows, 2);
  g_string_append_c (out, '\n');
  g_string_append (out, table);
  return g_string_free (out, FALSE);
}

/* --- xml --- */

char *
vp_ctl_render_xml (JsonObject *result)
{
  const char *vm = string_or_unknown (result, "vm");
  const char *transport = string_or_unknown (result, "transport");
  const char *memory_backing = string_member (result, "memory_backing");
  GString *out = g_string_new (NULL);
  /* XML comments, so the whole output can be pasted as it is. A comment
   * must not contain "--" (XML 1.0, section 2.5): no option names in them. */
  if (memory_backing)
    g_string_append_printf (out, "<!-- virtiofs needs shared guest memory: add to <domain> of %s (virsh edit %s) -->\n%s",
                            vm, vm, memory_backing);
  if (g_str_equal (transport, "channel"))
    g_string_append_printf (out, "<!-- the vpower channel: add to <devices> of %s (virsh edit %s), or let vpowerctl "
                            "attach do it; in the guest, vpower-agent mount serves the tree; it migrates -->\n%s",
                            vm, vm, string_or_unknown (result, "device"));
  else
    g_string_append_printf (out, "<!-- the %s share: add to <devices> of %s (virsh edit %s), or let vpowerctl attach "
                            "do it; in the guest, vpower-agent mount. It pins the VM to this host: %s -->\n%s",
                            transport, vm, vm, string_or_unknown (result, "warning"), string_or_unknown (result, "device"));
  return g_string_free (out, FALSE);
}
