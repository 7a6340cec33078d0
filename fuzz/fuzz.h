/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz harnesses: one per parser of outside bytes, each calling the project's real function.
 *
 * A harness is one LLVMFuzzerTestOneInput. Linked with libFuzzer
 * (configure --enable-fuzzing, clang) it is fuzzed by scripts/fuzz.sh; linked
 * with replay.c it replays its corpus, crash regressions included, in
 * `make check` (tests/fuzz-corpus.sh). */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Call first in every input: drops the parsers' log lines (a warning per
 * bad input would make the fuzzer slow and its output unreadable), but
 * turns a g_critical (a failed precondition: a bug) into an abort. */
void vp_fuzz_init (void);

/* A private directory on tmpfs for harnesses whose parser reads files:
 * created once per process. */
const char *vp_fuzz_dir (void);

/* Writes data to dir/name, replacing it. */
void vp_fuzz_write (const char *name, const void *data, gsize size);

/* Splits data at NUL bytes into at most n parts (missing ones are empty),
 * each a NUL-terminated copy: free with g_strfreev. */
char **vp_fuzz_split (const uint8_t *data, size_t size, guint n);
