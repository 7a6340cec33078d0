/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the state file: round trip, torn writes, corruption, zone changes. */
#include "config.h"

#include "host/counters/state.h"
#define VP_STATE_TESTING
#include "host/counters/state-priv.h"

#include <glib/gstdio.h>

static const char *const keys[] = { "0", "0:0", "1", NULL };

static VpLedger *
make_ledger (void)
{
  VpLedger *ledger = vp_ledger_new (3, keys);
  ledger->origin_key = 0x5eed;
  for (guint z = 0; z < 3; z++)
    {
      ledger->host[z] = (VpCounter) { .total_uj = 1000 + z, .carry = -7 };
      ledger->unattributed[z] = (VpCounter) { .total_uj = 2000 + z, .carry = 3 };
      ledger->accounted_uj[z] = 9000 + z;
    }
  VpVmLedger *vm = vp_ledger_vm (ledger, "0b5d6c1e-0000-4000-8000-000000000001", "web 1 \"quoted\"");
  vm->cpu_ns_total = 123456789;
  vm->zones[0] = (VpCounter) { .total_uj = G_GUINT64_CONSTANT (18000000000000000000), .carry = G_MININT64 / 4 };
  vm->zones[2] = (VpCounter) { .total_uj = 5, .carry = 1 };
  return ledger;
}

static VpSample *
make_sample (void)
{
  VpSample *sample = vp_sample_new (3);
  sample->mono_ns = 424242;
  for (guint z = 0; z < 3; z++)
    sample->zone_raw[z] = 262143328000 + z;
  sample->cpu.n_cpus = 2;
  sample->cpu.cpu = g_new0 (VpCpuTimes, 2);
  sample->cpu.cpu[1] = (VpCpuTimes) { 11, 22 };
  VpProcessTimes *times = vp_process_times_new ();
  times->pid = 4321;
  times->start_ticks = 99;
  VpTaskTime tasks[] = { { 4321, 0, 100 }, { 4322, -1, 200 } };
  g_array_append_vals (times->tasks, tasks, 2);
  g_hash_table_insert (sample->processes, g_strdup ("0b5d6c1e-0000-4000-8000-000000000001"), times);
  guint64 ns = 777;
  g_hash_table_insert (sample->libvirt_cpu_ns, g_strdup ("0b5d6c1e-0000-4000-8000-000000000002"),
                       g_memdup2 (&ns, sizeof ns));
  /* A VM counted by BPF: per-CPU slots (tid = CPU + 1), a program instance, its /proc checkpoint
   * and what was counted since. */
  VpProcessTimes *per_cpu = vp_process_times_new ();
  per_cpu->pid = 5000;
  per_cpu->start_ticks = VP_TIMES_PER_CPU | 12345;
  VpTaskTime slots[] = { { 1, 0, 3000000 }, { 2, 1, 4000000 } };
  g_array_append_vals (per_cpu->tasks, slots, 2);
  g_hash_table_insert (sample->processes, g_strdup ("0b5d6c1e-0000-4000-8000-000000000003"), per_cpu);
  VpProcessTimes *checkpoint = vp_process_times_new ();
  checkpoint->pid = 5000;
  checkpoint->start_ticks = 77;
  VpTaskTime threads[] = { { 5000, 1, 6000000 } };
  g_array_append_vals (checkpoint->tasks, threads, 1);
  g_hash_table_insert (sample->checkpoints, g_strdup ("0b5d6c1e-0000-4000-8000-000000000003"), checkpoint);
  guint64 since = 1000000;
  g_hash_table_insert (sample->since_ns, g_strdup ("0b5d6c1e-0000-4000-8000-000000000003"),
                       g_memdup2 (&since, sizeof since));
  return sample;
}

static gboolean
save (const char *path, VpLedger *ledger, VpSample *sample, const char *boot, gboolean durable)
{
  /* A store per call would restart at slot 0; keep one per path. */
  static GHashTable *stores;
  if (!stores)
    stores = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) vp_state_store_free);
  VpStateStore *store = g_hash_table_lookup (stores, path);
  if (!store)
    g_hash_table_insert (stores, g_strdup (path), store = vp_state_store_new (path));
  g_autoptr (GError) error = NULL;
  gboolean ok = vp_state_store_save (store, ledger, sample, boot, durable, &error);
  g_assert_no_error (error);
  return ok;
}

static gboolean
load (const char *path, VpLedger *ledger, const char *boot, VpSample **sample)
{
  g_autoptr (VpStateStore) store = vp_state_store_new (path);
  return vp_state_store_load (store, ledger, boot, sample, NULL);
}

