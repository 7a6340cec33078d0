/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of host/inventory/qemu-cmdline.c and qemu-managers.c: QEMU command lines as each
 * manager writes them, read as QEMU reads them.
 *
 * The command lines follow each manager's source: Proxmox's qemu-server
 * (src/test/cfg2cmd/simple1.conf.cmd), Incus (driver_qemu.go), Ganeti
 * (hv_kvm/__init__.py) and libvirt 9.0's (recorded on this bed). */
#include "config.h"

#include "host/inventory/qemu-cmdline.h"
#include "host/inventory/qemu-managers.h"
#include "shared/vp-error.h"

#include <glib/gstdio.h>
#include <string.h>

/* argv as /proc/PID/cmdline holds it: NUL after each word. */
static VpQemuCmdline *
parse_words (const char *const *words)
{
  g_autoptr (GString) bytes = g_string_new (NULL);
  for (const char *const *word = words; *word; word++)
    g_string_append_len (bytes, *word, strlen (*word) + 1);
  return vp_qemu_cmdline_parse (bytes->str, bytes->len);
}

static void
test_opts (void)
{
  g_auto (GStrv) name = vp_qemu_opts_parse ("web,,1,debug-threads=on", "guest");
  g_assert_cmpstr (vp_qemu_opts_get (name, "guest"), ==, "web,1");
  g_assert_cmpstr (vp_qemu_opts_get (name, "debug-threads"), ==, "on");
  g_auto (GStrv) keyed = vp_qemu_opts_parse ("guest=a,,b,process=x", "guest");
  g_assert_cmpstr (vp_qemu_opts_get (keyed, "guest"), ==, "a,b");
  g_assert_cmpstr (vp_qemu_opts_get (keyed, "process"), ==, "x");
  /* Bare keys are booleans; a value may end the string after ",,". */
  g_auto (GStrv) bare = vp_qemu_opts_parse ("socket,id=c,server,nowait,path=/a,,b,,", "backend");
  g_assert_cmpstr (vp_qemu_opts_get (bare, "backend"), ==, "socket");
  g_assert_cmpstr (vp_qemu_opts_get (bare, "server"), ==, "on");
  g_assert_cmpstr (vp_qemu_opts_get (bare, "wait"), ==, "off");
  g_assert_cmpstr (vp_qemu_opts_get (bare, "path"), ==, "/a,b,");
  /* Without an implied key a first word without '=' is a boolean. */
  g_auto (GStrv) smbios = vp_qemu_opts_parse ("type=1,uuid=X", NULL);
  g_assert_cmpstr (vp_qemu_opts_get (smbios, "uuid"), ==, "X");
  g_auto (GStrv) empty = vp_qemu_opts_parse ("", "guest");
  g_assert_null (empty[0]);
  g_auto (GStrv) trailing = vp_qemu_opts_parse ("a,", "guest");
  g_assert_cmpstr (vp_qemu_opts_get (trailing, "guest"), ==, "a");
}

