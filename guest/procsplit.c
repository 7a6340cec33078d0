/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: the VM's energy split between the processes inside it. */
#include "config.h"

#include "guest/procsplit.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"
#include "shared/vp-split.h"

#include <stdlib.h>

typedef struct {
  guint64 start_ticks;
  guint64 cpu_ticks;
  guint64 total_uj;
  gint64 carry;
  guint generation;
} Tracked;

struct _VpProcSplit {
  guint top_n;
  GHashTable *tracked;      /* pid -> Tracked */
  gboolean have_baseline;
  guint64 busy_ticks_total;
  guint generation;
  gint64 unaccounted_carry; /* busy time no process accounts for */
  guint64 other_total_uj;
};

VpProcSplit *
vp_proc_split_new (guint top_n)
{
  VpProcSplit *split = g_new0 (VpProcSplit, 1);
  split->top_n = top_n;
  split->tracked = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  return split;
}

void
vp_proc_split_free (VpProcSplit *split)
{
  if (!split)
    return;
  g_hash_table_unref (split->tracked);
  g_free (split);
}

void
vp_proc_split_result_init (VpProcSplitResult *result)
{
  memset (result, 0, sizeof *result);
  result->top = g_array_new (FALSE, TRUE, sizeof (VpProcShare));
}

void
vp_proc_split_result_clear (VpProcSplitResult *result)
{
  g_clear_pointer (&result->top, g_array_unref);
}

static int
compare_shares (gconstpointer a, gconstpointer b)
{
  const VpProcShare *x = a, *y = b;
  if (x->energy_uj != y->energy_uj)
    return x->energy_uj > y->energy_uj ? -1 : 1;
  if (x->cpu_ticks != y->cpu_ticks)
    return x->cpu_ticks > y->cpu_ticks ? -1 : 1;
  return (x->pid > y->pid) - (x->pid < y->pid);
}

void
vp_proc_split_apply (VpProcSplit *split, const GArray *readings, guint64 busy_ticks_total,
                     guint64 energy_uj, VpProcSplitResult *result)
{
  gboolean baseline = !split->have_baseline;
  guint64 busy_delta = baseline || busy_ticks_total < split->busy_ticks_total
    ? 0 : busy_ticks_total - split->busy_ticks_total;
  split->busy_ticks_total = busy_ticks_total;
  split->have_baseline = TRUE;
  split->generation++;

  /* Items: the processes that ran, then the busy time none accounts for. */
  g_autoptr (GArray) items = g_array_new (FALSE, TRUE, sizeof (VpSplitItem));
  g_autoptr (GArray) shares = g_array_new (FALSE, TRUE, sizeof (VpProcShare));
  g_autoptr (GPtrArray) owners = g_ptr_array_new ();   /* Tracked per item */
  guint64 process_ticks = 0;

  for (guint i = 0; i < readings->len; i++)
    {
      const VpProcReading *reading = &g_array_index (readings, VpProcReading, i);
      Tracked *tracked = g_hash_table_lookup (split->tracked, GINT_TO_POINTER (reading->pid));
      guint64 delta;
      if (!tracked || tracked->start_ticks != reading->start_ticks)
        {
          /* New since the last call (or a reused PID): all its CPU time is
           * new, except at the baseline, where it is history. */
          tracked = g_new0 (Tracked, 1);
          tracked->start_ticks = reading->start_ticks;
          g_hash_table_replace (split->tracked, GINT_TO_POINTER (reading->pid), tracked);
          delta = baseline ? 0 : reading->cpu_ticks;
        }
      else
        delta = reading->cpu_ticks >= tracked->cpu_ticks ? reading->cpu_ticks - tracked->cpu_ticks : 0;
      tracked->cpu_ticks = reading->cpu_ticks;
      tracked->generation = split->generation;
      if (delta == 0)
        continue;

      VpSplitItem item = { .weight = delta, .carry = tracked->carry };
      VpProcShare share = { .pid = reading->pid, .cpu_ticks = delta };
      g_strlcpy (share.comm, reading->comm, sizeof share.comm);
      g_array_append_val (items, item);
      g_array_append_val (shares, share);
      g_ptr_array_add (owners, tracked);
      process_ticks += delta;
    }
  VpSplitItem unaccounted = {
    .weight = busy_delta > process_ticks ? busy_delta - process_ticks : 0,
    .carry = split->unaccounted_carry,
  };
  g_array_append_val (items, unaccounted);

  /* Forget processes that exited. */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, split->tracked);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Tracked *) value)->generation != split->generation)
      g_hash_table_iter_remove (&iter);

  guint64 other_uj = energy_uj;
  g_array_set_size (result->top, 0);
  if (vp_split_exact (energy_uj, (VpSplitItem *) (gpointer) items->data, items->len))
    {
      for (guint i = 0; i < shares->len; i++)
        {
          VpSplitItem *item = &g_array_index (items, VpSplitItem, i);
          VpProcShare *share = &g_array_index (shares, VpProcShare, i);
          Tracked *tracked = owners->pdata[i];
          tracked->carry = item->carry;
          tracked->total_uj += item->share;
          share->energy_uj = item->share;
          share->total_uj = tracked->total_uj;
        }
      split->unaccounted_carry = g_array_index (items, VpSplitItem, items->len - 1).carry;
      g_array_sort (shares, compare_shares);
      for (guint i = 0; i < MIN (shares->len, split->top_n); i++)
        {
          g_array_append_val (result->top, g_array_index (shares, VpProcShare, i));
          other_uj -= g_array_index (shares, VpProcShare, i).energy_uj;
        }
    }
  split->other_total_uj += other_uj;

  result->energy_uj = energy_uj;
  result->busy_ticks = busy_delta;
  result->n_processes = readings->len;
  result->other_uj = other_uj;
  result->other_total_uj = split->other_total_uj;
}

