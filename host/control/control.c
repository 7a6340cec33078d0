/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the control socket vpowerctl talks to: one JSON request line, one JSON answer.
 *
 * A unix socket only, never TCP: mode 0600 in the runtime directory, and
 * the peer's uid is checked too, so only root (or vpowerd's own user) is
 * served. The mount holder creates it and hands it to every engine it
 * starts, so it outlives engine restarts: a request made meanwhile waits in
 * the backlog. Requests run on a small thread pool because attach waits on
 * libvirt; what they report comes from the engine's latest snapshot, which
 * is safe to read from any thread.
 *
 *   request:  {"command":"show","vm":"web1"}
 *   answer:   {"ok":true,"result":{...}}  or  {"ok":false,"error":"..."} */
#include "config.h"

#include "host/control/control.h"
#include "host/inventory/libvirt-util.h"
#include "host/control/share.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_MAX_REQUEST (64 * 1024)
#define CONTROL_TIMEOUT_S 5
#define CONTROL_MAX_THREADS 8
/* Accepted connections waiting for a thread; beyond that, "busy" at once. */
#define CONTROL_MAX_QUEUED 256
/* Clients beyond the threads wait in the backlog (a blocking connect
 * sleeps until there is room; a non-blocking one gets EAGAIN). */
#define CONTROL_BACKLOG 128
/* After answering, what the client still sends is read and dropped, up to
 * this much: closing a unix socket with unread data resets it, and the
 * client would lose the answer (an oversized request's error, say). */
#define CONTROL_MAX_DRAIN (1024 * 1024)

struct _VpControl {
  VpEngine *engine;
  const VpConfig *config;
  GSocketService *service;
  GThreadPool *pool;            /* answers requests, CONTROL_MAX_THREADS at a time */

  GMutex lock;
  GCond idle;
  guint in_flight;              /* requests being answered */
  virConnectPtr conn;           /* for show and attach; opened on first use */
};

/* --- the socket --- */

static gboolean
socket_answers (const struct sockaddr_un *address)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean answers = fd >= 0 && connect (fd, (const struct sockaddr *) address, sizeof *address) == 0;
  if (fd >= 0)
    close (fd);
  return answers;
}

int
vp_control_listen (const char *path, gboolean take_over, GError **error)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof address.sun_path)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "the control socket path %s is too long", path);
      return -1;
    }
  strcpy (address.sun_path, path);
  if (!take_over && socket_answers (&address))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "another vpowerd answers on %s (use --runtime-dir)", path);
      return -1;
    }
  g_unlink (path);

  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  /* Linux gives the socket file the mode of the socket's inode, so fchmod
   * before bind leaves no moment in which others could connect. */
  if (fd < 0 || fchmod (fd, 0600) != 0 || bind (fd, (struct sockaddr *) &address, sizeof address) != 0 ||
      chmod (path, 0600) != 0 || listen (fd, CONTROL_BACKLOG) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot listen on %s: %s", path,
                   g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  return fd;
}

/* --- the commands --- */

typedef JsonNode *(*CommandFunc) (VpControl *control, JsonObject *request, GError **error);

static JsonNode *
finish_object (JsonBuilder *b)
{
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* A request's member, when it has that type: requests come from outside. */
static const char *
request_string (JsonObject *request, const char *name)
{
  JsonNode *node = json_object_get_member (request, name);
  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
           ? json_node_get_string (node) : NULL;
}

static gboolean
request_flag (JsonObject *request, const char *name)
{
  JsonNode *node = json_object_get_member (request, name);
  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
         json_node_get_boolean (node);
}

static const VpVmSnapshot *
find_vm (const VpSnapshot *snapshot, JsonObject *request, GError **error)
{
  const char *wanted = request_string (request, "vm");
  const VpVmSnapshot *vm = wanted ? vp_snapshot_find_vm (snapshot, wanted) : NULL;
  if (!wanted)
    g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "which VM? (name or UUID)");
  else if (!vm)
    g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "no VM named or with UUID '%s' (vpowerctl list shows them)",
                 wanted);
  return vm;
}

/* libvirt's VMs can be shown and attached to through libvirt: all of them with
 * inventory=libvirt, those it lists with inventory=auto. */
