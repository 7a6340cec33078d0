#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Live migration without libvirt: plain QEMU, A -> B -> A, as Proxmox and Incus do it (the target is
# started from the same command line plus -incoming and waits; the source migrates to it by QMP,
# then quits). Hosts A and B are two PID and mount namespaces on this machine, each with its own
# /run, its own vpowerd (inventory=processes, its own host id, state, port and fixture RAPL at a
# known power: A 100 W, B 60 W) and its own QEMU processes: each vpowerd sees only its host's.
# The channel's socket is the path `vpowerctl wiring --qemu` prints, the same on both hosts.
# The guest's agent reads energy_uj every 0.2 s throughout. Checked: the arriving QEMU is listed,
# paused, and charged nothing while it waits; after the switchover the target charges it and the
# source keeps its counters as departed; back on A they continue; the guest never errs nor goes
# back; what it counted is what A and B attributed to it, short of at most a tick per migration;
# each host's books conserve to the µJ.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
vp_require_root
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
command -v unshare >/dev/null && command -v nsenter >/dev/null || vp_skip_or_fail "no unshare/nsenter (util-linux)"
QEMU=$(command -v qemu-system-x86_64) || vp_skip_or_fail "no qemu-system-x86_64"
VPOWERCTL=$abs_top_builddir/vpowerctl

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
declare -A ns
cleanup () {
  local h
  for h in "${!ns[@]}"; do kill -KILL "${ns[$h]}" 2>/dev/null; done   # PID 1 of a host: all of it
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"; [ -n "${VP_DEBUG_KEEP:-}" ] && { vp_diag "work in $work"; sleep "$VP_DEBUG_KEEP"; }
  sed 's/^/# /' "$work/setup.log" 2>/dev/null | tail -20
  for h in a b; do sed "s/^/# $h: /" "$work/vpowerd-$h.log" 2>/dev/null | tail -25; done
  grep -v VP-VALUE "$work/console" 2>/dev/null | sed 's/^/# guest: /' | tail -15
  exit 1
}
console_has () { grep -q "$1" "$work/console" 2>/dev/null; }
values () { sed -n 's/^VP-VALUE \([0-9]*\).*/\1/p' "$work/console"; }
distinct_since () { [ "$(values | tail -n +$(($1 + 1)) | sort -u | wc -l)" -ge "$2" ]; }
on () { local h=$1; shift; nsenter -t "${ns[$h]}" -m -p -- "$@"; }
declare -A url
vm_json () { vp_get "${url[$1]}/api/v1/vms" | python3 -c "
import json, sys
d = json.load(sys.stdin)
v = ([x for x in d['vms'] if x['name'] == 'mig'] or [None])[0]
print($2)"; }
host_json () { vp_get "${url[$1]}/api/v1/host" | vp_json "$2"; }
# qmp SOCKET COMMAND [ARGUMENTS-JSON]: one QMP command; prints its return.
qmp () {
  python3 - "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.readline()
for c in ({"execute": "qmp_capabilities"}, {"execute": sys.argv[2], **({"arguments": json.loads(sys.argv[3])} if len(sys.argv) > 3 else {})}):
    f.write(json.dumps(c) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(json.dumps(r.get("return", r)))
PY
}

vp_plan 14

guest=$work/guest
vp_agent_guest "$guest" "$cache" "$work/setup.log" || bail "cannot build the guest"

# The hosts: a PID namespace (PID 1 a sleep) with a mount namespace whose /run is its own.
for h in a b; do
  unshare --pid --fork --mount-proc --mount --propagation private \
    sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/qemu && exec sleep 100000' & pids+=($!)
  unshared=$!
  host_up () { local p; p=$(pgrep -P "$unshared" sleep) && nsenter -t "$p" -m mountpoint -q /run && ns[$h]=$p; }
  vp_wait_for 10 host_up || bail "host $h's namespaces did not come up"
done
declare -A watts=([a]=100 [b]=60)
for h in a b; do
  cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/rapl-$h"
  "$VP_FAKE_RAPL" "$work/rapl-$h" intel-rapl:0=${watts[$h]} intel-rapl:0:0=40 intel-rapl:0:1=5 & pids+=($!)
  port=$(vp_free_port)
  url[$h]=http://127.0.0.1:$port
  on $h "$VPOWERD" --foreground --inventory processes --pidfile-dirs /run/qemu --listen "127.0.0.1:$port" \
    --host-id "host-$h" --no-mount --sensor powercap --powercap-root "$work/rapl-$h" --allow-fast-updates \
    --interval 0.25 --state-dir "$work/state-$h" >>"$work/vpowerd-$h.log" 2>&1 &
  ticked () { [ "$(host_json "$1" 'd["ticks"]' 2>/dev/null)" -ge 1 ] 2>/dev/null; }
  vp_wait_for 20 ticked $h || bail "vpowerd $h did not start"
done

# Every tick of each host: "TIME HOST PRESENT TOTAL_UJ ENERGY_UJ", zone 0.
python3 - "${url[a]}" "${url[b]}" "$work/record" "$work/stop" <<'PY' &
import json, os, sys, time, urllib.request
urls, out, stop = {"A": sys.argv[1], "B": sys.argv[2]}, sys.argv[3], sys.argv[4]
last = {}
with open(out, "w") as f:
    while not os.path.exists(stop):
        for host, url in urls.items():
            try:
                d = json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=2))
            except Exception:
                continue
            if d["ticks"] == last.get(host):
                continue
            last[host] = d["ticks"]
            v = [x for x in d["vms"] if x["name"] == "mig"]
            z = v[0]["zones"][0] if v else None
            f.write(f"{time.time():.3f} {host} {1 if v else 0} {z['total_uj'] if z else '-'} {z['energy_uj'] if z else '-'}\n")
            f.flush()
        time.sleep(0.03)
