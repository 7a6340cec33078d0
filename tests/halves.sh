#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Each half alone (issue 22), from a copy of the tree. The guest's (`configure --disable-host`)
# configures with libvirt's pkg-config files out of sight, as in a tenant's VM without
# libvirt-dev; the same configure without --disable-host stops on libvirt, which shows they were
# out of sight. (It builds and passes its make check in scripts/matrix.sh's roots.) The host's
# (`--disable-guest`) builds, and installs only its own files (tests/install.sh); it is built with
# libbpf's pkg-config file out of sight too, so without the BPF CPU-time source, which configure
# and vpowerd say (issue 24).
# Not part of `make check` (it configures and builds the tree twice); scripts/test.sh runs it once.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
command -v git >/dev/null || vp_skip_or_fail "no git"
vp_setup_workdir
vp_plan 7

src=$work/src
"$abs_top_srcdir/scripts/copy-tree.sh" "$src"
(cd "$src" && autoreconf -fi) >"$work/autoreconf.log" 2>&1 || { echo "Bail out! autoreconf failed"; exit 1; }

# pkg_config_but DIR PATTERN: every pkg-config file this machine has, but those PATTERN matches,
# linked into DIR.
pkg_config_but () {
  mkdir -p "$1"
  for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
    for pc in "$dir"/*.pc; do
      [ -e "$pc" ] && [ ! -e "$1/$(basename "$pc")" ] && case $(basename "$pc") in $2) ;; *) ln -s "$pc" "$1/" ;; esac
    done
  done
}
pcdir=$work/pkgconfig
pkg_config_but "$pcdir" 'libvirt*'
nobpf=$work/pkgconfig-nobpf
pkg_config_but "$nobpf" 'libbpf*'
pkg-config --exists libbpf || echo "Bail out! libbpf's pkg-config file is not installed (libbpf-dev)"
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

mkdir -p "$work/host-bpf"
(cd "$work/host-bpf" && PKG_CONFIG_LIBDIR=$nobpf "$src/configure" "${layout[@]}" --disable-guest --enable-bpf) >"$work/host-bpf.log" 2>&1
status=$?
[ $status -ne 0 ] && grep -q 'error: --enable-bpf: no libbpf' "$work/host-bpf.log"
vp_ok $? "configure --enable-bpf without libbpf stops and says so (status $status: $(grep -o 'error: --enable-bpf.*' "$work/host-bpf.log"))"

mkdir -p "$work/host"
(cd "$work/host" && PKG_CONFIG_LIBDIR=$nobpf "$src/configure" "${layout[@]}" --disable-guest) >"$work/host.log" 2>&1 &&
  make -C "$work/host" -j"$(nproc)" >"$work/host-make.log" 2>&1 && [ -x "$work/host/vpowerd" ] && [ ! -e "$work/host/vpower-agent" ]
status=$?
[ $status -eq 0 ] || tail -20 "$work/host-make.log" | sed 's/^/# /'
vp_ok $status "configure --disable-guest builds the host's half alone: vpowerd, and no vpower-agent"
grep -q 'BPF CPU time: *no (no libbpf' "$work/host.log"
vp_ok $? "without libbpf, configure builds it without the BPF CPU-time source and says so"

# vpowerd built so: cpu-source=bpf is refused with the reason; auto counts from /proc and says why.
printf '[vm]\nuuid=00000000-0000-4000-8000-000000000001\npid=%d\n' $$ >"$work/vms.ini"
: >"$work/empty.conf"
once () { "$work/host/vpowerd" --once --config "$work/empty.conf" --inventory "static:$work/vms.ini" --sensor powercap \
            --powercap-root "$abs_top_srcdir/tests/data/powercap/single" --interval 1 "$@"; }
once --cpu-source bpf >"$work/once-bpf.out" 2>"$work/once-bpf.err"
bpf_status=$?
once >"$work/once-auto.out" 2>"$work/once-auto.err" &&
  grep -q '"cpu_source" : "proc"' "$work/once-auto.out" &&
  grep -q 'cpu time: from /proc, not BPF: this vpowerd was built without it' "$work/once-auto.err" &&
  [ $bpf_status -eq 1 ] && grep -q 'cpu-source=bpf: this vpowerd was built without it' "$work/once-bpf.err"
vp_ok $? "and vpowerd says so: cpu-source=bpf exits 1 ($(head -1 "$work/once-bpf.err")); auto counts from /proc"
make -C "$work/host" check TESTS=tests/install.sh >"$work/host-check.log" 2>&1
status=$?
grep -E '^(PASS|FAIL): tests/install.sh 2 ' "$work/host-check.log" | sed 's/^/# /'
[ $status -eq 0 ] && grep -q "^PASS: tests/install.sh 2 - every file of the host's half" "$work/host-check.log"
vp_ok $? "and installs exactly the host's files (tests/install.sh)"
vp_finish
