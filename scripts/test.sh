#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 2: install what is needed, build, and run the whole suite, every real
# component once (README "Testing" says which pass runs what):
#   1. an ASan+UBSan build (-Werror, Debian's layout) and `make check COMPONENT_TESTS=`: the unit
#      tests and the daemon tests (our programs on fixtures and real FUSE mounts) under sanitizers;
#   2. a bare `make distcheck`, as a packager runs it: the tarball built with -Werror in a
#      read-only source tree, and the whole suite there, the real-component tests (libvirtd and
#      QEMU guests, Prometheus, node_exporter, the RAPL readers, apt) included: their one run;
#   3. tests/newcomer.sh: the README's demo, each mode, and its Quick start, from fresh copies of
#      the tree with no build directory;
#   4. a short fuzz run of every harness (scripts/fuzz.sh 5).
# Ends with "N passed, N failed, N skipped" over every test case. Idempotent.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
log_dir=$src/build-logs
mkdir -p "$log_dir"
started=$SECONDS
# The bare distcheck keeps its guest kernel in its own build tree; only newcomer.sh is told where
# the shared cache is.
unset VP_GUEST_CACHE

step () { echo "== $* ($((SECONDS - started)) s)"; }
die () { echo "test.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

step "installing packages and starting libvirtd"
"$src/scripts/install-deps.sh" test || die "package installation failed"
"$src/scripts/setup-libvirtd.sh" || die "libvirtd did not start"

step "bootstrapping"
(cd "$src" && autoreconf -fi >"$log_dir/autoreconf.log" 2>&1) || die "autoreconf failed (see $log_dir/autoreconf.log)"

# configure_in DIR CONFIGURE-FLAGS...: configure DIR once.
configure_in () {
  local dir=$1; shift
  mkdir -p "$dir"
  [ -f "$dir/Makefile" ] && return 0
  (cd "$dir" && "$src/configure" "$@" >"$log_dir/$(basename "$dir")-configure.log" 2>&1) ||
    die "configure in $dir failed (see $log_dir)"
}
# Debian's layout, as the Quick start installs it (tests/install.sh checks it).
layout=(--prefix=/usr --sysconfdir=/etc --localstatedir=/var)

step "ASan+UBSan build; make check of the unit and daemon tests"
configure_in "$src/build-asan" "${layout[@]}" --enable-werror --enable-sanitizers
make -C "$src/build-asan" -j"$(nproc)" all >"$log_dir/build-asan-make.log" 2>&1 ||
  { tail -30 "$log_dir/build-asan-make.log"; die "build in $src/build-asan failed"; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -C "$src/build-asan" check COMPONENT_TESTS= >"$log_dir/check-asan.log" 2>&1
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$log_dir/check-asan.log" | sed 's/^/asan /'

step "make distcheck: the tarball, -Werror, every test"
configure_in "$src/build-ci" "${layout[@]}" --enable-werror
make -C "$src/build-ci" distcheck >"$log_dir/distcheck.log" 2>&1
distcheck_status=$?
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$log_dir/distcheck.log" | sed 's/^/distcheck /'
[ $distcheck_status -eq 0 ] && echo "PASS: distcheck" || { tail -40 "$log_dir/distcheck.log"; echo "FAIL: distcheck"; }

step "the newcomer's commands from fresh copies of the tree"
VP_GUEST_CACHE=$src/build-guest-cache "$src/tests/newcomer.sh" >"$log_dir/newcomer.log" 2>&1
newcomer_status=$?
# A run that stopped early or ran other than its plan fails even with no "not ok" line.
newcomer_planned=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$log_dir/newcomer.log" | head -n 1)
newcomer_ran=$(grep -cE '^(not )?ok ' "$log_dir/newcomer.log")
newcomer_broken=0
if [ "${newcomer_planned:-x}" != "$newcomer_ran" ] && [ "${newcomer_planned:-x}" != 0 ]; then
  newcomer_broken=1
elif [ $newcomer_status -ne 0 ] && ! grep -qE '^(not ok|Bail out!)' "$log_dir/newcomer.log"; then
  newcomer_broken=1
fi
[ $newcomer_broken -eq 0 ] || echo "FAIL: newcomer: exited with status $newcomer_status after $newcomer_ran of ${newcomer_planned:-?} tests"
sed -n 's/^ok /PASS: newcomer /p; s/^not ok /FAIL: newcomer /p; s/^Bail out!/FAIL: newcomer: Bail out!/p' "$log_dir/newcomer.log"

# Every parser of outside bytes under libFuzzer (clang, ASan+UBSan), briefly: a smoke run that
# proves the harnesses build and run, and catches shallow crashes. Long runs: scripts/fuzz.sh 600.
step "fuzz smoke"
VP_FUZZ_BUILD=$src/build-fuzz "$src/scripts/fuzz.sh" 5 >"$log_dir/fuzz.log" 2>&1
fuzz_status=$?
sed 's/^/fuzz /' "$log_dir/fuzz.log"
[ $fuzz_status -eq 0 ] && echo "PASS: fuzz smoke" || echo "FAIL: fuzz smoke"

# Show what failed: each failed test's log (distcheck leaves its tree behind when it fails).
for trs in $(find "$src/build-asan/tests" "$src/build-ci" -path '*/tests/*' -name '*.trs' 2>/dev/null); do
  if grep -qE ':test-result: (FAIL|ERROR|XPASS)' "$trs"; then
    echo "--- ${trs#$src/}: ${trs%.trs}.log"
    tail -40 "${trs%.trs}.log"
  fi
done
if [ $newcomer_status -ne 0 ]; then
  echo "--- tests/newcomer.sh: $log_dir/newcomer.log"
  tail -40 "$log_dir/newcomer.log"
fi

# Count every test case: the ASan pass's, the distcheck's (from its log, as its tree is gone
# once it passes), the newcomer's TAP results, plus distcheck and the fuzz smoke run themselves.
{
  find "$src/build-asan/tests" -name '*.trs' -exec cat {} + 2>/dev/null
  sed -n 's/^\(PASS\|FAIL\|ERROR\|SKIP\|XFAIL\|XPASS\): .*/:test-result: \1/p' "$log_dir/distcheck.log"
  sed -n 's/^ok .*/:test-result: PASS/p; s/^not ok .*/:test-result: FAIL/p; s/^Bail out!.*/:test-result: ERROR/p
          s/^1\.\.0 # SKIP.*/:test-result: SKIP/p' "$log_dir/newcomer.log"
} | awk -v distcheck=$distcheck_status -v fuzz=$fuzz_status -v newcomer_broken=$newcomer_broken \
      -v secs=$((SECONDS - started)) '
    /^:test-result: (PASS|XFAIL)/ { passed++ }
    /^:test-result: (FAIL|ERROR|XPASS)/ { failed++ }
    /^:test-result: SKIP/ { skipped++ }
    END {
      if (distcheck == 0) passed++; else failed++
      if (fuzz == 0) passed++; else failed++
      failed += newcomer_broken
      if (passed + failed == 2) failed++   # no test ran at all: that is a failure
      printf "# total time %d s\n", secs
      printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
      exit failed > 0
    }'
