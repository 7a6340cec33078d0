#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Clean Debian roots for building and testing vpower on other releases (issues 22, 23), cached as
# tarballs between runs on one machine.
#   scripts/root.sh tarball RELEASE PACKAGE...   print the path of a cached root of RELEASE with
#                                                PACKAGEs; made with mmdebstrap when it is missing
#                                                or older than a week
#   scripts/root.sh unpack TARBALL DIR           a fresh root in DIR from the tarball
#   scripts/root.sh run DIR [--bind HOST-DIR:ROOT-DIR]... -- COMMAND...
#                                                COMMAND inside the root, as root, in a private mount
#                                                namespace with /proc, /sys and /dev (/dev/fuse
#                                                with it) bound, tmpfs on /run and /tmp, and the
#                                                host's resolv.conf, so that apt works there
# $VP_ROOT_CACHE is the cache directory (default /var/cache/vpower-roots).
set -euo pipefail

cache=${VP_ROOT_CACHE:-/var/cache/vpower-roots}
die () { echo "root.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap, mounts, chroot)"

case ${1:-} in
  tarball)
    [ $# -ge 2 ] || die "usage: root.sh tarball RELEASE PACKAGE..."
    release=$2; shift 2
    command -v mmdebstrap >/dev/null || die "no mmdebstrap (apt-get install mmdebstrap)"
    packages=$(printf '%s\n' "$@" | sort -u | tr '\n' ',' | sed 's/,$//')
    # One tarball per release and package list.
    key=$(printf '%s' "$packages" | sha256sum | cut -c1-12)
    tarball=$cache/$release-$key.tar
    if [ -f "$tarball" ] && [ -z "$(find "$tarball" -mtime +7)" ]; then
      echo "$tarball"
      exit 0
    fi
    mkdir -p "$cache"
    # mmdebstrap picks the format from the name, so the temporary name ends in .tar as well.
    partial=$cache/.$release-$key.$$.tar
    trap 'rm -f "$partial"' EXIT
    # forky's Release file as served here has a short Valid-Until that has passed.
    mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
      ${packages:+--include="$packages"} "$release" "$partial" http://deb.debian.org/debian >&2 ||
      die "mmdebstrap $release failed"
    mv "$partial" "$tarball"
    echo "$tarball"
    ;;
  unpack)
    [ $# -eq 3 ] || die "usage: root.sh unpack TARBALL DIR"
    rm -rf "$3" && mkdir -p "$3" && tar -xf "$2" -C "$3" || die "cannot unpack $2 into $3"
    ;;
  run)
    [ $# -ge 2 ] || die "usage: root.sh run DIR [--bind HOST-DIR:ROOT-DIR]... -- COMMAND..."
    root=$(cd "$2" && pwd); shift 2
    binds=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      [ "$1" = --bind ] && [ $# -ge 2 ] || die "run: expected --bind HOST-DIR:ROOT-DIR or --"
      binds+=("$2"); shift 2
    done
    [ "${1:-}" = -- ] && [ $# -ge 2 ] || die "run: no command"
    shift
    cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # The namespace's mounts go with it: nothing is left mounted on the host afterwards.
    exec unshare -m --propagation private /bin/bash -c '
      set -e
      root=$1; shift
      # The root a mount point of its own, so that inside it "/" is one: a nested
      # `unshare -m --propagation private` (a second libvirtd) must change its propagation.
      mount --bind "$root" "$root"
      mount -t proc proc "$root/proc"
      mount --rbind /sys "$root/sys"
      mount --rbind /dev "$root/dev"
      mount -t tmpfs tmpfs "$root/run"
      mount -t tmpfs tmpfs "$root/tmp"
      while [ "$1" != -- ]; do
        mkdir -p "$root${1#*:}"
        mount --bind "${1%%:*}" "$root${1#*:}"
        shift
      done
      shift
      exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "$@"' \
      bash "$root" "${binds[@]}" -- "$@"
    ;;
  *)
    sed -n '3,14s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