PY
pids+=($!)

uuid=$(cat /proc/sys/kernel/random/uuid)
read -r -a wiring <<<"$(on a "$VPOWERCTL" wiring mig --qemu 2>/dev/null)"
[[ ${wiring[*]} == *"path=/run/vpower/channels/qemu-mig.sock"* ]] || bail "vpowerctl wiring --qemu: ${wiring[*]}"
# start_qemu HOST N [-incoming URI]: the VM's QEMU, the same command line on both hosts.
start_qemu () {
  local h=$1 n=$2
  shift 2
  on $h "$QEMU" -name guest=mig,debug-threads=on -uuid "$uuid" -pidfile /run/qemu/mig.pid -daemonize \
    -machine pc -accel tcg -m 192 -display none -nodefaults -kernel "$guest/vmlinux" -initrd "$guest/initramfs.gz" \
    -append "console=ttyS0 quiet vp.cmd=channel vp.period=0.2 vp.seconds=70" \
    -chardev "file,id=serial,path=$work/console,append=on" -serial chardev:serial \
    -qmp "unix:$work/qmp-$n.sock,server=on,wait=off" "${wiring[@]}" "$@" >>"$work/setup.log" 2>&1
}
# migrate FROM-N TO-N: the source's QEMU migrates to the target's socket by QMP, then quits.
migrate () {
  qmp "$work/qmp-$1.sock" migrate "{\"uri\": \"unix:$work/mig-$2.sock\"}" >>"$work/setup.log"
  local status i
  for i in $(seq 600); do
    status=$(qmp "$work/qmp-$1.sock" query-migrate | vp_json 'd.get("status")')
    case $status in completed|failed|cancelled) break ;; esac
    sleep 0.1
  done
  vp_diag "migration $1 -> $2: $status"
  qmp "$work/qmp-$1.sock" quit >/dev/null 2>&1
  [ "$status" = completed ]
}

start_qemu a 1 || bail "the VM did not start on A"
vp_wait_for 120 console_has '^VP-CHANNEL' || bail "the guest's agent does not serve the tree"
vp_wait_for 30 distinct_since 0 3 || bail "the guest does not read"
a_listed () { [ "$(vm_json a "v and (v['state'], v['channel'])")" = "('running', 'connected')" ]; }
vp_check "A lists the VM running, its channel connected" vp_wait_for 20 a_listed

# --- A -> B. The target waits, listed and uncharged.
start_qemu b 2 -incoming "unix:$work/mig-2.sock" || bail "the target did not start on B"
arriving () { [ "$(vm_json b "v and (v['state'], v['migration'])")" = "('paused', 'incoming')" ]; }
vp_wait_for 20 arriving
b_ticks=$(host_json b 'd["ticks"]')
b_later () { [ "$(host_json b 'd["ticks"]')" -ge $((b_ticks + 6)) ]; }
vp_wait_for 20 b_later && arriving && [ "$(vm_json b "v['zones'][0]['total_uj']")" = 0 ]
vp_ok $? "B lists the arriving QEMU paused and incoming, and 6 ticks later has charged it nothing"
a_before=$(vm_json a "v['zones'][0]['total_uj']")
migrate 1 2
vp_ok $? "QMP migrate A -> B completes"
b_runs () { [ "$(vm_json b "v and (v['state'], v['migration'], v['arrival'], v['channel'])")" = "('running', 'none', 'migrated', 'connected')" ] &&
  [ "$(vm_json b "v['zones'][0]['total_uj'] > 0")" = True ]; }
