/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: host CPU time per CPU and per package, from /proc/stat and sysfs topology. */
#include "config.h"

#include "host/sense/cpustat.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <stdlib.h>
#include <unistd.h>

/* /proc/stat on a large host is a few KB per 100 CPUs (the intr line is long). */
#define PROC_STAT_MAX (1024 * 1024)

static guint64
ns_per_tick (void)
{
  static guint64 value;
  if (!value)
    {
      long hz = sysconf (_SC_CLK_TCK);
      value = G_GUINT64_CONSTANT (1000000000) / (guint64) (hz > 0 ? hz : 100);
    }
  return value;
}

void
vp_cpu_sample_clear (VpCpuSample *sample)
{
  g_clear_pointer (&sample->cpu, g_free);
  sample->n_cpus = 0;
}

gboolean
vp_cpu_sample_parse (const char *text, VpCpuSample *sample, GError **error)
{
  guint found = 0;

  if (sample->cpu)
    memset (sample->cpu, 0, sample->n_cpus * sizeof *sample->cpu);

  for (const char *line = text; line && *line; line = strchr (line, '\n'), line = line ? line + 1 : NULL)
    {
      /* Per-CPU lines are "cpuN user nice system idle iowait irq softirq
       * steal guest guest_nice"; the aggregate "cpu " line is skipped. */
      if (!g_str_has_prefix (line, "cpu") || !g_ascii_isdigit (line[3]))
        {
          if (found)
            break;   /* the cpu lines are contiguous; stop at the first other line */
          continue;
        }
      char *end;
      guint64 cpu = g_ascii_strtoull (line + 3, &end, 10);
      guint64 field[10] = { 0 };
      guint n = 0;
      for (; n < G_N_ELEMENTS (field); n++)
        {
          char *next;
          while (*end == ' ')
            end++;
          if (!g_ascii_isdigit (*end))
            break;
          field[n] = g_ascii_strtoull (end, &next, 10);
          end = next;
        }
      if (n < 8 || cpu > 65535)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "malformed cpu line in /proc/stat: \"%.*s\"",
                       (int) strcspn (line, "\n"), line);
          return FALSE;
        }
      if (cpu >= sample->n_cpus)
        {
          guint n_cpus = (guint) cpu + 1;
          sample->cpu = g_renew (VpCpuTimes, sample->cpu, n_cpus);
          memset (sample->cpu + sample->n_cpus, 0, (n_cpus - sample->n_cpus) * sizeof *sample->cpu);
          sample->n_cpus = n_cpus;
        }
      /* user nice system idle iowait irq softirq steal: guest (8) and
       * guest_nice (9) are already counted in user and nice (kernel
       * account_guest_time), so adding them would count VMs twice. */
      guint64 busy = field[0] + field[1] + field[2] + field[5] + field[6];
      guint64 total = busy + field[3] + field[4] + field[7];
      sample->cpu[cpu].busy_ns = busy * ns_per_tick ();
      sample->cpu[cpu].total_ns = total * ns_per_tick ();
      found++;
    }
  if (!found)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "/proc/stat has no per-CPU lines");
      return FALSE;
    }
  return TRUE;
}

gboolean
vp_cpu_sample_read (const char *proc_root, VpCpuSample *sample, GError **error)
{
  /* A static buffer would not be thread-safe; the heap buffer is cheap next
   * to the read itself and grows only on very large hosts. */
  static const gsize first_size = 64 * 1024;
  g_autofree char *path = g_build_filename (proc_root, "stat", NULL);
  gsize size = first_size;

  for (;;)
    {
      g_autofree char *buf = g_malloc (size);
      gssize len = vp_read_small_file (path, buf, size, error);
      if (len < 0)
        return FALSE;
      if ((gsize) len + 1 < size || size >= PROC_STAT_MAX)
        return vp_cpu_sample_parse (buf, sample, error);
      size *= 4;
    }
}

