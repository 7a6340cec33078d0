#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The stacks people run (issue 23): vpower built and tested in clean roots of other Debian
# releases: the guest's half against each release's own GLib, FUSE, libmicrohttpd and json-glib,
# the host's against Debian 13's own libvirtd and QEMU.
#
#   scripts/matrix.sh [--roots-only] [RELEASE[:PART]...]
#       default: bullseye:guest bookworm:guest trixie:guest forky:guest trixie:host
#       RELEASE alone: its guest part, and its host part where there is one
#       --roots-only: only make (or find fresh in the cache) the parts' roots, and exit
#
# Each part runs in a clean root of RELEASE (scripts/root.sh: made with mmdebstrap, cached in
# /var/cache/vpower-roots and rebuilt after a week), with /proc, /sys and /dev (and so /dev/fuse)
# bound in a private mount namespace:
#   guest: a copy of the tree, `configure --disable-host --enable-werror` (no libvirt in the
#          root), `make`, then `make check`: the guest's unit tests, the agent's tree against
#          tests/tree-checks.sh over a real FUSE mount made in the root, its HTTP, install and man
#          pages. The compiler holds the code to the floors of configure.ac.
#   host:  (trixie: libvirt 11.3, QEMU 10.0, virtiofsd 1.13) both halves built with
#          --enable-werror, the root's own libvirtd started there, and tests/channel-guest.sh,
#          tests/migration-guest.sh and tests/share-migration.sh run against it with TCG guests
#          (the guest's kernel and initramfs are built on this machine, in $VP_GUEST_CACHE or
#          ./build-guest-cache, and bound in). $VP_MATRIX_HOST_TESTS names other tests to run
#          there instead.
# Prints one line per part, "RELEASE PART: N passed, N failed[, N skipped]", and exits 1 when a
# part failed or a root could not be made (the archive unreachable is a failure, not a skip).
# Logs stay in $VP_MATRIX_LOGS (default ./build-logs/matrix), the host part's tests' own in
# RELEASE-host-tests/ there.
set -uo pipefail

usage () { awk 'NR >= 3 && !/^#/ { exit } NR >= 3 { sub(/^# ?/, ""); print }' "$0"; }
roots_only=false
case ${1:-} in -h|--help) usage; exit 0 ;; --roots-only) roots_only=true; shift ;; -*) usage >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "matrix: run as root (roots, mounts)" >&2; exit 1; }

src=$(cd "$(dirname "$0")/.." && pwd)
parts=()
for arg in "${@:-bullseye bookworm trixie forky}"; do
  for word in $arg; do
    case $word in
      bullseye|bookworm|forky) parts+=("$word:guest") ;;
      trixie) parts+=(trixie:guest trixie:host) ;;
      bullseye:guest|bookworm:guest|trixie:guest|forky:guest|trixie:host) parts+=("$word") ;;
      *) echo "matrix: unknown part $word (RELEASE[:guest|:host]; host only on trixie)" >&2; exit 2 ;;
    esac
  done
done
logs=${VP_MATRIX_LOGS:-$PWD/build-logs/matrix}
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
work=$(mktemp -d /var/tmp/vpower-matrix.XXXXXX)
trap 'rm -rf "$work"' EXIT

# What the guest's half needs to build and to run its make check: the libraries, FUSE, and the
# tools its tests use (curl, openssl, promtool, file, man, systemd-analyze).
guest_packages=(build-essential autoconf automake libtool pkg-config
                libglib2.0-dev libfuse3-dev fuse3 libmicrohttpd-dev libjson-glib-dev
                python3 curl openssl file man-db groff-base procps prometheus systemd)

# The host's half, and what its guest tests use: libvirtd and QEMU, and the tools of
# tests/guest (busybox for the initramfs, node_exporter for the guest's overlay).
host_packages=(build-essential autoconf automake libtool pkg-config
               libvirt-dev libglib2.0-dev libfuse3-dev fuse3 libmicrohttpd-dev libjson-glib-dev
               clang bpftool libbpf-dev libfreeipmi-dev
               libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
               python3 curl openssl file procps busybox-static cpio xz-utils kmod
               prometheus prometheus-node-exporter virtiofsd)

failed=0
# explain_failures RELEASE PART: each failed check of the part's test-suite.log with the "#" lines
# its test printed just before it (what it saw), so that CI's own output says why.
explain_failures () {
  local suite=$logs/$1-$2-test-suite.log
  [ -f "$suite" ] || return 0
  awk '/^# / { held[n++] = $0; next }
       /^not ok/ { for (i = 0; i < n; i++) print held[i]; print }
       { n = 0 }' "$suite" | head -40 | sed 's/^/  /'
}

# report RELEASE PART LOG STATUS: the line for one part, from automake's test-suite summary.
report () {
  local release=$1 part=$2 log=$3 status=$4 pass fail error skip
  pass=$(sed -n 's/^# PASS: *//p' "$log" | tail -1)
  fail=$(sed -n 's/^# FAIL: *//p' "$log" | tail -1)
  error=$(sed -n 's/^# ERROR: *//p' "$log" | tail -1)
  skip=$(sed -n 's/^# SKIP: *//p' "$log" | tail -1)
  fail=$(( ${fail:-0} + ${error:-0} ))
  if [ -z "$pass" ] || [ "$status" -ne 0 ]; then
    # The build or the suite stopped before its summary: count it as one failure, say where.
    [ "$fail" -gt 0 ] || fail=1
    failed=1
    echo "$release $part: ${pass:-0} passed, $fail failed (see $log)"
    grep -E '^(FAIL|ERROR):|error:|Bail out' "$log" | head -10 | sed 's/^/  /'
    explain_failures "$release" "$part"
    return
  fi
  [ "$fail" -eq 0 ] || failed=1
  echo "$release $part: $pass passed, $fail failed${skip:+, $skip skipped}"
}

