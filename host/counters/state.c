/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the persisted state: counters plus the last sample, written atomically.
 *
 * The file is line-oriented text, one record per line, ending with a checksum
 * of everything before it, so a torn or truncated write is always detected:
 *
 *   vpowerd-state 5
 *   seq <n>                        save number: the newest valid file wins
 *   boot <boot_id>                 kernel boot id at the time of the sample
 *   mono <ns>                      CLOCK_MONOTONIC of the sample
 *   zone <key> <raw> <accounted> <host_total> <host_carry> <unatt_total> <unatt_carry>
 *   cpu <n> <busy_ns> <total_ns>
 *   vm <uuid> <cpu_ns_total> <origin_seed> <epoch> <name, C-escaped>
 *   vmzone <uuid> <key> <total> <carry>
 *   vmmove <uuid> <departed_us> <arrived_us> <migrations_in> <migrations_out>   (VMs that ever moved)
 *   proc <uuid> <pid> <start_ticks> [<tid>:<cpu>:<runtime_ns> ...]
 *   checkpoint <uuid> <pid> <start_ticks> [<tid>:<cpu>:<runtime_ns> ...]   (a per-CPU source's)
 *   since <uuid> <ns>              CPU time counted since the VM's checkpoint
 *   libvirtcpu <uuid> <ns>
 *   fnv1a64 <hex>
 *
 * Where it is written, and why:
 *   PATH.0, PATH.1  every tick, alternately, overwritten in place with one
 *                   pwrite() and no fsync. That survives a killed daemon (the
 *                   page cache outlives the process); if the kill tears one,
 *                   the other holds the tick before. Creating and renaming a
 *                   file each tick cost more than all of a tick's /proc reads.
 *   PATH            every save-interval and at shutdown: a temporary file,
 *                   fsync, rename, fsync of the directory. What a power loss
 *                   falls back to.
 * Version 1 files (before counter origins, issue #11) have no origin_seed;
 * their VMs keep counting from where they were, with no origin. Version 2
 * files (before the channel, issue #12) have no epoch: their VMs get a new
 * one, which a guest's agent (none read the old files) takes as a start.
 * Version 3 files (before migration, issue #13) have no vmmove lines. Version 4 files (before the
 * BPF CPU-time source, issue #24) have no checkpoint or since lines.
 * The loader takes the valid file with the highest seq. Numbers are
 * formatted by hand and the checksum is FNV-1a: the threat is a crash, not
 * an adversary who can write the state directory.
 *
 * Saving the last sample, not just the counters, is what lets a restarted
 * daemon attribute the energy spent while it was down: the first tick after
 * a restart is an ordinary tick between the saved sample and a new one. */
#include "config.h"

#include "host/counters/state.h"
#define VP_STATE_TESTING
#include "host/counters/state-priv.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define STATE_MAGIC "vpowerd-state 5\n"
#define STATE_MAGIC_V4 "vpowerd-state 4\n"   /* read, never written */
#define STATE_MAGIC_V3 "vpowerd-state 3\n"   /* read, never written */
#define STATE_MAGIC_V2 "vpowerd-state 2\n"   /* read, never written */
#define STATE_MAGIC_V1 "vpowerd-state 1\n"   /* read, never written */
#define CHECKSUM_TAG "fnv1a64 "

/* FNV-1a over 64-bit words (then the tail bytes): eight times fewer
 * multiplications than the byte-wise original, and as good at catching the
 * torn or truncated writes it is here for. */
guint64
vp_state_checksum (const char *data, gsize length)
{
  guint64 hash = G_GUINT64_CONSTANT (14695981039346656037);
  gsize i = 0;
  for (; i + 8 <= length; i += 8)
    {
      guint64 word;
      memcpy (&word, data + i, 8);
      hash = (hash ^ word) * G_GUINT64_CONSTANT (1099511628211);
      hash ^= hash >> 29;
    }
  for (; i < length; i++)
    hash = (hash ^ (guchar) data[i]) * G_GUINT64_CONSTANT (1099511628211);
  return hash;
}

/* Appends " <n>" (" -<n>" when negative). The state file is mostly
 * numbers, and printf was most of the cost of writing it. */
static void
put_number (GString *out, gboolean negative, guint64 magnitude, char separator)
{
  char text[24];
  int n = (int) sizeof text;
  do
    text[--n] = (char) ('0' + magnitude % 10);
  while ((magnitude /= 10) != 0);
  if (negative)
    text[--n] = '-';
  text[--n] = separator;
  g_string_append_len (out, text + n, (gssize) sizeof text - n);
}

static void
put_u64 (GString *out, guint64 value)
{
  put_number (out, FALSE, value, ' ');
}

static void
put_i64_after (GString *out, gint64 value, char separator)
{
  put_number (out, value < 0, value < 0 ? (guint64) 0 - (guint64) value : (guint64) value, separator);
}

static void
put_i64 (GString *out, gint64 value)
{
  put_i64_after (out, value, ' ');
}

static void
put_word (GString *out, const char *word)
{
  g_string_append_c (out, ' ');
  g_string_append (out, word);
}

/* One line per VM of table (uuid -> VpProcessTimes): "TAG uuid pid start tid:cpu:runtime ...". */
static void
put_process_times (GString *out, const char *tag, GHashTable *table)
{
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const VpProcessTimes *times = value;
      g_string_append (out, tag);
      put_word (out, key);
      put_i64 (out, times->pid);
      put_u64 (out, times->start_ticks);
      for (guint t = 0; t < times->tasks->len; t++)
        {
          const VpTaskTime *task = &g_array_index (times->tasks, VpTaskTime, t);
          put_i64 (out, task->tid);                      /* tid:cpu:runtime */
          put_i64_after (out, task->cpu, ':');
          put_number (out, FALSE, task->runtime_ns, ':');
        }
      g_string_append_c (out, '\n');
    }
}

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
format_state (GString *out, guint64 seq, const VpLedger *ledger, const VpSample *sample, const char *boot_id)
{
  g_string_append (out, STATE_MAGIC);
  g_string_append (out, "seq");
  put_u64 (out, seq);
  g_string_append (out, "\nboot");
  put_word (out, boot_id);
  g_string_append (out, "\nmono");
  put_i64 (out, sample ? sample->mono_ns : 0);
  g_string_append_c (out, '\n');
  for (guint z = 0; z < ledger->n_zones; z++)
    {
      g_string_append (out, "zone");
      put_word (out, ledger->zone_keys[z]);
      put_u64 (out, sample ? sample->zone_raw[z] : 0);
      put_u64 (out, ledger->accounted_uj[z]);
      put_u64 (out, ledger->host[z].total_uj);
      put_i64 (out, ledger->host[z].carry);
      put_u64 (out, ledger->unattributed[z].total_uj);
      put_i64 (out, ledger->unattributed[z].carry);
      g_string_append_c (out, '\n');
    }
  for (guint c = 0; sample && c < sample->cpu.n_cpus; c++)
    {
      g_string_append (out, "cpu");
      put_u64 (out, c);
      put_u64 (out, sample->cpu.cpu[c].busy_ns);
      put_u64 (out, sample->cpu.cpu[c].total_ns);
      g_string_append_c (out, '\n');
    }

  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, ledger->vms);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      VpVmLedger *vm = value;
      g_autofree char *name = g_strescape (vm->name ? vm->name : "", NULL);
      g_string_append (out, "vm");
      put_word (out, vm->uuid);
      put_u64 (out, vm->cpu_ns_total);
      put_u64 (out, vm->origin_seed);
      put_u64 (out, vm->epoch);
      put_word (out, name);
      g_string_append_c (out, '\n');
      if (vm->departed_us || vm->arrived_us || vm->migrations_in || vm->migrations_out)
        {
          g_string_append (out, "vmmove");
          put_word (out, vm->uuid);
          put_i64 (out, vm->departed_us);
          put_i64 (out, vm->arrived_us);
          put_u64 (out, vm->migrations_in);
          put_u64 (out, vm->migrations_out);
          g_string_append_c (out, '\n');
        }
      for (guint z = 0; z < ledger->n_zones; z++)
        {
          g_string_append (out, "vmzone");
          put_word (out, vm->uuid);
          put_word (out, ledger->zone_keys[z]);
          put_u64 (out, vm->zones[z].total_uj);
          put_i64 (out, vm->zones[z].carry);
          g_string_append_c (out, '\n');
        }
    }
  if (sample)
    {
      put_process_times (out, "proc", sample->processes);
      put_process_times (out, "checkpoint", sample->checkpoints);
      g_hash_table_iter_init (&iter, sample->since_ns);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          g_string_append (out, "since");
          put_word (out, key);
          put_u64 (out, *(guint64 *) value);
          g_string_append_c (out, '\n');
        }
      g_hash_table_iter_init (&iter, sample->libvirt_cpu_ns);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          g_string_append (out, "libvirtcpu");
          put_word (out, key);
          put_u64 (out, *(guint64 *) value);
          g_string_append_c (out, '\n');
        }
    }
  g_string_append_printf (out, CHECKSUM_TAG "%016" G_GINT64_MODIFIER "x\n", vp_state_checksum (out->str, out->len));
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

