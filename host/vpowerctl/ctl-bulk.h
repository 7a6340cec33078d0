/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerctl wiring --all: the channel for every VM of a manager on this node, through its own tool. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "host/vpowerctl/ctl-wiring.h"

typedef struct {
  VpWiringKind kind;      /* Proxmox, Incus, LXD or Ganeti */
  const char *runtime_dir; /* vpowerd's: the channels' sockets are in its channels/ */
  const char *etc_root;   /* "" but for tests: where /etc/pve is read */
  const char *run_root;   /* "" but for tests: where /run/qemu-server is read */
  JsonArray *vms;         /* vpowerd's list (Incus, LXD: the instances running here), or NULL */
  gboolean apply;         /* run the commands, not only print them */
} VpBulkRequest;

/* Prints, on stdout, one command per VM that lacks the channel (its manager's tool, quoted for a
 * shell), and on stderr what each does and which VMs were left out and why; with apply, runs
 * them. Each VM's setting is merged with what it has; one that cannot be merged is refused with
 * the reason. Returns the exit status: 0, or 1 when a VM was refused or a command failed. */
int vp_ctl_bulk (const VpBulkRequest *request);

/* Pure helpers, for the unit tests. */
/* current + ours as the manager takes it, or NULL with *why set when current already has the
 * channel (*already) or uses one of our ids (a refusal). */
char *vp_ctl_bulk_merge (VpWiringKind kind, const char *current, const char *ours, gboolean *already, char **why);
/* A value for Ganeti's -H key=value,...: its commas and backslashes escaped (lib/utils/text.py
 * UnescapeAndSplit). */
char *vp_ctl_bulk_ganeti_escape (const char *value);
