/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: table-driven options, shared by vpowerd and vpower-agent. */
#include "config.h"

#include "shared/vp-error.h"
#include "shared/vp-options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

gboolean
vp_option_parse_string (gpointer config, const VpOption *option, const char *value, GError **error)
{
  if (*value == '\0')
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "must not be empty");
      return FALSE;
    }
  char **field = VP_FIELD (config, option->offset, char *);
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

gboolean
vp_option_parse_bool (gpointer config, const VpOption *option, const char *value, GError **error)
{
  gboolean *field = VP_FIELD (config, option->offset, gboolean);
  if (g_str_equal (value, "true") || g_str_equal (value, "1"))
    *field = TRUE;
  else if (g_str_equal (value, "false") || g_str_equal (value, "0"))
    *field = FALSE;
  else
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not true or false", value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_number (const char *value, double min, double max, double *out, GError **error)
{
  char *end = NULL;
  errno = 0;
  double number = g_ascii_strtod (value, &end);
  if (errno != 0 || end == value || *end != '\0' || !(number >= min && number <= max))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not a number from %g to %g", value, min, max);
      return FALSE;
    }
  *out = number;
  return TRUE;
}

gboolean
vp_option_parse_double (gpointer config, const VpOption *option, const char *value, GError **error)
{
  return parse_number (value, option->min, option->max, VP_FIELD (config, option->offset, double), error);
}

gboolean
vp_option_parse_uint (gpointer config, const VpOption *option, const char *value, GError **error)
{
  guint64 number = 0;
  if (!g_ascii_string_to_unsigned (value, 10, (guint64) option->min, (guint64) option->max, &number, NULL))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not a whole number from %g to %g",
                   value, option->min, option->max);
      return FALSE;
    }
  *VP_FIELD (config, option->offset, guint) = (guint) number;
  return TRUE;
}

gboolean
vp_option_parse_enum (gpointer config, const VpOption *option, const char *value, GError **error)
{
  g_autoptr (GString) choices = g_string_new (NULL);
  for (const VpEnumWord *w = option->words; w->word; w++)
    {
      if (g_str_equal (w->word, value))
        {
          *VP_FIELD (config, option->offset, int) = w->value;
          return TRUE;
        }
      g_string_append_printf (choices, "%s%s", choices->len ? ", " : "", w->word);
    }
  g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not one of %s", value, choices->str);
  return FALSE;
}

const char *
vp_enum_word (const VpEnumWord *words, int value)
{
  for (const VpEnumWord *w = words; w->word; w++)
    if (w->value == value)
      return w->word;
  return "?";
}

gboolean
vp_parse_listen (const char *value, char **host_out, guint *port_out, GError **error)
{
  const char *colon = strrchr (value, ':');
  guint64 port = 0;
  if (!colon || colon == value || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not ADDR:PORT", value);
      return FALSE;
    }
  g_autofree char *host = g_strndup (value, colon - value);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  unsigned char address[sizeof (struct in6_addr)];
  if (inet_pton (AF_INET, host, address) != 1 && inet_pton (AF_INET6, host, address) != 1)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "\"%s\" is not a numeric IP address", host);
      return FALSE;
    }
  g_free (*host_out);
  *host_out = g_steal_pointer (&host);
  *port_out = (guint) port;
  return TRUE;
}

static const VpOption *
find_option (const VpOptionTable *table, const char *name)
{
  for (gsize i = 0; i < table->n_options; i++)
    if (g_str_equal (table->options[i].name, name))
      return &table->options[i];
  return NULL;
}

