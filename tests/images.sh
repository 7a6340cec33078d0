#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vpower on Kubernetes (issue 31): deploy/kubernetes, offline, with podman and the Debian packages.
#   tests/images.sh [DEB-DIR]
# DEB-DIR holds the Debian 12 packages (tests/packages.sh leaves them where scripts/test.sh says);
# without it they are built here (scripts/build-deb.sh).
# - The manifests against Kubernetes' and the Prometheus Operator's schemas, and what a schema does
#   not see (tests/helpers/k8s-validate: selectors, volumes, ports, a ServiceMonitor's Service),
#   with npm packages cached in $VP_NPM_CACHE (default /var/cache/vpower-npm); a broken copy is
#   refused, each mistake named.
# - The images: a Debian 12 base image from an mmdebstrap root (scripts/root.sh, podman import: no
#   registry), then deploy/kubernetes/Containerfile.vpowerd and Containerfile.agent built on it,
#   installing the packages with apt.
# - vpowerd's image run as its DaemonSet runs it: privileged, in the host's PID namespace, with
#   vpowerd.yaml's arguments and volumes (their host paths moved under the test's directory, but
#   libvirt's and the machine id), beside this machine's libvirtd and a TCG VM: it lists the VM
#   with its QEMU, its tree reaches the host (Bidirectional), it wires the VM and connects the
#   channel in QEMU's root, and podman stop stops it cleanly, the counters saved.
# - vpower-agent's image run as its DaemonSet's serve container, on a fixture tree: /metrics.
# podman as it runs here (../shared/notes/research/kubevirt-and-containers.md): runc, cgroupfs,
# vfs storage of the test's own, explicit ulimits, the host's network.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
for tool in podman runc node npm virsh; do
  command -v "$tool" >/dev/null || vp_skip_or_fail "no $tool (scripts/install-deps.sh test)"
done
deploy=$abs_top_srcdir/deploy/kubernetes
vm=vp-images-$$
uuid=$(cat /proc/sys/kernel/random/uuid)
npm_cache=${VP_NPM_CACHE:-/var/cache/vpower-npm}

vp_setup_workdir
chmod 755 "$work"
podman_=(podman --root "$work/storage" --runroot "$work/podman-run" --storage-driver vfs --runtime runc
         --cgroup-manager cgroupfs)
limits=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
cleanup () {
  "${podman_[@]}" rm -af -t 5 >/dev/null 2>&1
  virsh -c qemu:///system destroy "$vm" >/dev/null 2>&1
  virsh -c qemu:///system undefine "$vm" >/dev/null 2>&1
  umount "$work/trees" 2>/dev/null
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" 2>/dev/null | tail -30
  exit 1
}
vp_plan 10

# --- The manifests, offline.
validator=$npm_cache/k8s-validate
if ! cmp -s "$abs_top_srcdir/tests/helpers/k8s-validate/package.json" "$validator/package.json" ||
   [ ! -d "$validator/node_modules" ]; then
  mkdir -p "$validator" && rm -rf "$validator/node_modules" &&
    cp "$abs_top_srcdir/tests/helpers/k8s-validate/package.json" "$validator/" &&
    (cd "$validator" && npm install --no-audit --no-fund --loglevel=error) >>"$work/setup.log" 2>&1 ||
    bail "cannot install the validator's npm packages in $validator"
