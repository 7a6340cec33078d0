#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Live migration between two hosts, on one machine: host A is the system libvirtd, host B a second
# libvirtd in its own mount namespace (tests/helpers/libvirtd-b.sh). Each host has its own vpowerd
# (B's runs in B's namespace, so it sees B's channel sockets as a second host would), its own state,
# mount, port, host id and fixture RAPL at a different known power (A 100 W, B 60 W).
# One TCG guest with a virtio-serial controller and the agent, wired by host A's vpowerd (wire=auto
# hot-plugs the channel; issue 30), reads energy_uj every 0.2 s while it migrates
# A -> B -> A (A's engine is killed -9 while the VM is away), then again with --p2p, then with
# --suspend (B keeps it paused until it is resumed there); then two migrations fail (B refuses it;
# domjobabort), and host B dies in the middle of a third. Checked: the guest never errs nor goes back;
# its value rises on B; its total agrees with A's plus B's attribution; each host's books conserve
# exactly; A's counter continues where it left off with the same epoch; nothing is charged while a VM
# is paused to leave or arriving; failed migrations go unnoticed; the channel hot-plugged on A travels
# with the VM, so neither destination attaches a second one. The hook's "migrate begin" too.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

URI_A=qemu:///system
cache=${VP_GUEST_CACHE:-$abs_top_builddir/tests/guest/cache}
vm=vp-mig-$$

