#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make install DESTDIR=...` puts what each half built (configure --disable-host/--disable-guest)
# where configure said: the programs, the hook, the sample configuration, the systemd units, the
# man pages and, with the host's half, the monitoring files (with --prefix=/usr --sysconfdir=/etc,
# as the Quick start and CI configure, exactly where Debian expects them); the programs run from
# there, the units pass systemd-analyze verify, an edited configuration survives a second install
# and an uninstall, and `make uninstall` takes everything else away.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

: "${MAKE:=make}"
for var in prefix sbindir pkglibexecdir pkgdatadir sysconfdir mandir systemdsystemunitdir VP_BUILT_HOST VP_BUILT_GUEST; do
  [ -n "${!var:-}" ] || { echo "Bail out! \$$var is not set (run through make check)"; exit 1; }
done
host=false guest=false
[ "$VP_BUILT_HOST" = yes ] && host=true
[ "$VP_BUILT_GUEST" = yes ] && guest=true
dest=$(mktemp -d)
trap 'rm -rf "$dest" "$dest.log"' EXIT
checks=8
$host && checks=$((checks + 4))
$guest && checks=$((checks + 1))
vp_plan $checks

$MAKE -C "$abs_top_builddir" install DESTDIR="$dest" >"$dest.log" 2>&1
status=$?
[ $status -eq 0 ] || sed 's/^/# /' "$dest.log" | tail -20
vp_ok $status "make install DESTDIR=... succeeds"

# With --prefix=/usr --sysconfdir=/etc the paths must be Debian's (FHS, dh's defaults, systemd
# units in /lib on bookworm), whatever configure computed; otherwise configure's own directories.
if [ "$prefix" = /usr ] && [ "$sysconfdir" = /etc ]; then
  sbin=/usr/sbin libexec=/usr/libexec/vpower etc=/etc units=/lib/systemd/system man=/usr/share/man
  data=/usr/share/vpower layout="Debian's layout"
else
  sbin=$sbindir libexec=$pkglibexecdir etc=$sysconfdir units=$systemdsystemunitdir man=$mandir
  data=$pkgdatadir layout="configure's directories (prefix $prefix)"
fi
# The fleet view: Prometheus rules, their unit tests and the Grafana dashboards, as in the source.
monitoring_files () { (cd "$abs_top_srcdir" && find monitoring -type f \( -name '*.yml' -o -name '*.json' \) | sed "s|^|$1/|"); }
# The hook is in sbin, where the libvirtd AppArmor profile of Debian and Ubuntu lets libvirtd
# execute it (vpower-hook(8)).
host_programs="$sbin/vpowerd $sbin/vpowerctl $sbin/vpower-hook"
guest_programs="$sbin/vpower-agent $libexec/vpower-agent-tree"
expected=
$host && expected="$host_programs $etc/vpower/vpowerd.conf $units/vpowerd.service
  $man/man8/vpowerd.8 $man/man8/vpowerctl.8 $man/man8/vpower-hook.8 $man/man5/vpowerd.conf.5
  $(monitoring_files "$data")"
$guest && expected="$expected $guest_programs $etc/vpower/vpower-agent.conf
  $units/vpower-agent.service $units/vpower-agent-mount.service
  $man/man8/vpower-agent.8 $man/man7/vpower-channel.7"
halves="$($host && echo "the host's half")$($host && $guest && echo " and ")$($guest && echo "the guest's half")"

missing=
for file in $expected; do [ -f "$dest$file" ] || missing="$missing $file"; done
[ -z "$missing" ]
vp_ok $? "every file of $halves is installed in $layout${missing:+ (missing:$missing)}"

unexpected=$(cd "$dest" && find . -type f | sed 's|^\.||' | sort | comm -23 - <(tr -s ' \n' '\n' <<<"$expected" | sed '/^$/d' | sort))
[ -z "$unexpected" ]
vp_ok $? "and nothing else${unexpected:+ (also: $unexpected)}"

runs=true
for file in $($host && echo "$host_programs") $($guest && echo "$guest_programs"); do
  [ -x "$dest$file" ] || runs=false
done
$runs && { ! $host || { "$dest$sbin/vpowerctl" --version | grep -q "^vpowerctl " &&
                        "$dest$sbin/vpowerd" --version | grep -q "vpowerd" &&
                        "$dest$sbin/vpower-hook" --help 2>&1 | grep -q 'qemu.d/vpower'; }; } &&
  { ! $guest || "$dest$sbin/vpower-agent" --version | grep -q "vpower-agent"; }
