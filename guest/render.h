/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the views of a sample: Prometheus /metrics, JSON, and the text of `top`. */
#pragma once

#include <glib.h>

#include "guest/sampler.h"

/* Prometheus text 0.0.4: vpower_energy_joules_total, vpower_power_watts,
 * vpower_process_*, vpower_up and the agent's own metrics. */
char *vp_render_metrics (const VpAgentView *view, gsize *length);

/* The channel's counts (guest/channel.c writes them, "name value" per line)
 * as metric families, or "" when there is no channel (status_text NULL). */
char *vp_render_channel_metrics (const char *status_text, gsize *length);

/* One JSON document (`once --json`, /api/v1/sample). */
char *vp_render_json (const VpAgentView *view, gsize *length);

/* A screenful for `top` and for `once` without --json. */
char *vp_render_text (const VpAgentView *view, gsize *length);

/* The label value of the bucket that holds every process outside the top N. */
#define VP_OTHER_LABEL "other"
