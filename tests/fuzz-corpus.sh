#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every fuzz harness over its whole corpus (fuzz/corpus/NAME: the seeds, and each input a fuzzer
# ever crashed on, kept as a regression), through fuzz/replay-NAME: the project's real parsers,
# under this build's compiler and sanitizers. A crash or a sanitizer report fails the harness.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# The harnesses of the halves that were built (Makefile.am's fuzz_names); with both, every corpus.
names=${VP_FUZZ_NAMES:-$(cd "$abs_top_srcdir/fuzz/corpus" && ls)}
if [ "${VP_BUILT_HOST:-yes}" = yes ] && [ "${VP_BUILT_GUEST:-yes}" = yes ]; then
  unreplayed=$(cd "$abs_top_srcdir/fuzz/corpus" && ls | grep -vxF -f <(tr ' ' '\n' <<<"$names"))
  [ -z "$unreplayed" ] || { echo "Bail out! corpora with no harness in fuzz_names: $unreplayed"; exit 1; }
fi
vp_plan "$(wc -w <<<"$names")"
for name in $names; do
  out=$("$abs_top_builddir/fuzz/replay-$name" "$abs_top_srcdir/fuzz/corpus/$name" 2>&1); status=$?
  [ $status -eq 0 ]
  vp_ok $? "fuzz/replay-$name: $(tail -1 <<<"$out")"
  [ $status -eq 0 ] || sed 's/^/# /' <<<"$out" | tail -20
done
vp_finish
