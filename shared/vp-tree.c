/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the virtual powercap tree as pure data: what is at each inode (no FUSE here).
 *
 * Each VM's directory is a replica of a host's /sys/class/powercap
 * (design.md, "The tree is a replica of /sys/class/powercap"):
 *
 *   <vm>/intel-rapl/                       the control type: a real directory
 *   <vm>/intel-rapl/enabled
 *   <vm>/intel-rapl/subsystem -> ..        the powercap class, as the kernel links it
 *   <vm>/intel-rapl/intel-rapl:0/          nested zones, as under
 *   <vm>/intel-rapl/intel-rapl:0/intel-rapl:0:0/   /sys/devices/virtual/powercap
 *   <vm>/intel-rapl:0 -> intel-rapl/intel-rapl:0   flat relative symlinks, as
 *   <vm>/intel-rapl:0:0 -> intel-rapl/intel-rapl:0/intel-rapl:0:0   in /sys/class/powercap
 *
 * and every zone directory holds the files of zone_files[] below.
 *
 * vpowerd's mount holds one such directory per VM under its root. The guest
 * agent's mount is one VM's directory itself (vp_tree_build_vm_root): the
 * same nodes, with the VM's root at the mount's root. */
#include "config.h"

#include "shared/vp-tree.h"

#include <errno.h>
#include <string.h>

/* Node numbers inside a VM (the low 16 bits of an inode number). */
enum {
  NODE_VM_ROOT = 0,
  NODE_CONTROL_DIR = 1,       /* <vm>/intel-rapl */
  NODE_CONTROL_ENABLED = 2,   /* <vm>/intel-rapl/enabled */
  NODE_CONTROL_SUBSYSTEM = 3, /* <vm>/intel-rapl/subsystem */
  NODE_FIRST_ZONE = 8,        /* then 8 nodes per zone id: */
};
enum { KIND_DIR = 0, KIND_LINK = 1, KIND_FIRST_FILE = 2, KINDS_PER_ZONE = 8 };
#define MAX_ZONE_IDS ((0x10000 - NODE_FIRST_ZONE) / KINDS_PER_ZONE)
#define VM_SHIFT 16

#define CONTROL_TYPE "intel-rapl"
/* On the kernel, /sys/devices/virtual/powercap/intel-rapl/subsystem links
 * back to /sys/class/powercap, and CodeCarbon refuses RAPL without it. The
 * VM's root is its powercap class directory, one level up: the link never
 * leaves the VM's directory. It is not at the top level, where
 * node_exporter and prometheus/procfs look for zones, and its name does not
 * start with "intel-rapl", which CodeCarbon and s-tui look for, so no reader
 * counts a zone twice through it. */
#define SUBSYSTEM_LINK "subsystem"
#define SUBSYSTEM_TARGET ".."

typedef struct {
  guint id;                   /* stable zone id */
  char *index;                /* "0:0" */
  char *dirname;              /* "intel-rapl:0:0" */
  char *name;                 /* "core" */
  guint64 max_energy_range_uj;
  int parent;                 /* position in zones[], -1 at the top */
  char *link_target;          /* "intel-rapl/intel-rapl:0/intel-rapl:0:0" */
} TreeZone;

typedef struct {
  guint64 id;                 /* stable VM id */
  char *name;
  char *uuid;
  uid_t uid;
  gid_t gid;
  guint64 *energy_uj;         /* by zone position */
} TreeVm;

typedef struct {
  guint64 id;
  uid_t uid;                  /* the owner it was last published with */
  gid_t gid;
} VmIdentity;

struct _VpTreeIds {
  GHashTable *vm_ids;         /* uuid -> VmIdentity */
  guint64 next_vm_id;
  GHashTable *zone_ids;       /* index -> id */
  guint next_zone_id;
};

struct _VpTree {
  gboolean vm_at_root;        /* the mount root is vms[0]'s directory */
  guint n_zones;
  TreeZone *zones;
  TreeZone **zone_by_id;      /* [MAX_ZONE_IDS] */
  GHashTable *zone_by_dirname;
  guint n_vms;
  TreeVm *vms;                /* sorted by name */
  GHashTable *vm_by_name;
  GHashTable *vm_by_id;       /* &vm->id (guint64) -> vm */
  GHashTable *vm_by_uuid;
};

