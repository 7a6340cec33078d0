#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vpowerd under hostile load, with a fixture RAPL and real busy processes as VMs:
#   1. HTTP: 1,000 connections from 127.0.0.2 held open, trickling bytes; /metrics from 127.0.0.1
#      keeps answering and the engine keeps ticking.
#   2. The control socket: oversized, truncated and garbage requests, and 100 concurrent clients;
#      each gets an answer or an error, and the engine keeps ticking.
#   3. A kill storm: the engine killed -9 again and again, each time at a random moment after it is
#      back, while readers loop on the tree: no read error, no decrease; the energy the host counted
#      equals the fixture's own delta to the microjoule; every zone conserves exactly.
#   4. The state directory full (a small tmpfs), and read-only (another vpowerd, a tmpfs mounted
#      ro): each logged once; the counters keep counting in memory, and the next successful save
#      loses nothing.
# How fast it all stays is not asserted: timing belongs in bench/.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
vp_setup_workdir
vp_plan 15
ulimit -n 4096

"$VP_BURN" 0.4 & pids+=($!); burn1=$!
"$VP_BURN" 0.2 & pids+=($!); burn2=$!
cat > "$work/vms.ini" <<INI
[web1]
uuid=aaaaaaaa-0000-4000-8000-000000000001
pid=$burn1
[web2]
uuid=aaaaaaaa-0000-4000-8000-000000000002
pid=$burn2
INI
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/rapl"
"$VP_FAKE_RAPL" "$work/rapl" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!); rapl=$!

# State on a 1 MiB tmpfs, so that part 4 can fill it.
mkdir -p "$work/state"
mount -t tmpfs -o size=1m tmpfs "$work/state" || vp_skip_or_fail "cannot mount a tmpfs"
trap 'umount -l "$work/state" 2>/dev/null; vp_cleanup_workdir' EXIT

vp_start_mounted "$work/vpowerd.log" --sensor powercap --powercap-root "$work/rapl" --inventory "static:$work/vms.ini" \
  --state-dir "$work/state" --save-interval 1 || { echo "Bail out! vpowerd did not start"; exit 1; }

# --- 1. HTTP: 1,000 connections from 127.0.0.2, each trickling one byte a round, until told to stop.
python3 - "$VP_PORT" 1000 "$work/attack.ready" "$work/attack.stop" "$work/attack.out" <<'PY' &
import os, socket, sys, time
port, n, ready, stop, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def connect():
    s = socket.socket()
    s.setblocking(False)
    s.bind(("127.0.0.2", 0))
    s.connect_ex(("127.0.0.1", port))
    return s
socks = [connect() for _ in range(n)]
open(ready, "w").close()
request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
sent = reconnects = 0
while not os.path.exists(stop):
    for i, s in enumerate(socks):
        try:
            s.send(request[sent % len(request):sent % len(request) + 1])   # one byte each round
        except OSError:
            s.close()
            socks[i] = connect()
            reconnects += 1
    sent += 1
    time.sleep(0.25)
open(out, "w").write(f"{n} {reconnects}\n")
PY
attacker=$!
vp_wait_for 60 test -e "$work/attack.ready" || { echo "Bail out! the attacker did not connect"; exit 1; }
ticks0=$(vp_ticks)
# 20 scrapes, each of which must be answered (a 30 s timeout: an unanswered one fails, never hangs).
python3 - "$VP_URL" 20 "$work/latency" <<'PY'
import sys, time, urllib.request
url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
worst = 0
for _ in range(n):
    t = time.time()
    body = urllib.request.urlopen(url + "/metrics", timeout=30).read()
    assert b"vpower_host_energy_joules_total" in body
    worst = max(worst, time.time() - t)
    time.sleep(0.2)
open(out, "w").write(f"{n} {worst:.3f}\n")
PY
status=$?
# Liveness, not cadence (a ratio of ticks to seconds flakes on a loaded machine): the engine
# ticks on under the attack.
vp_wait_for 60 vp_ticks_at_least $((ticks0 + 3)); ticking=$?
touch "$work/attack.stop"
wait "$attacker"
read -r n_scrapes worst < "$work/latency"
vp_diag "1,000 trickling connections ($(awk '{print $2}' "$work/attack.out") reconnects): $n_scrapes scrapes, slowest ${worst}s; $(($(vp_ticks) - ticks0)) ticks"
[ $status -eq 0 ]
vp_ok $? "with 1,000 connections trickling from 127.0.0.2, each of 20 /metrics requests from 127.0.0.1 is answered"
[ $ticking -eq 0 ]
vp_ok $? "and the engine keeps ticking under the attack"