static gboolean
apply_value (gpointer config, const VpOption *option, const char *value, const char *source, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (!option->parse (config, option, value, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: invalid value for '%s': %s",
                   source, option->name, local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
vp_options_apply_keyfile (const VpOptionTable *table, gpointer config, const char *path,
                          gboolean required, GError **error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) local = NULL;

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, &local))
    {
      if (!required && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: %s", path, local->message);
      return FALSE;
    }

  g_auto (GStrv) groups = g_key_file_get_groups (keyfile, NULL);
  for (char **group = groups; *group; group++)
    if (!g_str_equal (*group, table->group))
      {
        g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: unknown group [%s] (expected [%s])",
                     path, *group, table->group);
        return FALSE;
      }

  g_auto (GStrv) keys = g_key_file_get_keys (keyfile, table->group, NULL, NULL);
  for (char **key = keys; keys && *key; key++)
    {
      const VpOption *option = find_option (table, *key);
      if (!option)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "%s: unknown key '%s' in [%s]", path, *key, table->group);
          return FALSE;
        }
      g_autofree char *value = g_key_file_get_value (keyfile, table->group, *key, NULL);
      if (!apply_value (config, option, g_strstrip (value), path, error))
        return FALSE;
    }
  return TRUE;
}

struct _VpOptionCli {
  const VpOptionTable *table;
  GPtrArray *names;    /* option names, in command-line order */
  GPtrArray *values;
};

VpOptionCli *
vp_option_cli_new (const VpOptionTable *table)
{
  VpOptionCli *cli = g_new0 (VpOptionCli, 1);
  cli->table = table;
  cli->names = g_ptr_array_new ();
  cli->values = g_ptr_array_new_with_free_func (g_free);
  return cli;
}

void
vp_option_cli_free (VpOptionCli *cli)
{
  if (!cli)
    return;
  g_ptr_array_unref (cli->names);
  g_ptr_array_unref (cli->values);
  g_free (cli);
}

static gboolean
on_cli_option (const char *option_name, const char *value, gpointer user_data, GError **error)
{
  VpOptionCli *cli = user_data;
  const char *name = option_name;

  while (*name == '-')
    name++;
  if (strlen (name) == 1)
    for (gsize i = 0; i < cli->table->n_options; i++)
      if (cli->table->options[i].short_name == name[0])
        name = cli->table->options[i].name;
  const VpOption *option = find_option (cli->table, name);
  if (!option)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "unknown option %s", option_name);
      return FALSE;
    }
  g_ptr_array_add (cli->names, (gpointer) option->name);
  g_ptr_array_add (cli->values, g_strdup (value ? value : "true"));
  return TRUE;
}

static void
append_entries (GArray *entries, const GOptionEntry *list)
{
  for (const GOptionEntry *entry = list; entry && entry->long_name; entry++)
    g_array_append_val (entries, *entry);
}

GOptionGroup *
vp_option_cli_group (VpOptionCli *cli, const GOptionEntry *first, const GOptionEntry *last)
{
  g_autoptr (GArray) entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  append_entries (entries, first);
  for (gsize i = 0; i < cli->table->n_options; i++)
    {
      const VpOption *option = &cli->table->options[i];
      GOptionEntry entry = {
        .long_name = option->name,
        .short_name = option->short_name,
        .flags = option->arg ? 0 : G_OPTION_FLAG_NO_ARG,
        .arg = G_OPTION_ARG_CALLBACK,
        .arg_data = (gpointer) on_cli_option,
        .description = option->help,
        .arg_description = option->arg,
      };
      g_array_append_val (entries, entry);
    }
  append_entries (entries, last);

  /* GOptionGroup keeps the pointers, not the array: the strings are static. */
  GOptionGroup *group = g_option_group_new (NULL, NULL, NULL, cli, NULL);
  g_option_group_add_entries (group, (GOptionEntry *) entries->data);
  return group;
}

gboolean
vp_option_cli_apply (VpOptionCli *cli, gpointer config, GError **error)
{
  for (guint i = 0; i < cli->names->len; i++)
    if (!apply_value (config, find_option (cli->table, cli->names->pdata[i]), cli->values->pdata[i],
                      "command line", error))
      return FALSE;
  return TRUE;
}