vp_ok $? "the installed programs are executable and run"

# systemd's own parser: the units as installed, their binaries looked up in DESTDIR.
verify_dir=$dest.verify
mkdir -p "$verify_dir"
units_built="$($host && echo vpowerd.service) $($guest && echo vpower-agent.service vpower-agent-mount.service)"
for name in $units_built; do
  sed "s|$sbindir/|$dest$sbindir/|" "$dest$systemdsystemunitdir/$name" > "$verify_dir/$name"
done
if command -v systemd-analyze >/dev/null; then
  warnings=$(cd "$verify_dir" && systemd-analyze verify --man=no $units_built 2>&1) && [ -z "$warnings" ]
  vp_ok $? "systemd-analyze verify accepts the units ($units_built)${warnings:+: $warnings}"
else
  vp_skip_one "systemd-analyze verify accepts the units ($units_built)" "no systemd-analyze"
fi
rm -rf "$verify_dir"

if $host; then
  conf=$dest$sysconfdir/vpower/vpowerd.conf
  [ "$(stat -c %a "$conf")" = 644 ] && grep -q '^\[vpowerd\]' "$conf"
  vp_ok $? "the sample vpowerd.conf is installed 0644 with its [vpowerd] group"

  unit=$dest$systemdsystemunitdir/vpowerd.service
  grep -qx "ExecStart=$sbindir/vpowerd --foreground" "$unit" && ! grep -q '@[a-zA-Z_]*@' "$unit"
  vp_ok $? "vpowerd.service starts the installed vpowerd, with every @variable@ substituted"

  # Ordered before, and wanted by, libvirt's QEMU daemon: monolithic (Debian) or modular (EL9, Fedora);
  # ordered before Proxmox VE's start of its VMs (its channels' directory).
  grep -qx 'Type=notify' "$unit" && grep -qx 'Before=libvirtd.service virtqemud.service pve-guests.service' "$unit" &&
    grep -qx 'WantedBy=multi-user.target libvirtd.service virtqemud.service' "$unit" &&
    grep -qE '^WatchdogSec=[1-9]' "$unit" && grep -qx 'OOMScoreAdjust=-1000' "$unit" &&
    grep -qE '^ExecStopPost=-.*fusermount3 -u -z ' "$unit" &&
    ! grep -qE '^(ProtectSystem|PrivateTmp|PrivateMounts|ProtectHome|ProtectKernel[A-Za-z]*|ReadOnlyPaths|TemporaryFileSystem)=' "$unit"
  vp_ok $? "vpowerd.service: notify, watchdog, before and wanted by libvirtd and virtqemud, before pve-guests, OOM-protected, no private mount namespace"

  # grep reads all of groff's output: grep -q would leave at the first match, and groff, killed by
  # SIGPIPE while writing the rest, would fail the pipeline (pipefail) on a busy machine.
  groff -man -Tascii "$dest$mandir/man8/vpowerctl.8" 2>/dev/null | grep 'attach' >/dev/null
  vp_ok $? "the installed vpowerctl(8) renders"
fi
if $guest; then
  groff -man -Tascii "$dest$mandir/man8/vpower-agent.8" 2>/dev/null | grep 'bind-sysfs' >/dev/null
  vp_ok $? "the installed vpower-agent(8) renders"
fi

# An operator's configuration survives a second installation (scripts/quickstart.sh run again) and
# an uninstallation, as dpkg keeps a changed conffile.
conf=$dest$sysconfdir/vpower/$($host && echo vpowerd.conf || echo vpower-agent.conf)
echo 'interval = 2' >>"$conf"
$MAKE -C "$abs_top_builddir" install DESTDIR="$dest" >"$dest.log" 2>&1 &&
  grep -qx 'interval = 2' "$conf" && grep -q "^keeping $conf, which exists" "$dest.log"
vp_ok $? "a second make install keeps an edited $(basename "$conf"), and says so"
$MAKE -C "$abs_top_builddir" uninstall DESTDIR="$dest" >"$dest.log" 2>&1 &&
  grep -qx 'interval = 2' "$conf" && grep -q "^keeping $conf, which differs" "$dest.log"
vp_ok $? "make uninstall keeps the edited $(basename "$conf") too, and says so"
rm -f "$conf"
left=$(find "$dest" -type f)
[ -z "$left" ]
vp_ok $? "make uninstall removes every other file${left:+ (left: $left)}"
vp_finish
