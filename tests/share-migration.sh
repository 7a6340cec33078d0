#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shares across live migration and save, on the stack at hand (issue 23): what a guest that
# reads its counters from a mounted 9p or virtiofs share sees when its VM is migrated A -> B -> A
# and saved and restored. Host A is the system libvirtd, host B a second libvirtd in its own mount
# namespace (tests/helpers/libvirtd-b.sh). Each has its own vpowerd, fixture RAPL at its own power
# (A 100 W, B 60 W), and its tree mounted at the same path, as on two real hosts, so that one domain
# XML serves both. Two TCG guests, one per share, read energy_uj every 0.3 s throughout.
#
# What is allowed depends on the stack, and the stack says which:
#  - 9p: QEMU refuses migration and save while the guest has the share mounted.
#  - virtiofs: libvirt migrates (and saves) a VM with a virtiofs device only when virtiofsd's
#    vhost-user descriptor in /usr/share/qemu/vhost-user declares "migrate-precopy": Debian 13's
#    virtiofsd 1.13 does, Debian 12's C virtiofsd does not.
# Where a stack refuses, checked: the refusal harms nothing (the VM runs on, its guest reads on).
# Where virtiofs migrates, checked: A -> B -> A and save/restore succeed; the guest's reads never
# fail; each value it reads is one that the host it runs on published for it (the share is a window
# onto that host's tree: at each change of host the value jumps to the other host's counter, and
# the test prints the jumps); back on A it continues A's counter; each host's books conserve.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI_A=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
vfs=vp-smv-$$
nine=vp-sm9-$$

vp_require_fuse
[ -x "$abs_top_builddir/vpower-hook" ] || vp_skip_or_fail "no vpower-hook binary"
command -v nsenter >/dev/null && command -v unshare >/dev/null || vp_skip_or_fail "no nsenter/unshare (util-linux)"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
B_PID=
cleanup () {
  local d
  for d in "$vfs" "$nine"; do
    virsh -c "$URI_A" destroy "$d" >/dev/null 2>&1
    virsh -c "$URI_A" undefine "$d" >/dev/null 2>&1
  done
  rm -f "$VP_HOOK_ENV"
  [ -n "$B_PID" ] && kill -TERM "$B_PID" 2>/dev/null && wait "$B_PID" 2>/dev/null
  "$abs_top_srcdir/tests/helpers/libvirtd-b.sh" stop "$work/B" >/dev/null 2>&1
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work/vpowerd-a.log" "$work/vpowerd-b.log" 2>/dev/null | tail -60
  for d in "$vfs" "$nine"; do sed "s/^/# $d: /" "$guest/$d.console" 2>/dev/null | grep -v VP-VALUE | tail -10; done
  exit 1
}
console_has () { grep -q "$2" "$guest/$1.console" 2>/dev/null; }
n_values () { grep -c '^VP-VALUE' "$guest/$1.console" 2>/dev/null; }
# reads_go_on VM FROM N: the guest has read N distinct values after its read number FROM.
reads_go_on () {
  [ "$(sed -n 's/^VP-VALUE \([0-9]*\).*/\1/p' "$guest/$1.console" | tail -n +$(($2 + 1)) | sort -u | wc -l)" -ge "$3" ]
}
vm_state_on () {   # vm_state_on URL VM: the state the host's API shows, or "absent"
  vp_get "$1/api/v1/vms" | python3 -c "
import json, sys
v = [x for x in json.load(sys.stdin)['vms'] if x['name'] == '$2']
print(v[0]['state'] if v else 'absent')"
}
published_on () { [ "$(vm_state_on "$1" "$2")" = "$3" ]; }
# explain VM: after a failed check, what each half saw: each host's state for VM, how many values
# the guest read, its console's last lines (a stuck read shows as silence, or the kernel's hung
# task report) and the last lines of each host's virtiofsd log.
explain () {
  vp_diag "$1: A shows $(vm_state_on "$URL_A" "$1"), B shows $(vm_state_on "$URL_B" "$1"); the guest read $(n_values "$1") values"
  grep -v '^VP-VALUE' "$guest/$1.console" 2>/dev/null | tail -5 | sed "s/^/console: /" | while IFS= read -r line; do vp_diag "$line"; done
  local log
  for log in /var/log/libvirt/qemu/"$1"*virtiofsd.log "$work"/B/log/qemu/"$1"*virtiofsd.log; do
    [ -f "$log" ] && tail -5 "$log" | while IFS= read -r line; do vp_diag "$(basename "$log"): $line"; done
  done
  return 1
}
migrate () {   # migrate VM FROM-URI TO-URI: the time it took and any error go to the log
  local start=$SECONDS status
  virsh -c "$2" migrate --live "$1" "$3" --migrateuri "tcp://127.0.0.1:$(vp_free_port)" >"$work/migrate.err" 2>&1
  status=$?
  vp_diag "migrate $1 took $((SECONDS - start)) s (status $status) $(tr '\n' ' ' <"$work/migrate.err")"
  return $status
}

