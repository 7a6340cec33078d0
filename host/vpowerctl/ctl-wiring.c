/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerctl wiring: the lines that give a VM vpower's channel under a manager other than libvirt.
 *
 * The channel is a virtio-serial port named org.vpower.0 behind a unix
 * socket QEMU listens on; vpowerd finds both in the VM's command line (or
 * its -readconfig file) and connects. The socket's path is fixed per VM, so
 * that a migration's target, started from the same configuration on another
 * host, listens where that host's vpowerd looks:
 *   Proxmox, Ganeti, QEMU  RUNTIME/channels/pve-VMID.sock, ganeti-INSTANCE.sock, qemu-NAME.sock
 *                  (vpowerd's directory)
 *   Incus          /run/incus/INSTANCE/vpower.sock: the instance's run directory, the only
 *                  place its AppArmor profile lets QEMU make a socket
 *   LXD            /var/log/lxd/INSTANCE/vpower.sock, for the same reason
 * Computed here, without asking vpowerd: it is wiring, not measurement. */
#include "config.h"

#include "host/vpowerctl/ctl-wiring.h"
#include "host/inventory/qemu-managers.h"
#include "shared/vp-error.h"

#include <string.h>

/* Proxmox's pci.2 bridge uses slots 1-24 (PCI.pm's address map): 0x1f is free. */
#define PROXMOX_FREE_SLOT "0x1f"
/* sockaddr_un's sun_path, less its NUL. */
#define SOCKET_PATH_MAX 107

static gboolean
name_ok (const char *name, gboolean digits_only)
{
  if (!name || !*name || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!(g_ascii_isdigit (*p) || (!digits_only && (g_ascii_isalpha (*p) || strchr ("-._", *p)))))
      return FALSE;
  return TRUE;
}

static char *
instance_dir (const char *vm, const char *project)
{
  return project && !g_str_equal (project, "default") ? g_strdup_printf ("%s_%s", project, vm) : g_strdup (vm);
}

char *
vp_ctl_wiring_socket (VpWiringKind kind, const char *vm, const char *project, const char *runtime_dir)
{
  g_autofree char *instance = instance_dir (vm, project);
  switch (kind)
    {
    case VP_WIRING_PROXMOX:
      return g_strdup_printf ("%s/channels/pve-%s.sock", runtime_dir, vm);
    case VP_WIRING_INCUS:
      return g_strdup_printf ("/run/incus/%s/vpower.sock", instance);
    case VP_WIRING_LXD:
      return g_strdup_printf ("/var/log/lxd/%s/vpower.sock", instance);
    case VP_WIRING_GANETI:
      return g_strdup_printf ("%s/channels/ganeti-%s.sock", runtime_dir, vm);
    case VP_WIRING_QEMU:
      break;
    }
  return g_strdup_printf ("%s/channels/qemu-%s.sock", runtime_dir, vm);
}

static gboolean
proxmox_agent (const char *vmid, const char *etc_root, gboolean *has_args, GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/etc/pve/qemu-server/%s.conf", etc_root, vmid);
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &length, &local))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no VM %s on this node: %s", vmid, local->message);
      return FALSE;
    }
  g_auto (VpProxmoxConf) conf = { 0 };
  vp_proxmox_conf_parse (text, length, &conf);
  *has_args = g_regex_match_simple ("^args:", text, G_REGEX_MULTILINE, 0);
  return conf.agent;
}

