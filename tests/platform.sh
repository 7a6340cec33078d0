#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Daemon: the whole machine's power (issue 32) from the ACPI power meter, as hwmon lays it out,
# at a known wattage beside a fixture RAPL package, with real busy processes as VMs. Each VM's tree
# gains psys, rising; the API and the metrics say what measures it and that the split of what is
# beyond RAPL's zones is a policy; the books conserve to the µJ on every zone, psys included; a
# VM's psys is its package energy plus its share of the rest, by the vCPUs it reserves, not by
# its CPU time. The meter turns garbage: stale, said once, nothing goes back; it answers again.
# platform=none publishes no psys; platform=hwmon without a meter stops vpowerd with one line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
vp_setup_workdir
vp_plan 10

# The host: one package at 100 W (core 40 W, uncore 10 W), and the ACPI power meter at 250 W,
# averaging over 0.5 s, in a sysfs of the test's own (CPU topology: this machine's).
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/powercap"
"$VP_FAKE_RAPL" "$work/powercap" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!)
meter=$work/sys/class/hwmon/hwmon0
mkdir -p "$meter" "$work/sys/devices/system"
ln -s /sys/devices/system/cpu "$work/sys/devices/system/cpu"
echo power_meter >"$meter/name"
echo 500 >"$meter/power1_average_interval"
set_power () { printf '%s\n' "$1" >"$meter/.power" && mv "$meter/.power" "$meter/power1_average"; }
set_power 250000000

# Two VMs, one much busier than the other, each reserving one vCPU.
"$VP_BURN" 0.6 & pids+=($!); vm_a=$!
"$VP_BURN" 0.1 & pids+=($!); vm_b=$!
cat >"$work/vms.ini" <<INI
[vm-a]
uuid=aaaaaaaa-0000-4000-8000-00000000000a
pid=$vm_a
vcpus=1
[vm-b]
uuid=bbbbbbbb-0000-4000-8000-00000000000b
pid=$vm_b
vcpus=1
INI
args=(--sensor powercap --powercap-root "$work/powercap" --sysfs-root "$work/sys"
      --inventory "static:$work/vms.ini" --allow-fast-updates --interval 0.5)
vp_start_mounted "$work/vpowerd.log" "${args[@]}" --state-dir "$work/state" || { echo "Bail out! vpowerd did not start"; exit 1; }
host_field () { vp_get "$VP_URL/api/v1/host" | vp_json "$1"; }

platform=$(host_field 'd["platform"]')
vp_diag "platform: $platform"
[ "$(host_field 'd["platform"]["source"]')" = hwmon ] &&
  [[ $(host_field 'd["platform"]["description"]') == *"ACPI power meter"*hwmon0* ]] &&
  [ "$(host_field 'd["platform"]["split"]')" = vcpus ] && [ "$(host_field 'd["platform"]["vm_share"]')" = policy ] &&
  [ "$(host_field 'd["platform"]["index"]')" = 1 ] &&
  grep -q "platform: the ACPI power meter $meter, as zone intel-rapl:1" "$work/vpowerd.log" &&
  "$VPOWERCTL" --socket "$VP_RUN/control.sock" status | grep -q "^platform   hwmon: the ACPI power meter $meter, .* W; the rest of the machine split by vcpus (a policy)"
vp_ok $? "the API and vpowerctl status say what measures the platform (the ACPI power meter), its zone, and that a VM's share beyond RAPL is a policy (vcpus)"

vp_wait_for 20 eval '[ "$(host_field "d[\"platform\"][\"watts\"]")" = 250.0 ] && [ "$(host_field "d[\"platform\"][\"stale\"]")" = False ]'
vp_ok $? "it reads the meter: 250 W, fresh"

for vm in vm-a vm-b; do
  dir=$VP_MNT/$vm/intel-rapl:1
  first=$(cat "$dir/energy_uj" 2>/dev/null)
  ticks=$(vp_ticks)
  vp_wait_for 20 vp_ticks_at_least $((ticks + 3))
  [ "$(cat "$dir/name" 2>/dev/null)" = psys ] && [ "$(cat "$dir/max_energy_range_uj")" = 262143328850 ] &&
    [ -n "$first" ] && [ "$(cat "$dir/energy_uj")" -gt "$first" ]
  vp_ok $? "$vm's tree has intel-rapl:1, psys, rising ($first, then $(cat "$dir/energy_uj" 2>/dev/null))"
done

vp_books_conserve "$VP_URL" 4
vp_ok $? "the books conserve to the µJ on every zone, psys included"