# --- 2. The control socket.
sock=$VP_RUN/control.sock
python3 - "$sock" <<'PY' >"$work/control.out"
import json, socket, struct, sys, threading
path = sys.argv[1]
def ask(payload, shut=True):
    s = socket.socket(socket.AF_UNIX)   # blocking, as vpowerctl's: connect waits in the backlog
    s.connect(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 30, 0))
    try:
        s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass   # an oversized request: vpowerd answered and closed before reading it all
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data)
cases = {
    "oversized": b'{"command":"status","pad":"' + b"x" * 200000 + b'"}\n',
    "truncated": b'{"command":"sta',
    "garbage": bytes(range(256)) * 4 + b"\n",
    "nul": b'{"command":"status"\0}\n',
    "deep": b"[" * 60000 + b"\n",
}
for name, payload in cases.items():
    answer = ask(payload)
    print(name, answer["ok"], answer.get("error", "")[:60].replace(" ", "_"))
results = []
def client():
    try:
        results.append(ask(b'{"command":"status"}\n')["ok"])
    except Exception as e:
        results.append(repr(e))
window = [threading.Thread(target=client) for _ in range(100)]
for t in window: t.start()
for t in window: t.join()
print("concurrent", sum(1 for r in results if r is True), len(results))
PY
sed 's/^/# /' "$work/control.out"
[ "$(grep -c ' False ' "$work/control.out")" = 5 ] && grep -q "oversized False the_request_is_over_64_KiB" "$work/control.out"
vp_ok $? "oversized, truncated, garbage, NUL and deeply nested requests each get one clear error"
grep -q "^concurrent 100 100" "$work/control.out"
vp_ok $? "100 concurrent clients each get an answer"
# Waves of 100 concurrent clients, at least one, until the engine has ticked 3 more times.
ticks0=$(vp_ticks)
python3 - "$sock" "$work/waves.stop" <<'PY' >"$work/waves.out" &
import os, socket, sys, threading
def client():
    try:
        s = socket.socket(socket.AF_UNIX); s.settimeout(30)   # an unanswered request fails, never hangs
        s.connect(sys.argv[1])
        s.sendall(b'{"command":"list"}\n'); s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536): answer += chunk
        answered.append(answer.startswith(b"{"))
    except OSError:
        answered.append(False)
answered = []
while True:
    ts = [threading.Thread(target=client) for _ in range(100)]
    for t in ts: t.start()
    for t in ts: t.join()
    if os.path.exists(sys.argv[2]):
        break
print(len(answered), answered.count(False))
PY
waves=$!
vp_wait_for 60 vp_ticks_at_least $((ticks0 + 3)); ticking=$?
touch "$work/waves.stop"
wait "$waves"; status=$?
read -r n_requests n_unanswered < "$work/waves.out"
[ $ticking -eq 0 ] && [ $status -eq 0 ] && [ "${n_unanswered:-1}" = 0 ]
vp_ok $? "waves of 100 concurrent control clients (${n_requests:-0} requests, each answered) leave the engine ticking"
grep -E 'engine|not answer|watchdog|control' "$work/vpowerd.log" | tail -8 | sed 's/^/# vpowerd: /'

# --- 3. The kill storm.
python3 - "$VP_MNT" "$work/reads" "$work/stop-reading" <<'PY' &
import os, sys, time
mnt, out, stop = sys.argv[1:4]
with open(out, "w") as f:
    while not os.path.exists(stop):
        for vm in ("web1", "web2"):
            for zone in ("0", "0:0"):
                try:
                    v = open(f"{mnt}/{vm}/intel-rapl:{zone}/energy_uj").read().strip()
                    f.write(f"{vm} {zone} {v}\n")
                except OSError as e:
                    f.write(f"{vm} {zone} ERROR {e}\n")
        time.sleep(0.01)
PY
pids+=($!)
host_total () { vp_get "$VP_URL/api/v1/host" | vp_json 'd["zones"][0]["total_uj"]'; }
fixture () { cat "$work/rapl/intel-rapl:0/energy_uj"; }
# frozen: the fixture stopped, and vpowerd has ticked twice since (so it has read the last value).
freeze () { kill -STOP "$rapl"; local t; t=$(vp_ticks); vp_wait_for 15 vp_ticks_at_least $((t + 2)); }
freeze
a0=$(host_total); f0=$(fixture)
kill -CONT "$rapl"
kills=0
for i in $(seq 8); do
  engine=$(vp_engine_pid)
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.05, 1.5), 2))')"   # a random moment
  kill -9 "$engine" && kills=$((kills + 1))
  back () { local p; p=$(vp_engine_pid); [ -n "$p" ] && [ "$p" != "$engine" ] && vp_ticks_at_least 1; }
  vp_wait_for 30 back || break
