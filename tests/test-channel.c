/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the channel's message format (shared/vp-channel.c): what vpowerd writes, the agent reads back, and
 * no bytes at all can make the parser crash, accept a damaged message, or lose the next good one. */
#include "config.h"

#include "shared/vp-channel.h"
#include "shared/vp-error.h"

#include <string.h>

#define MAX_UJ G_GUINT64_CONSTANT (262143328850)
#define HOST_A "8d1c8a36-6f3e-4b0e-9b8e-000000000a0a"
#define UUID "0b5d6c1e-1111-4222-8333-444455556666"

/* A message as vpowerd writes it: seq picks the energy too, so each is distinct. */
static char *
make_message (const char *host, guint64 epoch, guint64 seq)
{
  GString *out = g_string_new (NULL);
  gsize start = vp_channel_encode_begin (out, host, epoch, 77, seq, 1764503000000000 + (gint64) seq * 1000000,
                                         1000000, UUID);
  vp_channel_encode_zone (out, "0", "package-0", MAX_UJ, 1000 + seq);
  vp_channel_encode_zone (out, "0:0", "core", MAX_UJ, 500 + seq);
  vp_channel_encode_zone (out, "1", "psys", 65712999613, 65712999613);
  vp_channel_encode_end (out, start);
  return g_string_free (out, FALSE);
}

/* Feeds text and returns every message out, counting the refusals. */
static GPtrArray *
parse_all (VpChannelParser *parser, const char *bytes, gsize length, guint *refusals)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) vp_channel_message_free);
  vp_channel_parser_feed (parser, bytes, length);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      VpChannelMessage *message = vp_channel_parser_next (parser, &error);
      if (message)
        g_ptr_array_add (messages, message);
      else if (error)
        {
          g_assert_true (g_error_matches (error, VP_ERROR, VP_ERROR_PARSE));
          g_assert_true (g_str_has_prefix (error->message, "channel: "));
          (*refusals)++;
        }
      else
        break;
    }
  return messages;
}

static void
assert_is_message (const VpChannelMessage *message, guint64 seq)
{
  g_assert_cmpuint (message->version, ==, 1);
  g_assert_cmpstr (message->host_id, ==, HOST_A);
  g_assert_cmpuint (message->epoch, ==, 5);
  g_assert_cmpuint (message->run, ==, 77);
  g_assert_cmpuint (message->seq, ==, seq);
  g_assert_cmpint (message->time_us, ==, 1764503000000000 + (gint64) seq * 1000000);
  g_assert_cmpuint (message->interval_us, ==, 1000000);
  g_assert_cmpstr (message->uuid, ==, UUID);
  g_assert_cmpuint (message->n_zones, ==, 3);
  g_assert_cmpstr (message->zones[1].index, ==, "0:0");
  g_assert_cmpstr (message->zones[1].name, ==, "core");
  g_assert_cmpuint (message->zones[0].max_energy_range_uj, ==, MAX_UJ);
  g_assert_cmpuint (message->energy_uj[0], ==, 1000 + seq);
  g_assert_cmpuint (message->energy_uj[1], ==, 500 + seq);
  g_assert_cmpuint (message->energy_uj[2], ==, 65712999613);
}

static void
test_round_trip (void)
{
  g_autofree char *text = make_message (HOST_A, 5, 3);
  g_autoptr (VpChannelParser) parser = vp_channel_parser_new ();
  guint refusals = 0;
  g_autoptr (GPtrArray) messages = parse_all (parser, text, strlen (text), &refusals);
  g_assert_cmpuint (refusals, ==, 0);
  g_assert_cmpuint (messages->len, ==, 1);
  assert_is_message (messages->pdata[0], 3);
}

/* The port hands over bytes in any pieces. */
static void
test_byte_by_byte (void)
{
  g_autofree char *one = make_message (HOST_A, 5, 1);
  g_autofree char *two = make_message (HOST_A, 5, 2);
  g_autofree char *text = g_strconcat (one, two, NULL);
  g_autoptr (VpChannelParser) parser = vp_channel_parser_new ();
  guint refusals = 0, seen = 0;
  for (gsize i = 0; text[i]; i++)
    {
      g_autoptr (GPtrArray) messages = parse_all (parser, text + i, 1, &refusals);
      for (guint m = 0; m < messages->len; m++)
        assert_is_message (messages->pdata[m], ++seen);
    }
  g_assert_cmpuint (seen, ==, 2);
  g_assert_cmpuint (refusals, ==, 0);
}

