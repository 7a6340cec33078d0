/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the virtual powercap tree model (shared/vp-tree.c), without mounting anything. */
#include "config.h"

#include "shared/vp-tree.h"

#include <errno.h>

/* The hosts of the fixture trees: a zone table per host, as the engine
 * publishes it (index, name, max). */
typedef struct {
  const char *label;
  const char *zones[8][2];
} Host;

static const Host hosts[] = {
  { "single", { { "0", "package-0" }, { "0:0", "core" }, { "0:1", "uncore" } } },
  { "dual-dram", { { "0", "package-0" }, { "0:0", "core" }, { "0:1", "dram" },
                   { "1", "package-1" }, { "1:0", "core" }, { "1:1", "dram" } } },
  { "psys", { { "0", "package-0" }, { "0:0", "core" }, { "1", "psys" } } },
  { "hex-children", { { "0", "package-0" }, { "0:a", "dram" } } },
};

#define MAX_UJ G_GUINT64_CONSTANT (262143328850)

static VpPublication *
make_publication (const Host *host, const char *const *vm_names, const char *const *uuids, guint n_vms,
                  guint64 energy_base)
{
  VpPublication *publication = g_new0 (VpPublication, 1);
  while (publication->n_zones < G_N_ELEMENTS (host->zones) && host->zones[publication->n_zones][0])
    publication->n_zones++;
  publication->zones = g_new0 (VpPubZone, publication->n_zones);
  for (guint z = 0; z < publication->n_zones; z++)
    {
      publication->zones[z].index = g_strdup (host->zones[z][0]);
      publication->zones[z].name = g_strdup (host->zones[z][1]);
      publication->zones[z].max_energy_range_uj = MAX_UJ;
    }
  publication->n_vms = n_vms;
  publication->vms = g_new0 (VpPubVm, MAX (n_vms, 1));
  for (guint v = 0; v < n_vms; v++)
    {
      publication->vms[v].name = g_strdup (vm_names[v]);
      publication->vms[v].uuid = g_strdup (uuids[v]);
      publication->vms[v].uid = 1000 + v;
      publication->vms[v].gid = 2000 + v;
      publication->vms[v].energy_uj = g_new0 (guint64, publication->n_zones);
      for (guint z = 0; z < publication->n_zones; z++)
        publication->vms[v].energy_uj[z] = energy_base + 1000 * v + z;
    }
  return publication;
}

static const char *const two_names[] = { "web1", "db" };
static const char *const two_uuids[] = { "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002" };

/* Resolves a relative path as the kernel would: from the directory stack
 * dirs (innermost last), following symlinks relative to the directory
 * that holds them, ".." going one directory up. Returns 0 or -errno. */
static int
resolve (const VpTree *tree, GArray *dirs, const char *path, VpNodeStat *out)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  VpNodeStat node = g_array_index (dirs, VpNodeStat, dirs->len - 1);
  for (char **part = parts; *part; part++)
    {
      if (g_str_equal (*part, ".."))
        {
          g_assert_cmpuint (dirs->len, >, 1);   /* nothing climbs above the mount */
          g_array_set_size (dirs, dirs->len - 1);
          node = g_array_index (dirs, VpNodeStat, dirs->len - 1);
          continue;
        }
      int rc = vp_tree_lookup (tree, node.ino, *part, &node);
      if (rc < 0)
        return rc;
      if (node.type == VP_NODE_SYMLINK)
        {
          g_autofree char *target = NULL;
          g_assert_cmpint (vp_tree_readlink (tree, node.ino, &target), ==, 0);
          g_assert_false (g_path_is_absolute (target));
          rc = resolve (tree, dirs, target, &node);
          if (rc < 0)
            return rc;
        }
      if (node.type == VP_NODE_DIR)
        g_array_append_val (dirs, node);
    }
  *out = node;
  return 0;
}

/* Walks a relative path from the mount root (ino); returns 0 or -errno. */
static int
walk (const VpTree *tree, guint64 ino, const char *path, VpNodeStat *out)
{
  g_autoptr (GArray) dirs = g_array_new (FALSE, FALSE, sizeof (VpNodeStat));
  VpNodeStat start = { .ino = ino, .type = VP_NODE_DIR };
  g_array_append_val (dirs, start);
  return resolve (tree, dirs, path, out);
}

