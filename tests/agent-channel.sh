#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: the guest agent's own tree, fed through a FIFO instead of a virtio-serial port (the
# same reads: 0 while no host is connected), over a real FUSE mount. The tree meets the same
# layout, mode, write and path checks as vpowerd's (tests/tree-checks.sh); it shows exactly what
# one host sends, never goes back across a change of host and epoch, keeps its last values while
# no host writes, refuses damaged and replayed messages, and stops cleanly.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tree-checks.sh"

vp_require_fuse
vp_setup_workdir
chmod 755 "$work"
vp_plan 27
FEED="python3 $abs_top_srcdir/tests/helpers/vpchannel.py"
MAX=262143328850
guest=$work/guest
mkfifo "$work/port"
mkdir -p "$work/sysfs-powercap"

"$VPOWER_AGENT" mount --transport channel --channel-device "$work/port" --mount "$guest" \
  --runtime-dir "$work/run" --bind-sysfs --sysfs-powercap "$work/sysfs-powercap" >"$work/agent.log" 2>&1 &
agent=$!
pids+=("$agent")
vp_wait_for 10 mountpoint -q "$work/sysfs-powercap"
vp_ok $? "vpower-agent mount --transport channel mounts its tree and binds it over sysfs"
[ -z "$(ls -A "$guest")" ]
vp_ok $? "before the first message the tree is empty (no zeros)"
vp_check "the mount is ro,nosuid,nodev,noexec with allow_other and default_permissions" vp_tree_mount_options "$guest"

# A continuous reader, as a guest tool: every 50 ms, energy_uj of each flat zone.
python3 - "$guest" "$MAX" >"$work/reader.out" 2>&1 <<'PY' &
import os, sys, time
root, mx = sys.argv[1], int(sys.argv[2])
prev, errors, decreases, wraps, reads = {}, 0, 0, 0, 0
stop = root + "/../stop-reader"
while not os.path.exists(stop):
    for z in ("intel-rapl:0", "intel-rapl:0:0"):
        try:
            v = int(open(f"{root}/{z}/energy_uj").read())
        except FileNotFoundError:
            continue          # before the first message
        except Exception as e:
            errors += 1; print(f"# {z}: {e}"); continue
        reads += 1
        p = prev.get(z)
        if p is not None and v < p:
            if p > mx * 0.9 and v < mx * 0.1: wraps += 1
            else: decreases += 1; print(f"# {z}: {p} -> {v}")
        prev[z] = v
    time.sleep(0.05)
print(f"reads={reads} errors={errors} decreases={decreases} wraps={wraps}")
PY
reader=$!
pids+=("$reader")

# Host A, epoch 1: package-0 starts just below the top of its range, so it wraps in this epoch.
$FEED "$work/port" --host host-a --epoch 1 --run 10 --seq 1 --count 15 --interval 0.2 --log "$work/sent-a" \
  --zone "0:package-0:$MAX:$((MAX - 3000000)):1000000" --zone "0:0:core:$MAX:5000:400000" \
  --zone "0:1:uncore:$MAX:7:1" &
feed=$!
pids+=("$feed")
vp_wait_for 10 test -e "$guest/intel-rapl:0/energy_uj"
vp_ok $? "the first message makes the zones appear"

# Exactly what host A sent: every value read is one the host sent for that zone.
exact=0
for _ in $(seq 1 20); do
  for z in 0 0:0; do
    v=$(cat "$guest/intel-rapl:$z/energy_uj")
    grep -q " $z $v\$" "$work/sent-a" || { vp_diag "$z shows $v, never sent"; exact=1; }
  done
  sleep 0.1
done
vp_ok $exact "on one host the guest shows exactly the host's energy_uj values"
wait "$feed"

diff <(vp_tree_expected_layout "$guest" 0:0) <(vp_tree_actual_layout "$guest") >"$work/diff"
vp_ok $? "the tree has the host's powercap layout and modes, owned by root as the kernel's"
sed 's/^/# /' "$work/diff"
[ "$(cat "$guest/intel-rapl:0:1/name")" = uncore ] && [ "$(cat "$guest/intel-rapl:0/max_energy_range_uj")" = "$MAX" ]
vp_ok $? "name and max_energy_range_uj are the host's"
[ "$(readlink "$guest/intel-rapl/subsystem")" = .. ] && [ -d "$guest/intel-rapl/subsystem/intel-rapl:0" ]
vp_ok $? "intel-rapl/subsystem links to the tree's root"
vp_check "writes of every kind get EROFS or EACCES" vp_tree_writes_refused "$guest"
vp_check "unknown names are ENOENT and every symlink stays inside the tree" vp_tree_paths_contained "$guest"
[ "$(cat "$work/sysfs-powercap/intel-rapl:0/energy_uj")" = "$(cat "$guest/intel-rapl:0/energy_uj")" ]
vp_ok $? "the sysfs bind shows the same counters"
last=$(tail -3 "$work/sent-a" | awk '$2 == "0" {print $3}')
[ "$(cat "$guest/intel-rapl:0/energy_uj")" = "$last" ]
vp_ok $? "after the host's last message the tree holds its last value"

# No host for a while (engine down, switchover): reads go on, values stay.
before=$(cat "$guest/intel-rapl:0:0/energy_uj")
vp_wait_for 5 grep -q '^connected 0' "$work/run/channel.status"
vp_ok $? "the status file says when no host is connected"
sleep_until=$((SECONDS + 1)); while [ $SECONDS -lt $sleep_until ]; do cat "$guest/intel-rapl:0:0/energy_uj" >/dev/null || break; done
[ "$(cat "$guest/intel-rapl:0:0/energy_uj")" = "$before" ]
vp_ok $? "while no host writes, reads return the last values"

