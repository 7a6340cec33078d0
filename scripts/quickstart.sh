#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 1: install what is needed, build, and run vpowerd in the foreground.
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
make -C "$build" -j"$(nproc)" vpowerd
echo "quickstart: starting vpowerd in the foreground (Ctrl-C stops it and saves the counters)"
exec "$build/vpowerd" --foreground "$@"