static char *
list_names (const VpTree *tree, guint64 ino)
{
  GArray *entries = NULL;
  g_assert_cmpint (vp_tree_list (tree, ino, &entries), ==, 0);
  g_autoptr (GString) names = g_string_new (NULL);
  for (guint i = 0; i < entries->len; i++)
    g_string_append_printf (names, "%s%s", i ? " " : "", g_array_index (entries, VpDirEntry, i).name);
  g_array_unref (entries);
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static char *
render (const VpTree *tree, const char *path)
{
  VpNodeStat node;
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, path, &node), ==, 0);
  g_autoptr (GString) out = g_string_new (NULL);
  g_assert_cmpint (vp_tree_render (tree, node.ino, out), ==, 0);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Every zone of every fixture host appears nested and flat, with the
 * kernel's files and modes, owned by the VM's QEMU user. */
static void
test_layout (gconstpointer data)
{
  const Host *host = data;
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpPublication) publication = make_publication (host, two_names, two_uuids, 2, 5000);
  g_autoptr (VpTree) tree = vp_tree_build (ids, publication, NULL);

  g_autofree char *vms = list_names (tree, VP_TREE_ROOT_INO);
  g_assert_cmpstr (vms, ==, "db web1");

  VpNodeStat web1, control, node;
  g_assert_cmpint (vp_tree_lookup (tree, VP_TREE_ROOT_INO, "web1", &web1), ==, 0);
  g_assert_cmpint (web1.type, ==, VP_NODE_DIR);
  g_assert_cmpuint (web1.mode, ==, 0555);
  g_assert_cmpuint (web1.uid, ==, 1000);
  g_assert_cmpuint (web1.gid, ==, 2000);
  g_assert_cmpint (vp_tree_lookup (tree, web1.ino, "intel-rapl", &control), ==, 0);
  g_assert_cmpint (control.type, ==, VP_NODE_DIR);
  g_autofree char *enabled = render (tree, "web1/intel-rapl/enabled");
  g_assert_cmpstr (enabled, ==, "1\n");

  g_autoptr (GString) expected_root = g_string_new ("intel-rapl");
  for (guint z = 0; z < publication->n_zones; z++)
    {
      const VpPubZone *zone = &publication->zones[z];
      g_string_append_printf (expected_root, " intel-rapl:%s", zone->index);

      /* Flat: a relative symlink into the nested tree. */
      g_autofree char *flat = g_strdup_printf ("intel-rapl:%s", zone->index);
      g_assert_cmpint (vp_tree_lookup (tree, web1.ino, flat, &node), ==, 0);
      g_assert_cmpint (node.type, ==, VP_NODE_SYMLINK);
      g_autofree char *target = NULL;
      g_assert_cmpint (vp_tree_readlink (tree, node.ino, &target), ==, 0);
      g_assert_true (g_str_has_prefix (target, "intel-rapl/"));
      g_assert_true (g_str_has_suffix (target, flat));
      g_assert_null (strstr (target, ".."));

      /* Nested: the link's target is a zone directory with the kernel's files. */
      g_autofree char *nested = g_strdup_printf ("web1/%s", target);
      g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, nested, &node), ==, 0);
      g_assert_cmpint (node.type, ==, VP_NODE_DIR);
      g_assert_cmpuint (node.mode, ==, 0555);
      static const struct { const char *file; guint mode; } files[] = {
        { "enabled", 0444 }, { "energy_uj", 0400 }, { "max_energy_range_uj", 0444 }, { "name", 0444 },
      };
      for (gsize f = 0; f < G_N_ELEMENTS (files); f++)
        {
          VpNodeStat file;
          g_assert_cmpint (vp_tree_lookup (tree, node.ino, files[f].file, &file), ==, 0);
          g_assert_cmpint (file.type, ==, VP_NODE_FILE);
          g_assert_cmpuint (file.mode, ==, files[f].mode);
          g_assert_cmpuint (file.uid, ==, 1000);
        }
      g_autofree char *name_path = g_strdup_printf ("web1/%s/name", flat);
      g_autofree char *energy_path = g_strdup_printf ("web1/%s/energy_uj", flat);
      g_autofree char *max_path = g_strdup_printf ("db/%s/max_energy_range_uj", flat);
      g_autofree char *name = render (tree, name_path);
      g_autofree char *energy = render (tree, energy_path);
      g_autofree char *max = render (tree, max_path);
      g_autofree char *expected_name = g_strdup_printf ("%s\n", zone->name);
      g_autofree char *expected_energy = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", publication->vms[0].energy_uj[z]);
      g_assert_cmpstr (name, ==, expected_name);
      g_assert_cmpstr (energy, ==, expected_energy);
      g_assert_cmpstr (max, ==, "262143328850\n");
    }
  g_autofree char *root = list_names (tree, web1.ino);
  g_assert_cmpstr (root, ==, expected_root->str);
}

