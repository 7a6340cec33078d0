# SPDX-License-Identifier: GPL-2.0-or-later
# vpower test helpers for TAP test scripts: plan/ok, skipping, polling, a vpowerd runner.
#
# Scripts run under automake's TAP driver, which reads "1..N", "ok"/"not ok"
# lines and treats "1..0 # SKIP reason" as a skipped test. Under CI=true a
# missing prerequisite is a failure, never a skip: CI has all of them.

: "${abs_top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir/build}"
: "${VPOWERD:=$abs_top_builddir/vpowerd}"
: "${VPOWER_AGENT:=$abs_top_builddir/vpower-agent}"
export abs_top_srcdir abs_top_builddir VPOWERD VPOWER_AGENT
# Debian's python3, not whatever a version manager puts first in PATH: the tests' Python is the
# system's (python3-apparmor is Debian's), and pyenv's shim costs 0.3 s a call on these machines,
# longer than the ticks the process inventory's tests count in (their polls ran 3 ticks late).
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH
VP_BURN="$abs_top_builddir/tests/vp-burn"
VP_THREADS="$abs_top_builddir/tests/vp-threads"
VP_FAKE_RAPL="$abs_top_builddir/tests/vp-fake-rapl"

# vp_setup_workdir: $work becomes a new temporary directory. At exit every
# process in $pids, and vpowerd ($VP_PID), is stopped and $work removed.
vp_setup_workdir () {
  work=$(mktemp -d)
  pids=()
  trap vp_cleanup_workdir EXIT
}
vp_cleanup_workdir () {
  kill "${pids[@]}" ${VP_PID:-} 2>/dev/null
  kill -CONT "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  # A vpowerd that died hard leaves its mount behind: never rm -rf into it.
  local mnt
  for mnt in $(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts 2>/dev/null); do
    umount -l "$mnt" 2>/dev/null
  done
  rm -rf "$work"
}

vp_test_count=0
vp_test_failed=0

vp_plan () { echo "1..$1"; }

