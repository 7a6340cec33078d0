#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copies this tree as a fresh clone of it has it into DEST: the files git tracks and those it
# would track once added (not ignored), with the working tree's content, so that uncommitted work
# is copied as it would be committed. Nothing ignored comes along: no build directory, configure
# or cache. The newcomer, package and half-build tests start from such a copy.
#   scripts/copy-tree.sh DEST
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: copy-tree.sh DEST" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
cd "$src"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
  tar --null -T - -cf - | tar -xf - -C "$1"
