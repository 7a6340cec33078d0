/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inventory tests with libvirt's test driver: lifecycle events are seen within one interval.
 *
 * Connections to test:///default opened by one process share the driver's
 * state and its events, so the test drives domains through its own
 * connection and watches the inventory's list, exactly as vpowerd's tick
 * would. The test driver has no QEMU and no CPU statistics: it is used for
 * inventory and events only (design.md). */
#include "config.h"

#include "host/inventory/inventory.h"
#include "host/inventory/libvirt-util.h"
#include "shared/vp-metadata.h"

#define INTERVAL_US G_USEC_PER_SEC   /* vpowerd's default --interval */

static const char *domain_xml =
  "<domain type='test'><name>vp-test-a</name><uuid>0b5d6c1e-7a7a-4b4b-8c8c-0123456789ab</uuid>"
  "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>";
#define DOMAIN_UUID "0b5d6c1e-7a7a-4b4b-8c8c-0123456789ab"

/* Finds a VM by UUID in the inventory's current list: "name state", then
 * " | " and its owner labels if it has any; NULL if absent. */
static char *
describe (VpInventory *inventory, const char *uuid)
{
  gboolean complete;
  g_autoptr (GPtrArray) vms = vp_inventory_list (inventory, &complete);
  for (guint i = 0; i < vms->len; i++)
    {
      const VpVmInfo *vm = vms->pdata[i];
      if (!g_str_equal (vm->uuid, uuid))
        continue;
      g_autofree char *labels = vp_metadata_labels_to_string ((const char *const *) vm->labels);
      return g_strdup_printf ("%s %s%s%s", vm->name, vm->state, *labels ? " | " : "", labels);
    }
  return NULL;
}

/* Polls until the VM's "name state" equals want (NULL: absent), within one
 * interval. Returns how long it took, for the log. */
static void
assert_seen_within_interval (VpInventory *inventory, const char *uuid, const char *want)
{
  gint64 start = g_get_monotonic_time ();
  g_autofree char *seen = NULL;
  do
    {
      g_free (seen);
      seen = describe (inventory, uuid);
      if (g_strcmp0 (seen, want) == 0)
        {
          g_test_message ("saw \"%s\" after %.3f s", want ? want : "(gone)",
                          (g_get_monotonic_time () - start) / 1e6);
          return;
        }
      g_usleep (5000);
    }
  while (g_get_monotonic_time () - start < INTERVAL_US);
  g_error ("expected \"%s\" within one interval, inventory shows \"%s\"", want ? want : "(gone)",
           seen ? seen : "(gone)");
}

/* An inventory on test:///default, and the test's own connection to drive
 * it (which also keeps the shared test driver state alive). */
static VpInventory *
open_test_inventory (virConnectPtr *conn)
{
  vp_libvirt_silence ();
  *conn = virConnectOpen ("test:///default");
  g_assert_nonnull (*conn);
  VpConfig config = { .inventory = "libvirt", .connect = "test:///default" };
  g_autoptr (GError) error = NULL;
  VpInventory *inventory = vp_inventory_open (&config, &error);
  g_assert_no_error (error);
  g_assert_true (vp_inventory_wait_ready (inventory, 5000));
  return inventory;
}

