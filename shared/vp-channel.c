/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the virtio-serial channel's messages: written by vpowerd, parsed by the guest agent.
 *
 * A message is text, one field per line (vpower-channel(7)):
 *
 *   (an empty line)
 *   vpower-channel 1
 *   host 8d1c8a36-6f3e-4b0e-9b8e-000000000b0b
 *   epoch 1234567890123
 *   run 987654321
 *   seq 42
 *   time 1764503000000000
 *   interval 1000000
 *   uuid 0b5d6c1e-...
 *   zone 0 262143328850 123456789 package-0
 *   zone 0:0 262143328850 98765432 core
 *   end 89ab0123cdef4567
 *
 * The empty line ends whatever a lost write left half-written, so the next
 * header is always found. "end" carries a 64-bit checksum of every byte from
 * the header through the last field's newline (vp_channel_checksum): a
 * message spliced from two (bytes lost in the middle of one, at a
 * switchover) fails it, where each line alone could still parse. It takes
 * eight bytes per step, as a byte-wise FNV-1a cost half of a message's
 * encoding (bench/README.md). Unknown fields are skipped, so a later
 * version 1 may add some; a change that old agents would misread takes
 * version 2, which they refuse. */
#include "config.h"

#include "shared/vp-channel.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <string.h>

#define HEADER "vpower-channel "
#define FNV_OFFSET G_GUINT64_CONSTANT (14695981039346656037)
#define FNV_PRIME G_GUINT64_CONSTANT (1099511628211)

