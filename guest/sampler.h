/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: one sampling interval, and the state every view renders from.
 *
 * The sampler owns the reader (zone totals) and the process split. `sample`
 * ends an interval: it rescans the tree, reads /proc and splits the interval's
 * energy. Scrapes only refresh the energy counters, so /metrics is always
 * current while the expensive /proc walk runs once per interval. All calls
 * are serialised by one lock: the HTTP thread and the timer share it. */
#pragma once

#include <glib.h>

#include "guest/procsplit.h"
#include "guest/reader.h"

typedef struct {
  const VpReader *reader;
  const VpProcSplitResult *procs;
  gboolean have_interval;   /* two samples were taken: powers and shares mean something */
  double interval_s;        /* the last interval's measured length */
  gint64 sampled_at_us;     /* wall clock of the last sample */
  guint64 samples;
  guint64 read_errors;      /* samples or refreshes that could not read the tree */
  guint64 scrapes;
  double sample_seconds;    /* how long the last sample took */
  guint top_n;
} VpAgentView;

typedef struct _VpSampler VpSampler;

VpSampler *vp_sampler_new (const char *root, const char *proc_root, guint top_n);
void vp_sampler_free (VpSampler *sampler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpSampler, vp_sampler_free)

/* Ends an interval (the first call only starts one). Never fails: problems
 * show in the view (vp_reader_up, vp_reader_problem) and the log. */
void vp_sampler_sample (VpSampler *sampler);

/* TRUE when the last read of the tree succeeded. */
gboolean vp_sampler_up (VpSampler *sampler);

/* Renders under the lock. With refresh, the energy counters are read first
 * (a scrape). render returns a new string. */
typedef char *(*VpViewRender) (const VpAgentView *view, gsize *length);
char *vp_sampler_render (VpSampler *sampler, gboolean refresh, VpViewRender render, gsize *length);
