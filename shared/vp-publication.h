/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: what a tree shows: zones and VMs with their values, and the checks any source of them passes. */
#pragma once

#include <glib.h>

/* Two processes fill this: the mount holder from the engine's publications
 * (host/snapshot/publication.c) and the guest agent from channel messages
 * (shared/vp-channel.c). Both come from outside the process, so both go
 * through vp_publication_check_zones before a tree is built from them. */

typedef struct {
  char *index;                  /* powercap index path: "0", "0:0", "1" */
  char *name;                   /* package-0, core, dram, psys */
  guint64 max_energy_range_uj;
} VpPubZone;

/* The engine does not know the owner yet (a VM only its state file knows,
 * before libvirt answers): the tree keeps the owner it last had. */
#define VP_OWNER_UNKNOWN G_MAXUINT32

typedef struct {
  char *name;                   /* the directory name: the domain's name */
  char *uuid;
  guint32 uid, gid;             /* owner of the VM's files, or VP_OWNER_UNKNOWN */
  guint64 *energy_uj;           /* one per zone: what energy_uj shows */
} VpPubVm;

typedef struct {
  guint64 ticks;
  gint64 published_mono_us;     /* g_get_monotonic_time(): same clock in both processes */
  gboolean inventory_complete;  /* the engine's VM list is the whole truth */
  guint n_zones;
  VpPubZone *zones;
  guint n_vms;
  VpPubVm *vms;
} VpPublication;

void vp_publication_free (VpPublication *publication);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpPublication, vp_publication_free)

/* A name that can be a directory entry of the tree: not empty, not "." or
 * "..", no '/', at most 255 bytes (NAME_MAX). */
gboolean vp_publication_name_is_valid (const char *name);

/* "0", "0:0", "1:a": lowercase hexadecimal components (child zones are
 * named "<parent>:%x", drivers/powercap/powercap_sys.c). */
gboolean vp_publication_zone_index_is_valid (const char *index);

/* Every zone has a valid index and name, no index twice, and every child's
 * parent is there too (or the tree would have a hole). */
gboolean vp_publication_check_zones (const VpPublication *publication, const char *what, GError **error);
