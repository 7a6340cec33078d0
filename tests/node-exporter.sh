#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: Debian's real prometheus-node-exporter reads a VM's directory as its
# /sys/class/powercap (--path.sysfs): its rapl collector accepts the tree, and every
# node_rapl_*_joules_total equals the VM's counter.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
exporter=$(command -v prometheus-node-exporter || command -v node_exporter) ||
  vp_skip_or_fail "no prometheus-node-exporter"
vp_setup_workdir
vp_plan 4

mkdir -p "$work/dual"
cp -R "$abs_top_srcdir/tests/data/powercap/dual-dram/." "$work/dual/"
"$VP_FAKE_RAPL" "$work/dual/class/powercap" intel-rapl:0=100 intel-rapl:1=80 intel-rapl:0:1=20 & pids+=($!)
"$VP_BURN" 0.3 & pids+=($!); busy=$!
printf '[web1]\nuuid=aaaaaaaa-0000-4000-8000-000000000001\npid=%s\n' "$busy" > "$work/vms.ini"
vp_start_mounted "$work/vpowerd.log" --sensor powercap --powercap-root "$work/dual/class/powercap" \
  --inventory "static:$work/vms.ini" --interval 1 --state-dir "$work/state"
vp_ok $? "vpowerd mounts the tree and ticks"
vp_wait_for 10 vp_ticks_at_least 2

mkdir -p "$work/sysfs/class"
ln -s "$VP_MNT/web1" "$work/sysfs/class/powercap"
port=$(vp_free_port)
"$exporter" --path.sysfs="$work/sysfs" --collector.disable-defaults --collector.rapl \
  --web.listen-address="127.0.0.1:$port" > "$work/exporter.log" 2>&1 & pids+=($!)
scrape () { curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics"; }
has_rapl () { scrape 2>/dev/null | grep '^node_rapl_' >/dev/null; }
vp_check "node_exporter's rapl collector exports the VM's zones" vp_wait_for 20 has_rapl
! scrape | grep 'node_scrape_collector_success{collector="rapl"} 0' >/dev/null
vp_ok $? "and reports the collector as successful"
[ $? -eq 0 ] || sed 's/^/# /' "$work/exporter.log"

# One scrape between two equal ticks of the API: every zone equals the VM's
# counter (energy_uj / 1e6). Zones are matched by the path label.
python3 - "$VP_URL" "$port" "$work/sysfs/class/powercap" <<'PY'
import json, re, sys, urllib.request
url, port, root = sys.argv[1], sys.argv[2], sys.argv[3]
def get(u): return urllib.request.urlopen(u, timeout=5).read().decode()
for attempt in range(30):
    before = json.loads(get(url + "/api/v1/vms"))
    text = get(f"http://127.0.0.1:{port}/metrics")
    after = json.loads(get(url + "/api/v1/vms"))
    if before["ticks"] != after["ticks"]:
        continue
    vm = next(v for v in after["vms"] if v["name"] == "web1")
    want = {f"{root}/intel-rapl:{z['index']}": z["energy_uj"] for z in vm["zones"]}
    got = {}
    for m in re.finditer(r'^node_rapl_(\w+)_joules_total\{index="(\w+)",path="([^"]+)"\} (\S+)$', text, re.M):
        got[m.group(3)] = float(m.group(4))
    print(f"# tick {after['ticks']}: node_exporter {len(got)} zones, vpowerd {len(want)}")
    bad = [p for p in want if p not in got or abs(got[p] - want[p] / 1e6) > 1e-6 * max(1, want[p] / 1e6)]
    for p in bad:
        print(f"# {p}: node_exporter {got.get(p)} J, vpowerd {want[p] / 1e6} J")
    sys.exit(1 if bad or len(got) != len(want) or not any(want.values()) else 0)
sys.exit(1)
PY
vp_ok $? "every node_rapl_*_joules_total equals the VM's counter"

vp_finish
