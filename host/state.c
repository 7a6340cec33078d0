/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the persisted state: counters plus the last sample, written atomically.
 *
 * The file is line-oriented text, one record per line, ending with a SHA-256
 * of everything before it, so a torn or truncated write is always detected:
 *
 *   vpowerd-state 1
 *   boot <boot_id>                 kernel boot id at the time of the sample
 *   mono <ns>                      CLOCK_MONOTONIC of the sample
 *   zone <key> <raw> <accounted> <host_total> <host_carry> <unatt_total> <unatt_carry>
 *   cpu <n> <busy_ns> <total_ns>
 *   vm <uuid> <cpu_ns_total> <name, C-escaped>
 *   vmzone <uuid> <key> <total> <carry>
 *   proc <uuid> <pid> <start_ticks> [<tid>:<cpu>:<runtime_ns> ...]
 *   libvirtcpu <uuid> <ns>
 *   sha256 <hex>
 *
 * Saving the last sample, not just the counters, is what lets a restarted
 * daemon attribute the energy spent while it was down: the first tick after
 * a restart is an ordinary tick between the saved sample and a new one. */
#include "config.h"

#include "host/state.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define STATE_MAGIC "vpowerd-state 1\n"

char *
vp_state_read_boot_id (const char *proc_root)
{
  g_autofree char *path = g_build_filename (proc_root, "sys/kernel/random/boot_id", NULL);
  char buf[64];
  if (vp_read_small_file (path, buf, sizeof buf, NULL) <= 0)
    return g_strdup ("unknown");
  return g_strdup (g_strstrip (buf));
}

static void
format_state (GString *out, const VpLedger *ledger, const VpSample *sample, const char *boot_id)
{
  g_string_append (out, STATE_MAGIC);
  g_string_append_printf (out, "boot %s\n", boot_id);
  g_string_append_printf (out, "mono %" G_GINT64_FORMAT "\n", sample ? sample->mono_ns : 0);
  for (guint z = 0; z < ledger->n_zones; z++)
    g_string_append_printf (out, "zone %s %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                            " %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT
                            " %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "\n",
                            ledger->zone_keys[z], sample ? sample->zone_raw[z] : 0, ledger->accounted_uj[z],
                            ledger->host[z].total_uj, ledger->host[z].carry,
                            ledger->unattributed[z].total_uj, ledger->unattributed[z].carry);
  for (guint c = 0; sample && c < sample->cpu.n_cpus; c++)
    g_string_append_printf (out, "cpu %u %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
                            c, sample->cpu.cpu[c].busy_ns, sample->cpu.cpu[c].total_ns);

  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, ledger->vms);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      VpVmLedger *vm = value;
      g_autofree char *name = g_strescape (vm->name ? vm->name : "", NULL);
      g_string_append_printf (out, "vm %s %" G_GUINT64_FORMAT " %s\n", vm->uuid, vm->cpu_ns_total, name);
      for (guint z = 0; z < ledger->n_zones; z++)
        g_string_append_printf (out, "vmzone %s %s %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "\n",
                                vm->uuid, ledger->zone_keys[z], vm->zones[z].total_uj, vm->zones[z].carry);
    }
  if (sample)
    {
      g_hash_table_iter_init (&iter, sample->processes);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          VpProcessTimes *times = value;
          g_string_append_printf (out, "proc %s %d %" G_GUINT64_FORMAT, (char *) key, times->pid,
                                  times->start_ticks);
          for (guint t = 0; t < times->tasks->len; t++)
            {
              VpTaskTime *task = &g_array_index (times->tasks, VpTaskTime, t);
              g_string_append_printf (out, " %d:%d:%" G_GUINT64_FORMAT, task->tid, task->cpu, task->runtime_ns);
            }
          g_string_append_c (out, '\n');
        }
      g_hash_table_iter_init (&iter, sample->libvirt_cpu_ns);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_string_append_printf (out, "libvirtcpu %s %" G_GUINT64_FORMAT "\n", (char *) key, *(guint64 *) value);
    }
  g_autofree char *digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) out->str, out->len);
  g_string_append_printf (out, "sha256 %s\n", digest);
}