/* --- the files of a zone directory (table-driven) --- */

typedef void (*VpZoneRender) (const TreeZone *zone, guint64 energy_uj, GString *out);

static void
render_enabled (const TreeZone *zone, guint64 energy_uj, GString *out)
{
  g_string_append (out, "1\n");
}

static void
render_energy (const TreeZone *zone, guint64 energy_uj, GString *out)
{
  g_string_append_printf (out, "%" G_GUINT64_FORMAT "\n", energy_uj);
}

static void
render_max (const TreeZone *zone, guint64 energy_uj, GString *out)
{
  g_string_append_printf (out, "%" G_GUINT64_FORMAT "\n", zone->max_energy_range_uj);
}

static void
render_name (const TreeZone *zone, guint64 energy_uj, GString *out)
{
  g_string_append_printf (out, "%s\n", zone->name);
}

/* Modes are the kernel's (drivers/powercap/powercap_sys.c): energy_uj is
 * 0400 since the PLATYPUS fix (CVE-2020-8694). enabled is 0644 there, but
 * this tree is read-only, so it shows 0444. */
static const struct {
  const char *name;
  guint mode;
  VpZoneRender render;
} zone_files[] = {
  { "enabled", 0444, render_enabled },
  { "energy_uj", 0400, render_energy },
  { "max_energy_range_uj", 0444, render_max },
  { "name", 0444, render_name },
};
G_STATIC_ASSERT (KIND_FIRST_FILE + G_N_ELEMENTS (zone_files) <= KINDS_PER_ZONE);

/* --- stable ids --- */

VpTreeIds *
vp_tree_ids_new (void)
{
  VpTreeIds *ids = g_new0 (VpTreeIds, 1);
  ids->vm_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ids->zone_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ids->next_vm_id = 1;
  return ids;
}

void
vp_tree_ids_free (VpTreeIds *ids)
{
  if (!ids)
    return;
  g_hash_table_unref (ids->vm_ids);
  g_hash_table_unref (ids->zone_ids);
  g_free (ids);
}

static VmIdentity *
vm_identity_for (VpTreeIds *ids, const char *uuid)
{
  VmIdentity *identity = g_hash_table_lookup (ids->vm_ids, uuid);
  if (!identity)
    {
      identity = g_new0 (VmIdentity, 1);   /* root until known */
      identity->id = ids->next_vm_id++;
      g_hash_table_insert (ids->vm_ids, g_strdup (uuid), identity);
    }
  return identity;
}

/* G_MAXUINT when the id space is used up (thousands of distinct zones). */
static guint
zone_id_for (VpTreeIds *ids, const char *index)
{
  gpointer value;
  if (g_hash_table_lookup_extended (ids->zone_ids, index, NULL, &value))
    return GPOINTER_TO_UINT (value);
  if (ids->next_zone_id >= MAX_ZONE_IDS)
    return G_MAXUINT;
  guint id = ids->next_zone_id++;
  g_hash_table_insert (ids->zone_ids, g_strdup (index), GUINT_TO_POINTER (id));
  return id;
}

/* --- building --- */

static int
compare_vm_name (gconstpointer a, gconstpointer b)
{
  return strcmp (((const TreeVm *) a)->name, ((const TreeVm *) b)->name);
}

static void
tree_clear (gpointer data)
{
  VpTree *tree = data;
  for (guint z = 0; z < tree->n_zones; z++)
    {
      g_free (tree->zones[z].index);
      g_free (tree->zones[z].dirname);
      g_free (tree->zones[z].name);
      g_free (tree->zones[z].link_target);
    }
  for (guint v = 0; v < tree->n_vms; v++)
    {
      g_free (tree->vms[v].name);
      g_free (tree->vms[v].uuid);
      g_free (tree->vms[v].energy_uj);
    }
  g_free (tree->zones);
  g_free (tree->zone_by_id);
  g_free (tree->vms);
  g_hash_table_unref (tree->zone_by_dirname);
  g_hash_table_unref (tree->vm_by_name);
  g_hash_table_unref (tree->vm_by_id);
  g_hash_table_unref (tree->vm_by_uuid);
}