guint64
vp_channel_checksum (const char *bytes, gsize length)
{
  guint64 hash = FNV_OFFSET;
  gsize i = 0;
  for (; i + 8 <= length; i += 8)
    {
      guint64 word;
      memcpy (&word, bytes + i, 8);
      hash = (hash ^ GUINT64_FROM_LE (word)) * FNV_PRIME;
    }
  if (i < length)
    {
      guint64 word = 0;
      for (gsize k = 0; i + k < length; k++)
        word |= (guint64) (guchar) bytes[i + k] << (8 * k);
      hash = (hash ^ word) * FNV_PRIME;
    }
  /* The length, and a finaliser (splitmix64's), so every input bit reaches every output bit. */
  hash ^= length;
  hash = (hash ^ (hash >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  hash = (hash ^ (hash >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return hash ^ (hash >> 31);
}

void
vp_channel_message_free (VpChannelMessage *message)
{
  if (!message)
    return;
  g_free (message->host_id);
  g_free (message->uuid);
  for (guint z = 0; z < message->n_zones; z++)
    {
      g_free (message->zones[z].index);
      g_free (message->zones[z].name);
    }
  g_free (message->zones);
  g_free (message->energy_uj);
  g_free (message);
}

/* --- writing ---
 * By hand rather than with printf: vpowerd writes one message per VM per
 * tick, and formatting was most of a message's cost (bench/README.md). */

static void
append_u64 (GString *out, guint64 value)
{
  char digits[20];
  int n = 0;
  do
    digits[n++] = (char) ('0' + value % 10);
  while ((value /= 10) != 0);
  while (n > 0)
    g_string_append_c (out, digits[--n]);
}

static void
append_field (GString *out, const char *key, guint64 value)
{
  g_string_append (out, key);
  append_u64 (out, value);
  g_string_append_c (out, '\n');
}

gsize
vp_channel_encode_begin (GString *out, const char *host_id, guint64 epoch, guint64 run, guint64 seq, gint64 time_us,
                         guint64 interval_us, const char *uuid)
{
  g_string_append_c (out, '\n');
  gsize start = out->len;
  append_field (out, HEADER, VP_CHANNEL_VERSION);
  g_string_append (out, "host ");
  g_string_append (out, host_id);
  g_string_append_c (out, '\n');
  append_field (out, "epoch ", epoch);
  append_field (out, "run ", run);
  append_field (out, "seq ", seq);
  append_field (out, "time ", (guint64) MAX (time_us, 0));
  append_field (out, "interval ", interval_us);
  if (uuid)
    {
      g_string_append (out, "uuid ");
      g_string_append (out, uuid);
      g_string_append_c (out, '\n');
    }
  return start;
}

void
vp_channel_encode_zone (GString *out, const char *index, const char *name, guint64 max_energy_range_uj,
                        guint64 energy_uj)
{
  g_string_append (out, "zone ");
  g_string_append (out, index);
  g_string_append_c (out, ' ');
  append_u64 (out, max_energy_range_uj);
  g_string_append_c (out, ' ');
  append_u64 (out, energy_uj);
  g_string_append_c (out, ' ');
  g_string_append (out, name);
  g_string_append_c (out, '\n');
}

void
vp_channel_encode_end (GString *out, gsize start)
{
  static const char hex[] = "0123456789abcdef";
  guint64 hash = vp_channel_checksum (out->str + start, out->len - start);
  char text[] = "end 0000000000000000\n";
  for (int i = 0; i < 16; i++)
    text[4 + i] = hex[(hash >> (60 - 4 * i)) & 0xf];
  g_string_append_len (out, text, sizeof text - 1);
}

/* --- reading --- */

enum {
  SEEN_HOST = 1 << 0,
  SEEN_EPOCH = 1 << 1,
  SEEN_RUN = 1 << 2,
  SEEN_SEQ = 1 << 3,
  SEEN_TIME = 1 << 4,
  SEEN_INTERVAL = 1 << 5,
  SEEN_UUID = 1 << 6,
  SEEN_REQUIRED = SEEN_HOST | SEEN_EPOCH | SEEN_RUN | SEEN_SEQ | SEEN_TIME | SEEN_INTERVAL,
};

struct _VpChannelParser {
  GString *input;             /* bytes not yet consumed, from input_start */
  gsize input_start;
  gboolean skipping_line;     /* dropping the rest of an overlong line */
  gboolean garbage_reported;  /* once per stretch between messages */

  gboolean in_message;
  gsize message_bytes;
  GString *text;              /* the message so far, for its checksum */
  guint seen;
  VpChannelMessage *message;  /* being parsed */
  GArray *zones;              /* VpPubZone */
  GArray *energy;             /* guint64 */
};

static void
clear_zones (GArray *zones)
{
  for (guint z = 0; z < zones->len; z++)
    {
      g_free (g_array_index (zones, VpPubZone, z).index);
      g_free (g_array_index (zones, VpPubZone, z).name);
    }
  g_array_set_size (zones, 0);
}

static void
abandon_message (VpChannelParser *parser)
{
  parser->in_message = FALSE;
  g_clear_pointer (&parser->message, vp_channel_message_free);
  clear_zones (parser->zones);
  g_array_set_size (parser->energy, 0);
  /* What follows, up to the next header, is the rest of the refused message. */
  parser->garbage_reported = TRUE;
}

VpChannelParser *
vp_channel_parser_new (void)
{
  VpChannelParser *parser = g_new0 (VpChannelParser, 1);
  parser->input = g_string_sized_new (VP_CHANNEL_MAX_MESSAGE);
  parser->text = g_string_sized_new (1024);
  parser->zones = g_array_new (FALSE, FALSE, sizeof (VpPubZone));
  parser->energy = g_array_new (FALSE, FALSE, sizeof (guint64));
  return parser;
}

void
vp_channel_parser_free (VpChannelParser *parser)
{
  if (!parser)
    return;
  abandon_message (parser);
  g_array_unref (parser->zones);
  g_array_unref (parser->energy);
  g_string_free (parser->input, TRUE);
  g_string_free (parser->text, TRUE);
  g_free (parser);
}

void
vp_channel_parser_reset (VpChannelParser *parser)
{
  abandon_message (parser);
  g_string_truncate (parser->input, 0);
  parser->input_start = 0;
  parser->skipping_line = FALSE;
  parser->garbage_reported = FALSE;
}

void
vp_channel_parser_feed (VpChannelParser *parser, const char *bytes, gsize length)
{
  /* Compact before growing: the buffer never holds more than a line. */
  if (parser->input_start > 0)
    {
      g_string_erase (parser->input, 0, (gssize) parser->input_start);
      parser->input_start = 0;
    }
  g_string_append_len (parser->input, bytes, (gssize) length);
}

gboolean
vp_channel_host_id_is_valid (const char *id)
{
  gsize length = strlen (id);
  if (length == 0 || length > VP_CHANNEL_MAX_HOST_ID)
    return FALSE;
  for (const char *c = id; *c; c++)
    if (!g_ascii_isalnum (*c) && !strchr ("._:-", *c))
      return FALSE;
  return TRUE;
}

static gboolean
parse_zone (VpChannelParser *parser, const char *value, GError **error)
{
  g_auto (GStrv) fields = g_strsplit (value, " ", -1);
  guint64 max = 0, energy = 0;
  if (g_strv_length (fields) != 4 || !vp_publication_zone_index_is_valid (fields[0]) ||
      !vp_parse_u64 (fields[1], &max) || !vp_parse_u64 (fields[2], &energy) || max == 0 || energy > max ||
      !vp_publication_name_is_valid (fields[3]))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: bad zone line \"zone %.80s\"", value);
      return FALSE;
    }
  if (parser->zones->len >= VP_CHANNEL_MAX_ZONES)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: more than %d zones", VP_CHANNEL_MAX_ZONES);
      return FALSE;
    }
  VpPubZone zone = { .index = g_strdup (fields[0]), .name = g_strdup (fields[3]), .max_energy_range_uj = max };
  g_array_append_val (parser->zones, zone);
  g_array_append_val (parser->energy, energy);
  return TRUE;
}

/* One "key value" line of a message. Unknown keys are skipped. */
static gboolean
parse_field (VpChannelParser *parser, const char *line, GError **error)
{
  const char *space = strchr (line, ' ');
  if (!space || space == line || space[1] == '\0')
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: bad line \"%.80s\"", line);
      return FALSE;
    }
  g_autofree char *key = g_strndup (line, space - line);
  const char *value = space + 1;
  VpChannelMessage *message = parser->message;
  static const struct {
    const char *key;
    guint bit;
  } scalars[] = {
    { "host", SEEN_HOST }, { "epoch", SEEN_EPOCH }, { "run", SEEN_RUN }, { "seq", SEEN_SEQ },
    { "time", SEEN_TIME }, { "interval", SEEN_INTERVAL }, { "uuid", SEEN_UUID },
  };

  if (g_str_equal (key, "zone"))
    return parse_zone (parser, value, error);
  guint bit = 0;
  for (guint i = 0; i < G_N_ELEMENTS (scalars); i++)
    if (g_str_equal (key, scalars[i].key))
      bit = scalars[i].bit;
  if (bit == 0)
    return TRUE;
  if (parser->seen & bit)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: \"%s\" given twice", key);
      return FALSE;
    }
  parser->seen |= bit;

  guint64 number = 0;
  gboolean ok;
  switch (bit)
    {
    case SEEN_HOST:
      ok = vp_channel_host_id_is_valid (value);
      if (ok)
        message->host_id = g_strdup (value);
      break;
    case SEEN_UUID:
      ok = g_uuid_string_is_valid (value);
      if (ok)
        message->uuid = g_ascii_strdown (value, -1);
      break;
    default:
      ok = vp_parse_u64 (value, &number) && !strchr (value, '\n');
      if (bit == SEEN_EPOCH)
        message->epoch = number;
      else if (bit == SEEN_RUN)
        message->run = number;
      else if (bit == SEEN_SEQ)
        message->seq = number;
      else if (bit == SEEN_TIME)
        {
          ok = ok && number <= G_MAXINT64;
          message->time_us = (gint64) number;
        }
      else
        message->interval_us = number;
      break;
    }
  if (!ok)
    g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: bad %s \"%.80s\"", key, value);
  return ok;
}

