#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: vpower-agent on fixture trees: one socket, two sockets with dram, the aggregate
# topology of a real vpowerd FUSE tree, and a tree that disappears mid-run; wraps and resets;
# `once --json`, `top`, and `mount` without a share; the command line and config errors.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
vp_setup_workdir
vp_plan 27

# --- the command line ---
"$VPOWER_AGENT" --help >"$work/help" 2>&1
help_ok=0
for word in mount umount serve top once --tag --mount --bind-sysfs --root --proc-root --interval --top \
            --listen --tls-cert --tls-key --basic-auth-file --json --count --config 9783; do
  grep -q -- "$word" "$work/help" || { vp_diag "--help lacks $word"; help_ok=1; }
done
vp_ok $help_ok "--help documents every command and option, and the default port"

printf '[vpower-agent]\ntopp=3\n' >"$work/bad.conf"
"$VPOWER_AGENT" -c "$work/bad.conf" once >"$work/out" 2>"$work/err"
status=$?
[ $status -eq 2 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "unknown key 'topp'" "$work/err"
vp_ok $? "an unknown config key: one line naming it, exit 2 ($(cat "$work/err"))"
"$VPOWER_AGENT" once --top=-1 >/dev/null 2>"$work/err"; s1=$?
"$VPOWER_AGENT" frobnicate >/dev/null 2>&1; s2=$?
"$VPOWER_AGENT" >/dev/null 2>&1; s3=$?
[ $s1 -eq 2 ] && [ $s2 -eq 2 ] && [ $s3 -eq 2 ] && grep -q "'top'" "$work/err"
vp_ok $? "a bad value, an unknown command and no command exit 2"

# --- one socket, counters advancing at a known power ---
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/single"
"$VP_FAKE_RAPL" "$work/single" intel-rapl:0=20 intel-rapl:0:0=12 & pids+=($!)
"$VPOWER_AGENT" once --json --root "$work/single" --interval 1 >"$work/single.json" 2>"$work/single.err"
vp_ok $? "once --json exits 0 on a readable tree"
python3 - "$work/single.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
zones = {z["index"]: z for z in d["zones"]}
assert d["up"] and sorted(zones) == ["0", "0:0", "0:1"], zones.keys()
assert zones["0"]["zone"] == "package-0" and zones["0:1"]["zone"] == "uncore"
# vp-fake-rapl adds 20 W and 12 W: the agent's power is that, within 10%.
for index, watts in (("0", 20), ("0:0", 12)):
    got = zones[index]["power_watts"]
    assert abs(got - watts) < watts * 0.1, (index, got)
    z = zones[index]
    assert z["energy_uj"] - z["start_energy_uj"] == z["interval_uj"], z
p = d["processes"]
assert p["energy_uj"] == zones["0"]["interval_uj"], p
assert sum(t["energy_uj"] for t in p["top"]) + p["other"]["energy_uj"] == p["energy_uj"], p
PY
vp_ok $? "one socket: zones, 20 W and 12 W measured within 10%, processes add up exactly"

# --- two sockets with dram (a sysfs layout: class/powercap links into devices/) ---
cp -R "$abs_top_srcdir/tests/data/powercap/dual-dram" "$work/dual"
dual=$work/dual/class/powercap
"$VP_FAKE_RAPL" "$dual" intel-rapl:0=30 intel-rapl:1=50 intel-rapl:0:1=4 & pids+=($!)
"$VPOWER_AGENT" once --json --root "$dual" --interval 1 >"$work/dual.json" 2>/dev/null
python3 - "$work/dual.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
zones = {z["index"]: z for z in d["zones"]}
assert sorted(zones) == ["0", "0:0", "0:1", "1", "1:0", "1:1"], zones.keys()
assert zones["1:1"]["zone"] == "dram" and zones["1:1"]["max_energy_range_uj"] == 65712999613
assert abs(zones["1"]["power_watts"] - 50) < 5 and abs(zones["0:1"]["power_watts"] - 4) < 0.4, zones
# Processes share the packages' energy; dram is inside package 0 and not added.
assert d["processes"]["energy_uj"] == zones["0"]["interval_uj"] + zones["1"]["interval_uj"]
PY
vp_ok $? "two sockets: 6 zones, dram's own range, processes split the two packages' energy"

# --- the aggregate topology of a real vpowerd tree ---
"$VP_BURN" 0.3 & pids+=($!); busy=$!
cat > "$work/vms.ini" <<INI
[web1]
uuid=aaaaaaaa-0000-4000-8000-000000000001
pid=$busy
INI
vp_start_mounted "$work/vpowerd.log" --sensor powercap --powercap-root "$dual" --inventory "static:$work/vms.ini" \
  --interval 1 --state-dir "$work/state" --topology aggregate
vp_ok $? "vpowerd mounts an aggregate tree"
vp_wait_for 10 vp_ticks_at_least 2
# Within one tick, what the agent reads equals what the API published for web1.
same_as_api () {
  local attempt
  for attempt in 1 2 3 4 5 6; do
    local before after
    before=$(vp_get "$VP_URL/api/v1/vms")
    "$VPOWER_AGENT" once --json --root "$VP_MNT/web1" --interval 0.1 >"$work/agg.json" 2>/dev/null || return 1
    after=$(vp_get "$VP_URL/api/v1/vms")
    python3 - "$work/agg.json" "$before" "$after" <<'PY' && return 0
import json, sys
d = json.load(open(sys.argv[1]))
before, after = json.loads(sys.argv[2]), json.loads(sys.argv[3])
if before["ticks"] != after["ticks"]:
    sys.exit(1)        # a tick fell inside: try again
vm = next(v for v in after["vms"] if v["name"] == "web1")
api = {z["index"]: (z["name"], z["energy_uj"]) for z in vm["zones"]}
agent = {z["index"]: (z["zone"], z["energy_uj"]) for z in d["zones"]}
print(f"# api {api}", file=sys.stderr)
sys.exit(0 if agent == api and len([k for k in api if ":" not in k]) == 1 else 2)
PY
    [ $? -eq 2 ] && return 1
  done
  return 1
}
vp_check "aggregate: one package zone, every value equal to the API's for that VM" same_as_api
vp_stop_vpowerd

# --- serve on a tree that wraps, resets, disappears and comes back ---
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/live"
live=$work/live
max=$(cat "$live/intel-rapl:0/max_energy_range_uj")
# set_energy VALUE: the package's energy_uj, replaced whole (a rename), never seen empty, as sysfs
# never shows it: `echo >` truncates first, and the agent sampling every 0.2 s could read the
# empty file between the two and log it as an unreadable tree.
set_energy () { printf '%s\n' "$1" >"$live/intel-rapl:0/.energy_uj" && mv "$live/intel-rapl:0/.energy_uj" "$live/intel-rapl:0/energy_uj"; }
set_energy $((max - 1000))
vp_start_agent "$work/agent.log" --root "$live" --interval 0.2
vp_ok $? "serve answers on $AGENT_URL"
scrape () { curl -fsS --max-time 5 "$AGENT_URL/metrics" >"$1"; }
package='vpower_energy_joules_total{zone="package-0",index="0"}'
scrape "$work/m1"
[ "$(vp_metric "$work/m1" "$package")" = "$(awk -v v=$((max - 1000)) 'BEGIN { printf "%.6f", v / 1e6 }')" ]
vp_ok $? "the counter equals energy_uj, to the µJ"
"${PROMTOOL:-promtool}" check metrics <"$work/m1" >"$work/promtool.out" 2>&1
vp_ok $? "promtool check metrics accepts /metrics"
sed 's/^/# /' "$work/promtool.out"

set_energy 4000      # wrapped: 5000 µJ later
scrape "$work/m2"
[ "$(vp_metric "$work/m2" "$package")" = "$(awk -v v=$((max + 4000)) 'BEGIN { printf "%.6f", v / 1e6 }')" ] &&
  [ "$(vp_metric "$work/m2" 'vpower_agent_wraps_total{zone="package-0",index="0"}')" = 1 ]
vp_ok $? "a wrap at max_energy_range_uj adds the 5000 µJ that passed, and is counted"

set_energy 1500      # backwards, not near the top: a reset
scrape "$work/m3"
[ "$(vp_metric "$work/m3" "$package")" = "$(awk -v v=$((max + 4000 + 1500)) 'BEGIN { printf "%.6f", v / 1e6 }')" ] &&
  [ "$(vp_metric "$work/m3" 'vpower_agent_resets_total{zone="package-0",index="0"}')" = 1 ]
vp_ok $? "a counter that goes backwards is a reset counted from zero, not a spike"

mv "$live" "$work/gone"
scrape "$work/m4"
[ "$(vp_metric "$work/m4" vpower_up)" = 0 ] &&
  [ "$(vp_metric "$work/m4" "$package")" = "$(vp_metric "$work/m3" "$package")" ]
vp_ok $? "the tree vanishes: vpower_up 0, counters keep their last value"
code=$(curl -s -o /dev/null -w '%{http_code}' "$AGENT_URL/healthz")
[ "$code" = 503 ]
vp_ok $? "/healthz says 503 while the tree is gone"
vp_wait_for 5 grep -q 'cannot read the powercap tree' "$work/agent.log"
[ "$(grep -c 'cannot read the powercap tree' "$work/agent.log")" -eq 1 ]
vp_ok $? "the log says so once, not at every sample ($(grep -m1 'cannot read' "$work/agent.log"))"

echo 2500 >"$work/gone/intel-rapl:0/energy_uj"
mv "$work/gone" "$live"
back () { scrape "$work/m5" && [ "$(vp_metric "$work/m5" vpower_up)" = 1 ]; }
vp_wait_for 5 back &&
  [ "$(vp_metric "$work/m5" "$package")" = "$(awk -v v=$((max + 4000 + 2500)) 'BEGIN { printf "%.6f", v / 1e6 }')" ]
vp_ok $? "the tree comes back: up again, and the counter resumes where it was"
grep -q 'readable again' "$work/agent.log"
vp_ok $? "the log says it is readable again"
kill -0 "$AGENT_PID"
vp_ok $? "the agent kept running throughout"

# Per process: a busy process inside gets most of the energy, and it all adds up.
"$VP_FAKE_RAPL" "$live" intel-rapl:0=40 & pids+=($!)
"$VP_BURN" 0.5 & pids+=($!); burner=$!
per_process () {
  scrape "$work/m6" || return 1
  local burn_w other_w package_w
  burn_w=$(vp_metric "$work/m6" "vpower_process_power_watts{pid=\"$burner\",comm=\"vp-burn\"}") || return 1
  [ "$(awk -v w="$burn_w" 'BEGIN { print (w > 4) }')" = 1 ]
}
vp_check "a busy process inside the guest shows with its pid, comm and watts" vp_wait_for 10 per_process
awk '/^vpower_process_energy_joules_total/ { n++ } END { exit !(n >= 2) }' "$work/m6"
vp_ok $? "process counters are exported, with the other bucket"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
vp_ok $? "SIGTERM stops serve with exit 0"

# --- top ---
"$VPOWER_AGENT" top --root "$dual" --interval 0.3 --count 2 >"$work/top.out" 2>/dev/null
[ $? -eq 0 ] && [ "$(grep -c '^ZONE' "$work/top.out")" -eq 2 ] && grep -q 'package-1' "$work/top.out" &&
  grep -q '^ *PID COMMAND' "$work/top.out"
vp_ok $? "top --count 2 prints two screens of zones and processes"

# --- mount with neither the port nor a share. The VM's virtio devices, as the guest's sysfs lists
# them (a network card 0x0001, a block device 0x0002), and a console (0x0003: the virtio-serial
# controller) in the second case.
mkdir -p "$work/virtio/virtio0" "$work/virtio/virtio1" "$work/ports"
echo 0x0001 >"$work/virtio/virtio0/device"
echo 0x0002 >"$work/virtio/virtio1/device"
"$VPOWER_AGENT" mount --mount "$work/share" --tag "vp-none-$$" --virtio-ports "$work/ports" \
  --virtio-devices "$work/virtio" >"$work/xml" 2>"$work/mount.err"
status=$?
[ $status -eq 1 ] && grep -q "no share with tag \"vp-none-$$\"" "$work/mount.err" &&
  ! mountpoint -q "$work/share"
vp_ok $? "mount without a share exits 1 and says so ($(head -c 300 "$work/mount.err"))"
grep -q "This VM has no virtio-serial controller, and none can be added while it runs: the host's operator must add the channel org.vpower.0 to its definition and restart it once" "$work/mount.err" &&
  grep -q "vpowerctl attach VM --channel --config" "$work/mount.err" && grep -q "hw_qemu_guest_agent=yes" "$work/mount.err"
vp_ok $? "without a virtio-serial controller it says what the host's operator has to do"
# With a controller (a guest agent's port on it), vpowerd plugs the port into the running VM: the
# agent serves the channel's tree, empty, and waits for it, saying why it is not there yet.
mkdir -p "$work/virtio/virtio2" "$work/ports/vport0p1"
echo 0x0003 >"$work/virtio/virtio2/device"
echo org.qemu.guest_agent.0 >"$work/ports/vport0p1/name"
"$VPOWER_AGENT" mount --mount "$work/share" --tag "vp-none-$$" --virtio-ports "$work/ports" \
  --virtio-devices "$work/virtio" --runtime-dir "$work/run-mount" >"$work/wait.out" 2>"$work/wait.err" &
waiting=$!
pids+=("$waiting")
said_why () { grep -q "This VM has a virtio-serial controller (ports: org.qemu.guest_agent.0), so the host can plug the port org.vpower.0 into it while it runs" "$work/wait.err"; }
vp_wait_for 10 mountpoint -q "$work/share" && vp_wait_for 10 said_why && [ -z "$(ls -A "$work/share")" ] &&
  kill -0 "$waiting" && grep -q "serving the channel's tree, empty until the port is plugged" "$work/wait.err"
vp_ok $? "with a virtio-serial controller it serves the channel's tree, empty, waits for the port, and says why it is not there yet"
kill -TERM "$waiting"; wait "$waiting" 2>/dev/null
vp_wait_for 10 eval '! mountpoint -q "$work/share"' || umount -l "$work/share"
python3 - "$work/xml" "vp-none-$$" <<'PY'
import sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
root = ET.fromstring("<x>" + text + "</x>")
fs = root.findall("filesystem")
assert len(fs) == 2 and {f.find("driver").get("type") for f in fs} == {"path", "virtiofs"}
assert all(f.find("target").get("dir") == sys.argv[2] for f in fs)
assert root.find("memoryBacking/access").get("mode") == "shared"
PY
vp_ok $? "it prints well-formed libvirt XML for 9p and virtiofs with that tag"

vp_finish