vp_check "B runs it, charges it, says it arrived by migration, and its channel is connected" vp_wait_for 20 b_runs
a_departed () { [ "$(vm_json a "v is None")" = True ] && [ "$(host_json a 'd["vms_departed"]')" = 1 ]; }
vp_check "A's QEMU quit: A keeps its counters as departed" vp_wait_for 20 a_departed
on_b=$(values | wc -l)
vp_check "the guest's energy_uj keeps rising on B" vp_wait_for 20 distinct_since "$on_b" 4

# --- B -> A: A's counters continue.
start_qemu a 3 -incoming "unix:$work/mig-3.sock" || bail "the target did not start on A"
a_arriving () { [ "$(vm_json a "v and v['migration']")" = incoming ]; }
vp_wait_for 20 a_arriving || vp_diag "A does not show the arriving QEMU yet"
migrate 2 3
vp_ok $? "QMP migrate B -> A completes"
back_on_a () { [ "$(vm_json a "v and (v['state'], v['migrations_in'], v['migrations_out'])")" = "('running', 1, 1)" ]; }
vp_wait_for 20 back_on_a
a_back=$(vm_json a "v['zones'][0]['total_uj']")
[ "$a_back" -ge "$a_before" ]
vp_ok $? "back on A, its counter continues from where it was ($a_before -> $a_back µJ), 1 migration in and 1 out"
b_departed () { [ "$(vm_json b "v is None")" = True ] && [ "$(host_json b 'd["vms_departed"]')" = 1 ]; }
vp_check "B keeps its counters as departed" vp_wait_for 20 b_departed

# --- What the guest saw, and what the hosts counted.
vp_wait_for 120 console_has '^VP-DONE' || bail "the guest did not finish"
touch "$work/stop"
! console_has '^VP-ERROR'
vp_ok $? "the guest's reads never failed"
python3 - "$(values | tr '\n' ' ')" <<'PY'
import sys
v = [int(x) for x in sys.argv[1].split()]
bad = [(a, b) for a, b in zip(v, v[1:]) if b < a]
print(f"# {len(v)} reads, {len(set(v))} distinct, decreases {bad[:3]}")
sys.exit(1 if bad or len(v) < 50 else 0)
PY
vp_ok $? "and never went back"
console_has '^VP-STATUS origin_changes 2' && ! console_has 'replayed or out-of-order'
vp_ok $? "the guest saw exactly 2 changes of origin (the 2 migrations) and no replay"

# (The guest powered off at the end, so A too may keep it as departed by now.)
vm_total () { python3 -c '
import json, sys, urllib.request
get = lambda path: json.load(urllib.request.urlopen(sys.argv[1] + path, timeout=5))
print(get("/api/v1/host")["zones"][0]["departed_vms_uj"] + sum(v["zones"][0]["total_uj"] for v in get("/api/v1/vms")["vms"]))' "${url[$1]}"; }
a_final=$(vm_total a)
b_final=$(vm_total b)
python3 - "$(values | tr '\n' ' ')" "$work/record" "$a_final" "$b_final" <<'PY'
import sys
v = [int(x) for x in sys.argv[1].split()]
record, a_final, b_final = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
guest = v[-1] - v[0]
a_start, step, prev = None, 0, {}
for line in open(record):
    t, host, present, total, shown = line.split()
    if present != "1":
        continue
    total = int(total)
    if host == "A" and a_start is None and int(shown) == v[0]:
        a_start = total
    if host in prev and total > prev[host]:
        step = max(step, total - prev[host])
    prev[host] = total
hosts = (a_final - a_start) + b_final
lost = hosts - guest
print(f"# guest counted {guest / 1e6:.3f} J; A {(a_final - a_start) / 1e6:.3f} J + B {b_final / 1e6:.3f} J = "
      f"{hosts / 1e6:.3f} J; not seen by the guest {lost / 1e6:.3f} J; the largest tick {step / 1e6:.3f} J")
sys.exit(0 if b_final > 0 and 0 <= lost <= 2 * step else 1)
PY
vp_ok $? "the guest's total is A's plus B's attribution for it, short of at most one tick per migration"
vp_books_conserve "${url[a]}" 3 && vp_books_conserve "${url[b]}" 3
vp_ok $? "each host's books conserve to the µJ"
for h in a b; do grep -E 'processes|left|back|arriv|channel of' "$work/vpowerd-$h.log" | sed "s/^/# $h: /" | tail -10; done
vp_finish
