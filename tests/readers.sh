#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integration (issue #11): every real RAPL reader works on a VM's directory of a mounted tree,
# given to it as its /sys/class/powercap (a private mount namespace with a tmpfs over
# /sys/class and the VM's directory bound at /sys/class/powercap):
#   - sysfs read semantics: a held-open energy_uj re-read at offset 0 (pread, or lseek+read)
#     shows the current value; a value read in pieces is never torn; across an engine kill -9
#     a held descriptor keeps reading, never backwards;
#   - intel-rapl/subsystem links back to the VM's root, as on the kernel (CodeCarbon), and no
#     reader finds a zone twice through it;
#   - no energy_uj ever reads 0: a VM that never ran shows nonzero counters while its
#     Prometheus and JSON totals are 0; an announced VM shows what the engine then starts it
#     at; origins survive a restart;
#   - readdir reports the kernel's d_type for every entry;
#   - the real readers: prometheus/procfs GetRaplZones (node_exporter's and Kepler's reader,
#     built from Debian's source package), s-tui, and a C reader that keeps the file open and
#     rewinds, as MangoHud, Alumet and the powercap library do. node_exporter itself is
#     tests/node-exporter.sh.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_fuse
command -v unshare >/dev/null || vp_skip_or_fail "no unshare"
command -v s-tui >/dev/null || vp_skip_or_fail "no s-tui (Debian package s-tui)"
command -v go >/dev/null || vp_skip_or_fail "no go (Debian package golang-go)"
GOPATH_DEBIAN=/usr/share/gocode
[ -d "$GOPATH_DEBIAN/src/github.com/prometheus/procfs" ] ||
  vp_skip_or_fail "no prometheus/procfs source (Debian package golang-github-prometheus-procfs-dev)"
VP_REWIND="$abs_top_builddir/tests/vp-rewind"
VP_DIRTYPES="$abs_top_builddir/tests/vp-dirtypes"
vp_setup_workdir
vp_plan 20

# Two sockets with dram, at known powers; web1 busy, idle never runs (no process).
mkdir -p "$work/host"
cp -R "$abs_top_srcdir/tests/data/powercap/dual-dram/." "$work/host/"
"$VP_FAKE_RAPL" "$work/host/class/powercap" intel-rapl:0=100 intel-rapl:1=80 intel-rapl:0:1=20 & pids+=($!)
"$VP_BURN" 0.3 & pids+=($!); busy=$!
write_vms () {
  printf '[web1]\nuuid=aaaaaaaa-0000-4000-8000-000000000001\npid=%s\n' "$busy"
  printf '[idle]\nuuid=aaaaaaaa-0000-4000-8000-000000000002\n'
  for extra in "$@"; do printf '%s\n' "$extra"; done
}
write_vms > "$work/vms.ini"
args=(--sensor powercap --powercap-root "$work/host/class/powercap" --inventory "static:$work/vms.ini"
      --allow-fast-updates --interval 0.25 --state-dir "$work/state")
vp_start_mounted "$work/vpowerd.log" "${args[@]}"
vp_ok $? "vpowerd mounts the tree and ticks"
vp_wait_for 10 vp_ticks_at_least 2
vm=$VP_MNT/web1
energy=$vm/intel-rapl:0/energy_uj

# in_powercap DIR CMD...: CMD sees DIR as /sys/class/powercap, and nothing else of /sys/class.
in_powercap () {
  local dir=$1
  shift
  unshare -m --propagation private -- sh -c \
    'mount -t tmpfs vpower-test /sys/class && mkdir /sys/class/powercap &&
     mount --bind "$0" /sys/class/powercap && exec "$@"' "$dir" "$@"
}
rewind_ok () { grep -Eq '^reads=[0-9]+ errors=0 decreases=0 wraps=[0-9]+ zeros=0 distinct=([3-9]|[1-9][0-9]+) ' "$1"; }

