/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: table-driven options, shared by vpowerd and vpower-agent.
 *
 * One table entry describes an option once: it yields the command-line flag,
 * the keyfile key of the same name, the --help line and the parser. The two
 * sources therefore cannot drift apart, and both report errors the same way:
 * one line naming the key. The command line overrides the file. */
#pragma once

#include <glib.h>

typedef struct _VpOption VpOption;

/* Stores value into the config struct at option->offset. */
typedef gboolean (*VpOptionParser) (gpointer config, const VpOption *option, const char *value, GError **error);

typedef struct {
  const char *word;
  int value;
} VpEnumWord;   /* a NULL word ends a list */

struct _VpOption {
  const char *name;          /* long flag and keyfile key */
  char short_name;
  const char *arg;           /* NULL for flags that take no value */
  const char *help;
  VpOptionParser parse;
  gsize offset;
  const VpEnumWord *words;   /* vp_option_parse_enum */
  double min, max;           /* vp_option_parse_double, vp_option_parse_uint */
};

typedef struct {
  const char *group;         /* the keyfile group: [vpowerd], [vpower-agent] */
  const VpOption *options;
  gsize n_options;
} VpOptionTable;

#define VP_FIELD(config, offset, type) ((type *) ((char *) (config) + (offset)))

/* Parsers for common field types. */
gboolean vp_option_parse_string (gpointer config, const VpOption *option, const char *value, GError **error);
gboolean vp_option_parse_bool (gpointer config, const VpOption *option, const char *value, GError **error);
gboolean vp_option_parse_double (gpointer config, const VpOption *option, const char *value, GError **error);
gboolean vp_option_parse_uint (gpointer config, const VpOption *option, const char *value, GError **error);
gboolean vp_option_parse_enum (gpointer config, const VpOption *option, const char *value, GError **error);

/* ADDR:PORT with a numeric address, [v6]:PORT for IPv6. */
gboolean vp_parse_listen (const char *value, char **host, guint *port, GError **error);

const char *vp_enum_word (const VpEnumWord *words, int value);

/* Applies the keyfile at path over config. A missing file is an error only
 * when required (the user named it). Unknown groups and keys are errors. */
gboolean vp_options_apply_keyfile (const VpOptionTable *table, gpointer config, const char *path,
                                   gboolean required, GError **error);

/* Command-line values are collected while GOptionContext parses, then applied
 * (after the file) by vp_option_cli_apply. */
typedef struct _VpOptionCli VpOptionCli;

VpOptionCli *vp_option_cli_new (const VpOptionTable *table);
void vp_option_cli_free (VpOptionCli *cli);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpOptionCli, vp_option_cli_free)

/* A main group holding `first` (NULL-terminated, may be NULL), then one entry
 * per table option, then `last` (likewise). */
GOptionGroup *vp_option_cli_group (VpOptionCli *cli, const GOptionEntry *first, const GOptionEntry *last);

gboolean vp_option_cli_apply (VpOptionCli *cli, gpointer config, GError **error);
