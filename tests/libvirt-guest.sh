#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end TAP test: vpowerd attributes energy to a real libvirt TCG guest.
set -euo pipefail

: "${abs_top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$abs_top_srcdir/tests/lib.sh"

URI=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
name=vp-test-$$-$(date +%s)

vp_require_root
command -v python3 >/dev/null || vp_skip_or_fail "needs python3"
if ! command -v curl >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl >/dev/null ||
    vp_skip_or_fail "needs curl"
fi
[ -x "$VPOWERD" ] || vp_skip_or_fail "no vpowerd binary at $VPOWERD"

tmp=$(mktemp -d)
VP_PID=
cleanup () {
  if [ -n "$VP_PID" ]; then kill "$VP_PID" 2>/dev/null || true; wait "$VP_PID" 2>/dev/null || true; fi
  virsh -c "$URI" destroy "$name" >/dev/null 2>&1 || true
  virsh -c "$URI" undefine "$name" >/dev/null 2>&1 || true
  rm -rf "$tmp" "$cache/$name.console"
}
trap cleanup EXIT

# Setup failures make every later check meaningless: stop with their log.
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$tmp/setup.log" "$tmp/vpowerd.log" 2>/dev/null || true
  exit 1
}
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
phase_start=$(now_ms)
test_start=$phase_start
phase () {  # phase NAME: report how long the phase that just ended took
  local t; t=$(now_ms)
  vp_diag "$1: $(( (t - phase_start) / 1000 )).$(( (t - phase_start) % 1000 / 100 )) s"
  phase_start=$t
}

vp_plan 17

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$tmp/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
vp_ok 0 "libvirtd answers on $URI"
phase "libvirtd setup"

"$abs_top_srcdir/tests/guest/build-guest.sh" "$cache" >>"$tmp/setup.log" 2>&1 || bail "build-guest.sh failed"
vp_ok 0 "guest kernel and initramfs built in $cache"
phase "guest build (cached after the first run)"

# libvirt appends to the console file: a stale one could fake VP-READY.
rm -f "$cache/$name.console"
"$abs_top_srcdir/tests/guest/domain.sh" "$name" burn "$cache" >"$tmp/domain.xml"
{ virsh -c "$URI" define "$tmp/domain.xml" && virsh -c "$URI" start "$name"; } >>"$tmp/setup.log" 2>&1 ||
  bail "cannot define and start $name"
vp_ok 0 "guest $name defined and started"
phase "define + start"

guest_ready () { grep -q VP-READY "$cache/$name.console" 2>/dev/null; }
vp_wait_for 60 guest_ready || { sed 's/^/# console: /' "$cache/$name.console" 2>/dev/null; bail "guest never printed VP-READY"; }
vp_ok 0 "guest booted to VP-READY"
phase "boot to VP-READY"
qemu_pid=$(cat "/run/libvirt/qemu/$name.pid")

vp_start_vpowerd "$tmp/vpowerd.log" --inventory libvirt --connect "$URI" --sensor model \
  --interval 1 --state-dir "$tmp/state" || bail "vpowerd did not start"
healthz_ok () { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$VP_URL/healthz")" = 200 ]; }
vp_check "vpowerd /healthz returns 200" vp_wait_for 20 healthz_ok