/* Names the kernel might pass, or a hostile guest might try: never an
 * escape, never a crash; just ENOENT or ENOTDIR. */
static void
test_hostile_lookups (void)
{
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpPublication) publication = make_publication (&hosts[1], two_names, two_uuids, 2, 0);
  g_autoptr (VpTree) tree = vp_tree_build (ids, publication, NULL);
  VpNodeStat web1, node;
  g_assert_cmpint (vp_tree_lookup (tree, VP_TREE_ROOT_INO, "web1", &web1), ==, 0);

  static const char *const missing[] = {
    "..", ".", "", "intel-rapl:9", "intel-rapl:0/", "web1", "db", "energy_uj", "INTEL-RAPL",
    "intel-rapl:0:0:0", "intel-rapl:00",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (missing); i++)
    g_assert_cmpint (vp_tree_lookup (tree, web1.ino, missing[i], &node), ==, -ENOENT);
  g_autofree char *long_name = g_strnfill (4096, 'a');
  g_assert_cmpint (vp_tree_lookup (tree, web1.ino, long_name, &node), ==, -ENOENT);
  g_assert_cmpint (vp_tree_lookup (tree, VP_TREE_ROOT_INO, "..", &node), ==, -ENOENT);
  /* A child zone only under its parent. */
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "web1/intel-rapl/intel-rapl:0:0", &node), ==, -ENOENT);
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "web1/intel-rapl/intel-rapl:1/intel-rapl:0:0", &node), ==, -ENOENT);
  /* Below a file. */
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "web1/intel-rapl:0/energy_uj/x", &node), ==, -ENOTDIR);
  /* Not a symlink, not a file. */
  g_autofree char *target = NULL;
  g_assert_cmpint (vp_tree_readlink (tree, web1.ino, &target), ==, -EINVAL);
  g_autoptr (GString) out = g_string_new (NULL);
  g_assert_cmpint (vp_tree_render (tree, web1.ino, out), ==, -EISDIR);

  /* The one link that climbs: intel-rapl/subsystem, the same node in every VM. */
  VpNodeStat control, subsystem;
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "web1/intel-rapl", &control), ==, 0);
  g_assert_cmpint (vp_tree_lookup (tree, control.ino, "subsystem", &subsystem), ==, 0);
  guint64 subsystem_node = subsystem.ino & 0xffff;

  /* Every inode number near the real ones answers sanely. */
  for (guint64 vm = 0; vm < 4; vm++)
    for (guint64 low = 0; low < 0x200; low++)
      {
        guint64 ino = (vm << 16) | low;
        GArray *entries = NULL;
        g_autofree char *link = NULL;
        g_autoptr (GString) content = g_string_new (NULL);
        int rc = vp_tree_stat (tree, ino, &node);
        g_assert_true (rc == 0 || rc == -ENOENT);
        rc = vp_tree_list (tree, ino, &entries);
        g_assert_true (rc == 0 || rc == -ENOENT || rc == -ENOTDIR);
        if (entries)
          g_array_unref (entries);
        rc = vp_tree_readlink (tree, ino, &link);
        g_assert_true (rc == 0 || rc == -ENOENT || rc == -EINVAL);
        /* Only intel-rapl/subsystem climbs, and only to its VM's root. */
        if (link && (ino & 0xffff) == subsystem_node)
          g_assert_cmpstr (link, ==, "..");
        else if (link)
          g_assert_null (strstr (link, ".."));
        rc = vp_tree_render (tree, ino, content);
        g_assert_true (rc == 0 || rc == -ENOENT || rc == -EISDIR || rc == -EINVAL);
      }
}

/* The kernel caches inode numbers: a VM keeps its numbers across
 * publications (even renamed), and a gone VM's numbers never come back as
 * somebody else's. */
