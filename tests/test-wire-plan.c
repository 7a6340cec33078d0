/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: what wiring does about each VM (host/wiring/wire-plan.c), the rules of issue 30:
 * live only, never twice, a new QEMU is a new chance, the opt-outs, wire = define, and advice an
 * operator can act on per manager. */
#include "config.h"

#include "host/wiring/wire-plan.h"

#define NOW (G_GINT64_CONSTANT (1000) * G_USEC_PER_SEC)

static VpVmInfo *
libvirt_vm (const char *name, int pid, gboolean controller)
{
  VpVmInfo *vm = vp_vm_info_new (name, "8d1c8a36-6f3e-4b0e-9b8e-00000000a001", pid ? "running" : "shutoff", pid);
  vm->from_libvirt = TRUE;
  vm->persistent = TRUE;
  vm->has_virtio_serial = controller;
  return vm;
}

/* Plans vm with memory; returns the state, and sets *attach and *define. */
static VpWireState
plan_of (const VpWireSettings *settings, const VpVmInfo *vm, VpWireMemory *memory, gboolean *attach,
         gboolean *define, char **reason)
{
  VpWirePlan plan;
  vp_wire_plan (settings, vm, memory, NOW, &plan);
  *attach = plan.attach;
  *define = plan.define;
  if (reason)
    *reason = g_strdup (plan.reason);
  g_assert_nonnull (plan.reason);
  VpWireState state = plan.state;
  vp_wire_plan_clear (&plan);
  return state;
}

/* A running VM with a controller and no channel is hot-plugged, once: while the hot-plug is under
 * way, and after it, until libvirt's event lists the channel, nothing is queued again. */
static void
test_attach_once (void)
{
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_AUTO, NULL);
  g_autoptr (VpVmInfo) vm = libvirt_vm ("instance-0000002a", 4242, TRUE);
  VpWireMemory memory = { 0 };
  gboolean attach, define;
  g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, NULL), ==, VP_WIRE_ATTACHING);
  g_assert_true (attach);
  g_assert_false (define);   /* live only, by default */
  memory.live_busy = TRUE;
  g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, NULL), ==, VP_WIRE_ATTACHING);
  g_assert_false (attach);
  memory.live_busy = FALSE;
  memory.attached = TRUE;
  g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, NULL), ==, VP_WIRE_WIRED);
  g_assert_false (attach);
  /* Listed with it: wired by vpowerd. */
  vm->has_channel = TRUE;
  VpWirePlan plan;
  vp_wire_plan (settings, vm, &memory, NOW, &plan);
  g_assert_cmpint (plan.state, ==, VP_WIRE_WIRED);
  g_assert_true (plan.by_vpowerd);
  g_assert_false (plan.attach);
  vp_wire_plan_clear (&plan);
  g_assert_true (memory.confirmed);
  vp_wire_memory_clear (&memory);
}

/* A VM that arrives with the channel (restore, migration, its own definition) is wired, not by
 * vpowerd, and nothing is attached. */
static void
test_already_wired (void)
{
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_AUTO, NULL);
  g_autoptr (VpVmInfo) vm = libvirt_vm ("restored", 77, TRUE);
  vm->has_channel = TRUE;
  vm->life.arrival = VP_ARRIVAL_RESTORED;
  VpWireMemory memory = { 0 };
  VpWirePlan plan;
  vp_wire_plan (settings, vm, &memory, NOW, &plan);
  g_assert_cmpint (plan.state, ==, VP_WIRE_WIRED);
  g_assert_false (plan.by_vpowerd);
  g_assert_false (plan.attach);
  vp_wire_plan_clear (&plan);
  vp_wire_memory_clear (&memory);
}

/* A channel detached from the running VM by someone else stays detached; the VM's next QEMU (a
 * restart, Nova's hard reboot) is wired again. */
static void
test_detached_then_restarted (void)
{
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_AUTO, NULL);
  g_autoptr (VpVmInfo) vm = libvirt_vm ("web", 100, TRUE);
  VpWireMemory memory = { .instance = 100, .attached = TRUE, .confirmed = TRUE };
  gboolean attach, define;
  g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, NULL), ==, VP_WIRE_DETACHED);
  g_assert_false (attach);
  vm->pid = 200;
  g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, NULL), ==, VP_WIRE_ATTACHING);
  g_assert_true (attach);
  g_assert_false (memory.attached);
  g_assert_cmpuint (memory.instance, ==, 200);
  vp_wire_memory_clear (&memory);
}

