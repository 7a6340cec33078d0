#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libvirt in a container, as Kolla-Ansible runs nova_libvirt (issue 31), with a real TCG VM.
# tests/helpers/kolla-libvirt.sh runs a libvirtd in its own mount namespace and root, with the
# host's PID namespace and /run, its /var/lib/libvirt a volume of its own and its hooks directory
# bind-mounted from the host, holding vpower's hook. The host's libvirtd runs beside it, so the
# container's /run/libvirt is a directory under the host's /run rather than the host's
# /run/libvirt itself; vpowerd, on the host, is given that socket (--connect), as on a Sunbeam
# host, and finds the QEMU pidfiles beside it.
# A Nova-shaped instance (the guest agent's channel, so a virtio-serial controller) starts there:
# the hook runs in the container and reaches vpowerd through the shared /run; vpowerd lists the VM
# once, with its QEMU, wires it by hot-plugging the channel, and connects to the channel's socket
# inside the container's root (where libvirt made it: the host has no such path). Destroyed, the VM
# stops being served.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vm=instance-$(printf '%08x' $$)
uuid=$(cat /proc/sys/kernel/random/uuid)

vp_require_fuse
command -v unshare >/dev/null && command -v virsh >/dev/null || vp_skip_or_fail "no unshare or virsh"

