#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Wiring without anyone editing a VM (issue 30), against a real libvirtd with TCG guests. Three
# domains run before any vpowerd does:
# - a Nova-shaped instance whose image had hw_qemu_guest_agent=yes (the guest agent's channel,
#   and so a virtio-serial controller; Nova's metadata; no vpower channel), whose guest's agent
#   waits for the port;
# - a Nova-shaped instance without it: no controller;
# - a VM opted out in its metadata (urn:vpower:wiring:1.0), with a controller, paused.
# A vpowerd with wire=off changes nothing on any of them. The default vpowerd then hot-plugs the
# channel into the first (its persistent definition unchanged), whose agent serves the tree;
# node_exporter reads it. The bare one starts and runs, and the API, vpowerctl show and status say
# why it is not wired, in Nova's terms. The opted-out one is left alone. virsh save and restore
# keep the channel, with no second one; Nova's hard reboot (destroy, define the original XML again,
# start) is wired again. 20 more domains started at once are all wired. The guest's reads, across
# all of it, never fail, never go back, and are the values the host published. Then wire=define:
# a shut-off plain domain without a controller gets the channel in its definition, and has it
# when it starts; Nova's definition is left alone.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
suffix=$(printf '%08x' $$)
nova=instance-$suffix
bare=instance-b$suffix
optout=vp-optout-$$
plain=vp-plain-$$
MANY=20
many=()
for i in $(seq $MANY); do many+=("vp-many$i-$$"); done

