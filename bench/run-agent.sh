#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest exporter: server CPU and latency per /metrics scrape of vpower-agent serve, against
# Debian's prometheus-node-exporter with only its rapl collector, both over the same fixture
# powercap tree (6 zones) advanced by vp-fake-rapl, in alternating rounds of the same run.
# Usage: bench/run-agent.sh   Environment: BUILDDIR (default: build), ROUNDS (5), SCRAPES (2000 per
# server per round), INTERVAL (the agent's --interval, 5 s), IDLE (15 s), SCRAPE_EVERY (15 s),
# NODE_EXPORTER (prometheus-node-exporter), CC (gcc), NOBUILD=1 (do not run make).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${BUILDDIR:-$src/build}" && pwd)
rounds=${ROUNDS:-5}
scrapes=${SCRAPES:-2000}
interval=${INTERVAL:-5}
idle=${IDLE:-15}
scrape_every=${SCRAPE_EVERY:-15}
node_exporter=${NODE_EXPORTER:-prometheus-node-exporter}
target=0.5
command -v "$node_exporter" >/dev/null || { echo "run-agent.sh: no $node_exporter (apt install prometheus-node-exporter)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run-agent.sh: needs python3 (free ports)" >&2; exit 2; }
command -v curl >/dev/null || { echo "run-agent.sh: needs curl (checks what the servers read)" >&2; exit 2; }
[ -n "${NOBUILD:-}" ] || make -C "$build" -s vpower-agent tests/vp-fake-rapl

