/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerctl wiring --all: the channel for every VM of a manager on this node, through its own tool.
 *
 * libvirt VMs are wired live by vpowerd itself (host/wiring/); a manager that builds QEMU's
 * command line from its own configuration must be told instead, and its VM restarted once
 * (issue 30). So this prints, per VM that lacks the channel, the command of the manager's own
 * tool that adds it, and with --apply runs it: never an edit of the manager's files behind its
 * back. Which VMs:
 *   Proxmox VE  every VM whose configuration is on this node (/etc/pve/qemu-server/VMID.conf),
 *               running or not, whose args: lacks the channel: the configuration is the truth,
 *               and reading it needs nothing but the file;
 *   Incus, LXD  the instances vpowerd sees running here without the channel (their configuration
 *               is behind Incus's API; `incus config get` gives each one's raw.qemu.conf,
 *               read-only, to merge with);
 *   Ganeti      every KVM instance of the cluster (`gnt-instance list`, with each one's
 *               kvm_extra): Ganeti's configuration is the cluster's, and its commands run on the
 *               master.
 * A VM keeps what its setting has: the channel's options are appended, and a setting that already
 * uses one of our ids is refused with the reason rather than overwritten. */
#include "config.h"

#include "host/vpowerctl/ctl-bulk.h"
#include "host/inventory/qemu-managers.h"
#include "shared/vp-channel.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* The ids and section names our wiring uses (ctl-wiring.c): a setting that has one already would
 * make QEMU refuse to start, or the channel land elsewhere. */
static const char *const our_ids[] = { "id=vpower0", "id=vpower-serial", "[chardev \"vpower0\"]",
                                       "[device \"vpower0\"]" };

typedef struct {
  char *vm;           /* VMID, instance name, Ganeti instance */
  char *project;      /* Incus/LXD, NULL for the default one */
  gboolean running;
  char *current;      /* the setting as it is, "" when unset */
  char *error;        /* why its setting could not be read */
} BulkVm;

static void
bulk_vm_free (gpointer data)
{
  BulkVm *vm = data;
  g_free (vm->vm);
  g_free (vm->project);
  g_free (vm->current);
  g_free (vm->error);
  g_free (vm);
}

static const char *
tool_of (VpWiringKind kind)
{
  switch (kind)
    {
    case VP_WIRING_PROXMOX: return "qm";
    case VP_WIRING_INCUS: return "incus";
    case VP_WIRING_LXD: return "lxc";
    case VP_WIRING_GANETI: return "gnt-instance";
    case VP_WIRING_QEMU: break;
    }
  return NULL;
}

static const char *
setting_of (VpWiringKind kind)
{
  return kind == VP_WIRING_PROXMOX ? "args:" : kind == VP_WIRING_GANETI ? "kvm_extra" : "raw.qemu.conf";
}

char *
vp_ctl_bulk_merge (VpWiringKind kind, const char *current, const char *ours, gboolean *already, char **why)
{
  *already = FALSE;
  *why = NULL;
  if (current && strstr (current, "name=" VP_CHANNEL_PORT_NAME))
    {
      *already = TRUE;
      return NULL;
    }
  if (current && strstr (current, "name = \"" VP_CHANNEL_PORT_NAME "\""))
    {
      *already = TRUE;
      return NULL;
    }
  for (gsize i = 0; current && i < G_N_ELEMENTS (our_ids); i++)
    if (strstr (current, our_ids[i]))
      {
        *why = g_strdup_printf ("its %s already has %s, which the channel's options use: add the channel to it "
                                "by hand (vpowerctl wiring VM shows the options)", setting_of (kind), our_ids[i]);
        return NULL;
      }
  if (kind == VP_WIRING_PROXMOX && current && strstr (current, "bus=pci.2") && strstr (current, "addr=0x1f"))
    {
      *why = g_strdup ("its args: already puts a device at pci.2 slot 0x1f, where the channel's controller goes: "
                       "add the channel to it by hand");
      return NULL;
    }
  g_autofree char *trimmed = g_strstrip (g_strdup (current ? current : ""));
  if (!*trimmed)
    return g_strdup (ours);
  /* raw.qemu.conf is sections: a blank line between; the others are arguments: a space. */
  gboolean conf = kind == VP_WIRING_INCUS || kind == VP_WIRING_LXD;
  return g_strconcat (trimmed, conf ? "\n\n" : " ", ours, NULL);
}

