#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The man pages render without a warning, and document every option each program's --help lists.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

command -v groff >/dev/null || vp_skip_or_fail "no groff"
vp_plan 4
for page in vpowerd vpower-agent; do
  file=$abs_top_builddir/man/$page.8
  warnings=$(groff -man -ww -z "$file" 2>&1)
  [ -f "$file" ] && [ -z "$warnings" ]
  vp_ok $? "$page(8) renders with no groff warning${warnings:+: $warnings}"
  binary=$abs_top_builddir/$page
  missing=
  for option in $("$binary" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+$'); do
    [ "$option" = --help ] && continue
    # groff source writes a dash as \- : accept both spellings.
    grep -qE -- "(${option//-/\\\\?-})([^a-z-]|$)" "$file" || missing="$missing $option"
  done
  [ -z "$missing" ]
  vp_ok $? "$page(8) documents every option of --help${missing:+ (missing:$missing)}"
done
vp_finish
