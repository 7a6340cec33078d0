#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A second libvirtd on this machine, "host B" of a live-migration test bed
# (../shared/notes/real-components.md, "Two libvirtd instances on one machine").
#
#   libvirtd-b.sh start DIR   B runs in its own mount namespace, with its own
#                             /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
#                             /var/log/libvirt and /etc/libvirt (a copy of A's)
#                             under DIR, its own host_uuid and its socket in its
#                             run directory: DIR/run/libvirt-sock, beside its QEMU
#                             pidfiles in DIR/run/qemu, where vpowerd looks for them
#                             given that socket. Prints B's URI.
#                             With VP_B_HOOK=FILE, FILE is B's qemu hook.
#   libvirtd-b.sh stop DIR    stops B (and any QEMU it still runs).
#
# Run a program as B's host with: nsenter -m -r -t "$(cat DIR/libvirtd.pid)" PROGRAM... (-r: B's root
# directory too; entering a mount namespace resets it, which matters in a chroot)
set -euo pipefail

die () { echo "libvirtd-b: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: libvirtd-b.sh start|stop DIR"
action=$1 dir=$2
uri="qemu+unix:///system?socket=$dir/run/libvirt-sock"
. "$(dirname "$0")/container-root.sh"

case $action in
  start)
    mkdir -p "$dir"/{run,varlib,cache,log}
    rm -rf "$dir/etc" && cp -a /etc/libvirt "$dir/etc"
    # B must not run A's hooks (they would talk to A's vpowerd), nor know A's domains.
    rm -rf "$dir/etc/hooks" "$dir/etc/qemu/autostart"
    rm -f "$dir"/etc/qemu/*.xml
    # VP_B_HOOK=FILE: B's own qemu hook (libvirt looks for hooks only when it starts).
    if [ -n "${VP_B_HOOK:-}" ]; then
      mkdir -p "$dir/etc/hooks/qemu.d" && install -m 755 "$VP_B_HOOK" "$dir/etc/hooks/qemu.d/vpower"
    fi
    cat >"$dir/etc/libvirtd.conf" <<CONF
host_uuid = "8d1c8a36-6f3e-4b0e-9b8e-000000000b0b"
auth_unix_rw = "none"
auth_unix_ro = "none"
CONF
    # -p: /run/libvirtd.pid is A's.
    unshare -m --propagation private sh -c "
      mount --bind '$dir/run' /run/libvirt && mount --bind '$dir/varlib' /var/lib/libvirt &&
      mount --bind '$dir/cache' /var/cache/libvirt && mount --bind '$dir/log' /var/log/libvirt &&
      mount --bind '$dir/etc' /etc/libvirt && exec libvirtd -d -p '$dir/libvirtd.pid'" ||
      die "libvirtd B did not start"
    libvirtd_wait "$uri" || die "libvirtd B did not answer within 30 s"
    echo "$uri"
    ;;
  stop)
    libvirtd_stop "$uri" "$dir/libvirtd.pid"
    ;;
  *) die "unknown action '$action'" ;;
esac
