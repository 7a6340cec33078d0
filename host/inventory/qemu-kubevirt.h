/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: a KubeVirt VM, told from its QEMU process on the node.
 *
 * Each KubeVirt VM has its own libvirt inside its virt-launcher pod, which the host's libvirt does
 * not know. vpowerd does not connect to it: that libvirt is the tenant's, one per VM, and the host
 * never waits on a guest. It reads instead what that libvirt wrote of the running VM, its status
 * file (RUN-DIR/NAME.xml: <domstatus pid='...'><domain>...</domain></domstatus>), through the
 * QEMU's /proc/PID/root, resolved inside the pod (foreign-root.h) and bounded. The file is taken as
 * the VM's only if it names this QEMU (its PID in the pod's namespace) and this UUID, and carries
 * KubeVirt's metadata. */
#pragma once

#include <glib.h>

/* The status file is read if it is no larger than this (libvirt's, with its QEMU capabilities, is
 * about 100 KiB). */
#define VP_KUBEVIRT_STATUS_MAX (4 << 20)

typedef struct {
  char *status_path;        /* the status file, as the pod sees it */
  char vmi_uid[37];         /* the VMI's UID (KubeVirt's <uid>) */
  char *namespace;          /* from the domain's name, NAMESPACE_NAME */
  char *vmi_name;
  gboolean has_channel;     /* the live domain has the org.vpower.0 channel (the hook's) */
  char *channel_path;       /* its socket, as the pod sees it, or NULL */
  gboolean has_virtio_serial;
} VpKubevirtVm;

void vp_kubevirt_vm_clear (VpKubevirtVm *vm);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VpKubevirtVm, vp_kubevirt_vm_clear)

typedef enum {
  VP_KUBEVIRT_FOUND,        /* a KubeVirt VM: vm is filled in */
  VP_KUBEVIRT_NOT,          /* its libvirt's status file names it, without KubeVirt's metadata:
                             * another containerized libvirt's (Kolla's), final */
  VP_KUBEVIRT_NOT_YET,      /* no status file that names it (yet: libvirt writes it once QEMU runs),
                             * or one that cannot be read; error says why */
} VpKubevirtResult;

/* Looks for the VM of the libvirt-started QEMU process PID (its -name DOMAIN_NAME, -uuid UUID)
 * inside the process's root. proc_root is "/proc" but for tests. */
VpKubevirtResult vp_kubevirt_read (const char *proc_root, int pid, const char *domain_name, const char *uuid,
                                   VpKubevirtVm *vm, GError **error);

/* Parses the texts involved, for the unit tests and the fuzzer: a status file's text, against the
 * process's PID in its namespace and its UUID. */
VpKubevirtResult vp_kubevirt_parse_status (const char *text, gsize length, int ns_pid, const char *domain_name,
                                           const char *uuid, VpKubevirtVm *vm, GError **error);

/* The PID of process PID in its innermost PID namespace (the last NSpid field of
 * PROC_ROOT/PID/status), or 0. */
int vp_kubevirt_ns_pid (const char *proc_root, int pid);
