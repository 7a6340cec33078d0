#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Daemon: vpowerd with a libvirt inventory stops cleanly on SIGTERM, every time, while it ticks;
# and, with its tree mounted, when the signal comes right after the mount, while its engine is
# still starting.
#
# libvirt's event loop (the inventory's thread) iterates GLib's global default main context. The
# engine's ticks used to live there too, so libvirt's thread could run a tick after the engine's
# loop had stopped, while the engine was being freed: vpowerd crashed on SIGTERM, after saving
# its counters, in most of 40 tries here. The engine now keeps a main context of its own.
# libvirt's test driver (test:///default, in-process, one running domain) stands in for libvirtd:
# the race is between threads of vpowerd, not with the daemon.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_setup_workdir
vp_plan 5

tries=10
args=(--connect test:///default --sensor model --interval 0.1 --allow-fast-updates --state-dir "$work/state")
stopped_clean=0 saved=0 statuses=()
for try in $(seq "$tries"); do
  log=$work/vpowerd-$try.log
  vp_start_vpowerd "$log" "${args[@]}" || break
  # A few ticks, so the tick timer is armed when the signal comes.
  ticks=$(vp_ticks)
  vp_wait_for 20 vp_ticks_at_least $(( ${ticks:-0} + 2 ))
  vp_stop_vpowerd
  status=$?
  statuses+=("$status")
  [ "$status" -eq 0 ] && stopped_clean=$((stopped_clean + 1))
  grep -q "counters saved" "$log" && saved=$((saved + 1))
done
vp_diag "exit statuses: ${statuses[*]}"

grep -q "libvirt: connected to test:///default, 1 domains" "$work/vpowerd-1.log"
vp_ok $? "vpowerd follows libvirt's test driver (one running domain)"
[ "$stopped_clean" -eq "$tries" ]
vp_ok $? "SIGTERM while it ticks: exit status 0 in each of $tries runs (got $stopped_clean)"
[ "$saved" -eq "$tries" ] && ! grep -l "Another thread has acquired\|libvirt event loop" "$work"/vpowerd-*.log
vp_ok $? "each run saved its counters, and libvirt's event loop never failed"

# SIGTERM as soon as the tree is mounted: the mount holder passes it on to an engine that is still
# loading (its BPF program, its inventory). It used to die of the signal then, without saving or
# even making its state directory (tests/packages.sh: a stop right after a start); it now takes
# the signal once it can, and stops cleanly.
vp_require_fuse
clean=0 statuses=()
for try in $(seq 5); do
  mkdir -p "$work/mnt-$try"
  "$VPOWERD" --foreground --connect test:///default --sensor model --state-dir "$work/early-$try" \
    --mount "$work/mnt-$try" --runtime-dir "$work/run-$try" --listen "127.0.0.1:$(vp_free_port)" \
    >"$work/early-$try.log" 2>&1 &
  early=$!
  vp_wait_for 20 mountpoint -q "$work/mnt-$try"
  kill -TERM "$early"; wait "$early"
  status=$?
  statuses+=("$status")
  [ "$status" -eq 0 ] && [ -s "$work/early-$try/counters.state" ] && ! grep -q "killed by signal" "$work/early-$try.log" &&
    clean=$((clean + 1))
done
vp_diag "exit statuses: ${statuses[*]}"
[ "$clean" -eq 5 ]
vp_ok $? "SIGTERM right after the mount, while the engine starts: it stops cleanly and saves, in each of 5 runs (got $clean)"

# A container that shares the host's PID namespace (a DaemonSet with hostPID, podman --pid host)
# is stopped by signalling each of its processes: the engine has the runtime's SIGTERM, then the
# holder's, which came while it was saving. Removing the engine's signal sources restored
# SIGTERM's default action before it saved, and the second one killed it (podman stop, here).
clean=0 statuses=()
for try in $(seq 5); do
  log=$work/pidhost-$try.log
  mkdir -p "$work/mnt-pidhost-$try"
  vp_start_vpowerd "$log" --connect test:///default --sensor model --state-dir "$work/pidhost-$try" \
    --mount "$work/mnt-pidhost-$try" --runtime-dir "$work/run-pidhost-$try" || break
  engine=$(vp_engine_pid)
  kill -TERM "$engine"
  vp_wait_for 10 grep -q "vpowerd-engine: stopping on signal" "$log"
  vp_stop_vpowerd
  status=$?
  statuses+=("$status")
  [ "$status" -eq 0 ] && grep -q "counters saved" "$log" && ! grep -q "killed by signal" "$log" && clean=$((clean + 1))
done
vp_diag "exit statuses: ${statuses[*]}"
[ "$clean" -eq 5 ]
vp_ok $? "SIGTERM to the engine and then to the holder, as a runtime stops a container in the host's PID namespace: it saves and stops cleanly, in each of 5 runs (got $clean)"
vp_finish