vp_require_fuse
[ -x "$VPOWER_AGENT" ] || vp_skip_or_fail "no vpower-agent binary"
command -v nsenter >/dev/null && command -v unshare >/dev/null || vp_skip_or_fail "no nsenter/unshare (util-linux)"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
VP_PID=
B_PID=
bdir=$work/B
cleanup () {
  virsh -c "$URI_A" destroy "$vm" >/dev/null 2>&1
  virsh -c "$URI_A" undefine "$vm" >/dev/null 2>&1
  [ -n "$B_PID" ] && kill -TERM "$B_PID" 2>/dev/null && wait "$B_PID" 2>/dev/null
  # A QEMU that B's libvirtd left behind when it was killed.
  [ -r "$bdir/run/qemu/$vm.pid" ] && kill -KILL "$(cat "$bdir/run/qemu/$vm.pid")" 2>/dev/null
  "$abs_top_srcdir/tests/helpers/libvirtd-b.sh" stop "$bdir" >/dev/null 2>&1
  vp_cleanup_workdir
}
trap cleanup EXIT
bail () {
  echo "Bail out! $1"
  sed 's/^/# /' "$work/setup.log" "$work/vpowerd-a.log" "$work/vpowerd-b.log" 2>/dev/null | tail -60
  sed 's/^/# guest: /' "$guest/$vm.console" 2>/dev/null | grep -v VP-VALUE | tail -20
  exit 1
}
console () { cat "$guest/$vm.console" 2>/dev/null; }
console_has () { grep -q "$1" "$guest/$vm.console" 2>/dev/null; }
values () { console | sed -n 's/^VP-VALUE \([0-9]*\).*/\1/p'; }
n_distinct () { values | sort -u | wc -l; }
distinct_since () { [ "$(values | tail -n +$(($1 + 1)) | sort -u | wc -l)" -ge "$2" ]; }
# The VM as a host's API shows it: python expression over `v` (the VM's object) and `d` (the answer).
vm_json () { vp_get "$1/api/v1/vms" | python3 -c "
import json, sys
d = json.load(sys.stdin)
v = ([x for x in d['vms'] if x['name'] == '$vm'] or [None])[0]
print($2)"; }
published_on () { [ "$(vm_json "$1" "v is not None and v['state']")" = "$2" ]; }
absent_on () { [ "$(vm_json "$1" "v is None")" = True ]; }

vp_plan 33

"$abs_top_srcdir/scripts/setup-libvirtd.sh" >>"$work/setup.log" 2>&1 || bail "setup-libvirtd.sh failed"
guest=$work/guest
vp_agent_guest "$guest" "$cache" "$work/setup.log" || bail "cannot build the guest"
common=(--sensor powercap --allow-fast-updates --interval 0.25 --save-interval 5)
vp_two_hosts_start "$work/mnt-b" "${common[@]}" 2>>"$work/setup.log" || bail "$(tail -1 "$work/setup.log")"
port_b=${URL_B##*:}
a_pid=$(cat /run/libvirtd.pid)
# For --p2p from B, B's libvirtd opens A's socket through A's root.
URI_A_FROM_B="qemu+unix:///system?socket=/proc/$a_pid/root/run/libvirt/libvirt-sock"

# The hook, as libvirt calls it on a destination before an incoming transient domain exists:
# "migrate begin" with the domain XML on stdin. It makes the directory and prints nothing
# (libvirt would take any output as a replacement for the domain's XML).
incoming=vp-incoming-$$
printf "<domain type='qemu'><name>%s</name><uuid>%s</uuid></domain>" "$incoming" "$(cat /proc/sys/kernel/random/uuid)" \
  >"$work/incoming.xml"
out=$("$abs_top_builddir/vpower-hook" --runtime-dir "$VP_RUN" "$incoming" migrate begin - <"$work/incoming.xml"); status=$?
[ $status -eq 0 ] && [ -z "$out" ] && [ -d "$VP_MNT/$incoming" ]
vp_ok $? "the hook's 'migrate begin' makes an incoming domain's directory and leaves the XML alone (no output)"

# Every tick of each host: "TIME HOST VM-PRESENT TOTAL_UJ ENERGY_UJ EPOCH", zone 0 (package).
python3 - "$URL_A" "$URL_B" "$vm" "$work/record" "$work/stop-recording" <<'PY' &
import json, os, sys, time, urllib.request
urls, name, out, stop = {"A": sys.argv[1], "B": sys.argv[2]}, sys.argv[3], sys.argv[4], sys.argv[5]
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
            v = [x for x in d["vms"] if x["name"] == name]
            if v:
                z = v[0]["zones"][0]
                f.write(f"{time.time():.3f} {host} 1 {z['total_uj']} {z['energy_uj']} {v[0]['epoch']}\n")
            else:
                f.write(f"{time.time():.3f} {host} 0 - - -\n")
            f.flush()
        time.sleep(0.03)
PY
pids+=($!)

# The guest: a virtio-serial controller and no channel (A's vpowerd hot-plugs it), the agent
# binding the tree over sysfs, a read every 0.2 s.
VP_GUEST_ARGS="vp.period=0.2 vp.seconds=65" "$abs_top_srcdir/tests/guest/domain.sh" "$vm" channel "$guest" "" controller \
  >"$work/$vm.xml"
virsh -c "$URI_A" define "$work/$vm.xml" >>"$work/setup.log" 2>&1 && virsh -c "$URI_A" start "$vm" >>"$work/setup.log" 2>&1 ||
  bail "cannot start $vm on A"
vp_wait_for 90 console_has '^VP-CHANNEL' || bail "the guest's agent does not serve the tree"
# channels URI: how many vpower channels the VM's live XML has there.
channels () { virsh -c "$1" dumpxml "$vm" 2>/dev/null | grep -c "<target type='virtio' name='org.vpower.0'"; }
hotplugs () { vp_get "$1/api/v1/host" | vp_json 'd["wiring"]["hotplugs"]'; }
[ "$(vm_json "$URL_A" "(v['wiring']['state'], v['wiring']['by_vpowerd'])")" = "('wired', True)" ] &&
  [ "$(channels "$URI_A")" = 1 ] && [ "$(hotplugs "$URL_A")" = 1 ]
vp_ok $? "A's vpowerd hot-plugged the channel into the running guest (wire=auto, the default)"
vp_wait_for 30 distinct_since 0 3 || bail "the guest does not read"
epoch_a=$(vm_json "$URL_A" "v['epoch']")

migrate () {   # migrate FROM-URI TO-URI [virsh migrate options]: the time it took goes to the log
  local from=$1 to=$2 start=$SECONDS
  shift 2
  virsh -c "$from" migrate --live "$vm" "$to" --migrateuri "tcp://127.0.0.1:$(vp_free_port)" "$@" >>"$work/setup.log" 2>&1
  local status=$?
  vp_diag "migrate $* took $((SECONDS - start)) s (status $status)"
  return $status
}
# series SERIES-URL: 1 if A's or B's /metrics has a VM energy series for the guest.
has_series () { vp_get "$1/metrics" | grep "^vpower_vm_energy_joules_total{domain=\"$vm\"" >/dev/null; }
a_total () { vm_json "$URL_A" "v['zones'][0]['total_uj']"; }

# --- A -> B.
a_before=$(a_total)
migrate "$URI_A" "$URI_B"
vp_ok $? "virsh migrate --live A -> B succeeds with the channel"
vp_wait_for 10 published_on "$URL_B" running
vp_ok $? "B publishes the VM, running"
# (The arrival is counted at the resume event, and the channel connects at a tick: both may
# follow the running state by a tick.)
arrived_on_b () {
  nsenter -m -r -t "$b_ns" test -r "$work/mnt-b/$vm/intel-rapl:0/energy_uj" &&
  [ "$(vm_json "$URL_B" "(v['arrival'], v['migrations_in'], v['channel'])")" = "('migrated', 1, 'connected')" ] &&
  vp_get "$URL_B/metrics" | grep "^vpower_vm_info{domain=\"$vm\",.*arrival=\"migrated\"} 1" >/dev/null &&
  vp_get "$URL_B/metrics" | grep "^vpower_vm_migrations_total{domain=\"$vm\",.*direction=\"in\"} 1" >/dev/null
}
vp_wait_for 10 arrived_on_b
vp_ok $? "B's tree has the VM's directory, its channel is connected, and vpower_vm_info says it arrived by migration"
[ "$(channels "$URI_B")" = 1 ] && [ "$(hotplugs "$URL_B")" = 0 ] &&
  [ "$(vm_json "$URL_B" "(v['wiring']['state'], v['wiring']['by_vpowerd'])")" = "('wired', False)" ]
vp_ok $? "the hot-plugged channel came with the VM: B's vpowerd attached no second one (one channel in B's live XML)"
grep -q "libvirt hook: $vm .* is about to start" "$work/vpowerd-b.log"
vp_ok $? "B's libvirt ran vpower-hook for the incoming migration, and the migration went through"
vp_wait_for 10 absent_on "$URL_A" && ! has_series "$URL_A" && [ "$(vp_get "$URL_A/api/v1/host" | vp_json 'd["vms_departed"]')" = 1 ] &&
  [ ! -e "$VP_MNT/$vm" ]
vp_ok $? "on A its series and its directory went; A keeps its counters as departed"
on_b=$(values | wc -l)
vp_wait_for 20 distinct_since "$on_b" 4
vp_ok $? "the guest's energy_uj keeps rising while it runs on B"

# While the VM is away, A's engine is killed -9: the new one finds its counters in the state file
# and the domain shut off "migrated", so it keeps them as departed.
engine=$(vp_engine_pid)
kill -9 "$engine"
new_engine_ticks () { local p; p=$(vp_engine_pid); [ -n "$p" ] && [ "$p" != "$engine" ] && vp_ticks_at_least 2; }
vp_wait_for 20 new_engine_ticks && absent_on "$URL_A" && [ "$(vp_get "$URL_A/api/v1/host" | vp_json 'd["vms_departed"]')" = 1 ]
vp_ok $? "A's engine killed -9 while the VM is away: the new engine keeps its counters as departed"

# --- B -> A: A's counter continues.
migrate "$URI_B" "$URI_A"
vp_ok $? "virsh migrate --live B -> A succeeds"
counted_back () { [ "$(vm_json "$URL_A" "v and (v['state'], v['migrations_in'], v['migrations_out'])")" = "('running', 1, 1)" ]; }
vp_wait_for 10 counted_back
a_back=$(a_total)
[ "$a_back" -ge "$a_before" ] && [ "$(vm_json "$URL_A" "v['epoch']")" = "$epoch_a" ]
vp_ok $? "back on A, its counter continues from where it was ($a_before -> $a_back µJ), same epoch, 1 migration in and 1 out"
vp_wait_for 10 absent_on "$URL_B" && ! has_series "$URL_B"
vp_ok $? "on B its series went"
[ "$(channels "$URI_A")" = 1 ] && [ "$(hotplugs "$URL_A")" = 0 ]
vp_ok $? "back on A (a new engine since the kill), the VM brings its one channel: none attached"

# --- The same with --p2p (each libvirtd talks to the other itself).
migrate "$URI_A" "$URI_B" --p2p && vp_wait_for 10 published_on "$URL_B" running
vp_ok $? "virsh migrate --live --p2p A -> B"
on_b=$(values | wc -l)
vp_wait_for 20 distinct_since "$on_b" 4
vp_ok $? "the value rises on B again"
migrate "$URI_B" "$URI_A_FROM_B" --p2p && vp_wait_for 10 published_on "$URL_A" running
vp_ok $? "virsh migrate --live --p2p B -> A"
vp_wait_for 10 absent_on "$URL_B" && [ "$(vm_json "$URL_A" "v['epoch']")" = "$epoch_a" ]
vp_ok $? "the VM is on A only, with its epoch"

# --- A destination that does not resume (migrate --suspend): published, paused, charged nothing
# until someone resumes it there.
migrate "$URI_A" "$URI_B" --suspend && vp_wait_for 10 published_on "$URL_B" paused && vp_wait_for 10 absent_on "$URL_A"
vp_ok $? "virsh migrate --live --suspend A -> B: B publishes the VM paused, A keeps it as departed"
b_paused=$(vm_json "$URL_B" "v['zones'][0]['total_uj']")
b_ticks=$(vp_get "$URL_B/api/v1/host" | vp_json 'd["ticks"]')
b_more () { [ "$(vp_get "$URL_B/api/v1/host" | vp_json 'd["ticks"]')" -ge $((b_ticks + 8)) ]; }
vp_wait_for 10 b_more && [ "$(vm_json "$URL_B" "v['zones'][0]['total_uj']")" = "$b_paused" ] &&
  [ "$(vm_json "$URL_B" "v['migration']")" = incoming ]
vp_ok $? "8 ticks later B has charged it nothing, and shows it as arriving"
virsh -c "$URI_B" resume "$vm" >>"$work/setup.log" 2>&1
on_b=$(values | wc -l)
counted_on_b () { [ "$(vm_json "$URL_B" "(v['state'], v['migration'], v['migrations_in'])")" = "('running', 'none', 3)" ]; }
vp_wait_for 10 counted_on_b && vp_wait_for 20 distinct_since "$on_b" 4
vp_ok $? "resumed on B, it counts as B's third arrival and the guest's value rises again"
migrate "$URI_B" "$URI_A" && vp_wait_for 10 published_on "$URL_A" running
vp_ok $? "and back to A"

# --- Failed migrations: the source keeps counting, the guest notices nothing.
printf '<domain type="qemu"><name>%s</name><memory unit="MiB">64</memory><os><type>hvm</type></os></domain>' "$vm" \
  >"$work/clash.xml"
virsh -c "$URI_B" define "$work/clash.xml" >>"$work/setup.log" 2>&1 || bail "cannot define the clash on B"
before=$(a_total)
! migrate "$URI_A" "$URI_B"
vp_ok $? "a migration B refuses (a domain of that name with another UUID) fails"
virsh -c "$URI_B" undefine "$vm" >>"$work/setup.log" 2>&1
rising_on_a () { [ "$(a_total)" -gt "$before" ]; }
vp_wait_for 10 rising_on_a && published_on "$URL_A" running
vp_ok $? "A still counts it"

virsh -c "$URI_A" migrate --live --bandwidth 1 "$vm" "$URI_B" --migrateuri "tcp://127.0.0.1:$(vp_free_port)" \
  >"$work/abort.log" 2>&1 &
migration=$!
migrating () { virsh -c "$URI_A" domjobinfo "$vm" 2>/dev/null | grep -q 'Outgoing migration'; }
vp_wait_for 10 migrating || bail "the slow migration did not start"
virsh -c "$URI_A" domjobabort "$vm" >>"$work/setup.log" 2>&1
wait "$migration"; status=$?
before=$(a_total)
[ $status -ne 0 ] && vp_wait_for 10 rising_on_a && published_on "$URL_A" running
vp_ok $? "domjobabort mid-migration: the migration fails ($(tail -1 "$work/abort.log")) and A keeps counting"

# Host B dies in the middle of a migration to it: its libvirtd, then the QEMU that was receiving
# (killing libvirtd alone leaves that QEMU taking the stream at 1 MiB/s for minutes).
virsh -c "$URI_A" migrate --live --bandwidth 1 "$vm" "$URI_B" --migrateuri "tcp://127.0.0.1:$(vp_free_port)" \
  >"$work/kill.log" 2>&1 &
migration=$!
vp_wait_for 10 migrating || bail "the migration to B did not start"
b_incoming () { [ "$(vm_json "$URL_B" "v is not None")" = True ]; }
vp_wait_for 10 b_incoming
b_seen=$(vm_json "$URL_B" "v['zones'][0]['total_uj']")
kill -KILL "$(cat "$bdir/libvirtd.pid")"
kill -KILL "$(cat "$bdir/run/qemu/$vm.pid")"
wait "$migration"; status=$?
before=$(a_total)
b_ticks=$(vp_get "$URL_B/api/v1/host" | vp_json 'd["ticks"]')
[ $status -ne 0 ] && vp_wait_for 10 rising_on_a && published_on "$URL_A" running
vp_ok $? "host B (libvirtd and the receiving QEMU) killed mid-migration: the migration fails and A keeps counting"
lost_once () { [ "$(grep -c 'libvirt: connection to .* lost' "$work/vpowerd-b.log")" = 1 ]; }
b_now=$(vm_json "$URL_B" "v and v['zones'][0]['total_uj']")
vp_diag "B: VM total $b_seen -> $b_now µJ; $(grep -c 'libvirt: connection to .* lost' "$work/vpowerd-b.log") loss lines"
vp_wait_for 10 b_more && vp_wait_for 10 lost_once && kill -0 "$B_PID" && [ "$b_now" = "$b_seen" ]
vp_ok $? "B's vpowerd logs the loss once, keeps ticking, and charges the half-arrived VM nothing"

# --- The run, as the guest saw it and as the hosts counted it.
vp_wait_for 90 console_has '^VP-DONE' || bail "the guest did not finish"
shut_off () { [ "$(virsh -c "$URI_A" domstate "$vm" 2>/dev/null)" = "shut off" ] && published_on "$URL_A" shutoff; }
vp_wait_for 30 shut_off || bail "the guest did not power off"
touch "$work/stop-recording"
! console_has '^VP-ERROR'
vp_ok $? "the guest's reads never failed"
max=$(cat "$work/rapl-a/intel-rapl:0/max_energy_range_uj")
python3 - "$(values | tr '\n' ' ')" "$max" <<'PY'
import sys
v, m = [int(x) for x in sys.argv[1].split()], int(sys.argv[2])
bad = [(a, b) for a, b in zip(v, v[1:]) if b < a and not (a > m // 2 and b < m // 2)]   # a wrap is no decrease
print(f"# {len(v)} reads, {len(set(v))} distinct, decreases {bad[:3]}")
sys.exit(1 if bad or len(v) < 50 else 0)
PY
vp_ok $? "and never went back"
console_has '^VP-STATUS origin_changes 6' && ! console_has 'replayed or out-of-order'
vp_ok $? "the guest saw exactly 6 changes of origin (the 6 migrations; the failed ones went unnoticed) and no replay"

# Guest total = A's attribution from the guest's first read to the end + B's (kept as departed).
a_final=$(vm_json "$URL_A" "v['zones'][0]['total_uj']")
# B's: kept as departed, or (after B's libvirtd died with the VM half-arrived) still listed there.
b_final=$(python3 -c '
import json, sys, urllib.request
get = lambda path: json.load(urllib.request.urlopen(sys.argv[1] + path, timeout=5))
print(get("/api/v1/host")["zones"][0]["departed_vms_uj"] + sum(v["zones"][0]["total_uj"] for v in get("/api/v1/vms")["vms"]))' "$URL_B")
python3 - "$(values | tr '\n' ' ')" "$max" "$work/record" "$a_final" "$b_final" <<'PY'
import sys
v, m, record, a_final, b_final = sys.argv[1].split(), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
v = [int(x) for x in v]
guest = sum((b - a) % m for a, b in zip(v, v[1:]))
a_start = None
for line in open(record):
    t, host, present, total, shown, epoch = line.split()
    if host == "A" and present == "1" and int(shown) == v[0]:
        a_start = int(total)
        break
hosts = (a_final - a_start) + b_final
print(f"# guest counted {guest / 1e6:.3f} J; A {(a_final - a_start) / 1e6:.3f} J + B {b_final / 1e6:.3f} J = {hosts / 1e6:.3f} J; "
      f"ratio {guest / hosts:.3f}")
sys.exit(0 if b_final > 0 and abs(guest - hosts) <= 0.10 * hosts else 1)
PY
vp_ok $? "the guest's total over the run agrees with A's plus B's attribution for it within 10%"

# Each host's books, from one /metrics answer: VMs + VMs that left + host processes + unattributed = host.
vp_books_conserve "$URL_A" 3 && vp_books_conserve "$URL_B" 3
vp_ok $? "each host's books conserve exactly on every zone (the VM's energy on B kept there as departed)"

# departed-retention: B's vpowerd, restarted with 0 days (and B's libvirtd still dead), forgets the
# counters it kept for the VM, and says so once.
kill -TERM "$B_PID"; wait "$B_PID"; B_PID=
"$VPOWERD" --foreground --listen "127.0.0.1:$port_b" --connect "$URI_B" --host-id host-b --no-mount \
  --runtime-dir "$work/run-b2" --powercap-root "$work/rapl-b" --state-dir "$work/state-b" "${common[@]}" \
  --departed-retention 0 >>"$work/vpowerd-b2.log" 2>&1 &
B_PID=$!
forgotten () { [ "$(vp_get "$URL_B/api/v1/host" 2>/dev/null | vp_json 'd["vms_departed"], d["ticks"] > 2')" = "0 True" ]; }
vp_wait_for 20 forgotten && [ "$(grep -c "left .* days ago and has not come back; forgetting its counters" "$work/vpowerd-b2.log")" = 1 ]
vp_ok $? "departed-retention 0: B forgets the counters it kept for the VM, and logs it once"

grep -E 'migrat|left|back|arriv|resumed|lost' "$work/vpowerd-a.log" | sed 's/^/# A: /' | tail -14
grep -E 'migrat|left|back|arriv|resumed|lost|gone' "$work/vpowerd-b.log" | sed 's/^/# B: /' | tail -14
vp_finish
