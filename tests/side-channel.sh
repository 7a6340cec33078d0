#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The side-channel quantum (--quantum-uj): every per-VM energy vpowerd publishes, in the FUSE tree,
# the JSON, the metrics and the channel, moves only in whole multiples of the quantum, and the
# remainder carries: the books stay within one quantum per VM and zone of the host's energy, and
# what was held back shows once it makes a quantum. Also the interval floor.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
vp_setup_workdir
vp_plan 8
Q=250000   # µJ: at the fixture's powers each VM gains a few quanta per tick, and remainders are common

"$VPOWERD" --once --inventory "static:/dev/null" --interval 0.5 >"$work/floor.out" 2>&1; status=$?
[ $status -eq 2 ] && grep -q "below the 1 s floor" "$work/floor.out" && grep -q "allow-fast-updates" "$work/floor.out"
vp_ok $? "an interval below 1 s is refused without allow-fast-updates, with the way to allow it"

"$VP_BURN" 0.5 & pids+=($!); burn=$!
cat > "$work/vms.ini" <<INI
[web1]
uuid=aaaaaaaa-0000-4000-8000-000000000001
pid=$burn
channel=$work/web1.sock
[web2]
uuid=aaaaaaaa-0000-4000-8000-000000000002
pid=$$
INI
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/rapl"
"$VP_FAKE_RAPL" "$work/rapl" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!); rapl=$!
python3 "$abs_top_srcdir/tests/helpers/fake-qemu-channel.py" "$work/web1.sock" record "$work/web1.bytes" & pids+=($!)
vp_wait_for 10 test -S "$work/web1.sock"
vp_start_mounted "$work/vpowerd.log" --sensor powercap --powercap-root "$work/rapl" --inventory "static:$work/vms.ini" \
  --allow-fast-updates --interval 0.2 --quantum-uj $Q --state-dir "$work/state"
vp_ok $? "vpowerd starts with --quantum-uj $Q and --allow-fast-updates --interval 0.2"

# 30 ticks of what the tree, the JSON and the metrics say of web1.
python3 - "$VP_URL" "$VP_MNT" "$work/seen" <<'PY'
import json, sys, time, urllib.request
url, mnt, out = sys.argv[1:4]
last, rows = None, []
while len(rows) < 30:
    d = json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=5))
    if d["ticks"] != last:
        last = d["ticks"]
        v = [x for x in d["vms"] if x["name"] == "web1"][0]
        m = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        joules = [l.split()[-1] for l in m.splitlines()
                  if l.startswith('vpower_vm_energy_joules_total{domain="web1"')]
        files = [open(f"{mnt}/web1/intel-rapl:{i}/energy_uj").read().strip() for i in ("0", "0:0", "0:1")]
        rows.append(" ".join([str(z["total_uj"]) for z in v["zones"]] + joules + files))
    time.sleep(0.02)
open(out, "w").write("\n".join(rows) + "\n")
PY
python3 - "$work/seen" $Q <<'PY'
import sys
from decimal import Decimal
rows, q = [l.split() for l in open(sys.argv[1])], int(sys.argv[2])
totals = [[int(x) for x in r[0:3]] for r in rows]
joules = [[int(Decimal(x) * 1000000) for x in r[3:6]] for r in rows]
ok = all(t % q == 0 for r in totals for t in r) and all(j % q == 0 for r in joules for j in r)
moved = sum(1 for a, b in zip(totals, totals[1:]) if a != b)
print(f"# {len(rows)} ticks, web1's totals moved in {moved} of them, last {totals[-1]}")
sys.exit(0 if ok and moved >= 10 else 1)
PY
vp_ok $? "web1's totals in the JSON and the metrics are whole quanta at every tick (and they move)"
python3 - "$work/seen" $Q <<'PY'
import sys
rows, q, m = [l.split() for l in open(sys.argv[1])], int(sys.argv[2]), 262143328850
files = [[int(x) for x in r[6:9]] for r in rows]
steps = [(b - a) % m for r0, r1 in zip(files, files[1:]) for a, b in zip(r0, r1)]
sys.exit(0 if steps and all(s % q == 0 for s in steps) and any(steps) else 1)
PY
vp_ok $? "its energy_uj files move only in whole quanta"
python3 - "$work/web1.bytes" $Q "$abs_top_srcdir/tests/helpers" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from vpchannel import parse
msgs, q, m = parse(open(sys.argv[1], "rb").read().decode()), int(sys.argv[2]), 262143328850
values = [[z[3] for z in zones] for _, zones in msgs]
steps = [(b - a) % m for r0, r1 in zip(values, values[1:]) for a, b in zip(r0, r1)]
print(f"# {len(msgs)} channel messages")
sys.exit(0 if len(msgs) >= 10 and all(s % q == 0 for s in steps) and any(steps) else 1)
PY
vp_ok $? "and so do the values its channel messages carry"

# The books, from one snapshot with the fixture frozen: what the quantum holds back is less than
# one quantum per VM and zone (2 VMs), and never negative.
books () { vp_books_conserve "$VP_URL" 3 "$(python3 -c "print(2 * $Q / 1e6)")"; }
kill -STOP "$rapl"
ticks=$(vp_ticks)
vp_wait_for 10 vp_ticks_at_least $((ticks + 3))
books
vp_ok $? "with the fixture frozen, the host's books are short by less than one quantum per VM and zone"
web1_total () { vp_get "$VP_URL/api/v1/vms" | vp_json '[v for v in d["vms"] if v["name"] == "web1"][0]["zones"][0]["total_uj"]'; }
before=$(web1_total)
kill -CONT "$rapl"
grew () { [ "$(web1_total)" -gt "$before" ]; }
vp_wait_for 10 grew && books
vp_ok $? "running again for more ticks, still short by less than that: the remainder carries, nothing is dropped"
kill -0 "$VP_PID"
vp_ok $? "vpowerd is still running"
vp_finish