static void
test_lifecycle_events (void)
{
  g_autoptr (virConnect) conn = NULL;
  g_autoptr (VpInventory) inventory = open_test_inventory (&conn);
  g_assert_cmpstr (vp_inventory_kind (inventory), ==, "libvirt");

  /* The driver's built-in running domain is there from the first list. */
  gboolean complete = FALSE;
  g_autoptr (GPtrArray) first = vp_inventory_list (inventory, &complete);
  g_assert_true (complete);
  g_assert_cmpuint (first->len, ==, 1);
  g_assert_cmpstr (((VpVmInfo *) first->pdata[0])->name, ==, "test");
  g_assert_cmpstr (((VpVmInfo *) first->pdata[0])->state, ==, "running");

  g_autoptr (virDomain) domain = virDomainDefineXML (conn, domain_xml);
  g_assert_nonnull (domain);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-a shutoff");

  g_assert_cmpint (virDomainCreate (domain), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-a running");

  g_assert_cmpint (virDomainSuspend (domain), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-a paused");
  g_assert_cmpint (virDomainResume (domain), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-a running");

  g_assert_cmpint (virDomainDestroy (domain), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-a shutoff");

  /* A rename keeps the UUID, hence the counters. */
  g_assert_cmpint (virDomainRename (domain, "vp-test-b", 0), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-b shutoff");

  g_assert_cmpint (virDomainUndefine (domain), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, NULL);

  /* A transient domain exists while it runs, and is gone when destroyed. */
  g_autoptr (virDomain) transient = virDomainCreateXML (conn, domain_xml, 0);
  g_assert_nonnull (transient);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-a running");
  g_assert_cmpint (virDomainDestroy (transient), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, NULL);
}

/* Who a VM belongs to comes with it, and follows METADATA_CHANGE events:
 * Nova's element, then vpower's own labels set as virsh metadata sets them. */
static void
test_metadata_events (void)
{
  g_autoptr (virConnect) conn = NULL;
  g_autoptr (VpInventory) inventory = open_test_inventory (&conn);

  g_autoptr (virDomain) domain = virDomainCreateXML (
    conn,
    "<domain type='test'><name>vp-test-nova</name><uuid>" DOMAIN_UUID "</uuid>"
    "<metadata><nova:instance xmlns:nova='" VP_METADATA_NS_NOVA_1_1 "'><nova:name>web</nova:name>"
    "<nova:flavor name='m1.small'/><nova:owner><nova:project uuid='p-1'>acme</nova:project></nova:owner>"
    "</nova:instance></metadata>"
    "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>", 0);
  g_assert_nonnull (domain);
  assert_seen_within_interval (inventory, DOMAIN_UUID,
                               "vp-test-nova running | vm_name=web project_id=p-1 project=acme flavor=m1.small");

  g_assert_cmpint (virDomainSetMetadata (domain, VIR_DOMAIN_METADATA_ELEMENT,
                                         "<labels><label name='team'>infra</label>"
                                         "<label name='project'>ignored: nova says acme</label></labels>",
                                         "vpower", VP_METADATA_NS_VPOWER, VIR_DOMAIN_AFFECT_LIVE), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID,
                               "vp-test-nova running | vm_name=web project_id=p-1 project=acme flavor=m1.small "
                               "label_team=infra");

  /* Nova's element removed: vpower's project label now fills the gap. */
  g_assert_cmpint (virDomainSetMetadata (domain, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL,
                                         VP_METADATA_NS_NOVA_1_1, VIR_DOMAIN_AFFECT_LIVE), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID,
                               "vp-test-nova running | project=ignored: nova says acme label_team=infra");
  g_assert_cmpint (virDomainSetMetadata (domain, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL,
                                         VP_METADATA_NS_VPOWER, VIR_DOMAIN_AFFECT_LIVE), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, "vp-test-nova running");
  g_assert_cmpint (virDomainDestroy (domain), ==, 0);
  assert_seen_within_interval (inventory, DOMAIN_UUID, NULL);
}

static void
test_unreachable_uri (void)
{
  /* A daemon that is not there: the inventory opens anyway, serves no VMs,
   * says it is not connected, and keeps retrying in the background. */
  VpConfig config = { .inventory = "libvirt", .connect = "qemu+unix:///system?socket=/nonexistent/sock" };
  g_autoptr (GError) error = NULL;
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "*nonexistent*serving no VMs*");
  g_autoptr (VpInventory) inventory = vp_inventory_open (&config, &error);
  g_assert_no_error (error);
  g_assert_false (vp_inventory_wait_ready (inventory, 5000));
  g_test_assert_expected_messages ();
  gboolean complete = TRUE;
  g_autoptr (GPtrArray) vms = vp_inventory_list (inventory, &complete);
  g_assert_false (complete);
  g_assert_cmpuint (vms->len, ==, 0);
  g_assert_false (vp_inventory_connected (inventory));
}

/* Where QEMU pidfiles are looked for: libvirt's run directory, beside the socket a URI names
 * (Sunbeam's snap, a containerized libvirt's run directory bound elsewhere). */
static void
test_pid_dir (void)
{
  static const struct {
    const char *uri;
    const char *dir;   /* NULL: none */
  } cases[] = {
    { "qemu:///system", "/run/libvirt/qemu" },
    { "qemu+unix:///system", "/run/libvirt/qemu" },
    { "qemu+unix:///system?socket=/run/libvirt/libvirt-sock", "/run/libvirt/qemu" },
    { "qemu+unix:///system?socket=/var/snap/openstack-hypervisor/common/run/libvirt/libvirt-sock",
      "/var/snap/openstack-hypervisor/common/run/libvirt/qemu" },
    { "qemu+unix:///system?socket=/run/kolla/libvirt/virtqemud-sock", "/run/kolla/libvirt/qemu" },
    { "qemu+unix:///system?mode=direct&socket=/srv/run/libvirt/libvirt-sock", "/srv/run/libvirt/qemu" },
    { "qemu+unix:///session?socket=/home/u/.cache/libvirt/libvirt-sock", "/home/u/.cache/libvirt/qemu/run" },
    /* A socket moved by unix_sock_dir: its pidfiles are not beside it. */
    { "qemu+unix:///system?socket=/srv/sockets/other-sock", NULL },
    /* A pod's libvirt through /proc: its pidfiles hold its own PID namespace's numbers. */
    { "qemu+unix:///system?socket=/proc/42/root/run/libvirt/libvirt-sock", NULL },
    { "qemu+unix:///system?socket=relative/libvirt-sock", NULL },
    { "qemu+ssh://other/system", NULL },
    { "test:///default", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *dir = vp_libvirt_pid_dir_for_uri (cases[i].uri);
      g_test_message ("%s", cases[i].uri);
      g_assert_cmpstr (dir, ==, cases[i].dir);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/inventory/libvirt/lifecycle", test_lifecycle_events);
  g_test_add_func ("/inventory/libvirt/metadata", test_metadata_events);
  g_test_add_func ("/inventory/libvirt/unreachable", test_unreachable_uri);
  g_test_add_func ("/inventory/libvirt/pid-dir", test_pid_dir);
  return g_test_run ();
}
