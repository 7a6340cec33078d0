/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the libvirt inventory: domains, UUIDs, QEMU PIDs, lifecycle events, reconnect.
 *
 * All libvirt work except the bulk CPU statistics happens on one thread that
 * runs libvirt's default event loop: events, keepalive, reconnects. It keeps
 * a table of domains by UUID and publishes an immutable list whenever the
 * table changes, which the engine picks up at its next tick. While the
 * connection is down the last list stays published (marked incomplete). */
#include "config.h"

#include "host/inventory/foreign-root.h"
#include "host/inventory/inventory.h"
#include "host/inventory/libvirt-util.h"
#include "shared/vp-domxml.h"
#include "shared/vp-error.h"
#include "shared/vp-fileio.h"
#include "shared/vp-metadata.h"
#include "shared/vp-share-xml.h"

#include <stdlib.h>
#include <unistd.h>

#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 30000

typedef struct {
  char *uri;
  char *pid_dir;            /* where libvirt writes <name>.pid, or NULL */
  gboolean optional;        /* inventory=auto: no libvirt here is no error */
  GThread *thread;
  gboolean stop;            /* read by the event thread */
  int wakeup_timer;         /* event-loop timer used to wake the thread to stop */

  /* Owned by the event thread. */
  GHashTable *domains;      /* uuid -> VpVmInfo */
  int lifecycle_callback;
  int device_added_callback;     /* a channel hot-plugged: its socket appears */
  int device_removed_callback;
  int metadata_callback;         /* who the VM belongs to changed */
  int reconnect_timer;
  int reconnect_delay_ms;

  /* Shared: guarded by lock. */
  GMutex lock;
  virConnectPtr conn;       /* NULL while disconnected */
  virConnectPtr dead_conn;  /* lost connection, closed from the event thread */
  GPtrArray *published;     /* immutable VpVmInfo list */
  gboolean complete;
  gboolean connected;
  gboolean first_attempt_done;
  GCond first_attempt;
} LibvirtInventory;

static gboolean libvirt_event_impl_registered;

static const char *
state_to_string (int state)
{
  switch (state)
    {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "running";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "running";    /* shutting down, still running */
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "other";
    }
}

/* libvirt has no API for the QEMU PID; it writes <pid_dir>/<name>.pid while
 * the domain runs (real-components.md). */
static int
read_qemu_pid (LibvirtInventory *inventory, const char *name)
{
  if (!inventory->pid_dir)
    return 0;
  g_autofree char *path = g_strdup_printf ("%s/%s.pid", inventory->pid_dir, name);
  g_autoptr (GError) error = NULL;
  guint64 pid;
  if (!vp_read_u64_file (path, &pid, &error) || pid == 0 || pid > G_MAXINT)
    {
      g_debug ("libvirt: no QEMU pid for %s: %s", name, error ? error->message : "bad pid");
      return 0;
    }
  return (int) pid;
}

/* What the domain's XML says of it:
 * - The user and group QEMU runs as, from the domain's DAC <seclabel>: a
 *   running domain's live XML has the label libvirt chose (qemu.conf user or
 *   a static per-domain label); an inactive one only has a static label. The
 *   VM's files are owned by them so that QEMU's 9p backend can read energy_uj
 *   and nobody else can (design.md). Unknown means root.
 * - The vpower channel and, while the domain runs, its socket: libvirt picks
 *   a new path at every start, restore and incoming migration, so it is read
 *   again at each of those events (real-components.md).
 * - Who it belongs to, from its <metadata> (vp-metadata.h): read again at
 *   every METADATA_CHANGE event.
 * - What wiring needs (host/wiring/wire-plan.h): a virtio-serial controller in the running VM,
 *   the channel in its persistent definition, its manager and its opt-out. The opt-out counts
 *   from either definition: `virsh metadata --config` alone does not change the running one. */
