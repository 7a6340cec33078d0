#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: the tree survives its engine. kill -9 of the engine while readers loop: no read
# error, no decrease, updates resume within 2 intervals. SIGHUP restarts the engine with the
# same guarantees. A clean stop unmounts, but keeps serving whoever still holds the tree (a
# guest's QEMU, in its own mount namespace) until it lets go. A holder killed -9 leaves a stale
# mount that the next vpowerd replaces, and counters carry on.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
command -v unshare >/dev/null || vp_skip_or_fail "no unshare"
vp_setup_workdir
vp_plan 16
VP_READERS="$abs_top_builddir/tests/vp-readers"

cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/powercap"
"$VP_FAKE_RAPL" "$work/powercap" intel-rapl:0=100 intel-rapl:0:0=40 & pids+=($!)
"$VP_BURN" 0.3 & pids+=($!); busy=$!
printf '[web1]\nuuid=aaaaaaaa-0000-4000-8000-000000000001\npid=%s\n' "$busy" > "$work/vms.ini"
args=(--sensor powercap --powercap-root "$work/powercap" --inventory "static:$work/vms.ini"
      --interval 1 --state-dir "$work/state")
vp_start_mounted "$work/vpowerd.log" "${args[@]}"
vp_ok $? "vpowerd mounts the tree and ticks"
file="$VP_MNT/web1/intel-rapl:0/energy_uj"
holder=$VP_PID

value_changed_from () { local v; v=$(cat "$file") && [ "$v" != "$1" ]; }

# 1. kill -9 the engine under 4 readers.
"$VP_READERS" "$file" 4 -t 6 > "$work/readers-kill" 2>&1 & readers=$!
vp_wait_for 10 vp_ticks_at_least 3
engine=$(vp_engine_pid)
kill -9 "$engine"
killed_at=$(date +%s%N); value_at_kill=$(cat "$file")
vp_wait_for 10 value_changed_from "$value_at_kill"
resumed_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
vp_diag "updates resumed ${resumed_ms} ms after the kill"
[ "$resumed_ms" -le 2000 ]
vp_ok $? "after kill -9 of the engine, updates resume within 2 intervals"
new_engine=$(vp_engine_pid)
[ -n "$new_engine" ] && [ "$new_engine" != "$engine" ] && kill -0 "$holder"
vp_ok $? "the holder is the same process and runs a new engine"
wait $readers
vp_diag "readers: $(cat "$work/readers-kill")"
grep -q "errors=0 decreases=0 " "$work/readers-kill" && ! grep -q "^reads=0 " "$work/readers-kill"
vp_ok $? "4 readers across the kill: zero read errors, values never decrease"
grep -q "the engine was killed by signal 9; the tree keeps serving the last values" "$work/vpowerd.log"
vp_ok $? "the crash is logged"

# 2. SIGHUP: the engine restarts (a reload or an upgrade), the share does not notice.
"$VP_READERS" "$file" 4 -t 4 > "$work/readers-hup" 2>&1 & readers=$!
engine=$(vp_engine_pid)
kill -HUP "$holder"
engine_replaced () { local e; e=$(vp_engine_pid) && [ -n "$e" ] && [ "$e" != "$engine" ]; }
vp_check "SIGHUP restarts the engine" vp_wait_for 10 engine_replaced
value=$(cat "$file")
vp_check "and updates resume" vp_wait_for 3 value_changed_from "$value"
wait $readers
grep -q "errors=0 decreases=0 " "$work/readers-hup"
vp_ok $? "4 readers across the SIGHUP restart: zero errors, no decrease"
grep -q "SIGHUP: restarting the engine" "$work/vpowerd.log"
vp_ok $? "the reload is logged"

# 3. A clean stop while a "guest" holds the tree from its own mount namespace,
#    as QEMU does (libvirt starts it in a private one).
unshare --mount --propagation private bash -c '
  cd "$1" || exit 1
  while [ ! -e "$2/release" ]; do cat intel-rapl:0/energy_uj >> "$2/guest-reads" || echo ERROR >> "$2/guest-reads"; sleep 0.1; done' \
  _ "$VP_MNT/web1" "$work" & guest=$!
guest_reading () { [ -s "$work/guest-reads" ]; }
vp_wait_for 10 guest_reading
kill -TERM "$holder"
unmounted () { ! mountpoint -q "$VP_MNT"; }
vp_check "SIGTERM detaches the tree from the host" vp_wait_for 20 unmounted
lingering () { grep -q "running guests still hold it" "$work/vpowerd.log"; }
vp_wait_for 10 lingering
kill -0 "$holder" 2>/dev/null
vp_ok $? "while a guest still holds the tree, vpowerd keeps serving it"
lines=$(wc -l < "$work/guest-reads")
more_reads () { [ "$(wc -l < "$work/guest-reads")" -gt $((lines + 5)) ]; }
vp_wait_for 10 more_reads
! grep -q ERROR "$work/guest-reads"
vp_ok $? "the guest's reads keep working, with no error"
touch "$work/release"; wait $guest
holder_gone () { ! kill -0 "$holder" 2>/dev/null; }
vp_check "vpowerd exits once the guest lets go" vp_wait_for 20 holder_gone
wait "$holder"; status=$?; VP_PID=
vp_ok $status "with status 0"

# 4. A holder killed -9 leaves a dead mount; the next vpowerd replaces it, and
#    counters carry on from where they were.
vp_start_mounted "$work/vpowerd2.log" "${args[@]}"
last=$(cat "$file")
engine=$(vp_engine_pid)
kill -9 "$VP_PID"; wait "$VP_PID" 2>/dev/null
engine_gone () { ! kill -0 "$engine" 2>/dev/null; }
vp_wait_for 10 engine_gone
VP_PID=
vp_start_mounted "$work/vpowerd3.log" "${args[@]}"
vp_ok $? "a new vpowerd mounts over the dead one's mount point"
now=$(cat "$file")
vp_diag "before: $last, after: $now"
[ "$now" -ge "$last" ] && grep -q "stale mount" "$work/vpowerd3.log"
vp_ok $? "the stale mount is replaced (and logged), and the counter did not go back"

vp_finish
