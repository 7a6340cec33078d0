#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vpowerd as systemd runs it (vpowerd.service), without systemd: a notify socket and the
# variables systemd sets. READY=1 comes only once the tree is mounted with the VM's directory;
# WATCHDOG=1 keeps coming, even while the engine hangs (the holder replaces a hung engine
# itself); ExecReload's
# SIGHUP swaps the engine (RELOADING=1, READY=1) while the VM's directory, held open as a
# running guest's share holds it, keeps reading without an error; SIGTERM says STOPPING=1, saves and
# exits 0; and the unit's ExecStopPost clears the mount a killed vpowerd leaves behind.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
vp_setup_workdir
unit=$abs_top_builddir/host/vpowerd.service
[ -f "$unit" ] || { echo "Bail out! no $unit"; exit 1; }
mnt=$work/mnt
run=$work/run
# The "VM" is a busy process, so its counter rises.
"$VP_BURN" 0.3 & pids+=($!)
printf '[vm1]\nuuid=11111111-2222-3333-4444-555555555555\npid=%d\n' $! > "$work/vms.conf"
args=(--foreground --inventory "static:$work/vms.conf" --sensor model --allow-fast-updates --interval 0.5 --mount "$mnt"
      --runtime-dir "$run" --state-dir "$work/state" --listen "127.0.0.1:$(vp_free_port)")

vp_plan 12

