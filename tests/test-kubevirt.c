/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: a KubeVirt VM told from its pod's libvirt status file (host/inventory/qemu-kubevirt.c),
 * the status file's <domain> and <metadata> read by the shared parsers, and the VM's labels. */
#include "config.h"

#include "host/inventory/qemu-kubevirt.h"
#include "host/inventory/qemu-managers.h"
#include "shared/vp-domxml.h"
#include "shared/vp-metadata.h"
#include "shared/vp-error.h"

#include <glib/gstdio.h>
#include <string.h>

#define UUID "5f0ad2a4-6f65-5b0c-9d1e-4f3a9b1e2c77"
#define VMI_UID "8d4f6c0e-2b1a-4c3e-9f5d-7a6b5c4d3e2f"
#define CHANNEL "/var/run/kubevirt-private/libvirt/qemu/channel/target/domain-1-ns1_vmi1/org.vpower.0"

static char *
status_text (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "kubevirt", "status.xml", NULL);
  char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static VpKubevirtResult
parse (const char *text, int ns_pid, const char *name, const char *uuid, VpKubevirtVm *vm, GError **error)
{
  return vp_kubevirt_parse_status (text, strlen (text), ns_pid, name, uuid, vm, error);
}

/* libvirt's status file of a KubeVirt VM: the VMI, its namespace and UID, the hook's channel. */
static void
test_status_file (void)
{
  g_autofree char *text = status_text ();
  g_auto (VpKubevirtVm) vm = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (parse (text, 87, "ns1_vmi1", UUID, &vm, &error), ==, VP_KUBEVIRT_FOUND);
  g_assert_no_error (error);
  g_assert_cmpstr (vm.namespace, ==, "ns1");
  g_assert_cmpstr (vm.vmi_name, ==, "vmi1");
  /* The live domain's <uid>, not the decoy in the file's own <metadata>. */
  g_assert_cmpstr (vm.vmi_uid, ==, VMI_UID);
  g_assert_true (vm.has_channel);
  g_assert_cmpstr (vm.channel_path, ==, CHANNEL);
  g_assert_true (vm.has_virtio_serial);
  /* The UUID compares case-blind, as libvirt writes it either way. */
  g_auto (VpKubevirtVm) upper = { 0 };
  g_autofree char *uuid_upper = g_ascii_strup (UUID, -1);
  g_assert_cmpint (parse (text, 87, "ns1_vmi1", uuid_upper, &upper, NULL), ==, VP_KUBEVIRT_FOUND);
}

