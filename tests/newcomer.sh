#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What a newcomer runs, run the way a newcomer runs it (issue 21): in a copy of the tree as a
# fresh clone has it (no build directory, no configure), the README's demo commands, each mode,
# and its Quick start. A test inside a full build cannot see a target the demo forgot to build;
# this one starts from nothing, twice: one copy for the demos, one for the Quick start.
# Not part of `make check` (it copies the tree and builds it from scratch): scripts/test.sh runs
# it once per CI run. By hand, as root: tests/newcomer.sh. The guest kernel and initramfs are
# shared with the other guest tests through $VP_GUEST_CACHE (default ./build-guest-cache).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
export VP_GUEST_CACHE=${VP_GUEST_CACHE:-$abs_top_srcdir/build-guest-cache}

vp_require_fuse
command -v git >/dev/null || vp_skip_or_fail "no git"
git -C "$abs_top_srcdir" rev-parse --git-dir >/dev/null 2>&1 || vp_skip_or_fail "$abs_top_srcdir is not a git checkout"
vp_setup_workdir
vp_plan 23

# fresh_clone DEST: the files a clone of this tree has (scripts/copy-tree.sh), uncommitted work
# included as it would be committed.
fresh_clone () { "$abs_top_srcdir/scripts/copy-tree.sh" "$1"; }

# --- the demo, each mode, from one fresh copy (the first run builds it) ---
clone=$work/clone
fresh_clone "$clone" && [ -x "$clone/scripts/demo.sh" ] && [ ! -e "$clone/build" ] && [ ! -e "$clone/configure" ]
vp_ok $? "a fresh copy of the tree: scripts/demo.sh, no build directory, no configure"

# demo NAME ARGS...: scripts/demo.sh ARGS run from the copy as a newcomer runs it; its stdout in
# $work/NAME.out, its stderr in $work/NAME.err, its exit status in $demo_status.
demo () {
  local name=$1
  shift
  # A newcomer's environment does not name programs to run instead of building them.
  (cd "$clone" && exec env -u VPOWERD -u VPOWER_AGENT -u VPOWER_AGENT_TREE scripts/demo.sh "$@") \
    >"$work/$name.out" 2>"$work/$name.err"
  demo_status=$?
  sed "s/^/# $name: /" "$work/$name.out" "$work/$name.err"
}

# table_rows NAME: the table's rows with numbers in the host and the guest columns, as
# "ROW HOST-W HOST-UJ GUEST-UJ GUEST-W LOAD", e.g.
#   "  3 s      64.19         516850365 |        516850365      65.42  busy"
table_rows () {
  grep -E '^ *[0-9]+ s +[0-9]+\.[0-9]+ +[0-9]+ \| +[0-9]+ +[0-9]+\.[0-9]+ +(busy|idle)$' "$work/$1.out" |
    tr -d '|' | awk '{ print $1, $3, $4, $5, $6, $7 }'
}

# rises NAME COLUMN: in the table, COLUMN (3: the host's energy_uj, 4: the guest's) never goes
# down and moves. It starts anywhere in its range, so it may wrap like hardware: from near the
# top to near 0, under half of where it was. Any other decrease is a counter going backwards.
rises () {
  table_rows "$1" | awk -v c="$2" '{ v = $c; if (NR > 1 && v < last && v >= last / 2) exit 1
                                       if (NR > 1 && v != last) moved++; last = v }
                                     END { exit !(NR >= 2 && moved > 0) }'
}

# nothing_left NAME: the run's domain, mount, vpowerd and temporary directories are gone.
nothing_left () {
  local vm mnt
  vm=$(sed -n 's/^vpower demo: VM \(vpower-demo-[0-9]*\),.*/\1/p' "$work/$1.out")
  mnt=$(sed -n 's/^demo: starting vpowerd (mount \([^ ]*\),.*/\1/p' "$work/$1.err")
  [ -n "$vm" ] && [ -n "$mnt" ] || return 1
  ! virsh -c "$URI" list --all --name 2>/dev/null | grep -qx "$vm" &&
    ! awk -v m="$mnt" 'index($5, m) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo &&
    [ ! -e "$mnt" ] && [ ! -e "$(dirname "$mnt")" ] && ! grep -qsF -- "$mnt" /proc/[0-9]*/cmdline &&
    ! grep -q 'FAILED' "$work/$1.err"
}

# The README's first demo command: the channel, saved and restored halfway.
demo channel --channel --seconds 8
[ "$demo_status" -eq 0 ]
vp_ok $? "scripts/demo.sh --channel --seconds 8 in a fresh clone exits 0 (got $demo_status)"
grep -q '^vpower demo: VM vpower-demo-[0-9]*, virtio-serial channel;' "$work/channel.out" &&
  grep -q '^guest: vpower-agent serves the tree from the channel org.vpower.0' "$work/channel.out"
vp_ok $? "it says the counters go over the virtio-serial channel, served in the guest by the agent"
rows=$(table_rows channel | wc -l)
[ "$rows" -ge 3 ]
vp_ok $? "at least 3 rows with numbers in both the host's and the guest's columns (got $rows)"
rises channel 3
vp_ok $? "the host's energy_uj column rises and never goes back"
rises channel 4
vp_ok $? "the guest's energy_uj column rises and never goes back"
# After the save and restore line, the guest's value moves on from where it was.
awk '/--- virsh save .* then virsh restore/ { saved = 1; next }
     / s .*\|/ { gsub(/\|/, ""); if (!saved) before = $5; else if ($5 > before) moved = 1 }
     END { exit !(saved && before && moved) }' "$work/channel.out"
