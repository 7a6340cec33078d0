#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test helper: the QEMU side of a channel socket, without QEMU.

  fake-qemu-channel.py SOCKET MODE [OUT]

Listens on SOCKET as QEMU's chardev does (one client at a time; the next waits in the backlog)
and, per MODE:
  record  appends what the host writes to OUT (a file, or a FIFO an agent reads: the port);
  deaf    accepts and never reads: a guest that does not read;
  flood   accepts, never reads, and writes garbage as fast as the socket takes it.
Runs until killed.
"""
import os, socket, sys, time

path, mode = sys.argv[1], sys.argv[2]
out = sys.argv[3] if len(sys.argv) > 3 else None
try:
    os.unlink(path)
except FileNotFoundError:
    pass
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
sink = None
if out:
    import stat
    is_fifo = os.path.exists(out) and stat.S_ISFIFO(os.stat(out).st_mode)
    # A FIFO (the agent's port) opens once its reader is there.
    sink = os.open(out, os.O_WRONLY if is_fifo else os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
junk = os.urandom(65536)
while True:
    client, _ = server.accept()
    if mode == "record":
        while True:
            data = client.recv(65536)
            if not data:
                break
            os.write(sink, data)
    elif mode == "deaf":
        while True:
            time.sleep(3600)
    elif mode == "flood":
        client.setblocking(True)
        try:
            while True:
                client.send(junk)
        except OSError:
            pass
    client.close()