# --- 1. sysfs read semantics ---------------------------------------------------------------
"$VP_REWIND" "$energy" 1.5 0.25 pread > "$work/pread" 2>&1
vp_diag "pread: $(cat "$work/pread")"
rewind_ok "$work/pread"
vp_ok $? "one descriptor held open, pread at offset 0 every 0.25 s: the current value each time, rising"
"$VP_REWIND" "$energy" 1.5 0.25 lseek > "$work/lseek" 2>&1
vp_diag "lseek: $(cat "$work/lseek")"
rewind_ok "$work/lseek"
vp_ok $? "the same with lseek(0) and read"

# Read it whole at offset 0, let a tick pass, read again from offset 3: the second piece
# continues the offset-0 rendering (it is the same value's tail); offset 0 then renders anew.
python3 - "$energy" <<'PY'
import os, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_RDONLY)
whole = os.pread(fd, 64, 0)
deadline = time.monotonic() + 5
while open(path, "rb").read() == whole and time.monotonic() < deadline:
    time.sleep(0.02)
now = open(path, "rb").read()
tail = os.pread(fd, 64, 3)
again = os.pread(fd, 64, 0)
print(f"# read {whole!r}; after the tick the file shows {now!r}; offset 3 gives {tail!r}; offset 0 {again!r}")
sys.exit(0 if now != whole and tail == whole[3:] and again != whole else 1)
PY
vp_ok $? "a value read in pieces across a tick is one value, not torn; offset 0 then renders anew"

# --- 2. intel-rapl/subsystem -----------------------------------------------------------------
[ "$(readlink "$vm/intel-rapl/subsystem")" = ".." ] && [ "$(realpath "$vm/intel-rapl/subsystem")" = "$(realpath "$vm")" ] &&
  [ ! -e "$vm/intel-rapl/name" ] && ! ls "$vm" | grep -qx subsystem
vp_ok $? "intel-rapl/subsystem -> .. (the VM's own root); intel-rapl/ has no name; not at the top level"

# CodeCarbon (not packaged in Debian): its IntelRAPL refuses to start without
# /sys/class/powercap/intel-rapl/subsystem, then reads every "intel-rapl:*" entry of that
# directory (its name, energy_uj, max_energy_range_uj), packages first. Replicated here.
in_powercap "$vm" python3 - <<'PY' > "$work/codecarbon" 2>&1
import os, sys
rapl_dir = "/sys/class/powercap/intel-rapl/subsystem"
if not os.path.exists(rapl_dir):
    sys.exit(f"FileNotFoundError: Intel RAPL files not found at {rapl_dir}")
zones = {}
for entry in sorted(os.listdir(rapl_dir)):
    if ":" not in entry:
        continue
    path = os.path.join(rapl_dir, entry)
    name = open(os.path.join(path, "name")).read().strip()
    energy = int(open(os.path.join(path, "energy_uj")).read())
    int(open(os.path.join(path, "max_energy_range_uj")).read())
    zones.setdefault(os.path.realpath(path), []).append((entry, name, energy))
packages = sorted(n for entries in zones.values() for _, n, _ in entries if "package" in n)
print(f"# CodeCarbon's walk: {sum(map(len, zones.values()))} entries, {len(zones)} zones, packages {packages}")
sys.exit(0 if len(zones) == 6 and all(len(e) == 1 for e in zones.values())
         and packages == ["package-0", "package-1"] else 1)
PY
status=$?; sed 's/^[^#]/# &/' "$work/codecarbon"
vp_ok $status "CodeCarbon's check and walk through intel-rapl/subsystem: every zone once, both packages"