static void
read_domain_xml (virDomainPtr domain, VpVmInfo *vm)
{
  g_autofree char *text = virDomainGetXMLDesc (domain, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpDomainXml) xml = text ? vp_domain_xml_parse (text, -1, &error) : NULL;
  gboolean running = !g_str_equal (vm->state, "shutoff");
  vm->from_libvirt = TRUE;
  vm->persistent = virDomainIsPersistent (domain) == 1;
  if (xml && xml->owner_known)
    {
      vm->uid = xml->uid;
      vm->gid = xml->gid;
    }
  if (xml)
    {
      for (guint i = 0; i < xml->filesystems->len; i++)
        {
          const VpDomainFilesystem *fs = xml->filesystems->pdata[i];
          if (g_strcmp0 (fs->target_dir, VP_SHARE_DEFAULT_TAG) != 0)
            continue;
          if (vp_domain_filesystem_is_virtiofs (fs))
            vm->has_virtiofs = TRUE;
          else
            vm->has_9p = TRUE;
        }
      vm->has_channel = xml->has_channel;
      vm->has_virtio_serial = xml->has_virtio_serial;
      vm->vcpus = xml->vcpus;
      vm->channel_path = running ? g_strdup (xml->channel_path) : NULL;
    }
  else if (!text || !xml)
    g_debug ("libvirt: %s: no usable domain XML (%s); its files stay root's", vm->name,
             error ? error->message : "libvirt returned none");
  guint ignored = 0;
  VpMetadataFacts facts = { 0 };
  vm->labels = xml ? vp_metadata_parse (text, -1, &ignored, &facts, NULL) : NULL;
  if (ignored)
    g_debug ("libvirt: %s: %u vpower metadata labels ignored (a bad or repeated name, or over %d)", vm->name,
             ignored, VP_METADATA_FREE_LABELS_MAX);
  vm->manager = facts.manager;
  vm->wiring_off = facts.wiring_off;
  if (!vm->persistent)
    return;
  if (!running)
    {
      vm->defined_channel = vm->has_channel;
      return;
    }
  g_autofree char *inactive = virDomainGetXMLDesc (domain, VIR_DOMAIN_XML_INACTIVE);
  g_autoptr (VpDomainXml) definition = inactive ? vp_domain_xml_parse (inactive, -1, NULL) : NULL;
  VpMetadataFacts defined = { 0 };
  g_auto (GStrv) unused = definition ? vp_metadata_parse (inactive, -1, NULL, &defined, NULL) : NULL;
  vm->defined_channel = definition && definition->has_channel;
  vm->wiring_off |= defined.wiring_off;
  if (!vm->manager)
    vm->manager = defined.manager;
}

static gboolean
labels_equal (char **a, char **b)
{
  guint n = a ? g_strv_length (a) : 0;
  if (n != (b ? g_strv_length (b) : 0))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!g_str_equal (a[i], b[i]))
      return FALSE;
  return TRUE;
}

/* A VM that left is listed (as departed) long enough for the engine to mark
 * its counters, which it then keeps whether or not it is listed. */
#define DEPARTED_LISTED_US (G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC)

static void
publish (LibvirtInventory *inventory, gboolean complete)
{
  GHashTableIter prune;
  gpointer entry;
  gint64 now_us = g_get_real_time ();
  g_hash_table_iter_init (&prune, inventory->domains);
  while (g_hash_table_iter_next (&prune, NULL, &entry))
    if (((VpVmInfo *) entry)->life.move == VP_MOVE_DEPARTED &&
        now_us - ((VpVmInfo *) entry)->life.departed_us > DEPARTED_LISTED_US)
      g_hash_table_iter_remove (&prune);

  GPtrArray *list = g_ptr_array_new_full (g_hash_table_size (inventory->domains),
                                          (GDestroyNotify) vp_vm_info_free);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, inventory->domains);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_ptr_array_add (list, vp_vm_info_copy (value));
    }
  g_mutex_lock (&inventory->lock);
  g_ptr_array_unref (inventory->published);
  inventory->published = list;
  inventory->complete = complete;
  g_mutex_unlock (&inventory->lock);
}

/* Looks the domain up again by UUID: that gives its current name (after a
 * rename), state and PID, or tells that it is gone (undefined while
 * inactive, or a transient domain that stopped). event and detail are the
 * lifecycle event that prompted it, or -1. A transient domain that migrated
 * away is gone from libvirt but stays listed as departed, so that the engine
 * keeps its counters for its return (lifecycle.h); until the next resync. */