/* Parses /proc/PID/stat: "pid (comm) state ppid ...". comm may hold spaces
 * and parentheses, so the fields start after the last ')'. */
static gboolean
parse_pid_stat (char *text, VpProcReading *reading)
{
  char *open = strchr (text, '('), *close = strrchr (text, ')');
  if (!open || !close || close < open)
    return FALSE;
  *close = '\0';
  g_autofree char *comm = g_utf8_make_valid (open + 1, -1);
  g_strlcpy (reading->comm, comm, sizeof reading->comm);

  /* After ')': state is field 3; utime 14, stime 15, starttime 22. */
  g_auto (GStrv) fields = g_strsplit (close + 2, " ", 21);
  if (g_strv_length (fields) < 20)
    return FALSE;
  guint64 utime, stime, start;
  if (!g_ascii_string_to_unsigned (fields[11], 10, 0, G_MAXUINT64, &utime, NULL) ||
      !g_ascii_string_to_unsigned (fields[12], 10, 0, G_MAXUINT64, &stime, NULL) ||
      !g_ascii_string_to_unsigned (fields[19], 10, 0, G_MAXUINT64, &start, NULL))
    return FALSE;
  reading->cpu_ticks = utime + stime;
  reading->start_ticks = start;
  return TRUE;
}

static gboolean
read_busy_ticks (const char *proc_root, guint64 *busy, GError **error)
{
  g_autofree char *path = g_build_filename (proc_root, "stat", NULL);
  char buf[1024];
  if (vp_read_small_file (path, buf, sizeof buf, error) < 0)
    return FALSE;
  /* "cpu  user nice system idle iowait irq softirq steal guest guest_nice" */
  char *newline = strchr (buf, '\n');
  if (newline)
    *newline = '\0';
  g_auto (GStrv) fields = g_strsplit (buf, " ", -1);
  guint64 values[8] = { 0 };
  guint n = 0;
  if (!fields[0] || !g_str_equal (fields[0], "cpu"))
    goto bad;
  for (guint i = 1; fields[i] && n < G_N_ELEMENTS (values); i++)
    if (*fields[i] && !g_ascii_string_to_unsigned (fields[i], 10, 0, G_MAXUINT64, &values[n++], NULL))
      goto bad;
  if (n < 7)
    goto bad;
  *busy = values[0] + values[1] + values[2] + values[5] + values[6];
  return TRUE;
bad:
  g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s: the first line is not \"cpu\" and its times", path);
  return FALSE;
}

gboolean
vp_proc_read (const char *proc_root, GArray *readings, guint64 *busy_ticks_total, GError **error)
{
  g_array_set_size (readings, 0);
  if (!read_busy_ticks (proc_root, busy_ticks_total, error))
    return FALSE;

  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) dir = g_dir_open (proc_root, 0, &local);
  if (!dir)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "%s", local->message);
      return FALSE;
    }
  const char *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      guint64 pid;
      if (!g_ascii_isdigit (entry[0]) || !g_ascii_string_to_unsigned (entry, 10, 1, G_MAXINT, &pid, NULL))
        continue;
      g_autofree char *path = g_strdup_printf ("%s/%s/stat", proc_root, entry);
      char buf[1024];
      VpProcReading reading = { .pid = (int) pid };
      /* A process may exit between the listing and the read: skip it. */
      if (vp_read_small_file (path, buf, sizeof buf, NULL) < 0)
        continue;
      if (parse_pid_stat (buf, &reading))
        g_array_append_val (readings, reading);
      else
        g_debug ("%s: unexpected format, skipped", path);
    }
  return TRUE;
}