char *
vp_ctl_wiring (VpWiringKind kind, const char *vm, const char *project, const char *runtime_dir,
               const char *etc_root, char **note, GError **error)
{
  gboolean proxmox = kind == VP_WIRING_PROXMOX;
  if (!name_ok (vm, proxmox) || (project && !name_ok (project, FALSE)))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, proxmox ? "'%s' is not a VMID" : "'%s' is not a name this can wire "
                   "(letters, digits, '-', '.', '_')", vm);
      return NULL;
    }
  g_autofree char *socket = vp_ctl_wiring_socket (kind, vm, project, runtime_dir);
  if (strlen (socket) > SOCKET_PATH_MAX)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "the socket's path %s is longer than a unix socket's %d bytes",
                   socket, SOCKET_PATH_MAX);
      return NULL;
    }
  g_autofree char *instance = instance_dir (vm, project);
  switch (kind)
    {
    case VP_WIRING_PROXMOX:
      {
        gboolean has_args = FALSE;
        g_autoptr (GError) local = NULL;
        gboolean agent = proxmox_agent (vm, etc_root, &has_args, &local);
        if (local)
          {
            g_propagate_error (error, g_steal_pointer (&local));
            return NULL;
          }
        *note = g_strdup_printf (
          "Add this line to /etc/pve/qemu-server/%s.conf (only root may set args:)%s. It takes effect at the VM's "
          "next start; a migration's target uses it too, and the socket's path is the same on every node. %s",
          vm, has_args ? "; the VM has an args: line already: append the options to it" : "",
          agent ? "The agent is on (agent: 1), so the port goes on its bus qga0.0: turn the agent off and this "
                  "line needs the controller of its own that `vpowerctl wiring` then prints."
                : "The agent is off, so the line adds a virtio-serial controller of its own at pci.2, slot "
                  PROXMOX_FREE_SLOT ".");
        if (agent)
          return g_strdup_printf ("args: -chardev socket,id=vpower0,path=%s,server=on,wait=off "
                                  "-device virtserialport,bus=qga0.0,chardev=vpower0,name=org.vpower.0\n", socket);
        return g_strdup_printf ("args: -chardev socket,id=vpower0,path=%s,server=on,wait=off "
                                "-device virtio-serial-pci,id=vpower-serial,bus=pci.2,addr=" PROXMOX_FREE_SLOT " "
                                "-device virtserialport,bus=vpower-serial.0,chardev=vpower0,name=org.vpower.0\n",
                                socket);
      }
    case VP_WIRING_INCUS:
    case VP_WIRING_LXD:
      {
        const char *tool = kind == VP_WIRING_INCUS ? "incus" : "lxc";
        *note = g_strdup_printf ("Set it with: %s config set %s%s%s raw.qemu.conf=\"$(vpowerctl wiring ...)\" "
                                 "(restricted projects need restricted.virtual-machines.lowlevel=allow). It takes "
                                 "effect at the instance's next start. The port goes on the instance's own serial "
                                 "bus, dev-qemu_serial.0, and the socket in its run directory, where its AppArmor "
                                 "profile lets QEMU listen.", tool, vm, project ? " --project " : "",
                                 project ? project : "");
        return g_strdup_printf ("[chardev \"vpower0\"]\nbackend = \"socket\"\npath = \"%s\"\nserver = \"on\"\n"
                                "wait = \"off\"\n\n[device \"vpower0\"]\ndriver = \"virtserialport\"\n"
                                "bus = \"dev-qemu_serial.0\"\nchardev = \"vpower0\"\nname = \"org.vpower.0\"\n",
                                socket);
      }
    case VP_WIRING_GANETI:
      *note = g_strdup_printf ("Set it with `vpowerctl wiring --ganeti --all --apply` on the master, which appends it "
                               "to the instance's kvm_extra and escapes its commas for gnt-instance modify -H (Ganeti "
                               "splits -H's value at commas; by hand, write each comma as \\,). It takes effect at "
                               "the instance's next start (gnt-instance reboot --type=hard %s), and a migration's "
                               "target, started with the same parameters, listens at the same path.", vm);
      return g_strdup_printf ("-device virtio-serial-pci,id=vpower-serial "
                              "-chardev socket,id=vpower0,path=%s,server=on,wait=off "
                              "-device virtserialport,bus=vpower-serial.0,chardev=vpower0,name=org.vpower.0\n",
                              socket);
    case VP_WIRING_QEMU:
      break;
    }
  *note = g_strdup_printf ("Add these arguments to QEMU's command line, with -name %s and a -pidfile in a "
                           "directory vpowerd watches (pidfile-dirs), so that it finds the VM within a tick.", vm);
  return g_strdup_printf ("-device virtio-serial-pci,id=vpower-serial "
                          "-chardev socket,id=vpower0,path=%s,server=on,wait=off "
                          "-device virtserialport,bus=vpower-serial.0,chardev=vpower0,name=org.vpower.0\n", socket);
}
