/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the state file: round trip, torn writes, corruption, zone changes. */
#include "config.h"

#include "host/state.h"

#include <glib/gstdio.h>

static const char *const keys[] = { "0", "0:0", "1", NULL };

static VpLedger *
make_ledger (void)
{
  VpLedger *ledger = vp_ledger_new (3, keys);
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
  return sample;
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
  g_autoptr (GError) error = NULL;

  g_assert_true (vp_state_save (path, ledger, sample, "boot-a", TRUE, &error));
  g_assert_no_error (error);

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (vp_state_load (path, restored, "boot-a", &restored_sample, &error));
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
  remove_dir (dir);
}

static void
test_reboot_drops_sample_keeps_counters (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  g_autoptr (VpSample) sample = make_sample ();
  g_assert_true (vp_state_save (path, ledger, sample, "boot-a", FALSE, NULL));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (vp_state_load (path, restored, "boot-b", &restored_sample, NULL));
  g_assert_null (restored_sample);    /* raw readings of another boot mean nothing */
  assert_ledgers_equal (ledger, restored);
  remove_dir (dir);
}

/* A torn write (a crash mid-write, a full disk) is detected by the checksum,
 * set aside, and the previous file is used: nothing crashes, and no counter
 * goes back further than one save. */
static void
test_torn_write_recovers_previous (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autoptr (VpLedger) ledger = make_ledger ();
  g_autoptr (VpSample) sample = make_sample ();
  g_assert_true (vp_state_save (path, ledger, sample, "boot-a", FALSE, NULL));
  VpVmLedger *vm = vp_ledger_lookup_vm (ledger, "0b5d6c1e-0000-4000-8000-000000000001");
  vm->zones[2].total_uj += 100;
  g_assert_true (vp_state_save (path, ledger, sample, "boot-a", FALSE, NULL));

  /* Tear the newest file in half. */
  g_autofree char *content = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (path, &content, &length, NULL));
  g_assert_true (g_file_set_contents (path, content, (gssize) length / 2, NULL));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state is truncated*moved aside*");
  g_assert_true (vp_state_load (path, restored, "boot-a", &restored_sample, NULL));
  g_test_assert_expected_messages ();
  VpVmLedger *back = vp_ledger_lookup_vm (restored, "0b5d6c1e-0000-4000-8000-000000000001");
  g_assert_nonnull (back);
  g_assert_cmpuint (back->zones[2].total_uj, ==, 5);   /* the previous save */
  g_assert_nonnull (restored_sample);                 /* its sample re-attributes the rest */
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
  g_assert_true (g_file_test (aside, G_FILE_TEST_EXISTS));
  remove_dir (dir);
}

static void
test_garbage_everywhere_starts_empty (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = state_path (&dir);
  g_autofree char *prev = g_strconcat (path, ".prev", NULL);
  g_assert_true (g_file_set_contents (path, "vpowerd-state 1\nzone 0 x\nsha256 00\n", -1, NULL));
  g_assert_true (g_file_set_contents (prev, "\x01\x02 not text", -1, NULL));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state fails its checksum*");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state.prev is truncated or not*");
  g_assert_true (vp_state_load (path, restored, "boot-a", &restored_sample, NULL));
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
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, body, -1);
  g_autofree char *text = g_strdup_printf ("%ssha256 %s\n", body, digest);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));

  g_autoptr (VpLedger) restored = vp_ledger_new (3, keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*counters.state:3: malformed line*");
  g_assert_true (vp_state_load (path, restored, "b", &restored_sample, NULL));
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
  g_assert_true (vp_state_save (path, ledger, sample, "boot-a", FALSE, NULL));

  /* The host now shows zone "0" and a new "0:1"; "0:0" and "1" are gone. */
  static const char *const new_keys[] = { "0", "0:1", NULL };
  g_autoptr (VpLedger) restored = vp_ledger_new (2, new_keys);
  g_autoptr (VpSample) restored_sample = NULL;
  g_assert_true (vp_state_load (path, restored, "boot-a", &restored_sample, NULL));
  g_assert_null (restored_sample);
  VpVmLedger *vm = vp_ledger_lookup_vm (restored, "0b5d6c1e-0000-4000-8000-000000000001");
  g_assert_cmpuint (vm->zones[0].total_uj, ==, G_GUINT64_CONSTANT (18000000000000000000));
  g_assert_cmpuint (vm->zones[1].total_uj, ==, 0);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state/round-trip", test_round_trip);
  g_test_add_func ("/state/reboot", test_reboot_drops_sample_keeps_counters);
  g_test_add_func ("/state/torn-write", test_torn_write_recovers_previous);
  g_test_add_func ("/state/garbage", test_garbage_everywhere_starts_empty);
  g_test_add_func ("/state/malformed-line", test_malformed_line_with_valid_checksum);
  g_test_add_func ("/state/zones-changed", test_zone_set_changed);
  return g_test_run ();
}
