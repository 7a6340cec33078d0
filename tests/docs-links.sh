#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README and the guides in docs/ link only to what exists: every relative link names a file of
# the tree, every #anchor a heading of its target, as GitHub makes anchors (issue 31). Every guide
# in docs/ is linked from the README or from another guide.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

cd "$abs_top_srcdir" || { echo "Bail out! no source tree at $abs_top_srcdir"; exit 1; }
files=(README.md docs/*.md)
[ -f "${files[1]}" ] || { echo "Bail out! no docs/*.md in $abs_top_srcdir"; exit 1; }
vp_plan $(( ${#files[@]} + 1 ))

# links FILE...: one line per link, "FILE<TAB>TARGET<TAB>FILE IT NAMES<TAB>WHY IT IS BROKEN" (empty
# when it resolves). A link is [text](target) outside code; http(s):, mailto: and absolute paths
# are not checked.
links () {
  /usr/bin/python3 - "$@" <<'EOF'
import os, re, sys

def strip_code(line):
    return re.sub(r"(`+).*?\1", "", line)

def lines_outside_fences(path):
    fence = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*(```+|~~~+)", line)
            if m:
                if fence is None:
                    fence = m.group(1)[0] * 3
                elif m.group(1).startswith(fence):
                    fence = None
                continue
            if fence is None:
                yield line.rstrip("\n")

# GitHub's anchors: the heading's text without markup, lower case, anything but letters, digits,
# spaces, '-' and '_' dropped, spaces turned into '-'; a repeated one gets -1, -2, ...
def anchors(path):
    seen, result = {}, set()
    for line in lines_outside_fences(path):
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else f"{slug}-{n}")
    return result

cache = {}
for path in sys.argv[1:]:
    text = "\n".join(strip_code(l) for l in lines_outside_fences(path))
    for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("/"):
            continue
        name, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), name)) if name else path
        reason = ""
        if not os.path.exists(dest):
            reason = f"no file {dest}"
        elif anchor:
            if not dest.endswith(".md"):
                reason = f"an anchor into {dest}, not Markdown"
            else:
                if dest not in cache:
                    cache[dest] = anchors(dest)
                if anchor not in cache[dest]:
                    reason = f"no heading #{anchor} in {dest}"
        print(f"{path}\t{target}\t{dest}\t{reason}")
EOF
}

all=$(links "${files[@]}") || { echo "Bail out! cannot read the links"; exit 1; }
for file in "${files[@]}"; do
  mine=$(awk -F '\t' -v f="$file" '$1 == f' <<<"$all")
  broken=$(awk -F '\t' '$4 != "" { print $2 ": " $4 }' <<<"$mine")
  [ -n "$broken" ] && while IFS= read -r line; do vp_diag "$file: $line"; done <<<"$broken"
  [ -z "$broken" ]
  vp_ok $? "$file: every relative link and anchor resolves (links: $(grep -c . <<<"$mine"))"
done

# Every guide is reachable: linked from the README or from another guide (not only from itself).
orphans=
for file in docs/*.md; do
  awk -F '\t' -v f="$file" '$1 != f && $3 == f { found = 1 } END { exit !found }' <<<"$all" ||
    orphans="$orphans $file"
done
[ -z "$orphans" ]
vp_ok $? "every guide in docs/ is linked from the README or another guide${orphans:+ (not linked:$orphans)}"
vp_finish