done
freeze
a1=$(host_total); f1=$(fixture)
kill -CONT "$rapl"
touch "$work/stop-reading"
max=$(cat "$work/rapl/intel-rapl:0/max_energy_range_uj")
vp_diag "$kills engine kills; fixture $f0 -> $f1, host counted $a0 -> $a1"
[ "$kills" = 8 ] && [ $(( (f1 - f0 + max) % max )) = $((a1 - a0)) ]
vp_ok $? "after 8 kills -9 at random moments, the host counted exactly the fixture's energy: $((a1 - a0)) µJ"
vp_books_conserve "$VP_URL" 3
vp_ok $? "and every zone conserves exactly"
python3 - "$work/reads" "$max" <<'PY'
import sys
from collections import defaultdict
last, bad, errors, n = {}, [], 0, 0
m = int(sys.argv[2])
for line in open(sys.argv[1]):
    vm, zone, v = line.split()[:3]
    if v == "ERROR":
        errors += 1; continue
    n += 1; v = int(v); k = (vm, zone)
    if k in last and v < last[k] and not (last[k] > m // 2 and v < m // 2):
        bad.append((k, last[k], v))
    last[k] = v
print(f"# {n} reads, {errors} errors, decreases {bad[:3]}")
sys.exit(0 if n > 100 and not errors and not bad else 1)
PY
vp_ok $? "the readers looping on the tree meanwhile saw no error and no decrease"

# --- 4. The state directory full, then read-only.
web_total () { vp_get "$VP_URL/api/v1/vms" | vp_json '[v for v in d["vms"] if v["name"] == "web1"][0]["zones"][0]["total_uj"]'; }
dd if=/dev/zero of="$work/state/filler" bs=4k 2>/dev/null   # fills the tmpfs
rm -f "$work/state/counters.state.0" "$work/state/counters.state.1"   # the slots must be written anew
full_logged () { grep -q "state: .*No space left on device" "$work/vpowerd.log"; }
vp_wait_for 15 full_logged
before=$(web_total)
t=$(vp_ticks); vp_wait_for 15 vp_ticks_at_least $((t + 3))
[ "$(grep -c 'state: .*No space left on device' "$work/vpowerd.log")" = 1 ] && [ "$(web_total)" -gt "$before" ]
vp_ok $? "a full state directory is logged once, and the counters keep counting in memory"
rm -f "$work/state/filler"
saved () { grep -q "state: working again" "$work/vpowerd.log"; }
vp_wait_for 15 saved
vp_ok $? "with room again, the next save succeeds and says so"
t=$(vp_ticks); vp_wait_for 15 vp_ticks_at_least $((t + 2))
last=$(web_total)
engine=$(vp_engine_pid); kill -9 "$engine"
back () { local p; p=$(vp_engine_pid); [ -n "$p" ] && [ "$p" != "$engine" ] && vp_ticks_at_least 1; }
vp_wait_for 30 back
after=$(web_total)
[ "$after" -ge "$last" ]
vp_ok $? "then an engine killed -9 comes back from the state file with nothing lost ($last -> $after µJ)"
kill -0 "$VP_PID"
vp_ok $? "vpowerd is still running"
vp_stop_vpowerd
vp_ok $? "and stops cleanly"

# A second vpowerd whose state directory is read-only from the start (a tmpfs mounted ro).
mkdir -p "$work/ro-state"
mount -t tmpfs -o size=1m,ro tmpfs "$work/ro-state" || vp_skip_or_fail "cannot mount a read-only tmpfs"
trap 'umount -l "$work/state" "$work/ro-state" 2>/dev/null; vp_cleanup_workdir' EXIT
vp_start_vpowerd "$work/vpowerd-ro.log" --sensor powercap --powercap-root "$work/rapl" --inventory "static:$work/vms.ini" \
  --state-dir "$work/ro-state" --save-interval 1
ro_logged () { grep -q "state: .*Read-only file system" "$work/vpowerd-ro.log"; }
vp_wait_for 15 ro_logged
before=$(web_total)
t=$(vp_ticks); vp_wait_for 15 vp_ticks_at_least $((t + 3))
[ "$(grep -c 'state: .*Read-only file system' "$work/vpowerd-ro.log")" = 1 ] && [ "$(web_total)" -gt "$before" ]
vp_ok $? "a read-only state directory is logged once, and the counters keep counting in memory"
mount -o remount,rw "$work/ro-state"
saved_ro () { grep -q "state: working again" "$work/vpowerd-ro.log" && [ -s "$work/ro-state/counters.state" ]; }
vp_wait_for 15 saved_ro
last=$(web_total)
kill -9 "$VP_PID"; wait "$VP_PID" 2>/dev/null
vp_start_vpowerd "$work/vpowerd-ro.log" --sensor powercap --powercap-root "$work/rapl" --inventory "static:$work/vms.ini" \
  --state-dir "$work/ro-state" --save-interval 1
after=$(web_total)
[ "$after" -ge "$last" ]
vp_ok $? "writable again, the next save loses nothing: after a kill -9 it continues from there ($last -> $after µJ)"
vp_stop_vpowerd
vp_finish
