#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# deploy/kubevirt/onDefineDomain, called as KubeVirt's sidecar shim calls it
# (onDefineDomain --vmi JSON --domain XML): a KubeVirt domain gains the org.vpower.0 channel and
# nothing else changes; libvirt's own schema accepts the result; a domain that has the channel
# comes back byte for byte; bad input is one line on stderr and status 1, nothing on stdout. And the
# ConfigMap that ships it holds exactly this script, and the annotation names that ConfigMap.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

hook=$abs_top_srcdir/deploy/kubevirt/onDefineDomain
domain=$abs_top_srcdir/tests/data/kubevirt/domain.xml
command -v virt-xml-validate >/dev/null && command -v xmllint >/dev/null ||
  vp_skip_or_fail "no virt-xml-validate or xmllint (libvirt-clients, libxml2-utils)"
python3 -c "import yaml" 2>/dev/null || vp_skip_or_fail "no python3-yaml"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vp_plan 10

vmi='{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"vmi1","namespace":"ns1","uid":"8d4f6c0e-2b1a-4c3e-9f5d-7a6b5c4d3e2f"}}'
# run XML: the hook's stdout, stderr and status in $work/out, $work/err, $status.
run () {
  "$hook" --vmi "$vmi" --domain "$1" >"$work/out" 2>"$work/err"
  status=$?
}
# channels FILE: the org.vpower.0 channels of the domain in FILE, one line each: "MODE PATH".
channels () {
  python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
for c in ET.parse(sys.argv[1]).getroot().find("devices").findall("channel"):
    t, s = c.find("target"), c.find("source")
    if t is not None and t.get("name") == "org.vpower.0":
        print(c.get("type"), t.get("type"), s.get("mode") if s is not None else "-", s.get("path", "-") if s is not None else "-")
PY
}
# bad XML WHAT: the hook refuses XML with status 1, one line on stderr, nothing on stdout.
bad () {
  run "$1"
  [ "$status" -eq 1 ] && [ ! -s "$work/out" ] && [ "$(wc -l <"$work/err")" -eq 1 ]
  local ok=$?
  vp_diag "$2: $(cat "$work/err")"
  return $ok
}

# 1-3. A domain as KubeVirt's converter writes it: a qemu-ga channel, its metadata.
run "$(cat "$domain")"
cp "$work/out" "$work/wired.xml"
[ "$status" -eq 0 ] && [ "$(channels "$work/wired.xml")" = "unix virtio bind -" ]
vp_ok $? "a KubeVirt domain gains one org.vpower.0 channel: unix, QEMU listening (mode=bind), no path (libvirt's channel directory in the pod)"
# Everything else as KubeVirt wrote it: the output less the channel is the input.
python3 - "$work/wired.xml" "$domain" <<'PY'
import re, sys
out, given = open(sys.argv[1]).read(), open(sys.argv[2]).read()
less = re.sub(r"<channel type='unix'><source mode='bind'/><target type='virtio' name='org\.vpower\.0'/></channel>", "", out, count=1)
sys.exit(0 if less == given.rstrip("\n") or less == given else 1)
PY
vp_ok $? "everything else is as given, byte for byte (KubeVirt's metadata namespace included)"
virt-xml-validate "$work/wired.xml" domain >"$work/validate" 2>&1
status=$?
vp_diag "$(tr '\n' ' ' <"$work/validate")"
vp_ok $status "libvirt's domain schema accepts the result (virt-xml-validate)"

# 4. Idempotent: a domain with the channel is printed unchanged.
run "$(cat "$work/wired.xml")"
[ "$status" -eq 0 ] && cmp -s "$work/out" "$work/wired.xml"
vp_ok $? "a domain that has the channel already is printed unchanged, byte for byte"

# 5. An empty <devices/> and a "</devices>" in a comment after the real one: still one channel there.
run "<domain type='kvm'><name>ns1_vmi2</name><devices/></domain>"
[ "$status" -eq 0 ] && [ "$(channels "$work/out")" = "unix virtio bind -" ]
ok=$?
run "<domain type='kvm'><name>ns1_vmi3</name><devices><controller type='virtio-serial' index='0'/></devices><!-- </devices> --></domain>"
[ $ok -eq 0 ] && [ "$status" -eq 0 ] && [ "$(channels "$work/out")" = "unix virtio bind -" ]
vp_ok $? "an empty <devices/> and a '</devices>' in a comment: the channel lands in the domain's devices"

# 6-8. Bad input.
bad "<domain type='kvm'><name>x</name><devices>" "truncated"
vp_ok $? "truncated XML: status 1, one line on stderr, nothing on stdout (the shim fails the VMI's start)"
bad "<network><name>x</name></network>" "not a domain" && bad "<domain><devices/><devices/></domain>" "two devices"
vp_ok $? "not a <domain>, or two <devices>: refused the same way"
# refused ARG...: the hook, called with ARG..., says one line and exits 1.
refused () {
  "$hook" "$@" >"$work/out" 2>"$work/err"
  local status=$?
  vp_diag "$(cat "$work/err")"
  [ $status -eq 1 ] && [ ! -s "$work/out" ] && [ "$(wc -l <"$work/err")" -eq 1 ]
}
refused --vmi "$vmi" && refused --vmi "not json" --domain "<domain><devices/></domain>" &&
  refused --domain "<domain><devices/></domain>" --disk x
vp_ok $? "no --domain, a VMI that is not JSON, an unknown argument: status 1 and one line each"

# 9-10. What ships it.
python3 - "$abs_top_srcdir/deploy/kubevirt/configmap.yaml" "$hook" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
ok = d["kind"] == "ConfigMap" and d["metadata"]["name"] == "vpower-kubevirt-hook"
sys.exit(0 if ok and d["data"]["onDefineDomain"] == open(sys.argv[2]).read() else 1)
PY
vp_ok $? "configmap.yaml holds deploy/kubevirt/onDefineDomain exactly, as the key onDefineDomain"
python3 - "$abs_top_srcdir/deploy/kubevirt/vmi-annotation.yaml" <<'PY'
import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
hooks = json.loads(d["spec"]["template"]["metadata"]["annotations"]["hooks.kubevirt.io/hookSidecars"])
cm = hooks[0]["configMap"]
sys.exit(0 if cm == {"name": "vpower-kubevirt-hook", "key": "onDefineDomain", "hookPath": "/usr/bin/onDefineDomain"}
         and hooks[0]["args"][:1] == ["--version"] else 1)
PY
vp_ok $? "the VM's annotation is valid JSON naming that ConfigMap, its key, and the shim's hook path"
vp_finish