/* Bytes lost around a switchover: the tail of one message and the head of
 * the next go missing. Whatever was damaged is refused; the next whole
 * message is read. Cut at every offset. */
static void
test_lost_bytes (void)
{
  g_autofree char *one = make_message (HOST_A, 5, 1);
  g_autofree char *two = make_message (HOST_A, 5, 2);
  g_autofree char *three = make_message (HOST_A, 5, 3);
  gsize length = strlen (one);
  for (gsize cut_at = 1; cut_at < length; cut_at++)
    for (gsize resume_at = 1; resume_at < strlen (two); resume_at += 7)
      {
        GString *stream = g_string_new_len (one, (gssize) cut_at);
        g_string_append (stream, two + resume_at);
        g_string_append (stream, three);
        g_autoptr (VpChannelParser) parser = vp_channel_parser_new ();
        guint refusals = 0;
        g_autoptr (GPtrArray) messages = parse_all (parser, stream->str, stream->len, &refusals);
        g_string_free (stream, TRUE);
        /* Never a damaged message: what comes out is message two whole, or three. */
        g_assert_cmpuint (messages->len, >=, 1);
        assert_is_message (messages->pdata[messages->len - 1], 3);
        for (guint m = 0; m + 1 < messages->len; m++)
          assert_is_message (messages->pdata[m], 2);
      }
}

typedef struct {
  const char *label;
  const char *body;           /* fields between the header and "end" */
} BadCase;

/* Each is a well-framed message with a correct checksum: only the field
 * checks can refuse it. */
