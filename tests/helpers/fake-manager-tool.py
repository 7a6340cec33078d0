#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Stand-ins for the managers' own tools, for `vpowerctl wiring --all` (tests/processes.sh): qm
(Proxmox VE), incus and lxc (Incus, LXD), gnt-instance (Ganeti), none of which Debian ships. Each
logs its arguments, one JSON array a line, to $VP_TOOL_LOG, and does what the real one does to the
one setting vpower touches:
  qm set VMID --args VALUE                      the args: line of /etc/pve/qemu-server/VMID.conf's
                                                main section (before any [snapshot])
  incus|lxc config get NAME raw.qemu.conf [--project P]
  incus|lxc config set NAME raw.qemu.conf=VALUE [--project P]
                                                the instance's raw.qemu.conf ($VP_TOOL_STATE)
  gnt-instance list --no-headers --separator=| -o name,hypervisor,oper_state,hv/kvm_extra
                                                every instance with a kvm_extra in $VP_TOOL_STATE, a
                                                KVM one, running (Y)
  gnt-instance modify -H kvm_extra=VALUE NAME   the instance's kvm_extra ($VP_TOOL_STATE); -H's
                                                value is split at commas that no backslash escapes,
                                                and a backslash takes the next character as it is,
                                                as Ganeti's -H parsing does
Anything else fails, as an unknown command would."""
import json, os, re, sys

tool = os.path.basename(sys.argv[0])
args = sys.argv[1:]
with open(os.environ["VP_TOOL_LOG"], "a") as log:
    log.write(json.dumps([tool] + args) + "\n")
state = os.environ["VP_TOOL_STATE"]


def fail(message):
    sys.stderr.write(f"{tool}: {message}\n")
    sys.exit(1)


def stored(key, value=None):
    path = os.path.join(state, key)
    if value is None:
        return open(path).read() if os.path.exists(path) else ""
    with open(path, "w") as f:
        f.write(value)


def take_project(words):
    if "--project" in words:
        i = words.index("--project")
        return words[:i] + words[i + 2:], words[i + 1] + "_"
    return words, ""


def ganeti_split(text):
    parts, current, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current += text[i + 1]
            i += 2
        elif text[i] == ",":
            parts.append(current)
            current = ""
            i += 1
        else:
            current += text[i]
            i += 1
    return parts + [current]


if tool == "qm" and len(args) == 4 and args[0] == "set" and args[2] == "--args":
    path = f"/etc/pve/qemu-server/{args[1]}.conf"
    if not os.path.exists(path):
        fail(f"Configuration file '{path}' does not exist")
    lines = open(path).read().splitlines()
    end = next((i for i, l in enumerate(lines) if l.startswith("[")), len(lines))
    main = [l for l in lines[:end] if not l.startswith("args:")] + [f"args: {args[3]}"]
    open(path, "w").write("\n".join(main + lines[end:]) + "\n")
elif tool in ("incus", "lxc") and args[:1] == ["config"]:
    words, prefix = take_project(args[1:])
    if len(words) == 3 and words[0] == "get" and words[2] == "raw.qemu.conf":
        print(stored(f"{tool}-{prefix}{words[1]}"))
    elif len(words) == 3 and words[0] == "set" and words[2].startswith("raw.qemu.conf="):
        stored(f"{tool}-{prefix}{words[1]}", words[2][len("raw.qemu.conf="):])
    else:
        fail(f"unknown command: {' '.join(args)}")
elif tool == "gnt-instance" and args == ["list", "--no-headers", "--separator=|", "-o",
                                        "name,hypervisor,oper_state,hv/kvm_extra"]:
    for name in sorted(os.listdir(state)):
        if name.startswith("ganeti-"):
            print(f"{name[len('ganeti-'):]}|kvm|Y|{stored(name)}")
elif tool == "gnt-instance" and len(args) == 4 and args[0] == "modify" and args[1] == "-H":
    params = dict(p.split("=", 1) for p in ganeti_split(args[2]))
    if set(params) != {"kvm_extra"}:
        fail(f"Unknown parameter(s) {sorted(set(params) - {'kvm_extra'})}")
    stored(f"ganeti-{args[3]}", params["kvm_extra"])
else:
    fail(f"unknown command: {' '.join(args)}")