static char *
zone_link_target (const VpTree *tree, const TreeZone *zone)
{
  g_autoptr (GString) target = g_string_new (zone->dirname);
  for (int p = zone->parent; p >= 0; p = tree->zones[p].parent)
    {
      g_string_prepend_c (target, '/');
      g_string_prepend (target, tree->zones[p].dirname);
    }
  g_string_prepend (target, CONTROL_TYPE "/");
  return g_string_free (g_steal_pointer (&target), FALSE);
}

static void
add_vm (VpTree *tree, const VpPubVm *source, VpTreeIds *ids, guint n_source_zones)
{
  if (g_hash_table_contains (tree->vm_by_uuid, source->uuid) ||
      g_hash_table_contains (tree->vm_by_name, source->name))
    return;
  TreeVm *vm = &tree->vms[tree->n_vms++];
  g_autofree char *uuid = g_ascii_strdown (source->uuid, -1);
  VmIdentity *identity = vm_identity_for (ids, uuid);
  /* An engine that just restarted may not know the owner yet; taking the
   * files away from a running guest's QEMU meanwhile would fail its reads. */
  if (source->uid != VP_OWNER_UNKNOWN && source->gid != VP_OWNER_UNKNOWN)
    {
      identity->uid = source->uid;
      identity->gid = source->gid;
    }
  vm->id = identity->id;
  vm->name = g_strdup (source->name);
  vm->uuid = g_steal_pointer (&uuid);
  vm->uid = identity->uid;
  vm->gid = identity->gid;
  vm->energy_uj = g_new0 (guint64, MAX (tree->n_zones, 1));
  if (source->energy_uj && n_source_zones == tree->n_zones)
    memcpy (vm->energy_uj, source->energy_uj, tree->n_zones * sizeof (guint64));
  /* Provisional; the tables are rebuilt after sorting. */
  g_hash_table_add (tree->vm_by_name, vm->name);
  g_hash_table_add (tree->vm_by_uuid, vm->uuid);
}

static VpTree *
tree_build (VpTreeIds *ids, const VpPublication *publication, const GPtrArray *extra_vms, gboolean vm_at_root)
{
  VpTree *tree = g_atomic_rc_box_new0 (VpTree);
  tree->vm_at_root = vm_at_root;
  guint n_pub_zones = publication ? publication->n_zones : 0;
  guint n_pub_vms = publication ? (vm_at_root ? MIN (publication->n_vms, 1) : publication->n_vms) : 0;
  guint n_extra = extra_vms ? extra_vms->len : 0;

  tree->zones = g_new0 (TreeZone, MAX (n_pub_zones, 1));
  tree->zone_by_id = g_new0 (TreeZone *, MAX_ZONE_IDS);
  tree->zone_by_dirname = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint z = 0; z < n_pub_zones; z++)
    {
      const VpPubZone *source = &publication->zones[z];
      guint id = zone_id_for (ids, source->index);
      if (id == G_MAXUINT)
        {
          g_warning ("tree: too many distinct zones; zone %s is not served", source->index);
          continue;
        }
      TreeZone *zone = &tree->zones[tree->n_zones++];
      zone->id = id;
      zone->index = g_strdup (source->index);
      zone->dirname = g_strconcat (CONTROL_TYPE ":", source->index, NULL);
      zone->name = g_strdup (source->name);
      zone->max_energy_range_uj = source->max_energy_range_uj;
      zone->parent = -1;
      tree->zone_by_id[id] = zone;
      g_hash_table_insert (tree->zone_by_dirname, zone->dirname, zone);
    }
  /* A publication is checked to have every parent (publication.c). */
  for (guint z = 0; z < tree->n_zones; z++)
    {
      TreeZone *zone = &tree->zones[z];
      const char *colon = strrchr (zone->dirname + strlen (CONTROL_TYPE ":"), ':');
      if (colon)
        {
          g_autofree char *parent = g_strndup (zone->dirname, colon - zone->dirname);
          TreeZone *found = g_hash_table_lookup (tree->zone_by_dirname, parent);
          zone->parent = found ? (int) (found - tree->zones) : -1;
        }
    }
  for (guint z = 0; z < tree->n_zones; z++)
    tree->zones[z].link_target = zone_link_target (tree, &tree->zones[z]);

  tree->vms = g_new0 (TreeVm, MAX (n_pub_vms + n_extra, 1));
  tree->vm_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  tree->vm_by_uuid = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint v = 0; v < n_pub_vms; v++)
    add_vm (tree, &publication->vms[v], ids, n_pub_zones);
  for (guint v = 0; v < n_extra; v++)
    add_vm (tree, extra_vms->pdata[v], ids, n_pub_zones);
  qsort (tree->vms, tree->n_vms, sizeof (TreeVm), compare_vm_name);

  g_hash_table_remove_all (tree->vm_by_name);
  g_hash_table_remove_all (tree->vm_by_uuid);
  tree->vm_by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint v = 0; v < tree->n_vms; v++)
    {
      TreeVm *vm = &tree->vms[v];
      g_hash_table_insert (tree->vm_by_name, vm->name, vm);
      g_hash_table_insert (tree->vm_by_uuid, vm->uuid, vm);
      g_hash_table_insert (tree->vm_by_id, &vm->id, vm);
    }
  return tree;
}