/* What leaves a VM alone: its metadata, a wire-exclude pattern (name, label, manager), wire = off,
 * a VM that is not running or is migrating. None is attached to. */
static void
test_left_alone (void)
{
  char *exclude[] = { "ci-*", "project=lab*", "manager=opennebula", NULL };
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_AUTO, exclude);
  g_autoptr (VpWireSettings) off = vp_wire_settings_new (VP_WIRE_MODE_OFF, NULL);
  gboolean attach, define;
  g_autofree char *reason = NULL;

  g_autoptr (VpVmInfo) opted = libvirt_vm ("web", 1, TRUE);
  opted->wiring_off = TRUE;
  VpWireMemory memory = { 0 };
  g_assert_cmpint (plan_of (settings, opted, &memory, &attach, &define, NULL), ==, VP_WIRE_OPTED_OUT);
  g_assert_false (attach);

  g_autoptr (VpVmInfo) by_name = libvirt_vm ("ci-runner-7", 2, TRUE);
  g_assert_cmpint (plan_of (settings, by_name, &memory, &attach, &define, &reason), ==, VP_WIRE_EXCLUDED);
  g_assert_false (attach);
  g_assert_nonnull (strstr (reason, "ci-*"));
  g_autoptr (VpVmInfo) by_label = libvirt_vm ("web", 3, TRUE);
  char *labels[] = { "vm_name", "web", "project", "lab-42", NULL };
  by_label->labels = g_strdupv (labels);
  g_assert_cmpint (plan_of (settings, by_label, &memory, &attach, &define, NULL), ==, VP_WIRE_EXCLUDED);
  g_autoptr (VpVmInfo) by_manager = libvirt_vm ("one-17", 4, TRUE);
  by_manager->manager = "opennebula";
  g_assert_cmpint (plan_of (settings, by_manager, &memory, &attach, &define, NULL), ==, VP_WIRE_EXCLUDED);
  g_autoptr (VpVmInfo) other = libvirt_vm ("web-ci", 5, TRUE);
  other->labels = g_strdupv ((char *[]) { "project", "prod", NULL });
  g_assert_null (vp_wire_excluded (settings, other));

  g_autoptr (VpVmInfo) plain = libvirt_vm ("web", 6, TRUE);
  g_assert_cmpint (plan_of (off, plain, &memory, &attach, &define, NULL), ==, VP_WIRE_OFF);
  g_assert_false (attach);
  g_assert_false (define);

  g_autoptr (VpVmInfo) stopped = libvirt_vm ("web", 0, TRUE);
  g_assert_cmpint (plan_of (settings, stopped, &memory, &attach, &define, NULL), ==, VP_WIRE_NOT_RUNNING);
  g_assert_false (attach);

  g_autoptr (VpVmInfo) arriving = libvirt_vm ("web", 7, TRUE);
  arriving->life.move = VP_MOVE_INCOMING;
  g_assert_cmpint (plan_of (settings, arriving, &memory, &attach, &define, NULL), ==, VP_WIRE_MIGRATING);
  g_assert_false (attach);
  arriving->life.move = VP_MOVE_OUTGOING;
  g_assert_cmpint (plan_of (settings, arriving, &memory, &attach, &define, NULL), ==, VP_WIRE_MIGRATING);
  g_assert_false (attach);
  vp_wire_memory_clear (&memory);
}

