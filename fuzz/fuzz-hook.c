/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz: a request on the libvirt hook's socket, as the mount holder parses it (host/hook/hook-server.c). */
#include "config.h"

#include "fuzz/fuzz.h"
#include "host/hook/hook-server.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vp_fuzz_init ();
  VpHookRequest request;
  /* The server reads at most VP_HOOK_REQUEST_MAX bytes; longer inputs test the bound. */
  (void) vp_hook_request_parse ((const char *) data, size, &request);
  vp_hook_request_clear (&request);
  return 0;
}
