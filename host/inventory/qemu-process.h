/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what the process inventory reads of one QEMU process under /proc, safely.
 *
 * Any user may start a QEMU, name any file in its command line and put
 * anything in its pidfile: these readers take regular files only, of a
 * bounded size, and never block. */
#pragma once

#include <glib.h>

/* "<proc_root>/<pid>/<what>". */
char *vp_qemu_process_path (const char *proc_root, int pid, const char *what);

/* Its start time in clock ticks since boot (/proc/PID/stat field 22): with
 * the PID, what tells one process from another that reused its PID. */
gboolean vp_qemu_process_start_ticks (const char *proc_root, int pid, guint64 *start_ticks);

/* A regular file of at most max bytes, NUL-terminated, or NULL (not there,
 * not a regular file, too big). A FIFO or a device would block or feed the
 * engine forever. */
char *vp_read_regular_file (const char *path, gsize max, gsize *length);

/* A file as the process sees it, in its mount namespace (/proc/PID/root):
 * its pidfile, its -readconfig. NULL for a relative path. */
char *vp_qemu_process_read_file (const char *proc_root, int pid, const char *path, gsize max, gsize *length);

/* The PID a pidfile holds ("123\n", as QEMU writes it), or 0. */
int vp_read_pid_file (const char *path);

/* The PID its pidfile names, read as it sees it, or 0. */
int vp_qemu_process_pidfile_pid (const char *proc_root, int pid, const char *pidfile);

/* The summed schedstat of its vCPU threads ("CPU N/KVM", "CPU N/TCG": named
 * with -name ...,debug-threads=on, always from QEMU 11): time run in ns and
 * times run. FALSE when it has none so named. */
gboolean vp_qemu_process_vcpu_schedstat (const char *proc_root, int pid, guint64 *runs, guint64 *ns);

/* A pidfd for pid (readable once it exits), or -1 (kernels before 5.3). */
int vp_pidfd_open (int pid);
