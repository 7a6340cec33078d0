#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 2: install what is needed, build, and run the whole suite, every real
# component once (README "Testing" says which pass runs what):
#   1. an ASan+UBSan build (-Werror, Debian's layout) and `make check COMPONENT_TESTS=`: the unit
#      tests and the daemon tests (our programs on fixtures and real FUSE mounts) under sanitizers;
#   2. `make distcheck DAEMON_TESTS=`: the tarball built with -Werror in a read-only source tree,
#      and the suite there but for the daemon tests (pass 1 ran them): the unit tests, and the
#      real-component tests (libvirtd and QEMU guests, Prometheus, node_exporter, the RAPL
#      readers, apt): their one run;
#   3. tests/newcomer.sh: the README's demo, each mode, and its Quick start, from fresh copies of
#      the tree with no build directory;
#   4. tests/halves.sh: the guest's half configures without libvirt, the host's builds alone;
#      tests/packages.sh: the Debian packages built (here for 12, in a clean root for 13), passed by
#      lintian, installed with apt in clean Debian 12 and 13 roots and checked there, and the hook
#      against libvirtd's AppArmor profile; tests/images.sh: deploy/kubernetes's manifests checked
#      offline, its images built from the Debian 12 packages and run under podman;
#      tests/rpm-spec.sh: vpower.spec built with rpmbuild;
#   5. scripts/matrix.sh: the guest's half built (-Werror) and its make check run in clean Debian
#      11 and 14 roots, with their own libraries; the channel, migration and share-migration guest
#      tests against a Debian 13 root's libvirtd 11.3, QEMU 10.0 and virtiofsd 1.13;
#   6. a short fuzz run of every harness (scripts/fuzz.sh 5).
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

# The clean Debian roots of passes 4 and 5 are made in the background while passes 1 to 3 run:
# making one is mostly downloading and unpacking, minutes each when the cache
# (/var/cache/vpower-roots) has none younger than a week, and nothing when it has. One at a time,
# niced. A root that cannot be made fails later, with its message, in the pass that needs it.
step "the Debian roots of passes 4 and 5, in the background"
( nice -n 10 "$src/tests/packages.sh" --roots-only bookworm trixie
  nice -n 10 "$src/scripts/matrix.sh" --roots-only bullseye:guest forky:guest trixie:host ) >"$log_dir/roots.log" 2>&1 &