static void
refresh_domain (LibvirtInventory *inventory, virConnectPtr conn, const char *uuid, int event, int detail)
{
  g_autoptr (virDomain) domain = virDomainLookupByUUIDString (conn, uuid);
  int state = VIR_DOMAIN_NOSTATE, reason = 0;
  VpVmInfo *old = g_hash_table_lookup (inventory->domains, uuid);
  gint64 now_us = g_get_real_time ();
  VpLifecycle life = old ? old->life : (VpLifecycle) { 0 };
  const char *name = old ? old->name : uuid;
  g_autofree char *said = NULL;

  if (domain && virDomainGetState (domain, &state, &reason, 0) == 0)
    name = virDomainGetName (domain);
  else
    g_clear_pointer (&domain, virDomainFree);
  if (event >= 0)
    said = vp_lifecycle_event (&life, name, event, detail, now_us);
  if (said)
    g_message ("libvirt: %s", said);

  if (!domain)
    {
      g_autofree char *left = old ? vp_lifecycle_gone (&life, name, now_us) : NULL;
      if (left)
        g_message ("libvirt: %s", left);
      if (old && life.move == VP_MOVE_DEPARTED)
        {
          VpVmInfo *gone = vp_vm_info_new (old->name, uuid, "shutoff", 0);
          gone->life = life;
          gone->uid = old->uid;
          gone->gid = old->gid;
          gone->has_channel = old->has_channel;
          gone->from_libvirt = TRUE;
          gone->manager = old->manager;
          g_hash_table_replace (inventory->domains, gone->uuid, gone);
        }
      else if (g_hash_table_remove (inventory->domains, uuid))
        g_message ("libvirt: domain %s is gone", uuid);
      return;
    }
  g_autofree char *reconciled = vp_lifecycle_reconcile (&life, name, state, reason, now_us);
  if (reconciled)
    g_message ("libvirt: %s", reconciled);
  const char *state_name = state_to_string (state);
  int pid = virDomainIsActive (domain) == 1 ? read_qemu_pid (inventory, name) : 0;

  if (!old)
    g_message ("libvirt: domain %s (%s) is %s", name, uuid, state_name);
  else if (!g_str_equal (old->name, name))
    g_message ("libvirt: domain %s renamed to %s", old->name, name);
  else if (!g_str_equal (old->state, state_name))
    g_message ("libvirt: domain %s is %s", name, state_name);
  VpVmInfo *vm = vp_vm_info_new (name, uuid, state_name, pid);
  vm->life = life;
  read_domain_xml (domain, vm);
  /* A containerized libvirt (Kolla's nova_libvirt, Sunbeam's snap) puts the channel's socket in
   * its own /var/lib/libvirt: the path means something only in QEMU's root, and is looked up
   * there (as a pod's: host/inventory/foreign-root.h). A libvirt on the host gives QEMU a mount
   * namespace of its own, but with the host's root: its paths are ours. */
  if (vm->channel_path && pid > 0 && vp_foreign_root_other_root ("/proc", pid, getpid ()))
    vm->channel_root_pid = pid;
  if (vm->labels && vm->labels[0] && !labels_equal (old ? old->labels : NULL, vm->labels))
    {
      g_autofree char *labels = vp_metadata_labels_to_string ((const char *const *) vm->labels);
      g_message ("libvirt: domain %s belongs to %s", name, labels);
    }
  else if (old && old->labels && old->labels[0] && !(vm->labels && vm->labels[0]))
    g_message ("libvirt: domain %s has no owner labels any more", name);
  g_hash_table_replace (inventory->domains, vm->uuid, vm);
}

static int
on_lifecycle (virConnectPtr conn, virDomainPtr domain, int event, int detail, void *opaque)
{
  LibvirtInventory *inventory = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];

  if (virDomainGetUUIDString (domain, uuid) < 0)
    return 0;
  g_debug ("libvirt: event %d/%d for %s", event, detail, virDomainGetName (domain));
  refresh_domain (inventory, conn, uuid, event, detail);
  publish (inventory, TRUE);
  return 0;
}

/* Someone (Nova, OpenNebula, virsh metadata) changed who the VM belongs to. */
static void
on_metadata_change (virConnectPtr conn, virDomainPtr domain, int type, const char *nsuri, void *opaque)
{
  LibvirtInventory *inventory = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString (domain, uuid) < 0)
    return;
  g_debug ("libvirt: metadata %s changed in %s", nsuri ? nsuri : "(element)", virDomainGetName (domain));
  refresh_domain (inventory, conn, uuid, -1, 0);
  publish (inventory, TRUE);
}

