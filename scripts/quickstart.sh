#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 1: install what is needed, build and install, and run vpowerd in the foreground.
# Idempotent. Extra arguments go to vpowerd (e.g. --inventory static:FILE, -v).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build

"$src/scripts/install-deps.sh" build
if [ ! -x "$build/config.status" ]; then
  (cd "$src" && autoreconf -fi)
  mkdir -p "$build"
  (cd "$build" && "$src/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var)
fi
# Installs vpowerd, vpowerctl, the agent, the hook, man pages, the sample
# /etc/vpower/vpowerd.conf and the systemd units (Debian's layout).
make -C "$build" -j"$(nproc)" install
echo "quickstart: starting vpowerd in the foreground (Ctrl-C stops it and saves the counters);"
echo "quickstart: in another terminal: vpowerctl status, vpowerctl list, man vpowerctl"
exec /usr/sbin/vpowerd --foreground "$@"