static char *
state_path (char **dir)
{
  *dir = g_dir_make_tmp ("vp-state-XXXXXX", NULL);
  return g_build_filename (*dir, "counters.state", NULL);
}

static void
remove_dir (const char *dir)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (command), ==, 0);
}

static void
assert_ledgers_equal (VpLedger *a, VpLedger *b)
{
  for (guint z = 0; z < 3; z++)
    {
      g_assert_cmpuint (a->host[z].total_uj, ==, b->host[z].total_uj);
      g_assert_cmpint (a->host[z].carry, ==, b->host[z].carry);
      g_assert_cmpuint (a->unattributed[z].total_uj, ==, b->unattributed[z].total_uj);
      g_assert_cmpuint (a->accounted_uj[z], ==, b->accounted_uj[z]);
    }
  g_assert_cmpuint (g_hash_table_size (a->vms), ==, g_hash_table_size (b->vms));
  VpVmLedger *va = vp_ledger_lookup_vm (a, "0b5d6c1e-0000-4000-8000-000000000001");
  VpVmLedger *vb = vp_ledger_lookup_vm (b, "0b5d6c1e-0000-4000-8000-000000000001");
  g_assert_nonnull (vb);
  g_assert_cmpstr (va->name, ==, vb->name);
  g_assert_cmpuint (va->cpu_ns_total, ==, vb->cpu_ns_total);
  g_assert_cmpuint (va->origin_seed, ==, vb->origin_seed);
  for (guint z = 0; z < 3; z++)
    {
      g_assert_cmpuint (va->zones[z].total_uj, ==, vb->zones[z].total_uj);
      g_assert_cmpint (va->zones[z].carry, ==, vb->zones[z].carry);
    }
}

static void
test_round_trip (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  g_autoptr (VpSample) sample = make_sample ();

  g_assert_true (save (path, ledger, sample, "boot-a", TRUE));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (load (path, restored, "boot-a", &restored_sample));
  assert_ledgers_equal (ledger, restored);
  g_assert_nonnull (restored_sample);
  g_assert_cmpint (restored_sample->mono_ns, ==, 424242);
  g_assert_cmpuint (restored_sample->zone_raw[2], ==, 262143328002);
  g_assert_cmpuint (restored_sample->cpu.cpu[1].total_ns, ==, 22);
  VpProcessTimes *times = g_hash_table_lookup (restored_sample->processes, "0b5d6c1e-0000-4000-8000-000000000001");
  g_assert_nonnull (times);
  g_assert_cmpint (times->pid, ==, 4321);
  g_assert_cmpuint (times->start_ticks, ==, 99);
  g_assert_cmpuint (times->tasks->len, ==, 2);
  g_assert_cmpint (g_array_index (times->tasks, VpTaskTime, 1).cpu, ==, -1);
  g_assert_cmpuint (*(guint64 *) g_hash_table_lookup (restored_sample->libvirt_cpu_ns,
                                                     "0b5d6c1e-0000-4000-8000-000000000002"), ==, 777);
  const char *bpf_vm = "0b5d6c1e-0000-4000-8000-000000000003";
  times = g_hash_table_lookup (restored_sample->processes, bpf_vm);
  g_assert_nonnull (times);
  g_assert_true (vp_process_times_per_cpu (times));
  g_assert_cmpuint (times->start_ticks, ==, VP_TIMES_PER_CPU | 12345);
  g_assert_cmpuint (g_array_index (times->tasks, VpTaskTime, 1).runtime_ns, ==, 4000000);
  times = g_hash_table_lookup (restored_sample->checkpoints, bpf_vm);
  g_assert_nonnull (times);
  g_assert_false (vp_process_times_per_cpu (times));
  g_assert_cmpuint (g_array_index (times->tasks, VpTaskTime, 0).runtime_ns, ==, 6000000);
  g_assert_cmpuint (*(guint64 *) g_hash_table_lookup (restored_sample->since_ns, bpf_vm), ==, 1000000);
  remove_dir (dir);
}

static void
test_reboot_drops_sample_keeps_counters (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  g_autoptr (VpSample) sample = make_sample ();
  g_assert_true (save (path, ledger, sample, "boot-a", FALSE));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (load (path, restored, "boot-b", &restored_sample));
  g_assert_null (restored_sample);    /* raw readings of another boot mean nothing */
  assert_ledgers_equal (ledger, restored);
  remove_dir (dir);
}

