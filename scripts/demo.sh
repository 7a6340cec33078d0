#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole product in one command (issue 5): a real TCG guest under libvirt reads its own RAPL
# counters through vpower-agent while vpowerd attributes the host's energy to it. Prints, once a
# second, what the host publishes for the VM next to what the guest reads. `--help` says how.
# Runs as root. Installs what it needs, starts libvirtd if it is not running, and runs its own
# vpowerd on temporary directories and a free port, so an operator's vpowerd is left alone.
# However it ends (done, failed, Ctrl-C), it removes its VM, its vpowerd and its mount. A failure
# is one line, "demo: FAILED: WHY (logs: DIR)", and DIR keeps the run's logs and guest console.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
URI=qemu:///system

usage () {
  cat <<'EOF'
usage: scripts/demo.sh [--9p|--virtiofs|--channel] [--seconds N] [--port N] [--build DIR]

Boots a tiny TCG guest under libvirt with vpower-agent in it, and prints once a second what
vpowerd attributes to the VM next to what the guest reads from its own /sys/class/powercap.

  --9p          the counters reach the guest over a 9p share (the default)
  --virtiofs    over a virtiofs share
  --channel     over the virtio-serial channel; halfway through, the VM is saved and restored
  --seconds N   how long the table runs (default 15)
  --port N      the demo's vpowerd serves HTTP on 127.0.0.1:N while it runs (default: a free port)
  --build DIR   build in DIR and run the programs from there (default: ./build; configured if new)

$VPOWERD and $VPOWER_AGENT name programs to run instead of building them; the agent's tree
server is $VPOWER_AGENT_TREE, or vpower-agent-tree beside the agent. Runs as root: it installs
the Debian packages it needs and starts libvirtd if it is not running.
EOF
}
bad_usage () { echo "demo: $*" >&2; usage >&2; exit 2; }
seconds=15 share=9p build=$src/build port=''
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) [ $# -ge 2 ] || bad_usage "--seconds wants a value"; seconds=$2; shift ;;
    --seconds=*) seconds=${1#--seconds=} ;;
    --port) [ $# -ge 2 ] || bad_usage "--port wants a value"; port=$2; shift ;;
    --port=*) port=${1#--port=} ;;
    --9p) share=9p ;;
    --virtiofs) share=virtiofs ;;
    --channel) share=channel ;;
    --build) [ $# -ge 2 ] || bad_usage "--build wants a directory"; build=$2; shift ;;
    --build=*) build=${1#--build=} ;;
    -h|--help) usage; exit 0 ;;
    *) bad_usage "unknown argument '$1'" ;;
  esac
  shift
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || bad_usage "--seconds wants a positive integer, not '$seconds'"
[ -z "$port" ] || { [[ $port =~ ^[1-9][0-9]{0,4}$ ]] && [ "$port" -le 65535 ]; } ||
  bad_usage "--port wants a port number from 1 to 65535, not '$port'"
[ "$(id -u)" -eq 0 ] || { echo "demo: FAILED: run as root (FUSE mount, libvirtd, QEMU)" >&2; exit 1; }

# Every step logs here. Removed when the demo succeeds or is interrupted; kept, and named in the
# failure line, when it fails.
logs=$(mktemp -d -t vpower-demo-logs.XXXXXX)

# say: progress goes to stderr so that stdout holds the table alone.
say () { echo "demo: $*" >&2; }

# die MESSAGE: the one line that says why the demo failed; the EXIT trap cleans up.
console=''
die () {
  [ -z "$console" ] || [ ! -f "$console" ] || tr -d '\r' <"$console" >"$logs/guest-console.log"
  echo "demo: FAILED: $*$(ls -A "$logs" | grep -q . && echo " (logs: $logs)")" >&2
  exit 1
}

