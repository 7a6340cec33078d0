#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Each half alone (issue 22), from a copy of the tree. The guest's (`configure --disable-host`)
# configures with libvirt's pkg-config files out of sight, as in a tenant's VM without
# libvirt-dev; the same configure without --disable-host stops on libvirt, which shows they were
# out of sight. (It builds and passes its make check in scripts/matrix.sh's roots.) The host's
# (`--disable-guest`) builds, and installs only its own files (tests/install.sh).
# Not part of `make check` (it configures and builds the tree twice); scripts/test.sh runs it once.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
command -v git >/dev/null || vp_skip_or_fail "no git"
vp_setup_workdir
vp_plan 4

src=$work/src
"$abs_top_srcdir/scripts/copy-tree.sh" "$src"
(cd "$src" && autoreconf -fi) >"$work/autoreconf.log" 2>&1 || { echo "Bail out! autoreconf failed"; exit 1; }

# Every pkg-config file this machine has, but libvirt's.
pcdir=$work/pkgconfig
mkdir -p "$pcdir"
for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
  for pc in "$dir"/*.pc; do
    [ -e "$pc" ] && [ ! -e "$pcdir/$(basename "$pc")" ] && case $(basename "$pc") in libvirt*) ;; *) ln -s "$pc" "$pcdir/" ;; esac
  done
done
layout=(--prefix=/usr --sysconfdir=/etc --localstatedir=/var --enable-werror)

mkdir -p "$work/both"
(cd "$work/both" && PKG_CONFIG_LIBDIR=$pcdir "$src/configure" "${layout[@]}") >"$work/both.log" 2>&1
status=$?
[ $status -ne 0 ] && grep -q 'Package requirements (libvirt' "$work/both.log"
vp_ok $? "without libvirt's pkg-config files, a configure of both halves stops on libvirt (status $status)"

mkdir -p "$work/guest"
(cd "$work/guest" && PKG_CONFIG_LIBDIR=$pcdir "$src/configure" "${layout[@]}" --disable-host) >"$work/guest.log" 2>&1 &&
  grep -q "libvirt: *not needed" "$work/guest.log"
vp_ok $? "configure --disable-host succeeds without them, and says libvirt is not needed"
# The guest's half's build and make check: scripts/matrix.sh, in clean roots of Debian 11 to 14
# where there is no libvirt at all (test.sh runs it for 11 and 14).

mkdir -p "$work/host"
(cd "$work/host" && "$src/configure" "${layout[@]}" --disable-guest) >"$work/host.log" 2>&1 &&
  make -C "$work/host" -j"$(nproc)" >"$work/host-make.log" 2>&1 && [ -x "$work/host/vpowerd" ] && [ ! -e "$work/host/vpower-agent" ]
status=$?
[ $status -eq 0 ] || tail -20 "$work/host-make.log" | sed 's/^/# /'
vp_ok $status "configure --disable-guest builds the host's half alone: vpowerd, and no vpower-agent"
make -C "$work/host" check TESTS=tests/install.sh >"$work/host-check.log" 2>&1
status=$?
grep -E '^(PASS|FAIL): tests/install.sh 2 ' "$work/host-check.log" | sed 's/^/# /'
[ $status -eq 0 ] && grep -q "^PASS: tests/install.sh 2 - every file of the host's half" "$work/host-check.log"
vp_ok $? "and installs exactly the host's files (tests/install.sh)"
vp_finish
