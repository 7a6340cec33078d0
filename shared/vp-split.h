/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: exact integer split of an energy amount by weights, with carried remainders.
 *
 * Used by the host's attribution (energy between VMs, host and unattributed)
 * and by the guest's per-process split. Every call hands out exactly `amount`
 * µJ in whole µJ: the sum of shares always equals the amount. The fractional
 * part each consumer is owed (or was overpaid) is kept in `carry`, in units of
 * 2^-32 µJ, and fed into the next call, so rounding never drifts: over any
 * number of ticks each consumer's total stays within 1 µJ of its exact share. */
#pragma once

#include <glib.h>

#define VP_SPLIT_CARRY_ONE ((gint64) 1 << 32)  /* 1 µJ in carry units */

typedef struct {
  guint64 weight;   /* in: this consumer's weight (ns of CPU time, usually) */
  gint64 carry;     /* in/out: remainder owed to this consumer, 2^-32 µJ units */
  guint64 share;    /* out: whole µJ handed to this consumer this call */
} VpSplitItem;

/* Splits `amount` µJ over items[0..n) in proportion to their weights. Returns
 * FALSE (and touches nothing) when n == 0 or every weight is zero: the caller
 * then decides who gets the energy. */
gboolean vp_split_exact (guint64 amount, VpSplitItem *items, gsize n);
