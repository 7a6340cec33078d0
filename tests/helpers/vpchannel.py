#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test helper: the vpower channel's format, written here from vpower-channel(7), not from the C
code, so that the two agree only if both follow the page.

As a module: checksum(bytes) and parse(text) -> [(fields, zones)] (raising on a bad message).
As a command, plays the host's side of the channel into a FIFO or a pty:

  vpchannel.py OUT --host ID --epoch N --run N --seq FIRST --count N --interval S \
      --zone INDEX:NAME:MAX:START:STEP ... [--log FILE] [--garbage] [--replay]

Each message adds STEP to each zone's value, wrapping at MAX as hardware does (a 0 is shown as
MAX). --log appends "seq index value" per zone per message, so a test can tell that the guest
showed exactly what was sent. --garbage first writes junk, and --replay then writes the first
message again after the last: the agent must refuse both.
"""
import argparse, os, sys, time

FNV_OFFSET, FNV_PRIME, MASK = 14695981039346656037, 1099511628211, 0xFFFFFFFFFFFFFFFF


def checksum(data):
    """FNV-1a 64 over little-endian 8-byte words (the last zero-padded), the length, splitmix64's finaliser."""
    h = FNV_OFFSET
    for i in range(0, len(data), 8):
        h = ((h ^ int.from_bytes(data[i:i + 8], "little")) * FNV_PRIME) & MASK
    h ^= len(data)
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & MASK
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & MASK
    return h ^ (h >> 31)


def parse(text):
    """Every message in text, as (fields, zones); raises ValueError on one that breaks the page."""
    messages = []
    for chunk in text.split("\nvpower-channel ")[1:]:
        message = "vpower-channel " + chunk
        body, _, end = message.rpartition("end ")
        if not body or not end.endswith("\n") or int(end.strip(), 16) != checksum(body.encode()):
            raise ValueError(f"bad checksum: {message[:80]!r}")
        fields, zones = {}, []
        for line in body.splitlines()[1:]:
            key, _, value = line.partition(" ")
            if key == "zone":
                index, mx, energy, name = value.split(" ")
                if not 0 < int(energy) <= int(mx):
                    raise ValueError(line)
                zones.append((index, name, int(mx), int(energy)))
            else:
                fields[key] = value
        messages.append((fields, zones))
    return messages


def message(args, seq, zones):
    body = f"vpower-channel 1\nhost {args.host}\nepoch {args.epoch}\nrun {args.run}\nseq {seq}\n"
    body += f"time {int(time.time() * 1e6)}\ninterval {int(args.interval * 1e6)}\n"
    for z in zones:
        body += f"zone {z['index']} {z['max']} {z['value']} {z['name']}\n"
    return b"\n" + body.encode() + b"end %016x\n" % checksum(body.encode())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--host", required=True)
    p.add_argument("--epoch", type=int, required=True)
    p.add_argument("--run", type=int, default=1)
    p.add_argument("--seq", type=int, default=1)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--zone", action="append", required=True)
    p.add_argument("--log")
    p.add_argument("--garbage", action="store_true")
    p.add_argument("--replay", action="store_true")
    args = p.parse_args()
    zones = []
    for spec in args.zone:
        # INDEX may hold colons ("0:1"): it is everything before the last four fields.
        parts = spec.split(":")
        index, name, mx, start, step = ":".join(parts[:-4]), *parts[-4:]
        zones.append({"index": index, "name": name, "max": int(mx), "value": int(start), "step": int(step)})
    fd = os.open(args.out, os.O_WRONLY)
    log = open(args.log, "a") if args.log else None
    first = None
    if args.garbage:
        os.write(fd, b"\x00\xffgarbage\nzone 0 1 1 x\n" + b"A" * 5000 + b"\n")
    for i in range(args.count):
        seq = args.seq + i
        if i > 0:
            for z in zones:
                v = (z["value"] + z["step"]) % z["max"]
                z["value"] = v if v else z["max"]
        data = message(args, seq, zones)
        first = first or data
        if log:
            for z in zones:
                log.write(f"{seq} {z['index']} {z['value']}\n")
            log.flush()
        os.write(fd, data)
        if i + 1 < args.count:
            time.sleep(args.interval)
    if args.replay and first:
        os.write(fd, first)
    os.close(fd)


if __name__ == "__main__":
    main()
