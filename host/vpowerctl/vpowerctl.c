/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerctl: the operator's command line: asks vpowerd over its control socket and prints the answer.
 *
 * It holds no logic of its own beyond rendering: every answer comes from the
 * running daemon (host/control/control.c), so vpowerctl shows exactly what vpowerd
 * serves, and attach runs with the daemon's libvirt connection URI. */
#include "config.h"

#include "host/conf.h"
#include "host/vpowerctl/ctl-bulk.h"
#include "host/vpowerctl/ctl-render.h"
#include "host/vpowerctl/ctl-wiring.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define EXIT_REFUSED 1      /* vpowerd answered with an error */
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3  /* no vpowerd to ask */
/* attach waits on libvirt, which can take a while on a busy host. */
#define ANSWER_TIMEOUT_S 60

typedef struct {
  char *socket_path;
  gboolean json;
  int count;
  gboolean nine_p;
  gboolean virtiofs;
  gboolean channel;
  gboolean config;
  gboolean live;
  gboolean proxmox;
  gboolean incus;
  gboolean lxd;
  gboolean ganeti;
  gboolean qemu;
  char *project;
  gboolean all;
  gboolean apply;
} Options;

typedef char *(*RenderFunc) (JsonObject *result);

typedef struct {
  const char *name;
  gboolean takes_vm;
  gboolean takes_transport;
  RenderFunc render;        /* NULL: print the result's "message" */
} Command;

static const Command commands[] = {
  { "status", FALSE, FALSE, vp_ctl_render_status },
  { "list", FALSE, FALSE, vp_ctl_render_list },
  { "show", TRUE, FALSE, vp_ctl_render_show },
  { "top", FALSE, FALSE, vp_ctl_render_list },
  { "xml", TRUE, TRUE, vp_ctl_render_xml },
  { "attach", TRUE, TRUE, NULL },
  { "wiring", TRUE, FALSE, NULL },   /* computed here: run_wiring() */
};

static int
fail (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

static int
fail (int status, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("vpowerctl: %s\n", message);
  return status;
}

/* Connects, sends one request line, and reads the whole answer. On failure
 * returns NULL with *status set to the exit status to use. */
static char *
ask (const Options *options, const char *request, int *status, GError **error)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  *status = EXIT_UNREACHABLE;
  if (strlen (options->socket_path) >= sizeof address.sun_path)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "%s: the path is too long", options->socket_path);
      return NULL;
    }
  strcpy (address.sun_path, options->socket_path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval timeout = { .tv_sec = ANSWER_TIMEOUT_S };
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
      connect (fd, (struct sockaddr *) &address, sizeof address) != 0)
    {
      int saved = errno;
      const char *hint = saved == ENOENT ? "is vpowerd running? (see --socket)"
                       : saved == EACCES ? "the control socket is root's: run vpowerctl as root"
                       : saved == ECONNREFUSED ? "nothing answers: vpowerd is not running (a stale socket)"
                       : "";
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot reach vpowerd at %s: %s; %s",
                   options->socket_path, g_strerror (saved), hint);
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  g_autofree char *line = g_strconcat (request, "\n", NULL);
  g_autoptr (GString) answer = g_string_new (NULL);
  gsize sent = 0;
  while (sent < strlen (line))
    {
      gssize n = send (fd, line + sent, strlen (line) - sent, MSG_NOSIGNAL);
      if (n <= 0)
        break;
      sent += (gsize) n;
    }
  char buffer[8192];
  gssize got;
  while ((got = read (fd, buffer, sizeof buffer)) > 0)
    g_string_append_len (answer, buffer, got);
  int saved = errno;
  close (fd);
  if (got < 0 || answer->len == 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "vpowerd at %s gave no answer%s%s",
                   options->socket_path, got < 0 ? ": " : "", got < 0 ? g_strerror (saved) : "");
      return NULL;
    }
  *status = EXIT_SUCCESS;
  return g_string_free (g_steal_pointer (&answer), FALSE);
}

