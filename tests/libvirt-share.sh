#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end: real TCG guests under a real libvirtd read their own energy counters from the
# FUSE tree. One is defined and started, shared over 9p, with QEMU running as a non-root user
# (a static DAC label); one is transient (virsh create), shared over virtiofs, and only starts
# because the libvirt hook makes its directory first. Each guest reads intel-rapl:0/energy_uj
# and prints it on its serial console; the values must increase, equal what the API published
# for that VM, and show no error although the engine is killed -9 while they read.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
nine=vp-9p-$$
vfs=vp-vfs-$$

vp_require_fuse
[ -x "$abs_top_builddir/vpower-hook" ] || vp_skip_or_fail "no vpower-hook binary"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
cleanup () {
  local d
  for d in "$nine" "$vfs"; do
    virsh -c "$URI" destroy "$d" >/dev/null 2>&1
    virsh -c "$URI" undefine "$d" >/dev/null 2>&1
  done
  rm -f "$VP_HOOK_ENV"
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work/vpowerd.log" 2>/dev/null
  exit 1
}

vp_plan 20

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
"$abs_top_srcdir/tests/guest/build-guest.sh" "$cache" >>"$work/setup.log" 2>&1 || bail "build-guest.sh failed"

# The hook (tests/lib.sh): without it first, so that it is this test's reload that makes libvirtd see it.
libvirtd_pid=$(cat /run/libvirtd.pid)
rm -f "$VP_HOOK_LINK"
vp_libvirtd_reload || bail "libvirtd did not reload"
vp_libvirt_hook_install && vp_libvirtd_reload && [ "$(cat /run/libvirtd.pid)" = "$libvirtd_pid" ] && virsh -c "$URI" uri >/dev/null
vp_ok $? "a reload, not a restart, makes libvirtd run the hook just installed in qemu.d (libvirtd $libvirtd_pid)"
vp_libvirt_hook_use "$abs_top_builddir/vpower-hook" "$work/run"

# QEMU as a non-root user must reach the kernel and write its console.
guest=$work/guest
mkdir -p "$guest" && cp "$cache/vmlinux" "$cache/initramfs.gz" "$guest/" && chmod 777 "$guest"
qemu_uid=$(id -u libvirt-qemu) && qemu_gid=$(id -g libvirt-qemu) || bail "no libvirt-qemu user"

vp_start_mounted "$work/vpowerd.log" --inventory libvirt --connect "$URI" --sensor model --interval 1 \
  --state-dir "$work/state" || bail "vpowerd did not start"
vp_ok 0 "vpowerd mounts the tree at $VP_MNT with the libvirt inventory"

# Record every value the API publishes for both guests while they run.
python3 - "$VP_URL" "$work/published" "$work/stop-recording" <<'PY' & pids+=($!)
import json, os, sys, time, urllib.request
url, out, stop = sys.argv[1:4]
with open(out, "w") as f:
    while not os.path.exists(stop):
        try:
            for vm in json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=2))["vms"]:
                for z in vm["zones"]:
                    if z["index"] == "0":
                        f.write(f"{vm['name']} {z['energy_uj']}\n")
            f.flush()
        except Exception:
            pass
        time.sleep(0.1)
PY

# 9p, defined then started, QEMU as libvirt-qemu: its directory exists as soon
# as it is defined, owned by the user of its static DAC label.
VP_GUEST_DAC_LABEL="+$qemu_uid:+$qemu_gid" VP_GUEST_ARGS="vp.reads=14" \
  "$abs_top_srcdir/tests/guest/domain.sh" "$nine" read9p "$guest" "$VP_MNT/$nine" 9p > "$work/$nine.xml"
virsh -c "$URI" define "$work/$nine.xml" >>"$work/setup.log" 2>&1 || bail "cannot define $nine"
dir_owned () { [ "$(stat -c %u:%g "$VP_MNT/$1/intel-rapl/intel-rapl:0/energy_uj" 2>/dev/null)" = "$2" ]; }
vp_check "a defined domain's directory appears, owned by its QEMU user" vp_wait_for 10 dir_owned "$nine" "$qemu_uid:$qemu_gid"