VpTree *
vp_tree_build (VpTreeIds *ids, const VpPublication *publication, const GPtrArray *extra_vms)
{
  return tree_build (ids, publication, extra_vms, FALSE);
}

VpTree *
vp_tree_build_vm_root (VpTreeIds *ids, const VpPublication *publication)
{
  return tree_build (ids, publication, NULL, TRUE);
}

VpTree *
vp_tree_ref (VpTree *tree)
{
  return g_atomic_rc_box_acquire (tree);
}

void
vp_tree_unref (VpTree *tree)
{
  if (tree)
    g_atomic_rc_box_release_full (tree, tree_clear);
}

guint
vp_tree_n_vms (const VpTree *tree)
{
  return tree->n_vms;
}

/* --- answering "what is at this inode?" --- */

/* A decoded inode number: which VM, and which node in it. */
typedef struct {
  const TreeVm *vm;           /* NULL for the mount root */
  guint node;
  const TreeZone *zone;       /* for zone nodes */
  guint kind;
} Node;

static guint64
make_ino (const VpTree *tree, const TreeVm *vm, guint node)
{
  if (tree->vm_at_root && node == NODE_VM_ROOT)
    return VP_TREE_ROOT_INO;
  return (vm->id << VM_SHIFT) | node;
}

static guint
zone_node (const TreeZone *zone, guint kind)
{
  return NODE_FIRST_ZONE + zone->id * KINDS_PER_ZONE + kind;
}

static gboolean
decode (const VpTree *tree, guint64 ino, Node *out)
{
  memset (out, 0, sizeof *out);
  if (ino == VP_TREE_ROOT_INO)
    {
      /* With no VM yet, the agent's root is an empty directory. */
      if (tree->vm_at_root && tree->n_vms > 0)
        out->vm = &tree->vms[0];
      return TRUE;
    }
  guint64 id = ino >> VM_SHIFT;
  out->vm = g_hash_table_lookup (tree->vm_by_id, &id);
  out->node = (guint) (ino & 0xffff);
  if (!out->vm || (tree->vm_at_root && out->node == NODE_VM_ROOT))
    return FALSE;
  if (out->node < NODE_FIRST_ZONE)
    return out->node <= NODE_CONTROL_SUBSYSTEM;
  guint zone_id = (out->node - NODE_FIRST_ZONE) / KINDS_PER_ZONE;
  out->kind = (out->node - NODE_FIRST_ZONE) % KINDS_PER_ZONE;
  out->zone = tree->zone_by_id[zone_id];
  return out->zone && out->kind < KIND_FIRST_FILE + G_N_ELEMENTS (zone_files);
}

static void
fill_stat (const Node *node, guint64 ino, VpNodeStat *out)
{
  out->ino = ino;
  out->uid = node->vm ? node->vm->uid : 0;
  out->gid = node->vm ? node->vm->gid : 0;
  if (!node->vm || node->node == NODE_VM_ROOT || node->node == NODE_CONTROL_DIR ||
      (node->zone && node->kind == KIND_DIR))
    {
      out->type = VP_NODE_DIR;
      out->mode = 0555;
    }
  else if ((node->zone && node->kind == KIND_LINK) || (node->vm && node->node == NODE_CONTROL_SUBSYSTEM))
    {
      out->type = VP_NODE_SYMLINK;
      out->mode = 0777;
    }
  else
    {
      out->type = VP_NODE_FILE;
      out->mode = node->zone ? zone_files[node->kind - KIND_FIRST_FILE].mode : 0444;
    }
}

