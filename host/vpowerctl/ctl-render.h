/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerctl: the human-readable views of vpowerd's answers (tables and summaries). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* Each takes the "result" object of the matching command and returns text
 * ending in a newline. Members that are missing render as "?" rather than
 * failing: the daemon may be older or newer than vpowerctl. */
char *vp_ctl_render_status (JsonObject *result);
char *vp_ctl_render_list (JsonObject *result);
char *vp_ctl_render_show (JsonObject *result);
char *vp_ctl_render_xml (JsonObject *result);

/* The energy a list row's JOULES column shows: the VM's package zones
 * (all sockets), or psys, or every top-level zone when it has neither. */
double vp_ctl_vm_joules (JsonObject *vm);
