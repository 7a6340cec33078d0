/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the engine-to-holder channel: publication wire format (host/snapshot/publication.c), the
 * seqlocked shared memory (host/snapshot/shm.c), and the domain XML facts the tree's owners come from. */
#include "config.h"

#include "host/snapshot/publication.h"
#include "host/fuse/served-tree.h"
#include "host/snapshot/shm.h"
#include "shared/vp-domxml.h"
#include "shared/vp-error.h"

#include <sys/mman.h>

static VpSnapshot *
make_snapshot (const char *vm_name, guint64 energy)
{
  VpSnapshot *snapshot = vp_snapshot_new ();
  static VpZoneSnapshot layout[] = {
    { .name = "package-0", .index = "0", .max_energy_range_uj = 262143328850 },
    { .name = "dram", .index = "0:a", .max_energy_range_uj = 65712999613 },
  };
  g_array_append_vals (snapshot->vm_layout, layout, G_N_ELEMENTS (layout));
  snapshot->ticks = 42;
  snapshot->mono_us = 123456789;
  snapshot->libvirt_connected = TRUE;
  snapshot->vm_storage = g_new0 (VpVmSnapshot, 1);
  snapshot->zone_storage = g_new0 (VpZoneSnapshot, 2);
  VpVmSnapshot *vm = snapshot->vm_storage;
  vm->name = vm_name;
  vm->uuid = "aaaaaaaa-0000-4000-8000-000000000001";
  vm->uid = 64055;
  vm->gid = 108;
  vm->owner_known = TRUE;
  vm->n_zones = 2;
  vm->zones = snapshot->zone_storage;
  vm->zones[0] = layout[0];
  vm->zones[0].energy_uj = energy;
  vm->zones[1] = layout[1];
  vm->zones[1].energy_uj = energy / 2;
  g_ptr_array_add (snapshot->vms, vm);
  return snapshot;
}

static void
test_round_trip (void)
{
  g_autoptr (VpSnapshot) snapshot = make_snapshot ("web 1", 1234567);
  g_autoptr (GBytes) bytes = vp_publication_encode (snapshot);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpPublication) publication = vp_publication_decode (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (publication->ticks, ==, 42);
  g_assert_cmpint (publication->published_mono_us, ==, 123456789);
  g_assert_true (publication->inventory_complete);
  g_assert_cmpuint (publication->n_zones, ==, 2);
  g_assert_cmpstr (publication->zones[1].index, ==, "0:a");
  g_assert_cmpstr (publication->zones[1].name, ==, "dram");
  g_assert_cmpuint (publication->zones[1].max_energy_range_uj, ==, 65712999613);
  g_assert_cmpuint (publication->n_vms, ==, 1);
  g_assert_cmpstr (publication->vms[0].name, ==, "web 1");
  g_assert_cmpuint (publication->vms[0].uid, ==, 64055);
  g_assert_cmpuint (publication->vms[0].gid, ==, 108);
  g_assert_cmpuint (publication->vms[0].energy_uj[0], ==, 1234567);
  g_assert_cmpuint (publication->vms[0].energy_uj[1], ==, 617283);

  /* A VM only the state file knows goes out with its owner unknown. */
  ((VpVmSnapshot *) snapshot->vms->pdata[0])->owner_known = FALSE;
  g_autoptr (GBytes) unknown_bytes = vp_publication_encode (snapshot);
  g_autoptr (VpPublication) unknown = vp_publication_decode (unknown_bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unknown->vms[0].uid, ==, VP_OWNER_UNKNOWN);
  g_assert_cmpuint (unknown->vms[0].gid, ==, VP_OWNER_UNKNOWN);
}

