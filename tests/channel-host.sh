#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: vpowerd's side of the virtio-serial channel, against sockets that play QEMU's part
# (tests/helpers/fake-qemu-channel.py): what it sends (vpower-channel(7), checked by a parser
# written from the page), that a guest agent fed by it shows exactly the host's values, that it
# reconnects after the socket goes and after an engine kill -9, and that guests which never read or
# which flood the socket hold nothing up: the engine keeps ticking and the other VMs get a message
# every tick (counted over ticks; the tick's duration against a quiet phase is only reported).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tree-checks.sh"

vp_require_fuse
vp_setup_workdir
chmod 755 "$work"
vp_plan 17
QEMU="python3 $abs_top_srcdir/tests/helpers/fake-qemu-channel.py"
HOST_ID=test-host-a

"$VP_BURN" 0.3 & pids+=($!); burn=$!
cat > "$work/vms.ini" <<INI
[web1]
uuid=aaaaaaaa-0000-4000-8000-000000000001
pid=$burn
channel=$work/web1.sock
[web2]
uuid=aaaaaaaa-0000-4000-8000-000000000002
pid=$$
channel=$work/web2.sock
[deaf]
uuid=aaaaaaaa-0000-4000-8000-000000000003
pid=$$
channel=$work/deaf.sock
[flood]
uuid=aaaaaaaa-0000-4000-8000-000000000004
pid=$$
channel=$work/flood.sock
INI
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/rapl"
"$VP_FAKE_RAPL" "$work/rapl" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!)

# web1's socket feeds a guest agent through a FIFO (its port); web2's is recorded to a file.
mkfifo "$work/web1.port"
"$VPOWER_AGENT" mount --transport channel --channel-device "$work/web1.port" --mount "$work/guest" \
  --runtime-dir "$work/agent-run" >"$work/agent.log" 2>&1 & pids+=($!)
$QEMU "$work/web1.sock" record "$work/web1.port" & pids+=($!); web1_qemu=$!
$QEMU "$work/web2.sock" record "$work/web2.bytes" & pids+=($!); web2_qemu=$!
vp_wait_for 10 test -S "$work/web2.sock"

vp_start_mounted "$work/vpowerd.log" --sensor powercap --powercap-root "$work/rapl" \
  --inventory "static:$work/vms.ini" --allow-fast-updates --interval 0.1 --state-dir "$work/state" --host-id "$HOST_ID"
vp_ok $? "vpowerd starts with four VMs that have channels, two of them with no socket yet"

host_value () { cat "$VP_MNT/web1/intel-rapl:$1/energy_uj"; }
guest_value () { cat "$work/guest/intel-rapl:$1/energy_uj" 2>/dev/null; }
same_as_host () { local z; for z in 0 0:0; do [ "$(guest_value $z)" = "$(host_value $z)" ] || return 1; done; }
vp_wait_for 15 same_as_host
vp_ok $? "the agent fed by web1's channel shows exactly what the host's web1 files show"
diff <(vp_tree_expected_layout "$VP_MNT/web1" 0:0) <(vp_tree_actual_layout "$work/guest") >"$work/diff"
vp_ok $? "with the same layout as the host's web1 directory"

# Every recorded message follows the page: checksum, fields, one run, consecutive seq, one epoch.
check_messages () {
  python3 - "$1" "$2" "$3" "$abs_top_srcdir/tests/helpers" <<'PY'
import sys
sys.path.insert(0, sys.argv[4])
from vpchannel import parse
data, host, uuid = open(sys.argv[1], "rb").read().decode(), sys.argv[2], sys.argv[3]
try:
    msgs = parse(data)
except ValueError as e:
    print(f"# {e}"); sys.exit(1)
assert msgs, "no message"
runs = {m[0]["run"] for m in msgs}; epochs = {m[0]["epoch"] for m in msgs}
seqs = [int(m[0]["seq"]) for m in msgs]
ok = (all(m[0]["host"] == host and m[0]["uuid"] == uuid for m in msgs) and len(runs) == 1 and len(epochs) == 1
      and "0" not in epochs and all(b > a for a, b in zip(seqs, seqs[1:]))
      and all([(z[0], z[1]) for z in m[1]] == [("0", "package-0"), ("0:0", "core"), ("0:1", "uncore")] for m in msgs))
print(f"# {len(msgs)} messages, seq {seqs[0]}..{seqs[-1]}, epoch {epochs}")
sys.exit(0 if ok else 1)
PY
}
vp_wait_for 10 vp_ticks_at_least 20
vp_check "web2's messages follow vpower-channel(7): whole, checksummed, one run and epoch, seq rising" \
  check_messages "$work/web2.bytes" "$HOST_ID" aaaaaaaa-0000-4000-8000-000000000002
grep -c 'channel of deaf: cannot connect' "$work/vpowerd.log" | grep -qx 1
vp_ok $? "a missing socket is logged once, however often it is retried"