work=$(mktemp -d)
chmod 755 "$work"
# What Kolla shares through the host's /run: libvirt's run directory (here not the host's own) and
# vpowerd's runtime directory, where the hook finds vpowerd.
shared=$(mktemp -d /run/vpower-kolla.XXXXXX)
run_libvirt=$shared/libvirt
pids=()
VP_PID=
cleanup () {
  "$abs_top_srcdir/tests/helpers/kolla-libvirt.sh" stop "$work/container" "$run_libvirt" >/dev/null 2>&1
  vp_cleanup_workdir
  rm -rf "$shared"
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work"/vpowerd.log "$work/container/container.log" 2>/dev/null | tail -60
  exit 1
}
uri="qemu+unix:///system?socket=$run_libvirt/libvirt-sock"
# field EXPR: EXPR over the VM's entries in /api/v1/vms (bound to vs, each v), or "absent".
field () { vp_get "$VP_URL/api/v1/vms" | python3 -c "
import json, sys
vs = [x for x in json.load(sys.stdin)['vms'] if x['uuid'] == '$uuid']
v = vs[0] if vs else None
print($1 if vs else 'absent')" 2>/dev/null; }

vp_plan 7

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"

# The host's hooks directory, bound into the container: vpower's hook, aimed at this test's vpowerd,
# noting the mount namespace it ran in.
mkdir -p "$work/hooks/qemu.d"
printf '%s\n' '#!/bin/sh' "readlink /proc/self/ns/mnt >>$shared/hook-ran-in" \
  "exec '$abs_top_builddir/vpower-hook' --runtime-dir '$shared/vpower' \"\$@\"" >"$work/hooks/qemu.d/vpower"
chmod 755 "$work/hooks/qemu.d/vpower"
libvirtd_pid=$("$abs_top_srcdir/tests/helpers/kolla-libvirt.sh" start "$work/container" "$run_libvirt" "$work/hooks" \
  "$abs_top_builddir" 2>>"$work/setup.log") || bail "the container's libvirtd did not start"

VP_MNT=$work/mnt
vp_start_vpowerd "$work/vpowerd.log" --mount "$VP_MNT" --runtime-dir "$shared/vpower" --connect "$uri" \
  --sensor model --state-dir "$work/state" || bail "vpowerd did not start"
vp_wait_for 20 mountpoint -q "$VP_MNT" || bail "vpowerd did not mount its tree"

# Nova's instance with hw_qemu_guest_agent=yes: the guest agent's channel at Nova's path, Nova's
# metadata; it boots nothing (SeaBIOS waits).
cat >"$work/$vm.xml" <<XML
<domain type='qemu'>
  <name>$vm</name>
  <uuid>$uuid</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>kolla-vm</nova:name>
      <nova:owner><nova:user uuid="6b1c2d3e4f5a4b6c8d7e9f0a1b2c3d4e">alice</nova:user>
        <nova:project uuid="0f1e2d3c4b5a49687766554433221100">tenant-a</nova:project></nova:owner>
    </nova:instance>
  </metadata>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <channel type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/org.qemu.guest_agent.0.$vm.sock'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='none'/>
  </devices>
</domain>
XML
virsh -c "$uri" define "$work/$vm.xml" >>"$work/setup.log" 2>&1 && virsh -c "$uri" start "$vm" >>"$work/setup.log" 2>&1 ||
  bail "cannot start $vm in the container"
qemu_pid=$(cat "$run_libvirt/qemu/$vm.pid" 2>/dev/null)
vp_diag "container's libvirtd $libvirtd_pid, QEMU ${qemu_pid:-?}"

container_ns=$(readlink "/proc/$libvirtd_pid/ns/mnt")
vp_diag "container's mount namespace $container_ns; the hook ran in: $(sort -u "$shared/hook-ran-in" 2>/dev/null | tr '\n' ' ')"
[ -s "$shared/hook-ran-in" ] && ! grep -qvxF "$container_ns" "$shared/hook-ran-in" &&
  [ "$container_ns" != "$(readlink /proc/self/ns/mnt)" ] &&
  vp_wait_for 10 grep -q "libvirt hook: $vm .* is about to start" "$work/vpowerd.log"
vp_ok $? "the hook in the bind-mounted hooks directory runs in the container, and reaches vpowerd through the shared /run"

vp_wait_for 30 eval '[ "$(field "v['"'"'state'"'"']")" = running ]'
[ "$(field 'len(vs)')" = 1 ] && [ -n "$qemu_pid" ] && [ "$(field "v.get('pid')")" = "$qemu_pid" ]
vp_ok $? "vpowerd lists the container's VM once, running, with its QEMU (the pidfile beside the socket): $(field "v.get('pid')")"

[[ "$(field "' '.join(f'{k}={w}' for k, w in v['labels'].items())")" == *"project=tenant-a"* ]]
vp_ok $? "with its Nova labels"

vp_wait_for 60 eval '[ "$(field "v['"'"'wiring'"'"']['"'"'state'"'"']")" = wired ]'
vp_ok $? "vpowerd wires it: the channel hot-plugged into the running VM ($(field "v['wiring']['reason']"))"

vp_wait_for 30 grep -q "channel of $vm: connected to .* in its QEMU's root" "$work/vpowerd.log"
connected=$?
path=$(sed -n "s/.*channel of $vm: connected to \(.*\) in its QEMU's root.*/\1/p" "$work/vpowerd.log" | head -1)
vp_diag "channel: ${path:-none}"
[ $connected -eq 0 ] && [[ $path == /var/lib/libvirt/* ]] && [ ! -e "$path" ] && [ -S "/proc/$qemu_pid/root$path" ]
vp_ok $? "vpowerd connects to the channel's socket inside the container's root, a path the host does not have"

energy=$VP_MNT/$vm/intel-rapl:0/energy_uj
first=$(cat "$energy" 2>/dev/null)
ticks=$(vp_ticks)
vp_wait_for 20 vp_ticks_at_least $((ticks + 3))
[ -n "$first" ] && [ "$(cat "$energy")" -ge "$first" ]
vp_ok $? "its tree is served: energy_uj $first, then $(cat "$energy" 2>/dev/null)"

virsh -c "$uri" destroy "$vm" >>"$work/setup.log" 2>&1
vp_wait_for 20 eval '[ "$(field "v['"'"'state'"'"']")" != running ]'
vp_ok $? "destroyed in the container, the VM is no longer running for vpowerd ($(field "v['state']"))"

vp_finish
