/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the project's GError domain. */
#include "config.h"

#include "vp-error.h"

G_DEFINE_QUARK (vp-error-quark, vp_error)