# last_line PREFIX FILE: the last line of FILE that starts with PREFIX, without it: the one line
# a helper script gave as its reason (they all end with "NAME: reason" on failure).
last_line () { sed -n "s/^$1//p" "$2" | tail -n 1; }

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds or the deadline
# passes (synchronisation by polling, never a fixed sleep).
wait_for () {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# exited PID: the child has exited (it stays a zombie, which kill -0 still finds, until waited for).
exited () { local state; ! read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || [ "$state" = Z ]; }

# --- cleanup: always, whatever happened (trap on EXIT; INT and TERM exit through it) ---
vm=vpower-demo-$$
work='' vp_pid='' recorder_pid=''
cleanup () {
  local status=$?
  # Finish the cleanup even if Ctrl-C is pressed again: each step below has its own deadline.
  trap '' INT TERM
  trap - EXIT
  # The guest first: while it runs, vpowerd keeps serving it after SIGTERM.
  if virsh -c "$URI" dominfo "$vm" >/dev/null 2>&1; then
    virsh -c "$URI" destroy "$vm" >/dev/null 2>&1
    virsh -c "$URI" undefine "$vm" >/dev/null 2>&1 || say "cannot undefine $vm: remove it with virsh undefine"
  fi
  [ -z "$work" ] || rm -f "$work/$vm.save"
  [ -z "$recorder_pid" ] || { kill "$recorder_pid" 2>/dev/null; wait "$recorder_pid" 2>/dev/null; }
  if [ -n "$vp_pid" ]; then
    kill -TERM "$vp_pid" 2>/dev/null
    # A second SIGTERM makes vpowerd exit at once should a guest still hold the mount.
    wait_for 15 exited "$vp_pid" || { kill -TERM "$vp_pid" 2>/dev/null; wait_for 5 exited "$vp_pid"; } ||
      kill -KILL "$vp_pid" 2>/dev/null
    wait "$vp_pid" 2>/dev/null
  fi
  if [ -n "$work" ]; then
    # A vpowerd that died hard leaves its mount behind: never rm -rf into it.
    if mountpoint -q "$work/mnt" 2>/dev/null; then
      umount "$work/mnt" 2>/dev/null || umount -l "$work/mnt" 2>/dev/null || say "cannot unmount $work/mnt"
    fi
    mountpoint -q "$work/mnt" 2>/dev/null || rm -rf --one-file-system "$work"
  fi
  # A failure keeps its logs (die named them); success and Ctrl-C leave nothing behind.
  case $status in 0|130|143) rm -rf "$logs" ;; *) ls -A "$logs" | grep -q . || rm -rf "$logs" ;; esac
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted: removing the VM and stopping vpowerd"; exit 130' INT
trap 'say "terminated: removing the VM and stopping vpowerd"; exit 143' TERM

# --- what it needs: packages, libvirtd, binaries, the guest ---
say "installing packages and starting libvirtd"
"$src/scripts/install-deps.sh" test >"$logs/packages.log" 2>&1 ||
  die "cannot install the packages the demo needs: $(last_line 'install-deps: ' "$logs/packages.log")"
"$src/scripts/setup-libvirtd.sh" >"$logs/libvirtd.log" 2>&1 ||
  die "libvirtd did not start: $(last_line 'setup-libvirtd: ' "$logs/libvirtd.log")"