static gboolean
write_all (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

gboolean
vp_state_save (const char *path, const VpLedger *ledger, const VpSample *sample,
               const char *boot_id, gboolean durable, GError **error)
{
  g_autoptr (GString) out = g_string_sized_new (4096);
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  g_autofree char *prev = g_strconcat (path, ".prev", NULL);

  format_state (out, ledger, sample, boot_id);

  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot create %s: %s", tmp, g_strerror (saved));
      return FALSE;
    }
  if (!write_all (fd, out->str, out->len) || (durable && fsync (fd) != 0))
    {
      int saved = errno;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot write %s: %s", tmp, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  /* Keep the last good file: if we die between the two renames, the loader
   * finds path.prev. */
  if (rename (path, prev) != 0 && errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot rename %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (rename (tmp, path) != 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot rename %s to %s: %s", tmp, path, g_strerror (saved));
      return FALSE;
    }
  if (durable)
    {
      /* The renames are only durable once the directory is synced. */
      g_autofree char *dir = g_path_get_dirname (path);
      int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dirfd >= 0)
        {
          fsync (dirfd);
          close (dirfd);
        }
    }
  return TRUE;
}

/* Parsing: every malformed line makes the whole file corrupt. */

static gboolean
parse_u64 (const char *text, guint64 *out)
{
  return text && vp_parse_u64 (text, out);
}

static gboolean
parse_i64 (const char *text, gint64 *out)
{
  return text && g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, out, NULL);
}

typedef struct {
  VpLedger *ledger;
  VpSample *sample;       /* being filled */
  char *boot_id;
  guint zones_matched;
  GPtrArray *dropped_zones;
} Loader;

static gboolean
load_zone (Loader *loader, char **f)
{
  guint64 raw, accounted, host_total, unatt_total;
  gint64 host_carry, unatt_carry;
  if (g_strv_length (f) != 8 || !parse_u64 (f[2], &raw) || !parse_u64 (f[3], &accounted) ||
      !parse_u64 (f[4], &host_total) || !parse_i64 (f[5], &host_carry) ||
      !parse_u64 (f[6], &unatt_total) || !parse_i64 (f[7], &unatt_carry))
    return FALSE;
  int z = vp_ledger_zone_index (loader->ledger, f[1]);
  if (z < 0)
    {
      g_ptr_array_add (loader->dropped_zones, g_strdup (f[1]));
      return TRUE;
    }
  loader->zones_matched++;
  loader->sample->zone_raw[z] = raw;
  loader->ledger->accounted_uj[z] = accounted;
  loader->ledger->host[z] = (VpCounter) { .total_uj = host_total, .carry = host_carry };
  loader->ledger->unattributed[z] = (VpCounter) { .total_uj = unatt_total, .carry = unatt_carry };
  return TRUE;
}

static gboolean
load_cpu (Loader *loader, char **f)
{
  guint64 n, busy, total;
  if (g_strv_length (f) != 4 || !parse_u64 (f[1], &n) || n > 65535 ||
      !parse_u64 (f[2], &busy) || !parse_u64 (f[3], &total))
    return FALSE;
  VpCpuSample *cpu = &loader->sample->cpu;
  if (n >= cpu->n_cpus)
    {
      cpu->cpu = g_renew (VpCpuTimes, cpu->cpu, n + 1);
      memset (cpu->cpu + cpu->n_cpus, 0, (n + 1 - cpu->n_cpus) * sizeof *cpu->cpu);
      cpu->n_cpus = (guint) n + 1;
    }
  cpu->cpu[n] = (VpCpuTimes) { .busy_ns = busy, .total_ns = total };
  return TRUE;
}