guest_part () {
  local release=$1 tarball root log
  log=$logs/$release-guest.log
  : >"$log"
  if ! tarball=$("$src/scripts/root.sh" tarball "$release" "${guest_packages[@]}" 2>>"$log"); then
    echo "$release guest: 0 passed, 1 failed (cannot make a $release root: $(tail -1 "$log"))"
    failed=1
    return
  fi
  root=$work/$release
  "$src/scripts/root.sh" unpack "$tarball" "$root" &&
    "$src/scripts/copy-tree.sh" "$root/src" || { echo "$release guest: 0 passed, 1 failed (cannot unpack)"; failed=1; return; }
  "$src/scripts/root.sh" run "$root" -- /bin/bash -c '
    set -e
    cd /src
    echo "== $(. /etc/os-release; echo "$PRETTY_NAME"): glib $(pkg-config --modversion glib-2.0), fuse3 $(pkg-config --modversion fuse3), libmicrohttpd $(pkg-config --modversion libmicrohttpd), json-glib $(pkg-config --modversion json-glib-1.0)"
    autoreconf -fi
    mkdir build && cd build
    ../configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var --disable-host --enable-werror
    make -j"$(nproc)"
    CI="$1" make check' bash "${CI:-}" >>"$log" 2>&1
  local status=$?
  rm -f "$logs/$release-guest-test-suite.log"   # a run that stopped before its tests has none
  [ $status -eq 0 ] || cp "$root/src/build/test-suite.log" "$logs/$release-guest-test-suite.log" 2>/dev/null
  report "$release" guest "$log" $status
  rm -rf "$root"
}

# stop_root_processes ROOT: the root's libvirtd and any QEMU it left outlive `root.sh run` (they
# daemonise); they are the processes whose root directory is ROOT.
stop_root_processes () {
  local proc pids=()
  for proc in /proc/[0-9]*; do
    [ "$(readlink "$proc/root" 2>/dev/null)" = "$1" ] && pids+=("${proc#/proc/}")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null
  for _ in $(seq 50); do kill -0 "${pids[@]}" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "${pids[@]}" 2>/dev/null
}

# host_part RELEASE: the host's guest tests against RELEASE's own libvirtd and QEMU.
host_part () {
  local release=$1 tarball root log cache
  log=$logs/$release-host.log
  : >"$log"
  cache=${VP_GUEST_CACHE:-$PWD/build-guest-cache}
  mkdir -p "$cache"
  cache=$(cd "$cache" && pwd)
  # This machine's Debian kernel and busybox: the guest's own system does not matter here.
  if ! "$src/tests/guest/build-guest.sh" "$cache" >>"$log" 2>&1; then
    echo "$release host: 0 passed, 1 failed (cannot build the test guest: $(tail -1 "$log"))"
    failed=1
    return
  fi
  if ! tarball=$("$src/scripts/root.sh" tarball "$release" "${host_packages[@]}" 2>>"$log"); then
    echo "$release host: 0 passed, 1 failed (cannot make a $release root: $(tail -1 "$log"))"
    failed=1
    return
  fi
  root=$work/$release-host
  "$src/scripts/root.sh" unpack "$tarball" "$root" &&
    "$src/scripts/copy-tree.sh" "$root/src" || { echo "$release host: 0 passed, 1 failed (cannot unpack)"; failed=1; return; }
  "$src/scripts/root.sh" run "$root" --bind "$cache:/guest-cache" -- /bin/bash -c '
    set -e
    cd /src
    echo "== $(. /etc/os-release; echo "$PRETTY_NAME"): libvirt $(pkg-config --modversion libvirt), $(qemu-system-x86_64 --version | head -1)"
    autoreconf -fi
    mkdir build && cd build
    ../configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var --enable-werror --enable-bpf
    make -j"$(nproc)"
    # QEMU as root without mount namespaces: this root has no systemd, and runs inside a
    # private mount namespace already (real-components.md).
    echo "namespaces = [ ]" >>/etc/libvirt/qemu.conf
    /src/scripts/setup-libvirtd.sh
    echo "== libvirtd $(libvirtd --version)"
    CI="$1" VP_GUEST_CACHE=/guest-cache make check TESTS="$2"' \
    bash "${CI:-}" "${VP_MATRIX_HOST_TESTS:-tests/channel-guest.sh tests/migration-guest.sh tests/share-migration.sh}" >>"$log" 2>&1
  local status=$?
  rm -f "$logs/$release-host-test-suite.log"   # a run that stopped before its tests has none
  [ $status -eq 0 ] || cp "$root/src/build/test-suite.log" "$logs/$release-host-test-suite.log" 2>/dev/null
  # Each test's own log, passed or not: what it measured on this stack (its "#" lines).
  rm -rf "$logs/$release-host-tests" && mkdir -p "$logs/$release-host-tests" &&
    cp "$root"/src/build/tests/*.log "$logs/$release-host-tests/" 2>/dev/null
  report "$release" host "$log" $status
  stop_root_processes "$root"
  rm -rf "$root"
}

if $roots_only; then
  for part in "${parts[@]}"; do
    case $part in
      *:guest) "$src/scripts/root.sh" tarball "${part%:*}" "${guest_packages[@]}" ;;
      *:host) "$src/scripts/root.sh" tarball "${part%:*}" "${host_packages[@]}" ;;
    esac || failed=1
  done
  exit $failed
fi

for part in "${parts[@]}"; do
  case $part in
    *:guest) guest_part "${part%:*}" ;;
    *:host) host_part "${part%:*}" ;;
  esac
done
exit $failed
