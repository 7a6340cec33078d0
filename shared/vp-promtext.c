/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: Prometheus text exposition format 0.0.4 on a GString. */
#include "config.h"

#include "vp-promtext.h"

#include <math.h>
#include <stdarg.h>

struct _VpPromText {
  GString *out;
  char *family;
};

VpPromText *
vp_promtext_new (void)
{
  VpPromText *text = g_new0 (VpPromText, 1);
  text->out = g_string_sized_new (4096);
  return text;
}

void
vp_promtext_free (VpPromText *text)
{
  if (!text)
    return;
  if (text->out)
    g_string_free (text->out, TRUE);
  g_free (text->family);
  g_free (text);
}

/* HELP text escapes backslash and newline; label values also escape '"'. */
static void
append_escaped (GString *out, const char *value, gboolean quote)
{
  for (const char *p = value; *p; p++)
    {
      switch (*p)
        {
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '"':
          if (quote)
            g_string_append (out, "\\\"");
          else
            g_string_append_c (out, '"');
          break;
        default: g_string_append_c (out, *p); break;
        }
    }
}

void
vp_promtext_family (VpPromText *text, const char *name, const char *type, const char *help)
{
  g_free (text->family);
  text->family = g_strdup (name);
  g_string_append_printf (text->out, "# HELP %s ", name);
  append_escaped (text->out, help, FALSE);
  g_string_append_printf (text->out, "\n# TYPE %s %s\n", name, type);
}

static void
append_label (GString *out, gboolean first, const char *key, const char *value)
{
  g_string_append (out, first ? "{" : ",");
  g_string_append_printf (out, "%s=\"", key);
  append_escaped (out, value ? value : "", TRUE);
  g_string_append_c (out, '"');
}

/* The metric name and labels of a sample of the open family: the pairs of
 * ap, then those of extra (a NULL-terminated name, value, ... vector). */
static void
begin_sample (VpPromText *text, va_list ap, const char *const *extra)
{
  gboolean first = TRUE;
  g_string_append (text->out, text->family);
  for (const char *key = va_arg (ap, const char *); key; key = va_arg (ap, const char *), first = FALSE)
    append_label (text->out, first, key, va_arg (ap, const char *));
  for (; extra && extra[0] && extra[1]; extra += 2, first = FALSE)
    append_label (text->out, first, extra[0], extra[1]);
  if (!first)
    g_string_append_c (text->out, '}');
}

static void
append_value (GString *out, double value)
{
  if (isnan (value))
    g_string_append (out, " NaN\n");
  else if (isinf (value))
    g_string_append (out, value > 0 ? " +Inf\n" : " -Inf\n");
  else
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      /* g_ascii_dtostr: locale-independent and round-trips exactly. */
      g_string_append_printf (out, " %s\n", g_ascii_dtostr (buf, sizeof buf, value));
    }
}

void
vp_promtext_sample (VpPromText *text, double value, ...)
{
  va_list ap;

  g_return_if_fail (text->family != NULL);
  va_start (ap, value);
  begin_sample (text, ap, NULL);
  va_end (ap);
  append_value (text->out, value);
}

void
vp_promtext_sample_with (VpPromText *text, double value, const char *const *extra, ...)
{
  va_list ap;

  g_return_if_fail (text->family != NULL);
  va_start (ap, extra);
  begin_sample (text, ap, extra);
  va_end (ap);
  append_value (text->out, value);
}

void
vp_promtext_sample_micro (VpPromText *text, guint64 micro, ...)
{
  va_list ap;

  g_return_if_fail (text->family != NULL);
  va_start (ap, micro);
  begin_sample (text, ap, NULL);
  va_end (ap);
  g_string_append_printf (text->out, " %" G_GUINT64_FORMAT ".%06u\n",
                          micro / 1000000, (guint) (micro % 1000000));
}

char *
vp_promtext_steal (VpPromText *text, gsize *length)
{
  if (length)
    *length = text->out->len;
  char *result = g_string_free (text->out, FALSE);
  text->out = NULL;
  vp_promtext_free (text);
  return result;
}