/* Without a controller nothing is attempted, and the reason says what the VM's manager offers. */
static void
test_no_controller_advice (void)
{
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_AUTO, NULL);
  static const struct {
    const char *manager;
    const char *says[3];
  } cases[] = {
    { "nova", { "hw_qemu_guest_agent=yes", "nova-manage image_property set 8d1c8a36-6f3e-4b0e-9b8e-00000000a001",
                "openstack image set" } },
    { "opennebula", { "GUEST_AGENT = \"yes\"", "RAW", "org.vpower.0" } },
    { "virt-install", { "guest agent", "--channel none", "vpowerctl attach bare --channel --config" } },
    { NULL, { "vpowerctl attach bare --channel --config", "wire = define", "shut the VM down and start it" } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (VpVmInfo) vm = libvirt_vm ("bare", 9, FALSE);
      vm->manager = cases[i].manager;
      vm->labels = g_strsplit ("vm_name|vmi1|project|ns1", "|", -1);
      VpWireMemory memory = { 0 };
      gboolean attach, define;
      g_autofree char *reason = NULL;
      g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, &reason), ==, VP_WIRE_NO_CONTROLLER);
      g_test_message ("%s: %s", cases[i].manager, reason);
      g_assert_false (attach);
      g_assert_true (g_str_has_prefix (reason, "bare: it runs without a virtio-serial controller"));
      for (gsize j = 0; j < G_N_ELEMENTS (cases[i].says); j++)
        g_assert_nonnull (strstr (reason, cases[i].says[j]));
      vp_wire_memory_clear (&memory);
    }
}

/* A refusal waits for its retry, with a growing delay, then tries again. */
static void
test_refused_then_retried (void)
{
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_AUTO, NULL);
  g_autoptr (VpVmInfo) vm = libvirt_vm ("web", 10, TRUE);
  VpWireMemory memory = { .instance = 10, .live_failures = 1, .live_error = g_strdup ("Timed out") };
  memory.live_retry_us = NOW + vp_wire_backoff_us (1);
  gboolean attach, define;
  g_autofree char *reason = NULL;
  g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, &reason), ==, VP_WIRE_FAILED);
  g_assert_false (attach);
  g_assert_nonnull (strstr (reason, "Timed out"));
  memory.live_retry_us = NOW;
  g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, NULL), ==, VP_WIRE_ATTACHING);
  g_assert_true (attach);
  g_assert_cmpint (vp_wire_backoff_us (1), ==, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (vp_wire_backoff_us (2), ==, 4 * G_USEC_PER_SEC);
  g_assert_cmpint (vp_wire_backoff_us (5), ==, 32 * G_USEC_PER_SEC);
  g_assert_cmpint (vp_wire_backoff_us (100), ==, 300 * G_USEC_PER_SEC);
  vp_wire_memory_clear (&memory);
}

/* wire = define: persistent definitions that lack the channel, running or not, but not those a
 * cloud manager writes, nor opted-out or excluded ones; once each. */
static void
test_define (void)
{
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_DEFINE, NULL);
  gboolean attach, define;
  g_autofree char *reason = NULL;
  VpWireMemory memory = { 0 };

  g_autoptr (VpVmInfo) bare = libvirt_vm ("bare", 11, FALSE);
  g_assert_cmpint (plan_of (settings, bare, &memory, &attach, &define, &reason), ==, VP_WIRE_NO_CONTROLLER);
  g_assert_true (define);
  g_assert_false (attach);
  g_assert_nonnull (strstr (reason, "wire = define adds the channel"));
  memory.define_busy = TRUE;
  g_assert_cmpint (plan_of (settings, bare, &memory, &attach, &define, NULL), ==, VP_WIRE_NO_CONTROLLER);
  g_assert_false (define);
  memory.define_busy = FALSE;
  memory.defined = TRUE;
  g_assert_cmpint (plan_of (settings, bare, &memory, &attach, &define, NULL), ==, VP_WIRE_NO_CONTROLLER);
  g_assert_false (define);   /* once: written again without it, the definition is its writer's */
  memory.defined = FALSE;
  bare->defined_channel = TRUE;
  g_assert_cmpint (plan_of (settings, bare, &memory, &attach, &define, NULL), ==, VP_WIRE_NO_CONTROLLER);
  g_assert_false (define);

  g_autoptr (VpVmInfo) stopped = libvirt_vm ("stopped", 0, FALSE);
  g_assert_cmpint (plan_of (settings, stopped, &memory, &attach, &define, NULL), ==, VP_WIRE_NOT_RUNNING);
  g_assert_true (define);

  /* With a controller: hot-plugged and defined, separately. */
  g_autoptr (VpVmInfo) both = libvirt_vm ("both", 12, TRUE);
  g_assert_cmpint (plan_of (settings, both, &memory, &attach, &define, NULL), ==, VP_WIRE_ATTACHING);
  g_assert_true (attach);
  g_assert_true (define);

  g_autoptr (VpVmInfo) nova = libvirt_vm ("instance-1", 13, FALSE);
  nova->manager = "nova";
  g_assert_cmpint (plan_of (settings, nova, &memory, &attach, &define, NULL), ==, VP_WIRE_NO_CONTROLLER);
  g_assert_false (define);
  g_autoptr (VpVmInfo) transient = libvirt_vm ("transient", 14, FALSE);
  transient->persistent = FALSE;
  g_assert_cmpint (plan_of (settings, transient, &memory, &attach, &define, NULL), ==, VP_WIRE_NO_CONTROLLER);
  g_assert_false (define);
  g_autoptr (VpVmInfo) opted = libvirt_vm ("opted", 15, FALSE);
  opted->wiring_off = TRUE;
  g_assert_cmpint (plan_of (settings, opted, &memory, &attach, &define, NULL), ==, VP_WIRE_OPTED_OUT);
  g_assert_false (define);
  vp_wire_memory_clear (&memory);
}