static void
test_proxmox (void)
{
  const char *words[] = { "/usr/bin/kvm", "-id", "8006", "-name", "simple,debug-threads=on", "-no-shutdown",
                          "-chardev", "socket,id=qmp,path=/var/run/qemu-server/8006.qmp,server=on,wait=off",
                          "-mon", "chardev=qmp,mode=control", "-pidfile", "/var/run/qemu-server/8006.pid",
                          "-daemonize", "-smbios", "type=1,uuid=7B10D7AF-B932-4C66-B2C3-3996152EC465",
                          "-nodefaults", "-S",
                          /* args: appended last, onto the agent's bus qga0.0 */
                          "-chardev", "socket,id=vpower0,path=/run/vpower/channels/pve-8006.sock,server=on,wait=off",
                          "-device", "virtserialport,bus=qga0.0,chardev=vpower0,name=org.vpower.0", NULL };
  g_autoptr (VpQemuCmdline) cmdline = parse_words (words);
  g_assert_cmpstr (cmdline->name, ==, "simple");
  g_assert_true (cmdline->debug_threads);
  g_assert_cmpstr (cmdline->uuid, ==, "7b10d7af-b932-4c66-b2c3-3996152ec465");
  g_assert_cmpstr (cmdline->id, ==, "8006");
  g_assert_true (cmdline->daemonize);
  g_assert_null (cmdline->incoming);
  g_assert_cmpstr (vp_qemu_cmdline_channel (cmdline), ==, "/run/vpower/channels/pve-8006.sock");

  g_auto (VpQemuIdentity) identity = { 0 };
  g_assert_true (vp_qemu_identify (cmdline, &identity));
  g_assert_cmpint (identity.manager, ==, VP_MANAGER_PROXMOX);
  g_assert_cmpstr (identity.key, ==, "8006");
  g_assert_cmpstr (identity.vmid, ==, "8006");
  g_assert_cmpstr (identity.vm_name, ==, "simple");
  g_assert_cmpstr (identity.uuid, ==, "7b10d7af-b932-4c66-b2c3-3996152ec465");
}

static void
test_proxmox_conf (void)
{
  const char *text = "#first line of the description\n#second\nagent: enabled=1,fstrim_cloned_disks=1\n"
                     "name: web-1\ntags: prod, blue;;eu\nsmbios1: uuid=x\n\n[snap]\nname: old\ntags: stale\n"
                     "[PENDING]\nname: next\n";
  g_auto (VpProxmoxConf) conf = { 0 };
  vp_proxmox_conf_parse (text, strlen (text), &conf);
  g_assert_cmpstr (conf.name, ==, "web-1");
  g_assert_cmpstr (conf.tags, ==, "prod;blue;eu");
  g_assert_true (conf.agent);

  g_auto (VpProxmoxConf) isa = { 0 };
  vp_proxmox_conf_parse ("agent: 1,type=isa\n", 18, &isa);
  g_assert_false (isa.agent);
  g_auto (VpProxmoxConf) off = { 0 };
  vp_proxmox_conf_parse ("agent: 0\n", 9, &off);
  g_assert_false (off.agent);

  const char *users = "user:root@pam:1:0::::::\npool:finance:Money:100,8006:local:\npool:dev::101::\n";
  g_autofree char *pool = vp_proxmox_pool_of (users, strlen (users), "8006");
  g_assert_cmpstr (pool, ==, "finance");
  g_autofree char *none = vp_proxmox_pool_of (users, strlen (users), "800");
  g_assert_null (none);
}