/* A torn write (a kill mid-write, a power loss) is detected by the
 * checksum, set aside, and the newest whole save is used instead: the other
 * tick slot, else the durable file. Its sample lets the first tick
 * attribute again everything since. */
static void
test_torn_write_recovers_previous (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autofree char *slot1 = g_strconcat (path, ".1", NULL);
  g_autofree char *slot0 = g_strconcat (path, ".0", NULL);
  g_autoptr (VpLedger) ledger = make_ledger ();
  g_autoptr (VpSample) sample = make_sample ();
  VpVmLedger *vm = vp_ledger_lookup_vm (ledger, "0b5d6c1e-0000-4000-8000-000000000001");

  g_assert_true (save (path, ledger, sample, "boot-a", TRUE));    /* durable: 5 */
  vm->zones[2].total_uj = 105;
  g_assert_true (save (path, ledger, sample, "boot-a", FALSE));   /* slot 0: 105 */
  vm->zones[2].total_uj = 205;
  g_assert_true (save (path, ledger, sample, "boot-a", FALSE));   /* slot 1: 205 */

  /* Tear the newest slot in half: the other slot wins. */
  g_autofree char *content = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (slot1, &content, &length, NULL));
  g_assert_true (g_file_set_contents (slot1, content, (gssize) length / 2, NULL));
  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state.1 is truncated*moved aside*");
  g_assert_true (load (path, restored, "boot-a", &restored_sample));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (vp_ledger_lookup_vm (restored, vm->uuid)->zones[2].total_uj, ==, 105);
  g_assert_nonnull (restored_sample);
  g_autofree char *aside = g_strconcat (slot1, ".corrupt", NULL);
  g_assert_true (g_file_test (aside, G_FILE_TEST_EXISTS));

  /* Both slots gone bad (a power loss): the durable save is used. */
  g_assert_true (g_file_set_contents (slot0, "vpowerd-state 1\nseq 9", -1, NULL));
  g_autoptr (VpLedger) durable = vp_ledger_new (3, keys);
  g_autoptr (VpSample) durable_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state.0 is truncated*");
  g_assert_true (load (path, durable, "boot-a", &durable_sample));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (vp_ledger_lookup_vm (durable, vm->uuid)->zones[2].total_uj, ==, 5);
  remove_dir (dir);
}

/* The newest save wins, whichever file holds it. */
static void
test_newest_save_wins (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  g_autoptr (VpSample) sample = make_sample ();
  VpVmLedger *vm = vp_ledger_lookup_vm (ledger, "0b5d6c1e-0000-4000-8000-000000000001");
  for (guint i = 1; i <= 5; i++)
    {
      vm->zones[2].total_uj = i;
      g_assert_true (save (path, ledger, sample, "boot-a", i == 3));
    }
  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (load (path, restored, "boot-a", &restored_sample));
  g_assert_cmpuint (vp_ledger_lookup_vm (restored, vm->uuid)->zones[2].total_uj, ==, 5);
  remove_dir (dir);
}

static void
test_garbage_everywhere_starts_empty (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autofree char *slot = g_strconcat (path, ".0", NULL);
  g_assert_true (g_file_set_contents (path, "vpowerd-state 1\nzone 0 x\nfnv1a64 0000000000000000\n", -1, NULL));
  g_assert_true (g_file_set_contents (slot, "\x01\x02 not text", -1, NULL));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state fails its checksum*");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state.0 is truncated or not*");
  g_assert_true (load (path, restored, "boot-a", &restored_sample));
  g_test_assert_expected_messages ();
  g_assert_null (restored_sample);
  g_assert_cmpuint (g_hash_table_size (restored->vms), ==, 0);
  g_assert_cmpuint (restored->accounted_uj[0], ==, 0);
  remove_dir (dir);
}

/* A valid checksum over a malformed line is still refused (never trust a
 * line we cannot parse). */
static void
test_malformed_line_with_valid_checksum (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  const char *body = "vpowerd-state 1\nboot b\nvm not-a-uuid 1 x\n";
  guint64 hash = vp_state_checksum (body, strlen (body));
  g_autofree char *text = g_strdup_printf ("%sfnv1a64 %016" G_GINT64_MODIFIER "x\n", body, hash);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state:3: malformed line*");
  g_assert_true (load (path, restored, "b", &restored_sample));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (g_hash_table_size (restored->vms), ==, 0);
  remove_dir (dir);
}