char *
vp_ctl_bulk_ganeti_escape (const char *value)
{
  GString *out = g_string_new (NULL);
  for (const char *p = value; *p; p++)
    {
      if (*p == '\\' || *p == ',')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

/* --- the VMs --- */

/* The main section's args: of a Proxmox configuration, or "". */
static char *
proxmox_args (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **line = lines; *line; line++)
    {
      if ((*line)[0] == '[')
        break;
      if (g_str_has_prefix (*line, "args:"))
        return g_strstrip (g_strdup (*line + strlen ("args:")));
    }
  return g_strdup ("");
}

static gboolean
pidfile_runs (const char *path)
{
  guint64 pid;
  return vp_read_u64_file (path, &pid, NULL) && pid > 0 && pid <= G_MAXINT && kill ((pid_t) pid, 0) == 0;
}

static gint
compare_vmid (gconstpointer a, gconstpointer b)
{
  guint64 x = g_ascii_strtoull ((*(BulkVm *const *) a)->vm, NULL, 10);
  guint64 y = g_ascii_strtoull ((*(BulkVm *const *) b)->vm, NULL, 10);
  return x < y ? -1 : x > y;
}

static GPtrArray *
proxmox_vms (const VpBulkRequest *request, GError **error)
{
  g_autofree char *dir = g_strdup_printf ("%s/etc/pve/qemu-server", request->etc_root);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, error);
  if (!listing)
    return NULL;
  GPtrArray *vms = g_ptr_array_new_with_free_func (bulk_vm_free);
  const char *entry;
  while ((entry = g_dir_read_name (listing)))
    {
      guint64 vmid;
      if (!g_str_has_suffix (entry, ".conf"))
        continue;
      g_autofree char *id = g_strndup (entry, strlen (entry) - strlen (".conf"));
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_autofree char *text = NULL;
      if (!g_ascii_string_to_unsigned (id, 10, 1, G_MAXUINT32, &vmid, NULL) ||
          !g_file_get_contents (path, &text, NULL, NULL))
        continue;
      BulkVm *vm = g_new0 (BulkVm, 1);
      vm->vm = g_steal_pointer (&id);
      vm->current = proxmox_args (text);
      g_autofree char *pidfile = g_strdup_printf ("%s/run/qemu-server/%s.pid", request->run_root, vm->vm);
      vm->running = pidfile_runs (pidfile);
      g_ptr_array_add (vms, vm);
    }
  g_ptr_array_sort (vms, compare_vmid);
  return vms;
}

static const char *
label_of (JsonObject *vm, const char *name)
{
  JsonObject *labels = json_object_has_member (vm, "labels") ? json_object_get_object_member (vm, "labels") : NULL;
  return labels && json_object_has_member (labels, name) ? json_object_get_string_member (labels, name) : NULL;
}

/* Runs argv; its stdout (trimmed of one newline), or NULL with the reason. */
static char *
run_tool (char **argv, GError **error)
{
  g_autofree char *out = NULL, *err = NULL;
  int wait_status;
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &wait_status, error))
    return NULL;
  if (!g_spawn_check_wait_status (wait_status, NULL))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "%s failed: %s", argv[0],
                   err && *g_strstrip (err) ? err : "no message");
      return NULL;
    }
  gsize length = strlen (out);
  if (length && out[length - 1] == '\n')
    out[length - 1] = '\0';
  return g_steal_pointer (&out);
}

/* Every KVM instance of the Ganeti cluster, with its kvm_extra: one gnt-instance list. Its fields
 * are separated by '|', the last (kvm_extra) taking the rest of the line; a boolean is Y or N
 * (lib/cli.py _FormatBool). */
