/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: libvirt helpers: GLib cleanups for libvirt types and errors as GError. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static inline void
vp_virDomainFree (virDomainPtr domain)
{
  if (domain)
    virDomainFree (domain);
}

static inline void
vp_virConnectClose (virConnectPtr conn)
{
  if (conn)
    virConnectClose (conn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, vp_virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virConnect, vp_virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomainStatsRecordPtr, virDomainStatsRecordListFree)

/* Sets error from libvirt's last error in this thread, prefixed by what we
 * were doing. The one place libvirt errors become GErrors. */
void vp_libvirt_set_error (GError **error, const char *what);

/* Stops libvirt from printing errors to stderr by itself: we report them. */
void vp_libvirt_silence (void);

/* Where the libvirt at URI writes its QEMU pidfiles (<dir>/NAME.pid), or NULL where they cannot be
 * read from here. libvirt keeps them in its run directory's qemu/, beside its socket:
 * RUNDIR/libvirt/libvirt-sock (or virtqemud-sock) and RUNDIR/libvirt/qemu/. So a URI with
 * ?socket= (a libvirt whose run directory is elsewhere: Sunbeam's snap, a test's) has them beside
 * that socket, and the plain system URI in /run/libvirt/qemu. None for remote URIs (another
 * host's), the test driver, and sockets reached through /proc (another PID namespace's numbers). */
char *vp_libvirt_pid_dir_for_uri (const char *uri);
