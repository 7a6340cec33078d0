/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent-tree: `vpower-agent mount` over the channel, as a program of its own.
 *
 * The tree server runs for the VM's whole life, so it is kept small: it
 * links GLib and libfuse only. vpower-agent itself also links
 * libmicrohttpd for `serve`, which loads GnuTLS and half a dozen more
 * libraries, about 2.5 MiB of resident memory that serving a tree never
 * uses (bench/README.md, agent RSS). vpower-agent execs this program with
 * its own arguments, so both parse the same options and config file. */
#include "config.h"

#include "guest/agent-conf.h"
#include "guest/tree-mount.h"
#include "shared/vp-log.h"

#include <locale.h>
#include <stdlib.h>

#define EXIT_CONFIG 2

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  setlocale (LC_ALL, "");
  vp_log_init ("vpower-agent");
  g_autoptr (VpAgentConfig) config = vp_agent_config_load (&argc, &argv, &error);
  if (!config)
    {
      if (!error)
        return EXIT_SUCCESS;
      g_printerr ("vpower-agent: %s\n", error->message);
      return EXIT_CONFIG;
    }
  if (!g_str_equal (config->command, "mount"))
    {
      g_printerr ("vpower-agent-tree: runs only as `vpower-agent mount` over the channel\n");
      return EXIT_CONFIG;
    }
  vp_log_set_verbose (config->verbose);
  return vp_tree_mount_run (config);
}
