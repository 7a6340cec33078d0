/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: state.c internals that unit tests need; not for other modules. */
#pragma once

#ifndef VP_STATE_TESTING
# error "state-priv.h is for state.c and its tests only"
#endif

#include <glib.h>

/* The checksum on the state file's last line. */
guint64 vp_state_checksum (const char *data, gsize length);
