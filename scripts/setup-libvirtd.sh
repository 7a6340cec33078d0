#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bring up a root-run libvirtd with the QEMU driver on a machine without systemd (idempotent).
set -euo pipefail

die () { echo "setup-libvirtd: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root"

# Only the minimal hypervisor set (see install-deps.sh for why).
if ! reason=$("$(dirname "$0")/install-deps.sh" libvirt 2>&1 >/dev/null); then
  die "cannot install libvirtd and QEMU: ${reason#install-deps: }"
fi

# The QEMU driver resolves its built-in default user and group (both
# libvirt-qemu on Debian) before it reads qemu.conf, and refuses to load if
# either is missing, even though we run QEMU as root (as libvirt-qemu it
# re-probes QEMU on every call).
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd -r -g kvm -d /var/lib/libvirt -M -s /usr/sbin/nologin libvirt-qemu
# Without the log directory `libvirtd -d` exits at once.
mkdir -p /var/log/libvirt

# set_conf KEY VALUE: make qemu.conf say KEY = "VALUE" exactly once, replacing
# any earlier (commented or not) setting so reruns do not pile up lines.
conf=/etc/libvirt/qemu.conf
set_conf () {
  touch "$conf"
  if grep -qE "^[[:space:]]*$1[[:space:]]*=" "$conf"; then
    sed -i -E "s|^[[:space:]]*$1[[:space:]]*=.*|$1 = \"$2\"|" "$conf"
  else
    echo "$1 = \"$2\"" >>"$conf"
  fi
}
set_conf user root
set_conf group root
set_conf stdio_handler file   # otherwise virtlogd must run too

# Running means the pidfile names a live libvirtd. kill -0 alone is not
# enough: PID 1 here may be slow to reap, and a dead libvirtd stays a zombie.
running=false
pid=$(cat /run/libvirtd.pid 2>/dev/null || true)
if [ -n "$pid" ] && read -r _ comm state _ 2>/dev/null <"/proc/$pid/stat" &&
   [ "$comm" = "(libvirtd)" ] && [ "$state" != Z ]; then
  running=true
fi
if ! $running; then
  # libvirtd checks its configuration before it daemonises, and says why it refuses on stderr:
  # "... error : main:918 : Can't load config file: ...". That reason is the one line to show.
  # (A file, not $(...): the daemon must not hold a pipe of ours open.)
  start_log=$(mktemp)
  if ! libvirtd -d >"$start_log" 2>&1; then
    reason=$(sed -n 's/.* error : [^ ]* : //p' "$start_log" | tail -n 1)
    rm -f "$start_log"
    die "libvirtd -d failed: ${reason:-no reason given; see /var/log/libvirt}"
  fi
  rm -f "$start_log"
fi

# libvirtd answers within a fraction of a second; poll rather than sleep.
deadline=$((SECONDS + 30))
until virsh -c qemu:///system uri >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || die "libvirtd did not answer on qemu:///system within 30 s"
  sleep 0.1
done