void
vp_cpu_sample_package_deltas (const VpTopology *topology, const VpCpuSample *prev,
                              const VpCpuSample *cur, guint64 *busy_ns, guint64 *total_ns)
{
  memset (busy_ns, 0, topology->n_packages * sizeof *busy_ns);
  memset (total_ns, 0, topology->n_packages * sizeof *total_ns);
  guint n = MIN (MIN (prev->n_cpus, cur->n_cpus), topology->n_cpus);
  for (guint cpu = 0; cpu < n; cpu++)
    {
      int package = topology->package_of_cpu[cpu];
      if (package < 0)
        continue;
      if (cur->cpu[cpu].busy_ns >= prev->cpu[cpu].busy_ns)
        busy_ns[package] += cur->cpu[cpu].busy_ns - prev->cpu[cpu].busy_ns;
      if (cur->cpu[cpu].total_ns >= prev->cpu[cpu].total_ns)
        total_ns[package] += cur->cpu[cpu].total_ns - prev->cpu[cpu].total_ns;
    }
}

void
vp_topology_free (VpTopology *topology)
{
  if (!topology)
    return;
  g_free (topology->package_of_cpu);
  g_free (topology->physical_id);
  g_free (topology->cpus_in_package);
  g_free (topology);
}

int
vp_topology_package_index (const VpTopology *topology, int physical_id)
{
  for (guint i = 0; i < topology->n_packages; i++)
    if (topology->physical_id[i] == physical_id)
      return (int) i;
  return -1;
}

static int
compare_int (gconstpointer a, gconstpointer b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return (x > y) - (x < y);
}

VpTopology *
vp_topology_load (const char *proc_root, const char *sysfs_root, GError **error)
{
  VpCpuSample online = { 0 };
  if (!vp_cpu_sample_read (proc_root, &online, error))
    return NULL;

  g_autoptr (VpTopology) topology = g_new0 (VpTopology, 1);
  topology->n_cpus = online.n_cpus;
  g_autofree int *physical_of_cpu = g_new (int, online.n_cpus);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));

  for (guint cpu = 0; cpu < online.n_cpus; cpu++)
    {
      physical_of_cpu[cpu] = -1;
      if (online.cpu[cpu].total_ns == 0)
        continue;   /* not listed in /proc/stat: offline or absent */
      g_autofree char *path = g_strdup_printf ("%s/devices/system/cpu/cpu%u/topology/physical_package_id",
                                               sysfs_root, cpu);
      g_autoptr (GError) local = NULL;
      guint64 id = 0;
      /* Without topology (some containers) every CPU is one package. The
       * kernel reports -1 when firmware gives no id; treat that as 0 too. */
      if (!vp_read_u64_file (path, &id, &local) || id > G_MAXINT)
        {
          g_debug ("topology: %s; assuming package 0 for cpu%u", local ? local->message : path, cpu);
          id = 0;
        }
      physical_of_cpu[cpu] = (int) id;
      gboolean seen = FALSE;
      for (guint i = 0; i < ids->len; i++)
        seen |= g_array_index (ids, int, i) == (int) id;
      if (!seen)
        g_array_append_val (ids, physical_of_cpu[cpu]);
    }
  vp_cpu_sample_clear (&online);

  g_array_sort (ids, compare_int);
  topology->n_packages = ids->len;
  topology->physical_id = g_memdup2 (ids->data, ids->len * sizeof (int));
  topology->cpus_in_package = g_new0 (guint, ids->len);
  topology->package_of_cpu = g_new (int, topology->n_cpus);
  for (guint cpu = 0; cpu < topology->n_cpus; cpu++)
    {
      topology->package_of_cpu[cpu] = physical_of_cpu[cpu] < 0 ? -1
          : vp_topology_package_index (topology, physical_of_cpu[cpu]);
      if (topology->package_of_cpu[cpu] >= 0)
        topology->cpus_in_package[topology->package_of_cpu[cpu]]++;
    }
  if (topology->n_packages == 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s/stat lists no CPU", proc_root);
      return NULL;
    }
  return g_steal_pointer (&topology);
}