# Configure once, like quickstart.sh, then make every program: make is quick when nothing changed,
# and the demo then always runs the code in this tree. A git checkout has no configure yet; a
# release tarball has one, and keeps it.
if [ -z "${VPOWERD:-}" ] || [ -z "${VPOWER_AGENT:-}" ]; then
  if [ ! -x "$build/config.status" ]; then
    say "configuring a build in $build"
    if [ ! -x "$src/configure" ]; then
      (cd "$src" && autoreconf -fi) >"$logs/autoreconf.log" 2>&1 ||
        die "autoreconf failed in $src: $(tail -n 1 "$logs/autoreconf.log")"
    fi
    mkdir -p "$build" || die "cannot create $build"
    (cd "$build" && "$src/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var) >"$logs/configure.log" 2>&1 ||
      die "configure failed in $build: $(last_line 'configure: error: ' "$logs/configure.log")"
  fi
  say "building vpower in $build"
  make -C "$build" -j"$(nproc)" all >"$logs/build.log" 2>&1 ||
    die "the build failed in $build: $(grep -m1 -E 'error:|Error [0-9]+' "$logs/build.log")"
fi
VPOWERD=${VPOWERD:-$build/vpowerd}
VPOWER_AGENT=${VPOWER_AGENT:-$build/vpower-agent}
VPOWER_AGENT_TREE=${VPOWER_AGENT_TREE:-$(dirname "$VPOWER_AGENT")/vpower-agent-tree}
# real_program PATH: the program itself; for a libtool wrapper (a shell script), the one in .libs.
real_program () {
  if head -c 4 "$1" 2>/dev/null | grep -q ELF; then echo "$1"; else echo "$(dirname "$1")/.libs/$(basename "$1")"; fi
}
for program in "$VPOWERD" "$VPOWER_AGENT" "$VPOWER_AGENT_TREE"; do
  [ -x "$program" ] || die "no program at $program"
done
# The guest gets the agent and its tree server as files, so the real programs.
agent_binary=$(real_program "$VPOWER_AGENT")
tree_binary=$(real_program "$VPOWER_AGENT_TREE")
[ -x "$agent_binary" ] && [ -x "$tree_binary" ] || die "$VPOWER_AGENT or $VPOWER_AGENT_TREE is not a program"

work=$(mktemp -d -t vpower-demo.XXXXXX)
# QEMU and its 9p server reach the kernel, initramfs and console file in here.
chmod 755 "$work"
guest=$work/guest
mkdir -p "$guest" "$work/state" "$work/run"
cache=${VP_GUEST_CACHE:-$src/build-guest-cache}
say "building the guest kernel and initramfs (cached in $cache) with vpower-agent in it"
"$src/tests/guest/build-guest.sh" "$cache" >"$logs/guest.log" 2>&1 ||
  die "cannot build the guest: $(last_line 'build-guest: ' "$logs/guest.log")"
"$src/tests/guest/agent-overlay.sh" "$work/agent.cpio.gz" "$agent_binary" "$tree_binary" >>"$logs/guest.log" 2>&1 ||
  die "cannot put vpower-agent into the guest: $(last_line 'agent-overlay: ' "$logs/guest.log")"
cp "$cache/vmlinux" "$guest/"
# The kernel unpacks concatenated archives in order: the overlay lands on the base.
cat "$cache/initramfs.gz" "$work/agent.cpio.gz" >"$guest/initramfs.gz"

# --- our own vpowerd: temporary mount, state and runtime directories, a free port ---
[ -n "$port" ] || port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
mnt=$work/mnt
# An empty config file: an operator's /etc/vpower/vpowerd.conf must not change the demo.
: >"$work/vpowerd.conf"
say "starting vpowerd (mount $mnt, http $url)"
"$VPOWERD" --foreground --config "$work/vpowerd.conf" --inventory libvirt --connect "$URI" \
  --sensor auto --interval 1 --mount "$mnt" --state-dir "$work/state" --runtime-dir "$work/run" \
  --listen "127.0.0.1:$port" >"$logs/vpowerd.log" 2>&1 &
vp_pid=$!
vpowerd_alive () { ! exited "$vp_pid"; }
# check_vpowerd: a vpowerd that exited will not come back: say so at once, with its own reason
# (its first "error:" line, e.g. "cannot listen on 127.0.0.1:9782 (address in use, ...)").
check_vpowerd () {
  vpowerd_alive && return 0
  local status reason
  wait "$vp_pid"
  status=$?
  vp_pid=
  reason=$(sed -n 's/^[a-z-]*: error: //p' "$logs/vpowerd.log" | head -n 1)
  die "vpowerd exited with status $status${reason:+: $reason}"
}
healthy () { check_vpowerd; curl -fsS --max-time 2 -o /dev/null "$url/healthz" 2>/dev/null; }
wait_for 30 healthy || die "vpowerd did not answer on $url/healthz within 30 s"

# virsh_or_die WHAT ARGS...: run virsh; on failure, die with virsh's own last "error:" line.
virsh_or_die () {
  local what=$1
  shift
  virsh -c "$URI" "$@" >"$logs/virsh.out" 2>&1 && { cat "$logs/virsh.out" >>"$logs/virsh.log"; return 0; }
  cat "$logs/virsh.out" >>"$logs/virsh.log"
  die "virsh $what failed: $(last_line 'error: ' "$logs/virsh.out")"
}

# The engine publishes a directory for every defined domain: define first, and
# start once the directory is there (libvirt refuses a missing share source).
say "defining $vm ($share) and waiting for its directory"
share_dir=$mnt/$vm
[ "$share" != channel ] || share_dir=''
VP_GUEST_ARGS="vp.seconds=$((seconds + 3)) vp.load=3" \
  "$src/tests/guest/domain.sh" "$vm" demo "$guest" "$share_dir" "$share" >"$work/$vm.xml" 2>>"$logs/guest.log" ||
  die "cannot write the domain XML: $(tail -n 1 "$logs/guest.log")"
virsh_or_die "define $vm" define "$work/$vm.xml"
has_dir () { check_vpowerd; [ -r "$mnt/$vm/intel-rapl:0/energy_uj" ]; }
wait_for 15 has_dir || die "vpowerd published no directory for $vm within 15 s"

# Every value vpowerd publishes for the VM's package zone, once per tick:
#   TICKS TIME ENERGY_UJ POWER_W
# The table shows the newest; the summary checks the guest's values against all of them.
# Touching the stop file makes it take one last sample and exit.
python3 - "$url" "$vm" "$work/published" "$work/stop-recording" <<'PY' &
import json, os, sys, time, urllib.request
url, name, out, stop = sys.argv[1:5]
last = None
with open(out, "w") as f:
    while True:
        stopping = os.path.exists(stop)
        try:
            d = json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=2))
            if d["ticks"] != last:
                for vm in d["vms"]:
                    for z in vm["zones"] if vm["name"] == name else []:
                        if z["index"] == "0":
                            f.write(f'{d["ticks"]} {time.time():.3f} {z["energy_uj"]} {z["power_w"]:.3f}\n')
                            f.flush()
                            last = d["ticks"]
        except Exception:
            pass
        if stopping:
            break
        time.sleep(0.1)
