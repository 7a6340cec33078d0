# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the helpers that run a libvirtd of their own (kubevirt-pod.sh, kolla-libvirt.sh and,
# for libvirtd_wait and libvirtd_stop, libvirtd-b.sh). The first two run it as a container does:
# its own root directory with the host's /usr and /etc read-only in it, as an image would give
# them, and libvirt's directories as the container's own volumes. Host paths outside what is bound
# in do not exist in it, as in a real container.

# container_root_prepare DIR: DIR/root, its mount points and links; DIR/etc, a copy of the host's
# /etc/libvirt without its hooks or domains; DIR/varlib, DIR/cache, DIR/log, libvirt's volumes.
container_root_prepare () {
  local dir=$1 link
  mkdir -p "$dir"/{varlib,cache,log} \
    "$dir/root"/{usr,etc,dev,proc,sys,run,tmp,var/lib/libvirt,var/cache/libvirt,var/log/libvirt} || return 1
  chmod 1777 "$dir/root/tmp"
  for link in bin sbin lib lib32 lib64; do
    [ -L "/$link" ] && ln -sfn "$(readlink "/$link")" "$dir/root/$link"
  done
  ln -sfn ../run "$dir/root/var/run"
  rm -rf "$dir/etc" && cp -a /etc/libvirt "$dir/etc" || return 1
  rm -rf "$dir/etc/hooks" "$dir/etc/qemu/autostart" "$dir/etc/qemu/networks/autostart"
  rm -f "$dir"/etc/qemu/*.xml
}

# container_root_mount DIR: in the container's new mount namespace, DIR/root as a mount, the
# host's /dev and /sys, its /usr and /etc read-only, libvirt's volumes. /proc, /run and /tmp are
# the caller's.
container_root_mount () {
  local dir=$1 root=$1/root
  # The root is a mount of its own, as a container's is (libvirt makes / a slave mount before it
  # gives QEMU a mount namespace, which fails on a plain directory).
  mount --bind "$root" "$root" &&
    mount --rbind /dev "$root/dev" && mount --rbind /sys "$root/sys" &&
    mount --bind /usr "$root/usr" && mount -o remount,bind,ro "$root/usr" &&
    mount --bind /etc "$root/etc" && mount -o remount,bind,ro "$root/etc" &&
    mount --bind "$dir/varlib" "$root/var/lib/libvirt" && mount --bind "$dir/cache" "$root/var/cache/libvirt" &&
    mount --bind "$dir/log" "$root/var/log/libvirt" && mount --bind "$dir/etc" "$root/etc/libvirt"
}

# container_root_volumes DIR HOST-DIR...: each HOST-DIR bound in at its own path (a container's
# extra volumes), over what the caller mounted.
container_root_volumes () {
  local root=$1/root host_dir
  shift
  for host_dir in "$@"; do
    mkdir -p "$root$host_dir" && mount --bind "$host_dir" "$root$host_dir" || return 1
  done
}

# libvirtd_wait URI: until the libvirtd at URI answers, for up to 30 s; 1 if it does not.
libvirtd_wait () {
  local deadline=$((SECONDS + 30))
  until virsh -c "$1" uri >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# libvirtd_stop URI PIDFILE: destroys the domains of the libvirtd at URI, then stops it (SIGTERM,
# SIGKILL after 20 s). Nothing when PIDFILE is not there.
libvirtd_stop () {
  local uri=$1 pidfile=$2 domain pid deadline
  [ -r "$pidfile" ] || return 0
  for domain in $(virsh -c "$uri" list --name 2>/dev/null); do
    virsh -c "$uri" destroy "$domain" >/dev/null 2>&1 || true
  done
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