static int
stat_node (const VpTree *tree, const TreeVm *vm, guint node_number, VpNodeStat *out)
{
  guint64 ino = vm ? make_ino (tree, vm, node_number) : VP_TREE_ROOT_INO;
  Node node;
  if (!decode (tree, ino, &node))
    return -ENOENT;
  fill_stat (&node, ino, out);
  return 0;
}

int
vp_tree_stat (const VpTree *tree, guint64 ino, VpNodeStat *out)
{
  Node node;
  if (!decode (tree, ino, &node))
    return -ENOENT;
  fill_stat (&node, ino, out);
  return 0;
}

static gboolean
is_dir (const Node *node)
{
  return !node->vm || node->node == NODE_VM_ROOT || node->node == NODE_CONTROL_DIR ||
         (node->zone && node->kind == KIND_DIR);
}

/* The zone whose directory is `dirname` directly under parent (a zone
 * position, or -1 for intel-rapl/ itself). */
static const TreeZone *
child_zone (const VpTree *tree, int parent, const char *dirname)
{
  const TreeZone *zone = g_hash_table_lookup (tree->zone_by_dirname, dirname);
  return zone && zone->parent == parent ? zone : NULL;
}

int
vp_tree_lookup (const VpTree *tree, guint64 parent_ino, const char *name, VpNodeStat *out)
{
  Node parent;
  if (!decode (tree, parent_ino, &parent))
    return -ENOENT;
  if (!is_dir (&parent))
    return -ENOTDIR;

  if (!parent.vm)
    {
      const TreeVm *vm = g_hash_table_lookup (tree->vm_by_name, name);
      return vm ? stat_node (tree, vm, NODE_VM_ROOT, out) : -ENOENT;
    }
  if (parent.node == NODE_VM_ROOT)
    {
      if (g_str_equal (name, CONTROL_TYPE))
        return stat_node (tree, parent.vm, NODE_CONTROL_DIR, out);
      const TreeZone *zone = g_hash_table_lookup (tree->zone_by_dirname, name);
      return zone ? stat_node (tree, parent.vm, zone_node (zone, KIND_LINK), out) : -ENOENT;
    }
  if (parent.node == NODE_CONTROL_DIR)
    {
      if (g_str_equal (name, "enabled"))
        return stat_node (tree, parent.vm, NODE_CONTROL_ENABLED, out);
      if (g_str_equal (name, SUBSYSTEM_LINK))
        return stat_node (tree, parent.vm, NODE_CONTROL_SUBSYSTEM, out);
      const TreeZone *zone = child_zone (tree, -1, name);
      return zone ? stat_node (tree, parent.vm, zone_node (zone, KIND_DIR), out) : -ENOENT;
    }
  /* A zone directory. */
  for (guint f = 0; f < G_N_ELEMENTS (zone_files); f++)
    if (g_str_equal (name, zone_files[f].name))
      return stat_node (tree, parent.vm, zone_node (parent.zone, KIND_FIRST_FILE + f), out);
  const TreeZone *zone = child_zone (tree, (int) (parent.zone - tree->zones), name);
  return zone ? stat_node (tree, parent.vm, zone_node (zone, KIND_DIR), out) : -ENOENT;
}

static void
add_entry (GArray *entries, const VpTree *tree, const char *name, const TreeVm *vm, guint node)
{
  VpDirEntry entry = { .name = name };
  if (stat_node (tree, vm, node, &entry.stat) == 0)
    g_array_append_val (entries, entry);
}

