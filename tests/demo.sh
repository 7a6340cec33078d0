#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# How the README's demo (scripts/demo.sh) fails and stops (issue 21). Each failure is one line,
# "demo: FAILED: WHY (logs: DIR)", after nothing but the demo's own progress lines, and leaves
# nothing behind but DIR; Ctrl-C in the middle of the table removes the guest and the demo's
# vpowerd. The failures are real: a libvirtd that refuses its configuration, a port another
# process holds, and apt unable to find a package (in a private mount namespace with no archive).
# The demo's successful runs, every mode from a fresh clone, are tests/newcomer.sh's.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
# As the other guest tests: in the build tree (the source tree is read-only under distcheck).
export VP_GUEST_CACHE=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
demo=$abs_top_srcdir/scripts/demo.sh

vp_require_fuse
[ -x "$VPOWERD" ] || vp_skip_or_fail "no vpowerd binary"
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
command -v unshare >/dev/null || vp_skip_or_fail "no unshare (util-linux)"
# This build's programs (make check exports VPOWERD and VPOWER_AGENT), so the demo builds nothing.
export VPOWERD VPOWER_AGENT

vp_setup_workdir
vp_plan 11

# run_demo NAME [COMMAND-PREFIX...] -- DEMO-ARGS...: the demo, its stdout in $work/NAME.out,
# stderr in $work/NAME.err, exit status in $status.
run_demo () {
  local name=$1 prefix=()
  shift
  while [ "$1" != -- ]; do prefix+=("$1"); shift; done
  shift
  "${prefix[@]}" "$demo" "$@" >"$work/$name.out" 2>"$work/$name.err"
  status=$?
  sed "s/^/# $name: /" "$work/$name.err"
}

# failed_with NAME REASON: the demo exited 1 before its table; every line on stderr is its own
# ("demo: ..."); the last and only failure line is "demo: FAILED: ...REASON... (logs: DIR)", and DIR
# holds the run's logs (removed here).
failed_with () {
  local err=$work/$1.err last logs
  [ "$status" -eq 1 ] && [ ! -s "$work/$1.out" ] && ! grep -qv '^demo: ' "$err" &&
    [ "$(grep -c 'FAILED' "$err")" -eq 1 ] || return 1
  last=$(tail -n 1 "$err")
  [[ $last == "demo: FAILED: "*"$2"*" (logs: "*")" ]] || return 1
  logs=${last##* (logs: }
  logs=${logs%)}
  [ -d "$logs" ] && [ -n "$(ls -A "$logs")" ] && rm -rf "$logs"
}

# left_behind NAME: what the run started that is still there: its domain, its vpowerd (by its
# temporary mount), its mount, its temporary directory.
left_behind () {
  local vm mnt
  vm=$(sed -n 's/^vpower demo: VM \(vpower-demo-[0-9]*\),.*/\1/p' "$work/$1.out")
  mnt=$(sed -n 's/^demo: starting vpowerd (mount \([^ ]*\),.*/\1/p' "$work/$1.err")
  [ -z "$vm" ] || ! virsh -c "$URI" list --all --name 2>/dev/null | grep -qx "$vm" || echo "domain $vm"
  [ -z "$vm" ] || ! grep -qsF "guest=$vm," /proc/[0-9]*/cmdline || echo "QEMU of $vm"
  if [ -n "$mnt" ]; then
    ! grep -qsF -- "$mnt" /proc/[0-9]*/cmdline || echo "vpowerd on $mnt"
    ! awk -v m="$mnt" 'index($5, m) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo || echo "mount $mnt"
    [ ! -e "$(dirname "$mnt")" ] || echo "directory $(dirname "$mnt")"
  fi
}

# --- an occupied port: vpowerd's own reason, and its temporary directories go ---
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(3600)' >"$work/port" &
pids+=($!)
vp_wait_for 10 test -s "$work/port"
port=$(cat "$work/port")
run_demo port -- --port "$port" --seconds 3
failed_with port "vpowerd exited with status 1: cannot listen on 127.0.0.1:$port (address in use"
vp_ok $? "an occupied --port: one line, vpowerd's own reason (cannot listen on 127.0.0.1:$port), logs kept"
grep -q '^demo: starting vpowerd (mount ' "$work/port.err" && left=$(left_behind port) && [ -z "$left" ]
vp_ok $? "and nothing of the run is left${left:+ (left: $left)}"

# --- a package that cannot be installed: busybox-static "missing", and apt with no archive ---
ns=$work/apt
mkdir -p "$ns/sources.list.d" "$ns/lists/partial" "$ns/cache/archives/partial"
awk -v RS= -v ORS='\n\n' '!/^Package: busybox-static\n/' /var/lib/dpkg/status >"$ns/status"
run_demo package unshare -m --propagation private sh -c '
  ns=$1; shift
  mount --bind "$ns/status" /var/lib/dpkg/status && mount --bind "$ns/sources.list.d" /etc/apt/sources.list.d &&
    { [ ! -e /etc/apt/sources.list ] || mount --bind /dev/null /etc/apt/sources.list; } &&
    mount --bind "$ns/lists" /var/lib/apt/lists && mount --bind "$ns/cache" /var/cache/apt && exec "$@"' \
  sh "$ns" -- --seconds 3
