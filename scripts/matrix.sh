#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The stacks people run (issue 23): vpower's guest half built and tested in clean roots of other
# Debian releases, against each release's own GLib, FUSE, libmicrohttpd and json-glib.
#
#   scripts/matrix.sh [RELEASE...]     default: bullseye bookworm trixie forky
#
# For each RELEASE, in a clean root (scripts/root.sh: made with mmdebstrap, cached in
# /var/cache/vpower-roots and rebuilt after a week), with /proc, /sys and /dev (and so /dev/fuse)
# bound in a private mount namespace:
#   guest: a copy of the tree, `configure --disable-host --enable-werror` (no libvirt in the
#          root), `make`, then `make check`: the guest's unit tests, the agent's tree against
#          tests/tree-checks.sh over a real FUSE mount made in the root, its HTTP, install and man
#          pages. The compiler holds the code to the floors of configure.ac.
# Prints one line per part, "RELEASE PART: N passed, N failed[, N skipped]", and exits 1 when a
# part failed or a root could not be made (the archive unreachable is a failure, not a skip).
# Logs stay in $VP_MATRIX_LOGS (default ./build-logs/matrix).
set -uo pipefail

usage () { sed -n '3,16s/^# \{0,1\}//p' "$0"; }
case ${1:-} in -h|--help) usage; exit 0 ;; -*) usage >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "matrix: run as root (roots, mounts)" >&2; exit 1; }

src=$(cd "$(dirname "$0")/.." && pwd)
releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(bullseye bookworm trixie forky)
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

failed=0
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
    return
  fi
  [ "$fail" -eq 0 ] || failed=1
  echo "$release $part: $pass passed, $fail failed${skip:+, $skip skipped}"
}

guest_part () {
  local release=$1 tarball root log=$logs/$release-guest.log
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
  [ $status -eq 0 ] || cp "$root/src/build/test-suite.log" "$logs/$release-guest-test-suite.log" 2>/dev/null
  report "$release" guest "$log" $status
  rm -rf "$root"
}

for release in "${releases[@]}"; do
  case $release in
    bullseye|bookworm|trixie|forky) guest_part "$release" ;;
    *) echo "matrix: unknown release $release (bullseye, bookworm, trixie, forky)" >&2; exit 2 ;;
  esac
done
exit $failed
