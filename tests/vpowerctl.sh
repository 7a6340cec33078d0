#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vpowerctl against a running vpowerd and a real libvirtd with defined TCG domains: status,
# list, show, top, xml and attach (9p and virtiofs, --config, and the refusals), the socket's
# permissions, and the XML it prints accepted by libvirt on real domains that then start and
# read their energy over the share.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
nine=vp-ctl9p-$$
vfs=vp-ctlvfs-$$

vp_require_fuse
work=$(mktemp -d)
chmod 755 "$work"
VP_PID=
cleanup () {
  local d
  for d in "$nine" "$vfs"; do
    virsh -c "$URI" destroy "$d" >/dev/null 2>&1
    virsh -c "$URI" undefine "$d" >/dev/null 2>&1
  done
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work/vpowerd.log" 2>/dev/null | tail -40
  exit 1
}
ctl () { "$VPOWERCTL" --socket "$VP_RUN/control.sock" "$@"; }
# define FILE: virsh define, showing libvirt's answer when it refuses.
define () {
  virsh -c "$URI" define "$1" >"$work/define.log" 2>&1 && return 0
  sed 's/^/# /' "$work/define.log"
  return 1
}

vp_plan 31

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
"$abs_top_srcdir/tests/guest/build-guest.sh" "$cache" >>"$work/setup.log" 2>&1 || bail "build-guest.sh failed"
guest=$work/guest
mkdir -p "$guest" && cp "$cache/vmlinux" "$cache/initramfs.gz" "$guest/"

# Not running yet: exit 3 and a message that says so.
VP_RUN=$work/run
out=$(ctl status 2>&1); status=$?
[ $status -eq 3 ] && grep -q "cannot reach vpowerd" <<<"$out"
vp_ok $? "without vpowerd: exit 3 and '$out'"

# Two defined domains without shares; each guest reads the share it will get.
VP_GUEST_ARGS="vp.reads=3" "$abs_top_srcdir/tests/guest/domain.sh" "$nine" read9p "$guest" > "$work/$nine.xml"
VP_GUEST_ARGS="vp.reads=3" "$abs_top_srcdir/tests/guest/domain.sh" "$vfs" readvirtiofs "$guest" > "$work/$vfs.xml"
for d in "$nine" "$vfs"; do
  virsh -c "$URI" define "$work/$d.xml" >>"$work/setup.log" 2>&1 || bail "cannot define $d"
done

vp_start_mounted "$work/vpowerd.log" --inventory libvirt --connect "$URI" --sensor model --allow-fast-updates --interval 0.5 \
  --state-dir "$work/state" || bail "vpowerd did not start"

[ "$(stat -c '%a %U' "$VP_RUN/control.sock")" = "600 root" ]
vp_ok $? "the control socket is root's, mode 0600"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$VPOWERCTL" --socket "$VP_RUN/control.sock" status 2>&1)
[ $? -eq 3 ] && grep -q "run vpowerctl as root" <<<"$out"
vp_ok $? "another user is refused: $out"

# status
out=$(ctl status); status=$?
sed 's/^/# /' <<<"$out"
[ $status -eq 0 ] && grep -qE '^vpowerd .*: ok, last tick' <<<"$out" && grep -q "libvirt $URI, connected" <<<"$out" &&
  grep -q "^mount *$VP_MNT\$" <<<"$out"
vp_ok $? "status: healthy, the libvirt inventory connected, the mount"
[ "$(ctl --json status | vp_json 'd["health"], d["sensor"], d["policy"], d["vms"] >= 2')" = "ok model busy True" ]
vp_ok $? "status --json: health, sensor, policy and the number of VMs"

# list and show, against libvirt's own view
listed () { ctl --json list | vp_json "sorted(v['name'] for v in d['vms'])" | grep -q "$nine" &&
            ctl --json list | vp_json "sorted(v['name'] for v in d['vms'])" | grep -q "$vfs"; }