static gboolean
uses_libvirt (VpControl *control)
{
  return g_str_equal (control->config->inventory, "libvirt") || g_str_equal (control->config->inventory, "auto");
}

static gboolean
is_libvirt_vm (VpControl *control, const VpVmSnapshot *vm, GError **error)
{
  if (!uses_libvirt (control))
    g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "the inventory is %s, not libvirt", control->config->inventory);
  else if (vm->wiring && vm->wiring->state == VP_WIRE_MANUAL)
    g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "%s is not a libvirt VM: %s", vm->name, vm->wiring->reason);
  else
    return TRUE;
  return FALSE;
}

/* The VMs whose wiring needs an operator: what vpowerctl status lists. */
static gboolean
wiring_needs_attention (const VpWireStatus *wiring)
{
  return wiring && (wiring->state == VP_WIRE_NO_CONTROLLER || wiring->state == VP_WIRE_FAILED ||
                    wiring->state == VP_WIRE_DETACHED || wiring->state == VP_WIRE_MANUAL);
}

/* A connection of the control socket's own, so that a slow libvirt call
 * never holds up the inventory's event thread. Called with the lock held. */
static virConnectPtr
libvirt_connection (VpControl *control, GError **error)
{
  if (control->conn && virConnectIsAlive (control->conn) != 1)
    g_clear_pointer (&control->conn, virConnectClose);
  if (!control->conn)
    {
      control->conn = virConnectOpen (control->config->connect);
      if (!control->conn)
        {
          g_autofree char *what = g_strdup_printf ("cannot connect to libvirt at %s", control->config->connect);
          vp_libvirt_set_error (error, what);
        }
    }
  return control->conn;
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static JsonNode *
run_status (VpControl *control, JsonObject *request, GError **error)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (control->engine);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  double age_s;
  VpHealth health = vp_snapshot_health (snapshot, &age_s);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "health");
  json_builder_add_string_value (b, vp_health_to_string (health));
  json_builder_set_member_name (b, "tick_age_s");
  json_builder_add_double_value (b, age_s);
  vp_snapshot_json_host_members (b, snapshot);
  add_string_or_null (b, "connect", uses_libvirt (control) ? control->config->connect : NULL);
  add_string_or_null (b, "mount", control->config->no_mount ? NULL : control->config->mount);
  json_builder_set_member_name (b, "state_dir");
  json_builder_add_string_value (b, control->config->state_dir);
  g_autofree char *listen = g_strdup_printf ("%s:%u", control->config->listen_host, control->config->listen_port);
  json_builder_set_member_name (b, "listen");
  json_builder_add_string_value (b, listen);
  json_builder_set_member_name (b, "engine_pid");
  json_builder_add_int_value (b, getpid ());
  json_builder_set_member_name (b, "wiring_attention");
  json_builder_begin_array (b);
  for (guint i = 0; i < snapshot->vms->len; i++)
    {
      const VpVmSnapshot *vm = snapshot->vms->pdata[i];
      if (!wiring_needs_attention (vm->wiring))
        continue;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, vm->name);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, vp_wire_state_to_string (vm->wiring->state));
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, vm->wiring->reason);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  return finish_object (b);
}

static void
add_directory (VpControl *control, JsonBuilder *b, const VpVmSnapshot *vm)
{
  g_autofree char *directory = control->config->no_mount ? NULL : vp_share_directory (control->config, vm->name);
  add_string_or_null (b, "directory", directory);
}

static JsonNode *
run_list (VpControl *control, JsonObject *request, GError **error)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (control->engine);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ticks");
  json_builder_add_int_value (b, (gint64) snapshot->ticks);
  json_builder_set_member_name (b, "interval_s");
  json_builder_add_double_value (b, snapshot->interval_s);
  json_builder_set_member_name (b, "vms");
  json_builder_begin_array (b);
  for (guint i = 0; i < snapshot->vms->len; i++)
    {
      json_builder_begin_object (b);
      vp_snapshot_json_vm_members (b, snapshot->vms->pdata[i]);
      add_directory (control, b, snapshot->vms->pdata[i]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  return finish_object (b);
}

/* Which shares the VM's libvirt definition already has, for show. */
static GPtrArray *
wired_shares (VpControl *control, const VpVmSnapshot *vm, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&control->lock);
  virConnectPtr conn = libvirt_connection (control, error);
  g_autoptr (virDomain) domain = conn ? virDomainLookupByUUIDString (conn, vm->uuid) : NULL;
  if (conn && !domain)
    vp_libvirt_set_error (error, "cannot find the domain in libvirt");
  g_autofree char *text = domain ? virDomainGetXMLDesc (domain, VIR_DOMAIN_XML_INACTIVE) : NULL;
  if (domain && !text)
    vp_libvirt_set_error (error, "cannot read the domain's XML");
  g_autoptr (VpDomainXml) xml = text ? vp_domain_xml_parse (text, -1, error) : NULL;
  g_autofree char *directory = vp_share_directory (control->config, vm->name);
  return xml ? vp_share_wired (xml, directory, VP_SHARE_DEFAULT_TAG) : NULL;
}