# vp_ok CONDITION-EXIT-STATUS DESCRIPTION: use as `check; vp_ok $? "desc"`.
vp_ok () {
  vp_test_count=$((vp_test_count + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $vp_test_count - $2"
  else
    echo "not ok $vp_test_count - $2"
    vp_test_failed=$((vp_test_failed + 1))
  fi
}

# vp_check DESCRIPTION COMMAND...: runs the command and reports it.
vp_check () {
  local description=$1
  shift
  if "$@"; then vp_ok 0 "$description"; else vp_ok 1 "$description"; fi
}

vp_diag () { echo "# $*"; }

vp_skip_or_fail () {
  if [ "${CI:-}" = true ]; then
    echo "Bail out! missing prerequisite in CI: $*"
    exit 1
  fi
  echo "1..0 # SKIP $*"
  exit 0
}

# vp_skip_one DESCRIPTION REASON: one planned test whose prerequisite is missing: skipped (TAP
# "# SKIP"), or failed under CI. The rest of the script goes on; vp_skip_or_fail is for before
# the plan.
vp_skip_one () {
  if [ "${CI:-}" = true ]; then
    vp_ok 1 "$1 (missing prerequisite in CI: $2)"
  else
    vp_test_count=$((vp_test_count + 1))
    echo "ok $vp_test_count - $1 # SKIP $2"
  fi
}

vp_require_root () {
  [ "$(id -u)" -eq 0 ] || vp_skip_or_fail "needs root"
}

# vp_wait_for DEADLINE_SECONDS COMMAND...: polls COMMAND until it succeeds or
# the deadline passes. This is synchronisation by polling, not a fixed sleep.
vp_wait_for () {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# vp_free_port: a TCP port nothing listens on right now.
vp_free_port () {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# vp_get URL: prints the body; fails on HTTP errors.
vp_get () { curl -fsS --max-time 5 "$1"; }

# vp_json EXPR: evaluates a Python expression over the JSON on stdin, bound to `d`.
vp_json () { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

vp_start_vpowerd () {
  # vp_start_vpowerd LOGFILE ARGS...: starts vpowerd in the foreground
  # (background job), sets VP_PID and VP_URL, waits for the first tick.
  local log=$1
  shift
  VP_PORT=$(vp_free_port)
  VP_URL="http://127.0.0.1:$VP_PORT"
  # Without --mount, run without the FUSE tree (tests of the engine alone).
  # Its own runtime directory (control socket), unless the test names one.
  local mount_args=(--no-mount)
  case " $* " in *" --mount "*) mount_args=() ;; esac
  case " $* " in *" --runtime-dir "*) ;; *) mount_args+=(--runtime-dir "${work:-/tmp}/run") ;; esac
  "$VPOWERD" --foreground --listen "127.0.0.1:$VP_PORT" "${mount_args[@]}" "$@" >>"$log" 2>&1 &
  VP_PID=$!
  vp_wait_for 20 vp_vpowerd_ticked || { cat "$log" >&2; return 1; }
}

# vp_start_mounted LOGFILE ARGS...: vp_start_vpowerd with the FUSE tree mounted at
# $VP_MNT ($work/mnt) and its runtime directory (lock, hook socket) in $VP_RUN.
vp_start_mounted () {
  local log=$1
  shift
  VP_MNT=$work/mnt
  VP_RUN=$work/run
  vp_start_vpowerd "$log" --mount "$VP_MNT" --runtime-dir "$VP_RUN" "$@" || return 1
  vp_wait_for 20 mountpoint -q "$VP_MNT" || { cat "$log" >&2; return 1; }
}

# vp_require_fuse: root and /dev/fuse, or skip (fail under CI).
vp_require_fuse () {
  vp_require_root
  [ -c /dev/fuse ] || vp_skip_or_fail "no /dev/fuse"
}

# vp_engine_pid: the engine process the mount holder ($VP_PID) started.
vp_engine_pid () { pgrep -P "$VP_PID" | head -1; }

# vp_stop_vpowerd: SIGTERM and wait for the exit; returns vpowerd's status.
vp_stop_vpowerd () {
  kill -TERM "$VP_PID" 2>/dev/null
  wait "$VP_PID"
  local status=$?
  VP_PID=
  return $status
}

vp_vpowerd_ticked () {
  kill -0 "$VP_PID" 2>/dev/null || return 1
  local ticks
  ticks=$(vp_get "$VP_URL/api/v1/host" 2>/dev/null | vp_json 'd["ticks"]' 2>/dev/null) || return 1
  [ "${ticks:-0}" -ge 1 ]
}

# vp_ticks: the engine's completed ticks; vp_ticks_at_least N: for vp_wait_for.
vp_ticks () { vp_get "$VP_URL/api/v1/host" 2>/dev/null | vp_json 'd["ticks"]' 2>/dev/null; }
vp_ticks_at_least () { local t; t=$(vp_ticks) && [ "${t:-0}" -ge "$1" ]; }

# vp_freeze_burners PID...: SIGSTOP the stand-in VMs, then wait until vpowerd
# has completed two more ticks, so its last sample was taken after they froze.
# Their CPU time in /proc then equals what vpowerd counted, and a test's window
# starts or ends exactly on one of vpowerd's ticks, however loaded the machine.
# vp_thaw_burners PID... lets them run again (a stopped process ignores the
# cleanup's SIGTERM).
vp_freeze_burners () {
  kill -STOP "$@" || return 1
  local ticks; ticks=$(vp_ticks) || return 1
  vp_wait_for 30 vp_ticks_at_least $((ticks + 2))
}
vp_thaw_burners () { kill -CONT "$@"; }

# vp_start_agent LOGFILE ARGS...: `vpower-agent serve` on a free port (background
# job); sets AGENT_PID and AGENT_URL and waits until /metrics answers.
vp_start_agent () {
  local log=$1
  shift
  AGENT_PORT=$(vp_free_port)
  AGENT_URL="http://127.0.0.1:$AGENT_PORT"
  "$VPOWER_AGENT" serve --listen "127.0.0.1:$AGENT_PORT" "$@" >>"$log" 2>&1 &
  AGENT_PID=$!
  pids+=("$AGENT_PID")
  vp_wait_for 20 curl -sS -o /dev/null --max-time 2 "$AGENT_URL/metrics" || { cat "$log" >&2; return 1; }
}

# vp_agent_guest DIR CACHE LOG: a TCG guest in DIR (vmlinux, initramfs.gz) whose initramfs carries
# vpower-agent, its tree server, node_exporter and their libraries (tests/guest/agent-overlay.sh
# over the cached base of tests/guest/build-guest.sh). Steps log to LOG.
vp_agent_guest () {
  local dir=$1 cache=$2 log=$3
  "$abs_top_srcdir/tests/guest/build-guest.sh" "$cache" >>"$log" 2>&1 || { echo "# build-guest.sh failed"; return 1; }
  mkdir -p "$dir" && cp "$cache/vmlinux" "$dir/" && chmod 777 "$dir" || return 1
  "$abs_top_srcdir/tests/guest/agent-overlay.sh" "$dir/agent.cpio.gz" "$VPOWER_AGENT" >>"$log" 2>&1 ||
    { echo "# agent-overlay.sh failed"; return 1; }
  # The kernel unpacks concatenated archives in order: the overlay lands on the base.
  cat "$cache/initramfs.gz" "$dir/agent.cpio.gz" >"$dir/initramfs.gz"
}

# vp_record_published VM OUT STOP-FILE: in the background (added to $pids), every value
# vpowerd ($VP_URL) publishes for VM, one line per zone and tick, "TIME INDEX ENERGY_UJ",
# until STOP-FILE exists.
vp_record_published () {
  python3 - "$VP_URL" "$2" "$3" "$1" <<'PY' &
import json, os, sys, time, urllib.request
url, out, stop, name = sys.argv[1:5]
last = None
with open(out, "w") as f:
    while not os.path.exists(stop):
        try:
            d = json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=2))
            if d["ticks"] != last:
                last = d["ticks"]
                for v in d["vms"]:
                    if v["name"] == name:
                        for z in v["zones"]:
                            f.write(f"{time.time():.3f} {z['index']} {z['energy_uj']}\n")
                f.flush()
        except Exception:
            pass
        time.sleep(0.05)
PY
  pids+=($!)
}