# virtiofs, transient: unknown to vpowerd until libvirt's hook announces it.
VP_GUEST_ARGS="vp.reads=14" \
  "$abs_top_srcdir/tests/guest/domain.sh" "$vfs" readvirtiofs "$guest" "$VP_MNT/$vfs" virtiofs > "$work/$vfs.xml"
[ ! -e "$VP_MNT/$vfs" ]
vp_ok $? "a transient domain has no directory before it is created"

virsh -c "$URI" start "$nine" >>"$work/setup.log" 2>&1
vp_ok $? "virsh start of the 9p guest succeeds"
virsh -c "$URI" create "$work/$vfs.xml" >>"$work/setup.log" 2>&1
vp_ok $? "virsh create of the virtiofs guest succeeds: the hook made its directory first"
grep -q "libvirt hook: $vfs .* is about to start" "$work/vpowerd.log"
vp_ok $? "the hook's announcement is logged"

qemu_pid=$(cat "/run/libvirt/qemu/$nine.pid" 2>/dev/null)
[ -n "$qemu_pid" ] && [ "$(stat -c %u "/proc/$qemu_pid")" = "$qemu_uid" ]
vp_ok $? "the 9p guest's QEMU runs as libvirt-qemu (uid $qemu_uid)"

# Kill the engine while both guests read (after their first values).
reading () { grep -q VP-VALUE "$guest/$1.console" 2>/dev/null; }
vp_wait_for 90 reading "$nine" && vp_wait_for 60 reading "$vfs" || {
  sed 's/^/# console: /' "$guest/$nine.console" "$guest/$vfs.console" 2>/dev/null; bail "the guests never read"; }
vp_wait_for 5 vp_ticks_at_least 1
engine=$(vp_engine_pid)
kill -9 "$engine"
vp_ok $? "the engine (pid $engine) is killed -9 while the guests read"
new_engine () { local e; e=$(vp_engine_pid) && [ -n "$e" ] && [ "$e" != "$engine" ]; }
vp_check "the mount holder starts a new engine" vp_wait_for 10 new_engine

done_reading () { grep -q VP-DONE "$guest/$1.console" 2>/dev/null; }
vp_wait_for 90 done_reading "$nine"; vp_wait_for 60 done_reading "$vfs"
touch "$work/stop-recording"

check_guest () {
  local vm=$1 console=$guest/$1.console
  sed 's/^/# console: /' "$console" | grep -E 'VP-|rror' | head -20
  grep -q VP-DONE "$console"
  vp_ok $? "$vm: the guest read its energy_uj to the end"
  ! grep -q VP-ERROR "$console"
  vp_ok $? "$vm: no read error in the guest, across the engine's kill -9"
  python3 - "$console" "$work/published" "$vm" <<'PY'
import sys
console, published, vm = sys.argv[1:4]
values = [int(l.split()[1]) for l in open(console, errors="replace") if l.startswith("VP-VALUE ")]
api = {int(l.split()[1]) for l in open(published) if l.split()[0] == vm}
increasing = all(b >= a for a, b in zip(values, values[1:])) and values[-1] > values[0]
unknown = [v for v in values if v not in api]
print(f"# {vm}: {len(values)} values {values[0]}..{values[-1]}; not published by the API: {unknown}")
sys.exit(0 if len(values) >= 10 and increasing and not unknown else 1)
PY
  vp_ok $? "$vm: the guest's values increase and each equals a value the API published for it"
}
check_guest "$nine"
check_guest "$vfs"

# Host users other than the VM's QEMU user cannot read its counter.
! setpriv --reuid=65534 --regid=65534 --clear-groups cat "$VP_MNT/$nine/intel-rapl:0/energy_uj" >/dev/null 2>&1
vp_ok $? "another host user cannot read the 9p guest's energy_uj"
gone_after_exit () { [ ! -e "$VP_MNT/$vfs" ]; }
vp_check "the transient domain's directory goes when it ends" vp_wait_for 30 gone_after_exit

vp_stop_vpowerd
vp_ok $? "vpowerd stops cleanly"
unmounted () { ! mountpoint -q "$VP_MNT"; }
vp_check "and the tree is unmounted" vp_wait_for 10 unmounted

vp_finish
