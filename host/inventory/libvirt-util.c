/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: libvirt helpers. */
#include "config.h"

#include "host/inventory/libvirt-util.h"
#include "shared/vp-error.h"

void
vp_libvirt_set_error (GError **error, const char *what)
{
  virErrorPtr last = virGetLastError ();
  g_set_error (error, VP_ERROR, VP_ERROR_LIBVIRT, "%s: %s", what,
               last && last->message ? last->message : "unknown libvirt error");
}

static void
ignore_libvirt_error (void *user_data, virErrorPtr error)
{
}

void
vp_libvirt_silence (void)
{
  virSetErrorFunc (NULL, ignore_libvirt_error);
}