/* A status file of another process (a previous run's, another VM's): not this one's, yet. */
static void
test_not_this_process (void)
{
  g_autofree char *text = status_text ();
  struct { int pid; const char *name, *uuid; } cases[] = {
    { 88, "ns1_vmi1", UUID },
    { 87, "ns1_vmi2", UUID },
    { 87, "ns1_vmi1", "00000000-6f65-5b0c-9d1e-4f3a9b1e2c77" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (VpKubevirtVm) vm = { 0 };
      g_autoptr (GError) error = NULL;
      g_assert_cmpint (parse (text, cases[i].pid, cases[i].name, cases[i].uuid, &vm, &error), ==, VP_KUBEVIRT_NOT_YET);
      g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
      g_assert_null (vm.namespace);
    }
  /* No pid in <domstatus>: nothing to tell it by. */
  g_autofree char *no_pid = g_strdup (text);
  char *at = strstr (no_pid, " pid='87'");
  memcpy (at, " pad='87'", 9);
  g_auto (VpKubevirtVm) vm = { 0 };
  g_assert_cmpint (parse (no_pid, 87, "ns1_vmi1", UUID, &vm, NULL), ==, VP_KUBEVIRT_NOT_YET);
}

/* libvirt in a container that is not KubeVirt (Kolla's nova_libvirt): no KubeVirt metadata, final. */
static void
test_not_kubevirt (void)
{
  g_autofree char *text = status_text ();
  g_autofree char *other_ns = g_strdup (text);
  /* The live domain's metadata in another namespace; the decoy stays. */
  char *at = strstr (other_ns, "<kubevirt xmlns=\"http://kubevirt.io\">");
  g_assert_nonnull (at);
  memcpy (at + strlen ("<kubevirt xmlns=\"http://"), "kubevirt.xx", strlen ("kubevirt.io"));
  g_auto (VpKubevirtVm) vm = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (parse (other_ns, 87, "ns1_vmi1", UUID, &vm, &error), ==, VP_KUBEVIRT_NOT);
  g_assert_no_error (error);

  /* KubeVirt's metadata, but a <uid> that is no UID, or a name that is not NAMESPACE_NAME. */
  g_autofree char *bad_uid = g_strdup (text);
  at = strstr (bad_uid, "<uid>" VMI_UID);
  at[5 + 8] = '/';
  g_auto (VpKubevirtVm) vm2 = { 0 };
  g_assert_cmpint (parse (bad_uid, 87, "ns1_vmi1", UUID, &vm2, NULL), ==, VP_KUBEVIRT_NOT);
  g_autofree char *renamed = g_strdup (text);
  while ((at = strstr (renamed, "<name>ns1_vmi1</name>")))
    memcpy (at, "<name>ns1-vmi1</name>", strlen ("<name>ns1-vmi1</name>"));
  g_auto (VpKubevirtVm) vm3 = { 0 };
  g_assert_cmpint (parse (renamed, 87, "ns1-vmi1", UUID, &vm3, &error), ==, VP_KUBEVIRT_NOT);
  g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
}

/* What cannot be read is not a VM yet, and says why; nothing is half filled in. */
static void
test_malformed (void)
{
  g_autofree char *text = status_text ();
  const char *bad[] = { "", "<domstatus pid='87'>", "<domstatus pid='87'><vcpus/></domstatus>",
                        "<network><name>ns1_vmi1</name></network>" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (VpKubevirtVm) vm = { 0 };
      g_autoptr (GError) error = NULL;
      g_assert_cmpint (parse (bad[i], 87, "ns1_vmi1", UUID, &vm, &error), ==, VP_KUBEVIRT_NOT_YET);
      g_assert_nonnull (error);
      g_assert_null (vm.channel_path);
    }
  /* Cut anywhere: never found, never a crash. */
  for (gsize cut = 0; cut < strlen (text); cut += 97)
    {
      g_autofree char *part = g_strndup (text, cut);
      g_auto (VpKubevirtVm) vm = { 0 };
      g_assert_cmpint (parse (part, 87, "ns1_vmi1", UUID, &vm, NULL), !=, VP_KUBEVIRT_FOUND);
    }
}

/* The domain parser reads a status file's <domain> only: the file's own <devices> is not it. */
static void
test_domain_of_status (void)
{
  g_autofree char *text = status_text ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (xml->name, ==, "ns1_vmi1");
  g_assert_cmpstr (xml->uuid, ==, UUID);
  g_assert_cmpint (xml->status_pid, ==, 87);
  g_assert_cmpstr (xml->channel_path, ==, CHANNEL);
  /* The hook's input, a plain <domain>: KubeVirt's metadata read there too. */
  g_autofree char *domain_path = g_test_build_filename (G_TEST_DIST, "data", "kubevirt", "domain.xml", NULL);
  g_autofree char *domain = NULL;
  g_assert_true (g_file_get_contents (domain_path, &domain, NULL, NULL));
  VpMetadataFacts facts = { 0 };
  g_auto (GStrv) labels = vp_metadata_parse (domain, -1, NULL, &facts, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (facts.manager, ==, "kubevirt");
  g_assert_cmpstr (facts.kubevirt_uid, ==, VMI_UID);
}

/* PID namespaces: the innermost NSpid is the PID libvirt in the pod wrote. */
static void
test_ns_pid (void)
{
  g_autofree char *proc = g_dir_make_tmp ("vp-proc-XXXXXX", NULL);
  struct { int pid; const char *status; int expected; } cases[] = {
    { 4242, "Name:\tqemu-kvm\nNSpid:\t4242\t87\nNSpgid:\t4242\t1\n", 87 },
    { 4243, "Name:\tqemu-kvm\nNSpid:\t4243\n", 4243 },
    { 4244, "Name:\tqemu-kvm\nPid:\t4244\n", 4244 },
    { 4245, "Name:\tqemu-kvm\nNSpid:\t4245\tx87\n", 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/%d", proc, cases[i].pid);
      g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
      g_autofree char *path = g_strdup_printf ("%s/status", dir);
      g_assert_true (g_file_set_contents (path, cases[i].status, -1, NULL));
      g_assert_cmpint (vp_kubevirt_ns_pid (proc, cases[i].pid), ==, cases[i].expected);
    }
  g_assert_cmpint (vp_kubevirt_ns_pid (proc, 9999), ==, 0);
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", proc);
  g_assert_cmpint (system (command), ==, 0);
}

/* Its labels: the VMI as vm_name, the namespace as project, manager kubevirt, the VMI's UID; its
 * key stays the domain's name. */
static void
test_labels (void)
{
  VpQemuIdentity identity = { .manager = VP_MANAGER_LIBVIRT, .key = g_strdup ("ns1_vmi1"), .uuid = g_strdup (UUID) };
  vp_qemu_identity_set_kubevirt (&identity, "ns1", "vmi1", VMI_UID);
  g_assert_cmpstr (vp_manager_to_string (identity.manager), ==, "kubevirt");
  g_auto (GStrv) labels = vp_qemu_identity_labels (&identity, "/nonexistent");
  g_autofree char *joined = vp_metadata_labels_to_string ((const char *const *) labels);
  g_assert_cmpstr (joined, ==, "vm_name=vmi1 project=ns1 label_manager=kubevirt label_uid=" VMI_UID);
  g_assert_cmpstr (identity.key, ==, "ns1_vmi1");
  vp_qemu_identity_clear (&identity);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kubevirt/status-file", test_status_file);
  g_test_add_func ("/kubevirt/not-this-process", test_not_this_process);
  g_test_add_func ("/kubevirt/not-kubevirt", test_not_kubevirt);
  g_test_add_func ("/kubevirt/malformed", test_malformed);
  g_test_add_func ("/kubevirt/domain-of-status", test_domain_of_status);
  g_test_add_func ("/kubevirt/ns-pid", test_ns_pid);
  g_test_add_func ("/kubevirt/labels", test_labels);
  return g_test_run ();
}