PY
recorder_pid=$!

console=$guest/$vm.console
rm -f "$console"
say "starting $vm (TCG: the guest takes some seconds to boot)"
virsh_or_die "start $vm" start "$vm"

# Console lines, without the serial line's carriage returns. Only complete
# VP-DEMO lines count: the last one may still be being written.
demo_lines () { tr -d '\r' <"$console" 2>/dev/null | grep -E '^VP-DEMO [0-9.]+ [0-9]+ [0-9.]+ (busy|idle)$'; }
guest_error () { tr -d '\r' <"$console" 2>/dev/null | grep -m1 '^VP-ERROR'; }
running () { [ "$(virsh -c "$URI" domstate "$vm" 2>/dev/null)" = running ]; }
# check_alive: fail on the first sign of trouble, with the reason.
check_alive () {
  local error
  error=$(guest_error) && die "the guest says: ${error#VP-ERROR }"
  check_vpowerd
  running || die "the guest stopped before the demo ended"
}
sampling () { check_alive; [ -n "$(demo_lines)" ]; }
wait_for 120 sampling || die "the guest printed no sample within 120 s"

# --- the table: one row a second ---
read -r sensor estimated policy < <(curl -fsS --max-time 2 "$url/api/v1/host" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["sensor"], str(d["estimated"]).lower(), d["policy"])')
echo "vpower demo: VM $vm, $([ "$share" = channel ] && echo "virtio-serial channel" || echo "$share share"); vpowerd $url, sensor ${sensor:-?}$([ "${estimated:-}" = true ] && echo " (estimated)"), policy ${policy:-?}"
tr -d '\r' <"$console" | sed -n 's/^VP-MOUNT /guest: /p'
echo "HOST:  the VM's package zone (intel-rapl:0) as vpowerd publishes it in /api/v1/vms"
echo "GUEST: the same zone as vpower-agent in the VM reads it from /sys/class/powercap;"
echo "       load: what the guest's CPU was doing (busy and idle alternate every 3 s)."
echo "A guest sample spans 1 s, so the guest's value trails the host's by about a row."
echo
# watts NUMBER: two decimals, or "-" while there is no value yet.
watts () { if [ -n "$1" ]; then printf '%.2f' "$1"; else printf -- -; fi; }
printf '%6s %-28s |  %s\n' "" "     HOST: vpowerd for the VM" "   GUEST: vpower-agent in the VM"
printf '%6s %10s %17s |%17s %10s  %s\n' time watts energy_uj energy_uj watts load
start_ns=$(date +%s%N)
for ((row = 1; row <= seconds; row++)); do
  # With the channel, save and restore the VM halfway: it would be refused with a mounted share.
  if [ "$share" = channel ] && [ "$row" -eq $((seconds / 2 + 1)) ]; then
    echo "       --- virsh save $vm, then virsh restore: the guest's counter carries on ---"
    virsh_or_die "save $vm" save "$vm" "$work/$vm.save"
    virsh_or_die "restore $vm" restore "$work/$vm.save"
    rm -f "$work/$vm.save"
    # The rows go on from now: the guest's clock stood still while it was saved.
    start_ns=$(( $(date +%s%N) - (row - 1) * 1000000000 ))
  fi
  # Pace the rows on the start time, so the loop's own work does not drift them.
  next_ns=$((start_ns + row * 1000000000))
  now_ns=$(date +%s%N)
  wait_ns=$((next_ns - now_ns))
  [ "$wait_ns" -le 0 ] || sleep "$((wait_ns / 1000000000)).$(printf '%09d' $((wait_ns % 1000000000)))"
  check_alive
  host_uj='' host_w='' guest_uj='' guest_w='' load=''
  read -r _ _ host_uj host_w < <(tail -n 1 "$work/published")
  read -r _ _ guest_uj guest_w load < <(demo_lines | tail -n 1)
  printf '%4d s %10s %17s |%17s %10s  %s\n' "$row" "$(watts "$host_w")" "${host_uj:--}" \
    "${guest_uj:--}" "$(watts "$guest_w")" "${load:--}"
done

# --- the claim: every value the guest read is one the host published for it ---
demo_lines >"$work/guest-values"
touch "$work/stop-recording"
wait "$recorder_pid"
recorder_pid=
read -r count unknown < <(awk '
  FNR == NR { published[$3] = 1; next }
  { n++; if (!($3 in published)) bad = bad (bad ? "," : "") $3 }
  END { print n + 0, (bad == "" ? "-" : bad) }' "$work/published" "$work/guest-values")
[ "$unknown" = - ] || die "the guest read energy_uj values vpowerd never published for $vm: $unknown"
echo
echo "demo: the guest read $count values, every one of them published by the host for $vm"
