/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the shared-memory channel through which the engine publishes to the mount holder. */
#pragma once

#include <glib.h>

typedef struct _VpShm VpShm;

/* The holder creates the channel (a memfd) and hands its fd to each engine
 * it starts; the memory, and so the last publication, outlives any engine. */
VpShm *vp_shm_create (GError **error);
/* The engine attaches to the fd it inherited. */
VpShm *vp_shm_attach (int fd, GError **error);
void vp_shm_free (VpShm *shm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpShm, vp_shm_free)
int vp_shm_fd (VpShm *shm);

/* The key that seeds new VMs' counter origins (shared/vp-counter.h): one per
 * holder, so that the holder shows an announced VM the value its engines
 * will start it at, whichever engine that is. 0 when the holder predates it. */
guint64 vp_shm_origin_key (VpShm *shm);

/* Engine: replaces the publication. One writer at a time (one engine). */
gboolean vp_shm_write (VpShm *shm, GBytes *data, GError **error);

/* Holder: the publication's sequence number; it changes with every write,
 * and is odd while one is in progress (or was cut short by a crash). */
guint64 vp_shm_sequence (VpShm *shm);

/* Holder: a consistent copy of the publication and its sequence number, or
 * NULL when there is none yet or a write is in progress. */
GBytes *vp_shm_read (VpShm *shm, guint64 *sequence);