static void
test_stable_inodes (void)
{
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpPublication) first = make_publication (&hosts[0], two_names, two_uuids, 2, 100);
  g_autoptr (VpTree) before = vp_tree_build (ids, first, NULL);
  VpNodeStat web1_before, db_before, energy_before, node;
  g_assert_cmpint (vp_tree_lookup (before, VP_TREE_ROOT_INO, "web1", &web1_before), ==, 0);
  g_assert_cmpint (vp_tree_lookup (before, VP_TREE_ROOT_INO, "db", &db_before), ==, 0);
  g_assert_cmpint (walk (before, VP_TREE_ROOT_INO, "web1/intel-rapl:0/energy_uj", &energy_before), ==, 0);

  /* web1 renamed to web2; db gone; a new VM arrives. */
  static const char *const names[] = { "new", "web2" };
  static const char *const uuids[] = { "cccccccc-0000-4000-8000-000000000003", "aaaaaaaa-0000-4000-8000-000000000001" };
  g_autoptr (VpPublication) second = make_publication (&hosts[0], names, uuids, 2, 200);
  g_autoptr (VpTree) after = vp_tree_build (ids, second, NULL);
  VpNodeStat web2, newcomer;
  g_assert_cmpint (vp_tree_lookup (after, VP_TREE_ROOT_INO, "web2", &web2), ==, 0);
  g_assert_cmpuint (web2.ino, ==, web1_before.ino);
  g_assert_cmpint (walk (after, VP_TREE_ROOT_INO, "web2/intel-rapl:0/energy_uj", &node), ==, 0);
  g_assert_cmpuint (node.ino, ==, energy_before.ino);
  g_assert_cmpint (vp_tree_stat (after, db_before.ino, &node), ==, -ENOENT);
  g_assert_cmpint (vp_tree_lookup (after, VP_TREE_ROOT_INO, "newcomer", &node), ==, -ENOENT);
  g_assert_cmpint (vp_tree_lookup (after, VP_TREE_ROOT_INO, "new", &newcomer), ==, 0);
  g_assert_cmpuint (newcomer.ino, !=, db_before.ino);
  g_assert_cmpuint (newcomer.ino, !=, web1_before.ino);
  /* The old inode reads the new value. */
  g_autoptr (GString) out = g_string_new (NULL);
  g_assert_cmpint (vp_tree_render (after, energy_before.ino, out), ==, 0);
  g_assert_cmpstr (out->str, ==, "1200\n");
}

/* VMs a libvirt hook announced exist at once, with the counters they are
 * given (the mount holder gives their origins), and never shadow a
 * published VM. */
static void
test_announced (void)
{
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpPublication) publication = make_publication (&hosts[0], two_names, two_uuids, 1, 7);
  guint64 origins[] = { 11, 22, 33 };
  VpPubVm announced = { .name = (char *) "transient", .uuid = (char *) "dddddddd-0000-4000-8000-000000000004",
                        .uid = 64055, .gid = 64055, .energy_uj = origins };
  VpPubVm clash = { .name = (char *) "web1", .uuid = (char *) "eeeeeeee-0000-4000-8000-000000000005" };
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  g_ptr_array_add (extra, &announced);
  g_ptr_array_add (extra, &clash);
  g_autoptr (VpTree) tree = vp_tree_build (ids, publication, extra);

  g_autofree char *vms = list_names (tree, VP_TREE_ROOT_INO);
  g_assert_cmpstr (vms, ==, "transient web1");
  g_autofree char *energy = render (tree, "transient/intel-rapl:0:1/energy_uj");
  g_assert_cmpstr (energy, ==, "33\n");
  g_autofree char *published = render (tree, "web1/intel-rapl:0/energy_uj");
  g_assert_cmpstr (published, ==, "7\n");
  VpNodeStat node;
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "transient/intel-rapl:0/energy_uj", &node), ==, 0);
  g_assert_cmpuint (node.uid, ==, 64055);
}

/* A restarted engine may publish a VM before it knows its owner: the
 * files keep the owner they had, so a running guest's QEMU keeps reading. */