# Does this stack's virtiofsd say it can migrate? libvirt's own rule (qemuMigrationSrcIsAllowed).
vfs_migrates=$(python3 - <<'PY'
import glob, json
ok = False
for path in sorted(glob.glob("/usr/share/qemu/vhost-user/*.json")):
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        continue
    if d.get("type") == "fs":
        ok = "migrate-precopy" in d.get("features", [])
        break
print("yes" if ok else "no")
PY
)
if [ "$vfs_migrates" = yes ]; then vp_plan 16; else vp_plan 12; fi
vp_diag "$(qemu-system-x86_64 --version | head -1); libvirtd $(libvirtd --version | awk '{print $NF}'); virtiofsd migrates: $vfs_migrates"

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
"$abs_top_srcdir/tests/guest/build-guest.sh" "$cache" >>"$work/setup.log" 2>&1 || bail "build-guest.sh failed"
guest=$work/guest
mkdir -p "$guest" && cp "$cache/vmlinux" "$cache/initramfs.gz" "$guest/" && chmod 777 "$guest"

# A runs vpower-hook too (tests/lib.sh), as B does: an incoming virtiofs VM needs its directory
# before virtiofsd starts, and "migrate begin" makes it.
vp_libvirt_hook_install && vp_libvirtd_reload || bail "libvirtd A did not take the hook"
vp_libvirt_hook_use "$abs_top_builddir/vpower-hook" "$work/run"
# B's tree at A's path ($work/mnt, vp_start_mounted's), in B's mount namespace.
vp_two_hosts_start "$work/mnt" --sensor powercap --allow-fast-updates --interval 0.5 --save-interval 5 \
  2>>"$work/setup.log" || bail "$(tail -1 "$work/setup.log")"
vp_ok 0 "vpowerd A and B each mount their own tree at $VP_MNT"

# Every tick of each host: "HOST VM ENERGY_UJ" for zone 0 (the package).
python3 - "$URL_A" "$URL_B" "$work/published" "$work/stop-recording" <<'PY' &
import json, os, sys, time, urllib.request
urls, out, stop = {"A": sys.argv[1], "B": sys.argv[2]}, sys.argv[3], sys.argv[4]
last = {}
with open(out, "w") as f:
    while not os.path.exists(stop):
        for host, url in urls.items():
            try:
                d = json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=2))
            except Exception:
                continue
            if d["ticks"] == last.get(host):
                continue
            last[host] = d["ticks"]
            for v in d["vms"]:
                f.write(f"{host} {v['name']} {v['zones'][0]['energy_uj']}\n")
            f.flush()
        time.sleep(0.03)
PY
pids+=($!)

# Both guests defined and started on A; each reads until it is destroyed.
VP_GUEST_ARGS="vp.reads=100000 vp.period=0.3" \
  "$abs_top_srcdir/tests/guest/domain.sh" "$vfs" readvirtiofs "$guest" "$VP_MNT/$vfs" virtiofs >"$work/$vfs.xml"
VP_GUEST_ARGS="vp.reads=100000 vp.period=0.3" \
  "$abs_top_srcdir/tests/guest/domain.sh" "$nine" read9p "$guest" "$VP_MNT/$nine" 9p >"$work/$nine.xml"
for d in "$vfs" "$nine"; do
  virsh -c "$URI_A" define "$work/$d.xml" >>"$work/setup.log" 2>&1 && virsh -c "$URI_A" start "$d" >>"$work/setup.log" 2>&1 ||
    bail "cannot start $d on A"
done
vp_wait_for 120 reads_go_on "$vfs" 0 3 && vp_wait_for 60 reads_go_on "$nine" 0 3 || bail "the guests do not read their shares"
vp_ok 0 "both guests mounted their share on A and read their counters"

# refused VM WHAT WHY: migration and save of VM are refused, and it runs on on A, its guest reading.
refused () {
  ! migrate "$1" "$URI_A" "$URI_B"
  vp_ok $? "$2: virsh migrate --live is refused ($3)"
  ! virsh -c "$URI_A" save "$1" "$work/$1.save" >"$work/save.err" 2>&1
  local status=$?
  vp_diag "save $1: $(tr '\n' ' ' <"$work/save.err")"
  vp_ok $status "$2: virsh save is refused too"
  seen=$(n_values "$1")
  published_on "$URL_A" "$1" running && vp_wait_for 20 reads_go_on "$1" "$seen" 4
  vp_ok $? "$2: the VM runs on on A and its guest reads on"
}

# --- 9p, mounted: QEMU refuses migration and save.
refused "$nine" 9p "the guest has the share mounted"