/* Whatever bytes arrive, decoding refuses them with a message, never crashes. */
static void
test_garbage (void)
{
  g_autoptr (VpSnapshot) good = make_snapshot ("web1", 1);
  g_autoptr (GBytes) encoded = vp_publication_encode (good);
  gsize size;
  const guint8 *data = g_bytes_get_data (encoded, &size);
  GRand *rand = g_rand_new_with_seed (7);

  for (int round = 0; round < 2000; round++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, size);
      gsize length = round % 3 == 0 ? (gsize) g_rand_int_range (rand, 0, (gint32) size) : size;
      for (int flips = 0; flips < 1 + round % 4; flips++)
        copy[g_rand_int_range (rand, 0, (gint32) size)] = (guint8) g_rand_int (rand);
      g_autoptr (GBytes) bytes = g_bytes_new (copy, length);
      g_autoptr (GError) error = NULL;
      g_autoptr (VpPublication) publication = vp_publication_decode (bytes, &error);
      g_assert_true ((publication != NULL) != (error != NULL));
      if (publication)
        for (guint v = 0; v < publication->n_vms; v++)
          g_assert_true (vp_publication_name_is_valid (publication->vms[v].name));
    }
  g_rand_free (rand);

  /* Names that would escape or break the tree are refused whole. */
  static const char *const bad_names[] = { "..", ".", "a/b", "" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      g_autoptr (VpSnapshot) snapshot = make_snapshot (bad_names[i], 1);
      g_autoptr (GBytes) bytes = vp_publication_encode (snapshot);
      g_autoptr (GError) error = NULL;
      g_autoptr (VpPublication) publication = vp_publication_decode (bytes, &error);
      g_assert_null (publication);
      g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
    }
}

static void
test_shm (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VpShm) holder = vp_shm_create (&error);
  g_assert_no_error (error);
  guint64 sequence = 0;
  g_assert_null (vp_shm_read (holder, &sequence));   /* nothing published yet */

  /* The engine attaches through the fd, as after exec. */
  g_autoptr (VpShm) engine = vp_shm_attach (dup (vp_shm_fd (holder)), &error);
  g_assert_no_error (error);
  /* Big enough to make the file grow under the reader's mapping. */
  g_autofree char *big = g_strnfill (300000, 'x');
  g_autoptr (GBytes) first = g_bytes_new_static (big, strlen (big));
  g_assert_true (vp_shm_write (engine, first, &error));
  g_autoptr (GBytes) read_first = vp_shm_read (holder, &sequence);
  g_assert_nonnull (read_first);
  g_assert_true (g_bytes_equal (read_first, first));
  g_assert_cmpuint (sequence, ==, vp_shm_sequence (holder));
  g_assert_cmpuint (sequence % 2, ==, 0);

  /* An engine killed in the middle of a write leaves the sequence odd:
   * the reader keeps what it has rather than read torn bytes. The header
   * is {magic, sequence, size} at offset 0 (shm.c). */
  guint64 *header = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vp_shm_fd (holder), 0);
  g_assert_true (header != MAP_FAILED);
  header[1] = sequence + 1;
  guint64 torn_sequence = 0;
  g_assert_null (vp_shm_read (holder, &torn_sequence));
  munmap (header, 4096);

  /* The next engine carries on from there. */
  g_autoptr (VpShm) next_engine = vp_shm_attach (dup (vp_shm_fd (holder)), &error);
  g_autoptr (GBytes) second = g_bytes_new_static ("second", 6);
  g_assert_true (vp_shm_write (next_engine, second, &error));
  guint64 second_sequence = 0;
  g_autoptr (GBytes) read_second = vp_shm_read (holder, &second_sequence);
  g_assert_true (g_bytes_equal (read_second, second));
  g_assert_cmpuint (second_sequence, >, sequence);
  g_assert_cmpuint (second_sequence % 2, ==, 0);

  /* A fd that is not ours is refused. */
  int other = memfd_create ("other", MFD_CLOEXEC);
  g_assert_cmpint (ftruncate (other, 8192), ==, 0);
  g_autoptr (GError) attach_error = NULL;
  g_autoptr (VpShm) wrong = vp_shm_attach (other, &attach_error);
  g_assert_null (wrong);
  g_assert_nonnull (attach_error);
  close (other);
}