# vp_books_conserve URL ZONES [SHORT]: from one /metrics answer (one snapshot), on each of ZONES
# zones: VMs + VMs that migrated away + host processes + unattributed = the host's energy, exactly,
# or short of it by at least 0 and less than SHORT joules (what a --quantum-uj holds back).
vp_books_conserve () {
  vp_get "$1/metrics" | python3 -c '
import re, sys
from collections import defaultdict
from decimal import Decimal
zones, short = int(sys.argv[1]), Decimal(sys.argv[2])
sums = defaultdict(Decimal); host = {}
for line in sys.stdin:
    m = re.match(r"(\w+)\{(.*)\} (\S+)$", line.strip())
    if not m: continue
    labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(2)))
    if m.group(1) in ("vpower_vm_energy_joules_total", "vpower_departed_vms_energy_joules",
                      "vpower_host_processes_energy_joules_total", "vpower_unattributed_energy_joules_total"):
        sums[labels["index"]] += Decimal(m.group(3))
    elif m.group(1) == "vpower_host_energy_joules_total":
        host[labels["index"]] = Decimal(m.group(3))
held = {i: host[i] - sums.get(i, 0) for i in host}
for i in sorted(host): print(f"# zone {i}: host {host[i]} J, consumers {sums[i]} J")
ok = len(host) == zones and all(host[i] > 0 for i in host)
ok = ok and all((held[i] == 0) if short == 0 else (0 <= held[i] < short) for i in host)
sys.exit(0 if ok else 1)' "$2" "${3:-0}"
}