static void
test_proxmox_labels (void)
{
  g_autofree char *root = g_dir_make_tmp ("vp-pve-XXXXXX", NULL);
  g_autofree char *dir = g_build_filename (root, "etc", "pve", "qemu-server", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_autofree char *conf = g_build_filename (dir, "8006.conf", NULL);
  g_autofree char *users = g_build_filename (root, "etc", "pve", "user.cfg", NULL);
  g_assert_true (g_file_set_contents (conf, "name: web-1\ntags: a;b\n", -1, NULL));
  g_assert_true (g_file_set_contents (users, "pool:finance::8006::\n", -1, NULL));
  VpQemuIdentity identity = { VP_MANAGER_PROXMOX, (char *) "8006", (char *) "u", (char *) "simple", NULL,
                              (char *) "8006" };
  g_auto (GStrv) labels = vp_qemu_identity_labels (&identity, root);
  g_autofree char *joined = g_strjoinv (" ", labels);
  /* The configuration's name wins over -name (they differ after a rename until a restart). */
  g_assert_cmpstr (joined, ==, "vm_name web-1 project finance label_manager proxmox label_tags a;b");
  g_unlink (conf);
  g_unlink (users);
  g_autofree char *pve = g_build_filename (root, "etc", "pve", NULL);
  g_autofree char *etc = g_build_filename (root, "etc", NULL);
  g_rmdir (dir);
  g_rmdir (pve);
  g_rmdir (etc);
  g_rmdir (root);
}

static void
test_incus (void)
{
  const char *words[] = { "qemu-system-x86_64", "-S", "-name", "web", "-uuid", "0b5d6c1e-1111-2222-3333-444455556666",
                          "-daemonize", "-cpu", "host", "-nographic", "-serial", "chardev:console", "-nodefaults",
                          "-no-user-config", "-readconfig", "/run/incus/tenant_web/qemu.conf", "-pidfile",
                          "/run/incus/tenant_web/qemu.pid", "-D", "/var/log/incus/tenant_web/qemu.log", NULL };
  g_autoptr (VpQemuCmdline) cmdline = parse_words (words);
  g_assert_cmpuint (cmdline->readconfig->len, ==, 1);
  g_assert_null (vp_qemu_cmdline_channel (cmdline));
  const char *config = "# comment\n[device \"dev-qemu_serial\"]\ndriver = \"virtio-serial-pci\"\n\n"
                       "[chardev \"vpower0\"]\n  backend = \"socket\"\n  path = \"/run/incus/tenant_web/vpower.sock\"\n"
                       "  server = \"on\"\n  wait = \"off\"\n[device \"vpower0\"]\ndriver = \"virtserialport\"\n"
                       "bus = \"dev-qemu_serial.0\"\nchardev = \"vpower0\"\nname = \"org.vpower.0\"\n";
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_qemu_cmdline_add_config (cmdline, config, strlen (config), &error));
  g_assert_cmpstr (vp_qemu_cmdline_channel (cmdline), ==, "/run/incus/tenant_web/vpower.sock");

  g_auto (VpQemuIdentity) identity = { 0 };
  g_assert_true (vp_qemu_identify (cmdline, &identity));
  g_assert_cmpint (identity.manager, ==, VP_MANAGER_INCUS);
  g_assert_cmpstr (identity.key, ==, "tenant_web");
  g_assert_cmpstr (identity.project, ==, "tenant");
  g_assert_cmpstr (identity.vm_name, ==, "web");

  /* The default project: the directory is the name alone. */
  const char *plain[] = { "qemu-system-x86_64", "-name", "db", "-pidfile", "/run/incus/db/qemu.pid", NULL };
  g_autoptr (VpQemuCmdline) cmdline2 = parse_words (plain);
  g_auto (VpQemuIdentity) identity2 = { 0 };
  g_assert_true (vp_qemu_identify (cmdline2, &identity2));
  g_assert_cmpstr (identity2.key, ==, "db");
  g_assert_cmpstr (identity2.project, ==, "default");
  g_assert_null (identity2.vm_name);   /* it is the key */

  /* LXD: the pidfile is in its log directory. */
  const char *lxd[] = { "qemu-system-x86_64", "-name", "c1", "-pidfile", "/var/log/lxd/p_c1/qemu.pid", NULL };
  g_autoptr (VpQemuCmdline) cmdline3 = parse_words (lxd);
  g_auto (VpQemuIdentity) identity3 = { 0 };
  g_assert_true (vp_qemu_identify (cmdline3, &identity3));
  g_assert_cmpint (identity3.manager, ==, VP_MANAGER_LXD);
  g_assert_cmpstr (identity3.project, ==, "p");
}

static void
test_config_errors (void)
{
  const char *bad[] = { "[chardev \"x\"\n", "key = \"v\"\n", "[device \"a\"]\nname = unquoted\n", "[a \"b\" c]\n" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (VpQemuCmdline) cmdline = vp_qemu_cmdline_parse ("q", 1);
      g_autoptr (GError) error = NULL;
      g_assert_false (vp_qemu_cmdline_add_config (cmdline, bad[i], strlen (bad[i]), &error));
      g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
      g_assert_true (g_str_has_prefix (error->message, "line "));
    }
}