# --- 3. counters that never read 0 -------------------------------------------------------------
# idle never ran: every file nonzero, while the API's and Prometheus's totals are exactly 0.
python3 - "$VP_URL" "$VP_MNT/idle" <<'PY'
import json, re, sys, urllib.request
url, root = sys.argv[1], sys.argv[2]
get = lambda u: urllib.request.urlopen(u, timeout=5).read().decode()
vm = next(v for v in json.loads(get(url + "/api/v1/vms"))["vms"] if v["name"] == "idle")
files = {z["index"]: int(open(f"{root}/intel-rapl:{z['index']}/energy_uj").read()) for z in vm["zones"]}
metrics = re.findall(r'^vpower_vm_energy_joules_total\{[^}]*domain="idle"[^}]*\} (\S+)$', get(url + "/metrics"), re.M)
print(f"# idle: files {files}; API total_uj {[z['total_uj'] for z in vm['zones']]}; metrics {metrics}")
ok = (len(files) == 6 and all(v > 0 for v in files.values())
      and all(z["total_uj"] == 0 and z["energy_uj"] == files[z["index"]] for z in vm["zones"])
      and len(metrics) == 6 and all(float(m) == 0 for m in metrics)
      and len(set(files.values())) == 6)
sys.exit(0 if ok else 1)
PY
vp_ok $? "a VM that never ran reads a distinct nonzero energy_uj per zone; its JSON and Prometheus totals are 0"

# Every energy_uj of every VM, read many times: never 0.
zeros=0
for f in "$VP_MNT"/*/intel-rapl:*/energy_uj; do
  "$VP_REWIND" "$f" 0.1 0.005 > "$work/z" 2>&1
  grep -q ' errors=0 .* zeros=0 ' "$work/z" || { zeros=1; vp_diag "$f: $(cat "$work/z")"; }
done
[ $zeros -eq 0 ]
vp_ok $? "no energy_uj of any VM reads 0"

# An announced VM (the libvirt hook, before QEMU starts) reads what the engine then starts it at.
python3 - "$VP_RUN/hook.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"announce\taaaaaaaa-0000-4000-8000-000000000003\t0\t0\tlate\n")
sys.exit(0 if s.recv(64) == b"ok\n" else 1)
PY
announced_ok=$?
snapshot_late () { for f in "$VP_MNT"/late/intel-rapl:*/energy_uj; do printf '%s ' "$(cat "$f")"; done; }
announced=$(snapshot_late)
write_vms "[late]" "uuid=aaaaaaaa-0000-4000-8000-000000000003" > "$work/vms.new" && mv "$work/vms.new" "$work/vms.ini"
late_published () { vp_get "$VP_URL/api/v1/vms" | vp_json '[v["name"] for v in d["vms"]]' | grep -q "'late'"; }
vp_wait_for 10 late_published
published=$(snapshot_late)
vp_diag "late: announced [$announced], published [$published]"
[ $announced_ok -eq 0 ] && [ -n "$announced" ] && [ "$announced" = "$published" ] &&
  ! echo " $announced" | grep -q ' 0 '
vp_ok $? "an announced VM reads nonzero values, the very ones the engine publishes once it counts the VM"

# --- 4. d_type -------------------------------------------------------------------------------------
expected_types () {
  cat <<'T'
/ d .
/ d ..
/ d intel-rapl
/ l intel-rapl:0
/ l intel-rapl:0:0
/ l intel-rapl:0:1
/ l intel-rapl:1
/ l intel-rapl:1:0
/ l intel-rapl:1:1
/intel-rapl d .
/intel-rapl d ..
/intel-rapl f enabled
/intel-rapl l subsystem
/intel-rapl d intel-rapl:0
/intel-rapl d intel-rapl:1
/intel-rapl/intel-rapl:0 d .
/intel-rapl/intel-rapl:0 d ..
/intel-rapl/intel-rapl:0 f enabled
/intel-rapl/intel-rapl:0 f energy_uj
/intel-rapl/intel-rapl:0 f max_energy_range_uj
/intel-rapl/intel-rapl:0 f name
/intel-rapl/intel-rapl:0 d intel-rapl:0:0
/intel-rapl/intel-rapl:0 d intel-rapl:0:1
T
}
for dir in / /intel-rapl /intel-rapl/intel-rapl:0; do
  "$VP_DIRTYPES" "$vm$dir" | sed "s|^|$dir |"