# --- virtiofs.
if [ "$vfs_migrates" = yes ]; then
  migrate "$vfs" "$URI_A" "$URI_B"
  vp_ok $? "virtiofs: virsh migrate --live A -> B succeeds with the share mounted in the guest"
  seen=$(n_values "$vfs")
  vp_wait_for 10 published_on "$URL_B" "$vfs" running && vp_wait_for 20 reads_go_on "$vfs" "$seen" 4 || explain "$vfs"
  vp_ok $? "virtiofs: B publishes the VM, running, and the guest reads on from B's tree"
  migrate "$vfs" "$URI_B" "$URI_A"
  vp_ok $? "virtiofs: virsh migrate --live B -> A succeeds"
  seen=$(n_values "$vfs")
  vp_wait_for 10 published_on "$URL_A" "$vfs" running && vp_wait_for 10 published_on "$URL_B" "$vfs" absent &&
    vp_wait_for 20 reads_go_on "$vfs" "$seen" 4 || explain "$vfs"
  vp_ok $? "virtiofs: back on A, published there again and gone from B, the guest reads on"
  virsh -c "$URI_A" save "$vfs" "$work/$vfs.save" >>"$work/setup.log" 2>&1 &&
    virsh -c "$URI_A" restore "$work/$vfs.save" >>"$work/setup.log" 2>&1
  vp_ok $? "virtiofs: virsh save, then restore, on A"
  seen=$(n_values "$vfs")
  vp_wait_for 10 published_on "$URL_A" "$vfs" running && vp_wait_for 20 reads_go_on "$vfs" "$seen" 4 || explain "$vfs"
  vp_ok $? "virtiofs: restored, the guest reads on"
  visits="A B A"
else
  refused "$vfs" virtiofs "virtiofsd does not declare migrate-precopy"
  visits="A"
fi

# --- What the guests read, against what each host published.
for d in "$vfs" "$nine"; do virsh -c "$URI_A" destroy "$d" >>"$work/setup.log" 2>&1; done
touch "$work/stop-recording"
! console_has "$vfs" '^VP-ERROR' && ! console_has "$nine" '^VP-ERROR'
vp_ok $? "neither guest's reads ever failed"
max=$(cat "$work/rapl-a/intel-rapl:0/max_energy_range_uj")
# follows VM VISITS: each value the guest read is one that a host published for it; the hosts it
# read from, in order, are VISITS; within a visit its values never go back; and on a host it comes
# back to, it continues from its last value there. Prints each change of host.
follows () {
  python3 - "$guest/$1.console" "$work/published" "$1" "$max" "$2" <<'PY'
import sys
console, published, vm, m, visits = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split()
values = [int(l.split()[1]) for l in open(console, errors="replace") if l.startswith("VP-VALUE ")]
hosts = {}
for line in open(published):
    host, name, value = line.split()
    if name == vm:
        hosts.setdefault(int(value), set()).add(host)
unknown = [v for v in values if v not in hosts]
runs = []   # [host, [values]]
for v in values:
    if v in unknown:
        continue
    host = min(hosts[v])
    if not runs or runs[-1][0] != host:
        runs.append([host, []])
    runs[-1][1].append(v)
forward = lambda a, b: b >= a or (a > m // 2 and b < m // 2)   # a wrap is no decrease
ok = not unknown and [r[0] for r in runs] == visits
for run in runs:
    ok = ok and all(forward(a, b) for a, b in zip(run[1], run[1][1:]))
for earlier, later in zip(runs, runs[1:]):
    print(f"# {vm}: {earlier[0]} -> {later[0]}: the guest's value jumps {earlier[1][-1]} -> {later[1][0]}")
last = {}
for host, vals in runs:
    if host in last:
        print(f"# {vm}: back on {host}: {last[host]} -> {vals[0]}, its counter there continues")
        ok = ok and forward(last[host], vals[0])
    last[host] = vals[-1]
print(f"# {vm}: {len(values)} reads from {' '.join(r[0] for r in runs)}; not published: {unknown[:5]}")
sys.exit(0 if ok and len(values) >= 10 else 1)
PY
}
follows "$nine" A
vp_ok $? "9p: each value the guest read is one A published for it, never going back"
follows "$vfs" "$visits"
vp_ok $? "virtiofs: each value the guest read is one the host it ran on published for it (hosts: $visits), never going back on one host"
if [ "$vfs_migrates" = yes ]; then
  vp_books_conserve "$URL_A" 3 && vp_books_conserve "$URL_B" 3
  vp_ok $? "each host's books conserve exactly (the VM's energy on B kept there as departed)"
fi

kill -TERM "$B_PID" && wait "$B_PID"
status=$?; B_PID=
vp_stop_vpowerd && [ $status -eq 0 ]
vp_ok $? "both vpowerds stop cleanly"
vp_finish
