#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A libvirtd run as Kolla-Ansible runs nova_libvirt: in a container of its own mount namespace and
# root (tests/helpers/container-root.sh: the host's /usr and /etc read-only, /var/lib/libvirt and
# /etc/libvirt its own volumes), with the host's PID namespace (pid_mode: host), the host's /run
# (a volume /run:/run) and its hooks directory bind-mounted from the host (nova_libvirt_extra_volumes).
# libvirt's qemu.conf is the host's: QEMU gets a mount namespace of its own, made from the
# container's.
#
#   kolla-libvirt.sh start DIR RUN-DIR HOOKS-DIR [HOST-DIR...]
#       starts it, its root in DIR/root. RUN-DIR (a directory under the host's /run) is its
#       /run/libvirt: on a Kolla host that is the host's own /run/libvirt, which this machine's
#       libvirtd holds. So its socket is RUN-DIR/libvirt-sock and its QEMU pidfiles are in
#       RUN-DIR/qemu, as the host sees them. HOOKS-DIR is its /etc/libvirt/hooks; each HOST-DIR is
#       bound in at its own path. Prints libvirtd's PID.
#   kolla-libvirt.sh stop DIR RUN-DIR
#       destroys its domains and stops libvirtd.
set -euo pipefail

die () { echo "kolla-libvirt: $*" >&2; exit 1; }
[ $# -ge 3 ] || die "usage: kolla-libvirt.sh start DIR RUN-DIR HOOKS-DIR [HOST-DIR...] | stop DIR RUN-DIR"
action=$1 dir=$2 run_dir=$3
uri="qemu+unix:///system?socket=$run_dir/libvirt-sock"
helpers=$(cd "$(dirname "$0")" && pwd)
. "$helpers/container-root.sh"

case $action in
  start)
    [ $# -ge 4 ] || die "usage: kolla-libvirt.sh start DIR RUN-DIR HOOKS-DIR [HOST-DIR...]"
    hooks=$4
    shift 4
    container_root_prepare "$dir" || die "cannot prepare the container's root"
    mkdir -p "$run_dir" "$dir/etc/hooks"
    cat >"$dir/etc/libvirtd.conf" <<CONF
host_uuid = "8d1c8a36-6f3e-4b0e-9b8e-00000000c011"
auth_unix_rw = "none"
auth_unix_ro = "none"
CONF
    root=$dir/root
    host_dirs=
    [ $# -eq 0 ] || host_dirs=$(printf " '%s'" "$@")
    unshare --mount --propagation private bash -c "
      . '$helpers/container-root.sh' && container_root_mount '$dir' &&
      mount --rbind /run '$root/run' && mount --bind '$run_dir' '$root/run/libvirt' &&
      mount --bind '$hooks' '$root/etc/libvirt/hooks' && container_root_volumes '$dir'$host_dirs &&
      exec chroot '$root' bash -c 'mount -t proc proc /proc && exec libvirtd -d -p /run/libvirt/libvirtd.pid'" \
      </dev/null >"$dir/container.log" 2>&1 || die "libvirtd did not start: $(tail -1 "$dir/container.log")"
    libvirtd_wait "$uri" || die "its libvirtd did not answer within 30 s"
    cat "$run_dir/libvirtd.pid"
    ;;
  stop)
    libvirtd_stop "$uri" "$run_dir/libvirtd.pid"
    ;;
  *) die "unknown action '$action'" ;;
esac
