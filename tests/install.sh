#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make install DESTDIR=...` puts the programs, the hook, the sample configuration, the systemd
# units, the man pages and the monitoring files (rules, dashboards) where configure said (with --prefix=/usr --sysconfdir=/etc, as the
# Quick start and CI configure, exactly where Debian expects them); the programs run from there,
# the units pass systemd-analyze verify, and `make uninstall` takes everything away again.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

: "${MAKE:=make}"
for var in prefix sbindir pkglibexecdir pkgdatadir sysconfdir mandir systemdsystemunitdir; do
  [ -n "${!var:-}" ] || { echo "Bail out! \$$var is not set (run through make check)"; exit 1; }
done
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
vp_plan 12

$MAKE -C "$abs_top_builddir" install DESTDIR="$dest" >"$dest.log" 2>&1
status=$?
[ $status -eq 0 ] || sed 's/^/# /' "$dest.log" | tail -20
vp_ok $status "make install DESTDIR=... succeeds"

# The fleet view: Prometheus rules, their unit tests and the Grafana dashboards, as in the source.
monitoring_files () { (cd "$abs_top_srcdir" && find monitoring -type f \( -name '*.yml' -o -name '*.json' \) | sed "s|^|$1/|"); }
if [ "$prefix" = /usr ] && [ "$sysconfdir" = /etc ]; then
  # Debian's layout (FHS, dh's defaults, systemd units in /lib on bookworm).
  expected="/usr/sbin/vpowerd /usr/sbin/vpowerctl /usr/sbin/vpower-agent /usr/libexec/vpower/vpower-hook
    /usr/libexec/vpower/vpower-agent-tree
    /etc/vpower/vpowerd.conf /etc/vpower/vpower-agent.conf
    /lib/systemd/system/vpowerd.service /lib/systemd/system/vpower-agent.service
    /lib/systemd/system/vpower-agent-mount.service
    /usr/share/man/man8/vpowerd.8 /usr/share/man/man8/vpowerctl.8 /usr/share/man/man8/vpower-agent.8
    /usr/share/man/man5/vpowerd.conf.5 /usr/share/man/man7/vpower-channel.7
    $(monitoring_files /usr/share/vpower)"
  layout="Debian's layout"
else
  expected="$sbindir/vpowerd $sbindir/vpowerctl $sbindir/vpower-agent $pkglibexecdir/vpower-hook
    $pkglibexecdir/vpower-agent-tree
    $sysconfdir/vpower/vpowerd.conf $sysconfdir/vpower/vpower-agent.conf
    $systemdsystemunitdir/vpowerd.service $systemdsystemunitdir/vpower-agent.service
    $systemdsystemunitdir/vpower-agent-mount.service
    $mandir/man8/vpowerd.8 $mandir/man8/vpowerctl.8 $mandir/man8/vpower-agent.8 $mandir/man5/vpowerd.conf.5
    $mandir/man7/vpower-channel.7
    $(monitoring_files "$pkgdatadir")"
  layout="configure's directories (prefix $prefix)"
fi
missing=
for file in $expected; do [ -f "$dest$file" ] || missing="$missing $file"; done
[ -z "$missing" ]
vp_ok $? "every file is installed in $layout${missing:+ (missing:$missing)}"

unexpected=$(cd "$dest" && find . -type f | sed 's|^\.||' | sort | comm -23 - <(tr -s ' \n' '\n' <<<"$expected" | sed '/^$/d' | sort))
[ -z "$unexpected" ]
vp_ok $? "and nothing else${unexpected:+ (also: $unexpected)}"

executables=true
for file in $sbindir/vpowerd $sbindir/vpowerctl $sbindir/vpower-agent $pkglibexecdir/vpower-hook \
    $pkglibexecdir/vpower-agent-tree; do
  [ -x "$dest$file" ] || executables=false
done
$executables && "$dest$sbindir/vpowerctl" --version | grep -q "^vpowerctl " &&
  "$dest$sbindir/vpowerd" --version | grep -q "vpowerd" && "$dest$sbindir/vpower-agent" --version | grep -q "vpower-agent"
vp_ok $? "the installed programs are executable and run"

[ "$(stat -c %a "$dest$sysconfdir/vpower/vpowerd.conf")" = 644 ] &&
  grep -q '^\[vpowerd\]' "$dest$sysconfdir/vpower/vpowerd.conf"
vp_ok $? "the sample vpowerd.conf is installed 0644 with its [vpowerd] group"

unit=$dest$systemdsystemunitdir/vpowerd.service
grep -qx "ExecStart=$sbindir/vpowerd --foreground" "$unit" && ! grep -q '@[a-zA-Z_]*@' "$unit"
vp_ok $? "vpowerd.service starts the installed vpowerd, with every @variable@ substituted"

# systemd's own parser: the units as installed, their binaries looked up in DESTDIR.
verify_dir=$dest.verify
mkdir -p "$verify_dir"
warnings=
for name in vpowerd vpower-agent vpower-agent-mount; do
  sed "s|$sbindir/|$dest$sbindir/|" "$dest$systemdsystemunitdir/$name.service" > "$verify_dir/$name.service"
done
if command -v systemd-analyze >/dev/null; then
  warnings=$(cd "$verify_dir" && systemd-analyze verify --man=no vpowerd.service vpower-agent-mount.service \
    vpower-agent.service 2>&1) && [ -z "$warnings" ]
  vp_ok $? "systemd-analyze verify accepts the units${warnings:+: $warnings}"
else
  vp_skip_or_fail "no systemd-analyze"
fi
rm -rf "$verify_dir"

grep -qx 'Type=notify' "$unit" && grep -qx 'Before=libvirtd.service virtqemud.service' "$unit" &&
  grep -qE '^WatchdogSec=[1-9]' "$unit" && grep -qx 'OOMScoreAdjust=-1000' "$unit" &&
  grep -qE '^ExecStopPost=-.*fusermount3 -u -z ' "$unit" &&
  ! grep -qE '^(ProtectSystem|PrivateTmp|PrivateMounts|ProtectHome|ProtectKernel[A-Za-z]*|ReadOnlyPaths|TemporaryFileSystem)=' "$unit"
vp_ok $? "vpowerd.service: notify, watchdog, before libvirtd, OOM-protected, no private mount namespace"

man_dir=$dest$mandir
groff -man -Tascii "$man_dir/man8/vpowerctl.8" 2>/dev/null | grep -q 'attach'
vp_ok $? "the installed vpowerctl(8) renders"

# An operator's configuration survives a second installation (scripts/quickstart.sh run again) and
# an uninstallation, as dpkg keeps a changed conffile.
conf=$dest$sysconfdir/vpower/vpowerd.conf
echo 'interval = 2' >>"$conf"
$MAKE -C "$abs_top_builddir" install DESTDIR="$dest" >"$dest.log" 2>&1 &&
  grep -qx 'interval = 2' "$conf" && grep -q "^keeping $conf, which exists" "$dest.log"
vp_ok $? "a second make install keeps an edited vpowerd.conf, and says so"
$MAKE -C "$abs_top_builddir" uninstall DESTDIR="$dest" >"$dest.log" 2>&1 &&
  grep -qx 'interval = 2' "$conf" && grep -q "^keeping $conf, which differs" "$dest.log"
vp_ok $? "make uninstall keeps the edited vpowerd.conf too, and says so"
rm -f "$conf"
left=$(find "$dest" -type f)
[ -z "$left" ]
vp_ok $? "make uninstall removes every other file${left:+ (left: $left)}"
rm -f "$dest.log"
vp_finish
