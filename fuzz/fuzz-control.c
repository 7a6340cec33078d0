/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: a request on the control socket, as vpowerd answers it (host/control/control.c).
 *
 * A real engine answers: two VMs from a static inventory and the model
 * sensor, over this machine's /proc and /sys, one tick old. Every command
 * runs (status, list, show, xml, attach); with a static inventory, xml and
 * attach stop before they would call libvirt. */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/conf.h"
#include "host/control/control.h"
#include "host/engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static VpControl *control;

static void
start_engine (void)
{
  static const char inventory[] =
    "[web1]\nuuid=0b5d6c1e-7a7a-4b4b-8c8c-0123456789ab\npid=1\nchannel=/run/none\n"
    "[db 2]\nuuid=0b5d6c1e-7a7a-4b4b-8c8c-0123456789ac\n";
  vp_fuzz_write ("vms.ini", inventory, sizeof inventory - 1);
  g_autofree char *conf = g_strdup_printf ("[vpowerd]\ninventory=static:%s/vms.ini\nsensor=model\nno-mount=true\n",
                                           vp_fuzz_dir ());
  vp_fuzz_write ("vpowerd.conf", conf, strlen (conf));
  g_autofree char *path = g_build_filename (vp_fuzz_dir (), "vpowerd.conf", NULL);
  g_autoptr (GError) error = NULL;
  VpConfig *config = vp_config_load_file (path, &error);
  VpEngine *engine = config ? vp_engine_new (config, FALSE, 0, &error) : NULL;
  if (!engine)
    {
      fprintf (stderr, "fuzz-control: %s\n", error->message);
      abort ();
    }
  vp_engine_tick (engine);
  vp_engine_tick (engine);
  control = vp_control_new (engine, config);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  if (!control)
    start_engine ();
  g_autofree char *answer = vp_control_answer (control, (const char *) data, size);
  if (!answer || !g_str_has_suffix (answer, "\n"))
    abort ();
  return 0;
}
