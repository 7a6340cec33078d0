#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# KubeVirt's VMs, from the node (issue 31), with real libvirtds and TCG guests. Each "pod"
# (tests/helpers/kubevirt-pod.sh) has its own mount and PID namespaces, its own root and its own
# libvirtd, with qemu.conf as KubeVirt writes it; the host's libvirtd runs beside them, and vpowerd
# runs on the node with its default inventory. A domain named ns1_vmi1, with KubeVirt's metadata
# and the guest agent's channel, passed through deploy/kubevirt/onDefineDomain, runs in pod A:
# vpowerd lists it once, with the VMI's labels, connects its channel inside the pod, and the agent
# in the guest serves the tree. A hostile pod's two VMs put symlinks to a host socket where their
# channels' sockets were: nothing reaches that socket. The VM migrates live from pod A to pod B
# (KubeVirt's migration: a new pod) and the guest's counters never go back. Pod B is deleted (its
# processes killed) and the VM leaves.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
hook=$abs_top_srcdir/deploy/kubevirt/onDefineDomain
vm=ns1_vmi1
vmi_uid=8d4f6c0e-2b1a-4c3e-9f5d-7a6b5c4d3e2f

vp_require_fuse
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
command -v unshare >/dev/null && command -v nsenter >/dev/null || vp_skip_or_fail "no unshare/nsenter (util-linux)"

work=$(mktemp -d)
chmod 755 "$work"
hostdir=$(mktemp -d)   # the host's own socket, which a hostile pod aims at
pids=()
VP_PID=
cleanup () {
  local pod
  for pod in a b evil; do "$abs_top_srcdir/tests/helpers/kubevirt-pod.sh" stop "$work/pod-$pod" >/dev/null 2>&1; done
  rm -rf "$hostdir"
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work"/vpowerd*.log 2>/dev/null | tail -60
  sed 's/^/# guest: /' "$guest/$vm.console" 2>/dev/null | grep -v VP-VALUE | tail -20
  exit 1
}
pod_uri () { echo "qemu+unix:///system?socket=/proc/$1/root/run/libvirt/libvirt-sock"; }
console () { cat "$guest/$vm.console" 2>/dev/null; }
values () { console | sed -n 's/^VP-VALUE \([0-9]*\).*/\1/p'; }
distinct_since () { [ "$(values | tail -n +$(($1 + 1)) | sort -u | wc -l)" -ge "$2" ]; }
# field VM EXPR: EXPR over the VM's entry in /api/v1/vms (bound to v), or "absent".
field () { vp_get "$VP_URL/api/v1/vms" | python3 -c "
import json, sys
v = [x for x in json.load(sys.stdin)['vms'] if x['name'] == '$1']
print($2 if v else 'absent')" 2>/dev/null; }
state_of () { field "$1" "v[0]['state']"; }
pid_of () { field "$1" "v[0].get('pid')"; }

# kubevirt_domain: the domain as KubeVirt's converter writes it for a VMI vmi1 in namespace ns1
# (tests/data/kubevirt/domain.xml's shape: its metadata, the guest agent's channel with no path),
# on the test kernel, the guest's agent reading the channel.
kubevirt_domain () {
  cat <<XML
<domain type="qemu">
  <name>$vm</name>
  <uuid>5f0ad2a4-6f65-5b0c-9d1e-4f3a9b1e2c77</uuid>
  <memory unit="MiB">192</memory>
  <vcpu placement="static">1</vcpu>
  <os>
    <type arch="x86_64" machine="pc">hvm</type>
    <kernel>$guest/vmlinux</kernel>
    <initrd>$guest/initramfs.gz</initrd>
    <cmdline>console=ttyS0 quiet vp.cmd=channel vp.period=0.5 vp.seconds=900</cmdline>
  </os>
  <features><acpi></acpi></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <serial type="file"><source path="$guest/$vm.console" append="on"></source><target port="0"></target></serial>
    <console type="file"><source path="$guest/$vm.console" append="on"></source><target type="serial" port="0"></target></console>
    <channel type="unix">
      <target name="org.qemu.guest_agent.0" type="virtio"></target>
    </channel>
    <controller type="virtio-serial" index="0"></controller>
    <memballoon model="none"></memballoon>
  </devices>
  <metadata>
    <kubevirt xmlns="http://kubevirt.io">
      <uid>$vmi_uid</uid>
      <graceperiod><deletionGracePeriodSeconds>30</deletionGracePeriodSeconds></graceperiod>
    </kubevirt>
  </metadata>
</domain>
XML
}
# evil_domain NAME SOCKET: a VM of the hostile pod whose channel's socket is at SOCKET in the pod;
# it boots nothing (SeaBIOS waits), costing next to nothing.
evil_domain () {
  cat <<XML
<domain type="qemu">
  <name>$1</name>
  <uuid>$(cat /proc/sys/kernel/random/uuid)</uuid>
  <memory unit="MiB">32</memory>
  <vcpu>1</vcpu>
  <os><type arch="x86_64" machine="pc">hvm</type></os>
  <devices>
    <channel type="unix"><source mode="bind" path="$2"/><target type="virtio" name="org.vpower.0"/></channel>
    <memballoon model="none"/>
  </devices>
  <metadata><kubevirt xmlns="http://kubevirt.io"><uid>$(cat /proc/sys/kernel/random/uuid)</uid></kubevirt></metadata>
</domain>
XML
}
start_pod () {   # start_pod NAME UUID-SUFFIX: its init's PID
  "$abs_top_srcdir/tests/helpers/kubevirt-pod.sh" start "$work/pod-$1" "8d1c8a36-6f3e-4b0e-9b8e-0000000000$2" "$guest" \
    2>>"$work/setup.log"
}

vp_plan 12

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
guest=$work/guest
vp_agent_guest "$guest" "$cache" "$work/setup.log" || bail "cannot build the guest"

# --- The host's socket, which the hostile pod aims at: every connection and byte is counted.
python3 - "$hostdir/host.sock" "$hostdir/host.count" <<'PY' &
import os, socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1])
server.listen(16)
connections = received = 0
while True:
    conn, _ = server.accept()
    connections += 1
    conn.settimeout(2)
    try:
        while (data := conn.recv(65536)):
            received += len(data)
    except OSError:
        pass
    conn.close()
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(f"{connections} {received}\n")
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
pids+=($!)
vp_wait_for 10 test -S "$hostdir/host.sock" || bail "the host socket did not appear"

