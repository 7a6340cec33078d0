#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole product in one command (issue 5): a real TCG guest under libvirt reads its own RAPL
# counters through vpower-agent while vpowerd attributes the host's energy to it. Prints, once a
# second, what the host publishes for the VM next to what the guest reads.
#   scripts/demo.sh [--seconds N] [--9p|--virtiofs|--channel] [--build DIR]
# With --channel (issue 12) the counters go over the virtio-serial channel, and halfway through
# the VM is saved (virsh save) and restored, to show the guest's counter carrying on.
# Runs as root. Installs what it needs, starts libvirtd if it is not running, and runs its own
# vpowerd on temporary directories and a free port, so an operator's vpowerd is left alone.
# Binaries: $VPOWERD and $VPOWER_AGENT if set, else DIR (default ./build, built there if empty).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
URI=qemu:///system

usage () { echo "usage: demo.sh [--seconds N] [--9p|--virtiofs|--channel] [--build DIR]" >&2; exit 2; }
seconds=15 share=9p build=$src/build
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) [ $# -ge 2 ] || usage; seconds=$2; shift ;;
    --seconds=*) seconds=${1#--seconds=} ;;
    --9p) share=9p ;;
    --virtiofs) share=virtiofs ;;
    --channel) share=channel ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift ;;
    --build=*) build=${1#--build=} ;;
    -h|--help) usage ;;
    *) echo "demo: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "demo: --seconds wants a positive integer, not '$seconds'" >&2; exit 2; }

