#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the engine benchmark (CPU per tick vs raw reads, 10/100/1000 VMs) and measures a real
# vpowerd's RSS at 100 VMs. Usage: bench/run-engine.sh [BUILD_DIR]  (default: build)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
make -C "$build" -s bench/bench-engine vpowerd

echo "== engine CPU per tick against the /proc walk it replaced and the held files' reads (same run)"
echo "   (VMs of 4 threads, as a 1-vCPU TCG QEMU here; then of 1 thread)"
"$build/bench/bench-engine" --threads 4 "$src/tests/data/powercap/single" 10 100 1000 || engine_status=$?
"$build/bench/bench-engine" "$src/tests/data/powercap/single" 10 100 1000 || engine_status=$?

echo "== a real vpowerd (1 s ticks) over 10, 100 and 1000 idle VMs of 4 threads: its own CPU per tick, per source"
"$build/bench/bench-engine" --daemon "$build/vpowerd" "$src/tests/data/powercap/single" 30 10 100 1000 || engine_status=$?

echo "== the BPF program's cost to the host: a ping-pong of two processes on one CPU, with and without it"
if [ -x "$build/bench/bench-switch" ] || make -C "$build" -s bench/bench-switch 2>/dev/null; then
  "$build/bench/bench-switch" || engine_status=$?
else
  echo "   (vpowerd was built without BPF: configure found no clang, bpftool or libbpf)"
fi

echo "== wiring's cost to the tick: a reconcile with the list unchanged, and after a change, against the inventory's copy of the list (same run)"
make -C "$build" -s bench/bench-wiring && "$build/bench/bench-wiring" 10 100 1000 || engine_status=$?

echo "== the channels' cost: the engine at 100 VMs with a channel each, against the same engine without (same run)"
echo "   (VMs of 4 threads, as a 1-vCPU TCG QEMU here; then of 1 thread, the cheapest tick to add to)"
"$build/bench/bench-engine" --channels "$src/tests/data/powercap/single" 100 4 || engine_status=$?
"$build/bench/bench-engine" --channels "$src/tests/data/powercap/single" 100 1 || true

echo "== RSS of a real vpowerd with 100 idle VMs (static inventory), after 10 ticks"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 0 99); do
  sleep 3600 & pids+=($!)
  printf '[vm%d]\nuuid=%08x-0000-4000-8000-000000000000\npid=%d\n' "$i" "$i" "$!" >> "$work/vms.ini"
done
: > "$work/empty.conf"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/vpowerd" --foreground --config "$work/empty.conf" --inventory "static:$work/vms.ini" \
  --sensor powercap --powercap-root "$src/tests/data/powercap/single" --allow-fast-updates --interval 0.2 \
  --state-dir "$work/state" --listen "127.0.0.1:$port" 2>/dev/null &
pids+=($!); daemon=$!
ticks () { curl -fsS "http://127.0.0.1:$port/api/v1/host" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticks"])' 2>/dev/null || echo 0; }
deadline=$((SECONDS + 30))
until [ "$(ticks)" -ge 10 ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
curl -fsS "http://127.0.0.1:$port/metrics" >/dev/null   # a scrape, as in production
rss_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$daemon/status")
echo "RESULT vpowerd_peak_rss_kib=$rss_kb target_kib=16384"
[ "$rss_kb" -le 16384 ] || rss_fail=1

[ -z "${engine_status:-}" ] && [ -z "${rss_fail:-}" ] && echo "all engine targets met" || { echo "a target was missed"; exit 1; }