# --- Pod A runs the VM, as KubeVirt defines it: through the hook.
pod_a=$(start_pod a a1) || bail "pod A did not start: $(tail -1 "$work/setup.log")"
kubevirt_domain >"$work/kubevirt.xml"
"$hook" --vmi '{"metadata":{"name":"vmi1","namespace":"ns1"}}' --domain "$(cat "$work/kubevirt.xml")" \
  >"$work/hooked.xml" 2>>"$work/setup.log" || bail "onDefineDomain failed"
virsh -c "$(pod_uri "$pod_a")" define "$work/hooked.xml" >>"$work/setup.log" 2>&1 &&
  virsh -c "$(pod_uri "$pod_a")" start "$vm" >>"$work/setup.log" 2>&1 || bail "cannot start $vm in pod A"
vp_diag "pod A: init $pod_a, QEMU $(pgrep -f "guest=$vm" | head -1)"

# --- The hostile pod: its VMs' channel sockets replaced by symlinks to the host's socket, one by its
# absolute path, one climbing out with "..".
pod_evil=$(start_pod evil a3) || bail "the hostile pod did not start"
mkdir -p "/proc/$pod_evil/root/run/evil"
evil_domain ns2_evil1 /run/evil/abs.sock >"$work/evil1.xml"
evil_domain ns2_evil2 /run/evil/climb.sock >"$work/evil2.xml"
for d in 1 2; do
  virsh -c "$(pod_uri "$pod_evil")" define "$work/evil$d.xml" >>"$work/setup.log" 2>&1 &&
    virsh -c "$(pod_uri "$pod_evil")" start "ns2_evil$d" >>"$work/setup.log" 2>&1 || bail "cannot start ns2_evil$d"
done
evil_run=/proc/$pod_evil/root/run/evil
vp_wait_for 20 eval 'test -S "$evil_run/abs.sock" && test -S "$evil_run/climb.sock"' || bail "the hostile VMs' sockets did not appear"
rm -f "$evil_run/abs.sock" "$evil_run/climb.sock"
ln -s "$hostdir/host.sock" "$evil_run/abs.sock"
ln -s "../../../../../../..$hostdir/host.sock" "$evil_run/climb.sock"

# --- vpowerd on the node, its inventory the default (auto).
vp_start_mounted "$work/vpowerd.log" --connect "$URI" --sensor model --state-dir "$work/state" ||
  bail "vpowerd did not start"
vp_record_published "$vm" "$work/published" "$work/stop-recording"
vp_wait_for 40 eval '[ "$(state_of "$vm")" = running ]'
labels=$(field "$vm" "' '.join(f'{k}={w}' for k, w in v[0]['labels'].items())")
uuid_count=$(vp_get "$VP_URL/api/v1/vms" | vp_json "len([x for x in d['vms'] if x['uuid'] == '5f0ad2a4-6f65-5b0c-9d1e-4f3a9b1e2c77'])")
vp_diag "labels: $labels"
[[ $labels == *"vm_name=vmi1"* && $labels == *"project=ns1"* && $labels == *"manager=kubevirt"* &&
   $labels == *"uid=$vmi_uid"* ]] && [ "$uuid_count" = 1 ]