static void
test_ganeti_libvirt_plain (void)
{
  const char *ganeti[] = { "/usr/bin/kvm", "-name", "inst1.example.com,debug-threads=on", "-uuid",
                           "11111111-2222-3333-4444-555555555555", "-pidfile",
                           "/var/run/ganeti/kvm-hypervisor/pid/inst1.example.com", "-daemonize", NULL };
  g_autoptr (VpQemuCmdline) g = parse_words (ganeti);
  g_auto (VpQemuIdentity) gi = { 0 };
  g_assert_true (vp_qemu_identify (g, &gi));
  g_assert_cmpint (gi.manager, ==, VP_MANAGER_GANETI);
  g_assert_cmpstr (gi.key, ==, "inst1.example.com");

  /* libvirt 9.0 (as /var/log/libvirt/qemu/NAME.log records it): no -pidfile (libvirt writes it),
   * guest=, the master key in its domain directory, JSON -device. */
  const char *libvirt[] = { "/usr/bin/qemu-system-x86_64", "-name", "guest=vp-chan,debug-threads=on", "-S",
                            "-object", "{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\","
                                       "\"file\":\"/var/lib/libvirt/qemu/domain-1-vp-chan/master-key.aes\"}",
                            "-uuid", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                            "-chardev", "socket,id=charchannel0,path=/var/lib/libvirt/qemu/channel/target/domain-1-vp-chan/org.vpower.0,server=on,wait=off",
                            "-device", "{\"driver\":\"virtserialport\",\"bus\":\"virtio-serial0.0\",\"nr\":1,"
                                       "\"chardev\":\"charchannel0\",\"id\":\"channel0\",\"name\":\"org.vpower.0\"}", NULL };
  g_autoptr (VpQemuCmdline) l = parse_words (libvirt);
  g_auto (VpQemuIdentity) li = { 0 };
  g_assert_true (vp_qemu_identify (l, &li));
  g_assert_cmpint (li.manager, ==, VP_MANAGER_LIBVIRT);
  g_assert_cmpstr (li.key, ==, "vp-chan");
  g_assert_cmpstr (vp_qemu_cmdline_channel (l), ==,
                   "/var/lib/libvirt/qemu/channel/target/domain-1-vp-chan/org.vpower.0");

  /* Plain: -uuid wins over -smbios; --opt works like -opt; -incoming. */
  const char *plain[] = { "qemu-system-x86_64", "--name", "p", "-smbios", "type=1,uuid=11111111-1111-1111-1111-111111111111",
                          "-uuid", "22222222-2222-2222-2222-222222222222", "-incoming", "defer", "disk.img", NULL };
  g_autoptr (VpQemuCmdline) p = parse_words (plain);
  g_assert_cmpstr (p->uuid, ==, "22222222-2222-2222-2222-222222222222");
  g_assert_cmpstr (p->incoming, ==, "defer");
  g_auto (VpQemuIdentity) pi = { 0 };
  g_assert_true (vp_qemu_identify (p, &pi));
  g_assert_cmpint (pi.manager, ==, VP_MANAGER_PLAIN);
  g_assert_cmpstr (pi.key, ==, "p");

  /* A channel socket QEMU does not listen on is not one vpowerd can use. */
  const char *client[] = { "q", "-chardev", "socket,id=c,path=/x", "-device", "virtserialport,chardev=c,name=org.vpower.0", NULL };
  g_autoptr (VpQemuCmdline) c = parse_words (client);
  g_assert_null (vp_qemu_cmdline_channel (c));
}

