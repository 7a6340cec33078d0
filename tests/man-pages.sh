#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The man pages render without a warning; each program's page documents every option its --help
# lists, vpowerd.conf(5) every key vpowerd takes, and vpowerd(8) every metric family it exports.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

command -v groff >/dev/null || vp_skip_or_fail "no groff"
# The pages and programs of the halves that were built (configure --disable-host/--disable-guest).
pages= programs=
[ "${VP_BUILT_HOST:-yes}" = yes ] && pages="vpowerd.8 vpowerctl.8 vpower-hook.8 vpowerd.conf.5" programs="vpowerd vpowerctl"
[ "${VP_BUILT_GUEST:-yes}" = yes ] && pages="$pages vpower-agent.8 vpower-channel.7" programs="$programs vpower-agent"
host_checks=0
[ "${VP_BUILT_HOST:-yes}" = yes ] && host_checks=2
vp_plan $(( $(wc -w <<<"$pages") + $(wc -w <<<"$programs") + host_checks ))

# documents FILE WORD...: prints the words FILE does not mention (groff writes a dash as \-).
undocumented () {
  local file=$1 word
  shift
  for word in "$@"; do
    grep -qE -- "(^|[^a-z_-])(${word//-/\\\\?-})([^a-z_-]|$)" "$file" || printf ' %s' "$word"
  done
}
help_options () { "$1" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+$' | grep -vx -- --help; }

for page in $pages; do
  file=$abs_top_builddir/man/$page
  warnings=$(groff -man -ww -z "$file" 2>&1)
  [ -f "$file" ] && [ -z "$warnings" ]
  vp_ok $? "${page%.*}(${page##*.}) renders with no groff warning${warnings:+: $warnings}"
done

for program in $programs; do
  missing=$(undocumented "$abs_top_builddir/man/$program.8" $(help_options "$abs_top_builddir/$program"))
  [ -z "$missing" ]
  vp_ok $? "$program(8) documents every option of --help${missing:+ (missing:$missing)}"
done

[ "$host_checks" -gt 0 ] || { vp_finish; exit; }

# Every vpowerd option but the command-line-only ones is a key of the config file.
keys=$(help_options "$VPOWERD" | sed 's/^--//' | grep -vxE 'config|version|once|foreground')
missing=$(undocumented "$abs_top_builddir/man/vpowerd.conf.5" $keys)
[ -n "$keys" ] && [ -z "$missing" ]
vp_ok $? "vpowerd.conf(5) documents every key${missing:+ (missing:$missing)}"

# The metric families a running vpowerd exports (the model sensor and a static VM, so every
# family has a sample).
work=$(mktemp -d)
trap 'vp_cleanup_workdir' EXIT
printf '[vm1]\nuuid=11111111-2222-3333-4444-555555555555\npid=%d\n' $$ > "$work/vms.conf"
vp_start_vpowerd "$work/vpowerd.log" --inventory "static:$work/vms.conf" --sensor model --allow-fast-updates --interval 0.2 \
  --state-dir "$work/state" --runtime-dir "$work/run" || { echo "Bail out! vpowerd did not start"; exit 1; }
families=$(vp_get "$VP_URL/metrics" | awk '$1 == "#" && $2 == "TYPE" { print $3 }' | sort -u)
missing=$(undocumented "$abs_top_builddir/man/vpowerd.8" $families)
[ -n "$families" ] && [ -z "$missing" ]
vp_ok $? "vpowerd(8) documents every metric family /metrics exports ($(wc -w <<<"$families"))${missing:+ (missing:$missing)}"
vp_finish