/* VMs of other managers: wired by their command line, or the way their manager is told. */
static void
test_manual (void)
{
  g_autoptr (VpWireSettings) settings = vp_wire_settings_new (VP_WIRE_MODE_AUTO, NULL);
  static const struct {
    const char *manager;
    const char *says;
  } cases[] = {
    { "proxmox", "vpowerctl wiring --proxmox --all" },
    { "incus", "vpowerctl wiring --incus --all" },
    { "lxd", "vpowerctl wiring --lxd --all" },
    { "ganeti", "vpowerctl wiring --ganeti --all" },
    { "qemu", "vpowerctl wiring 101 --qemu" },
    { "kubevirt", "deploy/kubevirt/configmap.yaml in namespace ns1" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (VpVmInfo) vm = vp_vm_info_new ("101", "8d1c8a36-6f3e-4b0e-9b8e-00000000b001", "running", 5);
      vm->manager = cases[i].manager;
      vm->labels = g_strsplit ("vm_name|vmi1|project|ns1", "|", -1);
      VpWireMemory memory = { 0 };
      gboolean attach, define;
      g_autofree char *reason = NULL;
      g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, &reason), ==, VP_WIRE_MANUAL);
      g_assert_false (attach);
      g_assert_nonnull (strstr (reason, cases[i].says));
      vm->has_channel = TRUE;
      g_assert_cmpint (plan_of (settings, vm, &memory, &attach, &define, NULL), ==, VP_WIRE_WIRED);
      vp_wire_memory_clear (&memory);
    }
}

static void
test_state_words (void)
{
  g_assert_cmpstr (vp_wire_state_to_string (VP_WIRE_NO_CONTROLLER), ==, "no-controller");
  for (int state = 0; state < VP_WIRE_N_STATES; state++)
    g_assert_nonnull (vp_wire_state_to_string (state));
  g_autoptr (VpWireStatus) status = vp_wire_status_new (VP_WIRE_WIRED, TRUE, "x");
  g_assert_true (vp_wire_status_equal (status, VP_WIRE_WIRED, TRUE, "x"));
  g_assert_false (vp_wire_status_equal (status, VP_WIRE_WIRED, FALSE, "x"));
  g_assert_false (vp_wire_status_equal (status, VP_WIRE_WIRED, TRUE, "y"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire-plan/attach-once", test_attach_once);
  g_test_add_func ("/wire-plan/already-wired", test_already_wired);
  g_test_add_func ("/wire-plan/detached-then-restarted", test_detached_then_restarted);
  g_test_add_func ("/wire-plan/left-alone", test_left_alone);
  g_test_add_func ("/wire-plan/no-controller-advice", test_no_controller_advice);
  g_test_add_func ("/wire-plan/refused-then-retried", test_refused_then_retried);
  g_test_add_func ("/wire-plan/define", test_define);
  g_test_add_func ("/wire-plan/manual", test_manual);
  g_test_add_func ("/wire-plan/states", test_state_words);
  return g_test_run ();
}
