#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end over the virtio-serial channel, in a real TCG guest under a real libvirtd. The guest
# has a virtio-serial controller and, at boot, no channel: its vpower-agent starts first and waits,
# and `vpowerctl attach --channel --live` hot-plugs the port. The agent serves the tree itself and
# binds it over /sys/class/powercap; node_exporter reads it; a reader loop reads energy_uj every
# 0.5 s while the host does `virsh save` + `virsh restore`, and kills the engine with -9 while libvirtd
# is down (the new engine finds the channel when libvirtd is back). Every value
# the guest read must be one the host published for that VM, with no error and no decrease.
# Meanwhile a second, hostile guest never reads its port and floods it with garbage: the engine
# keeps ticking, the first guest keeps getting its updates, and at most 4 KiB a tick is read from
# the flood. (Counts over ticks, not times: the tick's duration is only reported, as timing
# asserted on a loaded 2-core machine flakes.)
# Also: the refusals (a second attach; --live without a controller), and show/status/list.
# The host measures its whole power (an ACPI power meter, as hwmon lays it out, at 180 W): the
# channel carries each VM's psys zone, and node_exporter in the guest reports it (issue 32).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
vm=vp-chan-$$
bare=vp-chanbare-$$
flood=vp-chanflood-$$

vp_require_fuse
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
[ -x /usr/bin/prometheus-node-exporter ] || vp_skip_or_fail "no prometheus-node-exporter"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
cleanup () {
  local d
  for d in "$vm" "$bare" "$flood"; do
    virsh -c "$URI" destroy "$d" >/dev/null 2>&1
    virsh -c "$URI" undefine "$d" >/dev/null 2>&1
  done
  rm -f "$work/$vm.save"
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work/vpowerd.log" "$guest/$vm.console" 2>/dev/null | tail -60
  exit 1
}
ctl () { "$VPOWERCTL" --socket "$VP_RUN/control.sock" "$@"; }
console () { cat "$guest/$vm.console" 2>/dev/null; }
console_has () { grep -q "$1" "$guest/$vm.console" 2>/dev/null; }
values () { console | sed -n 's/^VP-VALUE \([0-9]*\).*/\1/p'; }
n_values () { values | wc -l; }

vp_plan 20

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
guest=$work/guest
vp_agent_guest "$guest" "$cache" "$work/setup.log" || bail "cannot build the guest"

# The platform's meter, in a sysfs of the test's own (CPU topology: this machine's).
meter=$work/sys/class/hwmon/hwmon0
mkdir -p "$meter" "$work/sys/devices/system"
ln -s /sys/devices/system/cpu "$work/sys/devices/system/cpu"
echo power_meter >"$meter/name"
echo 180000000 >"$meter/power1_average"

# wire=off: this test attaches by hand (tests/autowire-guest.sh tests vpowerd doing it).
vp_start_mounted "$work/vpowerd.log" --inventory libvirt --connect "$URI" --sensor model --interval 1 \
  --sysfs-root "$work/sys" --state-dir "$work/state" --wire off || bail "vpowerd did not start"

# Every value published for the VM, per zone, as the engine's API shows it.
vp_record_published "$vm" "$work/published" "$work/stop-recording"

# Without a virtio-serial controller a channel cannot go live: refused with the reason, and
# --config is offered. A paused domain has live XML and costs no CPU.
"$abs_top_srcdir/tests/guest/domain.sh" "$bare" burn "$guest" >"$work/$bare.xml"
virsh -c "$URI" define "$work/$bare.xml" >>"$work/setup.log" 2>&1 || bail "cannot define $bare"
virsh -c "$URI" start --paused "$bare" >>"$work/setup.log" 2>&1 || bail "cannot start $bare paused"
known_paused () { ctl show "$bare" 2>/dev/null | grep -q paused; }
vp_wait_for 10 known_paused || bail "vpowerd does not see $bare paused"
out=$(ctl attach "$bare" --channel --live 2>&1); status=$?
[ $status -eq 1 ] && grep -q 'no virtio-serial controller' <<<"$out" && grep -q -- '--config' <<<"$out"
vp_ok $? "attach --channel --live without a virtio-serial controller is refused with the reason: $out"
# (The definition is read whole first: grep -q could end the pipe early, and pipefail would see virsh's SIGPIPE.)
out=$(ctl attach "$bare" --channel --config 2>&1) && definition=$(virsh -c "$URI" dumpxml --inactive "$bare") &&
  grep -q "name='org.vpower.0'" <<<"$definition"
vp_ok $? "attach --channel --config adds it to the definition: $out"
virsh -c "$URI" destroy "$bare" >/dev/null 2>&1

# The guest: a controller, no channel yet.
VP_GUEST_ARGS="vp.period=0.5 vp.seconds=40" "$abs_top_srcdir/tests/guest/domain.sh" "$vm" channel "$guest" "" controller \
  >"$work/$vm.xml"
