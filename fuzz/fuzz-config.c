/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: vpowerd's config file (host/conf.c over shared/vp-options.c), as vpowerd -c FILE and SIGHUP load it. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/conf.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  vp_fuzz_write ("vpowerd.conf", data, size);
  g_autofree char *path = g_build_filename (vp_fuzz_dir (), "vpowerd.conf", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) config = vp_config_load_file (path, &error);
  return 0;
}
