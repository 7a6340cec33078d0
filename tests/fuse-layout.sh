#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: the per-VM powercap tree over a real FUSE mount, for three fixture hosts (one
# socket; two sockets with dram; psys) and the aggregate topology: the layout, modes and owners
# of a host's /sys/class/powercap, values equal to the JSON API's, and every write refused.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tree-checks.sh"

vp_require_fuse
vp_setup_workdir
chmod 755 "$work"   # other users must reach the mount to be refused by it
vp_plan 27

"$VP_BURN" 0.3 & pids+=($!); busy=$!
cat > "$work/vms.ini" <<INI
[web1]
uuid=aaaaaaaa-0000-4000-8000-000000000001
pid=$busy
owner=+4242:+4343
[db]
uuid=bbbbbbbb-0000-4000-8000-000000000002
INI

# name and max_energy_range_uj read through the flat links equal the host's.
same_zone_files () {
  local root=$1 vm=$2 zone
  for zone in $(cd "$root" && ls -d intel-rapl:*); do
    # Not cmp -s: it trusts st_size, and sysfs-like files all say 4096.
    [ "$(cat "$root/$zone/name")" = "$(cat "$vm/$zone/name")" ] || { vp_diag "$zone/name differs"; return 1; }
    [ "$(cat "$root/$zone/max_energy_range_uj")" = "$(cat "$vm/$zone/max_energy_range_uj")" ] ||
      { vp_diag "$zone/max_energy_range_uj differs"; return 1; }
  done
}

# Every VM's energy_uj equals the API's value from one snapshot: read the API,
# the files, and the API again; only a read between two equal ticks counts.
values_match_api () {
  python3 - "$VP_URL" "$VP_MNT" <<'PY'
import json, sys, urllib.request
url, mnt = sys.argv[1], sys.argv[2]
def api():
    return json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=5))
for attempt in range(50):
    before = api()
    files = {(vm["name"], z["index"]): open(f"{mnt}/{vm['name']}/intel-rapl:{z['index']}/energy_uj").read()
             for vm in before["vms"] for z in vm["zones"]}
    after = api()
    if before["ticks"] != after["ticks"]:
        continue
    wanted = {(vm["name"], z["index"]): f"{z['energy_uj']}\n" for vm in after["vms"] for z in vm["zones"]}
    nonzero = any(v != "0\n" for v in wanted.values())
    print(f"# tick {after['ticks']}: {len(files)} files compared", file=sys.stderr)
    sys.exit(0 if files == wanted and nonzero else 1)
sys.exit(1)
PY
}

check_fixture () {
  local label=$1 root=$2
  shift 2
  vp_start_mounted "$work/$label.log" --sensor powercap --powercap-root "$root" \
    --inventory "static:$work/vms.ini" --interval 1 --state-dir "$work/state-$label" "$@"
  vp_ok $? "$label: vpowerd mounts the tree and ticks"
  vp_wait_for 10 vp_ticks_at_least 2
  diff <(vp_tree_expected_layout "$root" 4242:4343) <(vp_tree_actual_layout "$VP_MNT/web1") >"$work/diff" 2>&1
  vp_ok $? "$label: web1 has the host's powercap layout, modes and QEMU owner"
  sed 's/^/# /' "$work/diff"
  diff <(vp_tree_expected_layout "$root" 0:0) <(vp_tree_actual_layout "$VP_MNT/db") >/dev/null
  vp_ok $? "$label: a VM whose QEMU user is unknown is root's"
  vp_check "$label: name and max_energy_range_uj are the host's" same_zone_files "$root" "$VP_MNT/web1"
  vp_check "$label: every energy_uj equals the JSON API's value" values_match_api
}

cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/single"
"$VP_FAKE_RAPL" "$work/single" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!)
check_fixture single "$work/single"