vp_ok $? "the VM is saved and restored halfway, and the guest's counter carries on after it"
# The guest alternates busy and idle every 3 s; a busy vCPU must cost it clearly more. The first
# idle sample can still show busy power (the tree trails the load by up to a tick), so compare the
# busiest busy sample with the quietest idle one, each sample once however many rows repeat it.
table_rows channel | awk '$4 == last { next } { last = $4 }
     $6 == "busy" && (nb++ == 0 || $5 > busy) { busy = $5 }
     $6 == "idle" && (ni++ == 0 || $5 < idle) { idle = $5 }
     END { printf "# guest watts: busy up to %s (%d samples), idle down to %s (%d samples)\n", busy, nb, idle, ni
           exit !(nb && ni && busy >= 1.5 * idle) }'
vp_ok $? "the guest's power while busy is at least 1.5 times its power while idle"
grep -q '^demo: the guest read [1-9][0-9]* values, every one of them published by the host for vpower-demo-' "$work/channel.out"
vp_ok $? "it closes by saying every value the guest read was published by the host"
nothing_left channel
vp_ok $? "no domain, mount, vpowerd or temporary directory of the demo is left"

# The default mode (9p) and virtiofs, as the README gives them, in the same copy.
for mode in 9p virtiofs; do
  args=(--seconds 6)
  [ "$mode" = 9p ] || args+=(--virtiofs)
  demo "$mode" "${args[@]}"
  [ "$demo_status" -eq 0 ] && grep -q "^vpower demo: VM vpower-demo-[0-9]*, $mode share;" "$work/$mode.out" &&
    grep -q "^guest: .*$mode" "$work/$mode.out"
  vp_ok $? "scripts/demo.sh ${args[*]} exits 0 (got $demo_status), and the guest mounted the $mode share"
  rows=$(table_rows "$mode" | wc -l)
  [ "$rows" -ge 3 ] && rises "$mode" 3 && rises "$mode" 4
  vp_ok $? "$mode: at least 3 rows (got $rows), the host's and the guest's energy_uj rising"
  grep -q '^demo: the guest read [1-9][0-9]* values, every one of them published by the host' "$work/$mode.out" &&
    nothing_left "$mode"
  vp_ok $? "$mode: every value the guest read was published by the host, and nothing is left"
done

# --- the Quick start, command 1, from a second fresh copy ---
# --scratch keeps it off this machine's /usr, /etc/vpower and /var/lib/vpower: the suite must not
# replace an installed vpowerd or an operator's configuration.
qs_clone=$work/quickstart-clone
scratch=$work/scratch
fresh_clone "$qs_clone" && [ ! -e "$qs_clone/build" ]
vp_ok $? "a second fresh copy of the tree for the Quick start"
installed_before=$(stat -c '%Y %s' /usr/sbin/vpowerd /etc/vpower/vpowerd.conf 2>&1)
(cd "$qs_clone" && exec env -u VPOWERD -u VPOWER_AGENT scripts/quickstart.sh --scratch "$scratch") >"$work/quickstart.log" 2>&1 &
qs_pid=$!
pids+=("$qs_pid")
vpowerctl=$scratch/usr/sbin/vpowerctl
socket=$scratch/run/vpower/control.sock
# It installs packages, configures and builds everything first: minutes on 2 cores.
answers () { ! exited "$qs_pid" && [ -x "$vpowerctl" ] && "$vpowerctl" --socket "$socket" status >"$work/status.out" 2>&1; }
exited () { local state; ! read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || [ "$state" = Z ]; }
vp_wait_for 1200 answers
vp_ok $? "scripts/quickstart.sh --scratch DIR builds, installs and starts vpowerd, and vpowerctl status answers"
sed 's/^/# status: /' "$work/status.out"
grep -qE '^vpowerd [0-9.]+: (ok|starting)' "$work/status.out" &&
  grep -qE "^mount +$scratch/var/lib/vpower\$" "$work/status.out" && grep -qE '^engine +pid [1-9]' "$work/status.out"
vp_ok $? "vpowerctl status says it is healthy, with its tree under DIR and an engine running"
# exec: the script's PID is vpowerd's.
[ "$(readlink "/proc/$qs_pid/exe")" = "$scratch/usr/sbin/vpowerd" ] &&
  mountpoint -q "$scratch/var/lib/vpower" && [ "$(stat -c '%Y %s' /usr/sbin/vpowerd /etc/vpower/vpowerd.conf 2>&1)" = "$installed_before" ]
vp_ok $? "the vpowerd it runs is the one installed under DIR, with its tree there; /usr/sbin and /etc/vpower untouched"

kill -TERM "$qs_pid"
vp_wait_for 60 exited "$qs_pid"
wait "$qs_pid"
qs_status=$?
sed 's/^/# quickstart: /' "$work/quickstart.log" | tail -n 12
[ "$qs_status" -eq 0 ]
vp_ok $? "SIGTERM stops it with status 0 (got $qs_status)"
grep -q "stopped; counters saved in $scratch/var/lib/vpowerd" "$work/quickstart.log" &&
  grep -q "unmounted $scratch/var/lib/vpower; stopped" "$work/quickstart.log" &&
  [ -n "$(ls -A "$scratch/var/lib/vpowerd")" ]
vp_ok $? "it says it saved the counters and unmounted the tree, and the state directory holds them"
! mountpoint -q "$scratch/var/lib/vpower" && [ ! -e "$socket" ] && ! grep -qsF -- "$scratch/" /proc/[0-9]*/cmdline
vp_ok $? "no mount, control socket or process of it is left"

vp_finish
