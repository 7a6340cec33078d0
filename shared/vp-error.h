/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the project's GError domain, shared by host and guest. */
#pragma once

#include <glib.h>

#define VP_ERROR (vp_error_quark ())

typedef enum {
  VP_ERROR_FAILED,       /* generic failure; the message says what */
  VP_ERROR_IO,           /* a file could not be read or written */
  VP_ERROR_PARSE,        /* a file or value had unexpected content */
  VP_ERROR_CONFIG,       /* a configuration key or value is invalid */
  VP_ERROR_NOT_FOUND,    /* nothing usable was found (no zones, no VM) */
  VP_ERROR_LIBVIRT,      /* libvirt reported an error */
  VP_ERROR_SHARE_MISSING, /* the guest has no vpower share attached */
} VpError;

GQuark vp_error_quark (void);
