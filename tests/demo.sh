#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's demo command (scripts/demo.sh, issue 5) works end to end: a real TCG guest under
# libvirtd reads its counters through vpower-agent, the table shows the host's and the guest's
# numbers side by side, the guest's energy rises and its power follows its load, and the demo
# leaves no domain, no mount and no vpowerd behind. It runs with --channel (issue 12): the
# virtio-serial channel, and a virsh save and restore halfway that the guest's counter survives.
# (9p and virtiofs guests are tests/agent-guest.sh's and tests/libvirt-share.sh's.)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
# As the other guest tests: in the build tree (the source tree is read-only under distcheck).
export VP_GUEST_CACHE=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}

vp_require_fuse
[ -x "$VPOWERD" ] || vp_skip_or_fail "no vpowerd binary"
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"

vp_setup_workdir
vp_plan 10

"$abs_top_srcdir/scripts/demo.sh" --channel --seconds 10 --build "$abs_top_builddir" >"$work/out" 2>"$work/err"
status=$?
sed 's/^/# /' "$work/out" "$work/err"
[ "$status" -eq 0 ]
vp_ok $? "scripts/demo.sh --channel --seconds 10 exits 0 (got $status)"
grep -q '^vpower demo: VM vpower-demo-[0-9]*, virtio-serial channel;' "$work/out" &&
  grep -q '^guest: vpower-agent serves the tree from the channel org.vpower.0' "$work/out"
vp_ok $? "it says the counters go over the virtio-serial channel, served in the guest by the agent"

grep -q '^demo: the guest read [1-9][0-9]* values, every one of them published by the host for vpower-demo-' "$work/out"
vp_ok $? "it closes by saying every value the guest read was published by the host"

# Rows: "  3 s      64.19         516850365 |        516850365      65.42  busy"
#         time    host W      host energy_uj |  guest energy_uj   guest W  load
row_re='^ *[0-9]+ s +[0-9]+\.[0-9]+ +[0-9]+ \| +[0-9]+ +[0-9]+\.[0-9]+ +(busy|idle)$'
grep -E "$row_re" "$work/out" | tr -d '|' >"$work/rows"
rows=$(wc -l <"$work/rows")
[ "$rows" -ge 3 ]
vp_ok $? "at least 3 rows with numbers in both the host and the guest columns (got $rows)"

# Column 5 is the guest's energy_uj, repeated while the guest's next sample is pending. It
# starts anywhere in its range, so it may wrap like hardware: from the top of the range to
# near 0, less than half of where it was. Any other decrease is a counter going backwards.
awk '{ if (NR > 1 && $5 < last && $5 >= last / 2) exit 1; if (NR > 1 && $5 != last) moved++; last = $5 }
     END { exit !(NR >= 2 && moved > 0) }' "$work/rows"
vp_ok $? "the guest's energy_uj never decreases and rises over the run"

# After the save and restore line, the guest's value moves on from where it was.
awk '/--- virsh save .* then virsh restore/ { saved = 1; next }
     / s .*\|/ { gsub(/\|/, ""); if (!saved) before = $5; else if ($5 > before) moved = 1 }
     END { exit !(saved && before && moved) }' "$work/out"
vp_ok $? "the VM is saved and restored halfway, and the guest's counter carries on after it"

# The guest alternates busy and idle every 3 s; a busy vCPU must cost it clearly more. The
# first idle sample can still show busy power (the tree trails the load by up to a tick), so
# compare the busiest busy sample with the quietest idle one. Each sample counts once, however
# many rows repeat it.
awk '$5 == last { next } { last = $5 }
     $7 == "busy" && (nb++ == 0 || $6 > busy) { busy = $6 }
     $7 == "idle" && (ni++ == 0 || $6 < idle) { idle = $6 }
     END { printf "# guest watts: busy up to %s (%d samples), idle down to %s (%d samples)\n", busy, nb, idle, ni
           exit !(nb && ni && busy >= 1.5 * idle) }' "$work/rows"
vp_ok $? "the guest's power while busy is at least 1.5 times its power while idle"

# What to look for after it: its domain name and its temporary mount point.
vm=$(sed -n 's/^vpower demo: VM \(vpower-demo-[0-9]*\),.*/\1/p' "$work/out")
mnt=$(sed -n 's/^demo: starting vpowerd (mount \([^ ]*\),.*/\1/p' "$work/err")
[ -n "$vm" ] && [ -n "$mnt" ]
vp_ok $? "the demo names its VM ($vm) and its mount ($mnt)"

! virsh -c "$URI" list --all --name 2>/dev/null | grep -qx "${vm:-vpower-demo-[0-9]*}"
vp_ok $? "no demo domain is left in virsh list --all"

# mountinfo's field 5 is the mount point; the demo's own vpowerd must be gone with it.
! awk -v m="${mnt:-/tmp/vpower-demo.}" 'index($5, m) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo &&
  [ -n "$mnt" ] && [ ! -e "$mnt" ] && ! grep -qsF -- "$mnt" /proc/[0-9]*/cmdline
vp_ok $? "no mount, directory or vpowerd process of the demo is left"

vp_finish
