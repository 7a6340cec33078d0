#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: read load on the FUSE tree: 8 concurrent readers doing 10,000 open/read/close
# each all succeed, values never go backwards, and the engine's ticks keep their cadence.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
vp_setup_workdir
vp_plan 4
VP_READERS="$abs_top_builddir/tests/vp-readers"

cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/powercap"
"$VP_FAKE_RAPL" "$work/powercap" intel-rapl:0=100 intel-rapl:0:0=40 & pids+=($!)
"$VP_BURN" 0.3 & pids+=($!); busy=$!
printf '[web1]\nuuid=aaaaaaaa-0000-4000-8000-000000000001\npid=%s\n' "$busy" > "$work/vms.ini"

interval=0.2
vp_start_mounted "$work/vpowerd.log" --sensor powercap --powercap-root "$work/powercap" \
  --inventory "static:$work/vms.ini" --allow-fast-updates --interval $interval --state-dir "$work/state"
vp_ok $? "vpowerd mounts the tree and ticks"

ticks_before=$(vp_ticks); started=$(date +%s%N)
"$VP_READERS" "$VP_MNT/web1/intel-rapl:0/energy_uj" 8 10000 > "$work/readers" 2>&1
ended=$(date +%s%N); ticks_after=$(vp_ticks)
vp_diag "readers: $(cat "$work/readers")"
grep -q "^reads=80000 errors=0 decreases=0 " "$work/readers"
vp_ok $? "80,000 open/read/close by 8 readers all succeed and never go backwards"

# Cadence: the engine ticked as often as the wall clock says it should
# have, give or take the one tick in flight at each end.
elapsed_ms=$(( (ended - started) / 1000000 ))
expected=$(python3 -c "print(int($elapsed_ms / 1000 / $interval))")
vp_diag "$elapsed_ms ms of load: $((ticks_after - ticks_before)) ticks, $expected expected"
[ $((ticks_after - ticks_before)) -ge $((expected - 1)) ]
vp_ok $? "ticks keep their cadence under the read load"

healthy () { vp_get "$VP_URL/healthz" >/dev/null; }
vp_check "the engine's health stays OK under load" healthy

vp_finish