static JsonNode *
run_show (VpControl *control, JsonObject *request, GError **error)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (control->engine);
  const VpVmSnapshot *vm = find_vm (snapshot, request, error);
  if (!vm)
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  vp_snapshot_json_vm_members (b, vm);
  add_directory (control, b, vm);
  json_builder_set_member_name (b, "interval_s");
  json_builder_add_double_value (b, snapshot->interval_s);

  /* Shares: only libvirt knows; a failure to ask is reported, not fatal. */
  g_autoptr (GError) share_error = NULL;
  g_autoptr (GPtrArray) wired = NULL;
  if (is_libvirt_vm (control, vm, &share_error))
    wired = wired_shares (control, vm, &share_error);
  json_builder_set_member_name (b, "shares");
  if (wired)
    {
      json_builder_begin_array (b);
      for (guint i = 0; i < wired->len; i++)
        json_builder_add_string_value (b, wired->pdata[i]);
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);
  add_string_or_null (b, "shares_error", share_error ? share_error->message : NULL);
  return finish_object (b);
}

static gboolean
requested_transport (JsonObject *request, VpShareTransport *transport, GError **error)
{
  const char *name = request_string (request, "transport");
  if (!vp_share_transport_parse (name, transport))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "which transport? --channel, --9p or --virtiofs");
      return FALSE;
    }
  return TRUE;
}

/* What xml and attach both need: the VM, the transport, and a tree to share. */
static const VpVmSnapshot *
share_request (VpControl *control, const VpSnapshot *snapshot, JsonObject *request, VpShareTransport *transport,
               GError **error)
{
  const VpVmSnapshot *vm = find_vm (snapshot, request, error);
  if (!vm || !requested_transport (request, transport, error))
    return NULL;
  /* The channel carries numbers, not the tree: it needs no mount. */
  if (control->config->no_mount && *transport != VP_SHARE_CHANNEL)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "vpowerd runs with --no-mount: there is no tree to share");
      return NULL;
    }
  return vm;
}

static JsonNode *
run_xml (VpControl *control, JsonObject *request, GError **error)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (control->engine);
  VpShareTransport transport;
  const VpVmSnapshot *vm = share_request (control, snapshot, request, &transport, error);
  if (!vm)
    return NULL;
  g_autofree char *directory = vp_share_directory (control->config, vm->name);
  g_autofree char *filesystem = vp_share_device_xml (transport, directory, VP_SHARE_DEFAULT_TAG);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vm");
  json_builder_add_string_value (b, vm->name);
  json_builder_set_member_name (b, "transport");
  json_builder_add_string_value (b, vp_share_transport_name (transport));
  json_builder_set_member_name (b, "directory");
  json_builder_add_string_value (b, directory);
  json_builder_set_member_name (b, "tag");
  json_builder_add_string_value (b, VP_SHARE_DEFAULT_TAG);
  /* "device" is the element to add; "filesystem" stays for the shares, as before the channel. */
  json_builder_set_member_name (b, "device");
  json_builder_add_string_value (b, filesystem);
  add_string_or_null (b, "filesystem", transport == VP_SHARE_CHANNEL ? NULL : filesystem);
  add_string_or_null (b, "memory_backing", transport == VP_SHARE_VIRTIOFS ? vp_share_memory_backing_xml () : NULL);
  add_string_or_null (b, "warning", vp_share_migration_warning (transport));
  return finish_object (b);
}

