#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end inside a real TCG guest under a real libvirtd: vpower-agent and Debian's
# node_exporter, with their libraries, ride in the guest's initramfs. In the guest,
# `vpower-agent mount --bind-sysfs` finds the 9p share (after trying virtiofs) and binds it over
# /sys/class/powercap; `once --json` samples it; then node_exporter's rapl collector and the
# agent's own exporter read the bound tree. Every value the guest saw must be one the host's API
# published for that VM, and the guest's power must agree with the host's for the same interval.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
vm=vp-agent-$$

vp_require_fuse
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
[ -x /usr/bin/prometheus-node-exporter ] || vp_skip_or_fail "no prometheus-node-exporter"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
cleanup () {
  virsh -c "$URI" destroy "$vm" >/dev/null 2>&1
  virsh -c "$URI" undefine "$vm" >/dev/null 2>&1
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work/vpowerd.log" 2>/dev/null | tail -40
  exit 1
}

vp_plan 10

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
guest=$work/guest
vp_agent_guest "$guest" "$cache" "$work/setup.log" || bail "cannot build the guest"
vp_ok 0 "the guest's initramfs carries vpower-agent, node_exporter and their libraries ($(du -h "$guest/initramfs.gz" | cut -f1))"

vp_start_mounted "$work/vpowerd.log" --inventory libvirt --connect "$URI" --sensor model --interval 1 \
  --state-dir "$work/state" || bail "vpowerd did not start"

# Record every value, and when it was first published, for this VM.
vp_record_published "$vm" "$work/published" "$work/stop-recording"

# 9p: the agent tries virtiofs first, finds no such tag, and falls back.
qemu_uid=$(id -u libvirt-qemu) && qemu_gid=$(id -g libvirt-qemu) || bail "no libvirt-qemu user"
VP_GUEST_DAC_LABEL="+$qemu_uid:+$qemu_gid" VP_GUEST_ARGS="vp.period=4" \
  "$abs_top_srcdir/tests/guest/domain.sh" "$vm" agent "$guest" "$VP_MNT/$vm" 9p > "$work/$vm.xml"
virsh -c "$URI" define "$work/$vm.xml" >>"$work/setup.log" 2>&1 || bail "cannot define $vm"
has_dir () { [ -r "$VP_MNT/$vm/intel-rapl:0/energy_uj" ]; }
vp_wait_for 10 has_dir || bail "no directory for $vm"
virsh -c "$URI" start "$vm" >>"$work/setup.log" 2>&1 || bail "cannot start $vm"

console=$guest/$vm.console
finished () { grep -qE 'VP-DONE|VP-ERROR' "$console" 2>/dev/null; }
vp_wait_for 240 finished
touch "$work/stop-recording"
grep -vE '^(VP-NODE|VP-AGENT) ' "$console" 2>/dev/null | sed -n '/VP-/,$p' | sed 's/^/# console: /' | head -60

grep -q VP-MOUNTED "$console" && ! grep -q VP-ERROR "$console" &&
  grep -q 'mounted the share "vpower" (9p) read-only' "$console" && grep -q 'bound the share over /sys/class/powercap' "$console"
vp_ok $? "in the guest, vpower-agent mount --bind-sysfs finds the 9p share, binds it, and nothing fails"
sed -n '/^VP-JSON-BEGIN/,/^VP-JSON-END/p' "$console" | sed '1d;$d' | tr -d '\r' >"$work/once.json"
grep -q '"up" : true' "$work/once.json"
vp_ok $? "once --json in the guest reads the tree (up)"

# Each value the guest read is one the host published for this VM.
python3 - "$work/once.json" "$work/published" "$console" <<'PY' >"$work/compare.out" 2>&1
import json, re, sys
once, published, console = sys.argv[1:4]
d = json.load(open(once))
pub = {}      # index -> {energy_uj: first time published}
for line in open(published):
    t, index, e = line.split()
    pub.setdefault(index, {}).setdefault(int(e), float(t))
failures = []
def check(what, index, value):
    if value not in pub.get(index, {}):
        failures.append(f"{what} intel-rapl:{index} = {value} was never published")
zones = {z["index"]: z for z in d["zones"]}
for index, z in zones.items():
    check("once start", index, z["start_energy_uj"])
    check("once end", index, z["energy_uj"])
print(f"# once: {len(zones)} zones: " + ", ".join(f"{i}={z['energy_uj']}" for i, z in zones.items()))

# Power: the host's figure for the same interval is the same energy over the
# time between the two published values; the guest's is over its own clock.
z = zones["0"]
t0, t1 = pub["0"][z["start_energy_uj"]] if z["start_energy_uj"] in pub["0"] else None, \
         pub["0"][z["energy_uj"]] if z["energy_uj"] in pub["0"] else None
ratio = None
if t0 is not None and t1 is not None and t1 > t0:
    # Modulo the range: the counter may have wrapped in between, like hardware.
    host_w = (z["energy_uj"] - z["start_energy_uj"]) % z["max_energy_range_uj"] / 1e6 / (t1 - t0)
    ratio = z["power_watts"] / host_w if host_w > 0 else None
    print(f"# package power: guest {z['power_watts']:.3f} W over {d['interval_s']:.2f} s, "
          f"host {host_w:.3f} W over {t1 - t0:.2f} s")
power_ok = ratio is not None and 0.5 <= ratio <= 2.0

node, agent = {}, {}
for line in open(console, errors="replace"):
    line = line.strip()
    m = re.match(r'VP-NODE node_rapl_\w+_joules_total\{.*path="[^"]*intel-rapl:([0-9a-f:]+)"\} (\S+)', line)
    if m:
        node[m.group(1)] = round(float(m.group(2)) * 1e6)
    m = re.match(r'VP-AGENT vpower_energy_joules_total\{zone="[^"]*",index="([0-9a-f:]+)"\} (\S+)', line)
    if m:
        agent[m.group(1)] = round(float(m.group(2)) * 1e6)
for index, value in node.items():
    check("node_exporter", index, value)
for index, value in agent.items():
    check("agent /metrics", index, value)
print(f"# node_exporter: {node}")
print(f"# agent exporter: {agent}")
for f in failures:
    print("# " + f)
ok = {
    "once": not [f for f in failures if f.startswith("once")],
    "power": power_ok,
    "node": sorted(node) == sorted(zones) and not [f for f in failures if f.startswith("node")],
    "agent": sorted(agent) == sorted(zones) and not [f for f in failures if f.startswith("agent")],
}
print(" ".join(k for k, v in ok.items() if v))
PY
cat "$work/compare.out" | grep '^#'
result=$(tail -1 "$work/compare.out")
[[ " $result " == *" once "* ]]
vp_ok $? "every energy_uj once --json read equals a value the host published for this VM"
[[ " $result " == *" power "* ]]
vp_ok $? "the guest's package power agrees with the host's for the same interval (within 2x)"
[[ " $result " == *" node "* ]]
vp_ok $? "node_exporter in the guest, on the bound /sys/class/powercap, reports the host's values for every zone"
[[ " $result " == *" agent "* ]]
vp_ok $? "the agent's exporter in the guest reports the host's values for every zone"
grep -q 'VP-AGENT vpower_up 1' "$console"
vp_ok $? "the agent's exporter says vpower_up 1"

stopped () { [ "$(virsh -c "$URI" domstate "$vm" 2>/dev/null)" = "shut off" ]; }
vp_check "the guest powers off by itself" vp_wait_for 30 stopped
vp_stop_vpowerd
vp_ok $? "vpowerd stops cleanly"
vp_finish