# vm_read: sets pid, cpu, total from the guest's /api/v1/vms entry.
pid=0 cpu=0 total=0
vm_read () {
  local fields
  fields=$(vp_get "$VP_URL/api/v1/vms" | python3 -c '
import json, sys
vm = [v for v in json.load(sys.stdin)["vms"] if v["name"] == sys.argv[1]][0]
zone = [z for z in vm["zones"] if z["name"] == "package-0"][0]
print(vm["pid"], vm["cpu_seconds"], zone["total_uj"])' "$name" 2>/dev/null) || return 1
  read -r pid cpu total <<<"$fields"
}
positive () { python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > 0)' "$1"; }
vm_settled () { vm_read && [ "$pid" = "$qemu_pid" ] && positive "$cpu" && positive "$total"; }
vp_wait_for 30 vm_settled || true
vp_check "vpowerd reports the guest's QEMU pid $qemu_pid (got $pid)" [ "$pid" = "$qemu_pid" ]
vp_check "guest cpu_seconds > 0 (got $cpu)" positive "$cpu"
vp_check "guest package-0 total_uj > 0 (got $total)" positive "$total"

first=$total
total_grew () { vm_read && [ "$total" -gt "$first" ]; }
vp_wait_for 10 total_grew || true
vp_check "guest package-0 total_uj increases ($first -> $total)" [ "$total" -gt "$first" ]
phase "vpowerd checks"

# When the QEMU threads cannot be read, libvirt's cpu.time is the fallback:
# a second vpowerd whose --proc-root has /proc/stat but no processes.
mkdir -p "$tmp/proc/sys/kernel/random"
ln -s /proc/stat "$tmp/proc/stat"
cp /proc/sys/kernel/random/boot_id "$tmp/proc/sys/kernel/random/boot_id"
main_pid=$VP_PID main_url=$VP_URL
vp_start_vpowerd "$tmp/fallback.log" --inventory libvirt --connect "$URI" --sensor model \
  --interval 1 --state-dir "$tmp/state-fallback" --proc-root "$tmp/proc" || bail "fallback vpowerd did not start"
fallback_pid=$VP_PID
cpu=0 total=0
fallback_counts () { vm_read && positive "$cpu" && positive "$total"; }
vp_wait_for 20 fallback_counts || true
vp_check "without readable threads, the guest's CPU time comes from libvirt's cpu.time (got $cpu s)" \
  positive "$cpu"
vp_check "and the guest still gets energy (got $total uJ)" positive "$total"
kill "$fallback_pid"; wait "$fallback_pid" 2>/dev/null

# inventory=auto (the default): libvirt's VMs from libvirt, the other QEMU processes from /proc,
# each once. libvirt's QEMU is in both, and is counted once, as libvirt's.
qemu-system-x86_64 -name "guest=vp-plain-$$" -machine pc -accel tcg -m 32 -nodefaults -display none -S &
plain_qemu=$!
pids+=("$plain_qemu")
vp_start_vpowerd "$tmp/auto.log" --connect "$URI" --sensor model --interval 1 --state-dir "$tmp/state-auto" ||
  bail "vpowerd with inventory=auto did not start"
auto_pid=$VP_PID
both_listed () {
  vp_get "$VP_URL/api/v1/vms" | python3 -c '
import json, sys
vms = json.load(sys.stdin)["vms"]
names = sorted(v["name"] for v in vms)
sys.exit(0 if names == sorted([sys.argv[1], sys.argv[2]]) and [v["pid"] for v in vms].count(int(sys.argv[3])) == 1 else 1)' \
    "$name" "vp-plain-$$" "$qemu_pid"
}
vp_wait_for 20 both_listed && grep "processes: QEMU process $plain_qemu is qemu VM" "$tmp/auto.log" >/dev/null &&
  ! grep "processes: QEMU process $qemu_pid is" "$tmp/auto.log" >/dev/null
vp_ok $? "inventory=auto lists the libvirt domain once and the plain QEMU beside it; the process inventory leaves libvirt's QEMU alone"
vp_get "$VP_URL/metrics" | grep "^vpower_vm_info{domain=\"vp-plain-$$\",.*label_manager=\"qemu\"" >/dev/null &&
  ! vp_get "$VP_URL/metrics" | grep "^vpower_vm_info{domain=\"$name\",.*label_manager=" >/dev/null &&
  [ "$(vp_get "$VP_URL/api/v1/host" | vp_json 'd["inventory"] + " " + str(d["libvirt_connected"])')" = "auto True" ]
vp_ok $? "the plain QEMU is labelled as such, the domain is libvirt's, and libvirt counts as connected"
kill "$auto_pid" "$plain_qemu"; wait "$auto_pid" "$plain_qemu" 2>/dev/null
VP_PID=$main_pid VP_URL=$main_url

# libvirtd goes away: running guests keep running, and so does vpowerd,
# serving the last known VMs and still counting their energy from /proc.
connected () { vp_get "$VP_URL/api/v1/host" | vp_json 'd["libvirt_connected"]'; }
disconnected () { [ "$(connected)" = False ]; }
libvirtd_pid=$(cat /run/libvirtd.pid)
kill -TERM "$libvirtd_pid"
vp_check "vpowerd notices that libvirtd is gone" vp_wait_for 20 disconnected
before=$total
vp_wait_for 10 total_grew || true
vp_check "without libvirtd the guest is still served and its energy grows ($before -> $total)" \
  [ "$total" -gt "$before" ]
grep -q "connection to $URI lost" "$tmp/vpowerd.log"
vp_ok $? "the loss is logged once, in plain words"

# libvirtd comes back: vpowerd reconnects on its own (backoff) and resyncs.
"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$tmp/setup.log" 2>&1 || bail "cannot restart libvirtd"
reconnected () { [ "$(connected)" = True ] && vm_read && [ "$pid" = "$qemu_pid" ]; }
vp_check "vpowerd reconnects and resyncs the running guest after libvirtd returns" vp_wait_for 40 reconnected
phase "libvirtd restart"

t=$(now_ms)
vp_diag "total: $(( (t - test_start) / 1000 )).$(( (t - test_start) % 1000 / 100 )) s"
vp_finish