static const BadCase bad_cases[] = {
  { "no zone", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\n" },
  { "no host", "epoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package-0\n" },
  { "twice", "host h\nhost h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package-0\n" },
  { "energy above max", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 11 package-0\n" },
  { "max 0", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 0 0 package-0\n" },
  { "no parent", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0:0 10 5 core\n" },
  { "same zone twice", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 a\nzone 0 10 5 b\n" },
  { "bad index", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0:G 10 5 package-0\n" },
  { "slash in name", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 a/b\n" },
  { "dot name", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 ..\n" },
  { "extra zone field", "host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package 0\n" },
  { "negative", "host h\nepoch -1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package-0\n" },
  { "overflow", "host h\nepoch 18446744073709551616\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package-0\n" },
  { "bad host", "host h/../x\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package-0\n" },
  { "bad uuid", "host h\nuuid nope\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package-0\n" },
  { "no value", "host h\nepoch\nrun 1\nseq 1\ntime 1\ninterval 1\nzone 0 10 5 package-0\n" },
};

static char *
frame (const char *body)
{
  g_autofree char *header_and_body = g_strconcat ("vpower-channel 1\n", body, NULL);
  guint64 hash = vp_channel_checksum (header_and_body, strlen (header_and_body));
  return g_strdup_printf ("\n%send %016" G_GINT64_MODIFIER "x\n", header_and_body, hash);
}

static void
test_bad_fields (void)
{
  g_autofree char *good = make_message (HOST_A, 5, 9);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_test_message ("%s", bad_cases[i].label);
      g_autofree char *bad = frame (bad_cases[i].body);
      g_autofree char *text = g_strconcat (bad, good, NULL);
      g_autoptr (VpChannelParser) parser = vp_channel_parser_new ();
      guint refusals = 0;
      g_autoptr (GPtrArray) messages = parse_all (parser, text, strlen (text), &refusals);
      g_assert_cmpuint (refusals, ==, 1);
      g_assert_cmpuint (messages->len, ==, 1);
      assert_is_message (messages->pdata[0], 9);
    }
  /* The framing helper agrees with the encoder: a good body passes. */
  g_autofree char *fine = frame ("host h\nepoch 1\nrun 1\nseq 1\ntime 1\ninterval 1\nfuture 1 2 3\nzone 0 10 5 package-0\n");
  g_autoptr (VpChannelParser) parser = vp_channel_parser_new ();
  guint refusals = 0;
  g_autoptr (GPtrArray) messages = parse_all (parser, fine, strlen (fine), &refusals);
  g_assert_cmpuint (refusals, ==, 0);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_null (((VpChannelMessage *) messages->pdata[0])->uuid);
}

/* Framing faults, each refused once, with the next message read. */
static void
test_bad_framing (void)
{
  g_autofree char *good = make_message (HOST_A, 5, 4);
  g_autofree char *flipped = make_message (HOST_A, 5, 1);
  *strstr (flipped, "1001") = '2';   /* one digit changed: the checksum fails */
  g_autofree char *too_many_zones = NULL;
  {
    GString *out = g_string_new (NULL);
    gsize start = vp_channel_encode_begin (out, HOST_A, 5, 77, 1, 1, 1, NULL);
    for (guint z = 0; z <= VP_CHANNEL_MAX_ZONES; z++)
      {
        g_autofree char *index = g_strdup_printf ("%x", z);
        vp_channel_encode_zone (out, index, "package", MAX_UJ, 1);
      }
    vp_channel_encode_end (out, start);
    too_many_zones = g_string_free (out, FALSE);
  }
  g_autofree char *long_line = g_strnfill (VP_CHANNEL_MAX_LINE * 3, 'x');
  g_autofree char *long_message = NULL;
  {
    GString *out = g_string_new ("\nvpower-channel 1\n");
    while (out->len <= VP_CHANNEL_MAX_MESSAGE)
      g_string_append (out, "future xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    long_message = g_string_free (out, FALSE);
  }
  static const char with_nul[] = "\nvpower-channel 1\nhost h\0x\n";
  struct {
    const char *label;
    const char *bytes;
  } cases[] = {
    { "garbage", "hello\nworld\n\x01\x02\xff\n" },
    { "checksum", flipped },
    { "version 2", "\nvpower-channel 2\nhost h\n" },
    { "cut short", "\nvpower-channel 1\nhost h\nepoch 1\n" },
    { "too many zones", too_many_zones },
    { "long line", long_line },
    { "long message", long_message },
    { "NUL", with_nul },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].label);
      gsize length = cases[i].bytes == with_nul ? sizeof with_nul - 1 : strlen (cases[i].bytes);
      g_autoptr (VpChannelParser) parser = vp_channel_parser_new ();
      guint refusals = 0;
      g_autoptr (GPtrArray) first = parse_all (parser, cases[i].bytes, length, &refusals);
      g_autoptr (GPtrArray) messages = parse_all (parser, good, strlen (good), &refusals);
      g_assert_cmpuint (first->len, ==, 0);
      g_assert_cmpuint (refusals, ==, 1);
      g_assert_cmpuint (messages->len, ==, 1);
      assert_is_message (messages->pdata[0], 4);
    }
}

/* Random bytes, then random splices of real messages: no crash, never a
 * message that the host did not write, and a good message after them is
 * always read. */
static void
test_random_input (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261130);
  g_autofree char *good = make_message (HOST_A, 5, 6);
  gsize good_length = strlen (good);
  for (guint round = 0; round < 3000; round++)
    {
      g_autoptr (VpChannelParser) parser = vp_channel_parser_new ();
      guint refusals = 0;
      GString *noise = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 0, 2000);
      for (guint i = 0; i < n; i++)
        {
          if (g_rand_int_range (rand, 0, 4) == 0)
            {
              /* A piece of a real message. */
              gsize from = g_rand_int_range (rand, 0, (gint32) good_length);
              gsize count = g_rand_int_range (rand, 0, (gint32) (good_length - from));
              g_string_append_len (noise, good + from, (gssize) count);
            }
          else
            g_string_append_c (noise, (char) g_rand_int_range (rand, 0, 256));
        }
      g_autoptr (GPtrArray) junk = parse_all (parser, noise->str, noise->len, &refusals);
      for (guint m = 0; m < junk->len; m++)
        assert_is_message (junk->pdata[m], 6);   /* only ever the real one, whole */
      g_string_free (noise, TRUE);
      g_autoptr (GPtrArray) messages = parse_all (parser, good, good_length, &refusals);
      g_assert_cmpuint (messages->len, ==, 1);
      assert_is_message (messages->pdata[0], 6);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/channel/round-trip", test_round_trip);
  g_test_add_func ("/channel/byte-by-byte", test_byte_by_byte);
  g_test_add_func ("/channel/lost-bytes", test_lost_bytes);
  g_test_add_func ("/channel/bad-fields", test_bad_fields);
  g_test_add_func ("/channel/bad-framing", test_bad_framing);
  g_test_add_func ("/channel/random-input", test_random_input);
  return g_test_run ();
}
