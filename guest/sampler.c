/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: one sampling interval, and the state every view renders from. */
#include "config.h"

#include "guest/sampler.h"

struct _VpSampler {
  GMutex lock;
  VpReader *reader;
  VpProcSplit *split;
  char *proc_root;
  GArray *readings;          /* VpProcReading, reused */
  VpProcSplitResult result;
  gint64 last_mono_us;       /* 0 before the first sample */
  gboolean proc_ok;          /* the last /proc read worked (its failure is logged once) */
  VpAgentView view;
};

VpSampler *
vp_sampler_new (const char *root, const char *proc_root, guint top_n)
{
  VpSampler *sampler = g_new0 (VpSampler, 1);
  g_mutex_init (&sampler->lock);
  sampler->reader = vp_reader_new (root);
  sampler->split = vp_proc_split_new (top_n);
  sampler->proc_root = g_strdup (proc_root);
  sampler->readings = g_array_new (FALSE, TRUE, sizeof (VpProcReading));
  sampler->proc_ok = TRUE;
  vp_proc_split_result_init (&sampler->result);
  sampler->view.reader = sampler->reader;
  sampler->view.procs = &sampler->result;
  sampler->view.top_n = top_n;
  return sampler;
}

void
vp_sampler_free (VpSampler *sampler)
{
  if (!sampler)
    return;
  vp_reader_free (sampler->reader);
  vp_proc_split_free (sampler->split);
  vp_proc_split_result_clear (&sampler->result);
  g_array_unref (sampler->readings);
  g_free (sampler->proc_root);
  g_mutex_clear (&sampler->lock);
  g_free (sampler);
}

static void
count_error (VpSampler *sampler, const GError *error)
{
  if (error)
    sampler->view.read_errors++;
}

void
vp_sampler_sample (VpSampler *sampler)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) proc_error = NULL;
  guint64 busy_ticks = 0;
  gint64 started = g_get_monotonic_time ();

  g_mutex_lock (&sampler->lock);
  vp_reader_scan (sampler->reader, &error);
  count_error (sampler, error);
  vp_reader_mark (sampler->reader);

  gboolean proc_ok = vp_proc_read (sampler->proc_root, sampler->readings, &busy_ticks, &proc_error);
  if (!proc_ok && sampler->proc_ok)
    g_warning ("cannot read processes, so their energy goes to \"other\": %s", proc_error->message);
  else if (proc_ok && !sampler->proc_ok)
    g_message ("processes are readable again under %s", sampler->proc_root);
  sampler->proc_ok = proc_ok;
  if (!proc_ok)
    g_array_set_size (sampler->readings, 0);
  vp_proc_split_apply (sampler->split, sampler->readings, busy_ticks,
                       vp_reader_cpu_interval_uj (sampler->reader), &sampler->result);

  gint64 now = g_get_monotonic_time ();
  sampler->view.have_interval = sampler->last_mono_us != 0;
  sampler->view.interval_s = sampler->last_mono_us ? (started - sampler->last_mono_us) / 1e6 : 0;
  sampler->last_mono_us = started;
  sampler->view.sampled_at_us = g_get_real_time ();
  sampler->view.samples++;
  sampler->view.sample_seconds = (now - started) / 1e6;
  g_mutex_unlock (&sampler->lock);
}

gboolean
vp_sampler_up (VpSampler *sampler)
{
  g_mutex_lock (&sampler->lock);
  gboolean up = vp_reader_up (sampler->reader);
  g_mutex_unlock (&sampler->lock);
  return up;
}

char *
vp_sampler_render (VpSampler *sampler, gboolean refresh, VpViewRender render, gsize *length)
{
  g_mutex_lock (&sampler->lock);
  if (refresh)
    {
      g_autoptr (GError) error = NULL;
      sampler->view.scrapes++;
      vp_reader_refresh (sampler->reader, &error);
      count_error (sampler, error);
    }
  char *text = render (&sampler->view, length);
  g_mutex_unlock (&sampler->lock);
  return text;
}