static void
test_domain_xml (void)
{
  static const struct {
    const char *xml;
    gboolean owner_known;
    guint uid, gid;
  } cases[] = {
    /* A static per-domain label, as the 9p test uses. */
    { "<domain type='qemu'><name>vm1</name><uuid>AAAAAAAA-0000-4000-8000-000000000001</uuid>"
      "<seclabel type='static' model='dac' relabel='no'><label>+64055:+108</label></seclabel></domain>", TRUE, 64055, 108 },
    /* The live XML of a dynamic label; selinux labels and disk labels are not ours. */
    { "<domain type='kvm' id='3'><name>vm1</name><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid>"
      "<devices><disk><source file='/x'><seclabel model='dac' relabel='no'><label>+5:+5</label></seclabel></source></disk></devices>"
      "<seclabel type='dynamic' model='selinux'><label>system_u:system_r:svirt_t:s0:c1,c2</label></seclabel>"
      "<seclabel type='dynamic' model='dac' relabel='yes'><label>+0:+0</label><imagelabel>+0:+0</imagelabel></seclabel>"
      "</domain>", TRUE, 0, 0 },
    { "<domain><name>vm1</name><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid><seclabel type='none'/></domain>", FALSE, 0, 0 },
    { "<domain><name>vm1</name><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid></domain>", FALSE, 0, 0 },
    { "<domain><name>vm1</name><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid>"
      "<seclabel type='static' model='dac'><label>root:root</label></seclabel></domain>", TRUE, 0, 0 },
    { "<domain><name>vm1</name><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid>"
      "<seclabel type='static' model='dac'><label>no-such-user-here:+1</label></seclabel></domain>", FALSE, 0, 0 },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (cases[c].xml, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (xml->name, ==, "vm1");
      g_assert_cmpstr (xml->uuid, ==, "aaaaaaaa-0000-4000-8000-000000000001");
      g_assert_cmpint (xml->owner_known, ==, cases[c].owner_known);
      if (cases[c].owner_known)
        {
          g_assert_cmpuint (xml->uid, ==, cases[c].uid);
          g_assert_cmpuint (xml->gid, ==, cases[c].gid);
        }
    }
  /* <vcpu>: the vCPUs the domain reserves (current= is how many are plugged now). */
  static const struct {
    const char *vcpu;
    guint vcpus;
  } vcpus[] = {
    { "<vcpu placement='static'>4</vcpu>", 4 }, { "<vcpu current='2'>8</vcpu>", 8 }, { "<vcpu> 3 </vcpu>", 3 },
    { "", 0 }, { "<vcpu>0</vcpu>", 0 }, { "<vcpu>lots</vcpu>", 0 }, { "<vcpu>99999</vcpu>", 0 },
  };
  for (gsize v = 0; v < G_N_ELEMENTS (vcpus); v++)
    {
      g_autofree char *text = g_strdup_printf ("<domain><name>vm1</name><uuid>aaaaaaaa-0000-4000-8000-000000000001"
                                               "</uuid>%s</domain>", vcpus[v].vcpu);
      g_autoptr (GError) error = NULL;
      g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (xml->vcpus, ==, vcpus[v].vcpus);
    }
  static const char *const broken[] = {
    "", "<domain>", "<network><name>n</name><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid></network>",
    "<domain><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid></domain>", "<domain><name>x</name></domain>",
  };
  for (gsize b = 0; b < G_N_ELEMENTS (broken); b++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (broken[b], -1, &error);
      g_assert_null (xml);
      g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
    }
}

/* Reads one file of the served tree by its nested path, or NULL. */
static char *
served_read (VpServedTree *served, const char *path)
{
  g_autoptr (VpTree) tree = vp_served_tree_get (served);
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  VpNodeStat node = { .ino = VP_TREE_ROOT_INO };
  for (char **part = parts; *part; part++)
    if (vp_tree_lookup (tree, node.ino, *part, &node) != 0)
      return NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  return vp_tree_render (tree, node.ino, out) == 0 ? g_string_free (g_steal_pointer (&out), FALSE) : NULL;
}

/* A VM the libvirt hook announces has its directory at once, even before
 * the engine's first publication (libvirtd may autostart guests first);
 * once the engine publishes zones, its energy_uj files read its origins:
 * never 0, within the range, its own. */
static void
test_served_announced (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VpShm) shm = vp_shm_create (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (vp_shm_origin_key (shm), !=, 0);
  g_autoptr (VpServedTree) served = vp_served_tree_new (shm);
  vp_served_tree_announce (served, "early", "cccccccc-0000-4000-8000-000000000003", 0, 0);
  vp_served_tree_announce (served, "other", "dddddddd-0000-4000-8000-000000000004", 0, 0);
  {
    g_autoptr (VpTree) tree = vp_served_tree_get (served);
    VpNodeStat node;
    g_assert_cmpint (vp_tree_lookup (tree, VP_TREE_ROOT_INO, "early", &node), ==, 0);
    g_assert_cmpint (node.type, ==, VP_NODE_DIR);
  }

  g_autoptr (VpShm) engine = vp_shm_attach (dup (vp_shm_fd (shm)), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vp_shm_origin_key (engine), ==, vp_shm_origin_key (shm));
  g_autoptr (VpSnapshot) snapshot = make_snapshot ("web1", 1234567);
  g_autoptr (GBytes) bytes = vp_publication_encode (snapshot);
  g_assert_true (vp_shm_write (engine, bytes, &error));

  static const char *const files[] = { "intel-rapl/intel-rapl:0/energy_uj",
                                       "intel-rapl/intel-rapl:0/intel-rapl:0:a/energy_uj" };
  static const guint64 ranges[] = { 262143328850, 65712999613 };
  for (gsize f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autofree char *early_path = g_strdup_printf ("early/%s", files[f]);
      g_autofree char *other_path = g_strdup_printf ("other/%s", files[f]);
      g_autofree char *early = served_read (served, early_path);
      g_autofree char *other = served_read (served, other_path);
      g_assert_nonnull (early);
      g_assert_nonnull (other);
      guint64 value = g_ascii_strtoull (early, NULL, 10);
      g_assert_cmpuint (value, >=, 1);
      g_assert_cmpuint (value, <=, ranges[f]);
      g_assert_cmpstr (early, !=, other);
    }
  g_autofree char *published = served_read (served, "web1/intel-rapl/intel-rapl:0/energy_uj");
  g_assert_cmpstr (published, ==, "1234567\n");
}

/* The channel's socket path comes from the live XML; only the vpower port counts. */
static void
test_domain_xml_channel (void)
{
#define DOMAIN_HEAD "<domain><name>vm1</name><uuid>aaaaaaaa-0000-4000-8000-000000000001</uuid><devices>"
  static const struct {
    const char *devices;
    gboolean has_channel;
    const char *path;
    gboolean has_controller;
  } cases[] = {
    /* A running domain's live XML, as libvirt 9.0 writes it. */
    { "<controller type='virtio-serial' index='0'/>"
      "<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-3-vm1/org.qemu.guest_agent.0'/>"
      "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
      "<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-3-vm1/org.vpower.0'/>"
      "<target type='virtio' name='org.vpower.0' state='connected'/><alias name='channel1'/></channel>",
      TRUE, "/var/lib/libvirt/qemu/channel/target/domain-3-vm1/org.vpower.0", TRUE },
    /* Inactive: libvirt picks the path at start. */
    { "<channel type='unix'><source mode='bind'/><target type='virtio' name='org.vpower.0'/></channel>", TRUE, NULL, FALSE },
    /* Not ours: another name, a pty, a guestfwd. */
    { "<controller type='usb'/><channel type='unix'><source mode='bind' path='/x'/><target type='virtio' name='org.other'/></channel>"
      "<channel type='pty'><target type='virtio' name='org.vpower.0'/></channel>"
      "<channel type='unix'><source path='/y'/><target type='guestfwd' name='org.vpower.0'/></channel>",
      FALSE, NULL, FALSE },
    { "", FALSE, NULL, FALSE },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *text = g_strconcat (DOMAIN_HEAD, cases[c].devices, "</devices></domain>", NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpint (xml->has_channel, ==, cases[c].has_channel);
      g_assert_cmpstr (xml->channel_path, ==, cases[c].path);
      g_assert_cmpint (xml->has_virtio_serial, ==, cases[c].has_controller);
    }
#undef DOMAIN_HEAD
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/publication/round-trip", test_round_trip);
  g_test_add_func ("/publication/garbage", test_garbage);
  g_test_add_func ("/publication/shm", test_shm);
  g_test_add_func ("/publication/domain-xml", test_domain_xml);
  g_test_add_func ("/publication/domain-xml/channel", test_domain_xml_channel);
  g_test_add_func ("/publication/served/announced", test_served_announced);
  return g_test_run ();
}