virsh -c "$URI" define "$work/$vm.xml" >>"$work/setup.log" 2>&1 || bail "cannot define $vm"
virsh -c "$URI" start "$vm" >>"$work/setup.log" 2>&1 || bail "cannot start $vm"
vp_wait_for 60 console_has VP-AGENT-STARTED || bail "the guest's agent did not start"
out=$(ctl attach "$vm" --channel --live 2>&1)
vp_ok $? "attach --channel --live hot-plugs the channel into the running guest: $out"
vp_wait_for 30 console_has '^VP-CHANNEL org.vpower.0'
vp_ok $? "the agent, started before the port existed, finds it and serves the tree"
out=$(ctl attach "$vm" --channel --live 2>&1); status=$?
[ $status -eq 1 ] && grep -q 'already has the vpower channel' <<<"$out"
vp_ok $? "a second attach is refused before libvirt is asked: $out"

vp_wait_for 30 console_has '^VP-NODE node_rapl_package_joules_total' || bail "no node_exporter output"
node_uj=$(console | sed -n 's/^VP-NODE node_rapl_package_joules_total{index="0",path="\/sys\/class\/powercap\/intel-rapl:0"} \(.*\)/\1/p' |
          python3 -c "import sys; print(round(float(sys.stdin.read()) * 1e6))")
awk -v v="$node_uj" '$2 == "0" && $3 == v { found = 1 } END { exit !found }' "$work/published"
vp_ok $? "node_exporter in the guest reports the VM's package counter as the host published it ($node_uj µJ)"
# (node_exporter's index counts zones of one name: the first psys is 0, whatever its directory.)
psys_uj=$(console | sed -n 's/^VP-NODE node_rapl_psys_joules_total{index="0",path="\/sys\/class\/powercap\/intel-rapl:1"} \(.*\)/\1/p' |
          tail -1 | python3 -c "import sys; print(round(float(sys.stdin.read()) * 1e6))" 2>/dev/null)
awk -v v="$psys_uj" '$2 == "1" && $3 == v { found = 1 } END { exit !found }' "$work/published"
vp_ok $? "the channel carries the VM's psys zone, and node_exporter in the guest reports it as the host published it ($psys_uj µJ)"

epoch_of () { vp_get "$VP_URL/api/v1/vms" | python3 -c "import json,sys; print([v['epoch'] for v in json.load(sys.stdin)['vms'] if v['name'] == '$1'][0])"; }
connected () { ctl show "$vm" | grep -q '^channel    connected'; }
vp_wait_for 10 connected
vp_ok $? "vpowerctl show says the channel is connected"
epoch_start=$(epoch_of "$vm")
ctl status | grep -q ', 1 with a connected channel' && ctl list --json | grep -q '"channel" : "connected"' && ctl show "$vm" --json | grep -A2 '"transports"' | grep -q '"channel"'
vp_ok $? "status, list --json and show --json (transports: channel) say so too"