static VpChannelMessage *
finish_message (VpChannelParser *parser, const char *checksum, GError **error)
{
  g_autofree char *hex = g_strdup_printf ("%016" G_GINT64_MODIFIER "x",
                                          vp_channel_checksum (parser->text->str, parser->text->len));
  if (!g_str_equal (checksum, hex))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: a message failed its checksum (lost or mixed bytes)");
      return NULL;
    }
  if ((parser->seen & SEEN_REQUIRED) != SEEN_REQUIRED || parser->zones->len == 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: a message lacks a required field or has no zone");
      return NULL;
    }
  VpChannelMessage *message = g_steal_pointer (&parser->message);
  message->n_zones = parser->zones->len;
  message->zones = (VpPubZone *) g_array_free (g_steal_pointer (&parser->zones), FALSE);
  message->energy_uj = (guint64 *) g_array_free (g_steal_pointer (&parser->energy), FALSE);
  parser->zones = g_array_new (FALSE, FALSE, sizeof (VpPubZone));
  parser->energy = g_array_new (FALSE, FALSE, sizeof (guint64));
  VpPublication check = { .n_zones = message->n_zones, .zones = message->zones };
  if (!vp_publication_check_zones (&check, "channel", error))
    {
      vp_channel_message_free (message);
      return NULL;
    }
  return message;
}

