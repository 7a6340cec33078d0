#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The channel without libvirt: three real TCG guests, one started as Proxmox VE starts a VM and wired
# with the args: line `vpowerctl wiring --proxmox` prints (onto the agent's bus qga0.0, as agent: 1
# makes it), one started as Incus starts an instance with the raw.qemu.conf `vpowerctl wiring
# --incus` prints merged into its -readconfig file (onto Incus's serial bus dev-qemu_serial.0), one
# started as Ganeti starts an instance with the kvm_extra `vpowerctl wiring --ganeti` prints
# appended. The command lines follow tests/processes.sh's sources. vpowerd runs inventory=processes in a private
# mount namespace with its own /run, where the managers' directories are theirs.
# In each guest the agent serves the tree from the channel and binds it over /sys/class/powercap;
# node_exporter in the guest reports the package counter as the host published it; a reader loop
# never errs, never goes back, and reads only values the host published for that VM.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
vp_require_root
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
[ -x /usr/bin/prometheus-node-exporter ] || vp_skip_or_fail "no prometheus-node-exporter"
command -v unshare >/dev/null || vp_skip_or_fail "no unshare (util-linux)"
QEMU=$(command -v qemu-system-x86_64) || vp_skip_or_fail "no qemu-system-x86_64"
VPOWERCTL=$abs_top_builddir/vpowerctl

# Everything below runs in a private mount namespace, with its own /run and /etc/pve.
vp_managers_namespace "$0" "$@"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
cleanup () {
  local pidfile
  for pidfile in /run/qemu-server/*.pid /run/incus/*/qemu.pid /run/ganeti/kvm-hypervisor/pid/*; do
    [ -r "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null
  done
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work/vpowerd.log" 2>/dev/null | tail -40
  for c in "$work"/*.console; do sed "s|^|# $(basename "$c"): |" "$c" | grep -v VP-VALUE | tail -15; done
  exit 1
}
console_has () { grep -q "$2" "$work/$1.console" 2>/dev/null; }
values () { sed -n 's/^VP-VALUE \([0-9]*\).*/\1/p' "$work/$1.console"; }

vp_plan 18

guest=$work/guest
vp_agent_guest "$guest" "$cache" "$work/setup.log" || bail "cannot build the guest"
mkdir -p /run/qemu-server /run/incus/tenant_web /run/ganeti/kvm-hypervisor/pid /etc/pve/qemu-server "$work/bin"
cp "$QEMU" "$work/bin/kvm"
export QEMU_MODULE_DIR=/usr/lib/x86_64-linux-gnu/qemu
uuid_pve=$(cat /proc/sys/kernel/random/uuid)
uuid_incus=$(cat /proc/sys/kernel/random/uuid)
uuid_ganeti=$(cat /proc/sys/kernel/random/uuid)
printf 'agent: 1\nname: pve-guest\nsmbios1: uuid=%s\n' "$uuid_pve" >/etc/pve/qemu-server/101.conf

cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/rapl"
"$VP_FAKE_RAPL" "$work/rapl" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!)
vp_start_vpowerd "$work/vpowerd.log" --inventory processes --runtime-dir "$work/run" --sensor powercap \
  --powercap-root "$work/rapl" --allow-fast-updates --interval 0.5 --state-dir "$work/state" || bail "vpowerd did not start"
ctl () { "$VPOWERCTL" --socket "$work/run/control.sock" "$@"; }
vp_record_published 101 "$work/published-pve" "$work/stop"
vp_record_published tenant_web "$work/published-incus" "$work/stop"
vp_record_published inst1.example.com "$work/published-ganeti" "$work/stop"

# 1-2: the wiring, as an operator gets it.
args=$(ctl wiring 101 --proxmox 2>"$work/wiring-note")
[[ $args == "args: "*"bus=qga0.0"*"name=org.vpower.0"* ]] && [[ $args == *"$work/run/channels/pve-101.sock"* ]]
vp_ok $? "vpowerctl wiring --proxmox prints an args: line onto the agent's bus, its socket in vpowerd's channels directory"
raw=$(ctl wiring web --incus --project tenant 2>>"$work/wiring-note")
[[ $raw == *'path = "/run/incus/tenant_web/vpower.sock"'* && $raw == *'bus = "dev-qemu_serial.0"'* ]]
vp_ok $? "vpowerctl wiring --incus prints raw.qemu.conf with the socket in the instance's run directory"
extra=$(ctl wiring inst1.example.com --ganeti 2>>"$work/wiring-note")
[[ $extra == *"$work/run/channels/ganeti-inst1.example.com.sock"* && $extra == *"name=org.vpower.0"* ]]
vp_ok $? "vpowerctl wiring --ganeti prints kvm_extra with its own controller, the socket in vpowerd's channels directory"