roots_pid=$!

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
configure_in "$src/build-asan" "${layout[@]}" --enable-werror --enable-sanitizers --enable-bpf
make -C "$src/build-asan" -j"$(nproc)" all >"$log_dir/build-asan-make.log" 2>&1 ||
  { tail -30 "$log_dir/build-asan-make.log"; die "build in $src/build-asan failed"; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -C "$src/build-asan" check COMPONENT_TESTS= >"$log_dir/check-asan.log" 2>&1
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$log_dir/check-asan.log" | sed 's/^/asan /'

step "make distcheck: the tarball, -Werror, the unit and component tests"
configure_in "$src/build-ci" "${layout[@]}" --enable-werror --enable-bpf
make -C "$src/build-ci" distcheck DAEMON_TESTS= >"$log_dir/distcheck.log" 2>&1
distcheck_status=$?
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$log_dir/distcheck.log" | sed 's/^/distcheck /'
[ $distcheck_status -eq 0 ] && echo "PASS: distcheck" || { tail -40 "$log_dir/distcheck.log"; echo "FAIL: distcheck"; }

# tap_run NAME COMMAND...: a TAP script outside `make check`, logged to build-logs/NAME.log, its
# results printed as PASS:/FAIL: lines. A run that stopped early or ran other than its plan counts
# as one more failure (in $tap_broken), even with no "not ok" line.
tap_broken=0 tap_logs=()
tap_run () {
  local name=$1 status planned ran
  shift
  "$@" >"$log_dir/$name.log" 2>&1
  status=$?
  tap_logs+=("$log_dir/$name.log")
  planned=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$log_dir/$name.log" | head -n 1)
  ran=$(grep -cE '^(not )?ok ' "$log_dir/$name.log")
  sed -n "s/^ok /PASS: $name /p; s/^not ok /FAIL: $name /p; s/^Bail out!/FAIL: $name: Bail out!/p" "$log_dir/$name.log"
  if { [ "${planned:-x}" != "$ran" ] && [ "${planned:-x}" != 0 ]; } ||
     { [ $status -ne 0 ] && ! grep -qE '^(not ok|Bail out!)' "$log_dir/$name.log"; }; then
    echo "FAIL: $name: exited with status $status after $ran of ${planned:-?} tests"
    tap_broken=$((tap_broken + 1))
  fi
  if [ $status -ne 0 ]; then
    echo "--- $name: $log_dir/$name.log"
    grep -vE '^ok ' "$log_dir/$name.log" | tail -40
  fi
}

step "each half alone: configure --disable-host (without libvirt), --disable-guest"
tap_run halves "$src/tests/halves.sh"

step "the newcomer's commands from fresh copies of the tree"
VP_GUEST_CACHE=$src/build-guest-cache tap_run newcomer "$src/tests/newcomer.sh"

# The packages, built and installed in clean Debian 12 and 13 roots (cached in /var/cache/vpower-roots),
# and the RPM spec built here from distcheck's tarball.
step "Debian packages in clean Debian 12 and 13 roots"
wait "$roots_pid" || sed 's/^/roots: /' "$log_dir/roots.log" | tail -5
VP_DEBS_KEEP=$log_dir/debs tap_run packages "$src/tests/packages.sh" bookworm trixie
step "the Kubernetes images from the Debian 12 packages, under podman"
tap_run images "$src/tests/images.sh" "$log_dir/debs/bookworm"
step "the RPM spec"
tarball=$(ls "$src"/build-ci/vpower-*.tar.xz 2>/dev/null | head -n 1)
tap_run rpm-spec "$src/tests/rpm-spec.sh" $tarball

# The guest's half on the oldest and the newest Debian this archive serves, in clean roots
# (scripts/matrix.sh; Debian 12 is this machine, Debian 13 is the packages' root); and the host's
# guest tests against Debian 13's own libvirtd 11.3 and QEMU 10.0 (distcheck ran them on this
# machine's libvirtd 9.0 and QEMU 7.2), with newcomer.sh's guest kernel.
step "the guest's half in clean Debian 11 and 14 roots; the host's on Debian 13's libvirtd and QEMU"
VP_GUEST_CACHE=$src/build-guest-cache VP_MATRIX_LOGS=$log_dir/matrix \
  "$src/scripts/matrix.sh" bullseye:guest forky:guest trixie:host >"$log_dir/matrix.log" 2>&1
matrix_status=$?
sed 's/^/matrix /' "$log_dir/matrix.log"
matrix_passed=$(sed -n 's/^[a-z]* [a-z]*: \([0-9]*\) passed.*/\1/p' "$log_dir/matrix.log" | awk '{ n += $1 } END { print n + 0 }')
matrix_failed=$(sed -n 's/^[a-z]* [a-z]*: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$log_dir/matrix.log" | awk '{ n += $1 } END { print n + 0 }')
# A run that stopped without its lines still fails.
[ $matrix_status -eq 0 ] || [ "$matrix_failed" -gt 0 ] || matrix_failed=1

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

# Count every test case: the ASan pass's, the distcheck's (from its log, as its tree is gone
# once it passes), the TAP results of the scripts outside make check, plus distcheck and the fuzz
# smoke run themselves.
{
  find "$src/build-asan/tests" -name '*.trs' -exec cat {} + 2>/dev/null
  sed -n 's/^\(PASS\|FAIL\|ERROR\|SKIP\|XFAIL\|XPASS\): .*/:test-result: \1/p' "$log_dir/distcheck.log"
  sed -n 's/^ok .*/:test-result: PASS/p; s/^not ok .*/:test-result: FAIL/p; s/^Bail out!.*/:test-result: ERROR/p
          s/^1\.\.0 # SKIP.*/:test-result: SKIP/p' "${tap_logs[@]}"
} | awk -v distcheck=$distcheck_status -v fuzz=$fuzz_status -v tap_broken=$tap_broken \
      -v matrix_passed="$matrix_passed" -v matrix_failed="$matrix_failed" \
      -v secs=$((SECONDS - started)) '
    /^:test-result: (PASS|XFAIL)/ { passed++ }
    /^:test-result: (FAIL|ERROR|XPASS)/ { failed++ }
    /^:test-result: SKIP/ { skipped++ }
    END {
      if (distcheck == 0) passed++; else failed++
      if (fuzz == 0) passed++; else failed++
      failed += tap_broken
      passed += matrix_passed; failed += matrix_failed
      if (passed + failed == 2) failed++   # no test ran at all: that is a failure
      printf "# total time %d s\n", secs
      printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
      exit failed > 0
    }'
