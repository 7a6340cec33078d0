#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# FUSE read path: open+read+close of a VM's energy_uj through vpowerd's mount, against a minimal
# libfuse server (bench/fuse-floor) measured in the same run, in alternating rounds. Needs root.
# With --agent, the same through the guest agent's own tree (vpower-agent mount over the channel,
# fed through a FIFO one message a second, as a host would), and the agent's peak RSS.
# Usage: bench/run-fuse.sh [--agent]   Environment: BUILDDIR (default: build-ci), ROUNDS (5),
# DURATION (2 s).
set -euo pipefail
subject=vpowerd
[ "${1:-}" != --agent ] || subject=agent
rss_target_kib=8192
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${BUILDDIR:-$src/build-ci}" && pwd)
rounds=${ROUNDS:-5}
duration=${DURATION:-2}
readers=8
target=1.3
[ "$(id -u)" -eq 0 ] || { echo "run-fuse.sh: needs root (FUSE mounts with allow_other)" >&2; exit 2; }
[ -c /dev/fuse ] || { echo "run-fuse.sh: no /dev/fuse" >&2; exit 2; }
make -C "$build" -s bench/fuse-floor bench/bench-fuse-read tests/vp-fake-rapl vpowerd vpower-agent

work=$(mktemp -d)
rapl_pid='' vpowerd_pid='' floor_pid='' feed_pid=''
. "$(dirname "$0")/lib.sh"
cleanup () {
  set +e
  stop "$feed_pid"
  stop "$vpowerd_pid"
  stop "$floor_pid"
  stop "$rapl_pid"
  for m in "$work/mnt" "$work/floor"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m"; fi
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp -R "$src/tests/data/powercap/single" "$work/pc"
mkdir -p "$work/mnt" "$work/floor" "$work/state" "$work/run"
: > "$work/empty.conf"
"$build/tests/vp-fake-rapl" "$work/pc" intel-rapl:0=100 intel-rapl:0:0=40 &
rapl_pid=$!
printf '[vm1]\nuuid=aaaaaaaa-0000-4000-8000-000000000001\npid=%s\n' $$ > "$work/vms.ini"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$subject" = vpowerd ]; then
  "$build/vpowerd" --foreground --config "$work/empty.conf" --sensor powercap --powercap-root "$work/pc" \
    --inventory "static:$work/vms.ini" --interval 1 --state-dir "$work/state" --mount "$work/mnt" \
    --runtime-dir "$work/run" --listen "127.0.0.1:$port" 2> "$work/vpowerd.log" &
  vpowerd_pid=$!
  vp_file="$work/mnt/vm1/intel-rapl/intel-rapl:0/energy_uj"
else
  # The agent's tree is one VM's directory: the same nested path, one level less.
  mkfifo "$work/port"
  "$build/vpower-agent" mount --transport channel --channel-device "$work/port" --mount "$work/mnt" \
    --runtime-dir "$work/run" 2> "$work/vpowerd.log" &
  vpowerd_pid=$!
  python3 "$src/tests/helpers/vpchannel.py" "$work/port" --host bench --epoch 1 --count 100000 --interval 1 \
    --zone "0:package-0:262143328850:1000000:5000000" --zone "0:0:core:262143328850:1000:2000000" &
  feed_pid=$!
  vp_file="$work/mnt/intel-rapl/intel-rapl:0/energy_uj"
fi
"$build/bench/fuse-floor" "$work/floor" 2> "$work/floor.log" &
floor_pid=$!

# The nested path on both: the flat vm1/intel-rapl:0 is a symlink, which costs a READLINK per walk.
floor_file="$work/floor/vm1/intel-rapl/intel-rapl:0/energy_uj"
deadline=$((SECONDS + 30))
until head -c 64 "$vp_file" >/dev/null 2>&1 && head -c 64 "$floor_file" >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "$vpowerd_pid" 2>/dev/null || ! kill -0 "$floor_pid" 2>/dev/null; then
    echo "run-fuse.sh: the mounts did not come up; vpowerd log:" >&2
    cat "$work/vpowerd.log" "$work/floor.log" >&2
    exit 1
  fi
  sleep 0.1
done

# measure FILE THREADS SECONDS [held] -> "p50_ns ops_per_s errors"
measure () {
  "$build/bench/bench-fuse-read" "$@" |
    sed -n 's/^ops=[0-9]* errors=\([0-9]*\) p50_ns=\([0-9]*\) p99_ns=[0-9]* ops_per_s=\([0-9]*\)$/\2 \3 \1/p'
}
median () { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio () { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "nan" }'; }
us () { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1000 }'; }

measure "$floor_file" 1 0.3 > /dev/null   # warm-up: threads, dentries, caches
measure "$vp_file" 1 0.3 > /dev/null

echo "== FUSE read path ($subject's tree): open+read(64)+close of energy_uj, $rounds rounds of ${duration}s, alternating"
printf '%-6s | %12s %12s %7s | %14s %14s %7s | %9s %9s %7s\n' round "floor p50" "$subject p50" ratio \
  "floor ops/s" "$subject ops/s" ratio "floor" "$subject" ratio
printf '%-6s | %34s | %38s | %27s\n' "" "1 reader, p50 latency (µs)" "$readers readers, throughput" \
  "held open, pread(0) p50 (µs)"
errors=0
fl_p50=() vp_p50=() lat_ratio=() fl_ops=() vp_ops=() ops_ratio=() fl_held=() vp_held=() held_ratio=()
for round in $(seq 1 "$rounds"); do
  read -r f1_p50 _ f1_err < <(measure "$floor_file" 1 "$duration")
  read -r v1_p50 _ v1_err < <(measure "$vp_file" 1 "$duration")
  read -r _ f8_ops f8_err < <(measure "$floor_file" "$readers" "$duration")
  read -r _ v8_ops v8_err < <(measure "$vp_file" "$readers" "$duration")
  # A reader that keeps the file open and rewinds: one READ per value (sysfs semantics).
  read -r fh_p50 _ fh_err < <(measure "$floor_file" 1 "$duration" held)
  read -r vh_p50 _ vh_err < <(measure "$vp_file" 1 "$duration" held)
  errors=$((errors + f1_err + v1_err + f8_err + v8_err + fh_err + vh_err))
  fl_p50+=("$f1_p50") vp_p50+=("$v1_p50") lat_ratio+=("$(ratio "$v1_p50" "$f1_p50")")
  fl_ops+=("$f8_ops") vp_ops+=("$v8_ops") ops_ratio+=("$(ratio "$v8_ops" "$f8_ops")")
  fl_held+=("$fh_p50") vp_held+=("$vh_p50") held_ratio+=("$(ratio "$vh_p50" "$fh_p50")")
  printf '%-6s | %12s %12s %7s | %14s %14s %7s | %9s %9s %7s\n' "$round" "$(us "$f1_p50")" "$(us "$v1_p50")" \
    "${lat_ratio[-1]}" "$f8_ops" "$v8_ops" "${ops_ratio[-1]}" "$(us "$fh_p50")" "$(us "$vh_p50")" "${held_ratio[-1]}"
done
med_lat_ratio=$(median "${lat_ratio[@]}")
printf '%-6s | %12s %12s %7s | %14s %14s %7s | %9s %9s %7s\n' median "$(us "$(median "${fl_p50[@]}")")" \
  "$(us "$(median "${vp_p50[@]}")")" "$med_lat_ratio" "$(median "${fl_ops[@]}")" \
  "$(median "${vp_ops[@]}")" "$(median "${ops_ratio[@]}")" "$(us "$(median "${fl_held[@]}")")" \
  "$(us "$(median "${vp_held[@]}")")" "$(median "${held_ratio[@]}")"
echo "(ratios are $subject / floor per round, then the median of the rounds' ratios)"
echo "RESULT subject=$subject p50_ratio=$med_lat_ratio target<=$target throughput_ratio=$(median "${ops_ratio[@]}")" \
  "held_pread_ratio=$(median "${held_ratio[@]}") errors=$errors"

status=0
if [ "$subject" = agent ]; then
  rss_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$vpowerd_pid/status")
  echo "RESULT agent_peak_rss_kib=$rss_kib target_kib<=$rss_target_kib (after the rounds, 8 reader threads at once)"
  [ "$rss_kib" -le "$rss_target_kib" ] || { echo "agent RSS target missed"; status=1; }
fi
[ "$errors" -eq 0 ] || { echo "errors: $errors failed opens or reads"; status=1; }
if awk -v r="$med_lat_ratio" -v t="$target" 'BEGIN { exit !(r <= t) }'; then
  echo "p50 latency target met"
else
  echo "p50 latency target missed"; status=1
fi
exit $status