/* Handles one line (without its newline). Returns a message, or NULL with
 * or without an error. */
static VpChannelMessage *
take_line (VpChannelParser *parser, char *line, gsize length, GError **error)
{
  if (length == 0)
    return NULL;
  if (g_str_has_prefix (line, HEADER))
    {
      gboolean was_in_message = parser->in_message;
      abandon_message (parser);
      parser->garbage_reported = FALSE;
      guint64 version = 0;
      if (!vp_parse_u64 (line + strlen (HEADER), &version) || version != VP_CHANNEL_VERSION)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: unsupported message version \"%.20s\"",
                       line + strlen (HEADER));
          parser->garbage_reported = TRUE;
          return NULL;
        }
      parser->in_message = TRUE;
      parser->message = g_new0 (VpChannelMessage, 1);
      parser->message->version = (guint) version;
      parser->seen = 0;
      parser->message_bytes = length + 1;
      g_string_truncate (parser->text, 0);
      g_string_append_len (parser->text, line, (gssize) length);
      g_string_append_c (parser->text, '\n');
      if (was_in_message)
        g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: a message was cut short");
      return NULL;
    }
  if (!parser->in_message)
    {
      if (!parser->garbage_reported)
        g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: garbage between messages (\"%.40s\")", line);
      parser->garbage_reported = TRUE;
      return NULL;
    }
  parser->message_bytes += length + 1;
  if (parser->message_bytes > VP_CHANNEL_MAX_MESSAGE)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: a message is longer than %d bytes",
                   VP_CHANNEL_MAX_MESSAGE);
      abandon_message (parser);
      return NULL;
    }
  if (g_str_has_prefix (line, "end "))
    {
      VpChannelMessage *message = finish_message (parser, line + 4, error);
      abandon_message (parser);
      parser->garbage_reported = FALSE;
      return message;
    }
  g_string_append_len (parser->text, line, (gssize) length);
  g_string_append_c (parser->text, '\n');
  if (memchr (line, '\0', length) || !parse_field (parser, line, error))
    {
      if (error && !*error)
        g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: a NUL byte in a message");
      abandon_message (parser);
    }
  return NULL;
}

VpChannelMessage *
vp_channel_parser_next (VpChannelParser *parser, GError **error)
{
  for (;;)
    {
      char *begin = parser->input->str + parser->input_start;
      gsize available = parser->input->len - parser->input_start;
      char *newline = memchr (begin, '\n', available);
      if (!newline)
        {
          if (available > VP_CHANNEL_MAX_LINE)
            {
              gboolean was_skipping = parser->skipping_line;
              g_string_truncate (parser->input, 0);
              parser->input_start = 0;
              parser->skipping_line = TRUE;
              if (!was_skipping)
                {
                  g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: a line longer than %d bytes",
                               VP_CHANNEL_MAX_LINE);
                  abandon_message (parser);
                }
            }
          return NULL;
        }
      gsize length = (gsize) (newline - begin);
      *newline = '\0';
      parser->input_start += length + 1;
      if (parser->skipping_line || length > VP_CHANNEL_MAX_LINE)
        {
          parser->skipping_line = FALSE;
          if (length > VP_CHANNEL_MAX_LINE)
            {
              g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "channel: a line longer than %d bytes",
                           VP_CHANNEL_MAX_LINE);
              abandon_message (parser);
              return NULL;
            }
          continue;
        }
      g_autoptr (GError) line_error = NULL;
      VpChannelMessage *message = take_line (parser, begin, length, &line_error);
      if (message)
        return message;
      if (line_error)
        {
          g_propagate_error (error, g_steal_pointer (&line_error));
          return NULL;
        }
    }
}