static gboolean
load_vm (Loader *loader, const char *line)
{
  /* vm <uuid> <cpu_ns_total> <name...>: the name may hold spaces. */
  g_auto (GStrv) f = g_strsplit (line, " ", 4);
  guint64 cpu_ns;
  if (g_strv_length (f) != 4 || !g_uuid_string_is_valid (f[1]) || !parse_u64 (f[2], &cpu_ns))
    return FALSE;
  g_autofree char *name = g_strcompress (f[3]);
  VpVmLedger *vm = vp_ledger_vm (loader->ledger, f[1], name);
  vm->cpu_ns_total = cpu_ns;
  return TRUE;
}

static gboolean
load_vmzone (Loader *loader, char **f)
{
  guint64 total;
  gint64 carry;
  if (g_strv_length (f) != 5 || !parse_u64 (f[3], &total) || !parse_i64 (f[4], &carry))
    return FALSE;
  VpVmLedger *vm = vp_ledger_lookup_vm (loader->ledger, f[1]);
  if (!vm)
    return FALSE;
  int z = vp_ledger_zone_index (loader->ledger, f[2]);
  if (z >= 0)
    vm->zones[z] = (VpCounter) { .total_uj = total, .carry = carry };
  return TRUE;
}

static gboolean
load_proc (Loader *loader, char **f)
{
  guint64 pid, start;
  guint n = g_strv_length (f);
  if (n < 4 || !g_uuid_string_is_valid (f[1]) || !parse_u64 (f[2], &pid) || pid > G_MAXINT ||
      !parse_u64 (f[3], &start))
    return FALSE;
  g_autoptr (VpProcessTimes) times = vp_process_times_new ();
  times->pid = (int) pid;
  times->start_ticks = start;
  for (guint i = 4; i < n; i++)
    {
      g_auto (GStrv) t = g_strsplit (f[i], ":", 3);
      gint64 tid, cpu;
      guint64 runtime;
      if (g_strv_length (t) != 3 || !parse_i64 (t[0], &tid) || !parse_i64 (t[1], &cpu) ||
          !parse_u64 (t[2], &runtime) || tid <= 0 || tid > G_MAXINT || cpu < -1 || cpu > G_MAXINT)
        return FALSE;
      VpTaskTime task = { .tid = (int) tid, .cpu = (int) cpu, .runtime_ns = runtime };
      g_array_append_val (times->tasks, task);
    }
  g_hash_table_replace (loader->sample->processes, g_strdup (f[1]), g_steal_pointer (&times));
  return TRUE;
}

static gboolean
parse_state (const char *path, const char *content, gsize length, Loader *loader, GError **error)
{
  /* Verify the checksum before trusting any line. */
  const char *tail = g_strrstr_len (content, (gssize) length, "\nsha256 ");
  if (!g_str_has_prefix (content, STATE_MAGIC) || !tail || content[length - 1] != '\n')
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s is truncated or not a vpowerd state file", path);
      return FALSE;
    }
  gsize body = (gsize) (tail - content) + 1;
  g_autofree char *digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) content, body);
  g_autofree char *stored = g_strndup (tail + strlen ("\nsha256 "), length - body - strlen ("sha256 ") - 1);
  if (!g_str_equal (digest, stored))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s fails its checksum (torn write?)", path);
      return FALSE;
    }

  g_autofree char *text = g_strndup (content + strlen (STATE_MAGIC), body - strlen (STATE_MAGIC));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint lineno = 1;
  for (char **line = lines; *line; line++)
    {
      lineno++;
      if (**line == '\0')
        continue;
      g_auto (GStrv) f = g_strsplit (*line, " ", -1);
      gboolean ok;
      gint64 mono;
      if (g_str_equal (f[0], "boot"))
        ok = f[1] && !f[2] && (g_free (loader->boot_id), loader->boot_id = g_strdup (f[1]), TRUE);
      else if (g_str_equal (f[0], "mono"))
        ok = f[1] && !f[2] && parse_i64 (f[1], &mono) && (loader->sample->mono_ns = mono, TRUE);
      else if (g_str_equal (f[0], "zone"))
        ok = load_zone (loader, f);
      else if (g_str_equal (f[0], "cpu"))
        ok = load_cpu (loader, f);
      else if (g_str_equal (f[0], "vm"))
        ok = load_vm (loader, *line);
      else if (g_str_equal (f[0], "vmzone"))
        ok = load_vmzone (loader, f);
      else if (g_str_equal (f[0], "proc"))
        ok = load_proc (loader, f);
      else if (g_str_equal (f[0], "libvirtcpu"))
        {
          guint64 ns;
          ok = g_strv_length (f) == 3 && parse_u64 (f[2], &ns);
          if (ok)
            g_hash_table_replace (loader->sample->libvirt_cpu_ns, g_strdup (f[1]), g_memdup2 (&ns, sizeof ns));
        }
      else
        ok = FALSE;
      if (!ok)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s:%u: malformed line \"%.60s\"", path, lineno, *line);
          return FALSE;
        }
    }
  return TRUE;
}