int
vp_tree_list (const VpTree *tree, guint64 ino, GArray **entries_out)
{
  Node dir;
  if (!decode (tree, ino, &dir))
    return -ENOENT;
  if (!is_dir (&dir))
    return -ENOTDIR;

  GArray *entries = g_array_new (FALSE, FALSE, sizeof (VpDirEntry));
  if (!dir.vm)
    for (guint v = 0; v < tree->n_vms; v++)
      add_entry (entries, tree, tree->vms[v].name, &tree->vms[v], NODE_VM_ROOT);
  else if (dir.node == NODE_VM_ROOT)
    {
      add_entry (entries, tree, CONTROL_TYPE, dir.vm, NODE_CONTROL_DIR);
      for (guint z = 0; z < tree->n_zones; z++)
        add_entry (entries, tree, tree->zones[z].dirname, dir.vm, zone_node (&tree->zones[z], KIND_LINK));
    }
  else
    {
      int parent = dir.node == NODE_CONTROL_DIR ? -1 : (int) (dir.zone - tree->zones);
      if (dir.node == NODE_CONTROL_DIR)
        {
          add_entry (entries, tree, "enabled", dir.vm, NODE_CONTROL_ENABLED);
          add_entry (entries, tree, SUBSYSTEM_LINK, dir.vm, NODE_CONTROL_SUBSYSTEM);
        }
      else
        for (guint f = 0; f < G_N_ELEMENTS (zone_files); f++)
          add_entry (entries, tree, zone_files[f].name, dir.vm, zone_node (dir.zone, KIND_FIRST_FILE + f));
      for (guint z = 0; z < tree->n_zones; z++)
        if (tree->zones[z].parent == parent)
          add_entry (entries, tree, tree->zones[z].dirname, dir.vm, zone_node (&tree->zones[z], KIND_DIR));
    }
  *entries_out = entries;
  return 0;
}

int
vp_tree_readlink (const VpTree *tree, guint64 ino, char **target)
{
  Node node;
  if (!decode (tree, ino, &node))
    return -ENOENT;
  if (node.vm && node.node == NODE_CONTROL_SUBSYSTEM)
    *target = g_strdup (SUBSYSTEM_TARGET);
  else if (node.zone && node.kind == KIND_LINK)
    *target = g_strdup (node.zone->link_target);
  else
    return -EINVAL;
  return 0;
}

int
vp_tree_render (const VpTree *tree, guint64 ino, GString *out)
{
  Node node;
  if (!decode (tree, ino, &node))
    return -ENOENT;
  if (is_dir (&node))
    return -EISDIR;
  if (node.vm && node.node == NODE_CONTROL_ENABLED)
    {
      g_string_append (out, "1\n");
      return 0;
    }
  if (!node.zone || node.kind < KIND_FIRST_FILE)
    return -EINVAL;
  gsize position = (gsize) (node.zone - tree->zones);
  zone_files[node.kind - KIND_FIRST_FILE].render (node.zone, node.vm->energy_uj[position], out);
  return 0;
}

/* --- open files: sysfs's read semantics --- */

struct _VpTreeFile {
  guint64 ino;
  GMutex lock;                /* reads of one open file may come in parallel */
  gboolean rendered;
  GString *content;           /* the last offset-0 rendering */
};

int
vp_tree_open (const VpTree *tree, guint64 ino, VpTreeFile **file_out)
{
  VpNodeStat node;
  int rc = vp_tree_stat (tree, ino, &node);
  if (rc < 0)
    return rc;
  if (node.type == VP_NODE_DIR)
    return -EISDIR;
  if (node.type != VP_NODE_FILE)
    return -EINVAL;
  VpTreeFile *file = g_new0 (VpTreeFile, 1);
  file->ino = ino;
  g_mutex_init (&file->lock);
  file->content = g_string_sized_new (32);
  *file_out = file;
  return 0;
}

void
vp_tree_file_free (VpTreeFile *file)
{
  if (!file)
    return;
  g_mutex_clear (&file->lock);
  g_string_free (file->content, TRUE);
  g_free (file);
}

gssize
vp_tree_file_read (VpTreeFile *file, const VpTree *tree, goffset offset, char *buffer, gsize size)
{
  if (offset < 0)
    return -EINVAL;
  g_mutex_lock (&file->lock);
  if (offset == 0 || !file->rendered)
    {
      g_string_truncate (file->content, 0);
      int rc = vp_tree_render (tree, file->ino, file->content);
      if (rc < 0)
        {
          g_mutex_unlock (&file->lock);
          return rc;
        }
      file->rendered = TRUE;
    }
  gsize length = (gsize) offset < file->content->len ? MIN (size, file->content->len - (gsize) offset) : 0;
  memcpy (buffer, file->content->str + offset, length);
  g_mutex_unlock (&file->lock);
  return (gssize) length;
}
