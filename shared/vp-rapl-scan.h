/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: listing the RAPL zones of a powercap tree, shared by host and guest.
 *
 * The kernel (drivers/powercap/powercap_sys.c) lists each zone under
 * /sys/class/powercap as intel-rapl:<i>[:<j>...], child indices in hex. AMD
 * hosts use the same names, and so does the tree vpowerd serves each VM.
 * Other control types (intel-rapl-mmio, dtpm) are not listed: intel-rapl-mmio
 * measures the same package again, and counting it would count that energy
 * twice. */
#pragma once

#include <glib.h>

#define VP_RAPL_PREFIX "intel-rapl:"

/* The keys ("0", "0:0", "1", "0:a") of the intel-rapl:<key> entries under
 * root, parents before their children. Fails (VP_ERROR_NOT_FOUND) when root
 * cannot be listed; an empty array means a tree with no RAPL zone. */
GPtrArray *vp_rapl_scan_keys (const char *root, GError **error);

/* The parent's key of a child zone ("0:a" -> "0"), or NULL for a top-level zone. */
char *vp_rapl_parent_key (const char *key);