done > "$work/dtypes"
diff <(expected_types | sort) <(sort "$work/dtypes") > "$work/dtypes.diff"
status=$?; sed 's/^/# /' "$work/dtypes.diff"
vp_ok $status "readdir's d_type: DT_DIR for intel-rapl and zone directories, DT_LNK for the flat links and subsystem"

# --- 5. the real readers -------------------------------------------------------------------------
# prometheus/procfs GetRaplZones, from Debian's source, as node_exporter and Kepler use it.
export GOCACHE=${GOCACHE:-${HOME:-$work}/.cache/go-build}
(cd "$work" && GO111MODULE=off GOPATH=$GOPATH_DEBIAN GOFLAGS= \
  go build -o "$work/procfs-rapl" "$abs_top_srcdir/tests/helpers/procfs-rapl.go") > "$work/go-build.log" 2>&1
status=$?; sed 's/^/# /' "$work/go-build.log"
vp_ok $status "procfs-rapl builds against Debian's golang-github-prometheus-procfs-dev"

# While it reads twice 2 s apart, every value vpowerd publishes is recorded: each of its
# readings must be one of them, and its joules the exact difference of the two ticks' totals.
mkdir -p "$work/sysfs/class"
ln -s "$vm" "$work/sysfs/class/powercap"
python3 - "$VP_URL" "$work/procfs-rapl" "$work/sysfs" <<'PY'
import json, subprocess, sys, threading, time, urllib.request
url, reader, sysfs = sys.argv[1:4]
published = {}          # index -> {energy_uj: total_uj}
layout = {}
polls = [0]
done = threading.Event()
def record():
    while not done.is_set():
        vm = next(v for v in json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=5))["vms"]
                  if v["name"] == "web1")
        for z in vm["zones"]:
            published.setdefault(z["index"], {})[z["energy_uj"]] = z["total_uj"]
            layout[z["index"]] = (z["name"], z["max_energy_range_uj"])
        polls[0] += 1
        time.sleep(0.02)
def polled_after(n):    # the recorder has seen the API at least once since poll n
    while polls[0] <= n:
        time.sleep(0.005)
recorder = threading.Thread(target=record)
recorder.start()
polled_after(0)         # what the reader sees first is already recorded, or will be
out = subprocess.run([reader, sysfs, "2"], capture_output=True, text=True, timeout=30)
polled_after(polls[0] + 1)  # and so is what it saw last: a whole poll after it
done.set(); recorder.join()
if out.returncode != 0:
    sys.exit(f"# procfs-rapl failed: {out.stderr}")
zones = [json.loads(line) for line in out.stdout.splitlines()]
bad = []
for z in zones:
    index = z["path"].rsplit("intel-rapl:", 1)[1]
    name, top = layout[index]
    split = name.split("-")
    want_name = split[0] if len(split) == 2 and split[1].isdigit() else name
    totals = published[index]
    print(f"# {index} {z['name']}/{z['index']}: {z['joules']:.6f} J, {z['watts']:.2f} W")
    if z["name"] != want_name or z["max"] != top:
        bad.append(f"{index}: procfs sees {z['name']} max {z['max']}, vpowerd {name} max {top}")
    elif z["first"] not in totals or z["second"] not in totals:
        bad.append(f"{index}: a reading was never published ({z['first']}, {z['second']})")
    elif round(z["joules"] * 1e6) != totals[z["second"]] - totals[z["first"]]:
        bad.append(f"{index}: {z['joules']} J, but vpowerd counted {(totals[z['second']] - totals[z['first']]) / 1e6} J")
for b in bad:
    print("# " + b)
busy = [z for z in zones if z["name"] == "package" and z["watts"] > 0]
sys.exit(0 if not bad and len(zones) == len(layout) == 6 and busy else 1)
PY
vp_ok $? "prometheus/procfs finds all 6 zones with vpowerd's names and ranges; its readings and joules are vpowerd's, exactly"

