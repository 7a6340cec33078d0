#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration: read load on the FUSE tree: 8 concurrent readers looping on open/read/close all
# succeed, values never go backwards, and the engine keeps ticking under the load.
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

# The load runs for a set time (4 s, 20 intervals); what is asserted is not how fast anything
# went (that is bench/run-fuse.sh's) but that every read succeeded and the engine kept ticking
# under it, serving new values to the readers.
ticks_before=$(vp_ticks)
"$VP_READERS" "$VP_MNT/web1/intel-rapl:0/energy_uj" 8 -t 4 > "$work/readers" 2>&1
ticks_after=$(vp_ticks)
vp_diag "readers: $(cat "$work/readers"); $((ticks_after - ticks_before)) ticks meanwhile"
grep -Eq "^reads=[1-9][0-9]* errors=0 decreases=0 " "$work/readers"
vp_ok $? "8 readers looping on open/read/close for 4 s: every read succeeds and none goes backwards"
first=$(sed -n 's/.* first=\([0-9]*\).*/\1/p' "$work/readers"); last=$(sed -n 's/.* last=\([0-9]*\).*/\1/p' "$work/readers")
[ "$ticks_after" -gt "$ticks_before" ] && [ -n "$first" ] && [ "$last" != "$first" ]
vp_ok $? "the engine kept ticking under the read load, and the readers saw its new values ($first -> $last)"

healthy () { vp_get "$VP_URL/healthz" >/dev/null; }
vp_check "the engine's health stays OK under load" healthy

vp_finish