# die MESSAGE: the one line that says why the demo failed; the EXIT trap cleans up.
die () { echo "demo: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (FUSE mount, libvirtd, QEMU)"

# say: progress goes to stderr so that stdout holds the table alone.
say () { echo "demo: $*" >&2; }

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

# --- cleanup: always, whatever happened (trap on EXIT; INT and TERM exit through it) ---
vm=vpower-demo-$$
work='' vp_pid='' recorder_pid=''
cleanup () {
  local status=$?
  trap - EXIT INT TERM
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
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# exited PID: the child has exited (it stays a zombie, which kill -0 still finds, until waited for).
exited () { local state; ! read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || [ "$state" = Z ]; }

# --- what it needs: packages, libvirtd, binaries, the guest ---
say "installing packages and starting libvirtd"
"$src/scripts/install-deps.sh" test >/dev/null || die "cannot install the packages (scripts/install-deps.sh test)"
"$src/scripts/setup-libvirtd.sh" >/dev/null || die "libvirtd did not start (scripts/setup-libvirtd.sh)"

# Like quickstart.sh: configure once, then build only the two programs. A git
# checkout has no configure yet; a release tarball has one, and keeps it.
if [ -z "${VPOWERD:-}" ] || [ -z "${VPOWER_AGENT:-}" ]; then
  if [ ! -x "$build/vpowerd" ] || [ ! -x "$build/vpower-agent" ]; then
    say "building vpowerd and vpower-agent in $build"
    if [ ! -x "$build/config.status" ]; then
      [ -x "$src/configure" ] || (cd "$src" && autoreconf -fi) >/dev/null 2>&1 || die "autoreconf failed in $src"
      mkdir -p "$build"
      (cd "$build" && "$src/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var) >/dev/null ||
        die "configure failed in $build"
    fi
    make -C "$build" -j"$(nproc)" vpowerd vpower-agent >/dev/null || die "the build failed in $build"
  fi
fi
VPOWERD=${VPOWERD:-$build/vpowerd}
VPOWER_AGENT=${VPOWER_AGENT:-$build/vpower-agent}
[ -x "$VPOWERD" ] || die "no vpowerd at $VPOWERD"
[ -x "$VPOWER_AGENT" ] || die "no vpower-agent at $VPOWER_AGENT"
# A libtool wrapper is a shell script: the guest needs the real program beside it.
agent_binary=$VPOWER_AGENT
if ! head -c 4 "$agent_binary" | grep -q ELF; then
  agent_binary=$(dirname "$VPOWER_AGENT")/.libs/$(basename "$VPOWER_AGENT")
  [ -x "$agent_binary" ] || die "$VPOWER_AGENT is not a program and there is no $agent_binary"
fi

work=$(mktemp -d -t vpower-demo.XXXXXX)
# QEMU and its 9p server reach the kernel, initramfs and console file in here.
chmod 755 "$work"
guest=$work/guest
mkdir -p "$guest" "$work/state" "$work/run"
cache=${VP_GUEST_CACHE:-$src/build-guest-cache}
say "building the guest kernel and initramfs (cached in $cache) with vpower-agent in it"
"$src/tests/guest/build-guest.sh" "$cache" >"$work/setup.log" 2>&1 ||
  { cat "$work/setup.log" >&2; die "cannot build the guest (tests/guest/build-guest.sh)"; }
"$src/tests/guest/agent-overlay.sh" "$work/agent.cpio.gz" "$agent_binary" >>"$work/setup.log" 2>&1 ||
  { cat "$work/setup.log" >&2; die "cannot build the agent overlay (tests/guest/agent-overlay.sh)"; }
cp "$cache/vmlinux" "$guest/"
# The kernel unpacks concatenated archives in order: the overlay lands on the base.
cat "$cache/initramfs.gz" "$work/agent.cpio.gz" >"$guest/initramfs.gz"

# --- our own vpowerd: temporary mount, state and runtime directories, a free port ---
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
mnt=$work/mnt
# An empty config file: an operator's /etc/vpower/vpowerd.conf must not change the demo.
: >"$work/vpowerd.conf"
say "starting vpowerd (mount $mnt, http $url)"
"$VPOWERD" --foreground --config "$work/vpowerd.conf" --inventory libvirt --connect "$URI" \
  --sensor auto --interval 1 --mount "$mnt" --state-dir "$work/state" --runtime-dir "$work/run" \
  --listen "127.0.0.1:$port" >"$work/vpowerd.log" 2>&1 &
vp_pid=$!
vpowerd_alive () { ! exited "$vp_pid"; }
# check_vpowerd: a vpowerd that exited will not come back: say so at once, after its last words.
check_vpowerd () {
  vpowerd_alive && return 0
  local status
  wait "$vp_pid"
  status=$?
  vp_pid=
  tail -20 "$work/vpowerd.log" >&2
  die "vpowerd exited with status $status"
}
healthy () { check_vpowerd; curl -fsS --max-time 2 -o /dev/null "$url/healthz" 2>/dev/null; }
wait_for 30 healthy || { tail -20 "$work/vpowerd.log" >&2; die "vpowerd did not answer on $url/healthz"; }

# The engine publishes a directory for every defined domain: define first, and
# start once the directory is there (libvirt refuses a missing share source).
say "defining $vm ($share) and waiting for its directory"
share_dir=$mnt/$vm
[ "$share" != channel ] || share_dir=''
VP_GUEST_ARGS="vp.seconds=$((seconds + 3)) vp.load=3" \
  "$src/tests/guest/domain.sh" "$vm" demo "$guest" "$share_dir" "$share" >"$work/$vm.xml" ||
  die "cannot write the domain XML (tests/guest/domain.sh)"
virsh -c "$URI" define "$work/$vm.xml" >>"$work/setup.log" 2>&1 ||
  { tail -5 "$work/setup.log" >&2; die "virsh define $vm failed"; }
has_dir () { check_vpowerd; [ -r "$mnt/$vm/intel-rapl:0/energy_uj" ]; }
wait_for 15 has_dir || { tail -20 "$work/vpowerd.log" >&2; die "vpowerd published no directory for $vm"; }

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
virsh -c "$URI" start "$vm" >>"$work/setup.log" 2>&1 || { tail -5 "$work/setup.log" >&2; die "virsh start $vm failed"; }

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
  running || { tail -20 "$console" >&2; die "the guest stopped before the demo ended"; }
}
sampling () { check_alive; demo_lines | grep -q .; }
wait_for 120 sampling || { tail -20 "$console" >&2; die "the guest printed no sample within 120 s"; }

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
    virsh -c "$URI" save "$vm" "$work/$vm.save" >>"$work/setup.log" 2>&1 ||
      { tail -5 "$work/setup.log" >&2; die "virsh save $vm failed"; }
    virsh -c "$URI" restore "$work/$vm.save" >>"$work/setup.log" 2>&1 ||
      { tail -5 "$work/setup.log" >&2; die "virsh restore $vm failed"; }
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