static void
test_refused_names (void)
{
  const char *cases[][4] = {
    { "q", "-name", "a/b", NULL }, { "q", "-name", "..", NULL }, { "q", "-name", "a\x01", NULL },
    { "q", "-name", "\xff\xfe", NULL }, { "q", "-S", NULL, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (VpQemuCmdline) cmdline = parse_words (cases[i]);
      VpQemuIdentity identity;
      g_assert_false (vp_qemu_identify (cmdline, &identity));
    }
  /* No name but a UUID: named by it. No UUID: derived, the same each time. */
  const char *by_uuid[] = { "q", "-uuid", "33333333-3333-3333-3333-333333333333", NULL };
  g_autoptr (VpQemuCmdline) u = parse_words (by_uuid);
  g_auto (VpQemuIdentity) ui = { 0 };
  g_assert_true (vp_qemu_identify (u, &ui));
  g_assert_cmpstr (ui.key, ==, "33333333-3333-3333-3333-333333333333");
  const char *named[] = { "q", "-name", "n", NULL };
  g_autoptr (VpQemuCmdline) n1 = parse_words (named);
  g_autoptr (VpQemuCmdline) n2 = parse_words (named);
  g_auto (VpQemuIdentity) a = { 0 };
  g_auto (VpQemuIdentity) b = { 0 };
  g_assert_true (vp_qemu_identify (n1, &a) && vp_qemu_identify (n2, &b));
  g_assert_cmpstr (a.uuid, ==, b.uuid);
  g_assert_true (g_uuid_string_is_valid (a.uuid));
}

static void
test_exe (void)
{
  g_assert_true (vp_qemu_exe_is_qemu ("/usr/bin/qemu-system-x86_64"));
  g_assert_true (vp_qemu_exe_is_qemu ("/usr/bin/qemu-system-aarch64 (deleted)"));
  g_assert_true (vp_qemu_exe_is_qemu ("/usr/libexec/qemu-kvm"));
  g_assert_true (vp_qemu_exe_is_qemu ("/usr/bin/kvm"));
  g_assert_false (vp_qemu_exe_is_qemu ("/usr/bin/qemu-system-"));
  g_assert_false (vp_qemu_exe_is_qemu ("/usr/bin/qemu-img"));
  g_assert_false (vp_qemu_exe_is_qemu ("/usr/bin/kvmtool"));
}

/* -smp as managers write it: the vCPUs a VM reserves (platform-split=vcpus). */
static void
test_smp (void)
{
  static const struct {
    const char *smp;
    guint vcpus;
  } cases[] = {
    { "4", 4 },
    { "4,sockets=1,cores=4,maxcpus=4", 4 },          /* Proxmox */
    { "cpus=2,sockets=1,cores=2,threads=1", 2 },     /* Incus */
    { "sockets=2,cores=4,threads=2", 16 },           /* QEMU computes cpus from the topology */
    { "maxcpus=8", 0 },                              /* nothing usable: QEMU's default, 1 */
    { "0", 0 },
    { "99999", 0 },
    { "two", 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *words[] = { "qemu-system-x86_64", "-smp", cases[i].smp, "-uuid",
                              "0b5d6c1e-7a7a-4b4b-8c8c-0123456789ab", NULL };
      g_autoptr (VpQemuCmdline) cmdline = parse_words (words);
      g_test_message ("-smp %s", cases[i].smp);
      g_assert_cmpuint (cmdline->vcpus, ==, cases[i].vcpus);
    }
  const char *none[] = { "qemu-system-x86_64", "-m", "512", NULL };
  g_autoptr (VpQemuCmdline) without = parse_words (none);
  g_assert_cmpuint (without->vcpus, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/qemu-cmdline/opts", test_opts);
  g_test_add_func ("/qemu-cmdline/proxmox", test_proxmox);
  g_test_add_func ("/qemu-cmdline/proxmox-conf", test_proxmox_conf);
  g_test_add_func ("/qemu-cmdline/proxmox-labels", test_proxmox_labels);
  g_test_add_func ("/qemu-cmdline/incus", test_incus);
  g_test_add_func ("/qemu-cmdline/config-errors", test_config_errors);
  g_test_add_func ("/qemu-cmdline/ganeti-libvirt-plain", test_ganeti_libvirt_plain);
  g_test_add_func ("/qemu-cmdline/refused-names", test_refused_names);
  g_test_add_func ("/qemu-cmdline/exe", test_exe);
  g_test_add_func ("/qemu-cmdline/smp", test_smp);
  return g_test_run ();
}