work=$(mktemp -d)
rapl_pid='' agent_pid='' ne_pid=''
. "$(dirname "$0")/lib.sh"
cleanup () {
  set +e
  stop "$agent_pid"
  stop "$ne_pid"
  stop "$rapl_pid"
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

${CC:-gcc} -O2 -Wall -o "$work/bench-scrape" "$src/bench/bench-scrape.c"
scrape="$work/bench-scrape"

# SYSFS/class/powercap is the tree; node_exporter finds it from --path.sysfs, the agent from --root.
cp -R "$src/tests/data/powercap/dual-dram" "$work/sys"
tree="$work/sys/class/powercap"
"$build/tests/vp-fake-rapl" "$tree" intel-rapl:0=60 intel-rapl:0:0=35 intel-rapl:0:1=6 \
  intel-rapl:1=50 intel-rapl:1:0=30 intel-rapl:1:1=5 &
rapl_pid=$!
free_port () { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
agent_port=$(free_port)
ne_port=$(free_port)
: > "$work/empty.conf"
"$build/vpower-agent" serve --config "$work/empty.conf" --root "$tree" --listen "127.0.0.1:$agent_port" \
  --interval "$interval" 2> "$work/agent.log" &
agent_pid=$!
"$node_exporter" --collector.disable-defaults --collector.rapl --path.sysfs="$work/sys" \
  --web.listen-address="127.0.0.1:$ne_port" 2> "$work/node_exporter.log" &
ne_pid=$!

# Every scrape must show the last of the 6 zones, so neither can pass with a partial tree.
agent_expect='vpower_energy_joules_total{zone="dram",index="1:1"}'
ne_expect='node_rapl_dram_joules_total{index="1"'
deadline=$((SECONDS + 30))
until "$scrape" "127.0.0.1:$agent_port" "$agent_pid" 1 "$agent_expect" >/dev/null 2>&1 &&
      "$scrape" "127.0.0.1:$ne_port" "$ne_pid" 1 "$ne_expect" >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "$agent_pid" 2>/dev/null || ! kill -0 "$ne_pid" 2>/dev/null; then
    echo "run-agent.sh: the servers did not come up; their logs:" >&2
    cat "$work/agent.log" "$work/node_exporter.log" >&2
    exit 1
  fi
  sleep 0.1
done
agent_zones=$(curl -fsS "http://127.0.0.1:$agent_port/metrics" | grep -c '^vpower_energy_joules_total{' || true)
agent_up=$(curl -fsS "http://127.0.0.1:$agent_port/metrics" | sed -n 's/^vpower_up //p')
ne_zones=$(curl -fsS "http://127.0.0.1:$ne_port/metrics" | grep -c '^node_rapl_[a-z0-9_]*_joules_total{' || true)
if [ "$agent_zones" != 6 ] || [ "$agent_up" != 1 ] || [ "$ne_zones" != 6 ]; then
  echo "run-agent.sh: expected 6 zones from both: agent $agent_zones (vpower_up $agent_up), node_exporter $ne_zones" >&2
  exit 1
fi

# measure PORT PID EXPECT -> "cpu_ns p50_ns p90_ns wall_ns errors bytes" for $scrapes scrapes
measure () {
  local out
  out=$("$scrape" "127.0.0.1:$1" "$2" "$scrapes" "$3")
  sed -n 's/^scrapes=[0-9]* errors=\([0-9]*\) bytes=\([0-9]*\) p50_ns=\([0-9]*\) p90_ns=\([0-9]*\) p99_ns=[0-9]* wall_ns=\([0-9]*\) cpu_ns=\([0-9]*\) cpu_stat_ns=\([0-9]*\) .*/\6 \3 \4 \5 \1 \2 \7/p' <<< "$out"
}
median () { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio () { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "nan" }'; }
div () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }    # ns / n -> "x.y"
us () { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1000 }'; }
# Warns when the thread-summed schedstat time misses more than the tick-based total (threads exited).
crosscheck () {
  awk -v s="$2" -v t="$3" 'BEGIN { exit !(t - s > 20e6 + 0.05 * t) }' &&
    echo "warning: $1's schedstat CPU ($(us "$2") µs) is well under its utime+stime ($(us "$3") µs): threads exited" >&2
  return 0
}

"$scrape" "127.0.0.1:$agent_port" "$agent_pid" 300 "$agent_expect" > /dev/null   # warm-up: caches, Go heap
"$scrape" "127.0.0.1:$ne_port" "$ne_pid" 300 "$ne_expect" > /dev/null

echo "== Guest exporter: server CPU and latency per /metrics scrape, 6 zones, $rounds rounds of $scrapes scrapes each"
echo "   vpower-agent serve --interval $interval; $("$node_exporter" --version 2>&1 | head -1), rapl collector only"
printf '%-6s | %9s %9s %7s | %9s %9s %7s | %9s %9s | %9s %9s\n' round agent node_exp ratio agent node_exp ratio \
  agent node_exp agent node_exp
printf '%-6s | %27s | %27s | %19s | %19s\n' "" "server CPU µs / scrape" "p50 latency µs" "p90 latency µs" \
  "round CPU µs/scrape"
errors=0
a_cpu=() n_cpu=() cpu_ratio=() a_p50=() n_p50=() p50_ratio=() a_p90=() n_p90=() a_round=() n_round=() round_ratio=()
for round in $(seq 1 "$rounds"); do
  # A round is a whole number of sampling intervals, so the agent's whole-round CPU holds its sampling.
  read -r m0 ac0 nc0 < <("$scrape" --cpu "$agent_pid" "$ne_pid")
  if [ $((round % 2)) -eq 1 ]; then
    read -r ac ap50 ap90 aw ae ab as < <(measure "$agent_port" "$agent_pid" "$agent_expect")
    read -r nc np50 np90 nw ne nb ns < <(measure "$ne_port" "$ne_pid" "$ne_expect")
  else
    read -r nc np50 np90 nw ne nb ns < <(measure "$ne_port" "$ne_pid" "$ne_expect")
    read -r ac ap50 ap90 aw ae ab as < <(measure "$agent_port" "$agent_pid" "$agent_expect")
  fi
  [ -n "${ac:-}" ] && [ -n "${nc:-}" ] || { echo "run-agent.sh: a measurement failed" >&2; exit 1; }
  crosscheck vpower-agent "$ac" "$as"
  crosscheck node_exporter "$nc" "$ns"
  read -r m1 _ _ < <("$scrape" --cpu "$agent_pid" "$ne_pid")
  used=$(( (m1 - m0 + 999999999) / 1000000000 ))
  round_s=$(( (used + interval - 1) / interval * interval ))
  sleep "$(awk -v end="$m0" -v s="$round_s" -v now="$m1" 'BEGIN { printf "%.3f", (end + s * 1e9 - now) / 1e9 }')"
  read -r m1 ac1 nc1 < <("$scrape" --cpu "$agent_pid" "$ne_pid")
  errors=$((errors + ae + ne))
  a_cpu+=("$(div "$ac" "$scrapes")") n_cpu+=("$(div "$nc" "$scrapes")") cpu_ratio+=("$(ratio "$ac" "$nc")")
  a_p50+=("$ap50") n_p50+=("$np50") p50_ratio+=("$(ratio "$ap50" "$np50")") a_p90+=("$ap90") n_p90+=("$np90")
  a_round+=("$(div "$((ac1 - ac0))" "$scrapes")") n_round+=("$(div "$((nc1 - nc0))" "$scrapes")")
  round_ratio+=("$(ratio "$((ac1 - ac0))" "$((nc1 - nc0))")")
  printf '%-6s | %9s %9s %7s | %9s %9s %7s | %9s %9s | %9s %9s   (%s s)\n' "$round" "$(us "${a_cpu[-1]}")" \
    "$(us "${n_cpu[-1]}")" "${cpu_ratio[-1]}" "$(us "$ap50")" "$(us "$np50")" "${p50_ratio[-1]}" "$(us "$ap90")" \
    "$(us "$np90")" "$(us "${a_round[-1]}")" "$(us "${n_round[-1]}")" "$round_s"
done
med_cpu_ratio=$(median "${cpu_ratio[@]}")
med_p50_ratio=$(median "${p50_ratio[@]}")
med_round_ratio=$(median "${round_ratio[@]}")
med_a_cpu=$(median "${a_cpu[@]}") med_n_cpu=$(median "${n_cpu[@]}")
printf '%-6s | %9s %9s %7s | %9s %9s %7s | %9s %9s | %9s %9s\n' median "$(us "$med_a_cpu")" "$(us "$med_n_cpu")" \
  "$med_cpu_ratio" "$(us "$(median "${a_p50[@]}")")" "$(us "$(median "${n_p50[@]}")")" "$med_p50_ratio" \
  "$(us "$(median "${a_p90[@]}")")" "$(us "$(median "${n_p90[@]}")")" "$(us "$(median "${a_round[@]}")")" \
  "$(us "$(median "${n_round[@]}")")"
echo "(ratios are agent / node_exporter per round, then the median of the rounds' ratios; \"round\" is the"
echo " server's CPU over the whole round, both servers' scrapes plus idle up to a whole number of intervals,"
echo " over its own $scrapes scrapes; responses: agent $ab bytes, node_exporter $nb bytes)"

# Idle: nobody scrapes, so this is the agent's per-interval sampling (a walk of /proc and a read of
# the zones) and node_exporter's Go runtime housekeeping.
echo "== Idle: ${idle} s without scrapes (agent: $((idle / interval)) samples)"
read -r m0 ac0 nc0 < <("$scrape" --cpu "$agent_pid" "$ne_pid")
sleep "$idle"
read -r m1 ac1 nc1 < <("$scrape" --cpu "$agent_pid" "$ne_pid")
a_idle=$(awk -v c="$((ac1 - ac0))" -v w="$((m1 - m0))" 'BEGIN { printf "%.1f", c / (w / 1e9) }')   # ns/s
n_idle=$(awk -v c="$((nc1 - nc0))" -v w="$((m1 - m0))" 'BEGIN { printf "%.1f", c / (w / 1e9) }')
printf 'idle CPU µs/s: agent %s (%s per %s s interval), node_exporter %s; processes in /proc: %s\n' \
  "$(us "$a_idle")" "$(us "$(awk -v r="$a_idle" -v i="$interval" 'BEGIN { print r * i }')")" "$interval" \
  "$(us "$n_idle")" "$(ls -d /proc/[0-9]* | wc -l)"
a_every=$(awk -v s="$med_a_cpu" -v r="$a_idle" -v e="$scrape_every" 'BEGIN { print s + r * e }')
n_every=$(awk -v s="$med_n_cpu" -v r="$n_idle" -v e="$scrape_every" 'BEGIN { print s + r * e }')
every_ratio=$(ratio "$a_every" "$n_every")
printf 'CPU per scrape at one scrape every %s s (scrape + idle share): agent %s µs, node_exporter %s µs, ratio %s\n' \
  "$scrape_every" "$(us "$a_every")" "$(us "$n_every")" "$every_ratio"

echo "RESULT cpu_ratio=$med_cpu_ratio target<=$target p50_ratio=$med_p50_ratio round_cpu_ratio=$med_round_ratio" \
  "cpu_ratio_every_${scrape_every}s=$every_ratio errors=$errors"
status=0
[ "$errors" -eq 0 ] || { echo "errors: $errors failed scrapes"; status=1; }
if awk -v r="$med_cpu_ratio" -v t="$target" 'BEGIN { exit !(r <= t) }'; then
  echo "PASS: CPU per scrape target met (agent/node_exporter $med_cpu_ratio <= $target)"
else
  echo "FAIL: CPU per scrape target missed (agent/node_exporter $med_cpu_ratio > $target)"; status=1
fi
exit $status