# vp_managers_namespace SCRIPT ARGS...: for the process inventory's tests, which need the managers'
# real paths. Run first thing: re-runs SCRIPT in a private mount namespace and exits with its status;
# there (the second time) it mounts a tmpfs of its own over /run and /etc/pve and returns. /etc/pve
# is made for the test when the host has none, and removed after.
vp_managers_namespace () {
  if [ -z "${VP_MANAGERS_NS:-}" ]; then
    local made_pve= status
    [ -e /etc/pve ] || { mkdir /etc/pve && made_pve=1; }
    VP_MANAGERS_NS=1 unshare --mount --propagation private "$@"
    status=$?
    [ -n "$made_pve" ] && rmdir /etc/pve 2>/dev/null
    exit $status
  fi
  mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /etc/pve ||
    { echo "Bail out! cannot mount a tmpfs over /run and /etc/pve"; exit 1; }
}

# vp_metric TEXT-FILE NAME{LABELS}: the value of one sample in an exposition.
vp_metric () { awk -v key="$2" '$1 == key { print $2; found = 1 } END { exit !found }' "$1"; }

# Two hosts on one machine, for the migration tests: A is the system libvirtd, B a second libvirtd
# in its own mount namespace (tests/helpers/libvirtd-b.sh, in $work/B). Each has its own vpowerd,
# state, port, host id and fixture RAPL at a known power of its own (A 100 W, B 60 W); B runs
# vpower-hook aimed at its vpowerd, as a host with vpower installed does.
# vp_two_hosts_start B-MOUNT VPOWERD-ARG...: starts them all. A's vpowerd is vp_start_mounted's
# ($VP_MNT); B's mounts at B-MOUNT in B's namespace, which is made first and so does not see A's
# mount: B-MOUNT may be A's path, as on two real hosts. Sets URI_B, b_ns (B's libvirtd, for
# nsenter -m -r -t), URL_A, URL_B and B_PID; says what failed on stderr. Logs in $work: setup.log,
# vpowerd-a.log, vpowerd-b.log. The caller's cleanup stops B_PID and runs libvirtd-b.sh stop.
vp_two_hosts_start () {
  local b_mount=$1 port_b h
  shift
  printf '#!/bin/sh\nexec "%s" --runtime-dir "%s" "$@"\n' "$abs_top_builddir/vpower-hook" "$work/run-b" >"$work/hook-b"
  URI_B=$(VP_B_HOOK=$work/hook-b "$abs_top_srcdir/tests/helpers/libvirtd-b.sh" start "$work/B" 2>>"$work/setup.log") ||
    { echo "libvirtd B did not start" >&2; return 1; }
  b_ns=$(cat "$work/B/libvirtd.pid")
  for h in a b; do cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/rapl-$h" || return 1; done
  "$VP_FAKE_RAPL" "$work/rapl-a" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!)
  "$VP_FAKE_RAPL" "$work/rapl-b" intel-rapl:0=60 intel-rapl:0:0=25 intel-rapl:0:1=5 & pids+=($!)
  vp_start_mounted "$work/vpowerd-a.log" --connect qemu:///system --powercap-root "$work/rapl-a" --host-id host-a \
    --state-dir "$work/state-a" "$@" || { echo "vpowerd A did not start" >&2; return 1; }
  URL_A=$VP_URL
  port_b=$(vp_free_port)
  URL_B=http://127.0.0.1:$port_b
  nsenter -m -r -t "$b_ns" "$VPOWERD" --foreground --listen "127.0.0.1:$port_b" --connect "$URI_B" --host-id host-b \
    --powercap-root "$work/rapl-b" --state-dir "$work/state-b" --mount "$b_mount" --runtime-dir "$work/run-b" \
    "$@" >>"$work/vpowerd-b.log" 2>&1 &
  B_PID=$!
  vp_wait_for 20 vp_host_b_serves "$b_mount" || { echo "vpowerd B did not start" >&2; return 1; }
}
# vp_host_b_serves B-MOUNT: B's vpowerd runs, has ticked, and its tree is mounted in B's namespace.
vp_host_b_serves () {
  kill -0 "$B_PID" 2>/dev/null && nsenter -m -r -t "$b_ns" mountpoint -q "$1" &&
    [ "$(vp_get "$URL_B/api/v1/host" 2>/dev/null | vp_json 'd["ticks"]' 2>/dev/null)" -ge 1 ] 2>/dev/null
}