# Host B, epoch 7, counters far lower (another host's origin): the guest carries on, never back.
$FEED "$work/port" --host host-b --epoch 7 --run 3 --seq 1 --count 8 --interval 0.2 --log "$work/sent-b" \
  --zone "0:package-0:$MAX:1234:2000000" --zone "0:0:core:$MAX:99:500000" --zone "0:1:uncore:$MAX:7:1"
after=$(cat "$guest/intel-rapl:0:0/energy_uj")
# Seven of B's eight steps count: the message of the change adds nothing (at most one tick lost).
[ "$after" -eq $((before + 7 * 500000)) ]
vp_ok $? "after a change of host and epoch the guest continues from its last value plus the new deltas ($before -> $after)"
vp_wait_for 5 grep -q '^origin_changes 1$' "$work/run/channel.status"
vp_ok $? "the change is counted"
vp_wait_for 5 grep -q 'changed origin (host host-a epoch 1 -> host host-b epoch 7)' "$work/agent.log"
vp_ok $? "and logged"
vp_start_agent "$work/serve.log" --root "$guest" --runtime-dir "$work/run" --interval 1
vp_get "$AGENT_URL/metrics" >"$work/agent.metrics"
[ "$(vp_metric "$work/agent.metrics" vpower_agent_channel_origin_changes_total)" = 1 ] &&
  [ "$(vp_metric "$work/agent.metrics" vpower_agent_channel_messages_total)" -ge 20 ] &&
  "${PROMTOOL:-promtool}" check metrics <"$work/agent.metrics" >/dev/null 2>&1
vp_ok $? "the agent's exporter counts it (vpower_agent_channel_origin_changes_total), in valid exposition"

# Damage: garbage first, then a replay of an old message of the same run; both refused.
refused_before=$(awk '$1 == "refused" {print $2}' "$work/run/channel.status")
# The good messages go on from host B's last values (seq 9, core 99 + 8 steps).
$FEED "$work/port" --host host-b --epoch 7 --run 3 --seq 9 --count 2 --interval 0.2 --garbage --replay \
  --zone "0:package-0:$MAX:$((1234 + 8 * 2000000)):2000000" --zone "0:0:core:$MAX:$((99 + 8 * 500000)):500000" \
  --zone "0:1:uncore:$MAX:7:1"
vp_wait_for 5 awk -v b="$refused_before" '$1 == "refused" && $2 >= b + 3 {f=1} END {exit !f}' "$work/run/channel.status"
vp_ok $? "garbage, an overlong line and a replayed message are refused"
[ "$(cat "$guest/intel-rapl:0:0/energy_uj")" -eq $((after + 2 * 500000)) ]
vp_ok $? "and the good messages among them count, exactly"
[ "$(grep -c 'WARNING.*channel: \|channel: .*refused\|channel: garbage\|channel: a line' "$work/agent.log")" -le 2 ]
vp_ok $? "refusals are logged once, then rate-limited"

# A reader that keeps energy_uj open and rewinds (tests/readers.sh's), across a host's messages.
$FEED "$work/port" --host host-b --epoch 7 --run 4 --seq 1 --count 12 --interval 0.2 \
  --zone "0:package-0:$MAX:70000000:2000000" --zone "0:0:core:$MAX:10000000:500000" --zone "0:1:uncore:$MAX:7:1" &
feed=$!
"$abs_top_builddir/tests/vp-rewind" "$guest/intel-rapl:0:0/energy_uj" 2 0.1 pread >"$work/rewind" 2>&1
wait "$feed"
grep -q ' errors=0 decreases=0 ' "$work/rewind" && awk '{for(i=1;i<=NF;i++) if ($i ~ /^distinct=/) {split($i,a,"="); exit !(a[2] >= 3)}}' "$work/rewind"
vp_ok $? "a held energy_uj re-read at offset 0 follows the messages: $(cat "$work/rewind")"

touch "$work/stop-reader"
wait "$reader"
grep -q ' errors=0 decreases=0 ' "$work/reader.out"
vp_ok $? "a guest reader saw no error and no decrease over the whole run: $(tail -1 "$work/reader.out")"
sed 's/^/# /' "$work/reader.out" | head -5

"$VPOWER_AGENT" umount --mount "$guest" --sysfs-powercap "$work/sysfs-powercap" >>"$work/agent.log" 2>&1
vp_ok $? "vpower-agent umount succeeds"
vp_wait_for 10 sh -c "! kill -0 $agent 2>/dev/null"
wait "$agent"
vp_ok $? "and the serving agent exits with status 0"
! mountpoint -q "$guest" && ! mountpoint -q "$work/sysfs-powercap"
vp_ok $? "nothing stays mounted"

# SIGTERM (systemd's stop) unmounts too.
"$VPOWER_AGENT" mount --transport channel --channel-device "$work/port" --mount "$guest" \
  --runtime-dir "$work/run" >>"$work/agent.log" 2>&1 &
agent=$!
pids+=("$agent")
vp_wait_for 10 mountpoint -q "$guest"
kill -TERM "$agent"
wait "$agent"
status=$?
! mountpoint -q "$guest" && [ $status -eq 0 ]
vp_ok $? "SIGTERM unmounts the tree and exits 0"
sed 's/^/# /' "$work/agent.log" | tail -5
vp_finish