static JsonNode *
run_attach (VpControl *control, JsonObject *request, GError **error)
{
  g_autoptr (VpSnapshot) snapshot = vp_engine_snapshot (control->engine);
  VpShareTransport transport;
  const VpVmSnapshot *vm = share_request (control, snapshot, request, &transport, error);
  if (!vm)
    return NULL;
  if (!is_libvirt_vm (control, vm, error))
    {
      g_prefix_error (error, "attach works through libvirt only: ");
      return NULL;
    }
  VpShareTarget target = {
    .config = request_flag (request, "config"),
    .live = request_flag (request, "live"),
  };
  /* The persistent definition unless told otherwise: a 9p share can only go
   * there, and it survives the next restart of the VM. */
  if (!target.config && !target.live)
    target.config = TRUE;
  g_autofree char *directory = vp_share_directory (control->config, vm->name);
  g_autofree char *message = NULL;
  {
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&control->lock);
    virConnectPtr conn = libvirt_connection (control, error);
    message = conn ? vp_share_attach (conn, vm->uuid, transport, directory, target, error) : NULL;
  }
  if (!message)
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vm");
  json_builder_add_string_value (b, vm->name);
  json_builder_set_member_name (b, "transport");
  json_builder_add_string_value (b, vp_share_transport_name (transport));
  json_builder_set_member_name (b, "config");
  json_builder_add_boolean_value (b, target.config);
  json_builder_set_member_name (b, "live");
  json_builder_add_boolean_value (b, target.live);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  add_string_or_null (b, "warning", vp_share_migration_warning (transport));
  return finish_object (b);
}

static const struct {
  const char *name;
  CommandFunc run;
} commands[] = {
  { "status", run_status },
  { "list", run_list },
  { "show", run_show },
  { "xml", run_xml },
  { "attach", run_attach },
};

/* --- one request --- */

static JsonNode *
dispatch (VpControl *control, const char *line, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (memchr (line, '\0', length))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "a NUL byte in the request");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, line, (gssize) length, error))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *request = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  const char *name = request ? request_string (request, "command") : NULL;
  if (!name)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "a request is a JSON object with a \"command\"");
      return NULL;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return commands[i].run (control, request, error);
  g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "unknown command '%s' (is vpowerctl from another version?)", name);
  return NULL;
}

static char *
answer_text (JsonNode *result, const GError *error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, result != NULL);
  if (result)
    {
      json_builder_set_member_name (b, "result");
      json_builder_add_value (b, json_node_ref (result));
    }
  else
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, error ? error->message : "failed");
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, FALSE);
  return g_strconcat (text, "\n", NULL);
}

char *
vp_control_answer (VpControl *control, const char *request, gsize length)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) result = NULL;
  if (length > CONTROL_MAX_REQUEST)
    g_set_error (&error, VP_ERROR, VP_ERROR_PARSE, "the request is over %d KiB", CONTROL_MAX_REQUEST / 1024);
  else
    result = dispatch (control, request, length, &error);
  g_debug ("control: %.*s -> %s", (int) MIN (length, 200), request, result ? "ok" : error->message);
  return answer_text (result, error);
}

/* Reads up to the first newline (or end of stream): the request. */
static char *
read_request (GInputStream *input, gsize *length, GError **error)
{
  g_autoptr (GString) line = g_string_new (NULL);
  char buffer[4096];
  for (;;)
    {
      gssize got = g_input_stream_read (input, buffer, sizeof buffer, NULL, error);
      if (got < 0)
        return NULL;
      const char *newline = memchr (buffer, '\n', (gsize) got);
      g_string_append_len (line, buffer, newline ? newline - buffer : got);
      if (line->len > CONTROL_MAX_REQUEST)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "the request is over %d KiB", CONTROL_MAX_REQUEST / 1024);
          return NULL;
        }
      if (newline || got == 0)
        {
          *length = line->len;
          return g_string_free (g_steal_pointer (&line), FALSE);
        }
    }
}

static gboolean
peer_allowed (GSocket *socket)
{
  g_autoptr (GCredentials) credentials = g_socket_get_credentials (socket, NULL);
  uid_t uid = credentials ? g_credentials_get_unix_user (credentials, NULL) : (uid_t) -1;
  return uid == 0 || uid == geteuid ();
}

