#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build an initramfs overlay (a gzipped cpio the kernel unpacks over the base
# one from build-guest.sh) holding vpower-agent, Debian's node_exporter, and
# every shared library they load, at their host paths.
#   agent-overlay.sh OUT.cpio.gz VPOWER-AGENT [VPOWER-AGENT-TREE]
# The channel's tree server, which vpower-agent runs from its own directory, is taken from
# beside VPOWER-AGENT unless it is named.
set -euo pipefail

die () { echo "agent-overlay: $*" >&2; exit 1; }
[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: agent-overlay.sh OUT.cpio.gz VPOWER-AGENT [VPOWER-AGENT-TREE]"
out=$1 agent=$2 tree_server=${3:-$(dirname "$2")/vpower-agent-tree}
node_exporter=/usr/bin/prometheus-node-exporter
[ -x "$agent" ] || die "no $agent"
[ -x "$node_exporter" ] || die "no $node_exporter (apt-get install prometheus-node-exporter)"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/sbin" "$root/usr/bin"
cp "$agent" "$root/usr/sbin/vpower-agent"
[ -x "$tree_server" ] || die "no $tree_server (vpower-agent's tree server; make builds it)"
cp "$tree_server" "$root/usr/sbin/vpower-agent-tree"
cp "$node_exporter" "$root/usr/bin/prometheus-node-exporter"

# The loader and each library, resolved by the host's loader (an ASan build
# brings its runtime along the same way).
for binary in "$agent" "$tree_server" "$node_exporter"; do
  ldd "$binary" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'
done | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# ld.so finds the libraries by path when there is no cache.
mkdir -p "$root/etc" && : > "$root/etc/ld.so.conf"

(cd "$root" && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