static GPtrArray *
ganeti_vms (GError **error)
{
  char *argv[] = { "gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                   "name,hypervisor,oper_state,hv/kvm_extra", NULL };
  g_autofree char *out = run_tool (argv, error);
  if (!out)
    return NULL;
  GPtrArray *vms = g_ptr_array_new_with_free_func (bulk_vm_free);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  for (char **line = lines; *line; line++)
    {
      g_auto (GStrv) fields = g_strsplit (*line, "|", 4);
      if (g_strv_length (fields) != 4 || !g_str_equal (fields[1], "kvm"))
        continue;
      BulkVm *vm = g_new0 (BulkVm, 1);
      vm->vm = g_strdup (fields[0]);
      vm->running = g_str_equal (fields[2], "Y");
      vm->current = g_strdup (fields[3]);
      g_ptr_array_add (vms, vm);
    }
  return vms;
}

/* The Incus or LXD instances vpowerd lists running without the channel, with each one's
 * raw.qemu.conf, read through the manager's tool. */
static GPtrArray *
listed_vms (const VpBulkRequest *request)
{
  const char *manager = request->kind == VP_WIRING_INCUS ? "incus" : "lxd";
  GPtrArray *vms = g_ptr_array_new_with_free_func (bulk_vm_free);
  guint n = request->vms ? json_array_get_length (request->vms) : 0;
  for (guint i = 0; i < n; i++)
    {
      JsonObject *listed = json_array_get_object_element (request->vms, i);
      JsonObject *wiring = json_object_has_member (listed, "wiring") && !json_object_get_null_member (listed, "wiring")
                             ? json_object_get_object_member (listed, "wiring") : NULL;
      const char *state = json_object_get_string_member_with_default (listed, "state", "");
      if (g_strcmp0 (label_of (listed, "label_manager"), manager) != 0 || !wiring ||
          !(g_str_equal (state, "running") || g_str_equal (state, "paused")) ||
          g_strcmp0 (json_object_get_string_member_with_default (wiring, "state", ""), "manual") != 0)
        continue;
      BulkVm *vm = g_new0 (BulkVm, 1);
      const char *name = json_object_get_string_member_with_default (listed, "name", "");
      const char *project = label_of (listed, "project");
      vm->vm = g_strdup (label_of (listed, "vm_name") ? label_of (listed, "vm_name") : name);
      vm->project = project && !g_str_equal (project, "default") ? g_strdup (project) : NULL;
      vm->running = TRUE;
      g_autoptr (GError) error = NULL;
      char *argv[] = { (char *) tool_of (request->kind), "config", "get", vm->vm, "raw.qemu.conf",
                       vm->project ? "--project" : NULL, vm->project, NULL };
      vm->current = run_tool (argv, &error);
      if (!vm->current)
        vm->error = g_strdup (error->message);
      g_ptr_array_add (vms, vm);
    }
  return vms;
}

/* --- the commands --- */

static GPtrArray *
command_for (const VpBulkRequest *request, const BulkVm *vm, const char *merged)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *tool = tool_of (request->kind);
  g_ptr_array_add (argv, g_strdup (tool));
  switch (request->kind)
    {
    case VP_WIRING_PROXMOX:
      g_ptr_array_add (argv, g_strdup ("set"));
      g_ptr_array_add (argv, g_strdup (vm->vm));
      g_ptr_array_add (argv, g_strdup ("--args"));
      g_ptr_array_add (argv, g_strdup (merged));
      break;
    case VP_WIRING_GANETI:
      {
        g_autofree char *escaped = vp_ctl_bulk_ganeti_escape (merged);
        g_ptr_array_add (argv, g_strdup ("modify"));
        g_ptr_array_add (argv, g_strdup ("-H"));
        g_ptr_array_add (argv, g_strconcat ("kvm_extra=", escaped, NULL));
        g_ptr_array_add (argv, g_strdup (vm->vm));
        break;
      }
    default:
      g_ptr_array_add (argv, g_strdup ("config"));
      g_ptr_array_add (argv, g_strdup ("set"));
      g_ptr_array_add (argv, g_strdup (vm->vm));
      g_ptr_array_add (argv, g_strconcat ("raw.qemu.conf=", merged, NULL));
      if (vm->project)
        {
          g_ptr_array_add (argv, g_strdup ("--project"));
          g_ptr_array_add (argv, g_strdup (vm->project));
        }
      break;
    }
  g_ptr_array_add (argv, NULL);
  return argv;
}

static char *
shell_line (GPtrArray *argv)
{
  GString *line = g_string_new (NULL);
  for (guint i = 0; argv->pdata[i]; i++)
    {
      g_autofree char *quoted = g_shell_quote (argv->pdata[i]);
      /* Plain words stay plain: `qm set 101 --args '...'` reads as an operator writes it. */
      gboolean plain = TRUE;
      for (const char *p = argv->pdata[i]; *p && plain; p++)
        plain = g_ascii_isalnum (*p) || strchr ("-_./:=", *p);
      g_string_append_printf (line, "%s%s", i ? " " : "", plain && *(char *) argv->pdata[i] ? (char *) argv->pdata[i] : quoted);
    }
  return g_string_free (line, FALSE);
}

static char *
restart_hint (VpWiringKind kind, const BulkVm *vm)
{
  g_autofree char *project = vm->project ? g_strdup_printf (" --project %s", vm->project) : g_strdup ("");
  switch (kind)
    {
    case VP_WIRING_PROXMOX:
      return g_strdup_printf ("qm reboot %s (a reboot inside the guest keeps the running QEMU)", vm->vm);
    case VP_WIRING_INCUS:
      return g_strdup_printf ("incus restart %s%s", vm->vm, project);
    case VP_WIRING_LXD:
      return g_strdup_printf ("lxc restart %s%s", vm->vm, project);
    case VP_WIRING_GANETI:
      return g_strdup_printf ("gnt-instance reboot --type=hard %s", vm->vm);
    case VP_WIRING_QEMU:
      break;
    }
  return g_strdup ("");
}