# A quiet phase, then the deaf and flooding guests: the tick and web2's messages must not notice.
measure () {   # over the next 20 ticks (waited for, with a deadline): ticks, mean tick duration, web2 messages
  local t0 d0 b0 t1 d1 b1
  read -r t0 d0 < <(vp_get "$VP_URL/metrics" | awk '$1=="vpower_ticks_total"{t=$2} $1=="vpower_tick_duration_seconds_total"{d=$2} END{print t, d}')
  b0=$(grep -c '^vpower-channel ' "$work/web2.bytes")
  vp_wait_for 60 vp_ticks_at_least $((${t0%.*} + 20)) || echo "# the engine did not tick 20 times within 60 s" >&2
  read -r t1 d1 < <(vp_get "$VP_URL/metrics" | awk '$1=="vpower_ticks_total"{t=$2} $1=="vpower_tick_duration_seconds_total"{d=$2} END{print t, d}')
  b1=$(grep -c '^vpower-channel ' "$work/web2.bytes")
  echo "$(( (t1 - t0) )) $(python3 -c "print(($d1 - $d0) / max(1, $t1 - $t0))") $(( b1 - b0 ))"
}
read -r quiet_ticks quiet_duration quiet_msgs < <(measure)
$QEMU "$work/deaf.sock" deaf & pids+=($!)
$QEMU "$work/flood.sock" flood & pids+=($!)
connected () { [ "$(vp_get "$VP_URL/api/v1/host" | vp_json 'd["channels_connected"]')" = 4 ]; }
vp_wait_for 40 connected
vp_ok $? "the late sockets are connected after the backoff"
read -r loud_ticks loud_duration loud_msgs < <(measure)
vp_diag "quiet: $quiet_ticks ticks, $quiet_duration s/tick, $quiet_msgs web2 messages; hostile: $loud_ticks ticks, $loud_duration s/tick, $loud_msgs web2 messages"
vp_diag "tick time with them: $(python3 -c "print(round($loud_duration / max($quiet_duration, 1e-9), 2))")x the quiet phase's (reported, not asserted)"
[ "$loud_ticks" -ge 20 ]
vp_ok $? "with a deaf and a flooding guest the engine keeps ticking ($loud_ticks ticks)"
# A message a tick; the count can straddle a tick at either end of the window.
[ "$quiet_msgs" -ge $((quiet_ticks - 2)) ] && [ "$loud_msgs" -ge $((loud_ticks - 2)) ]
vp_ok $? "and web2 gets a message every tick, as before them ($loud_msgs messages in $loud_ticks ticks; quiet: $quiet_msgs in $quiet_ticks)"
dropped_some () { vp_get "$VP_URL/metrics" | awk '$1=="vpower_channel_messages_dropped_total" && $2 > 0 {f=1} END{exit !f}'; }
vp_wait_for 20 dropped_some
vp_ok $? "messages a deaf guest does not take are dropped and counted"

# web2's socket goes (its QEMU exits) and comes back: logged once, reconnected, the seq goes on rising.
kill "$web2_qemu"; wait "$web2_qemu" 2>/dev/null
vp_wait_for 10 grep -q 'channel of web2: the other end closed' "$work/vpowerd.log"
vp_ok $? "a socket closed by the other end is logged"
: >"$work/web2.bytes"
$QEMU "$work/web2.sock" record "$work/web2.bytes" & pids+=($!)
has_messages () { [ "$(grep -c '^vpower-channel ' "$work/web2.bytes")" -ge 5 ]; }
vp_wait_for 40 has_messages
vp_check "and the new socket gets whole messages again" check_messages "$work/web2.bytes" "$HOST_ID" \
  aaaaaaaa-0000-4000-8000-000000000002

# kill -9 of the engine: the agent's values never go back, and follow the host again.
python3 - "$work/guest" >"$work/reader.out" <<'PY' &
import os, sys, time
root, prev, bad, errors = sys.argv[1], None, 0, 0
end = time.time() + 8
while time.time() < end:
    try: v = int(open(f"{root}/intel-rapl:0:0/energy_uj").read())
    except Exception as e: errors += 1; continue
    if prev is not None and v < prev: bad += 1
    prev = v; time.sleep(0.02)
print(f"errors={errors} decreases={bad}")
PY
reader=$!
engine=$(vp_engine_pid)
kill -9 "$engine"
new_engine () { local p; p=$(vp_engine_pid); [ -n "$p" ] && [ "$p" != "$engine" ]; }
vp_wait_for 20 new_engine
vp_wait_for 15 same_as_host
vp_ok $? "after an engine kill -9 the agent follows the host's values again"
wait "$reader"
grep -qx 'errors=0 decreases=0' "$work/reader.out"
vp_ok $? "and a guest reader saw no error and no decrease meanwhile ($(cat "$work/reader.out"))"
[ "$(awk '$1 == "origin_changes" {print $2}' "$work/agent-run/channel.status")" = 0 ]
vp_ok $? "an engine restart is no change of origin for the guest (same host, same epoch)"
vp_stop_vpowerd
vp_ok $? "vpowerd stops cleanly"

# --once counts from zero for a diagnostic: its values must never reach a guest.
printf '[web1]\nuuid=aaaaaaaa-0000-4000-8000-000000000001\npid=%d\nchannel=%s\n' "$burn" "$work/once.sock" >"$work/once.ini"
: >"$work/once.bytes"
$QEMU "$work/once.sock" record "$work/once.bytes" & pids+=($!)
vp_wait_for 10 test -S "$work/once.sock"
"$VPOWERD" --once --inventory "static:$work/once.ini" --sensor powercap --powercap-root "$work/rapl" \
  --allow-fast-updates --interval 0.2 >"$work/once.json" 2>"$work/once.log"
[ $? -eq 0 ] && [ ! -s "$work/once.bytes" ] && ! grep -q 'channel of' "$work/once.log"
vp_ok $? "vpowerd --once sends nothing over the channels"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['vms'][0]['transports'] == ['channel'] and d['vms'][0]['channel'] == 'waiting' else 1)" "$work/once.json"
vp_ok $? "but says the VM is wired with the channel (transports), as the daemon would"
vp_finish