# s-tui, which globs /sys/class/powercap/intel-rapl:*/ and reads name and energy_uj.
in_powercap "$vm" s-tui --json > "$work/s-tui.json" 2> "$work/s-tui.err"
python3 - "$work/s-tui.json" "$vm" <<'PY'
import glob, json, os, sys
power = json.load(open(sys.argv[1])).get("Power", {})
names = sorted(open(f).read().strip() for f in glob.glob(sys.argv[2] + "/intel-rapl:*/name"))
seen = sorted(key.rsplit(",", 1)[0] for key in power)
print(f"# s-tui power sensors: {sorted(power)}")
sys.exit(0 if seen == names and len(seen) == 6 else 1)
PY
vp_ok $? "s-tui lists every zone as a power sensor"

# MangoHud's way, at the real path: keep /sys/class/powercap/intel-rapl:0/energy_uj open and
# rewind, while the engine is killed -9 and restarted under it.
in_powercap "$vm" "$VP_REWIND" /sys/class/powercap/intel-rapl:0/energy_uj 5 0.05 pread > "$work/held" 2>&1 &
held=$!
vp_wait_for 10 vp_ticks_at_least $(( $(vp_ticks) + 4 ))
engine=$(vp_engine_pid)
kill -9 "$engine"
at_kill=$(cat "$energy")
wait $held
vp_diag "held across the kill: $(cat "$work/held"); at the kill $at_kill"
last=$(sed -n 's/.* last=\([0-9]*\)$/\1/p' "$work/held")
top=$(cat "$vm/intel-rapl:0/max_energy_range_uj")
new_engine=$(vp_engine_pid)
rewind_ok "$work/held" && [ -n "$new_engine" ] && [ "$new_engine" != "$engine" ] &&
  python3 -c "import sys; a, b, m = map(int, sys.argv[1:]); sys.exit(0 if (b - a) % m and (b > a or (m - a) + b < m // 2) else 1)" \
    "$at_kill" "${last:-0}" "$top"
vp_ok $? "a descriptor held open across an engine kill -9: no error, never backwards, rising again after the restart"

# --- 6. origins survive a restart --------------------------------------------------------------
snapshot_idle () { for f in "$VP_MNT"/idle/intel-rapl:*/energy_uj; do printf '%s ' "$(cat "$f")"; done; }
idle_before=$(snapshot_idle)
web1_before=$(cat "$energy")
vp_stop_vpowerd
vp_ok $? "vpowerd stops cleanly and saves"
vp_start_mounted "$work/vpowerd.log" "${args[@]}"
vp_ok $? "vpowerd starts again on the same state"
idle_after=$(snapshot_idle)
web1_after=$(cat "$energy")
vp_diag "idle before [$idle_before] after [$idle_after]; web1 $web1_before -> $web1_after"
[ -n "$idle_before" ] && [ "$idle_before" = "$idle_after" ]
vp_ok $? "after a restart, a VM's counters show exactly what they showed: the origins were kept"
python3 -c "import sys; a, b, m = map(int, sys.argv[1:]); sys.exit(0 if b >= a or (m - a) + b < m // 2 else 1)" \
  "$web1_before" "$web1_after" "$top"
vp_ok $? "and web1's counter goes on from where it was"
grep -q "state: restored counters of 3 VMs" "$work/vpowerd.log"
vp_ok $? "the log says the counters were restored"

# --- 7. the reader matrix (docs/attribution.md) names every reader tested here --------------------
missing=
for reader in node_exporter prometheus/procfs Kepler s-tui CodeCarbon MangoHud powerstat; do
  grep -q "^| .*$reader" "$abs_top_srcdir/docs/attribution.md" || missing="$missing $reader"
done
[ -z "$missing" ]
vp_ok $? "docs/attribution.md's reader matrix lists each reader${missing:+ (missing:$missing)}"

vp_finish