vp_ok $? "vpowerd lists the pod's VM $vm once, with the VMI's labels: its name, its namespace as the project, manager kubevirt, its UID"
[ "$(field "$vm" "v[0]['wiring']['state']")" = wired ]
vp_ok $? "its wiring is 'wired': the hook's channel is in its domain ($(field "$vm" "v[0]['wiring']['reason']"))"
vp_wait_for 90 eval '[ "$(console | grep -c "^VP-CHANNEL.* org.vpower.0")" -ge 1 ] && distinct_since 0 4'
vp_ok $? "vpowerd connects the channel inside the pod, and the guest's agent serves the tree ($(values | wc -l) reads)"
grep -q "channel of $vm: connected to .* in its QEMU's root" "$work/vpowerd.log"
vp_ok $? "vpowerd's log says it connected in the pod"

# --- The hostile pod: listed, never connected, the host's socket untouched.
vp_wait_for 30 eval '[ "$(state_of ns2_evil1)" = running ] && [ "$(state_of ns2_evil2)" = running ]'
ticks=$(vp_ticks)
vp_wait_for 20 vp_ticks_at_least $((ticks + 4))
[ ! -s "$hostdir/host.count" ] && grep -q "channel of ns2_evil1: cannot connect to /run/evil/abs.sock" "$work/vpowerd.log" &&
  grep -q "channel of ns2_evil2: cannot connect to /run/evil/climb.sock" "$work/vpowerd.log"
vp_ok $? "a hostile pod's symlinks to a host socket, absolute or by '..': nothing reaches it ($(cat "$hostdir/host.count" 2>/dev/null || echo "0 0") connections, bytes); vpowerd says it cannot connect"
grep "channel of ns2_evil" "$work/vpowerd.log" | head -2 | sed 's/^/# /'

# --- KubeVirt's live migration: a new pod, B; the guest reads on.
pod_b=$(start_pod b a2) || bail "pod B did not start"
seen=$(values | wc -l)
pid_a=$(pid_of "$vm")
virsh -c "$(pod_uri "$pod_a")" migrate --live "$vm" "$(pod_uri "$pod_b")" --migrateuri "tcp://127.0.0.1:$(vp_free_port)" \
  >"$work/migrate.log" 2>&1
status=$?
vp_diag "migrate: $(tr '\n' ' ' <"$work/migrate.log")"
vp_ok $status "virsh migrate --live from pod A's libvirt to pod B's succeeds"
in_pod_b () { local p; p=$(pid_of "$vm"); [ "$(state_of "$vm")" = running ] && [ "$p" != "$pid_a" ] &&
              [ "$(readlink "/proc/$p/root")" = "$work/pod-b/root" ]; }
connected_twice () { [ "$(grep -c "channel of $vm: connected to .* in its QEMU's root" "$work/vpowerd.log")" -ge 2 ]; }
vp_wait_for 60 in_pod_b && vp_wait_for 60 connected_twice && vp_wait_for 60 distinct_since "$seen" 4
status=$?
vp_diag "after the migration: state $(state_of "$vm"), QEMU $(pid_of "$vm") (was $pid_a), root $(readlink "/proc/$(pid_of "$vm")/root");" \
  "$(grep -c "channel of $vm: connected" "$work/vpowerd.log") connections; $(($(values | wc -l) - seen)) reads since"
vp_ok $status "vpowerd follows it to pod B's QEMU, connects its channel there, and the guest reads on"
"$abs_top_srcdir/tests/helpers/kubevirt-pod.sh" stop "$work/pod-a"

# --- Pod B deleted: the VM leaves.
qemu_b=$(pid_of "$vm")
"$abs_top_srcdir/tests/helpers/kubevirt-pod.sh" stop "$work/pod-b"
! kill -0 "$qemu_b" 2>/dev/null
vp_ok $? "pod B's processes are killed, its QEMU ($qemu_b) with them"
vp_wait_for 20 eval '[ "$(state_of "$vm")" != running ]'
vp_ok $? "the VM leaves: vpowerd no longer lists it running ($(state_of "$vm"))"

touch "$work/stop-recording"
! console | grep -q '^VP-ERROR'
vp_ok $? "the guest's reads never failed"
python3 - "$work/published" <(values) <<'PY'
import sys
published = {int(line.split()[2]) for line in open(sys.argv[1]) if line.split()[1] == "0"}
values = [int(v) for v in open(sys.argv[2])]
unknown = [v for v in values if v not in published]
back = [(a, b) for a, b in zip(values, values[1:]) if b < a]
print(f"# {len(values)} reads, {len(set(values))} values; not published: {unknown[:5]}; going back: {back[:5]}")
sys.exit(0 if values and not unknown and not back else 1)
PY
vp_ok $? "every value the guest read is one vpowerd published for it, and none went back, across the migration"
vp_stop_vpowerd
vp_ok $? "vpowerd stops cleanly"
vp_finish