# Mount options, and who may read what.
vp_check "the mount is ro,nosuid,nodev,noexec with allow_other and default_permissions" vp_tree_mount_options "$VP_MNT"
as_user () { local who=$1; shift; setpriv --reuid="${who%:*}" --regid="${who#*:}" --clear-groups "$@" >/dev/null; }
vp_check "web1's QEMU user reads its energy_uj" as_user 4242:4343 cat "$VP_MNT/web1/intel-rapl:0/energy_uj"
! as_user 65534:65534 cat "$VP_MNT/web1/intel-rapl:0/energy_uj" 2>/dev/null
vp_ok $? "another host user cannot read web1's energy_uj"
! as_user 4242:4343 cat "$VP_MNT/db/intel-rapl:0/energy_uj" 2>/dev/null
vp_ok $? "web1's QEMU user cannot read another VM's energy_uj"
vp_check "anyone reads name and max_energy_range_uj" as_user 65534:65534 cat "$VP_MNT/web1/intel-rapl:0/name" \
  "$VP_MNT/web1/intel-rapl:0/max_energy_range_uj"

# Writes of every kind are refused with EROFS or EACCES, and leave nothing behind; the same
# checks run on the guest agent's tree (tests/agent-channel.sh).
vp_check "writes, creates, chmod, chown, setxattr, unlink, rename and symlink get EROFS or EACCES" \
  vp_tree_writes_refused "$VP_MNT/web1"
mkdir "$VP_MNT/vm-new" 2>/dev/null
vp_ok $(( $? == 0 )) "no directory can be made at the mount's root"

# Hostile paths: unknown names are ENOENT, nothing leads out of a VM's directory.
paths_contained () {
  local vm
  [ ! -e "$VP_MNT/no-such-vm" ] || { vp_diag "no-such-vm exists"; return 1; }
  for vm in "$VP_MNT"/*; do vp_tree_paths_contained "$vm" || return 1; done
}
vp_check "unknown names are ENOENT and every symlink stays inside its VM's directory" paths_contained

# sysfs's read semantics (a held file re-read at offset 0, a value read in pieces) are
# tests/readers.sh's.

vp_stop_vpowerd
vp_ok $? "SIGTERM stops vpowerd with status 0"
! mountpoint -q "$VP_MNT"
vp_ok $? "and the tree is unmounted"

mkdir -p "$work/dual"
cp -R "$abs_top_srcdir/tests/data/powercap/dual-dram/." "$work/dual/"
"$VP_FAKE_RAPL" "$work/dual/class/powercap" intel-rapl:0=100 intel-rapl:1=80 intel-rapl:0:0=20 intel-rapl:1:0=15 & pids+=($!)
check_fixture dual-dram "$work/dual/class/powercap"
vp_stop_vpowerd

cp -R "$abs_top_srcdir/tests/data/powercap/psys" "$work/psys"
"$VP_FAKE_RAPL" "$work/psys" intel-rapl:0=60 intel-rapl:1=90 & pids+=($!)
check_fixture psys "$work/psys"
vp_stop_vpowerd

# Aggregate topology: one package-0 for the whole host, with the subzones.
vp_start_mounted "$work/aggregate.log" --sensor powercap --powercap-root "$work/dual/class/powercap" \
  --inventory "static:$work/vms.ini" --interval 1 --state-dir "$work/state-aggregate" --topology aggregate
aggregate_ok () {
  local packages
  packages=$(cat "$VP_MNT"/web1/intel-rapl/*/name | grep -c '^package-') || return 1
  [ "$packages" -eq 1 ] && [ "$(cat "$VP_MNT/web1/intel-rapl/intel-rapl:0/name")" = package-0 ] &&
    [ -z "$(ls -d "$VP_MNT"/web1/intel-rapl:1* 2>/dev/null)" ] &&
    [ -n "$(ls -d "$VP_MNT"/web1/intel-rapl/intel-rapl:0/intel-rapl:0:* 2>/dev/null)" ]
}
vp_wait_for 10 vp_ticks_at_least 2
vp_check "aggregate: one package-0 with its subzones, nested and flat" aggregate_ok
vp_check "aggregate: every energy_uj equals the JSON API's value" values_match_api
vp_stop_vpowerd

vp_finish