/* A device attached or detached live: the channel's socket may have come or gone. */
static void
on_device_event (virConnectPtr conn, virDomainPtr domain, const char *alias, void *opaque)
{
  LibvirtInventory *inventory = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString (domain, uuid) < 0)
    return;
  g_debug ("libvirt: device %s added or removed in %s", alias, virDomainGetName (domain));
  refresh_domain (inventory, conn, uuid, -1, 0);
  publish (inventory, TRUE);
}

static gboolean
resync (LibvirtInventory *inventory, virConnectPtr conn, GError **error)
{
  virDomainPtr *domains = NULL;
  int n = virConnectListAllDomains (conn, &domains, 0);
  if (n < 0)
    {
      vp_libvirt_set_error (error, "listing domains");
      return FALSE;
    }
  /* What the events taught (arrivals, departures) outlives the connection:
   * each domain starts from its old entry, and the VMs that left stay. */
  g_autoptr (GHashTable) before = g_steal_pointer (&inventory->domains);
  inventory->domains = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) vp_vm_info_free);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      if (virDomainGetUUIDString (domains[i], uuid) == 0)
        {
          const VpVmInfo *was = g_hash_table_lookup (before, uuid);
          VpVmInfo *copy = was ? vp_vm_info_copy (was) : NULL;
          if (copy)
            g_hash_table_replace (inventory->domains, copy->uuid, copy);
          refresh_domain (inventory, conn, uuid, -1, 0);
        }
      virDomainFree (domains[i]);
    }
  free (domains);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const VpVmInfo *was = value;
      if (was->life.move == VP_MOVE_DEPARTED && !g_hash_table_contains (inventory->domains, was->uuid))
        {
          VpVmInfo *kept = vp_vm_info_copy (was);
          g_hash_table_replace (inventory->domains, kept->uuid, kept);
        }
    }
  publish (inventory, TRUE);
  return TRUE;
}

static void schedule_reconnect (LibvirtInventory *inventory);
static void on_close (virConnectPtr conn, int reason, void *opaque);

static void
on_close (virConnectPtr conn, int reason, void *opaque)
{
  LibvirtInventory *inventory = opaque;
  static const char *const reasons[] = { "error", "end of file", "keepalive timeout", "client closed" };

  g_warning ("libvirt: connection to %s lost (%s); serving the last known VMs and reconnecting "
             "with backoff (up to every %d s)",
             inventory->uri, reason >= 0 && reason < (int) G_N_ELEMENTS (reasons) ? reasons[reason] : "unknown",
             RECONNECT_MAX_MS / 1000);
  g_mutex_lock (&inventory->lock);
  /* Closed later, from the reconnect timer: not from inside this callback. */
  inventory->dead_conn = g_steal_pointer (&inventory->conn);
  inventory->connected = FALSE;
  inventory->complete = FALSE;
  g_mutex_unlock (&inventory->lock);
  schedule_reconnect (inventory);
}

static void
release_connection (LibvirtInventory *inventory, virConnectPtr conn)
{
  if (!conn)
    return;
  int *callbacks[] = { &inventory->lifecycle_callback, &inventory->device_added_callback,
                       &inventory->device_removed_callback, &inventory->metadata_callback };
  for (gsize i = 0; i < G_N_ELEMENTS (callbacks); i++)
    {
      if (*callbacks[i] >= 0)
        virConnectDomainEventDeregisterAny (conn, *callbacks[i]);
      *callbacks[i] = -1;
    }
  virConnectUnregisterCloseCallback (conn, on_close);
  virConnectClose (conn);
}

