/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: one log writer for every program. */
#include "config.h"

#include "shared/vp-log.h"

#include <stdio.h>
#include <syslog.h>

static gboolean log_verbose;
static gboolean log_to_syslog;
static const char *log_ident = "vpower";

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *message = NULL;
  const char *prefix = "";
  int priority = LOG_INFO;

  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !log_verbose)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      message = fields[i].value;
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    prefix = "error: ", priority = LOG_ERR;
  else if (level & G_LOG_LEVEL_WARNING)
    prefix = "warning: ", priority = LOG_WARNING;
  else if (level & G_LOG_LEVEL_DEBUG)
    priority = LOG_DEBUG;

  if (log_to_syslog)
    syslog (priority, "%s%s", prefix, message ? message : "");
  else
    fprintf (stderr, "%s: %s%s\n", log_ident, prefix, message ? message : "");
  return G_LOG_WRITER_HANDLED;
}

void
vp_log_init (const char *ident)
{
  static gsize installed;
  log_ident = ident;
  /* GLib aborts on a second writer; a re-init only renames the program. */
  if (g_once_init_enter (&installed))
    {
      g_log_set_writer_func (write_log, NULL, NULL);
      g_once_init_leave (&installed, 1);
    }
}

void
vp_log_set_verbose (gboolean verbose)
{
  log_verbose = verbose;
}

void
vp_log_use_syslog (const char *ident)
{
  log_ident = ident;
  openlog (ident, LOG_PID, LOG_DAEMON);
  log_to_syslog = TRUE;
}
