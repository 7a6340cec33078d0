#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The platform's power from a BMC (issue 32), against a real BMC simulator: OpenIPMI's ipmi_sim on
# loopback (tests/helpers/bmc-sim.sh), read by vpowerd with FreeIPMI over the LAN (in-band is the
# same library call on /dev/ipmi0). It has no DCMI, so vpowerd reads its one SDR sensor in watts.
# vpowerd follows the reading as the test changes it. The simulator hung (SIGSTOP), stopped, and
# replaced by something that answers garbage: the engine ticks on, the platform turns stale and
# says so once each time, no VM's counter goes back, and it recovers when the BMC answers again.
# A credentials file others can read is refused with one line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
command -v ipmi_sim >/dev/null || vp_skip_or_fail "no ipmi_sim (Debian: openipmi)"
"$VPOWERD" --platform ipmi --once --sensor model --inventory static:/nonexistent 2>&1 | grep -q "built without FreeIPMI" &&
  vp_skip_or_fail "vpowerd was built without FreeIPMI (libfreeipmi-dev)"
vp_setup_workdir
chmod 755 "$work"
bmc=$abs_top_srcdir/tests/helpers/bmc-sim.sh
udp_port () { python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(udp_port)
console_port=$(vp_free_port)
garbage=
cleanup () {
  "$bmc" stop "$work/bmc" 2>/dev/null
  [ -n "$garbage" ] && kill "$garbage" 2>/dev/null
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () { echo "Bail out! $1"; sed 's/^/# /' "$work/vpowerd.log" "$work/bmc/sim.log" 2>/dev/null | tail -30; exit 1; }

vp_plan 8

"$bmc" start "$work/bmc" "$port" "$console_port" 256 2>"$work/bmc.err" || bail "the BMC simulator did not start: $(cat "$work/bmc.err")"
printf '[ipmi]\nuser=vpower\npassword=secret\n' >"$work/ipmi.conf"
chmod 600 "$work/ipmi.conf"

# The host: one package at 100 W, and one VM.
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/powercap"
"$VP_FAKE_RAPL" "$work/powercap" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!)
"$VP_BURN" 0.3 & pids+=($!)
printf '[vm-a]\nuuid=aaaaaaaa-0000-4000-8000-00000000001a\npid=%s\nvcpus=1\n' "$!" >"$work/vms.ini"
vp_start_mounted "$work/vpowerd.log" --sensor powercap --powercap-root "$work/powercap" \
  --inventory "static:$work/vms.ini" --platform ipmi --ipmi-host "127.0.0.1:$port" \
  --ipmi-credentials "$work/ipmi.conf" --state-dir "$work/state" || bail "vpowerd did not start"
vp_record_published vm-a "$work/published" "$work/stop-recording"
platform () { vp_get "$VP_URL/api/v1/host" | vp_json "d['platform']['$1']"; }
stale_said () { grep -c "platform: the BMC 127.0.0.1:$port, SDR sensor 'Pwr Consumption' is stale" "$work/vpowerd.log"; }

[ "$(platform source)" = ipmi ] && [ "$(platform description)" = "the BMC 127.0.0.1:$port, SDR sensor 'Pwr Consumption'" ] &&
  [ "$(platform watts)" = 256.0 ] && [ "$(platform stale)" = False ]
vp_ok $? "vpowerd reads the BMC over the LAN with FreeIPMI: no DCMI there, so its sensor in watts ($(platform description), $(platform watts) W)"

"$bmc" set "$work/bmc" 320
vp_wait_for 20 eval '[ "$(platform watts)" = 320.0 ]'
vp_ok $? "it follows the reading the test changes: $(platform watts) W"

ticks=$(vp_ticks)
vp_wait_for 20 vp_ticks_at_least $((ticks + 3))
vp_books_conserve "$VP_URL" 4
vp_ok $? "the books conserve to the µJ, psys included"

# Hung: the simulator stops answering (SIGSTOP). The engine ticks on; stale, said once.
kill -STOP "$(cat "$work/bmc/pid")"
vp_wait_for 30 eval '[ "$(platform stale)" = True ]'
hung=$?
ticks=$(vp_ticks)
vp_wait_for 20 vp_ticks_at_least $((ticks + 5))
ticking=$?
[ $hung -eq 0 ] && [ $ticking -eq 0 ] && [ "$(stale_said)" = 1 ]
vp_ok $? "a hung BMC: the engine ticks on ($ticks, then $(vp_ticks) ticks), the platform turns stale and says so once"

kill -CONT "$(cat "$work/bmc/pid")"
vp_wait_for 30 eval '[ "$(platform stale)" = False ]'
vp_ok $? "it answers again: fresh ($(grep -c "answers again" "$work/vpowerd.log") times said)"

# Stopped, then something that answers garbage in its place: stale once, ticking, no crash.
"$bmc" stop "$work/bmc"
"$bmc" garbage "$port" & garbage=$!
vp_wait_for 30 eval '[ "$(platform stale)" = True ]'
stale=$?
ticks=$(vp_ticks)
vp_wait_for 20 vp_ticks_at_least $((ticks + 5))
ticking=$?
[ $stale -eq 0 ] && [ $ticking -eq 0 ] && [ "$(stale_said)" = 2 ] && kill -0 "$VP_PID"
vp_ok $? "a stopped BMC, then garbage in its place: stale again, said once more, and vpowerd ticks on"

kill "$garbage" 2>/dev/null; wait "$garbage" 2>/dev/null; garbage=
"$bmc" start "$work/bmc" "$port" "$console_port" 200 2>>"$work/bmc.err"
vp_wait_for 30 eval '[ "$(platform stale)" = False ] && [ "$(platform watts)" = 200.0 ]'
recovered=$?
touch "$work/stop-recording"
# Every zone's published value, in order: never less than the one before.
python3 - "$work/published" <<'PY'
import sys
last, back = {}, 0
for line in open(sys.argv[1]):
    _, index, value = line.split()
    value = int(value)
    if value < last.get(index, 0):
        back += 1
    last[index] = value
print(f"# {len(last)} zones recorded, {back} values went back")
sys.exit(1 if back or "1" not in last else 0)
PY
[ $? -eq 0 ] && [ $recovered -eq 0 ]
vp_ok $? "the BMC back at 200 W: vpowerd recovers, and no VM counter went back through all of it"

chmod 640 "$work/ipmi.conf"
"$VPOWERD" --foreground --once --sensor model --inventory "static:$work/vms.ini" --platform ipmi \
  --ipmi-host "127.0.0.1:$port" --ipmi-credentials "$work/ipmi.conf" >/dev/null 2>"$work/perm.err"
status=$?
vp_diag "$(cat "$work/perm.err")"
[ $status -ne 0 ] && [ "$(wc -l <"$work/perm.err")" = 1 ] && grep -q "readable by root alone" "$work/perm.err"
vp_ok $? "a credentials file others may read is refused, with one line (status $status)"

vp_finish
