#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: vpowerd as a user meets it: --help, config errors, --once, the sensor choice,
# /healthz going stale and recovering, hostile HTTP, and promtool on the live /metrics.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_setup_workdir

vp_plan 20
: > "$work/empty.conf"

help=$("$VPOWERD" --help); status=$?
missing=
for option in config connect inventory sensor powercap-root proc-root sysfs-root interval policy \
              topology state-dir listen once foreground verbose; do
  grep -q -- "--$option" <<<"$help" || missing="$missing $option"
done
[ $status -eq 0 ] && [ -z "$missing" ]
vp_ok $? "--help exits 0 and documents every option${missing:+ (missing:$missing)}"

printf '[vpowerd]\ninterval=1\npolcy=busy\n' > "$work/bad.conf"
err=$("$VPOWERD" --config "$work/bad.conf" --once 2>&1); status=$?
[ $status -eq 2 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "unknown key 'polcy'" <<<"$err"
vp_ok $? "an unknown config key: one error line naming it, exit 2 ($err)"

err=$("$VPOWERD" --config "$work/empty.conf" --interval soon --once 2>&1); status=$?
[ $status -eq 2 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "'interval'" <<<"$err"
vp_ok $? "a bad command-line value: one error line naming the option, exit 2"

"$VPOWERD" --no-such-flag >/dev/null 2>&1
vp_ok $(( $? == 2 ? 0 : 1 )) "an unknown flag exits 2"

# --once over two sockets with dram, VM layout aggregated into one package-0.
"$VP_BURN" 0.5 & pids+=($!); burner=$!
printf '[vm1]\nuuid=11111111-0000-4000-8000-000000000001\npid=%s\n' "$burner" > "$work/vms.ini"
"$VPOWERD" --config "$work/empty.conf" --once --allow-fast-updates --interval 0.3 --sensor auto --topology aggregate \
  --powercap-root "$abs_top_srcdir/tests/data/powercap/dual-dram/class/powercap" \
  --inventory "static:$work/vms.ini" >"$work/once.json" 2>"$work/once.err"
vp_ok $? "--once exits 0"
vp_json '[z["name"] for z in d["host"]["zones"]] == ["package-0","core","dram","package-1","core","dram"] and d["host"]["sensor"] == "powercap" and not d["host"]["estimated"] and [(z["name"], z["index"]) for z in d["vms"][0]["zones"]] == [("package-0","0"),("core","0:0"),("dram","0:1")] and d["vms"][0]["cpu_seconds"] > 0' \
  <"$work/once.json" | grep -q True
vp_ok $? "--once prints the host's 6 zones and the VM's aggregate package-0/core/dram as JSON"
grep -q "sensor: powercap, 6 zones" "$work/once.err"
vp_ok $? "--sensor auto says it picked powercap"

"$VPOWERD" --config "$work/empty.conf" --once --allow-fast-updates --interval 0.3 --powercap-root "$work/none" \
  --inventory "static:$work/vms.ini" >"$work/model.json" 2>"$work/model.err"
vp_json 'd["host"]["sensor"] == "model" and d["host"]["estimated"] and all(z["estimated"] for z in d["host"]["zones"])' \
  <"$work/model.json" | grep -q True && grep -q "sensor: model (estimated" "$work/model.err"
vp_ok $? "without RAPL, auto picks the model, says why, and marks zones estimated"

# Who a VM belongs to, from a libvirt <metadata> file next to the static inventory.
printf '<metadata><one:vm xmlns:one="http://opennebula.org/xmlns/libvirt/1.0"><one:name>ci runner</one:name><one:gname>ci</one:gname></one:vm></metadata>\n' >"$work/vm1.xml"
printf '[vm1]\nuuid=11111111-0000-4000-8000-000000000001\npid=%s\nmetadata=vm1.xml\n' "$burner" >"$work/labelled.ini"
"$VPOWERD" --config "$work/empty.conf" --once --sensor model --inventory "static:$work/labelled.ini" 2>/dev/null |
  vp_json 'd["vms"][0]["labels"] == {"vm_name": "ci runner", "project": "ci"}' | grep -q True
vp_ok $? "a static VM's metadata= file gives its owner labels (OpenNebula: vm_name, project)"
printf '<metadata><one:vm>\n' >"$work/vm1.xml"
err=$("$VPOWERD" --config "$work/empty.conf" --once --sensor model --inventory "static:$work/labelled.ini" 2>&1 >/dev/null); status=$?
[ $status -ne 0 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "metadata of \[vm1\]: .*ended unexpectedly" <<<"$err"
vp_ok $? "a malformed metadata file: one error line naming the VM and the fault ($err)"

# A running daemon whose zone we can stall: energy_uj becomes a FIFO, so the
# tick blocks in open() while the HTTP thread keeps answering.
cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/powercap"
vp_start_vpowerd "$work/daemon.log" --config "$work/empty.conf" --sensor powercap --powercap-root "$work/powercap" \
  --inventory "static:$work/vms.ini" --allow-fast-updates --interval 0.3 --state-dir "$work/state"
vp_wait_for 10 vp_ticks_at_least 2
code () { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "$VP_URL/healthz")" = 200 ]
vp_ok $? "/healthz is 200 while ticks are fresh"

if [ -x "${PROMTOOL:-}" ] || PROMTOOL=$(command -v promtool); then
  vp_get "$VP_URL/metrics" | "$PROMTOOL" check metrics
  vp_ok $? "promtool check metrics accepts the live /metrics"
else
  [ "${CI:-}" = true ] && vp_ok 1 "promtool is installed" || echo "ok 10 # SKIP promtool not installed"
  vp_test_count=$((vp_test_count + 1))
fi

rm "$work/powercap/intel-rapl:0/energy_uj" && mkfifo "$work/powercap/intel-rapl:0/energy_uj"
stale () { [ "$(code "$VP_URL/healthz")" = 503 ]; }
vp_wait_for 10 stale
vp_ok $? "/healthz turns 503 when the last tick is older than 3 intervals"
timeout 5 sh -c "echo 1000 > '$work/powercap/intel-rapl:0/energy_uj'"   # unblocks the stalled read
rm -f "$work/powercap/intel-rapl:0/energy_uj"; echo 2000000 > "$work/powercap/intel-rapl:0/energy_uj"
healthy () { [ "$(code "$VP_URL/healthz")" = 200 ]; }
vp_wait_for 10 healthy
vp_ok $? "/healthz recovers when ticks resume"

# Garbage in a zone file: one clear log line naming the file, the daemon goes on.
echo garbage > "$work/powercap/intel-rapl:0:1/energy_uj"
logged () { grep -q "intel-rapl:0:1/energy_uj does not hold an unsigned decimal" "$work/daemon.log"; }
vp_wait_for 10 logged && kill -0 "$VP_PID" && \
  [ "$(grep -c 'intel-rapl:0:1/energy_uj does not hold' "$work/daemon.log")" -eq 1 ]
vp_ok $? "garbage in energy_uj is logged once, naming the file, and vpowerd keeps running"

# Hostile HTTP: a malformed header gets 400; a garbage request line is
# dropped; either way the daemon keeps serving.
malformed=$(python3 - "$VP_PORT" <<'PY'
import socket, sys
def ask(raw):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(raw)
    return s.recv(200).split(b"\r\n")[0].decode(errors="replace") or "closed"
print(ask(b"GET /metrics HTTP/1.1\r\nbad header line\r\n\r\n"), "/", ask(b"GARBAGE\x00\xff\r\n\r\n"))
PY
)
grep -q "^HTTP/1.1 400 Bad Request / closed$" <<<"$malformed" && [ "$(code "$VP_URL/healthz")" = 200 ]
vp_ok $? "malformed requests get 400 or are dropped, and the daemon keeps serving ($malformed)"
[ "$(code -X POST -d x=1 "$VP_URL/metrics")" = 405 ] && [ "$(code "$VP_URL/../../etc/passwd")" = 404 ]
vp_ok $? "POST gets 405, unknown paths 404"

# Connection limits: a client holding many idle connections cannot take them all.
python3 - "$VP_PORT" <<'PY'
import select, socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
# Poll until the server has closed every connection over the limit, or a deadline.
closed, deadline = set(), time.monotonic() + 10
while len(closed) < 40 - 16 and time.monotonic() < deadline:
    readable, _, _ = select.select([s for s in held if s not in closed], [], [], 0.1)
    for s in readable:
        try:
            if s.recv(1) == b"":
                closed.add(s)
        except OSError:
            closed.add(s)
print(f"# {len(closed)} of 40 idle connections from one address were refused")
sys.exit(0 if len(closed) >= 40 - 16 else 1)
PY
vp_ok $? "at most 16 connections per client address are kept"

# An idle connection is dropped by the server-side timeout (10 s).
python3 - "$VP_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"GET /metrics HTTP/1.1\r\n")   # never finished
start = time.monotonic()
try:
    data = s.recv(100)
except OSError:
    data = b""
took = time.monotonic() - start
print(f"# the server closed the idle connection after {took:.1f} s")
sys.exit(0 if data == b"" and 8 <= took <= 15 else 1)
PY
vp_ok $? "an unfinished request is dropped after the connection timeout"

kill -0 "$VP_PID"
vp_ok $? "vpowerd survived all of it"
vp_finish