# The system libvirtd's qemu hook, for the tests whose domains need vpower-hook (a transient domain's
# directory made before it starts; an incoming migration's). libvirtd looks for hooks when it starts
# and when it is reloaded (SIGHUP: `systemctl reload libvirtd`, as vpower-host's postinst does).
# VP_HOOK_LINK is a stub that forwards to the vpower-hook named in VP_HOOK_ENV, the test's own, and
# does nothing when no test runs.
VP_HOOK_LINK=/etc/libvirt/hooks/qemu.d/vpower-test
VP_HOOK_ENV=/run/vpower-test/hook.env
VP_RELOAD_NOTE=/run/vpower-test/reloads

# vp_libvirt_hook_install: puts the stub in qemu.d (not yet seen by libvirtd: vp_libvirtd_reload).
vp_libvirt_hook_install () {
  mkdir -p "$(dirname "$VP_HOOK_LINK")" "$(dirname "$VP_HOOK_ENV")" || return 1
  printf '%s\n' '#!/bin/sh' \
    "# vpower test suite: forward the qemu hook to the current test's vpower-hook, if any." \
    "[ -r $VP_HOOK_ENV ] || exit 0" \
    ". $VP_HOOK_ENV" \
    'exec "$VP_HOOK" --runtime-dir "$VP_HOOK_RUNTIME_DIR" "$@"' >"$VP_HOOK_LINK.tmp" &&
    chmod 755 "$VP_HOOK_LINK.tmp" && mv "$VP_HOOK_LINK.tmp" "$VP_HOOK_LINK"
}

# vp_libvirt_hook_use HOOK RUNTIME-DIR: the stub runs HOOK --runtime-dir RUNTIME-DIR from now on
# (remove $VP_HOOK_ENV at the end).
vp_libvirt_hook_use () {
  mkdir -p "$(dirname "$VP_HOOK_ENV")" &&
    printf 'VP_HOOK=%s\nVP_HOOK_RUNTIME_DIR=%s\n' "$1" "$2" >"$VP_HOOK_ENV"
}

# vp_libvirtd_reload: SIGHUP the system libvirtd, then wait until the reload is through. A daemon
# hook notes each reload; libvirtd runs it after it has looked for hooks again, so its note says
# that libvirtd knows what qemu.d holds now.
vp_libvirtd_reload () {
  local note_hook=/etc/libvirt/hooks/daemon.d/vpower-test-reload before
  if [ ! -x "$note_hook" ]; then
    mkdir -p "$(dirname "$note_hook")" "$(dirname "$VP_RELOAD_NOTE")" || return 1
    printf '%s\n' '#!/bin/sh' '# vpower test suite: note each libvirtd reload (tests/lib.sh).' \
      "[ \"\$2\" = reload ] && echo \"\$*\" >>$VP_RELOAD_NOTE" 'exit 0' >"$note_hook.tmp" &&
      chmod 755 "$note_hook.tmp" && mv "$note_hook.tmp" "$note_hook" || return 1
  fi
  before=$(wc -l 2>/dev/null <"$VP_RELOAD_NOTE" || echo 0)
  kill -HUP "$(cat /run/libvirtd.pid)" || return 1
  vp_wait_for 30 eval '[ "$(wc -l 2>/dev/null <"$VP_RELOAD_NOTE" || echo 0)" -gt "$before" ]'
}

vp_finish () {
  echo "# $vp_test_count tests, $vp_test_failed failed"
  [ "$vp_test_failed" -eq 0 ]
}
