#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: vpower-agent serve's HTTP side: TLS and basic auth configured by file, connection
# limits and timeouts, malformed and hostile requests, and SIGHUP reloads (good and bad).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_setup_workdir
vp_plan 15

cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/tree"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" >"$work/openssl.log" 2>&1 || { echo "Bail out! openssl failed"; exit 1; }
printf '# user:sha256 of the password\nprom:%s\n' "$(printf %s 's3cret pass' | sha256sum | cut -d' ' -f1)" >"$work/users"
chmod 600 "$work/users" "$work/key.pem"

port=$(vp_free_port)
cat >"$work/agent.conf" <<CONF
[vpower-agent]
root=$work/tree
interval=0.5
listen=127.0.0.1:$port
tls-cert=$work/cert.pem
tls-key=$work/key.pem
basic-auth-file=$work/users
CONF
"$VPOWER_AGENT" -c "$work/agent.conf" serve >"$work/agent.log" 2>&1 & pids+=($!); agent=$!
url="https://127.0.0.1:$port"
tls () { curl -sS --max-time 5 --cacert "$work/cert.pem" "$@"; }
up () { tls -o /dev/null -u 'prom:s3cret pass' "$url/metrics"; }
vp_check "serve starts with TLS and basic auth from the config file" vp_wait_for 20 up

code=$(tls -o /dev/null -w '%{http_code}' -u 'prom:s3cret pass' "$url/metrics")
tls -u 'prom:s3cret pass' "$url/metrics" | grep '^vpower_up 1$' >/dev/null && [ "$code" = 200 ]
vp_ok $? "HTTPS with the right password: 200 and the metrics"
code=$(tls -o /dev/null -w '%{http_code}' -D "$work/headers" "$url/metrics")
[ "$code" = 401 ] && grep -qi '^WWW-Authenticate: Basic realm="vpower"' "$work/headers"
vp_ok $? "no credentials: 401 with a Basic challenge"
code=$(tls -o /dev/null -w '%{http_code}' -u 'prom:wrong' "$url/metrics")
code2=$(tls -o /dev/null -w '%{http_code}' -u 'other:s3cret pass' "$url/healthz")
[ "$code" = 401 ] && [ "$code2" = 401 ]
vp_ok $? "a wrong password or an unknown user: 401"
! curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$port/metrics" 2>/dev/null
vp_ok $? "plain HTTP to the TLS port gets no metrics"
! grep -q 's3cret' "$work/agent.log"
vp_ok $? "the password never reaches the log"

# --- hostile and malformed requests (plain HTTP, no auth) ---
kill "$agent"; wait "$agent" 2>/dev/null
vp_start_agent "$work/plain.log" --root "$work/tree" --interval 0.5
python3 - "$AGENT_PORT" <<'PY' >"$work/hostile.out" 2>&1
import socket, sys
port = int(sys.argv[1])
def ask(raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace")
results = [
    ask(b"GARBAGE\r\n\r\n"),
    ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 200000 + b"\r\n\r\n"),
    ask(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
    ask(b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ask(b"\x00\xff\xfe binary\r\n\r\n"),
]
for r in results:
    print(r)
# libmicrohttpd answers a request line it cannot parse by closing the connection.
ok = (results[0].split(" ")[1:2] in ([], ["400"]) and results[4].split(" ")[1:2] in ([], ["400"]) and results[1].split(" ")[1:2] in (["431"], ["413"], ["400"]) and
      " 405 " in results[2] + " " and " 404 " in results[3] + " ")
sys.exit(0 if ok else 1)
PY
vp_ok $? "garbage: 400 or closed, a huge header: refused, POST: 405, a path outside the routes: 404 ($(tr '\n' '|' <"$work/hostile.out"))"
code=$(curl -s -o /dev/null -w '%{http_code}' "$AGENT_URL/metrics")
[ "$code" = 200 ] && kill -0 "$AGENT_PID"
vp_ok $? "and the agent still serves"

# 16 connections per address at most: the 17th idle one is refused.
python3 - "$AGENT_PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(16)]
time.sleep(0.2)
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
extra.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
try:
    refused = extra.recv(100) == b""
except (ConnectionResetError, socket.timeout):
    refused = True
sys.exit(0 if refused else 1)
PY
vp_ok $? "a 17th connection from one address is refused while 16 are open"
# An idle connection is closed by the server: the timeout is set (10 s).
python3 - "$AGENT_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", sys.argv[1] and int(sys.argv[1])), timeout=20)
start = time.time()
try:
    closed = s.recv(100) == b""
except ConnectionResetError:
    closed = True
print(f"# closed after {time.time() - start:.1f} s")
sys.exit(0 if closed and time.time() - start < 15 else 1)
PY
vp_ok $? "an idle connection is closed by the server within its timeout"

# --- SIGHUP ---
printf '[vpower-agent]\ntop=1\n' >"$work/reload.conf"
"$VPOWER_AGENT" -c "$work/reload.conf" serve --root "$work/tree" --interval 0.3 --listen "127.0.0.1:$port" \
  >"$work/hup.log" 2>&1 & pids+=($!); hup=$!
url="http://127.0.0.1:$port"
vp_wait_for 20 curl -fsS -o /dev/null "$url/metrics"
printf '[vpower-agent]\ntop=1\ninterval=0.4\n' >"$work/reload.conf"
kill -HUP "$hup"
reloaded () { grep -q "reloaded $work/reload.conf" "$work/hup.log"; }
vp_wait_for 10 reloaded && curl -fsS -o /dev/null "$url/metrics"
vp_ok $? "SIGHUP reloads the config file and keeps serving"
printf '[vpower-agent]\ntop=banana\n' >"$work/reload.conf"
kill -HUP "$hup"
kept () { grep -q "invalid value for 'top'.*keeping the running configuration" "$work/hup.log"; }
vp_wait_for 10 kept && curl -fsS -o /dev/null "$url/metrics" && kill -0 "$hup"
vp_ok $? "a bad config on SIGHUP is reported in one line, and the running one is kept"
kill -TERM "$hup"; wait "$hup"
vp_ok $? "SIGTERM after reloads: exit 0"

# --- configuration errors at start: exit 2, one line ---
"$VPOWER_AGENT" serve --root "$work/tree" --listen "127.0.0.1:$port" --tls-cert "$work/cert.pem" >/dev/null 2>"$work/e1"
s1=$?
printf 'prom:notahash\n' >"$work/bad-users"
"$VPOWER_AGENT" serve --root "$work/tree" --listen "127.0.0.1:$port" --basic-auth-file "$work/bad-users" >/dev/null 2>"$work/e2"
s2=$?
[ $s1 -eq 2 ] && [ $s2 -eq 2 ] && grep -q 'tls-key' "$work/e1" && grep -q 'bad-users:1: expected USER:SHA256' "$work/e2"
vp_ok $? "a certificate without a key, or a malformed password file: exit 2 naming the problem"
"$VPOWER_AGENT" serve --root "$work/tree" --listen "127.0.0.1:$AGENT_PORT" >/dev/null 2>"$work/e3"
[ $? -eq 1 ] && grep -q "cannot listen on 127.0.0.1:$AGENT_PORT" "$work/e3"
vp_ok $? "a port in use: exit 1 with the address ($(tail -1 "$work/e3"))"

vp_finish
