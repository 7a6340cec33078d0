#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 1: install what is needed, build and install, and run vpowerd in the
# foreground. Idempotent. `--help` says how; options it does not know go to vpowerd.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build

usage () {
  cat <<'EOF'
usage: scripts/quickstart.sh [--scratch DIR] [VPOWERD-OPTION...]

Installs the Debian packages vpower needs, configures and builds it in ./build, installs it in
Debian's layout (/usr/sbin, /etc/vpower, /lib/systemd/system, man pages) and runs vpowerd in
the foreground. Ctrl-C or SIGTERM stops it and saves the counters. Other options go to vpowerd
(e.g. -v, --inventory static:FILE; see vpowerd --help).

  --scratch DIR  install under DIR instead of /, and run that vpowerd with its configuration,
                 tree, counters and control socket under DIR and HTTP on a free port: the
                 machine's /usr, /etc/vpower, /var/lib/vpower and an installed vpowerd are left
                 alone. It still asks the system's libvirtd for VMs (--inventory changes that).
                 The test suite runs it this way (tests/newcomer.sh).
EOF
}
scratch=''
while [ $# -gt 0 ]; do
  case $1 in
    --scratch) [ $# -ge 2 ] || { echo "quickstart: --scratch wants a directory" >&2; exit 2; }; scratch=$2; shift ;;
    --scratch=*) scratch=${1#--scratch=} ;;
    -h|--help) usage; exit 0 ;;
    *) break ;;   # the rest is vpowerd's
  esac
  shift
done
[ -z "$scratch" ] || { mkdir -p "$scratch" && scratch=$(cd "$scratch" && pwd); }

"$src/scripts/install-deps.sh" build
if [ ! -x "$build/config.status" ]; then
  (cd "$src" && autoreconf -fi)
  mkdir -p "$build"
  (cd "$build" && "$src/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var)
fi
if [ -z "$scratch" ]; then
  # Installs vpowerd, vpowerctl, the agent, the hook, man pages, the sample
  # /etc/vpower/vpowerd.conf and the systemd units (Debian's layout).
  make -C "$build" -j"$(nproc)" install
  echo "quickstart: starting vpowerd in the foreground (Ctrl-C stops it and saves the counters);"
  echo "quickstart: in another terminal: vpowerctl status, vpowerctl list, man vpowerctl"
  exec /usr/sbin/vpowerd --foreground "$@"
fi

# The same installation under DIR, and every path vpowerd writes or listens on moved there.
make -C "$build" -j"$(nproc)" install DESTDIR="$scratch"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runtime=$scratch/run/vpower
echo "quickstart: starting vpowerd from $scratch in the foreground, http://127.0.0.1:$port (Ctrl-C stops it);"
echo "quickstart: in another terminal: $scratch/usr/sbin/vpowerctl --socket $runtime/control.sock status"
exec "$scratch/usr/sbin/vpowerd" --foreground --config "$scratch/etc/vpower/vpowerd.conf" \
  --mount "$scratch/var/lib/vpower" --state-dir "$scratch/var/lib/vpowerd" --runtime-dir "$runtime" \
  --listen "127.0.0.1:$port" "$@"