vp_check "list: both defined domains appear" vp_wait_for 10 listed
out=$(ctl list)
sed 's/^/# /' <<<"$out"
head -1 <<<"$out" | grep -qE '^VM +STATE +package-0 W +JOULES +CPU%$' && grep -qE "^$nine +shutoff +0\.00 +[0-9.]+ +0\.0\$" <<<"$out"
vp_ok $? "list: a table of VM, state, watts per zone, joules and CPU share"
uuid=$(virsh -c "$URI" domuuid "$nine" | head -1)
[ "$(ctl --json show "$nine" | vp_json 'd["uuid"], d["directory"], d["shares"]')" = "$uuid $VP_MNT/$nine []" ]
vp_ok $? "show --json: libvirt's UUID, the directory, no share wired yet"
out=$(ctl show "$uuid")
grep -q "^$nine (shutoff)" <<<"$out" && grep -q "none wired (vpowerctl attach $nine" <<<"$out" &&
  grep -qE '^package-0 +0 +' <<<"$out"
vp_ok $? "show by UUID: the VM, its shares and its zones"
# Who it belongs to: set with virsh metadata, seen through libvirtd's METADATA_CHANGE event.
virsh -c "$URI" metadata "$nine" --uri urn:vpower:labels:1.0 --key vpower --config \
  --set '<labels><label name="project">research</label><label name="team">hpc</label></labels>' >>"$work/setup.log" 2>&1
labelled () { ctl show "$nine" | grep -qx 'labels     project="research" label_team="hpc"' &&
              vp_get "$VP_URL/metrics" | grep "^vpower_vm_info{domain=\"$nine\",.*,project=\"research\",label_team=\"hpc\"} 1\$" >/dev/null; }
vp_check "virsh metadata: show and vpower_vm_info carry the new owner labels" vp_wait_for 10 labelled
out=$(ctl show no-such-vm 2>&1)
[ $? -eq 1 ] && grep -q "no VM named or with UUID 'no-such-vm'" <<<"$out"
vp_ok $? "show of an unknown VM: exit 1 and '$out'"
out=$(ctl show 2>&1)
[ $? -eq 2 ]
vp_ok $? "a missing argument is a usage error (exit 2): $out"
[ "$(ctl top --count 2 | grep -c '^VM ')" -eq 2 ]
vp_ok $? "top --count 2 draws the table twice"

# xml --9p, pasted into the domain as printed: libvirt accepts it and the guest reads its energy.
ctl xml "$nine" --9p > "$work/fs9p.xml"
sed 's/^/# /' "$work/fs9p.xml"
warning=$(ctl --json xml "$nine" --9p | vp_json 'd["warning"]')
grep -q '^a 9p share mounted in the guest blocks live migration and save' <<<"$warning"
vp_ok $? "the answer to xml --9p says the mounted share blocks live migration and save: $warning"
virsh -c "$URI" dumpxml --inactive "$nine" > "$work/$nine-defined.xml"
python3 - "$work/$nine-defined.xml" "$work/fs9p.xml" > "$work/$nine-shared.xml" <<'PY'
import sys
domain, fragment = open(sys.argv[1]).read(), open(sys.argv[2]).read()
print(domain.replace("</devices>", fragment + "</devices>"))
PY
define "$work/$nine-shared.xml"
vp_ok $? "libvirt accepts the domain with the <filesystem> that xml --9p printed"
[ "$(ctl --json show "$nine" | vp_json 'd["shares"]')" = "['9p']" ]
vp_ok $? "show now reports the 9p share as wired"
out=$(ctl attach "$nine" --9p 2>&1)
[ $? -eq 1 ] && grep -q "already has a 9p share" <<<"$out"
vp_ok $? "attach refuses a second share: $out"

guest_finished () { grep -qE 'VP-DONE|VP-ERROR' "$guest/$1.console" 2>/dev/null; }
guest_read () {
  local console=$guest/$1.console
  vp_wait_for 120 guest_finished "$1" && grep -q VP-DONE "$console" && ! grep -q VP-ERROR "$console" &&
    [ "$(grep -c '^VP-VALUE [0-9]' "$console")" -ge 3 ]
}
rm -f "$guest/$nine.console"
virsh -c "$URI" start "$nine" >>"$work/setup.log" 2>&1
vp_ok $? "the domain starts with that share"
vp_check "its guest mounts the 9p share and reads its energy_uj" guest_read "$nine"
sed 's/^/# console: /' "$guest/$nine.console" | grep VP- | head -5

