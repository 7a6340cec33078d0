#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A BMC on loopback for the platform meter's tests: OpenIPMI's ipmi_sim with one full SDR sensor
# in watts, "Pwr Consumption" (as Dell names the system's power; M = 4: the raw byte is a quarter
# of the watts), no DCMI (ipmi_sim has none), user vpower with password secret.
#
#   bmc-sim.sh start DIR PORT CONSOLE-PORT WATTS   starts it (its files in DIR), reading WATTS
#   bmc-sim.sh set DIR WATTS                       the sensor reads WATTS from now on
#   bmc-sim.sh stop DIR                            kills it
#   bmc-sim.sh garbage PORT                        in its place, answers every packet with garbage
#                                                  (runs until killed)
set -euo pipefail

die () { echo "bmc-sim: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: bmc-sim.sh start DIR PORT CONSOLE-PORT WATTS | set DIR WATTS | stop DIR | garbage PORT"
action=$1 dir=$2

# console COMMAND...: each line to the simulator's console, which answers with a prompt.
console () {
  python3 - "$(cat "$dir/console-port")" "$@" <<'PY'
import socket, sys, time
port, commands = int(sys.argv[1]), sys.argv[2:]
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.settimeout(5)
    def prompt():
        seen = b""
        while not seen.endswith(b"> "):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("the console closed")
            seen += chunk
    prompt()
    for command in commands:
        s.sendall(command.encode() + b"\n")
        prompt()
PY
}
raw () { python3 -c "import sys; w = float(sys.argv[1]); r = round(w / 4); assert 0 <= r <= 255, 'watts out of range'; print(hex(r))" "$1"; }

case $action in
  start)
    [ $# -eq 5 ] || die "usage: bmc-sim.sh start DIR PORT CONSOLE-PORT WATTS"
    port=$3 console_port=$4 watts=$5
    mkdir -p "$dir/state"
    echo "$console_port" >"$dir/console-port"
    cat >"$dir/lan.conf" <<CONF
name "vpower-test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 2 true "vpower" "secret" admin 10 none md2 md5 straight
console 127.0.0.1 $console_port
CONF
    # The full sensor record (IPMI 2.0, 43.1): owner 0x20, sensor 0x60, entity system board,
    # type 0x0b (other units-based), threshold; unsigned, base unit 6 (watts), M 4, B 0; its name.
    record=$(python3 -c '
name = b"Pwr Consumption"
body = [0x20, 0x00, 0x60, 0x07, 0x01, 0x67, 0x88, 0x0b, 0x01, 0xc0, 0x0f, 0xc0, 0x7f, 0x38, 0x38,
        0x00, 0x06, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x40, 0xf0, 0x00, 0xff, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0 | len(name)] + list(name)
print(" ".join("0x%02x" % b for b in [0x00, 0x00, 0x51, 0x01, len(body)] + body))')
    cat >"$dir/sim.emu" <<EMU
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 0x60 0x0b 0x01
main_sdr_add 0x20 $record
sensor_set_value 0x20 0 0x60 $(raw "$watts") 0
sensor_set_event_support 0x20 0 0x60 enable scanning per-state 000000000000000 000000000000000 000000000000000 000000000000000
mc_enable 0x20
EMU
    setsid ipmi_sim -c "$dir/lan.conf" -f "$dir/sim.emu" -s "$dir/state" -n </dev/null >"$dir/sim.log" 2>&1 &
    echo $! >"$dir/pid"
    deadline=$((SECONDS + 20))
    until console >/dev/null 2>&1; do
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || die "ipmi_sim exited: $(tail -1 "$dir/sim.log")"
      [ "$SECONDS" -lt "$deadline" ] || die "ipmi_sim's console did not answer within 20 s"
      sleep 0.1
    done
    ;;
  set)
    [ $# -eq 3 ] || die "usage: bmc-sim.sh set DIR WATTS"
    console "sensor_set_event_support 0x20 0 0x60 enable scanning per-state 000000000000000 000000000000000 000000000000000 000000000000000" \
      "sensor_set_value 0x20 0 0x60 $(raw "$3") 0"
    ;;
  garbage)
    exec python3 - "$2" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(os.urandom(len(data)), peer)
PY
    ;;
  stop)
    [ -r "$dir/pid" ] && kill -KILL "$(cat "$dir/pid")" 2>/dev/null
    rm -f "$dir/pid"
    ;;
  *) die "unknown action '$action'" ;;
esac