# A hostile neighbour. measure: over the next 6 ticks, "TICKS MEAN-TICK-SECONDS DROPPED
# DISCARDED-BYTES GUEST-VALUES" (ticks and tick time from the engine's metrics; the first guest's
# distinct reads). The ticks are waited for with a deadline: an engine stuck on a guest fails it.
metric () { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
measure () {
  local before=$work/m0 after=$work/m1 v0 v1 t0
  vp_get "$VP_URL/metrics" >"$before"; v0=$(values | sort -u | wc -l)
  t0=$(metric vpower_ticks_total "$before")
  vp_wait_for 60 vp_ticks_at_least $((${t0%.*} + 6)) || echo "# the engine did not tick 6 times within 60 s" >&2
  vp_get "$VP_URL/metrics" >"$after"; v1=$(values | sort -u | wc -l)
  python3 - "$(metric vpower_ticks_total "$before")" "$(metric vpower_ticks_total "$after")" \
    "$(metric vpower_tick_duration_seconds_total "$before")" "$(metric vpower_tick_duration_seconds_total "$after")" \
    "$(metric vpower_channel_messages_dropped_total "$before")" "$(metric vpower_channel_messages_dropped_total "$after")" \
    "$(metric vpower_channel_discarded_bytes_total "$before")" "$(metric vpower_channel_discarded_bytes_total "$after")" \
    "$v0" "$v1" <<'PY'
import sys
t0, t1, d0, d1, x0, x1, b0, b1, v0, v1 = map(float, sys.argv[1:])
print(int(t1 - t0), (d1 - d0) / max(1, t1 - t0), int(x1 - x0), int(b1 - b0), int(v1 - v0))
PY
}
read -r quiet_ticks quiet_tick_s _ _ quiet_values < <(measure)
"$abs_top_srcdir/tests/guest/domain.sh" "$flood" flood "$guest" "" channel >"$work/$flood.xml"
virsh -c "$URI" define "$work/$flood.xml" >>"$work/setup.log" 2>&1 && virsh -c "$URI" start "$flood" >>"$work/setup.log" 2>&1 ||
  bail "cannot start $flood"
flooding () { grep -q '^VP-FLOOD' "$guest/$flood.console" 2>/dev/null &&
  [ "$(vp_get "$VP_URL/metrics" | awk '$1 == "vpower_channel_discarded_bytes_total" { print $2 }')" != 0 ]; }
vp_wait_for 60 flooding || bail "the hostile guest does not flood its port"
read -r loud_ticks loud_tick_s loud_dropped loud_discarded loud_values < <(measure)
vp_diag "quiet: $quiet_ticks ticks, $quiet_tick_s s per tick, $quiet_values new guest values; with the flood:" \
  "$loud_ticks ticks, $loud_tick_s s per tick, $loud_values new guest values, $loud_dropped dropped, $loud_discarded bytes discarded"
vp_diag "tick time with the flood: $(python3 -c "print(round($loud_tick_s / max($quiet_tick_s, 1e-9), 2))")x the quiet window's (reported, not asserted)"
[ "$loud_ticks" -ge 6 ]
vp_ok $? "a guest flooding its port and never reading does not hold the engine up: it ticked $loud_ticks times meanwhile"
[ "$loud_values" -ge 3 ] && [ "$loud_discarded" -gt 0 ] && [ "$loud_discarded" -le $((4096 * (loud_ticks + 1))) ]
vp_ok $? "the other guest keeps getting its updates, and what the flood writes is read at most 4 KiB a tick, then dropped"
virsh -c "$URI" destroy "$flood" >/dev/null 2>&1

# save and restore while the guest reads.
has_values () { [ "$(n_values)" -ge "$1" ]; }
vp_wait_for 30 has_values 4 || bail "the guest does not read"
virsh -c "$URI" save "$vm" "$work/$vm.save" >>"$work/setup.log" 2>&1
vp_ok $? "virsh save succeeds with the channel"
before_restore=$(n_values)
virsh -c "$URI" restore "$work/$vm.save" >>"$work/setup.log" 2>&1
vp_ok $? "virsh restore succeeds"
more_after_restore () { [ "$(values | tail -n +$((before_restore + 1)) | sort -u | wc -l)" -ge 3 ]; }
vp_wait_for 30 more_after_restore
vp_ok $? "after the restore the guest's counter moves on (its channel reconnected to the new socket)"
epoch_restored=$(epoch_of "$vm")

# kill -9 of the engine while libvirtd is down too: the new engine cannot read the channel's
# path until libvirtd is back, then connects. Updates resume.
libvirtd_pid=$(cat /run/libvirtd.pid)
kill -TERM "$libvirtd_pid"
libvirtd_gone () { ! kill -0 "$libvirtd_pid" 2>/dev/null; }
vp_wait_for 20 libvirtd_gone || bail "libvirtd did not stop"
engine=$(vp_engine_pid)
kill -9 "$engine"
new_engine () { local p; p=$(vp_engine_pid); [ -n "$p" ] && [ "$p" != "$engine" ]; }
vp_wait_for 20 new_engine
"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "cannot restart libvirtd"
before_kill=$(n_values)
more_after_kill () { [ "$(values | tail -n +$((before_kill + 1)) | sort -u | wc -l)" -ge 3 ]; }
vp_wait_for 30 more_after_kill
vp_ok $? "after an engine kill -9 while libvirtd was down, and libvirtd's return, the guest's counter moves on"
epoch_killed=$(epoch_of "$vm")
[ -n "$epoch_start" ] && [ "$epoch_restored" = "$epoch_start" ] && [ "$epoch_killed" = "$epoch_start" ]
vp_ok $? "the VM's counter epoch on the host is the same before, after the restore and after the engine restart ($epoch_start, $epoch_restored, $epoch_killed)"

vp_wait_for 90 console_has '^VP-DONE' || bail "the guest did not finish"
touch "$work/stop-recording"
! console_has '^VP-ERROR'
vp_ok $? "the guest's reads never failed"
python3 - "$(values | tr '\n' ' ')" <<'PY'
import sys
v = [int(x) for x in sys.argv[1].split()]
bad = [(a, b) for a, b in zip(v, v[1:]) if b < a and not (a > 2**37 and b < 2**36)]   # a wrap is no decrease
print(f"# {len(v)} reads, {len(set(v))} distinct, decreases {bad[:3]}")
sys.exit(1 if bad or len(v) < 20 else 0)
PY
vp_ok $? "and never went back"
unpublished=$(values | sort -u | grep -vxFf <(awk '$2 == "0" { print $3 }' "$work/published") | head -3)
[ -z "$unpublished" ]
vp_ok $? "every value the guest read is one the host published for it (one host, one epoch) ${unpublished:+(not: $unpublished)}"
# A message cut by the switchover may be refused (its bytes are lost); a replay must not be.
console_has '^VP-STATUS origin_changes 0' && ! console_has 'replayed or out-of-order'
vp_ok $? "save, restore and the engine restart were no change of origin, and no message was taken for a replay"
console | grep '^VP-STATUS\|^VP-LOG' | sed 's/^/# /' | tail -12
grep -E 'engine|state|gone|channel of|restored|libvirt' "$work/vpowerd.log" | sed 's/^/# vpowerd: /' | tail -40
vp_finish
