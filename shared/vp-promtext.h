/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: Prometheus text exposition format 0.0.4 on a GString.
 *
 * The builder enforces the format's rules by construction: every family gets
 * its # HELP and # TYPE before its samples, samples always belong to the
 * family opened last (so a family is one contiguous group), label values and
 * help text are escaped, and the text ends with a newline. */
#pragma once

#include <glib.h>

#define VP_PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct _VpPromText VpPromText;

VpPromText *vp_promtext_new (void);
void vp_promtext_free (VpPromText *text);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpPromText, vp_promtext_free)

/* Opens a family. type is "counter" or "gauge". */
void vp_promtext_family (VpPromText *text, const char *name, const char *type, const char *help);

/* Adds a sample of the open family. The variadic part is label name/value
 * pairs ending with NULL. */
void vp_promtext_sample (VpPromText *text, double value, ...) G_GNUC_NULL_TERMINATED;

/* Like vp_promtext_sample, then the labels of extra: a NULL-terminated
 * vector of name, value, name, value... (NULL for none). The caller vouches
 * for the names; values are escaped like any other. */
void vp_promtext_sample_with (VpPromText *text, double value, const char *const *extra, ...) G_GNUC_NULL_TERMINATED;

/* Adds a sample whose value is micro-units (µJ, µs) printed exactly in base
 * units: 1234567 becomes 1.234567, with no floating-point rounding. */
void vp_promtext_sample_micro (VpPromText *text, guint64 micro, ...) G_GNUC_NULL_TERMINATED;

/* Returns the finished exposition and frees the builder. */
char *vp_promtext_steal (VpPromText *text, gsize *length);
