/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: a KubeVirt VM, told from its QEMU process on the node (qemu-kubevirt.h). */
#include "config.h"

#include "host/inventory/qemu-kubevirt.h"
#include "host/inventory/foreign-root.h"
#include "shared/vp-domxml.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"
#include "shared/vp-metadata.h"

#include <string.h>
#include <unistd.h>

/* Where a libvirt in a pod keeps its status files: virtqemud or libvirtd as root (system), and as
 * KubeVirt's non-root launcher runs it (session, XDG_RUNTIME_DIR=/var/run). */
static const char *const status_dirs[] = {
  "/run/libvirt/qemu",
  "/var/run/libvirt/qemu/run",
  "/run/libvirt/qemu/run",
};

void
vp_kubevirt_vm_clear (VpKubevirtVm *vm)
{
  g_clear_pointer (&vm->status_path, g_free);
  g_clear_pointer (&vm->namespace, g_free);
  g_clear_pointer (&vm->vmi_name, g_free);
  g_clear_pointer (&vm->channel_path, g_free);
  memset (vm, 0, sizeof *vm);
}

int
vp_kubevirt_ns_pid (const char *proc_root, int pid)
{
  g_autofree char *path = g_strdup_printf ("%s/%d/status", proc_root, pid);
  char text[4096];
  if (vp_read_small_file (path, text, sizeof text, NULL) < 0)
    return 0;
  const char *line = strstr (text, "\nNSpid:");
  if (!line)
    return pid;   /* a kernel before 4.1: no namespaces to tell */
  line += strlen ("\nNSpid:");
  const char *end = strchr (line, '\n');
  g_autofree char *fields = g_strndup (line, end ? (gsize) (end - line) : strlen (line));
  g_auto (GStrv) words = g_strsplit_set (g_strstrip (fields), " \t", -1);
  guint64 value = 0;
  for (char **word = words; *word; word++)
    if (**word && !vp_parse_u64 (*word, &value))
      return 0;
  return value > 0 && value <= G_MAXINT ? (int) value : 0;
}

VpKubevirtResult
vp_kubevirt_parse_status (const char *text, gsize length, int ns_pid, const char *domain_name, const char *uuid,
                          VpKubevirtVm *vm, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, (gssize) length, &local);
  if (!xml)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return VP_KUBEVIRT_NOT_YET;
    }
  /* A status file of another run, or another VM's put here: not this process's. */
  if (xml->status_pid == 0 || xml->status_pid != ns_pid || g_strcmp0 (xml->name, domain_name) != 0 ||
      g_ascii_strcasecmp (xml->uuid, uuid) != 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE,
                   "the status file is of process %d, domain %s (%s), not of process %d, domain %s (%s)",
                   xml->status_pid, xml->name, xml->uuid, ns_pid, domain_name, uuid);
      return VP_KUBEVIRT_NOT_YET;
    }
  VpMetadataFacts facts = { 0 };
  g_auto (GStrv) labels = vp_metadata_parse (text, (gssize) length, NULL, &facts, NULL);
  if (g_strcmp0 (facts.manager, "kubevirt") != 0 || !facts.kubevirt_uid[0])
    return VP_KUBEVIRT_NOT;
  /* KubeVirt names the domain NAMESPACE_NAME; a namespace (a DNS label) has no '_'. */
  const char *underscore = strchr (domain_name, '_');
  if (!underscore || underscore == domain_name || !underscore[1])
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "domain %s is not named NAMESPACE_NAME, as KubeVirt names them",
                   domain_name);
      return VP_KUBEVIRT_NOT;
    }
  vm->namespace = g_strndup (domain_name, (gsize) (underscore - domain_name));
  vm->vmi_name = g_strdup (underscore + 1);
  g_strlcpy (vm->vmi_uid, facts.kubevirt_uid, sizeof vm->vmi_uid);
  vm->has_channel = xml->has_channel;
  vm->channel_path = g_strdup (xml->channel_path);
  vm->has_virtio_serial = xml->has_virtio_serial;
  return VP_KUBEVIRT_FOUND;
}

VpKubevirtResult
vp_kubevirt_read (const char *proc_root, int pid, const char *domain_name, const char *uuid, VpKubevirtVm *vm,
                  GError **error)
{
  memset (vm, 0, sizeof *vm);
  int ns_pid = vp_kubevirt_ns_pid (proc_root, pid);
  if (!ns_pid)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot read process %d's PID in its namespace", pid);
      return VP_KUBEVIRT_NOT_YET;
    }
  int root_fd = vp_foreign_root_open (proc_root, pid, error);
  if (root_fd < 0)
    return VP_KUBEVIRT_NOT_YET;
  VpKubevirtResult result = VP_KUBEVIRT_NOT_YET;
  g_autoptr (GError) last = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (status_dirs) && result == VP_KUBEVIRT_NOT_YET; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s.xml", status_dirs[i], domain_name);
      g_clear_error (&last);
      g_autofree char *text = vp_foreign_root_read_file (root_fd, path, VP_KUBEVIRT_STATUS_MAX, &last);
      if (!text)
        continue;
      result = vp_kubevirt_parse_status (text, strlen (text), ns_pid, domain_name, uuid, vm, &last);
      if (result == VP_KUBEVIRT_FOUND)
        vm->status_path = g_steal_pointer (&path);
    }
  close (root_fd);
  if (result != VP_KUBEVIRT_FOUND && last)
    g_propagate_error (error, g_steal_pointer (&last));
  return result;
}
