/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: energy counter arithmetic (wrap, publish), shared by host and guest.
 *
 * Hardware RAPL counters wrap at max_energy_range_uj. The readers our guests
 * run (prometheus/procfs for node_exporter and Kepler) compute the delta over
 * a wrap as (max - prev) + cur, i.e. they treat max_energy_range_uj as the
 * modulus. We use that same convention both when reading the host and when
 * publishing virtual counters, so a guest reader gets the exact delta. */
#pragma once

#include <glib.h>

/* Energy between two readings of a counter that wraps at max_uj, assuming at
 * most one wrap happened in between. A reading above max_uj (impossible for a
 * wrapping counter) or max_uj == 0 (unknown range) with cur < prev is treated
 * as a reset: the delta is cur, counted from zero. */
static inline guint64
vp_counter_delta (guint64 prev_uj, guint64 cur_uj, guint64 max_uj)
{
  if (cur_uj >= prev_uj)
    return cur_uj - prev_uj;
  if (max_uj == 0 || prev_uj > max_uj)
    return cur_uj;
  return (max_uj - prev_uj) + cur_uj;
}

/* A reading of a wrapping counter brought into its range: modulo max_uj,
 * as a hardware counter would show it (see above for the modulus). */
static inline guint64
vp_counter_publish (guint64 total_uj, guint64 max_uj)
{
  return max_uj ? total_uj % max_uj : total_uj;
}

/* The value a VM's energy_uj file shows (issue #11): its monotonic total,
 * shifted by the VM's origin for that zone, modulo max_uj. A hardware
 * counter starts anywhere and is never 0 in practice; readers refuse a
 * zone that reads 0 (Joular Core), or stop reading for good (btop). So 0 is
 * shown as max_uj: the same point modulo the range, so a reader's wrap
 * arithmetic ((max - prev) + cur) still gives the exact delta. With no
 * range (max_uj 0, never from a real zone) nothing wraps. */
static inline guint64
vp_counter_show (guint64 total_uj, guint64 origin_uj, guint64 max_uj)
{
  if (max_uj == 0)
    return total_uj + origin_uj ? total_uj + origin_uj : 1;
  guint64 a = total_uj % max_uj, b = origin_uj % max_uj;
  guint64 shown = a >= max_uj - b ? a - (max_uj - b) : a + b;   /* (a + b) % max without overflow */
  return shown ? shown : max_uj;
}

/* Origins. Each VM has one random seed, kept in the engine's state file;
 * each of its zones starts at an origin derived from the seed and the
 * zone's index, anywhere in [1, max_uj - 1] like a hardware counter. A new
 * VM's seed comes from a per-host key and its UUID, so that the mount
 * holder can show a VM a libvirt hook announced with the very value the
 * engine will start it at. Seed 0 means no origin (counters saved before
 * origins existed keep counting from where they were). */

/* splitmix64's finaliser: every input bit moves every output bit. */
static inline guint64
vp_counter_mix (guint64 x)
{
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

/* FNV-1a of a string, case-insensitive (UUIDs come in either case). */
static inline guint64
vp_counter_hash (const char *text)
{
  guint64 hash = G_GUINT64_CONSTANT (14695981039346656037);
  for (const char *c = text; *c; c++)
    hash = (hash ^ (guchar) g_ascii_tolower (*c)) * G_GUINT64_CONSTANT (1099511628211);
  return hash;
}

/* A VM's seed under a host's key: never 0. */
static inline guint64
vp_counter_origin_seed (guint64 key, const char *uuid)
{
  guint64 seed = vp_counter_mix (key ^ vp_counter_hash (uuid));
  return seed ? seed : 1;
}

/* A new host key: random, never 0. Not a secret: an origin only shifts
 * what a file shows, and a guest sees only its own. */
static inline guint64
vp_counter_origin_key_new (void)
{
  guint64 key = ((guint64) g_random_int () << 32) | g_random_int ();
  return key ? key : 1;
}

/* The origin of one zone (zone_salt = vp_counter_hash of its index). */
static inline guint64
vp_counter_origin (guint64 seed, guint64 zone_salt, guint64 max_uj)
{
  if (seed == 0)
    return 0;
  guint64 h = vp_counter_mix (seed ^ zone_salt);
  return max_uj > 1 ? 1 + h % (max_uj - 1) : 1 + (h >> 24);
}

/* What a VM's energy_uj shows for a zone, from the VM's seed. The engine
 * calls it for every VM, and the mount holder for an announced VM the
 * engine does not count yet (total 0), so that both show the same value. */
static inline guint64
vp_counter_show_vm (guint64 total_uj, guint64 seed, guint64 zone_salt, guint64 max_uj)
{
  return vp_counter_show (total_uj, vp_counter_origin (seed, zone_salt, max_uj), max_uj);
}

typedef enum {
  VP_COUNTER_ADVANCED,   /* cur >= prev */
  VP_COUNTER_WRAPPED,    /* went past max_energy_range_uj once */
  VP_COUNTER_RESET,      /* went backwards: the counter restarted from zero */
} VpCounterStep;

/* Energy between two readings of a counter a reader does not control, such
 * as a guest reading its share. A decrease is a wrap only when the wrapped
 * delta is under half the range: a wrap follows a value near the top with
 * one near zero. Any other decrease (the host lost its state, the tree was
 * replaced) is a reset, counted from zero, so it never shows as a spike of
 * nearly a whole range. The half-range rule holds as long as readings are
 * closer together than half a wrap period (minutes even at 400 W). */
static inline guint64
vp_counter_step (guint64 prev_uj, guint64 cur_uj, guint64 max_uj, VpCounterStep *step)
{
  if (cur_uj >= prev_uj)
    {
      *step = VP_COUNTER_ADVANCED;
      return cur_uj - prev_uj;
    }
  if (max_uj != 0 && prev_uj <= max_uj && cur_uj <= max_uj && (max_uj - prev_uj) + cur_uj < max_uj / 2)
    {
      *step = VP_COUNTER_WRAPPED;
      return (max_uj - prev_uj) + cur_uj;
    }
  *step = VP_COUNTER_RESET;
  return cur_uj;
}
