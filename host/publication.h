/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what the engine publishes to the mount holder each tick, and its wire format. */
#pragma once

#include <glib.h>

#include "host/snapshot.h"

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

/* The engine side: a snapshot in wire form. */
GBytes *vp_publication_encode (const VpSnapshot *snapshot);

/* The holder side. The bytes come from another process, so everything is
 * checked: a malformed publication is refused whole, with one message. */
VpPublication *vp_publication_decode (GBytes *bytes, GError **error);

/* A name that can be a directory entry of the tree: not empty, not "." or
 * "..", no '/', at most 255 bytes (NAME_MAX). */
gboolean vp_publication_name_is_valid (const char *name);
