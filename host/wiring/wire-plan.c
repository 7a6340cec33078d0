/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what wiring should do about one VM, and what to tell the operator (pure logic).
 *
 * The rules (docs/libvirt.md "Wiring a VM", vpowerd(8) WIRING):
 * - Level-triggered: every running libvirt VM that lacks the channel and has a virtio-serial
 *   controller gets it, however it came to run (start, restore, migration, a libvirtd or vpowerd
 *   restart). libvirt cannot hot-plug the controller itself (real-components.md).
 * - Live only unless wire = define: the persistent definition is its manager's.
 * - Never twice: a VM listed with the channel is wired, and autowire.c asks libvirt's live XML
 *   again right before each hot-plug.
 * - A VM in a migration is left until it runs here: libvirt holds a job on it meanwhile, and the
 *   destination gets the channel with the migrated live XML anyway.
 * - A channel someone detached from a running VM stays detached until the VM restarts (this
 *   memory is the engine's: a restarted engine wires it again). */
#include "config.h"

#include "host/wiring/wire-plan.h"
#include "shared/vp-metadata.h"

#include <string.h>

#define BACKOFF_MIN_US (2 * G_USEC_PER_SEC)
#define BACKOFF_MAX_US (300 * G_USEC_PER_SEC)

static const char *const state_words[VP_WIRE_N_STATES] = {
  [VP_WIRE_WIRED] = "wired",
  [VP_WIRE_ATTACHING] = "attaching",
  [VP_WIRE_NO_CONTROLLER] = "no-controller",
  [VP_WIRE_OPTED_OUT] = "opted-out",
  [VP_WIRE_EXCLUDED] = "excluded",
  [VP_WIRE_OFF] = "off",
  [VP_WIRE_FAILED] = "failed",
  [VP_WIRE_NOT_RUNNING] = "not-running",
  [VP_WIRE_MIGRATING] = "migrating",
  [VP_WIRE_DETACHED] = "detached",
  [VP_WIRE_MANUAL] = "manual",
};

const char *
vp_wire_state_to_string (VpWireState state)
{
  return state < VP_WIRE_N_STATES ? state_words[state] : "unknown";
}

static void
status_clear (gpointer data)
{
  g_free (((VpWireStatus *) data)->reason);
}

VpWireStatus *
vp_wire_status_new (VpWireState state, gboolean by_vpowerd, const char *reason)
{
  VpWireStatus *status = g_atomic_rc_box_new0 (VpWireStatus);
  status->state = state;
  status->by_vpowerd = by_vpowerd;
  status->reason = g_strdup (reason);
  return status;
}

VpWireStatus *
vp_wire_status_ref (VpWireStatus *status)
{
  return g_atomic_rc_box_acquire (status);
}

void
vp_wire_status_unref (VpWireStatus *status)
{
  if (status)
    g_atomic_rc_box_release_full (status, status_clear);
}

gboolean
vp_wire_status_equal (const VpWireStatus *a, VpWireState state, gboolean by_vpowerd, const char *reason)
{
  return a && a->state == state && a->by_vpowerd == by_vpowerd && g_strcmp0 (a->reason, reason) == 0;
}

/* --- settings --- */

typedef struct {
  char *text;             /* as written, for the status's reason */
  char *key;              /* NULL: the VM's name */
  GPatternSpec *glob;
} Pattern;

struct _VpWireSettings {
  VpWireMode mode;
  GPtrArray *exclude;     /* Pattern */
};

static void
pattern_free (gpointer data)
{
  Pattern *pattern = data;
  g_free (pattern->text);
  g_free (pattern->key);
  g_pattern_spec_free (pattern->glob);
  g_free (pattern);
}

VpWireSettings *
vp_wire_settings_new (VpWireMode mode, char *const *exclude)
{
  VpWireSettings *settings = g_new0 (VpWireSettings, 1);
  settings->mode = mode;
  settings->exclude = g_ptr_array_new_with_free_func (pattern_free);
  for (char *const *item = exclude; item && *item; item++)
    {
      Pattern *pattern = g_new0 (Pattern, 1);
      const char *equals = strchr (*item, '=');
      pattern->text = g_strdup (*item);
      pattern->key = equals ? g_strndup (*item, equals - *item) : NULL;
      pattern->glob = g_pattern_spec_new (equals ? equals + 1 : *item);
      g_ptr_array_add (settings->exclude, pattern);
    }
  return settings;
}

void
vp_wire_settings_free (VpWireSettings *settings)
{
  if (!settings)
    return;
  g_ptr_array_unref (settings->exclude);
  g_free (settings);
}

VpWireMode
vp_wire_settings_mode (const VpWireSettings *settings)
{
  return settings->mode;
}

static const char *
label_value (const VpVmInfo *vm, const char *key)
{
  if (g_str_equal (key, "manager"))
    return vm->manager;
  for (char **label = vm->labels; label && label[0] && label[1]; label += 2)
    if (g_str_equal (label[0], key))
      return label[1];
  return NULL;
}

const char *
vp_wire_excluded (const VpWireSettings *settings, const VpVmInfo *vm)
{
  for (guint i = 0; i < settings->exclude->len; i++)
    {
      const Pattern *pattern = settings->exclude->pdata[i];
      const char *value = pattern->key ? label_value (vm, pattern->key) : vm->name;
      if (value && g_pattern_spec_match_string (pattern->glob, value))
        return pattern->text;
    }
  return NULL;
}

/* --- memory --- */

void
vp_wire_memory_clear (VpWireMemory *memory)
{
  g_free (memory->live_error);
  g_free (memory->define_error);
  memset (memory, 0, sizeof *memory);
}

guint64
vp_wire_instance (const VpVmInfo *vm)
{
  return vm->pid > 0 ? (guint64) vm->pid : (guint64) vm->life.arrived_us;
}

gint64
vp_wire_backoff_us (guint failures)
{
  gint64 delay = BACKOFF_MIN_US;
  for (guint i = 1; i < failures && delay < BACKOFF_MAX_US; i++)
    delay *= 2;
  return MIN (delay, BACKOFF_MAX_US);
}

void
vp_wire_plan_clear (VpWirePlan *plan)
{
  g_clear_pointer (&plan->reason, g_free);
}

/* --- advice --- */

/* Managers that write (and rewrite) the persistent definitions of their VMs: wire = define leaves
 * those definitions to them. */
static gboolean
manager_writes_definitions (const char *manager)
{
  static const char *const writers[] = { "nova", "opennebula", "ovirt" };
  for (gsize i = 0; i < G_N_ELEMENTS (writers); i++)
    if (g_strcmp0 (manager, writers[i]) == 0)
      return TRUE;
  return FALSE;
}

char *
vp_wire_no_controller_advice (const VpVmInfo *vm)
{
  const char *name = vm->name;
  const char *manager = vm->manager;
  const char *what = "it runs without a virtio-serial controller, and libvirt cannot hot-plug one";
  /* What each manager offers, from its source (docs/libvirt.md "Wiring a VM": nova@00a0304 driver.py
   * _set_qemu_guest_agent; one@f847cf2 LibVirtDriverKVM.cc; virt-manager@2450354 guest.py
   * _add_default_channels). */
  if (g_strcmp0 (manager, "nova") == 0)
    return g_strdup_printf (
      "%s: %s. Nova adds the controller, with the guest agent's channel, to instances whose image properties "
      "say hw_qemu_guest_agent=yes: for this instance, stop it, run `nova-manage image_property set %s "
      "--property hw_qemu_guest_agent=yes` and start it; for new and rebuilt instances, `openstack image set "
      "--property hw_qemu_guest_agent=yes IMAGE`. vpowerd wires it as it starts", name, what, vm->uuid);
  if (g_strcmp0 (manager, "opennebula") == 0)
    return g_strdup_printf (
      "%s: %s. OpenNebula adds the controller, with the guest agent's channel, when FEATURES = [ GUEST_AGENT = "
      "\"yes\" ] (the VM's template, its host's or cluster's, or vmm_exec_kvm.conf, where OpenNebula 6 sets it); "
      "or put the channel itself in the template's RAW = [ TYPE = \"kvm\", DATA = \"<devices><channel "
      "type='unix'><source mode='bind'/><target type='virtio' name='org.vpower.0'/></channel></devices>\" ]. "
      "Then power the VM off and resume it", name, what);
  if (g_strcmp0 (manager, "virt-install") == 0)
    return g_strdup_printf (
      "%s: %s. virt-install and virt-manager give a VM the controller with the guest agent's channel (guests "
      "libosinfo knows to have virtio-serial) or the SPICE agent's (SPICE graphics), but this one has neither "
      "(--channel none, or VNC graphics): add the channel to its definition (vpowerctl attach %s --channel "
      "--config, or wire = define in vpowerd.conf) and shut it down and start it once", name, what, name);
  return g_strdup_printf ("%s: %s. Add the channel to its definition (vpowerctl attach %s --channel --config; "
                          "libvirt adds the controller with it), or set wire = define in vpowerd.conf, then shut "
                          "the VM down and start it once (a reboot inside the guest keeps the running QEMU)",
                          name, what, name);
}

/* A VM vpowerd does not wire through libvirt: its manager's configuration does. */
static char *
manual_advice (const VpVmInfo *vm)
{
  const char *manager = vm->manager;
  if (g_strcmp0 (manager, "proxmox") == 0)
    return g_strdup_printf ("Proxmox VE builds QEMU's command line from the VM's configuration: `vpowerctl wiring "
                            "--proxmox --all` prints the `qm set %s --args ...` that adds the channel (--apply "
                            "runs it); the VM then needs one restart", vm->name);
  if (g_strcmp0 (manager, "incus") == 0 || g_strcmp0 (manager, "lxd") == 0)
    return g_strdup_printf ("%s builds QEMU's configuration itself: `vpowerctl wiring --%s --all` prints the "
                            "raw.qemu.conf that adds the channel (--apply sets it); the instance then needs "
                            "one restart", g_str_equal (manager, "incus") ? "Incus" : "LXD", manager);
  if (g_strcmp0 (manager, "ganeti") == 0)
    return g_strdup_printf ("Ganeti builds QEMU's command line from the instance's parameters: `vpowerctl wiring "
                            "--ganeti --all` prints the kvm_extra that adds the channel (--apply sets it, on the "
                            "master); the instance then needs one restart");
  if (g_strcmp0 (manager, "kubevirt") == 0)
    return g_strdup_printf ("KubeVirt defines the domain in the VM's own pod: vpower's hook adds the channel. "
                            "Apply deploy/kubevirt/configmap.yaml in namespace %s and give the VM the "
                            "hooks.kubevirt.io/hookSidecars annotation of deploy/kubevirt/vmi-annotation.yaml "
                            "(KubeVirt 1.2 or later, Sidecar feature gate); the VM then needs one restart",
                            label_value (vm, "project") ? label_value (vm, "project") : "NAMESPACE");
  if (g_strcmp0 (manager, "qemu") == 0)
    return g_strdup_printf ("a QEMU run by hand: add the arguments `vpowerctl wiring %s --qemu` prints to its "
                            "command line", vm->name);
  return g_strdup ("not a libvirt VM: vpowerd does not wire it");
}

/* --- the plan --- */

static gboolean
is_moving (const VpVmInfo *vm)
{
  return vm->life.move != VP_MOVE_NONE;
}

void
vp_wire_plan (const VpWireSettings *settings, const VpVmInfo *vm, VpWireMemory *memory, gint64 now_us,
              VpWirePlan *plan)
{
  memset (plan, 0, sizeof *plan);
  gboolean running = vp_vm_info_is_running (vm);
  guint64 instance = vp_wire_instance (vm);
  if (running && memory->instance != instance)
    {
      /* A new QEMU: what was done to the last one says nothing of this one. */
      g_clear_pointer (&memory->live_error, g_free);
      memory->attached = memory->confirmed = FALSE;
      memory->live_failures = 0;
      memory->live_retry_us = 0;
      memory->instance = instance;
    }

  if (!vm->from_libvirt && !running && !vm->has_channel)
    {
      plan->state = VP_WIRE_NOT_RUNNING;
      plan->reason = g_strdup ("not running here");
      return;
    }
  if (!vm->from_libvirt)
    {
      plan->state = vm->has_channel ? VP_WIRE_WIRED : VP_WIRE_MANUAL;
      plan->reason = !vm->has_channel                          ? manual_advice (vm)
                   : g_strcmp0 (vm->manager, "kubevirt") == 0 ? g_strdup ("its domain in its pod has the channel "
                                                                          "(vpower's KubeVirt hook)")
                                                              : g_strdup ("its QEMU's command line has the channel");
      return;
    }

  const char *excluded = vp_wire_excluded (settings, vm);
  gboolean left_alone = vm->wiring_off || excluded;
  /* wire = define: persistent definitions nobody regenerates, running or not; once (a definition
   * someone writes again without the channel, after vpowerd added it, is theirs). */
  gboolean define = settings->mode == VP_WIRE_MODE_DEFINE && vm->persistent && !vm->defined_channel &&
                    !memory->defined && !left_alone && !manager_writes_definitions (vm->manager) &&
                    vm->life.move != VP_MOVE_DEPARTED;
  if (define && !memory->define_busy && now_us >= memory->define_retry_us)
    plan->define = TRUE;

  if (vm->has_channel)
    {
      if (memory->attached && running)
        memory->confirmed = TRUE;
      plan->state = VP_WIRE_WIRED;
      plan->by_vpowerd = running && memory->attached;
      plan->reason = g_strdup (!running ? "its definition has the channel: the guest has it whenever the VM runs"
                               : memory->attached ? "vpowerd hot-plugged the channel into the running VM"
                               : "the running VM has the channel");
      return;
    }
  if (vm->wiring_off)
    {
      plan->state = VP_WIRE_OPTED_OUT;
      plan->reason = g_strdup ("its libvirt metadata says wiring off (" VP_METADATA_NS_WIRING "): left alone");
      return;
    }
  if (excluded)
    {
      plan->state = VP_WIRE_EXCLUDED;
      plan->reason = g_strdup_printf ("wire-exclude matches it (%s): left alone", excluded);
      return;
    }
  const char *defining = NULL;
  if (define)
    defining = memory->define_error ? NULL : "; vpowerd adds the channel to its definition";
  if (!running)
    {
      plan->state = VP_WIRE_NOT_RUNNING;
      plan->reason = g_strdup_printf ("%s%s", settings->mode == VP_WIRE_MODE_OFF
                                      ? "not running, and wire = off"
                                      : "not running: vpowerd wires it when it starts",
                                      defining ? defining : "");
      return;
    }
  if (settings->mode == VP_WIRE_MODE_OFF)
    {
      plan->state = VP_WIRE_OFF;
      plan->reason = g_strdup_printf ("wire = off: vpowerd wires no VM (vpowerctl attach %s --channel --live does)",
                                      vm->name);
      return;
    }
  if (is_moving (vm))
    {
      plan->state = VP_WIRE_MIGRATING;
      plan->reason = g_strdup ("in a migration: wired, if it still lacks the channel, once it runs here");
      return;
    }
  if (memory->confirmed)
    {
      plan->state = VP_WIRE_DETACHED;
      plan->reason = g_strdup ("its channel was detached while it ran, not by vpowerd: left alone until the VM "
                               "restarts (to keep vpowerd away from it for good, opt it out)");
      return;
    }
  if (!vm->has_virtio_serial)
    {
      plan->state = VP_WIRE_NO_CONTROLLER;
      g_autofree char *advice = vp_wire_no_controller_advice (vm);
      plan->reason = define && !memory->define_error
                       ? g_strdup_printf ("%s: it runs without a virtio-serial controller, and libvirt cannot hot-plug "
                                          "one; wire = define adds the channel, and with it the controller, to its "
                                          "definition: shut it down and start it once", vm->name)
                       : g_steal_pointer (&advice);
      return;
    }
  if (memory->attached)
    {
      /* Hot-plugged; libvirt's event that lists it with the channel is on its way. */
      plan->state = VP_WIRE_WIRED;
      plan->by_vpowerd = TRUE;
      plan->reason = g_strdup ("vpowerd hot-plugged the channel into the running VM");
      return;
    }
  if (memory->live_busy)
    {
      plan->state = VP_WIRE_ATTACHING;
      plan->reason = g_strdup ("vpowerd is hot-plugging the channel");
      return;
    }
  if (memory->live_error && now_us < memory->live_retry_us)
    {
      /* No countdown: the status is recomputed only when something changes. */
      plan->state = VP_WIRE_FAILED;
      plan->reason = g_strdup_printf ("libvirt refused the hot-plug (%u time%s in a row): %s; vpowerd tries again "
                                      "after 2 s, doubling to at most 5 minutes", memory->live_failures,
                                      memory->live_failures == 1 ? "" : "s", memory->live_error);
      return;
    }
  if (now_us < memory->live_retry_us)
    {
      /* Found otherwise than listed (a stale list): asked again shortly. */
      plan->state = VP_WIRE_ATTACHING;
      plan->reason = g_strdup ("vpowerd is hot-plugging the channel");
      return;
    }
  plan->state = VP_WIRE_ATTACHING;
  plan->reason = g_strdup ("vpowerd is hot-plugging the channel");
  plan->attach = TRUE;
}