static void
answer_connection (gpointer data, gpointer user_data)
{
  g_autoptr (GSocketConnection) connection = data;
  VpControl *control = user_data;
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr (GError) error = NULL;
  g_autofree char *answer = NULL;

  g_socket_set_timeout (socket, CONTROL_TIMEOUT_S);
  if (!peer_allowed (socket))
    g_set_error (&error, VP_ERROR, VP_ERROR_FAILED, "only root may use vpowerd's control socket");
  else
    {
      gsize length = 0;
      g_autofree char *line = read_request (g_io_stream_get_input_stream (G_IO_STREAM (connection)), &length, &error);
      if (line)
        answer = vp_control_answer (control, line, length);
      else
        g_debug ("control: dropped a request: %s", error->message);
    }
  if (!answer)
    answer = answer_text (NULL, error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), answer, strlen (answer),
                             NULL, NULL, NULL);
  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  char sink[4096];
  gssize got;
  gsize drained = 0;
  while (drained < CONTROL_MAX_DRAIN &&
         (got = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (connection)), sink, sizeof sink,
                                     NULL, NULL)) > 0)
    drained += (gsize) got;

  g_mutex_lock (&control->lock);
  if (--control->in_flight == 0)
    g_cond_broadcast (&control->idle);
  g_mutex_unlock (&control->lock);
}

/* On the main thread, as a connection is accepted: counted (so that stop
 * can wait for every one) and queued for a thread. This is a plain
 * GSocketService with our own pool, not a GThreadedSocketService: that one
 * stops and restarts its listener from worker threads whenever its threads
 * are all busy, and GLib 2.74 (Debian 12) crashes in that dance under a
 * burst of clients (tests/hostile-load.sh found it). */
static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  VpControl *control = user_data;
  g_mutex_lock (&control->lock);
  gboolean busy = control->in_flight >= CONTROL_MAX_QUEUED;
  if (!busy)
    control->in_flight++;
  g_mutex_unlock (&control->lock);
  if (busy)
    {
      /* A fresh unix socket takes a short line without blocking. */
      g_autoptr (GError) error = g_error_new (VP_ERROR, VP_ERROR_FAILED,
                                              "vpowerd is busy: too many control requests at once");
      g_autofree char *answer = answer_text (NULL, error);
      GSocket *socket = g_socket_connection_get_socket (connection);
      g_socket_set_blocking (socket, FALSE);
      g_socket_send (socket, answer, strlen (answer), NULL, NULL);
      return TRUE;
    }
  g_thread_pool_push (control->pool, g_object_ref (connection), NULL);
  return TRUE;
}

VpControl *
vp_control_new (VpEngine *engine, const VpConfig *config)
{
  VpControl *control = g_new0 (VpControl, 1);
  control->engine = engine;
  control->config = config;
  g_mutex_init (&control->lock);
  g_cond_init (&control->idle);
  return control;
}

VpControl *
vp_control_start (VpEngine *engine, const VpConfig *config, int listen_fd, GError **error)
{
  fcntl (listen_fd, F_SETFD, FD_CLOEXEC);
  g_autoptr (GSocket) socket = g_socket_new_from_fd (listen_fd, error);
  if (!socket)
    {
      close (listen_fd);
      return NULL;
    }
  VpControl *control = vp_control_new (engine, config);
  control->pool = g_thread_pool_new (answer_connection, control, CONTROL_MAX_THREADS, FALSE, NULL);
  control->service = g_socket_service_new ();
  if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (control->service), socket, NULL, error))
    {
      vp_control_stop (control);
      return NULL;
    }
  g_signal_connect (control->service, "incoming", G_CALLBACK (on_incoming), control);
  g_socket_service_start (control->service);
  return control;
}

void
vp_control_stop (VpControl *control)
{
  if (!control)
    return;
  if (control->service)
    {
      g_socket_service_stop (control->service);
      g_socket_listener_close (G_SOCKET_LISTENER (control->service));
    }
  g_mutex_lock (&control->lock);
  while (control->in_flight > 0)
    g_cond_wait (&control->idle, &control->lock);
  g_mutex_unlock (&control->lock);
  if (control->pool)
    g_thread_pool_free (control->pool, FALSE, TRUE);
  g_clear_object (&control->service);
  g_clear_pointer (&control->conn, virConnectClose);
  g_mutex_clear (&control->lock);
  g_cond_clear (&control->idle);
  g_free (control);
}