# From one snapshot: a VM's psys is its package energy plus its share of the rest, and the rest
# goes by reserved vCPUs (one each), not by CPU time (vm-a burns six times as much).
vp_get "$VP_URL/metrics" | python3 -c '
import re, sys
from decimal import Decimal
vm, host = {}, {}
for line in sys.stdin:
    m = re.match(r"(\w+)\{(.*)\} (\S+)$", line.strip())
    if not m: continue
    labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(2)))
    if m.group(1) == "vpower_vm_energy_joules_total":
        vm[(labels["domain"], labels["index"])] = Decimal(m.group(3))
    elif m.group(1) == "vpower_host_energy_joules_total":
        host[labels["index"]] = Decimal(m.group(3))
rest = {d: vm[(d, "1")] - vm[(d, "0")] for d in ("vm-a", "vm-b")}
pkg_a, pkg_b = vm[("vm-a", "0")], vm[("vm-b", "0")]
rest_a, rest_b = rest["vm-a"], rest["vm-b"]
print(f"# package: vm-a {pkg_a} J, vm-b {pkg_b} J; the rest: vm-a {rest_a} J, vm-b {rest_b} J")
ok = all(r > 0 for r in rest.values())
ok = ok and pkg_a > 2 * pkg_b
ok = ok and abs(rest_a - rest_b) <= Decimal("0.000002")
sys.exit(0 if ok else 1)'
vp_ok $? "a VM's psys is its package energy and more; the rest is split by reserved vCPUs, not by CPU time"

# The meter turns garbage: stale once its 0.5 s reading is 5 s old, said once; nothing goes back.
energy=$VP_MNT/vm-a/intel-rapl:1/energy_uj
before=$(cat "$energy")
set_power garbage
vp_wait_for 30 eval '[ "$(host_field "d[\"platform\"][\"stale\"]")" = True ]'
stale=$?
after=$(cat "$energy")
[ $stale -eq 0 ] && [ "$(grep -c "platform: the ACPI power meter $meter is stale" "$work/vpowerd.log")" = 1 ] &&
  [ "$(grep -c "platform: cannot read the ACPI power meter" "$work/vpowerd.log")" = 1 ] && [ "$after" -ge "$before" ]
vp_ok $? "a meter that reads garbage turns stale, said once, and nothing goes back ($before, then $after)"

set_power 300000000
vp_wait_for 20 eval '[ "$(host_field "d[\"platform\"][\"stale\"]")" = False ] && [ "$(host_field "d[\"platform\"][\"watts\"]")" = 300.0 ]'
fresh=$?
vp_books_conserve "$VP_URL" 4 && [ $fresh -eq 0 ] && grep -q "platform: the ACPI power meter $meter answers again (300.0 W)" "$work/vpowerd.log" &&
  [ "$(cat "$energy")" -ge "$after" ]
vp_ok $? "it answers again at 300 W: fresh, said, the books still conserve"
vp_stop_vpowerd

# platform=none: no psys; platform=hwmon with no meter: one line, and vpowerd stops.
vp_start_vpowerd "$work/none.log" "${args[@]}" --platform none --no-mount --state-dir "$work/state-none" &&
  [ "$(vp_get "$VP_URL/api/v1/host" | vp_json 'd["platform"]')" = None ] &&
  ! vp_get "$VP_URL/api/v1/vms" | grep -q '"psys"'
none=$?
vp_stop_vpowerd
rm -rf "$work/sys/class"
"$VPOWERD" --foreground --once "${args[@]}" --platform hwmon >"$work/missing.out" 2>"$work/missing.err"
status=$?
vp_diag "$(cat "$work/missing.err")"
[ $none -eq 0 ] && [ $status -ne 0 ] && grep -q "platform = hwmon: no ACPI power meter" "$work/missing.err" && [ "$(wc -l <"$work/missing.err")" = 1 ]
vp_ok $? "platform=none publishes no psys; platform=hwmon without a meter stops vpowerd with one line (status $status)"

# A static VM's vcpus= that is not 1 to 16384: one line naming the VM and the key.
printf '[vm-a]\nuuid=aaaaaaaa-0000-4000-8000-00000000000a\npid=%s\nvcpus=0\n' "$vm_a" >"$work/bad.ini"
err=$("$VPOWERD" --foreground --once --sensor model --platform none --inventory "static:$work/bad.ini" 2>&1 >/dev/null)
status=$?
[ $status -ne 0 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "invalid value for 'vcpus' in \[vm-a\]" <<<"$err"
vp_ok $? "a static VM's bad vcpus= is one line naming it (status $status: $err)"

vp_finish