fi
cp "$abs_top_srcdir/tests/helpers/k8s-validate/validate.mjs" "$validator/"
manifests=("$deploy"/*.yaml "$abs_top_srcdir/deploy/kubevirt/configmap.yaml")
node "$validator/validate.mjs" "${manifests[@]}" >"$work/validate.out" 2>&1
status=$?
sed 's/^/# /' "$work/validate.out"
[ $status -eq 0 ] && [ "$(grep -c '^ok ' "$work/validate.out")" -ge 9 ]
vp_ok $? "deploy/kubernetes and the KubeVirt hook's ConfigMap pass the schemas and the cross-checks ($(grep -c '^ok ' "$work/validate.out") documents)"

# The same manifests with three mistakes a schema alone lets through, and one it does not.
mkdir -p "$work/broken"
sed -e '0,/- name: state$/s//- name: stat/' -e 's/targetPort: metrics/targetPort: metric/' "$deploy/vpowerd.yaml" >"$work/broken/vpowerd.yaml"
sed -e 's/port: metrics$/port: scrape/' "$deploy/vpowerd-servicemonitor.yaml" >"$work/broken/vpowerd-servicemonitor.yaml"
sed -e 's/containerPort: 9783/containerPort: "9783"/' "$deploy/vpower-agent.yaml" >"$work/broken/vpower-agent.yaml"
node "$validator/validate.mjs" "$work"/broken/*.yaml >"$work/broken.out" 2>&1
status=$?
grep '^error' "$work/broken.out" | sed 's/^/# /'
[ $status -eq 1 ] && grep -q "vpowerd mounts volume stat, which is not there" "$work/broken.out" &&
  grep -q "aims at metric, which no selected container has" "$work/broken.out" &&
  grep -q "endpoint port scrape is no selected Service's" "$work/broken.out" &&
  grep -q "containerPort must be integer" "$work/broken.out"
vp_ok $? "a broken copy is refused, each mistake named"

# --- The images, from the packages, with no registry.
debs=${1:-}
if [ -z "$debs" ]; then
  debs=$work/debs
  DEB_BUILD_OPTIONS=nocheck "$abs_top_srcdir/scripts/build-deb.sh" --out "$debs" >>"$work/setup.log" 2>&1 ||
    bail "build-deb.sh failed"
fi
host_deb=$(ls "$debs"/vpower-host_*.deb 2>/dev/null | head -1)
agent_deb=$(ls "$debs"/vpower-agent_*.deb 2>/dev/null | head -1)
[ -n "$host_deb" ] && [ -n "$agent_deb" ] || bail "no vpower-host and vpower-agent packages in $debs"
version=$(dpkg-deb -f "$host_deb" Version)
tarball=$("$abs_top_srcdir/scripts/root.sh" tarball bookworm procps man-db mawk 2>>"$work/setup.log") ||
  bail "no Debian 12 root (scripts/root.sh)"
"${podman_[@]}" import "$tarball" localhost/vpower-base:bookworm >>"$work/setup.log" 2>&1 || bail "podman import failed"
built=0
for image in vpowerd agent; do
  "${podman_[@]}" build --network host "${limits[@]}" --build-arg BASE=localhost/vpower-base:bookworm \
    -f "$deploy/Containerfile.$image" -t "localhost/vpower-$image:test" "$debs" >"$work/build-$image.log" 2>&1 &&
    built=$((built + 1)) || tail -5 "$work/build-$image.log" | sed "s/^/# $image: /"
done
[ $built -eq 2 ]
vp_ok $? "Containerfile.vpowerd and Containerfile.agent build on a base imported from an mmdebstrap root"

in_image () { "${podman_[@]}" run --rm "${limits[@]}" --entrypoint "$2" "localhost/vpower-$1:test" "${@:3}"; }
[ "$(in_image vpowerd dpkg-query -W -f '${Version}' vpower-host 2>/dev/null)" = "$version" ] &&
  in_image vpowerd /usr/sbin/vpowerd --version 2>/dev/null | grep -q "^vpowerd $version"
vp_ok $? "vpowerd's image holds vpower-host $version, installed by apt, and runs it"

[ "$(in_image agent dpkg-query -W -f '${Version}' vpower-agent 2>/dev/null)" = "$version" ] &&
  ! in_image agent dpkg-query -W libvirt0 >/dev/null 2>&1
vp_ok $? "the agent's image holds vpower-agent $version and no libvirt"

# --- vpowerd's image, run as vpowerd.yaml's DaemonSet runs it.
"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
cat >"$work/$vm.xml" <<XML
<domain type='qemu'>
  <name>$vm</name>
  <uuid>$uuid</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><controller type='virtio-serial'/><memballoon model='none'/></devices>
</domain>
XML
virsh -c qemu:///system create "$work/$vm.xml" >>"$work/setup.log" 2>&1 || bail "cannot start $vm"
qemu_pid=$(cat "/run/libvirt/qemu/$vm.pid" 2>/dev/null)
# The trees' host path is a shared mount, as the root of a systemd host is: Bidirectional needs it.
mkdir -p "$work/trees" && mount --bind "$work/trees" "$work/trees" && mount --make-shared "$work/trees" ||
  bail "cannot make $work/trees a shared mount"
port=$(vp_free_port)
# The DaemonSet's container: its arguments ($(POD_IP) is the host's loopback here, with a free
# port), and its volumes: each hostPath where the test keeps it, at the manifest's mountPath.
python3 - "$deploy/vpowerd.yaml" "$work" "$port" >"$work/run-args" <<'PY' || bail "cannot read vpowerd.yaml"
import sys, yaml
manifest, work, port = sys.argv[1:4]
daemonset = next(d for d in yaml.safe_load_all(open(manifest)) if d and d["kind"] == "DaemonSet")
pod = daemonset["spec"]["template"]["spec"]
assert pod["hostPID"] is True
container = pod["containers"][0]
assert container["securityContext"]["privileged"] is True
moved = {"/var/lib/vpower": f"{work}/trees", "/var/lib/vpowerd": f"{work}/state", "/run/vpower": f"{work}/run"}
volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
for mount in container["volumeMounts"]:
    host = moved.get(volumes[mount["name"]], volumes[mount["name"]])
    options = ["rshared"] if mount.get("mountPropagation") == "Bidirectional" else []
    options += ["ro"] if mount.get("readOnly") else []
    print("-v"); print(f"{host}:{mount['mountPath']}" + (":" + ",".join(options) if options else ""))
print("localhost/vpower-vpowerd:test")
for arg in container["args"]:
    print(arg.replace("$(POD_IP):9782", f"127.0.0.1:{port}"))
PY
mkdir -p "$work/state" "$work/run"
mapfile -t run_args <"$work/run-args"
vp_diag "podman run ${run_args[*]}"
# No RAPL on this machine: the model stands in.
"${podman_[@]}" run -d --name vpowerd --privileged --pid host --network host "${limits[@]}" "${run_args[@]}" \
  --sensor model >>"$work/setup.log" 2>&1 || bail "podman run of vpowerd's image failed"
VP_URL=http://127.0.0.1:$port
field () { vp_get "$VP_URL/api/v1/vms" 2>/dev/null | python3 -c "
import json, sys
vs = [x for x in json.load(sys.stdin)['vms'] if x['uuid'] == '$uuid']
v = vs[0] if vs else None
print($1 if vs else 'absent')" 2>/dev/null; }
vp_wait_for 60 eval '[ "$(field "v['"'"'state'"'"']")" = running ]'
host_id=$(vp_get "$VP_URL/api/v1/host" 2>/dev/null | vp_json 'd["host_id"]' 2>/dev/null)
[ "$(field "v.get('pid')")" = "$qemu_pid" ] && [ "$host_id" = "$(cat /etc/machine-id)" ]
vp_ok $? "vpowerd in its container lists the VM, running, with its QEMU ($(field "v.get('pid')")), as host $host_id"

vp_wait_for 20 test -r "$work/trees/$vm/intel-rapl:0/energy_uj"
vp_ok $? "the tree it mounts in its container is the host's, Bidirectional: $work/trees/$vm/intel-rapl:0/energy_uj = $(cat "$work/trees/$vm/intel-rapl:0/energy_uj" 2>/dev/null)"

vp_wait_for 60 eval '[ "$(field "v['"'"'wiring'"'"']['"'"'state'"'"']")" = wired ] &&
  "${podman_[@]}" logs vpowerd 2>&1 | grep -q "channel of $vm: connected to .* in its QEMU'"'"'s root"'
vp_ok $? "it wires the VM and connects its channel in QEMU's root, which is not its own ($(field "v['wiring']['state']"))"

"${podman_[@]}" stop -t 30 vpowerd >>"$work/setup.log" 2>&1
exit_code=$("${podman_[@]}" inspect vpowerd --format '{{.State.ExitCode}}' 2>/dev/null)
"${podman_[@]}" logs vpowerd >"$work/vpowerd.log" 2>&1
grep -E 'saved|stopped|killed' "$work/vpowerd.log" | sed 's/^/# /'
[ "$exit_code" = 0 ] && grep -q "counters saved" "$work/vpowerd.log" && ! grep -q "killed by signal" "$work/vpowerd.log" &&
  ! mountpoint -q "$work/trees/$vm" && [ -z "$(ls "$work/trees")" ]
vp_ok $? "podman stop: vpowerd saves its counters, unmounts its tree and exits 0 (exit code $exit_code)"

# --- The agent's image, as vpower-agent.yaml's serve container runs it, on a fixture tree.
agent_port=$(vp_free_port)
mapfile -t serve_args < <(python3 - "$deploy/vpower-agent.yaml" "$agent_port" <<'PY'
import sys, yaml
manifest, port = sys.argv[1:3]
daemonset = next(d for d in yaml.safe_load_all(open(manifest)) if d and d["kind"] == "DaemonSet")
serve = next(c for c in daemonset["spec"]["template"]["spec"]["containers"] if c["name"] == "serve")
for arg in serve["args"]:
    print(arg.replace("$(POD_IP):9783", f"127.0.0.1:{port}"))
PY
)
vp_diag "agent: ${serve_args[*]}"
"${podman_[@]}" run -d --name agent --network host "${limits[@]}" \
  -v "$abs_top_srcdir/tests/data/powercap/single:/var/lib/vpower:ro" localhost/vpower-agent:test "${serve_args[@]}" \
  >>"$work/setup.log" 2>&1
vp_wait_for 30 eval 'vp_get "http://127.0.0.1:$agent_port/metrics" >"$work/agent.metrics" 2>/dev/null &&
  grep -q "^vpower_energy_joules_total{zone=\"package-0\",index=\"0\"} 1\.0" "$work/agent.metrics"'
vp_ok $? "the agent's image serves the tree's metrics as its DaemonSet's serve container ($(grep -c '^vpower' "$work/agent.metrics" 2>/dev/null) samples)"

vp_finish
