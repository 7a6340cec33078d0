#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzz every parser of outside bytes: each libFuzzer harness in fuzz/ runs for SECONDS (default 60)
# under ASan+UBSan, and prints one line:
#   NAME: EXECS execs, COV edges, CRASHES crashes
# Exits non-zero if any harness crashed. The first run configures build-fuzz/ (clang,
# --enable-fuzzing; VP_FUZZ_BUILD=DIR for another place). Each harness's working corpus is
# build-fuzz/corpus/NAME, seeded from fuzz/corpus/NAME; a crashing input is kept in
# build-fuzz/crashes/NAME/. Fix the bug, then add the input to fuzz/corpus/NAME: `make check`
# replays it from then on (tests/fuzz-corpus.sh). VP_FUZZ_RUNS=N also stops each harness after N
# executions (the long run in bench/README.md: SECONDS large, VP_FUZZ_RUNS=10000000).
#
#   scripts/fuzz.sh [SECONDS] [NAME...]
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
build=${VP_FUZZ_BUILD:-$src/build-fuzz}
die () { echo "fuzz.sh: $*" >&2; exit 2; }
case $seconds in ''|*[!0-9]*) die "SECONDS must be a whole number, not '$seconds'" ;; esac
runs=${VP_FUZZ_RUNS:--1}
case $runs in -1) ;; ''|*[!0-9]*) die "VP_FUZZ_RUNS must be a whole number, not '$runs'" ;; esac
command -v clang >/dev/null || die "no clang (Debian: apt-get install clang libclang-rt-dev)"

names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(cd "$src/fuzz/corpus" && ls))
[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed"
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
  (cd "$build" && CC=clang "$src/configure" --enable-fuzzing >"$build/configure.log" 2>&1) ||
    die "configure --enable-fuzzing failed (see $build/configure.log)"
fi
make -C "$build" -j"$(nproc)" fuzzers >"$build/make.log" 2>&1 || { tail -20 "$build/make.log"; die "build failed"; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
crashed=0
for name in "${names[@]}"; do
  fuzzer=$build/fuzz/fuzz-$name
  [ -x "$fuzzer" ] || die "no harness '$name' (have: $(cd "$src/fuzz/corpus" && ls | tr '\n' ' '))"
  corpus=$build/corpus/$name crashes=$build/crashes/$name log=$build/fuzz-$name.log
  mkdir -p "$corpus" "$crashes"
  cp -n "$src/fuzz/corpus/$name"/* "$corpus/" 2>/dev/null
  before=$(ls "$crashes" | wc -l)
  # Libfuzzer stops at the first crash; -timeout catches hangs, -rss_limit_mb runaway memory.
  dict=()
  [ -f "$src/fuzz/dict/$name.dict" ] && dict=(-dict="$src/fuzz/dict/$name.dict")
  "$fuzzer" -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$crashes/" "${dict[@]}" "$corpus" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  found=$(( $(ls "$crashes" | wc -l) - before ))
  [ $status -eq 0 ] || [ $found -gt 0 ] || found=1
  echo "$name: ${execs:-0} execs, ${cov:-0} edges, $found crashes"
  if [ $found -gt 0 ]; then
    crashed=1
    grep -E 'ERROR|SUMMARY|critical|#[0-9]+ 0x' "$log" | head -15 | sed 's/^/  /'
    echo "  input: $(ls -t "$crashes" | head -1 | sed "s|^|$crashes/|"); log: $log"
  fi
done
exit $crashed