static gboolean
try_connect (LibvirtInventory *inventory, GError **error)
{
  virConnectPtr conn = virConnectOpenReadOnly (inventory->uri);
  if (!conn)
    {
      vp_libvirt_set_error (error, inventory->uri);
      return FALSE;
    }
  /* Keepalive turns a hung libvirtd into a close event instead of a tick
   * that waits forever on a stats call. */
  if (virConnectSetKeepAlive (conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
    g_debug ("libvirt: keepalive not supported by %s", inventory->uri);
  inventory->lifecycle_callback =
    virConnectDomainEventRegisterAny (conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                      VIR_DOMAIN_EVENT_CALLBACK (on_lifecycle), inventory, NULL);
  if (inventory->lifecycle_callback < 0)
    {
      vp_libvirt_set_error (error, "registering for libvirt events");
      virConnectClose (conn);
      return FALSE;
    }
  inventory->device_added_callback =
    virConnectDomainEventRegisterAny (conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                      VIR_DOMAIN_EVENT_CALLBACK (on_device_event), inventory, NULL);
  inventory->device_removed_callback =
    virConnectDomainEventRegisterAny (conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                      VIR_DOMAIN_EVENT_CALLBACK (on_device_event), inventory, NULL);
  inventory->metadata_callback =
    virConnectDomainEventRegisterAny (conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                      VIR_DOMAIN_EVENT_CALLBACK (on_metadata_change), inventory, NULL);
  /* Local drivers (test://) have no close callback; remote ones do. */
  if (virConnectRegisterCloseCallback (conn, on_close, inventory, NULL) < 0)
    g_debug ("libvirt: %s has no close callback", inventory->uri);
  if (!resync (inventory, conn, error))
    {
      release_connection (inventory, conn);
      return FALSE;
    }
  g_mutex_lock (&inventory->lock);
  inventory->conn = conn;
  inventory->connected = TRUE;
  g_mutex_unlock (&inventory->lock);
  g_message ("libvirt: connected to %s, %u domains", inventory->uri, g_hash_table_size (inventory->domains));
  return TRUE;
}

static void
on_reconnect_timer (int timer, void *opaque)
{
  LibvirtInventory *inventory = opaque;
  g_autoptr (GError) error = NULL;

  virEventRemoveTimeout (timer);
  inventory->reconnect_timer = -1;
  release_connection (inventory, g_steal_pointer (&inventory->dead_conn));
  if (inventory->stop)
    return;
  if (try_connect (inventory, &error))
    {
      inventory->reconnect_delay_ms = RECONNECT_MIN_MS;
      return;
    }
  /* The loss was reported once; each retry is only worth a debug line. */
  g_debug ("libvirt: %s; retrying in %.1f s", error->message, inventory->reconnect_delay_ms / 1000.0);
  schedule_reconnect (inventory);
}

static void
schedule_reconnect (LibvirtInventory *inventory)
{
  if (inventory->reconnect_timer >= 0 || inventory->stop)
    return;
  inventory->reconnect_timer = virEventAddTimeout (inventory->reconnect_delay_ms, on_reconnect_timer,
                                                   inventory, NULL);
  inventory->reconnect_delay_ms = MIN (inventory->reconnect_delay_ms * 2, RECONNECT_MAX_MS);
}

static void
on_wakeup (int timer, void *opaque)
{
  /* Only there to make virEventRunDefaultImpl return so the loop sees stop. */
}

static gpointer
event_thread (gpointer data)
{
  LibvirtInventory *inventory = data;
  g_autoptr (GError) error = NULL;

  if (!try_connect (inventory, &error))
    {
      if (inventory->optional)
        g_message ("libvirt: %s; its VMs are listed once it answers (tried again in the background)",
                   error->message);
      else
        g_warning ("libvirt: %s; serving no VMs until it answers", error->message);
      schedule_reconnect (inventory);
    }
  g_mutex_lock (&inventory->lock);
  inventory->first_attempt_done = TRUE;
  g_cond_broadcast (&inventory->first_attempt);
  g_mutex_unlock (&inventory->lock);
  while (!g_atomic_int_get (&inventory->stop))
    if (virEventRunDefaultImpl () < 0)
      {
        g_autoptr (GError) loop_error = NULL;
        vp_libvirt_set_error (&loop_error, "libvirt event loop");
        g_warning ("%s", loop_error->message);
        g_usleep (G_USEC_PER_SEC / 10);
      }

  if (inventory->reconnect_timer >= 0)
    virEventRemoveTimeout (inventory->reconnect_timer);
  g_mutex_lock (&inventory->lock);
  virConnectPtr conn = g_steal_pointer (&inventory->conn);
  g_mutex_unlock (&inventory->lock);
  release_connection (inventory, conn);
  release_connection (inventory, g_steal_pointer (&inventory->dead_conn));
  return NULL;
}

gpointer
vp_inventory_libvirt_open (const char *uri, gboolean optional, GError **error)
{
  /* Events need the default event implementation registered before the
   * first connection is opened. It can only be registered once. */
  if (!libvirt_event_impl_registered)
    {
      vp_libvirt_silence ();
      if (virEventRegisterDefaultImpl () < 0)
        {
          vp_libvirt_set_error (error, "registering libvirt's event loop");
          return NULL;
        }
      libvirt_event_impl_registered = TRUE;
    }

  LibvirtInventory *inventory = g_new0 (LibvirtInventory, 1);
  inventory->uri = g_strdup (uri);
  inventory->optional = optional;
  inventory->pid_dir = vp_libvirt_pid_dir_for_uri (uri);
  inventory->domains = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) vp_vm_info_free);
  inventory->published = g_ptr_array_new_with_free_func ((GDestroyNotify) vp_vm_info_free);
  inventory->lifecycle_callback = -1;
  inventory->device_added_callback = -1;
  inventory->device_removed_callback = -1;
  inventory->metadata_callback = -1;
  inventory->reconnect_timer = -1;
  inventory->reconnect_delay_ms = RECONNECT_MIN_MS;
  g_mutex_init (&inventory->lock);
  g_cond_init (&inventory->first_attempt);
  /* A periodic no-op timer so the loop wakes up to notice a stop request. */
  inventory->wakeup_timer = virEventAddTimeout (200, on_wakeup, NULL, NULL);
  inventory->thread = g_thread_new ("libvirt", event_thread, inventory);
  return inventory;
}

