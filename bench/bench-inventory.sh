#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The process inventory's cost: a real vpowerd (--no-mount, 1 s ticks) over N idle stand-ins for
# QEMU (tests/helpers/vp-fake-qemu.c, copied as qemu-system-x86_64, each with -name, -uuid and a
# -pidfile in a watched directory), with inventory=processes against inventory=static listing the
# same processes: the daemon's own CPU per tick, alternated over ROUNDS rounds of SECONDS each,
# and the ratio. Then, with no change, what the process inventory reads in SECONDS: strace counts
# the command lines it opens (none is the target) and its /proc walks.
#   bench/bench-inventory.sh [BUILD_DIR] [N] [SECONDS] [ROUNDS]   (defaults: build 1000 30 2)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
n=${2:-1000} seconds=${3:-30} rounds=${4:-2}
make -C "$build" -s vpowerd tests/vp-fake-qemu
[ "$(id -u)" -eq 0 ] || { echo "bench-inventory: run as root (pidfds, /proc of other users)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/pids"
cp "$build/tests/vp-fake-qemu" "$work/bin/qemu-system-x86_64"
ulimit -n 65536 2>/dev/null || true
for i in $(seq 1 "$n"); do
  uuid=$(printf '%08x-0000-4000-8000-%012x' "$i" "$i")
  "$work/bin/qemu-system-x86_64" -name "guest=vm$i,debug-threads=on" -uuid "$uuid" -machine pc -nodefaults \
    -pidfile "$work/pids/vm$i.pid" & pids+=($!)
  printf '[vm%d]\nuuid=%s\npid=%d\n' "$i" "$uuid" "$!" >>"$work/static.ini"
done
: >"$work/empty.conf"

# cpu_per_tick INVENTORY: the daemon's CPU seconds per tick over SECONDS, after 3 ticks to settle.
# In ns, summed over its threads (schedstat's run time: clock ticks are too coarse here).
cpu_of () { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 } END { print ns }'; }
run_daemon () {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$build/vpowerd" --foreground --config "$work/empty.conf" --no-mount --inventory "$1" \
    --pidfile-dirs "$work/pids" --sensor model --interval 1 --listen "127.0.0.1:$port" \
    --runtime-dir "$work/run-$RANDOM" --state-dir "$work/state-$RANDOM" >>"$work/vpowerd.log" 2>&1 &
  daemon=$!
  url=http://127.0.0.1:$port
  for _ in $(seq 600); do
    t=$(curl -fsS --max-time 2 "$url/api/v1/host" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticks"])' 2>/dev/null) || t=0
    [ "$t" -ge 3 ] && break
    sleep 0.1
  done
}
ticks () { curl -fsS --max-time 5 "$url/api/v1/host" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticks"])'; }
cpu_per_tick () {
  run_daemon "$1"
  local c0 t0 c1 t1
  c0=$(cpu_of "$daemon"); t0=$(ticks)
  sleep "$seconds"
  c1=$(cpu_of "$daemon"); t1=$(ticks)
  kill "$daemon"; wait "$daemon" 2>/dev/null || true
  python3 -c "print(($c1 - $c0) / 1e9 / max(1, $t1 - $t0))"
}

echo "== vpowerd's CPU per tick over $n idle QEMU processes: inventory=processes against static (same run)"
static_sum=0 processes_sum=0
for r in $(seq 1 "$rounds"); do
  s=$(cpu_per_tick "static:$work/static.ini")
  p=$(cpu_per_tick processes)
  echo "   round $r: static $(python3 -c "print(f'{$s * 1e3:.2f}')") ms, processes $(python3 -c "print(f'{$p * 1e3:.2f}')") ms"
  static_sum=$(python3 -c "print($static_sum + $s)"); processes_sum=$(python3 -c "print($processes_sum + $p)")
done
ratio=$(python3 -c "print(f'{$processes_sum / $static_sum:.3f}')")
echo "RESULT inventory vms=$n static_ms=$(python3 -c "print(f'{$static_sum / $rounds * 1e3:.2f}')") processes_ms=$(python3 -c "print(f'{$processes_sum / $rounds * 1e3:.2f}')") ratio=$ratio (target <= 1.05)"

if command -v strace >/dev/null; then
  echo "== with no change, $seconds s of inventory=processes as strace sees them (1 s ticks, a /proc walk every 10 s)"
  run_daemon processes
  timeout "$seconds" strace -f -qq -y -e trace=openat,readlink,readlinkat,getdents64 -p "$daemon" -o "$work/strace" 2>/dev/null || true
  kill "$daemon"; wait "$daemon" 2>/dev/null || true
  cmdlines=$(grep -c '/cmdline"' "$work/strace" || true)
  walks=$(grep -c 'getdents64([0-9]*</proc>' "$work/strace" || true)
  exes=$(grep -c 'readlink.*/exe"' "$work/strace" || true)
  echo "RESULT steady seconds=$seconds cmdline_opens=$cmdlines proc_walk_reads=$walks exe_reads=$exes (target: no command line read)"
fi
python3 -c "import sys; sys.exit(0 if $ratio <= 1.05 else 1)"