static void
test_owner_kept (void)
{
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpPublication) first = make_publication (&hosts[0], two_names, two_uuids, 1, 0);
  g_autoptr (VpTree) before = vp_tree_build (ids, first, NULL);
  g_autoptr (VpPublication) second = make_publication (&hosts[0], two_names, two_uuids, 2, 0);
  for (guint v = 0; v < second->n_vms; v++)
    second->vms[v].uid = second->vms[v].gid = VP_OWNER_UNKNOWN;
  g_autoptr (VpTree) after = vp_tree_build (ids, second, NULL);
  VpNodeStat node;
  g_assert_cmpint (walk (after, VP_TREE_ROOT_INO, "web1/intel-rapl:0/energy_uj", &node), ==, 0);
  g_assert_cmpuint (node.uid, ==, 1000);
  g_assert_cmpuint (node.gid, ==, 2000);
  /* Never known: root's. */
  g_assert_cmpint (walk (after, VP_TREE_ROOT_INO, "db/intel-rapl:0/energy_uj", &node), ==, 0);
  g_assert_cmpuint (node.uid, ==, 0);
  g_assert_cmpuint (node.gid, ==, 0);
}

/* Before the engine's first publication: an empty root, no crash. */
static void
test_empty (void)
{
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpTree) tree = vp_tree_build (ids, NULL, NULL);
  g_autofree char *vms = list_names (tree, VP_TREE_ROOT_INO);
  g_assert_cmpstr (vms, ==, "");
  VpNodeStat root;
  g_assert_cmpint (vp_tree_stat (tree, VP_TREE_ROOT_INO, &root), ==, 0);
  g_assert_cmpint (root.type, ==, VP_NODE_DIR);
  g_assert_cmpuint (root.mode, ==, 0555);
}

/* intel-rapl/subsystem: a symlink to the VM's root, as the kernel links the
 * control type back to the powercap class (CodeCarbon checks for it); it
 * is not among the zones a reader of the top level or of intel-rapl*
 * entries finds, and intel-rapl/ still has no name file. */
static void
test_subsystem (void)
{
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpPublication) publication = make_publication (&hosts[1], two_names, two_uuids, 2, 0);
  g_autoptr (VpTree) tree = vp_tree_build (ids, publication, NULL);
  VpNodeStat web1, control, link, through;
  g_assert_cmpint (vp_tree_lookup (tree, VP_TREE_ROOT_INO, "web1", &web1), ==, 0);
  g_assert_cmpint (vp_tree_lookup (tree, web1.ino, "intel-rapl", &control), ==, 0);
  g_assert_cmpint (vp_tree_lookup (tree, control.ino, "subsystem", &link), ==, 0);
  g_assert_cmpint (link.type, ==, VP_NODE_SYMLINK);
  g_assert_cmpuint (link.mode, ==, 0777);
  g_assert_cmpuint (link.uid, ==, 1000);
  g_autofree char *target = NULL;
  g_assert_cmpint (vp_tree_readlink (tree, link.ino, &target), ==, 0);
  g_assert_cmpstr (target, ==, "..");
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "web1/intel-rapl/subsystem", &through), ==, 0);
  g_assert_cmpuint (through.ino, ==, web1.ino);
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "web1/intel-rapl/subsystem/intel-rapl:1/name", &through), ==, 0);
  g_autofree char *name = render (tree, "web1/intel-rapl/subsystem/intel-rapl:1/name");
  g_assert_cmpstr (name, ==, "package-1\n");
  /* Another VM's subsystem is its own root. */
  VpNodeStat db;
  g_assert_cmpint (vp_tree_lookup (tree, VP_TREE_ROOT_INO, "db", &db), ==, 0);
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, "db/intel-rapl/subsystem", &through), ==, 0);
  g_assert_cmpuint (through.ino, ==, db.ino);

  g_autofree char *control_entries = list_names (tree, control.ino);
  g_assert_cmpstr (control_entries, ==, "enabled subsystem intel-rapl:0 intel-rapl:1");
  g_assert_cmpint (vp_tree_lookup (tree, control.ino, "name", &through), ==, -ENOENT);
  g_autofree char *root_entries = list_names (tree, web1.ino);
  g_assert_null (strstr (root_entries, "subsystem"));
  g_autoptr (GString) out = g_string_new (NULL);
  g_assert_cmpint (vp_tree_render (tree, link.ino, out), ==, -EINVAL);
}

/* Opens a node by path and returns its file handle. */
static VpTreeFile *
open_path (const VpTree *tree, const char *path)
{
  VpNodeStat node;
  g_assert_cmpint (walk (tree, VP_TREE_ROOT_INO, path, &node), ==, 0);
  VpTreeFile *file = NULL;
  g_assert_cmpint (vp_tree_open (tree, node.ino, &file), ==, 0);
  return file;
}