int
vp_ctl_bulk (const VpBulkRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) vms = request->kind == VP_WIRING_PROXMOX ? proxmox_vms (request, &error)
                            : request->kind == VP_WIRING_GANETI ? ganeti_vms (&error)
                                                                : listed_vms (request);
  if (!vms)
    {
      g_printerr ("vpowerctl: %s: %s\n", request->kind == VP_WIRING_PROXMOX ? "no Proxmox VE configuration on this node"
                  : "cannot list Ganeti's instances (run it on the master node)", error->message);
      return 1;
    }
  /* wired: its setting has the channel; pending: that too, but the running QEMU does not yet. */
  guint commands = 0, wired = 0, pending = 0, refused = 0, failed = 0;
  for (guint i = 0; i < vms->len; i++)
    {
      const BulkVm *vm = vms->pdata[i];
      const char *who = vm->vm;
      if (vm->error)
        {
          g_printerr ("vpowerctl: %s: left out: cannot read its %s (%s), and setting it blind could replace what "
                      "it has\n", who, setting_of (request->kind), vm->error);
          refused++;
          continue;
        }
      g_autoptr (GError) wiring_error = NULL;
      g_autofree char *note = NULL;
      g_autofree char *text = vp_ctl_wiring (request->kind, vm->vm, vm->project, request->runtime_dir,
                                             request->etc_root, &note, &wiring_error);
      if (!text)
        {
          g_printerr ("vpowerctl: %s: left out: %s\n", who, wiring_error->message);
          refused++;
          continue;
        }
      /* The bare value: Proxmox's line is "args: VALUE"; each ends with a newline. */
      g_autofree char *value = g_strdup (g_str_has_prefix (text, "args: ") ? text + strlen ("args: ") : text);
      g_strchomp (value);
      gboolean has_it;
      g_autofree char *why = NULL;
      g_autofree char *merged = vp_ctl_bulk_merge (request->kind, vm->current, value, &has_it, &why);
      g_autofree char *restart = restart_hint (request->kind, vm);
      if (has_it)
        {
          /* Incus VMs are listed because they run without it: set, not yet restarted. */
          if (request->kind != VP_WIRING_INCUS && request->kind != VP_WIRING_LXD)
            wired++;
          else
            {
              g_printerr ("vpowerctl: %s: its %s has the channel already; the VM gets it when it restarts (%s)\n",
                          who, setting_of (request->kind), restart);
              pending++;
            }
          continue;
        }
      if (!merged)
        {
          g_printerr ("vpowerctl: %s: refused: %s\n", who, why);
          refused++;
          continue;
        }
      g_autoptr (GPtrArray) argv = command_for (request, vm, merged);
      g_autofree char *line = shell_line (argv);
      commands++;
      if (request->apply)
        {
          g_autoptr (GError) run_error = NULL;
          g_autofree char *out = run_tool ((char **) argv->pdata, &run_error);
          if (!out)
            {
              g_printerr ("vpowerctl: %s: %s\n", who, run_error->message);
              failed++;
              continue;
            }
        }
      printf ("%s\n", line);
      fflush (stdout);
      g_autofree char *keeps = *vm->current ? g_strdup_printf ("; its %s keeps what it has, the channel's options "
                                                              "after it", setting_of (request->kind)) : g_strdup ("");
      g_printerr ("vpowerctl: %s: %s%s%s\n", who, request->apply ? "set" : "to set", keeps,
                  vm->running ? "" : "; not running: it has the channel from its next start");
      if (vm->running)
        g_printerr ("vpowerctl: %s: running: restart it once %sfor the channel: %s\n", who,
                    request->apply ? "" : "after setting it ", restart);
    }
  g_printerr ("vpowerctl: %u %s: %u lack the channel: %u %s; %u set already but not yet restarted, %u refused, "
              "%u failed; %u wired%s\n",
              vms->len, request->kind == VP_WIRING_PROXMOX ? "VMs on this node"
                        : request->kind == VP_WIRING_GANETI ? "KVM instances in the cluster"
                                                            : "instances running here without the channel",
              commands + refused + failed, commands, request->apply ? "set" : "commands printed", pending, refused,
              failed, wired, request->apply || !commands ? "" : ". Nothing was applied: run it again with --apply");
  return refused || failed ? 1 : 0;
}