# Refusals, with the reason.
out=$(ctl attach "$vfs" --virtiofs --config 2>&1)
[ $? -eq 1 ] && grep -q "virtiofs needs shared guest memory" <<<"$out"
vp_ok $? "attach --virtiofs without shared memory is refused: $out"
out=$(ctl attach "$vfs" --9p --live 2>&1)
[ $? -eq 1 ] && grep -q "cannot be added to a running VM" <<<"$out"
vp_ok $? "attach --9p --live is refused: $out"
out=$(ctl attach "$vfs" --virtiofs --live 2>&1)
[ $? -eq 1 ] && grep -q "is not running" <<<"$out"
vp_ok $? "attach --live to a VM that is not running is refused: $out"
out=$(ctl xml "$vfs" 2>&1)
[ $? -eq 2 ]
vp_ok $? "xml without --9p or --virtiofs is a usage error: $out"

# xml --virtiofs: both elements, where they go; then attach --config adds the filesystem.
ctl --json xml "$vfs" --virtiofs > "$work/vfs.json"
virsh -c "$URI" dumpxml --inactive "$vfs" > "$work/$vfs-defined.xml"
python3 - "$work/$vfs-defined.xml" "$work/vfs.json" > "$work/$vfs-memory.xml" <<'PY'
import json, sys
domain, answer = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
print(domain.replace("<vcpu", answer["memory_backing"] + "<vcpu", 1))
PY
define "$work/$vfs-memory.xml"
vp_ok $? "libvirt accepts the <memoryBacking> that xml --virtiofs printed"
out=$(ctl attach "$vfs" --virtiofs --config 2>"$work/attach.err"); status=$?
vp_diag "$out"
[ $status -eq 0 ] && grep -q "attached the virtiofs share $VP_MNT/$vfs" <<<"$out"
vp_ok $? "attach --virtiofs --config succeeds"
grep -q '^vpowerctl: warning: a virtiofs share blocks live migration and save unless virtiofsd can migrate' "$work/attach.err" &&
  grep -q "energy_uj jumps to the other host's counter" "$work/attach.err"
vp_ok $? "and warns what the share costs a VM that moves: $(cat "$work/attach.err")"
virsh -c "$URI" dumpxml --inactive "$vfs" > "$work/$vfs-after.xml"
python3 - "$work/$vfs-after.xml" "$work/vfs.json" "$VP_MNT/$vfs" <<'PY'
import json, sys, xml.etree.ElementTree as ET
dom, answer, directory = ET.parse(sys.argv[1]).getroot(), json.load(open(sys.argv[2])), sys.argv[3]
printed = ET.fromstring(answer["filesystem"])
fs = [f for f in dom.iter("filesystem") if f.find("source").get("dir") == directory]
ok = len(fs) == 1 and fs[0].find("driver").get("type") == "virtiofs" and fs[0].find("target").get("dir") == "vpower" \
     and printed.find("source").get("dir") == directory
sys.exit(0 if ok else 1)
PY
vp_ok $? "libvirt's definition now has the virtiofs <filesystem> xml prints, for the VM's directory"
rm -f "$guest/$vfs.console"
virsh -c "$URI" start "$vfs" >>"$work/setup.log" 2>&1
vp_ok $? "the virtiofs domain starts"
vp_check "its guest mounts the virtiofs share and reads its energy_uj" guest_read "$vfs"
sed 's/^/# console: /' "$guest/$vfs.console" | grep VP- | head -5

vp_stop_vpowerd
vp_ok $? "vpowerd stops cleanly"
[ ! -e "$VP_RUN/control.sock" ]
vp_ok $? "and removes its control socket"
vp_finish
