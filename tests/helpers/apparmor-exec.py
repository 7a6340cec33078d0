#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Would an AppArmor profile let its program execute PATH? Read from the profile file itself, as
the kernel would judge it, for machines where AppArmor does not run (issue 22).

    apparmor-exec.py PROFILE-FILE PATH

Reads the profile's top-level rules (not its child profiles or hats), with the files it includes
(looked up in the profile's own apparmor.d, so a Debian root's profile is read with that root's
abstractions) and the variables they define. PATH must already have its symlinks resolved, as
AppArmor resolves them. Prints the rule that decides and exits 0 when an exec rule allows PATH
and no deny rule takes it back; exits 1 otherwise; 2 when the profile cannot be read.

python3-apparmor parses each file rule (apparmor.rule.file.FileRule) and matches its glob
(apparmor.aare.AARE); this program only walks the files and expands @{variables}."""
import itertools
import os
import re
import sys

from apparmor.aare import AARE
from apparmor.rule.file import FileRule

INCLUDE = re.compile(r'^\s*#?include(\s+if\s+exists)?\s+[<"]([^>"]+)[>"]\s*$')
VARIABLE = re.compile(r'^\s*(@\{\w+\})\s*(\+?=)\s*(.*?)\s*$')
BLOCK_START = re.compile(r'^\s*(profile\s+\S+.*|\^\S+.*|\S+\s+flags=.*|/\S*)\s*\{\s*$')


class ProfileError(Exception):
    pass


def logical_lines(path):
    """The file's lines without comments (an #include is a directive, not a comment)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if INCLUDE.match(line):
                yield line.strip()
                continue
            line = re.sub(r'(^|\s)#.*$', '', line).strip()
            if line:
                yield line


def include_path(base, name):
    return name if name.startswith("/") else os.path.join(base, name)


def read(path, base, variables, rules, depth_in_profile, seen):
    """Collects variables (anywhere) and file rules at the profile's own level."""
    if path in seen:
        return
    seen.add(path)
    depth = depth_in_profile
    for line in logical_lines(path):
        m = INCLUDE.match(line)
        if m:
            target = include_path(base, m.group(2))
            if os.path.isdir(target):
                for entry in sorted(os.listdir(target)):
                    read(os.path.join(target, entry), base, variables, rules, depth, seen)
            elif os.path.exists(target):
                read(target, base, variables, rules, depth, seen)
            elif not m.group(1):
                raise ProfileError(f"{path} includes {m.group(2)}, which is not at {target}")
            continue
        m = VARIABLE.match(line)
        if m:
            values = m.group(3).split()
            if m.group(2) == "=":
                variables[m.group(1)] = values
            else:
                variables.setdefault(m.group(1), []).extend(values)
            continue
        if BLOCK_START.match(line):
            depth += 1
            continue
        if line.startswith("}"):
            depth -= 1
            continue
        # Depth 1 is the profile's own body; deeper are its child profiles and hats.
        if depth == 1 and line.endswith(","):
            try:
                rule = FileRule.parse(line)
            except Exception:
                continue   # capability, network, dbus, signal, ... rules: not file rules
            rules.append((line, rule))


def expand(text, variables, level=0):
    """Every expansion of @{VAR} in text (a variable may hold several values)."""
    m = re.search(r'@\{\w+\}', text)
    if not m or level > 10:
        return [re.sub(r'/{2,}', '/', text)]   # AppArmor folds repeated slashes, as in @{HOME}/x
    values = variables.get(m.group(0), [m.group(0)])
    out = []
    for value in values:
        out.extend(expand(text[:m.start()] + value + text[m.end():], variables, level + 1))
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    profile, path = sys.argv[1], sys.argv[2]
    base = os.path.dirname(os.path.abspath(profile))
    variables, rules = {}, []
    try:
        read(profile, base, variables, rules, 0, set())
    except (OSError, ProfileError) as e:
        print(f"apparmor-exec: {e}", file=sys.stderr)
        return 2
    if not rules:
        print(f"apparmor-exec: no file rules in {profile}", file=sys.stderr)
        return 2
    allowed, denied = None, None
    for text, rule in rules:
        if rule.all_paths or not (rule.exec_perms or "x" in "".join(rule.perms or [])):
            continue
        globs = expand(rule.path.regex, variables)
        if any(AARE(glob, True).match(path) for glob in globs):
            if rule.deny:
                denied = denied or text
            else:
                allowed = allowed or text
    if denied:
        print(f"{path}: denied by '{denied}'")
        return 1
    if allowed:
        print(f"{path}: executable by '{allowed}'")
        return 0
    print(f"{path}: no exec rule of {os.path.basename(profile)} allows it ({len(rules)} file rules read)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