vp_require_fuse
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
[ -x /usr/bin/prometheus-node-exporter ] || vp_skip_or_fail "no prometheus-node-exporter"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
cleanup () {
  local d
  for d in "$nova" "$bare" "$optout" "$plain" "${many[@]}"; do
    virsh -c "$URI" destroy "$d" >/dev/null 2>&1
    virsh -c "$URI" undefine "$d" >/dev/null 2>&1
  done
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work"/vpowerd*.log 2>/dev/null | tail -60
  sed 's/^/# guest: /' "$guest/$nova.console" 2>/dev/null | grep -v VP-VALUE | tail -20
  exit 1
}
ctl () { "$VPOWERCTL" --socket "$work/run/control.sock" "$@"; }
console () { cat "$guest/$nova.console" 2>/dev/null; }
count_in_console () { console | grep -c "$1"; }
values () { console | sed -n 's/^VP-VALUE \([0-9]*\).*/\1/p'; }
distinct_since () { [ "$(values | tail -n +$(($1 + 1)) | sort -u | wc -l)" -ge "$2" ]; }
# channels DOMAIN [--inactive]: how many vpower channels its (live) XML has.
channels () { virsh -c "$URI" dumpxml "$@" 2>/dev/null | grep -c "<target type='virtio' name='org.vpower.0'"; }
# wiring DOMAIN: "STATE BY_VPOWERD" as the API says.
wiring () { vp_get "$VP_URL/api/v1/vms" | python3 -c "
import json, sys
v = [x for x in json.load(sys.stdin)['vms'] if x['name'] == '$1']
print(v[0]['wiring']['state'], v[0]['wiring']['by_vpowerd'] if v and v[0]['wiring'] else 'none')" 2>/dev/null; }
reason () { vp_get "$VP_URL/api/v1/vms" | vp_json "[x for x in d['vms'] if x['name'] == '$1'][0]['wiring']['reason']"; }
hotplugs () { vp_get "$VP_URL/api/v1/host" | vp_json 'd["wiring"]["hotplugs"]'; }
is_wired () { [ "$(wiring "$1")" = "wired True" ] && [ "$(channels "$1")" = 1 ]; }

# nova_domain NAME QGA: a domain as Nova writes it (nova@00a0304 driver.py: <name> instance-XXXXXXXX,
# its metadata, the guest agent's channel at Nova's socket path when QGA is yes), on the test kernel.
nova_domain () {
  local name=$1 qga=$2 channel=''
  [ "$qga" = yes ] && channel="<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/org.qemu.guest_agent.0.$name.sock'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
  cat <<XML
<domain type='qemu'>
  <name>$name</name>
  <uuid>$(cat /proc/sys/kernel/random/uuid)</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="27.1.0"/>
      <nova:name>web-$name</nova:name>
      <nova:flavor name="m1.tiny"><nova:memory>192</nova:memory><nova:vcpus>1</nova:vcpus></nova:flavor>
      <nova:owner><nova:user uuid="5e1b1a0c0f4e4d2c9d1c2b3a4f5e6d7c">alice</nova:user><nova:project uuid="9a8b7c6d5e4f40318d2c1b0a99887766">acme</nova:project></nova:owner>
    </nova:instance>
  </metadata>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest/vmlinux</kernel>
    <initrd>$guest/initramfs.gz</initrd>
    <cmdline>console=ttyS0 quiet vp.cmd=channel vp.period=0.5 vp.seconds=900</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <serial type='file'><source path='$guest/$name.console' append='on'/><target port='0'/></serial>
    <console type='file'><source path='$guest/$name.console' append='on'/><target type='serial' port='0'/></console>
    $channel
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
# small_domain NAME [METADATA]: a VM with a controller (the guest agent's channel, as virt-install gives
# one) and no boot device: SeaBIOS finds nothing to boot and waits, costing next to nothing.
small_domain () {
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  ${2:-}
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
define_and_start () {   # define_and_start NAME XML-FILE [virsh start options]
  virsh -c "$URI" define "$2" >>"$work/setup.log" 2>&1 && virsh -c "$URI" start "$1" "${@:3}" >>"$work/setup.log" 2>&1
}

vp_plan 22

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
guest=$work/guest
vp_agent_guest "$guest" "$cache" "$work/setup.log" || bail "cannot build the guest"

# --- Before any vpowerd: the three domains run.
nova_domain "$nova" yes >"$work/nova.xml"
nova_domain "$bare" no >"$work/bare.xml"
small_domain "$optout" "<metadata><vpowerwiring:wiring xmlns:vpowerwiring='urn:vpower:wiring:1.0'>off</vpowerwiring:wiring></metadata>" \
  >"$work/optout.xml"
define_and_start "$nova" "$work/nova.xml" || bail "cannot start $nova"
define_and_start "$bare" "$work/bare.xml" || bail "cannot start $bare"
define_and_start "$optout" "$work/optout.xml" --paused || bail "cannot start $optout paused"
snapshot_xml () {   # every domain's live and persistent XML, into DIR
  local d
  mkdir -p "$1"
  for d in "$nova" "$bare" "$optout"; do
    virsh -c "$URI" dumpxml "$d" >"$1/$d.live" 2>&1
    virsh -c "$URI" dumpxml --inactive "$d" >"$1/$d.inactive" 2>&1
  done
}
snapshot_xml "$work/before"

vp_diag "setup done at $SECONDS s"
# --- wire=off: nothing changes on any domain.
vp_start_vpowerd "$work/vpowerd-off.log" --wire off --connect "$URI" --sensor model --state-dir "$work/state" \
  --runtime-dir "$work/run-off" || bail "vpowerd --wire off did not start"
all_listed () { [ "$(wiring "$nova") $(wiring "$bare") $(wiring "$optout")" = "off False off False opted-out False" ]; }
vp_wait_for 30 all_listed || bail "vpowerd --wire off does not list the three domains ($(wiring "$nova"), $(wiring "$bare"), $(wiring "$optout"))"
ticks=$(vp_ticks)
vp_wait_for 20 vp_ticks_at_least $((ticks + 3))
snapshot_xml "$work/after-off"
diff -r "$work/before" "$work/after-off" >"$work/off.diff" && [ "$(hotplugs)" = 0 ] &&
  [ "$(vp_get "$VP_URL/metrics" | awk '$1 == "vpower_wiring_hotplugs_total" { print $2 }')" = 0 ]
vp_ok $? "wire = off: 3 ticks after listing them all, no domain's live or persistent XML changed, and nothing was hot-plugged"
vp_stop_vpowerd

vp_diag "wire=off phase done at $SECONDS s"
# --- The default vpowerd wires the instance that ran before it started.
vp_start_vpowerd "$work/vpowerd.log" --connect "$URI" --sensor model --state-dir "$work/state" --runtime-dir "$work/run" ||
  bail "vpowerd did not start"
vp_record_published "$nova" "$work/published" "$work/stop-recording"
vp_wait_for 30 is_wired "$nova"
vp_ok $? "with no configuration, vpowerd hot-plugs the channel into the Nova instance that ran before it started (one channel, by vpowerd)"
virsh -c "$URI" dumpxml --inactive "$nova" | diff - "$work/before/$nova.inactive" >/dev/null
vp_ok $? "virsh dumpxml --inactive is unchanged: the definition stays Nova's"
vp_wait_for 60 eval '[ "$(count_in_console "^VP-CHANNEL.* org.vpower.0")" -ge 1 ]'
vp_ok $? "the guest's agent, waiting since the guest booted, finds the port and serves the tree"
vp_wait_for 30 eval 'console | grep -q "^VP-NODE node_rapl_package_joules_total"' || bail "no node_exporter output"
node_uj=$(console | sed -n 's/^VP-NODE node_rapl_package_joules_total{index="0",path="\/sys\/class\/powercap\/intel-rapl:0"} \(.*\)/\1/p' |
          head -1 | python3 -c "import sys; print(round(float(sys.stdin.read()) * 1e6))")
vp_wait_for 10 awk -v v="$node_uj" '$2 == "0" && $3 == v { found = 1 } END { exit !found }' "$work/published"
vp_ok $? "node_exporter in the guest reports the package counter as the host published it ($node_uj µJ)"
grep -q "wiring: hot-plugged the channel org.vpower.0 into $nova; its definition is unchanged" "$work/vpowerd.log"
vp_ok $? "vpowerd's log says what it did"

# --- The instance without a controller: untouched, running, and the operator is told what to do.
[ "$(wiring "$bare")" = "no-controller False" ] && [ "$(channels "$bare")" = 0 ] &&
  [ "$(virsh -c "$URI" domstate "$bare")" = running ] && grep -q VP-AGENT-STARTED "$guest/$bare.console" &&
  ! virsh -c "$URI" dumpxml "$bare" | grep -q "virtio-serial"
vp_ok $? "a VM with no virtio-serial controller starts and runs as without vpower, and is not touched"
why=$(reason "$bare")
[[ $why == *"without a virtio-serial controller"* && $why == *"hw_qemu_guest_agent=yes"* && $why == *"nova-manage image_property set"* ]]
vp_ok $? "the API says why, in Nova's terms: $why"
show=$(ctl show "$bare") && status=$(ctl status)
grep -q "^wiring     no-controller: .*hw_qemu_guest_agent=yes" <<<"$show" &&
  grep -q "^  not wired: $bare (no-controller): .*hw_qemu_guest_agent=yes" <<<"$status" &&
  grep -q "^wiring     auto: .*1 no-controller" <<<"$status"
vp_ok $? "vpowerctl show and vpowerctl status say so too"
printf '%s\n' "$status" | sed 's/^/# /' | grep -E 'wiring|not wired'

# --- The opted-out VM is left alone.
[ "$(wiring "$optout")" = "opted-out False" ] && [ "$(channels "$optout")" = 0 ] &&
  diff <(virsh -c "$URI" dumpxml "$optout") "$work/before/$optout.live" >/dev/null
vp_ok $? "a VM opted out in its libvirt metadata is left alone"

# --- save and restore: the restored VM carries the channel; no second one.
vp_wait_for 30 distinct_since 0 3 || bail "the guest does not read"
plugged=$(hotplugs)
virsh -c "$URI" save "$nova" "$work/nova.save" >>"$work/setup.log" 2>&1 &&
  virsh -c "$URI" restore "$work/nova.save" >>"$work/setup.log" 2>&1
vp_ok $? "virsh save and restore of the auto-wired instance succeed"
rm -f "$work/nova.save"
restored () { [ "$(wiring "$nova")" = "wired False" ]; }
vp_wait_for 20 restored && [ "$(channels "$nova")" = 1 ] && [ "$(hotplugs)" = "$plugged" ]
vp_ok $? "restored, it has the one channel it was saved with, and vpowerd attached none"
after_restore=$(values | wc -l)
vp_wait_for 30 distinct_since "$after_restore" 3
vp_ok $? "the guest's counter moves on after the restore"

# --- Nova's hard reboot: destroy, define the XML again (its original), start. Wired again.
virsh -c "$URI" destroy "$nova" >>"$work/setup.log" 2>&1 && define_and_start "$nova" "$work/nova.xml" ||
  bail "the hard reboot failed"
vp_wait_for 30 is_wired "$nova" && [ "$(hotplugs)" = $((plugged + 1)) ]
vp_ok $? "after a hard reboot (destroy, define, start) the new QEMU is wired again, once"
vp_wait_for 60 eval '[ "$(count_in_console "^VP-CHANNEL.* org.vpower.0")" -ge 2 ]'
vp_ok $? "and the rebooted guest's agent serves the tree again"

vp_diag "hard reboot done at $SECONDS s"
# --- 20 domains started at once (libvirt-guests at boot, an evacuation): all wired.
meta='<metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"/></metadata>'
for d in "${many[@]}"; do
  small_domain "$d" "$meta" >"$work/$d.xml"
  virsh -c "$URI" define "$work/$d.xml" >>"$work/setup.log" 2>&1 || bail "cannot define $d"
done
plugged=$(hotplugs)
starts=()
for d in "${many[@]}"; do virsh -c "$URI" start "$d" >>"$work/setup.log" 2>&1 & starts+=($!); done
started=0
for p in "${starts[@]}"; do wait "$p" && started=$((started + 1)); done
all_wired () { local d; for d in "${many[@]}"; do is_wired "$d" || return 1; done; }
vp_wait_for 180 all_wired && [ "$(hotplugs)" = $((plugged + MANY)) ]
vp_ok $? "$MANY domains started at once ($started starts succeeded) are all wired, each with one channel"
# Torn down in parallel: libvirt takes a second or two to stop each QEMU.
stops=()
for d in "${many[@]}"; do
  { virsh -c "$URI" destroy "$d"; virsh -c "$URI" undefine "$d"; } >/dev/null 2>&1 &
  stops+=($!)
done
wait "${stops[@]}"
vp_get "$VP_URL/metrics" | grep '^vpower_wiring_' | sed 's/^/# /'
vp_diag "$MANY domains done at $SECONDS s"

# --- The guest's reads across the run (it reads until it is stopped).
vp_wait_for 30 distinct_since "$(values | wc -l)" 3 || bail "the rebooted guest does not read"
virsh -c "$URI" destroy "$nova" >>"$work/setup.log" 2>&1
touch "$work/stop-recording"
! console | grep -q '^VP-ERROR'
vp_ok $? "the guest's reads never failed"
python3 - "$(values | tr '\n' ' ')" <<'PY'
import sys
v = [int(x) for x in sys.argv[1].split()]
bad = [(a, b) for a, b in zip(v, v[1:]) if b < a and not (a > 2**37 and b < 2**36)]   # a wrap is no decrease
print(f"# {len(v)} reads, {len(set(v))} distinct, decreases {bad[:3]}")
sys.exit(1 if bad or len(set(v)) < 20 else 0)
PY
vp_ok $? "and never went back, across the save, the restore and the hard reboot"
unpublished=$(values | sort -u | grep -vxFf <(awk '$2 == "0" { print $3 }' "$work/published") | head -3)
[ -z "$unpublished" ]
vp_ok $? "every value the guest read is one the host published for it ${unpublished:+(not: $unpublished)}"
[ "$(grep -c 'wiring: .*tries again' "$work/vpowerd.log")" = 0 ]
vp_ok $? "libvirt refused no hot-plug"
grep -E 'wiring|channel of' "$work/vpowerd.log" | sed 's/^/# vpowerd: /' | tail -8

# --- wire=define: a plain libvirt host's shut-off VM without a controller gets the channel in its
# definition (libvirt adds the controller with it), and has it when it starts; Nova's definition,
# which Nova would write again, is not touched.
vp_stop_vpowerd
printf "<domain type='qemu'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memballoon model='none'/></devices></domain>" \
  "$plain" >"$work/plain.xml"
virsh -c "$URI" define "$work/plain.xml" >>"$work/setup.log" 2>&1 || bail "cannot define $plain"
bare_definition=$(virsh -c "$URI" dumpxml --inactive "$bare")
vp_start_vpowerd "$work/vpowerd-define.log" --wire define --connect "$URI" --sensor model --state-dir "$work/state" \
  --runtime-dir "$work/run-define" || bail "vpowerd --wire define did not start"
defined () { [ "$(channels "$plain" --inactive)" = 1 ] && virsh -c "$URI" dumpxml --inactive "$plain" | grep -q "type='virtio-serial'"; }
vp_wait_for 30 defined && virsh -c "$URI" start "$plain" >>"$work/setup.log" 2>&1 && vp_wait_for 30 eval '[ "$(wiring "$plain")" = "wired False" ]' &&
  [ "$(channels "$plain")" = 1 ] && [ "$(vp_get "$VP_URL/api/v1/host" | vp_json 'd["wiring"]["definitions"]')" = 1 ]
vp_ok $? "wire = define: a shut-off VM without a controller gets the channel in its definition, and has it once started"
[ "$(virsh -c "$URI" dumpxml --inactive "$bare")" = "$bare_definition" ] &&
  [ "$(vp_get "$VP_URL/api/v1/host" | vp_json 'd["wiring"]["definitions"]')" = 1 ]
vp_ok $? "and the Nova instance's definition is left to Nova"
vp_finish