# The notify socket: each datagram is logged with whether the mount and the
# VM's directory existed when it arrived.
python3 - "$work/notify.sock" "$work/notify.log" "$mnt" <<'PY' & pids+=($!)
import os, socket, sys
path, log, mnt = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(log, "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode(errors="replace").replace("\n", "|")
        mounted = any(l.split()[4] == mnt for l in open("/proc/self/mountinfo"))
        out.write(f"{int(mounted)} {int(os.path.isdir(mnt + '/vm1/intel-rapl'))} {msg}\n")
PY
vp_wait_for 5 test -S "$work/notify.sock" || { echo "Bail out! no notify socket"; exit 1; }
notified () { grep -c -- "$1" "$work/notify.log" 2>/dev/null || true; }
at_least () { [ "$(notified "$1")" -ge "$2" ]; }

# As systemd starts it: the notify and watchdog variables for the main PID. (OOMScoreAdjust=
# cannot be emulated: lowering oom_score_adj needs CAP_SYS_RESOURCE, which these containers lack.)
NOTIFY_SOCKET=$work/notify.sock WATCHDOG_USEC=1000000 \
  sh -c 'WATCHDOG_PID=$$ exec "$@"' sh "$VPOWERD" "${args[@]}" >>"$work/vpowerd.log" 2>&1 &
VP_PID=$!

vp_check "READY=1 arrives" vp_wait_for 20 at_least 'READY=1' 1
grep -q '^1 1 .*READY=1' "$work/notify.log"
vp_ok $? "only once the tree was mounted and held the VM's directory"
grep -q 'STATUS=serving 1 VMs under' "$work/notify.log"
vp_ok $? "with a STATUS line saying what it serves"
vp_check "WATCHDOG=1 keeps coming (every 0.5 s for WatchdogSec=1)" vp_wait_for 5 at_least 'WATCHDOG=1' 4

# The engine the holder started (polled: pgrep may not list it at the very moment READY=1 lands).
engine_known () { engine=$(vp_engine_pid) && [ -n "$engine" ]; }
vp_wait_for 10 engine_known

# A reader holding the VM's directory open and opening energy_uj relative to it for every
# read, as QEMU's 9p server and virtiofsd do for a running guest (cache=none).
python3 - "$mnt/vm1" "$work/reads.log" "$work/stop-reading" <<'PY' & pids+=($!)
import os, sys, time
root, log, stop = sys.argv[1:4]
root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
with open(log, "w", buffering=1) as out:
    while not os.path.exists(stop):
        try:
            fd = os.open("intel-rapl:0/energy_uj", os.O_RDONLY, dir_fd=root_fd)
            try:
                out.write("value %d\n" % int(os.read(fd, 64)))
            finally:
                os.close(fd)
        except Exception as e:
            out.write("error %s\n" % e)
        time.sleep(0.05)
PY
reads () { grep -c '^value' "$work/reads.log" 2>/dev/null || echo 0; }
vp_wait_for 5 test -s "$work/reads.log"
ready_before=$(notified 'READY=1')

kill -HUP "$VP_PID"   # ExecReload=/bin/kill -HUP $MAINPID
new_engine () { local e; e=$(vp_engine_pid) && [ -n "$e" ] && [ "$e" != "$engine" ]; }
vp_check "ExecReload: RELOADING=1, and READY=1 again once the new engine has published" \
  vp_wait_for 20 eval 'at_least RELOADING=1 1 && at_least READY=1 $((ready_before + 1))'
vp_wait_for 20 new_engine
vp_ok $? "the engine was replaced ($engine -> $(vp_engine_pid))"
reads_at_reload=$(reads)
vp_wait_for 5 eval '[ $(reads) -gt $((reads_at_reload + 20)) ]'
touch "$work/stop-reading"
python3 - "$work/reads.log" "$(cat "$mnt/vm1/intel-rapl:0/max_energy_range_uj")" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
top = int(sys.argv[2])
values = [int(l.split()[1]) for l in lines if l.startswith("value ")]
errors = [l for l in lines if l.startswith("error")]
# Forward, or a wrap at max_energy_range_uj (from near the top to near 0).
forward = lambda a, b: b >= a or (top - a) + b < top // 2
risen = sum((b - a) % top for a, b in zip(values, values[1:]))
print(f"# {len(values)} reads {values[0]}..{values[-1]}, errors: {errors[:3]}")
sys.exit(0 if values and not errors and all(forward(a, b) for a, b in zip(values, values[1:])) and risen > 0 else 1)
PY
vp_ok $? "the share, held open across the reload, kept reading: no error, never backwards, still rising"

# A hung engine: the watchdog keeps being answered, and the holder replaces the engine.
vp_wait_for 10 engine_known
kill -STOP "$engine"
watchdogs=$(notified 'WATCHDOG=1')
vp_check "the holder replaces an engine that stopped publishing" vp_wait_for 25 new_engine
[ "$(notified 'WATCHDOG=1')" -ge $((watchdogs + 10)) ]
vp_ok $? "WATCHDOG=1 kept coming while the engine hung ($(( $(notified 'WATCHDOG=1') - watchdogs )) more)"
grep -q "has published nothing for" "$work/vpowerd.log"
vp_ok $? "and the log says why it was replaced"

kill -TERM "$VP_PID"
wait "$VP_PID"
status=$?
VP_PID=
[ $status -eq 0 ] && at_least 'STOPPING=1' 1 && [ -s "$work/state/state.json" -o -n "$(ls -A "$work/state" 2>/dev/null)" ] &&
  ! mountpoint -q "$mnt"
vp_ok $? "SIGTERM: STOPPING=1, the counters saved, unmounted, exit 0 (status $status)"

# ExecStopPost, for a vpowerd that was killed: the stale mount answers ENOTCONN until it runs.
"$VPOWERD" "${args[@]}" >>"$work/vpowerd.log" 2>&1 &
VP_PID=$!
vp_wait_for 20 mountpoint -q "$mnt"
kill -9 "$(vp_engine_pid)" "$VP_PID"
wait "$VP_PID" 2>/dev/null
VP_PID=
stale () { ! stat "$mnt" >/dev/null 2>&1; }
vp_wait_for 5 stale
stop_post=$(sed -n 's/^ExecStopPost=-//p' "$unit")
eval "${stop_post% *} '$mnt'"
! grep -q " $mnt " /proc/self/mountinfo && stat "$mnt" >/dev/null
vp_ok $? "ExecStopPost ($stop_post) clears the mount a killed vpowerd left"
vp_finish
