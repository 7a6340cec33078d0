#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A KubeVirt-shaped "pod" on this machine: its own mount and PID namespaces and its own root
# directory, as a container has (the host's /usr and /etc read-only in it, its own /run, /tmp and
# /var/lib/libvirt), and its own libvirtd (Debian has no virtqemud) with its socket at the pod's
# /run/libvirt/libvirt-sock and qemu.conf as KubeVirt's virt-launcher writes it
# (namespaces = [ ], cgroup_controllers = [ ]: QEMU stays in the pod's mounts). Host paths outside
# what is bound in do not exist in it, as in a real pod.
#
#   kubevirt-pod.sh start DIR HOST-UUID [HOST-DIR...]
#                         starts it, its root in DIR/root and its libvirt's directories under DIR,
#                         with each HOST-DIR bound in at the same path (the guest's kernel and
#                         console: a pod's volumes); prints the host PID of the pod's init (its PID
#                         1). Its libvirt: qemu+unix:///system?socket=/proc/PID/root/run/libvirt/libvirt-sock
#                         Run a command in it: nsenter -a -t PID COMMAND...
#   kubevirt-pod.sh stop DIR
#                         kills every process of the pod, as a deleted pod's are (SIGKILL to its
#                         PID 1 ends its PID namespace), and waits.
set -euo pipefail

die () { echo "kubevirt-pod: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: kubevirt-pod.sh start DIR HOST-UUID | stop DIR"
action=$1 dir=$2

case $action in
  start)
    [ $# -ge 3 ] || die "usage: kubevirt-pod.sh start DIR HOST-UUID [HOST-DIR...]"
    uuid=$3
    shift 3
    helpers=$(cd "$(dirname "$0")" && pwd)
    . "$helpers/container-root.sh"
    container_root_prepare "$dir" || die "cannot prepare the pod's root"
    conf=$dir/etc/qemu.conf
    sed -i -E '/^[[:space:]]*(namespaces|cgroup_controllers)[[:space:]]*=/d' "$conf"
    printf 'namespaces = [ ]\ncgroup_controllers = [ ]\n' >>"$conf"
    cat >"$dir/etc/libvirtd.conf" <<CONF
host_uuid = "$uuid"
auth_unix_rw = "none"
auth_unix_ro = "none"
CONF
    # PID 1 of the pod is a shell in the pod's root that reaps what is left to it (QEMU, once
    # libvirtd daemonised it) and waits to be killed.
    root=$dir/root
    host_dirs=
    [ $# -eq 0 ] || host_dirs=$(printf " '%s'" "$@")
    setsid unshare --mount --pid --fork --propagation private bash -c "
      . '$helpers/container-root.sh' && container_root_mount '$dir' &&
      mount -t tmpfs -o mode=755 pod-run '$root/run' && mount -t tmpfs -o mode=1777 pod-tmp '$root/tmp' &&
      container_root_volumes '$dir'$host_dirs &&
      exec chroot '$root' bash -c '
        mount -t proc proc /proc && mkdir -p /run/libvirt && libvirtd -d -p /run/libvirtd.pid || exit 1
        while :; do sleep 1; done'" </dev/null >"$dir/pod.log" 2>&1 &
    unshare_pid=$!
    deadline=$((SECONDS + 30))
    init=
    until [ -n "$init" ] && virsh -c "qemu+unix:///system?socket=/proc/$init/root/run/libvirt/libvirt-sock" uri \
            >/dev/null 2>&1; do
      kill -0 "$unshare_pid" 2>/dev/null || die "the pod exited: $(tail -1 "$dir/pod.log")"
      [ "$SECONDS" -lt "$deadline" ] || die "the pod's libvirtd did not answer within 30 s"
      init=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{ print $1 }')
      sleep 0.1
    done
    echo "$init" >"$dir/init.pid"
    echo "$init"
    ;;
  stop)
    [ -r "$dir/init.pid" ] || exit 0
    init=$(cat "$dir/init.pid")
    kill -KILL "$init" 2>/dev/null || true
    # Every process whose root is the pod's goes with its PID namespace.
    deadline=$((SECONDS + 20))
    while kill -0 "$init" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    rm -f "$dir/init.pid"
    ;;
  *) die "unknown action '$action'" ;;
esac