static char *
build_request (const Command *command, const char *vm, const Options *options)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "command");
  /* top is list, asked again every interval. */
  json_builder_add_string_value (b, g_str_equal (command->name, "top") ? "list" : command->name);
  if (vm)
    {
      json_builder_set_member_name (b, "vm");
      json_builder_add_string_value (b, vm);
    }
  if (command->takes_transport)
    {
      json_builder_set_member_name (b, "transport");
      json_builder_add_string_value (b, options->channel ? "channel" : options->virtiofs ? "virtiofs" : "9p");
    }
  if (g_str_equal (command->name, "attach"))
    {
      json_builder_set_member_name (b, "config");
      json_builder_add_boolean_value (b, options->config);
      json_builder_set_member_name (b, "live");
      json_builder_add_boolean_value (b, options->live);
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Runs one request and prints its answer. */
static int
run_once (const Command *command, const char *request, const Options *options, double *interval_s,
          gboolean clear_screen)
{
  g_autoptr (GError) error = NULL;
  int status;
  g_autofree char *text = ask (options, request, &status, &error);
  if (!text)
    return fail (status, "%s", error->message);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = json_parser_load_from_data (parser, text, -1, &error) ? json_parser_get_root (parser) : NULL;
  JsonObject *answer = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (!answer)
    return fail (EXIT_UNREACHABLE, "vpowerd's answer is not JSON: %s", error ? error->message : "not an object");
  if (!json_object_get_boolean_member_with_default (answer, "ok", FALSE))
    return fail (EXIT_REFUSED, "%s", json_object_get_string_member_with_default (answer, "error", "failed"));
  JsonNode *result_node = json_object_get_member (answer, "result");
  JsonObject *result = result_node && JSON_NODE_HOLDS_OBJECT (result_node) ? json_node_get_object (result_node) : NULL;
  if (!result)
    return fail (EXIT_REFUSED, "vpowerd's answer has no result");
  if (interval_s)
    *interval_s = json_object_get_double_member_with_default (result, "interval_s", 1.0);

  g_autofree char *out = NULL;
  if (options->json)
    {
      g_autofree char *json = json_to_string (result_node, TRUE);
      out = g_strconcat (json, "\n", NULL);
    }
  else if (command->render)
    out = command->render (result);
  else
    out = g_strconcat (json_object_get_string_member_with_default (result, "message", "done"), "\n", NULL);
  /* attach of a share: the operator should know it pins the VM. */
  const char *warning = command->render ? NULL : json_object_get_string_member_with_default (result, "warning", NULL);
  if (warning && !options->json)
    g_printerr ("vpowerctl: warning: %s\n", warning);
  if (clear_screen)
    fputs ("\033[H\033[2J", stdout);
  fputs (out, stdout);
  fflush (stdout);
  return EXIT_SUCCESS;
}

/* wiring: the lines for a manager's own configuration, on stdout; how to apply them, on stderr. */
static int
run_wiring (const char *vm, const Options *options)
{
  VpWiringKind kind = options->proxmox ? VP_WIRING_PROXMOX
                    : options->incus   ? VP_WIRING_INCUS
                    : options->lxd     ? VP_WIRING_LXD
                    : options->ganeti  ? VP_WIRING_GANETI
                                       : VP_WIRING_QEMU;
  g_autofree char *runtime_dir = g_path_get_dirname (options->socket_path);
  g_autofree char *note = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = vp_ctl_wiring (kind, vm, options->project, runtime_dir, "", &note, &error);
  if (!text)
    return fail (EXIT_REFUSED, "%s", error->message);
  fputs (text, stdout);
  fflush (stdout);
  g_printerr ("vpowerctl: %s\n", note);
  return EXIT_SUCCESS;
}

/* wiring --all: every VM of the manager here (ctl-bulk.c); for those found running, vpowerd's list. */
static int
run_wiring_all (const Options *options)
{
  VpWiringKind kind = options->proxmox ? VP_WIRING_PROXMOX
                    : options->incus   ? VP_WIRING_INCUS
                    : options->lxd     ? VP_WIRING_LXD
                                       : VP_WIRING_GANETI;
  g_autofree char *runtime_dir = g_path_get_dirname (options->socket_path);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *vms = NULL;
  if (kind == VP_WIRING_INCUS || kind == VP_WIRING_LXD)
    {
      g_autoptr (GError) error = NULL;
      int status;
      g_autofree char *text = ask (options, "{\"command\":\"list\"}", &status, &error);
      if (!text)
        return fail (status, "%s (the VMs running here are vpowerd's list)", error->message);
      JsonNode *root = json_parser_load_from_data (parser, text, -1, &error) ? json_parser_get_root (parser) : NULL;
      JsonObject *answer = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
      JsonObject *result = answer && json_object_has_member (answer, "result")
                             ? json_object_get_object_member (answer, "result") : NULL;
      if (!result || !json_object_has_member (result, "vms"))
        return fail (EXIT_REFUSED, "vpowerd did not list its VMs");
      vms = json_object_get_array_member (result, "vms");
    }
  VpBulkRequest request = {
    .kind = kind, .runtime_dir = runtime_dir, .etc_root = "", .run_root = "", .vms = vms, .apply = options->apply,
  };
  return vp_ctl_bulk (&request);
}

/* top: list, redrawn every interval until --count runs out or Ctrl-C. */
static int
run_top (const Command *command, const char *request, const Options *options)
{
  gboolean tty = isatty (STDOUT_FILENO) && !options->json;
  double interval_s = 1.0;   /* vpowerd's, from each answer */
  for (int shown = 0; options->count <= 0 || shown < options->count; shown++)
    {
      if (shown > 0)
        g_usleep ((gulong) (MAX (0.1, interval_s) * G_USEC_PER_SEC));
      int status = run_once (command, request, options, &interval_s, tty);
      if (status != EXIT_SUCCESS)
        return status;
    }
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  Options options = { .count = 0 };
  gboolean version = FALSE;
  g_autofree char *default_socket = g_build_filename (VP_DEFAULT_RUNTIME_DIR, VP_CONTROL_SOCKET_NAME, NULL);
  GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &options.socket_path,
      "vpowerd's control socket (default " VP_DEFAULT_RUNTIME_DIR "/" VP_CONTROL_SOCKET_NAME ")", "PATH" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &options.json, "print vpowerd's JSON answer, for scripts", NULL },
    { "count", 'n', 0, G_OPTION_ARG_INT, &options.count, "top: stop after N refreshes", "N" },
    { "channel", 0, 0, G_OPTION_ARG_NONE, &options.channel,
      "xml, attach: the virtio-serial channel (migrates, saves, hot-plugs)", NULL },
    { "9p", 0, 0, G_OPTION_ARG_NONE, &options.nine_p, "xml, attach: share over 9p (blocks migration)", NULL },
    { "virtiofs", 0, 0, G_OPTION_ARG_NONE, &options.virtiofs,
      "xml, attach: share over virtiofs (blocks migration on QEMU < 8.2)", NULL },
    { "config", 0, 0, G_OPTION_ARG_NONE, &options.config,
      "attach: to the persistent definition (the default; seen at the next boot)", NULL },
    { "live", 0, 0, G_OPTION_ARG_NONE, &options.live,
      "attach: to the running VM (channel: needs a virtio-serial controller; virtiofs; not 9p)", NULL },
    { "proxmox", 0, 0, G_OPTION_ARG_NONE, &options.proxmox, "wiring: an args: line for a Proxmox VE VM (VM is its VMID)", NULL },
    { "incus", 0, 0, G_OPTION_ARG_NONE, &options.incus, "wiring: raw.qemu.conf for an Incus instance", NULL },
    { "lxd", 0, 0, G_OPTION_ARG_NONE, &options.lxd, "wiring: raw.qemu.conf for an LXD instance", NULL },
    { "ganeti", 0, 0, G_OPTION_ARG_NONE, &options.ganeti, "wiring: kvm_extra for a Ganeti instance", NULL },
    { "qemu", 0, 0, G_OPTION_ARG_NONE, &options.qemu, "wiring: arguments for QEMU run by hand (VM is its -name)", NULL },
    { "project", 0, 0, G_OPTION_ARG_STRING, &options.project, "wiring: the Incus or LXD project (default: default)", "NAME" },
    { "all", 0, 0, G_OPTION_ARG_NONE, &options.all,
      "wiring: every VM of the manager that lacks the channel (Proxmox: on this node; Incus, LXD: running here; "
      "Ganeti: in the cluster, on the master), as commands of its own tool", NULL },
    { "apply", 0, 0, G_OPTION_ARG_NONE, &options.apply, "wiring --all: run those commands", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version and exit", NULL },
    { NULL },
  };

  setlocale (LC_ALL, "");
  g_autoptr (GOptionContext) context = g_option_context_new ("COMMAND [VM] - ask vpowerd what it measures, and wire VMs");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Commands:\n"
    "  status                      health, sensor, CPU-time source, policy, age of the last tick, number of VMs\n"
    "  list                        every VM: state, watts per zone, joules, CPU share\n"
    "  show VM                     one VM (name or UUID): zones, counters, directory, shares\n"
    "  top                         the list, redrawn every interval (Ctrl-C quits)\n"
    "  xml VM --channel|--9p|--virtiofs\n"
    "                              the libvirt XML that wires the VM to vpower\n"
    "  attach VM --channel|--9p|--virtiofs [--config] [--live]\n"
    "                              add it through libvirt, or say why it cannot\n"
    "  wiring VM --proxmox|--incus|--lxd|--ganeti|--qemu [--project NAME]\n"
    "                              the channel for a VM libvirt does not manage: a Proxmox args: line,\n"
    "                              an Incus or LXD raw.qemu.conf, Ganeti's kvm_extra, or QEMU arguments\n"
    "                              (computed here)\n"
    "  wiring --proxmox|--incus|--lxd|--ganeti --all [--apply]\n"
    "                              the qm, incus, lxc or gnt-instance command that adds the channel to each\n"
    "                              VM that lacks it, merged with what its setting has; --apply runs them\n"
    "                              (each VM then needs one restart)\n"
    "\n"
    "The channel is the transport for VMs that live-migrate or are saved: a mounted 9p\n"
    "share blocks both, and a virtiofs share blocks both unless virtiofsd can migrate\n"
    "(Debian 13), and then shows each host's own counter (vpowerctl(8)).");
  g_option_context_set_description (context,
    "vpowerctl talks to vpowerd over its root-only unix socket. "
    "Exit status: 0 success, 1 vpowerd refused or failed the request, 2 usage, 3 vpowerd not reachable.\n"
    "See vpowerctl(8).");
  g_autoptr (GError) error = NULL;
  gboolean parsed = g_option_context_parse (context, &argc, &argv, &error);
  /* Owned here, so that every return below frees it. */
  g_autofree char *socket_path = options.socket_path ? options.socket_path : g_steal_pointer (&default_socket);
  options.socket_path = socket_path;
  g_autofree char *project = options.project;
  if (!parsed)
    return fail (EXIT_USAGE, "%s (see --help)", error->message);
  if (version)
    {
      printf ("vpowerctl %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  if (argc < 2)
    return fail (EXIT_USAGE, "which command? status, list, show, top, xml, attach or wiring (see --help)");

  const Command *command = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, argv[1]))
      command = &commands[i];
  if (!command)
    return fail (EXIT_USAGE, "unknown command '%s' (see --help)", argv[1]);
  gboolean bulk = g_str_equal (command->name, "wiring") && options.all;
  int wanted_args = command->takes_vm && !bulk ? 3 : 2;
  if (argc != wanted_args)
    return fail (EXIT_USAGE, command->takes_vm ? "%s takes one VM (name or UUID)" : "%s takes no argument",
                 command->name);
  int transports = options.nine_p + options.virtiofs + options.channel;
  if (command->takes_transport && transports != 1)
    return fail (EXIT_USAGE, "%s needs exactly one of --channel, --9p and --virtiofs", command->name);
  if (!command->takes_transport && transports)
    return fail (EXIT_USAGE, "--channel, --9p and --virtiofs are for xml and attach");
  if (!g_str_equal (command->name, "attach") && (options.config || options.live))
    return fail (EXIT_USAGE, "--config and --live are for attach");
  if (options.count && !g_str_equal (command->name, "top"))
    return fail (EXIT_USAGE, "--count is for top");
  int managers = options.proxmox + options.incus + options.lxd + options.ganeti + options.qemu;
  if (g_str_equal (command->name, "wiring"))
    {
      if (managers != 1)
        return fail (EXIT_USAGE, "wiring needs exactly one of --proxmox, --incus, --lxd, --ganeti and --qemu");
      if (options.project && !options.incus && !options.lxd)
        return fail (EXIT_USAGE, "--project is for --incus and --lxd");
      if (options.apply && !options.all)
        return fail (EXIT_USAGE, "--apply is for wiring --all");
      if (bulk && options.qemu)
        return fail (EXIT_USAGE, "QEMU run by hand has no manager to set it through: `wiring NAME --qemu` prints "
                     "its arguments");
      if (bulk && options.project)
        return fail (EXIT_USAGE, "wiring --all covers every project");
      return bulk ? run_wiring_all (&options) : run_wiring (argv[2], &options);
    }
  if (managers || options.project || options.all || options.apply)
    return fail (EXIT_USAGE, "--proxmox, --incus, --lxd, --ganeti, --qemu, --project, --all and --apply are for wiring");

  g_autofree char *request = build_request (command, command->takes_vm ? argv[2] : NULL, &options);
  int status = g_str_equal (command->name, "top") ? run_top (command, request, &options)
                                                   : run_once (command, request, &options, NULL, FALSE);
  return status;
}
