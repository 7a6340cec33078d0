#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 2: install what is needed, build, and run the whole suite:
#   1. a -Werror build and `make check` (unit tests, fixtures, real FUSE/libvirtd/QEMU/promtool);
#   2. an ASan+UBSan build running the same suite;
#   3. `make distcheck`;
#   4. a short fuzz run of every harness (scripts/fuzz.sh 5).
# Ends with "N passed, N failed, N skipped" over every test case. Idempotent.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
log_dir=$src/build-logs
mkdir -p "$log_dir"
started=$SECONDS

step () { echo "== $* ($((SECONDS - started)) s)"; }
die () { echo "test.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

step "installing packages and starting libvirtd"
"$src/scripts/install-deps.sh" test || die "package installation failed"
"$src/scripts/setup-libvirtd.sh" || die "libvirtd did not start"

step "bootstrapping"
(cd "$src" && autoreconf -fi >"$log_dir/autoreconf.log" 2>&1) || die "autoreconf failed (see $log_dir/autoreconf.log)"

# build DIR CONFIGURE-FLAGS...: configure (once) and build DIR.
build () {
  local dir=$1; shift
  mkdir -p "$dir"
  if [ ! -f "$dir/Makefile" ]; then
    (cd "$dir" && "$src/configure" "$@" >"$log_dir/$(basename "$dir")-configure.log" 2>&1) ||
      die "configure in $dir failed (see $log_dir)"
  fi
  make -C "$dir" -j"$(nproc)" all >"$log_dir/$(basename "$dir")-make.log" 2>&1 ||
    { tail -30 "$log_dir/$(basename "$dir")-make.log"; die "build in $dir failed"; }
}

# The guest kernel and initramfs are shared by both builds' tests.
export VP_GUEST_CACHE=$src/build-guest-cache

step "-Werror build and make check"
# Debian's layout, as the Quick start installs it (tests/install.sh checks it).
layout=(--prefix=/usr --sysconfdir=/etc --localstatedir=/var)
build "$src/build-ci" "${layout[@]}" --enable-werror
make -C "$src/build-ci" check >"$log_dir/check.log" 2>&1
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$log_dir/check.log"

step "ASan+UBSan build and make check"
build "$src/build-asan" "${layout[@]}" --enable-werror --enable-sanitizers
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -C "$src/build-asan" check >"$log_dir/check-asan.log" 2>&1
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$log_dir/check-asan.log" | sed 's/^/asan /'

step "make distcheck"
make -C "$src/build-ci" distcheck >"$log_dir/distcheck.log" 2>&1
distcheck_status=$?
[ $distcheck_status -eq 0 ] && echo "PASS: distcheck" || { tail -40 "$log_dir/distcheck.log"; echo "FAIL: distcheck"; }

# Every parser of outside bytes under libFuzzer (clang, ASan+UBSan), briefly: a smoke run that
# proves the harnesses build and run, and catches shallow crashes. Long runs: scripts/fuzz.sh 600.
step "fuzz smoke"
VP_FUZZ_BUILD=$src/build-fuzz "$src/scripts/fuzz.sh" 5 >"$log_dir/fuzz.log" 2>&1
fuzz_status=$?
sed 's/^/fuzz /' "$log_dir/fuzz.log"
[ $fuzz_status -eq 0 ] && echo "PASS: fuzz smoke" || echo "FAIL: fuzz smoke"

# Show what failed, then count every test case of both suites, plus distcheck and the fuzz smoke run.
for dir in build-ci build-asan; do
  for trs in $(find "$src/$dir/tests" -name '*.trs' 2>/dev/null); do
    if grep -qE ':test-result: (FAIL|ERROR|XPASS)' "$trs"; then
      echo "--- $dir/${trs#$src/$dir/}: ${trs%.trs}.log"
      tail -40 "${trs%.trs}.log"
    fi
  done
done
find "$src/build-ci/tests" "$src/build-asan/tests" -name '*.trs' -exec cat {} + 2>/dev/null |
  awk -v distcheck=$distcheck_status -v fuzz=$fuzz_status -v secs=$((SECONDS - started)) '
    /^:test-result: (PASS|XFAIL)/ { passed++ }
    /^:test-result: (FAIL|ERROR|XPASS)/ { failed++ }
    /^:test-result: SKIP/ { skipped++ }
    END {
      if (distcheck == 0) passed++; else failed++
      if (fuzz == 0) passed++; else failed++
      if (passed + failed == 2) failed++   # no test ran at all: that is a failure
      printf "# total time %d s\n", secs
      printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
      exit failed > 0
    }'