/* Writes data to path atomically: a temporary file renamed over it. With
 * durable, the file and the rename are also synced to disk. */
static gboolean
replace_file (const char *path, const GString *data, gboolean durable, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);

  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot create %s: %s", tmp, g_strerror (saved));
      return FALSE;
    }
  if (!write_all (fd, data->str, data->len) || (durable && fsync (fd) != 0))
    {
      int saved = errno;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot write %s: %s", tmp, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  if (rename (tmp, path) != 0)
    {
      int saved = errno;
      g_unlink (tmp);
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot rename %s to %s: %s", tmp, path, g_strerror (saved));
      return FALSE;
    }
  if (durable)
    {
      /* The rename is only durable once the directory is synced. */
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

struct _VpStateStore {
  char *path;
  char *slot_path[2];
  int slot_fd[2];
  gsize slot_size[2];
  guint next_slot;
  guint64 seq;        /* of the last save or load */
};

VpStateStore *
vp_state_store_new (const char *path)
{
  VpStateStore *store = g_new0 (VpStateStore, 1);
  store->path = g_strdup (path);
  for (int i = 0; i < 2; i++)
    {
      store->slot_path[i] = g_strdup_printf ("%s.%d", path, i);
      store->slot_fd[i] = -1;
    }
  return store;
}

void
vp_state_store_free (VpStateStore *store)
{
  if (!store)
    return;
  for (int i = 0; i < 2; i++)
    {
      if (store->slot_fd[i] >= 0)
        close (store->slot_fd[i]);
      g_free (store->slot_path[i]);
    }
  g_free (store->path);
  g_free (store);
}

static gboolean
write_slot (VpStateStore *store, const GString *data, GError **error)
{
  guint slot = store->next_slot;
  if (store->slot_fd[slot] < 0)
    {
      store->slot_fd[slot] = open (store->slot_path[slot], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (store->slot_fd[slot] < 0)
        {
          int saved = errno;
          g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot open %s: %s", store->slot_path[slot], g_strerror (saved));
          return FALSE;
        }
      store->slot_size[slot] = G_MAXSIZE;   /* unknown: truncate after the first write */
    }
  int fd = store->slot_fd[slot];
  gssize written = pwrite (fd, data->str, data->len, 0);
  if (written != (gssize) data->len ||
      (data->len < store->slot_size[slot] && ftruncate (fd, (off_t) data->len) != 0))
    {
      int saved = written < 0 ? errno : EIO;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot write %s: %s", store->slot_path[slot], g_strerror (saved));
      return FALSE;
    }
  store->slot_size[slot] = data->len;
  store->next_slot = slot ^ 1;
  return TRUE;
}

gboolean
vp_state_store_save (VpStateStore *store, const VpLedger *ledger, const VpSample *sample,
                     const char *boot_id, gboolean durable, GError **error)
{
  g_autoptr (GString) out = g_string_sized_new (4096);

  format_state (out, ++store->seq, ledger, sample, boot_id);
  if (durable)
    return replace_file (store->path, out, TRUE, error);
  return write_slot (store, out, error);
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
  guint64 seq;
  guint zones_matched;
  GPtrArray *dropped_zones;
  guint version;          /* 1: no origin seeds; 2: no epochs; 3: no vmmove */
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
  /* vm <uuid> <cpu_ns_total> [<origin_seed> [<epoch>]] <name...>: the name may hold spaces. */
  guint fields = MIN (loader->version, 3) + 3;
  g_auto (GStrv) f = g_strsplit (line, " ", (gint) fields);
  guint64 cpu_ns, seed = 0, epoch = 0;
  if (g_strv_length (f) != fields || !g_uuid_string_is_valid (f[1]) || !parse_u64 (f[2], &cpu_ns) ||
      (loader->version >= 2 && !parse_u64 (f[3], &seed)) ||
      (loader->version >= 3 && (!parse_u64 (f[4], &epoch) || epoch == 0)))
    return FALSE;
  g_autofree char *name = g_strcompress (f[fields - 1]);
  VpVmLedger *vm = vp_ledger_vm (loader->ledger, f[1], name);
  vm->cpu_ns_total = cpu_ns;
  vm->origin_seed = seed;
  if (epoch)
    vm->epoch = epoch;
  return TRUE;
}

static gboolean
load_vmmove (Loader *loader, char **f)
{
  gint64 departed, arrived;
  guint64 in, out;
  if (loader->version < 4 || g_strv_length (f) != 6 || !parse_i64 (f[2], &departed) || departed < 0 ||
      !parse_i64 (f[3], &arrived) || arrived < 0 || !parse_u64 (f[4], &in) || !parse_u64 (f[5], &out))
    return FALSE;
  VpVmLedger *vm = vp_ledger_lookup_vm (loader->ledger, f[1]);
  if (!vm)
    return FALSE;
  vm->departed_us = departed;
  vm->arrived_us = arrived;
  vm->migrations_in = in;
  vm->migrations_out = out;
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

/* A proc or checkpoint line, into table. */
static gboolean
load_process_times (GHashTable *table, char **f)
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
  g_hash_table_replace (table, g_strdup (f[1]), g_steal_pointer (&times));
  return TRUE;
}

static gboolean
parse_state (const char *path, const char *content, gsize length, Loader *loader, GError **error)
{
  /* Verify the checksum before trusting any line. */
  const char *tail = g_strrstr_len (content, (gssize) length, "\n" CHECKSUM_TAG);
  loader->version = g_str_has_prefix (content, STATE_MAGIC) ? 5 : g_str_has_prefix (content, STATE_MAGIC_V4) ? 4
                    : g_str_has_prefix (content, STATE_MAGIC_V3) ? 3
                    : g_str_has_prefix (content, STATE_MAGIC_V2) ? 2
                    : g_str_has_prefix (content, STATE_MAGIC_V1) ? 1 : 0;
  if (loader->version == 0 || !tail || content[length - 1] != '\n')
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "%s is truncated or not a vpowerd state file", path);
      return FALSE;
    }
  gsize body = (gsize) (tail - content) + 1;
  g_autofree char *digest = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", vp_state_checksum (content, body));
  g_autofree char *stored = g_strndup (tail + 1 + strlen (CHECKSUM_TAG), length - body - strlen (CHECKSUM_TAG) - 1);
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
      guint64 seq;
      if (g_str_equal (f[0], "seq"))
        ok = f[1] && !f[2] && parse_u64 (f[1], &seq) && (loader->seq = seq, TRUE);
      else if (g_str_equal (f[0], "boot"))
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
      else if (g_str_equal (f[0], "vmmove"))
        ok = load_vmmove (loader, f);
      else if (g_str_equal (f[0], "proc"))
        ok = load_process_times (loader->sample->processes, f);
      else if (g_str_equal (f[0], "checkpoint") && loader->version >= 5)
        ok = load_process_times (loader->sample->checkpoints, f);
      else if (g_str_equal (f[0], "since") && loader->version >= 5)
        {
          guint64 ns;
          ok = g_strv_length (f) == 3 && g_uuid_string_is_valid (f[1]) && parse_u64 (f[2], &ns);
          if (ok)
            g_hash_table_replace (loader->sample->since_ns, g_strdup (f[1]), g_memdup2 (&ns, sizeof ns));
        }
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

/* One candidate file, parsed into its own ledger. */
typedef struct {
  const char *path;
  VpLedger *ledger;
  VpSample *sample;
  char *boot_id;
  guint64 seq;
  guint zones_matched;
  GPtrArray *dropped_zones;
} Candidate;

static void
candidate_clear (Candidate *candidate)
{
  vp_ledger_free (candidate->ledger);
  vp_sample_free (candidate->sample);
  g_free (candidate->boot_id);
  if (candidate->dropped_zones)
    g_ptr_array_unref (candidate->dropped_zones);
  memset (candidate, 0, sizeof *candidate);
}

/* Parses path into candidate. FALSE when absent or corrupt; a corrupt file
 * is reported once and renamed to path.corrupt, so it is not read again. */
static gboolean
load_candidate (const char *path, const VpLedger *shape, Candidate *candidate)
{
  g_autofree char *content = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &content, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("state: %s", error->message);
      return FALSE;
    }
  Loader loader = {
    .ledger = vp_ledger_new (shape->n_zones, (const char *const *) shape->zone_keys),
    .sample = vp_sample_new (shape->n_zones),
    .dropped_zones = g_ptr_array_new_with_free_func (g_free),
  };
  gboolean ok = parse_state (path, content, length, &loader, &error);
  *candidate = (Candidate) {
    .path = path, .ledger = loader.ledger, .sample = loader.sample, .boot_id = loader.boot_id,
    .seq = loader.seq, .zones_matched = loader.zones_matched, .dropped_zones = loader.dropped_zones,
  };
  if (!ok)
    {
      g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
      g_warning ("state: %s; moved aside to %s", error->message, aside);
      if (rename (path, aside) != 0)
        g_warning ("state: cannot move %s aside: %s", path, g_strerror (errno));
      candidate_clear (candidate);
      return FALSE;
    }
  return TRUE;
}

/* Moves everything src holds into dest (same zones). */
static void
ledger_take (VpLedger *dest, VpLedger *src)
{
  memcpy (dest->host, src->host, dest->n_zones * sizeof *dest->host);
  memcpy (dest->unattributed, src->unattributed, dest->n_zones * sizeof *dest->unattributed);
  memcpy (dest->accounted_uj, src->accounted_uj, dest->n_zones * sizeof *dest->accounted_uj);
  GHashTable *vms = dest->vms;
  dest->vms = src->vms;
  src->vms = vms;
}

gboolean
vp_state_store_load (VpStateStore *store, VpLedger *ledger, const char *boot_id,
                     VpSample **sample, GError **error)
{
  const char *paths[] = { store->path, store->slot_path[0], store->slot_path[1] };
  Candidate best = { 0 };

  *sample = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      Candidate candidate;
      if (!load_candidate (paths[i], ledger, &candidate))
        continue;
      if (!best.ledger || candidate.seq > best.seq)
        {
          candidate_clear (&best);
          best = candidate;
        }
      else
        candidate_clear (&candidate);
    }
  if (!best.ledger)
    return TRUE;   /* a first start, or nothing readable: counters start at zero */

  store->seq = best.seq;
  /* The next tick must not overwrite the slot we are restoring from. */
  store->next_slot = g_str_equal (best.path, store->slot_path[0]) ? 1 : 0;
  ledger_take (ledger, best.ledger);
  for (guint i = 0; i < best.dropped_zones->len; i++)
    g_message ("state: dropping counters of zone intel-rapl:%s, which this host no longer has",
               (char *) best.dropped_zones->pdata[i]);
  if (g_strcmp0 (best.boot_id, boot_id) != 0)
    g_message ("state: %s was saved before a reboot; counters continue, the downtime is not attributed", best.path);
  else if (best.zones_matched != ledger->n_zones || best.sample->mono_ns == 0)
    g_message ("state: %s has other zones than this sensor; counters continue, the downtime is not attributed",
               best.path);
  else
    *sample = g_steal_pointer (&best.sample);
  g_message ("state: restored counters of %u VMs from %s", g_hash_table_size (ledger->vms), best.path);
  candidate_clear (&best);
  return TRUE;
}