static GPtrArray *
libvirt_list (gpointer impl, gboolean *complete)
{
  LibvirtInventory *inventory = impl;
  g_mutex_lock (&inventory->lock);
  GPtrArray *list = g_ptr_array_ref (inventory->published);
  *complete = inventory->complete;
  g_mutex_unlock (&inventory->lock);
  return list;
}

static GHashTable *
libvirt_cpu_times (gpointer impl, GError **error)
{
  LibvirtInventory *inventory = impl;

  g_mutex_lock (&inventory->lock);
  virConnectPtr conn = inventory->conn;
  if (conn)
    virConnectRef (conn);
  g_mutex_unlock (&inventory->lock);
  if (!conn)
    return NULL;
  g_autoptr (virConnect) owned = conn;

  virDomainStatsRecordPtr *records = NULL;
  int n = virConnectGetAllDomainStats (conn, VIR_DOMAIN_STATS_CPU_TOTAL, &records,
                                       VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                       VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
  if (n < 0)
    {
      vp_libvirt_set_error (error, "reading domain CPU statistics");
      return NULL;
    }
  g_autoptr (virDomainStatsRecordPtr) owned_records = records;
  GHashTable *times = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      unsigned long long cpu_time;
      if (virDomainGetUUIDString (records[i]->dom, uuid) == 0 &&
          virTypedParamsGetULLong (records[i]->params, records[i]->nparams, "cpu.time", &cpu_time) == 1)
        g_hash_table_insert (times, g_strdup (uuid), g_memdup2 (&(guint64) { cpu_time }, sizeof (guint64)));
    }
  return times;
}

static gboolean
libvirt_connected (gpointer impl)
{
  LibvirtInventory *inventory = impl;
  g_mutex_lock (&inventory->lock);
  gboolean connected = inventory->connected;
  g_mutex_unlock (&inventory->lock);
  return connected;
}

static gboolean
libvirt_wait_ready (gpointer impl, guint timeout_ms)
{
  LibvirtInventory *inventory = impl;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_mutex_lock (&inventory->lock);
  while (!inventory->first_attempt_done)
    if (!g_cond_wait_until (&inventory->first_attempt, &inventory->lock, deadline))
      break;
  gboolean connected = inventory->connected;
  g_mutex_unlock (&inventory->lock);
  return connected;
}

static void
libvirt_free (gpointer impl)
{
  LibvirtInventory *inventory = impl;
  g_atomic_int_set (&inventory->stop, TRUE);
  g_thread_join (inventory->thread);
  virEventRemoveTimeout (inventory->wakeup_timer);
  g_hash_table_unref (inventory->domains);
  g_ptr_array_unref (inventory->published);
  g_mutex_clear (&inventory->lock);
  g_cond_clear (&inventory->first_attempt);
  g_free (inventory->uri);
  g_free (inventory->pid_dir);
  g_free (inventory);
}

const VpInventoryOps vp_inventory_libvirt_ops = {
  .kind = "libvirt",
  .list = libvirt_list,
  .cpu_times = libvirt_cpu_times,
  .connected = libvirt_connected,
  .wait_ready = libvirt_wait_ready,
  .free = libvirt_free,
};
