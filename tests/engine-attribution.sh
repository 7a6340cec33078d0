#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: vpowerd over a fixture powercap tree advanced at a known power, with real
# busy processes as VMs: energy ratios follow measured CPU-time ratios, and conservation holds.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_setup_workdir

vp_plan 9

# The host: one package at 100 W (core 40 W, uncore 10 W).
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/powercap"
"$VP_FAKE_RAPL" "$work/powercap" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 &
pids+=($!)

# Three "VMs" at different known loads, and one whose process is gone.
"$VP_BURN" 0.6 & pids+=($!); vm_a=$!
"$VP_BURN" 0.3 & pids+=($!); vm_b=$!
"$VP_BURN" 0.15 & pids+=($!); vm_c=$!
true & gone=$!; wait $gone
cat > "$work/vms.ini" <<INI
[vm-a]
uuid=aaaaaaaa-0000-4000-8000-000000000001
pid=$vm_a
[vm-b]
uuid=bbbbbbbb-0000-4000-8000-000000000002
pid=$vm_b
[vm-c]
uuid=cccccccc-0000-4000-8000-000000000003
pid=$vm_c
[vm-gone]
uuid=dddddddd-0000-4000-8000-000000000004
pid=$gone
INI

vp_start_vpowerd "$work/vpowerd.log" --sensor powercap --powercap-root "$work/powercap" \
  --inventory "static:$work/vms.ini" --allow-fast-updates --interval 0.5 --state-dir "$work/state"
vp_ok $? "vpowerd starts over the fixture tree and ticks"

# VM counters come from one /metrics response (one snapshot); the host's
# energy and its timestamp from one /api/v1/host response.
measure () {
  # prints: ticks timestamp host_total_J [vm_total_J for a b c gone] [schedstat ns for a b c]
  local metrics host
  metrics=$(vp_get "$VP_URL/metrics") || return 1
  host=$(vp_get "$VP_URL/api/v1/host") || return 1
  python3 - "$metrics" "$host" "$vm_a" "$vm_b" "$vm_c" <<'PY'
import json, re, sys
from decimal import Decimal
metrics, host = sys.argv[1], json.loads(sys.argv[2])
def get(name, **labels):
    total = Decimal(0)
    for line in metrics.splitlines():
        m = re.match(r'(\w+)(\{.*\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += Decimal(m.group(3))
    return total
cpu = [int(open(f"/proc/{p}/schedstat").read().split()[0]) for p in sys.argv[3:6]]
vms = [get("vpower_vm_energy_joules_total", domain=d, index="0") for d in ("vm-a", "vm-b", "vm-c", "vm-gone")]
# The host's total and its timestamp come from the same response (one snapshot).
host_total = Decimal(host["zones"][0]["total_uj"]) / Decimal(10**6)
print(host["ticks"], host["timestamp"], host_total, *vms, *cpu)
PY
}

# The window starts and ends on ticks taken with the VMs frozen, so the CPU
# time read here from /proc is exactly what vpowerd counted at both ends.
vp_wait_for 20 vp_ticks_at_least 2
vp_freeze_burners "$vm_a" "$vm_b" "$vm_c"
read -r t0 ts0 host0 a0 b0 c0 g0 ca0 cb0 cc0 < <(measure)
vp_thaw_burners "$vm_a" "$vm_b" "$vm_c"
vp_wait_for 40 vp_ticks_at_least $((t0 + 20))
vp_freeze_burners "$vm_a" "$vm_b" "$vm_c"
read -r t1 ts1 host1 a1 b1 c1 g1 ca1 cb1 cc1 < <(measure)
vp_thaw_burners "$vm_a" "$vm_b" "$vm_c"
vp_diag "ticks $t0..$t1; energy J a $a0..$a1 b $b0..$b1 c $c0..$c1; cpu ns a $((ca1-ca0)) b $((cb1-cb0)) c $((cc1-cc0))"

# Energy ratios between VMs follow their CPU-time ratios (measured here, from
# /proc, independently of vpowerd), within 5%.
ratio_ok () {
  python3 -c "
import sys
from decimal import Decimal as D
e = (D('$1') - D('$2')) / (D('$3') - D('$4'))
c = D($5) / D($6)
print(f'# energy ratio {e:.4f}, cpu ratio {c:.4f}')
sys.exit(0 if abs(e - c) / c <= D('0.05') else 1)"
}
ratio_ok "$a1" "$a0" "$b1" "$b0" $((ca1 - ca0)) $((cb1 - cb0)); vp_ok $? "vm-a / vm-b energy ratio matches CPU-time ratio within 5%"
ratio_ok "$b1" "$b0" "$c1" "$c0" $((cb1 - cb0)) $((cc1 - cc0)); vp_ok $? "vm-b / vm-c energy ratio matches CPU-time ratio within 5%"
ratio_ok "$a1" "$a0" "$c1" "$c0" $((ca1 - ca0)) $((cc1 - cc0)); vp_ok $? "vm-a / vm-c energy ratio matches CPU-time ratio within 5%"

# The host zone runs at the fixture's 100 W.
python3 -c "
from decimal import Decimal as D
p = (D('$host1') - D('$host0')) / (D('$ts1') - D('$ts0'))
print(f'# host package power {p:.2f} W')
exit(0 if abs(p - 100) <= 5 else 1)"
vp_ok $? "host package-0 energy advances at the fixture's 100 W (within 5%)"

python3 -c "from decimal import Decimal as D; exit(0 if D('$g1') == 0 and D('$g0') == 0 else 1)" &&
  [ "$(grep -cE "VM vm-gone: process $gone:? .*(No such file|No such process)" "$work/vpowerd.log")" -eq 1 ]
vp_ok $? "a VM whose process is gone gets no energy, and the log says so once"

# Conservation, exactly in µJ, on every zone, from one snapshot:
# sum(VMs) + host processes + unattributed = the host's energy.
vp_books_conserve "$VP_URL" 3
vp_ok $? "conservation: sum(VMs) + host + unattributed == host energy, exactly, on every zone"

kill -0 "$VP_PID"
vp_ok $? "vpowerd is still running"
kill -TERM "$VP_PID"; wait "$VP_PID"; status=$?; VP_PID=
test $status -eq 0 && grep -q "counters saved" "$work/vpowerd.log"
vp_ok $? "SIGTERM stops vpowerd cleanly and saves the counters"
vp_finish