static char *
read_at (VpTreeFile *file, const VpTree *tree, goffset offset, gsize size)
{
  char buffer[512];
  gssize n = vp_tree_file_read (file, tree, offset, buffer, MIN (size, sizeof buffer));
  g_assert_cmpint (n, >=, 0);
  return g_strndup (buffer, (gsize) n);
}

/* sysfs's read semantics on one open file across publications: offset 0
 * renders the current value, later offsets continue that rendering. */
static void
test_file_reads (void)
{
  g_autoptr (VpTreeIds) ids = vp_tree_ids_new ();
  g_autoptr (VpPublication) first = make_publication (&hosts[0], two_names, two_uuids, 2, 123456000);
  g_autoptr (VpPublication) second = make_publication (&hosts[0], two_names, two_uuids, 2, 987654000);
  g_autoptr (VpTree) before = vp_tree_build (ids, first, NULL);
  g_autoptr (VpTree) after = vp_tree_build (ids, second, NULL);
  g_autoptr (VpTreeFile) file = open_path (before, "web1/intel-rapl:0/energy_uj");

  /* Held open while the engine publishes: each read at 0 is current. */
  g_autofree char *a = read_at (file, before, 0, 64);
  g_assert_cmpstr (a, ==, "123456000\n");
  g_autofree char *b = read_at (file, after, 0, 64);
  g_assert_cmpstr (b, ==, "987654000\n");
  g_autofree char *end = read_at (file, after, 10, 64);
  g_assert_cmpstr (end, ==, "");

  /* Read in pieces across a publication: one value, never torn. */
  g_autoptr (VpTreeFile) pieces = open_path (before, "web1/intel-rapl:0/energy_uj");
  g_autofree char *head = read_at (pieces, before, 0, 3);
  g_autofree char *tail = read_at (pieces, after, 3, 64);
  g_autofree char *whole = g_strconcat (head, tail, NULL);
  g_assert_cmpstr (whole, ==, "123456000\n");

  /* A first read past 0 renders too (nothing to continue yet). */
  g_autoptr (VpTreeFile) late = open_path (before, "web1/intel-rapl:0/energy_uj");
  g_autofree char *rest = read_at (late, after, 4, 64);
  g_assert_cmpstr (rest, ==, "54000\n");

  /* Open checks the node and renders nothing; a gone VM reads ENOENT. */
  VpTreeFile *none = NULL;
  VpNodeStat node;
  g_assert_cmpint (walk (before, VP_TREE_ROOT_INO, "web1/intel-rapl:0", &node), ==, 0);
  g_assert_cmpint (vp_tree_open (before, node.ino, &none), ==, -EISDIR);
  g_assert_cmpint (vp_tree_lookup (before, VP_TREE_ROOT_INO, "web1", &node), ==, 0);
  g_assert_cmpint (vp_tree_lookup (before, node.ino, "intel-rapl:0", &node), ==, 0);
  g_assert_cmpint (vp_tree_open (before, node.ino, &none), ==, -EINVAL);
  g_assert_cmpint (vp_tree_open (before, G_GUINT64_CONSTANT (99) << 16, &none), ==, -ENOENT);
  g_assert_null (none);
  g_autoptr (VpTree) empty = vp_tree_build (ids, NULL, NULL);
  char buffer[16];
  g_assert_cmpint (vp_tree_file_read (file, empty, 0, buffer, sizeof buffer), ==, -ENOENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize h = 0; h < G_N_ELEMENTS (hosts); h++)
    {
      g_autofree char *path = g_strdup_printf ("/tree/layout/%s", hosts[h].label);
      g_test_add_data_func (path, &hosts[h], test_layout);
    }
  g_test_add_func ("/tree/lookup/hostile", test_hostile_lookups);
  g_test_add_func ("/tree/inodes/stable", test_stable_inodes);
  g_test_add_func ("/tree/announced", test_announced);
  g_test_add_func ("/tree/owner/kept-while-unknown", test_owner_kept);
  g_test_add_func ("/tree/empty", test_empty);
  g_test_add_func ("/tree/subsystem", test_subsystem);
  g_test_add_func ("/tree/file/sysfs-reads", test_file_reads);
  return g_test_run ();
}
