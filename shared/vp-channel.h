/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the virtio-serial channel's messages: written by vpowerd, parsed by the guest agent.
 *
 * The format is vpower-channel(7). One message carries a VM's whole state
 * at one tick, never a delta: bytes written around a migration's switchover
 * or a save are lost (real-components.md, "virtio-serial channels"), so any
 * message must make sense alone. */
#pragma once

#include <glib.h>

#include "shared/vp-publication.h"

#define VP_CHANNEL_PORT_NAME "org.vpower.0"
#define VP_CHANNEL_VERSION 1
/* Limits a parser holds any input to. A host never comes near them. */
#define VP_CHANNEL_MAX_LINE 256
#define VP_CHANNEL_MAX_MESSAGE 8192
#define VP_CHANNEL_MAX_ZONES 64
#define VP_CHANNEL_MAX_HOST_ID 64

typedef struct {
  guint version;
  char *host_id;          /* stable per host: tells the guest it moved */
  guint64 epoch;          /* changes when the VM's counters on that host begin anew */
  guint64 run;            /* per engine process: seq counts within one run */
  guint64 seq;            /* increases by one per message within a run */
  gint64 time_us;         /* the tick's wall-clock time */
  guint64 interval_us;    /* the tick's length */
  char *uuid;             /* the VM, or NULL when the host left it out */
  guint n_zones;
  VpPubZone *zones;       /* index, name, max_energy_range_uj */
  guint64 *energy_uj;     /* per zone: what the host's energy_uj file shows */
} VpChannelMessage;

void vp_channel_message_free (VpChannelMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpChannelMessage, vp_channel_message_free)

/* The checksum of "end" (vpower-channel(7)): FNV-1a 64 over the bytes taken
 * eight at a time as little-endian words (the last zero-padded), then the
 * length xored in and splitmix64's finaliser. */
guint64 vp_channel_checksum (const char *bytes, gsize length);

/* A host id the format carries: 1 to VP_CHANNEL_MAX_HOST_ID letters, digits, '.', '_', ':' or '-'. */
gboolean vp_channel_host_id_is_valid (const char *id);

/* --- writing (vpowerd): begin, one call per zone, end --- */

/* Appends a message's header to out and returns where the message starts,
 * for vp_channel_encode_end. */
gsize vp_channel_encode_begin (GString *out, const char *host_id, guint64 epoch, guint64 run, guint64 seq,
                               gint64 time_us, guint64 interval_us, const char *uuid);
void vp_channel_encode_zone (GString *out, const char *index, const char *name, guint64 max_energy_range_uj,
                             guint64 energy_uj);
void vp_channel_encode_end (GString *out, gsize start);

/* --- reading (vpower-agent): bytes in, whole checked messages out --- */

typedef struct _VpChannelParser VpChannelParser;

VpChannelParser *vp_channel_parser_new (void);
void vp_channel_parser_free (VpChannelParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpChannelParser, vp_channel_parser_free)

/* Adds bytes as they came off the port. Never fails: any bytes at all are
 * accepted, and refused later one message at a time. */
void vp_channel_parser_feed (VpChannelParser *parser, const char *bytes, gsize length);

/* The next complete message, or NULL. NULL with *error set means that some
 * input was refused (garbage, a cut or oversized message, a bad checksum,
 * a bad field); call again, as more may follow. NULL without an error means
 * that nothing complete is left. */
VpChannelMessage *vp_channel_parser_next (VpChannelParser *parser, GError **error);

/* Forgets a partial message, as after the port was closed and reopened. */
void vp_channel_parser_reset (VpChannelParser *parser);
