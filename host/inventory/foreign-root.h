/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: files and sockets inside another process's root (a pod, a container), which vpowerd
 * does not trust.
 *
 * A pod's tenant controls every path in it. Met through /proc/PID/root, an absolute symlink or a
 * ".." would be resolved from vpowerd's own root, and lead to a host file or socket. Everything
 * here resolves the whole path inside the given root instead (openat2 with RESOLVE_IN_ROOT, and no
 * magic links), opens what it finds without following it again, and checks its type. */
#pragma once

#include <glib.h>

/* Opens PROC_ROOT/PID/root (PROC_ROOT is "/proc" but for tests) as a directory to resolve in
 * (O_PATH), or -1 with error set. */
int vp_foreign_root_open (const char *proc_root, int pid, GError **error);

/* Opens PATH (absolute or relative, as a process with that root sees it) inside ROOT_FD, resolving
 * it there: openat2 (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). flags as for open(2); O_CLOEXEC is
 * added. -1 with error set (naming the path) when it cannot. */
int vp_foreign_root_openat (int root_fd, const char *path, int flags, GError **error);

/* Reads the regular file PATH inside ROOT_FD whole, if it is at most MAX_BYTES long: a newly
 * allocated, NUL-terminated string, or NULL with error set (missing, not a regular file, larger). */
char *vp_foreign_root_read_file (int root_fd, const char *path, gsize max_bytes, GError **error);

/* Connects the unix stream socket SOCK to the socket file PATH inside ROOT_FD: the file is opened
 * with O_PATH inside the root, checked to be a socket, and connected to through its own descriptor
 * (/proc/self/fd/N), so no second lookup of PATH takes place. Paths longer than a sockaddr_un
 * allows work too. FALSE with error set; errno is the connect's (EAGAIN, ECONNREFUSED...). */
gboolean vp_foreign_root_connect (int root_fd, const char *path, int sock, GError **error);

/* Whether processes A and B are in the same mount namespace (their PROC_ROOT/PID/ns/mnt are one). */
gboolean vp_foreign_root_same_mount_ns (const char *proc_root, int pid_a, int pid_b);

/* Whether they are known to be in different ones: both namespaces readable, and not one. */
gboolean vp_foreign_root_other_mount_ns (const char *proc_root, int pid_a, int pid_b);

/* Whether processes A and B have the same root directory (their PROC_ROOT/PID/root are one
 * directory). A container's processes share its root whatever their mount namespaces: libvirt
 * gives each QEMU a mount namespace of its own, made from libvirtd's, with the same root. */
gboolean vp_foreign_root_same_root (const char *proc_root, int pid_a, int pid_b);

/* Whether their roots are known to be different directories: both readable, and not one. */
gboolean vp_foreign_root_other_root (const char *proc_root, int pid_a, int pid_b);