kernel=(-machine pc -accel tcg -m 192 -display none -nodefaults -kernel "$guest/vmlinux" -initrd "$guest/initramfs.gz")
append="console=ttyS0 quiet vp.cmd=channel vp.period=0.5 vp.seconds=25"
# Proxmox: config_to_command's shape; agent: 1 adds the qga0 bus; args: last, split as words.
read -r -a pve_args <<<"${args#args: }"
"$work/bin/kvm" -L /usr/share/qemu -L /usr/share/seabios -name pve-guest,debug-threads=on -no-shutdown \
  -chardev socket,id=qmp,path=/var/run/qemu-server/101.qmp,server=on,wait=off -mon chardev=qmp,mode=control \
  -pidfile /var/run/qemu-server/101.pid -daemonize -smbios "type=1,uuid=$uuid_pve" "${kernel[@]}" \
  -append "$append" -serial "file:$work/pve.console" \
  -chardev socket,path=/var/run/qemu-server/101.qga,server=on,wait=off,id=qga0 \
  -device virtio-serial,id=qga0,bus=pci.0,addr=0x8 -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
  "${pve_args[@]}" >>"$work/setup.log" 2>&1 || bail "the Proxmox-shaped QEMU did not start"
# Incus: the generated qemu.conf has the serial bus; raw.qemu.conf's sections are added to it.
{ printf '[device "dev-qemu_serial"]\ndriver = "virtio-serial-pci"\n\n'; echo "$raw"; } >/run/incus/tenant_web/qemu.conf
"$QEMU" -name web -uuid "$uuid_incus" -daemonize "${kernel[@]}" -no-user-config \
  -readconfig /run/incus/tenant_web/qemu.conf -pidfile /run/incus/tenant_web/qemu.pid \
  -append "$append" -serial "file:$work/incus.console" >>"$work/setup.log" 2>&1 ||
  bail "the Incus-shaped QEMU did not start"
# Ganeti: hv_kvm's shape (the kvm binary, -name with debug-threads, -uuid, its pidfile and QMP socket
# under /var/run/ganeti/kvm-hypervisor), kvm_extra appended last, split as words.
read -r -a ganeti_extra <<<"$extra"
mkdir -p /run/ganeti/kvm-hypervisor/ctrl
"$work/bin/kvm" -L /usr/share/qemu -L /usr/share/seabios -name inst1.example.com,debug-threads=on -uuid "$uuid_ganeti" \
  -pidfile /var/run/ganeti/kvm-hypervisor/pid/inst1.example.com -daemonize "${kernel[@]}" \
  -qmp unix:/var/run/ganeti/kvm-hypervisor/ctrl/inst1.example.com.qmp,server=on,wait=off \
  -append "$append" -serial "file:$work/ganeti.console" "${ganeti_extra[@]}" >>"$work/setup.log" 2>&1 ||
  bail "the Ganeti-shaped QEMU did not start"

# 3-4: vpowerd connects to each channel it found.
connected () { ctl show "$1" 2>/dev/null | grep '^channel    connected' >/dev/null; }
vp_check "Proxmox-wired: vpowerd finds the channel in the command line and connects" vp_wait_for 60 connected 101
vp_check "Incus-wired: vpowerd finds the channel in the -readconfig file and connects" vp_wait_for 60 connected tenant_web
vp_check "Ganeti-wired: vpowerd finds the channel in kvm_extra's arguments and connects" vp_wait_for 60 connected inst1.example.com

# 5-10, per guest: the agent serves the tree; node_exporter reports what the host published;
# the reads never fail nor go back, and are the host's values.
for g in pve:101 incus:tenant_web ganeti:inst1.example.com; do
  name=${g#*:} c=${g%%:*}
  vp_wait_for 120 console_has "$c" '^VP-NODE node_rapl_package_joules_total' || bail "$c: no node_exporter output"
  node_uj=$(sed -n 's/^VP-NODE node_rapl_package_joules_total{index="0",path="\/sys\/class\/powercap\/intel-rapl:0"} \(.*\)/\1/p' \
            "$work/$c.console" | python3 -c "import sys; print(round(float(sys.stdin.read()) * 1e6))")
  vp_wait_for 10 awk -v v="$node_uj" '$2 == "0" && $3 == v { found = 1 } END { exit !found }' "$work/published-$c"
  vp_ok $? "$c: node_exporter in the guest reports the package counter as the host published it ($node_uj µJ)"
done
for g in pve:101 incus:tenant_web ganeti:inst1.example.com; do
  name=${g#*:} c=${g%%:*}
  vp_wait_for 120 console_has "$c" '^VP-DONE' || bail "$c: the guest did not finish"
  ! console_has "$c" '^VP-ERROR'
  vp_ok $? "$c: the guest's reads never failed"
  python3 - "$(values "$c" | tr '\n' ' ')" <<'PY'
import sys
v = [int(x) for x in sys.argv[1].split()]
bad = [(a, b) for a, b in zip(v, v[1:]) if b < a]
print(f"# {len(v)} reads, {len(set(v))} distinct, decreases {bad[:3]}")
sys.exit(1 if bad or len(set(v)) < 5 else 0)
PY
  vp_ok $? "$c: its counter rose and never went back"
done
touch "$work/stop"
for g in pve:101 incus:tenant_web ganeti:inst1.example.com; do
  c=${g%%:*}
  unpublished=$(values "$c" | sort -u | grep -vxFf <(awk '$2 == "0" { print $3 }' "$work/published-$c") | head -3)
  [ -z "$unpublished" ]
  vp_ok $? "$c: every value the guest read is one the host published for it ${unpublished:+(not: $unpublished)}"
done
grep -E 'processes|channel of' "$work/vpowerd.log" | sed 's/^/# vpowerd: /' | tail -12
vp_finish
