/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent serve: the Prometheus exporter. */
#pragma once

#include "guest/agent-conf.h"

/* Runs until SIGTERM or SIGINT; SIGHUP reloads the config (argv is parsed
 * again). Takes config (a reload replaces it). Returns the exit status. */
int vp_serve_run (VpAgentConfig *config, int argc, char **argv);