failed_with package "cannot install the packages the demo needs: cannot install busybox-static: E: Unable to locate package busybox-static"
vp_ok $? "a package apt cannot install: one line naming it with apt's own error, logs kept"
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'
vp_ok $? "and the machine's packages are untouched (busybox-static is still installed)"

# --- no libvirtd can start: a real libvirtd refusing a broken libvirtd.conf, where no libvirtd
# runs (its socket directory and pidfile hidden, its state on tmpfs) ---
cp -a /etc/libvirt "$work/etc-libvirt"
echo 'this line is = not a libvirt setting' >"$work/etc-libvirt/libvirtd.conf"
: >"$work/no-pid"
libvirtds_before=$(pgrep -x libvirtd | sort)
run_demo libvirtd unshare -m --propagation private sh -c '
  work=$1; shift
  mount --bind "$work/etc-libvirt" /etc/libvirt && mount -t tmpfs tmpfs /run/libvirt &&
    { [ ! -e /run/libvirtd.pid ] || mount --bind "$work/no-pid" /run/libvirtd.pid; } &&
    mount -t tmpfs tmpfs /var/lib/libvirt && mount -t tmpfs tmpfs /var/cache/libvirt && exec "$@"' \
  sh "$work" -- --seconds 3
failed_with libvirtd "libvirtd did not start: libvirtd -d failed: Can't load config file: configuration file syntax error"
vp_ok $? "no libvirtd able to start: one line with libvirtd's own reason, logs kept"
stray=$(comm -13 <(echo "$libvirtds_before") <(pgrep -x libvirtd | sort))
[ -z "$stray" ] || kill $stray
[ -z "$stray" ] && virsh -c "$URI" uri >/dev/null 2>&1
vp_ok $? "and no other libvirtd was left running; the machine's own still answers"

# --- bad arguments: the usage, status 2, before anything is installed or started ---
run_demo usage -- --seconds soon
[ "$status" -eq 2 ] && grep -q "^demo: --seconds wants a positive integer, not 'soon'" "$work/usage.err" &&
  grep -q '^usage: scripts/demo.sh' "$work/usage.err" && "$demo" --help | grep -q -- '--channel'
vp_ok $? "a bad argument: status 2, the reason and the usage; --help lists the modes"

# --- Ctrl-C in the middle of the table (9p: the guest holds vpowerd's mount) ---
# A terminal's Ctrl-C sends SIGINT to the whole foreground process group: run the demo as the
# leader of its own group, and signal the group. A background job of a script starts with SIGINT
# ignored, and bash cannot trap a signal ignored at its start; a terminal's foreground job does
# not, so give the demo the default back, as the terminal would.
logs_before=$(ls -d "${TMPDIR:-/tmp}"/vpower-demo-logs.* 2>/dev/null)
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execv(sys.argv[1], sys.argv[1:])' "$demo" --seconds 300 >"$work/interrupt.out" 2>"$work/interrupt.err" &
demo_pid=$!
pids+=("$demo_pid")
rows () { grep -cE '^ *[0-9]+ s +[0-9]+\.[0-9]+ ' "$work/interrupt.out"; }
alive () { local state; read -r _ _ state _ 2>/dev/null <"/proc/$demo_pid/stat" && [ "$state" != Z ]; }
table_running () { alive && [ "$(rows)" -ge 2 ]; }
vp_wait_for 300 table_running
vp_ok $? "the demo is running its table (got $(rows) rows)"
pgid=$(awk '{ print $5 }' "/proc/$demo_pid/stat" 2>/dev/null)
[ "$pgid" = "$demo_pid" ] && kill -INT -- "-$pgid"
vp_wait_for 60 eval '! alive'
wait "$demo_pid"
status=$?
sed 's/^/# interrupt: /' "$work/interrupt.err"
[ "$status" -eq 130 ] && [ "$(tail -n 1 "$work/interrupt.err")" = "demo: interrupted: removing the VM and stopping vpowerd" ] &&
  ! grep -q FAILED "$work/interrupt.err" && ! grep -qv '^demo: ' "$work/interrupt.err"
vp_ok $? "Ctrl-C: exits 130 with one line saying it removes the VM and stops vpowerd (status $status)"
left=$(left_behind interrupt)
[ -z "$left" ] && grep -q '^vpower demo: VM vpower-demo-' "$work/interrupt.out"
vp_ok $? "Ctrl-C: no domain, QEMU, vpowerd, mount or temporary directory is left${left:+ (left: $left)}"
[ "$(ls -d "${TMPDIR:-/tmp}"/vpower-demo-logs.* 2>/dev/null)" = "$logs_before" ]
vp_ok $? "Ctrl-C: no logs directory is kept either"

vp_finish