static void
ledger_reset (VpLedger *ledger)
{
  g_hash_table_remove_all (ledger->vms);
  memset (ledger->host, 0, ledger->n_zones * sizeof *ledger->host);
  memset (ledger->unattributed, 0, ledger->n_zones * sizeof *ledger->unattributed);
  memset (ledger->accounted_uj, 0, ledger->n_zones * sizeof *ledger->accounted_uj);
}

/* Returns 1 loaded, 0 absent, -1 corrupt (set aside). */
static int
load_one (const char *path, VpLedger *ledger, const char *boot_id, VpSample **sample_out)
{
  g_autofree char *content = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &content, &length, &error))
    {
      if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return 0;
      g_warning ("state: %s", error->message);
      return -1;
    }
  Loader loader = {
    .ledger = ledger,
    .sample = vp_sample_new (ledger->n_zones),
    .dropped_zones = g_ptr_array_new_with_free_func (g_free),
  };
  g_autoptr (VpSample) sample = loader.sample;
  g_autoptr (GPtrArray) dropped = loader.dropped_zones;
  g_autofree char *saved_boot = NULL;
  gboolean ok = parse_state (path, content, length, &loader, &error);
  saved_boot = loader.boot_id;
  if (!ok)
    {
      ledger_reset (ledger);
      g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
      g_warning ("state: %s; moved aside to %s", error->message, aside);
      if (rename (path, aside) != 0)
        g_warning ("state: cannot move %s aside: %s", path, g_strerror (errno));
      return -1;
    }
  for (guint i = 0; i < dropped->len; i++)
    g_message ("state: dropping counters of zone intel-rapl:%s, which this host no longer has",
               (char *) dropped->pdata[i]);

  if (g_strcmp0 (saved_boot, boot_id) != 0)
    g_message ("state: %s was saved before a reboot; counters continue, the downtime is not attributed", path);
  else if (loader.zones_matched != ledger->n_zones || sample->mono_ns == 0)
    g_message ("state: %s has other zones than this sensor; counters continue, the downtime is not attributed", path);
  else
    *sample_out = g_steal_pointer (&sample);
  g_message ("state: restored counters of %u VMs from %s", g_hash_table_size (ledger->vms), path);
  return 1;
}

gboolean
vp_state_load (const char *path, VpLedger *ledger, const char *boot_id,
               VpSample **sample, GError **error)
{
  g_autofree char *prev = g_strconcat (path, ".prev", NULL);

  *sample = NULL;
  int result = load_one (path, ledger, boot_id, sample);
  if (result == 1)
    return TRUE;
  /* The main file is absent (a kill between the two renames) or corrupt:
   * the previous one is one save older but whole, and its sample lets the
   * first tick attribute again everything since. */
  result = load_one (prev, ledger, boot_id, sample);
  if (result == 1)
    g_message ("state: used the previous state file %s", prev);
  return TRUE;
}