static void
test_zone_set_changed (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  g_autoptr (VpSample) sample = make_sample ();
  g_assert_true (save (path, ledger, sample, "boot-a", FALSE));

  /* The host now shows zone "0" and a new "0:1"; "0:0" and "1" are gone. */
  static const char *const new_keys[] = { "0", "0:1", NULL };
  g_autoptr (VpLedger) restored = vp_ledger_new (2, new_keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (load (path, restored, "boot-a", &restored_sample));
  g_assert_null (restored_sample);
  VpVmLedger *vm = vp_ledger_lookup_vm (restored, "0b5d6c1e-0000-4000-8000-000000000001");
  g_assert_cmpuint (vm->zones[0].total_uj, ==, G_GUINT64_CONSTANT (18000000000000000000));
  g_assert_cmpuint (vm->zones[1].total_uj, ==, 0);
  remove_dir (dir);
}

/* Origins (issue #11): a new VM gets a seed from the ledger's key, the seed
 * is what the state file keeps, and a restart under another key (a new
 * mount holder, a reboot) keeps the saved one, so the VM's files go on
 * from where they were. */
static void
test_origin_seed_survives (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  VpVmLedger *vm = vp_ledger_lookup_vm (ledger, "0b5d6c1e-0000-4000-8000-000000000001");
  g_assert_cmpuint (vm->origin_seed, !=, 0);
  g_assert_true (save (path, ledger, NULL, "boot-a", TRUE));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  restored->origin_key = 0xbeef;
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (load (path, restored, "boot-b", &restored_sample));
  g_assert_cmpuint (vp_ledger_lookup_vm (restored, vm->uuid)->origin_seed, ==, vm->origin_seed);
  /* The epoch is kept too: the guest sees the same counters go on. */
  g_assert_cmpuint (vp_ledger_lookup_vm (restored, vm->uuid)->epoch, ==, vm->epoch);
  /* A VM new to this run is seeded by this run's key. */
  VpVmLedger *newcomer = vp_ledger_vm (restored, "0b5d6c1e-0000-4000-8000-000000000009", "new");
  g_assert_cmpuint (newcomer->origin_seed, !=, 0);
  g_assert_cmpuint (newcomer->origin_seed, !=, vm->origin_seed);
  g_assert_cmpuint (newcomer->epoch, !=, 0);
  g_assert_cmpuint (newcomer->epoch, !=, vm->epoch);
  /* Forgotten and back, its counters begin anew: so does its epoch. */
  guint64 old_epoch = newcomer->epoch;
  g_hash_table_remove (restored->vms, "0b5d6c1e-0000-4000-8000-000000000009");
  g_assert_cmpuint (vp_ledger_vm (restored, "0b5d6c1e-0000-4000-8000-000000000009", "new")->epoch, !=, old_epoch);
  remove_dir (dir);
}

/* Migration (issue #13): a VM that left keeps its counters, its departure
 * and its migration counts across a restart, so that it continues them
 * when it comes back; a VM that never moved writes no vmmove line; a
 * format 3 file (no such lines) loads with none. */
static void
test_migration_facts_survive (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  VpVmLedger *vm = vp_ledger_lookup_vm (ledger, "0b5d6c1e-0000-4000-8000-000000000001");
  vm->departed_us = G_GINT64_CONSTANT (1796040000000000);
  vm->arrived_us = G_GINT64_CONSTANT (1796030000000000);
  vm->migrations_in = 3;
  vm->migrations_out = 4;
  VpVmLedger *stay = vp_ledger_vm (ledger, "0b5d6c1e-0000-4000-8000-000000000002", "stays");
  g_assert_true (save (path, ledger, NULL, "boot-a", TRUE));
  g_autofree char *saved = NULL;
  g_assert_true (g_file_get_contents (path, &saved, NULL, NULL));
  g_assert_nonnull (strstr (saved, "vmmove 0b5d6c1e-0000-4000-8000-000000000001 1796040000000000 1796030000000000 3 4\n"));
  g_assert_null (strstr (saved, "vmmove 0b5d6c1e-0000-4000-8000-000000000002"));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (load (path, restored, "boot-a", &restored_sample));
  VpVmLedger *back = vp_ledger_lookup_vm (restored, vm->uuid);
  g_assert_cmpint (back->departed_us, ==, vm->departed_us);
  g_assert_cmpint (back->arrived_us, ==, vm->arrived_us);
  g_assert_cmpuint (back->migrations_in, ==, 3);
  g_assert_cmpuint (back->migrations_out, ==, 4);
  g_assert_cmpuint (back->zones[0].total_uj, ==, vm->zones[0].total_uj);
  g_assert_cmpuint (back->epoch, ==, vm->epoch);
  g_assert_cmpint (vp_ledger_lookup_vm (restored, stay->uuid)->departed_us, ==, 0);

  /* A vmmove line in a format 3 file is not something format 3 had. */
  const char *body = "vpowerd-state 3\nseq 4\nboot b\nmono 0\nzone 0 1 2 3 4 5 6\n"
                     "vm 0b5d6c1e-0000-4000-8000-000000000001 77 9 8 web\n"
                     "vmmove 0b5d6c1e-0000-4000-8000-000000000001 1 1 1 1\n";
  guint64 hash = vp_state_checksum (body, strlen (body));
  g_autofree char *text = g_strdup_printf ("%sfnv1a64 %016" G_GINT64_MODIFIER "x\n", body, hash);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_autofree char *slot0 = g_strconcat (path, ".0", NULL), *slot1 = g_strconcat (path, ".1", NULL);
  g_remove (slot0);
  g_remove (slot1);
  g_autoptr (VpLedger) old = vp_ledger_new (3, keys);
  g_autoptr (VpSample) old_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state:7: malformed line*");
  g_assert_true (load (path, old, "b", &old_sample));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (g_hash_table_size (old->vms), ==, 0);
  remove_dir (dir);
}

/* A state file written before origins existed (format 1) loads: its VMs
 * keep their totals and get no origin, so what their files show does not
 * jump on upgrade. */
static void
test_version_1_loads_without_origins (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  const char *body = "vpowerd-state 1\nseq 4\nboot b\nmono 0\nzone 0 1 2 3 4 5 6\n"
                     "vm 0b5d6c1e-0000-4000-8000-000000000001 77 web 1\n"
                     "vmzone 0b5d6c1e-0000-4000-8000-000000000001 0 4242 -1\n";
  guint64 hash = vp_state_checksum (body, strlen (body));
  g_autofree char *text = g_strdup_printf ("%sfnv1a64 %016" G_GINT64_MODIFIER "x\n", body, hash);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  restored->origin_key = 0xbeef;
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (load (path, restored, "b", &restored_sample));
  VpVmLedger *vm = vp_ledger_lookup_vm (restored, "0b5d6c1e-0000-4000-8000-000000000001");
  g_assert_nonnull (vm);
  g_assert_cmpstr (vm->name, ==, "web 1");
  g_assert_cmpuint (vm->cpu_ns_total, ==, 77);
  g_assert_cmpuint (vm->zones[0].total_uj, ==, 4242);
  g_assert_cmpuint (vm->origin_seed, ==, 0);

  /* It gets an epoch (format 1 and 2 had none): a guest's counters start from it. */
  g_assert_cmpuint (vm->epoch, !=, 0);

  /* Saved again, it is the current format (4) and keeps "no origin" and the epoch. */
  g_assert_true (save (path, restored, NULL, "b", TRUE));
  g_autofree char *saved = NULL;
  g_assert_true (g_file_get_contents (path, &saved, NULL, NULL));
  g_assert_true (g_str_has_prefix (saved, "vpowerd-state 5\n"));
  g_autoptr (VpLedger) again = vp_ledger_new (3, keys);
  g_assert_true (load (path, again, "b", &restored_sample));
  g_assert_cmpuint (vp_ledger_lookup_vm (again, vm->uuid)->origin_seed, ==, 0);
  g_assert_cmpuint (vp_ledger_lookup_vm (again, vm->uuid)->epoch, ==, vm->epoch);
  g_assert_cmpuint (vp_ledger_lookup_vm (again, vm->uuid)->zones[0].total_uj, ==, 4242);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state/round-trip", test_round_trip);
  g_test_add_func ("/state/reboot", test_reboot_drops_sample_keeps_counters);
  g_test_add_func ("/state/torn-write", test_torn_write_recovers_previous);
  g_test_add_func ("/state/newest-wins", test_newest_save_wins);
  g_test_add_func ("/state/garbage", test_garbage_everywhere_starts_empty);
  g_test_add_func ("/state/malformed-line", test_malformed_line_with_valid_checksum);
  g_test_add_func ("/state/zones-changed", test_zone_set_changed);
  g_test_add_func ("/state/origin-seed", test_origin_seed_survives);
  g_test_add_func ("/state/version-1", test_version_1_loads_without_origins);
  g_test_add_func ("/state/migration", test_migration_facts_survive);
  return g_test_run ();
}
