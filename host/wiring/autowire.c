/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: wiring libvirt's running VMs: the channel hot-plugged into each one that lacks it.
 *
 * Once vpowerd runs on a host, every VM there gets the channel, and nobody edits a VM (issue 30).
 * The cloud managers regenerate their definitions (Nova at every hard reboot, resize and cold
 * migration), so the channel goes into the running VM, live, and its definition stays the
 * manager's: `virsh dumpxml --inactive` is unchanged. A restore and an incoming migration carry
 * the hot-plugged channel in the live XML they bring, so they are found wired.
 *
 * Level-triggered: each tick, the engine hands over the inventory's list, which libvirt's
 * lifecycle and device events keep current; wire-plan.c says what each VM needs. So a VM is
 * wired however it came to run without the channel (started, restored, migrated in, found at
 * vpowerd's start or at a reconnect), and a missed event costs nothing. The work with libvirt
 * runs on a few worker threads of its own, with a read-write connection of its own (the
 * inventory's is read-only), so neither the tick nor the inventory's event thread ever waits
 * on it; many VMs starting at once (libvirt-guests at boot, an evacuation) queue and are wired
 * a few at a time. Each worker asks libvirt for the live XML right before it attaches: never
 * twice. */
#include "config.h"

#include "host/control/share.h"
#include "host/inventory/libvirt-util.h"
#include "host/wiring/autowire.h"
#include "shared/vp-channel.h"
#include "shared/vp-domxml.h"
#include "shared/vp-error.h"
#include "shared/vp-metadata.h"
#include "shared/vp-share-xml.h"

/* Hot-plugs at once: libvirt takes each in about 0.2 s (real-components.md), and runs those of
 * different VMs in parallel. */
#define WORKERS 4
/* A hung libvirtd fails the calls under way after this long, instead of holding a worker. */
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
/* After an attach that found the VM otherwise than the list said (a list older than the VM's
 * state): look again this soon. */
#define RECHECK_US (2 * G_USEC_PER_SEC)

typedef enum { JOB_LIVE, JOB_DEFINE } JobKind;

typedef enum {
  OUTCOME_DONE,           /* attached */
  OUTCOME_NOTHING,        /* nothing to do after all: already wired, gone, or not running */
  OUTCOME_REFUSED,        /* libvirt said no, or did not answer */
} Outcome;

typedef struct {
  JobKind kind;
  char *uuid;
  char *name;
  guint64 instance;
  Outcome outcome;        /* set by the worker */
  char *error;            /* with OUTCOME_REFUSED */
} Job;

typedef struct {
  VpWireMemory memory;
  VpWireStatus *status;
  guint64 seen;           /* the reconcile that last listed it */
} Entry;

struct _VpAutowire {
  VpWireSettings *settings;
  char *uri;
  GThreadPool *pool;

  /* The engine's thread only. */
  GHashTable *entries;    /* uuid -> Entry */
  GPtrArray *statuses;    /* VpWireStatus references, the last reconcile's */
  GPtrArray *last_listed; /* the list it saw */
  gint64 next_due_us;     /* the earliest retry it waits for */
  guint64 generation;
  VpWireCounts counts;

  /* Shared with the workers. */
  GMutex lock;
  GPtrArray *finished;    /* Job *, done and not yet taken */
  virConnectPtr conn;     /* NULL until needed, and after it died */
  guint64 hotplugs, definitions, refusals;
};

static void
job_free (gpointer data)
{
  Job *job = data;
  g_free (job->uuid);
  g_free (job->name);
  g_free (job->error);
  g_free (job);
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;
  vp_wire_memory_clear (&entry->memory);
  vp_wire_status_unref (entry->status);
  g_free (entry);
}

/* --- the workers --- */

/* The workers' connection, a new reference; opened again if it died. */
static virConnectPtr
connection (VpAutowire *self, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  if (self->conn && virConnectIsAlive (self->conn) != 1)
    g_clear_pointer (&self->conn, virConnectClose);
  if (!self->conn)
    {
      self->conn = virConnectOpen (self->uri);
      if (!self->conn)
        {
          g_autofree char *what = g_strdup_printf ("cannot connect to libvirt at %s to wire VMs", self->uri);
          vp_libvirt_set_error (error, what);
          return NULL;
        }
      if (virConnectSetKeepAlive (self->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
        g_debug ("wiring: keepalive not supported by %s", self->uri);
    }
  virConnectRef (self->conn);
  return self->conn;
}

/* The channel into the running VM, if it still runs with a controller and without it. */
static Outcome
attach_live (virDomainPtr domain, Job *job, GError **error)
{
  if (virDomainIsActive (domain) != 1)
    return OUTCOME_NOTHING;
  g_autofree char *text = virDomainGetXMLDesc (domain, 0);
  if (!text)
    {
      vp_libvirt_set_error (error, "cannot read the running VM's XML");
      return OUTCOME_REFUSED;
    }
  g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, -1, error);
  if (!xml)
    return OUTCOME_REFUSED;
  VpMetadataFacts facts = { 0 };
  g_auto (GStrv) labels = vp_metadata_parse (text, -1, NULL, &facts, NULL);
  if (xml->has_channel || !xml->has_virtio_serial || facts.wiring_off)
    return OUTCOME_NOTHING;
  g_autofree char *device = vp_share_device_xml (VP_SHARE_CHANNEL, NULL, NULL);
  if (virDomainAttachDeviceFlags (domain, device, VIR_DOMAIN_AFFECT_LIVE) != 0)
    {
      vp_libvirt_set_error (error, "libvirt refused to hot-plug the channel");
      return OUTCOME_REFUSED;
    }
  g_message ("wiring: hot-plugged the channel %s into %s; its definition is unchanged", VP_CHANNEL_PORT_NAME,
             job->name);
  return OUTCOME_DONE;
}

/* wire = define: the channel into the persistent definition, if it lacks it. */
static Outcome
attach_definition (virDomainPtr domain, Job *job, GError **error)
{
  if (virDomainIsPersistent (domain) != 1)
    return OUTCOME_NOTHING;
  g_autofree char *text = virDomainGetXMLDesc (domain, VIR_DOMAIN_XML_INACTIVE);
  if (!text)
    {
      vp_libvirt_set_error (error, "cannot read the VM's definition");
      return OUTCOME_REFUSED;
    }
  g_autoptr (VpDomainXml) xml = vp_domain_xml_parse (text, -1, error);
  if (!xml)
    return OUTCOME_REFUSED;
  VpMetadataFacts facts = { 0 };
  g_auto (GStrv) labels = vp_metadata_parse (text, -1, NULL, &facts, NULL);
  if (xml->has_channel || facts.wiring_off)
    return OUTCOME_NOTHING;
  g_autofree char *device = vp_share_device_xml (VP_SHARE_CHANNEL, NULL, NULL);
  if (virDomainAttachDeviceFlags (domain, device, VIR_DOMAIN_AFFECT_CONFIG) != 0)
    {
      vp_libvirt_set_error (error, "libvirt refused to add the channel to the definition");
      return OUTCOME_REFUSED;
    }
  g_message ("wiring: added the channel %s to %s's definition (wire = define): it has it from its next start",
             VP_CHANNEL_PORT_NAME, job->name);
  return OUTCOME_DONE;
}

static void
run_job (gpointer data, gpointer user_data)
{
  Job *job = data;
  VpAutowire *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (virConnect) conn = connection (self, &error);
  g_autoptr (virDomain) domain = conn ? virDomainLookupByUUIDString (conn, job->uuid) : NULL;

  if (!conn)
    job->outcome = OUTCOME_REFUSED;
  else if (!domain)
    job->outcome = OUTCOME_NOTHING;     /* gone meanwhile */
  else if (!vp_share_claim (job->uuid))
    job->outcome = OUTCOME_NOTHING;     /* vpowerctl attaches to it right now: looked at again */
  else
    {
      job->outcome = job->kind == JOB_LIVE ? attach_live (domain, job, &error) : attach_definition (domain, job, &error);
      vp_share_release (job->uuid);
    }
  if (job->outcome == OUTCOME_REFUSED)
    job->error = g_strdup (error ? error->message : "failed");
  g_mutex_lock (&self->lock);
  if (job->outcome == OUTCOME_DONE)
    (*(job->kind == JOB_LIVE ? &self->hotplugs : &self->definitions))++;
  else if (job->outcome == OUTCOME_REFUSED)
    self->refusals++;
  g_ptr_array_add (self->finished, job);
  g_mutex_unlock (&self->lock);
}

/* --- the engine's side --- */

VpAutowire *
vp_autowire_new (const VpConfig *config)
{
  VpAutowire *self = g_new0 (VpAutowire, 1);
  self->settings = vp_wire_settings_new (config->wire, config->wire_exclude);
  self->uri = g_strdup (config->connect);
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  self->statuses = g_ptr_array_new_with_free_func ((GDestroyNotify) vp_wire_status_unref);
  self->finished = g_ptr_array_new_with_free_func (job_free);
  g_mutex_init (&self->lock);
  self->pool = g_thread_pool_new_full (run_job, self, job_free, WORKERS, FALSE, NULL);
  return self;
}

void
vp_autowire_free (VpAutowire *self)
{
  if (!self)
    return;
  g_thread_pool_free (self->pool, TRUE, TRUE);
  g_clear_pointer (&self->conn, virConnectClose);
  g_ptr_array_unref (self->finished);
  g_hash_table_unref (self->entries);
  g_ptr_array_unref (self->statuses);
  g_clear_pointer (&self->last_listed, g_ptr_array_unref);
  vp_wire_settings_free (self->settings);
  g_mutex_clear (&self->lock);
  g_free (self->uri);
  g_free (self);
}

/* What a worker found, into the VM's memory. A result for an earlier QEMU of the VM, or for a VM
 * no longer listed, only ends its job. */
static void
take_result (VpAutowire *self, Job *job, gint64 now_us)
{
  Entry *entry = g_hash_table_lookup (self->entries, job->uuid);
  if (!entry)
    return;
  VpWireMemory *memory = &entry->memory;
  gboolean live = job->kind == JOB_LIVE;
  (*(live ? &memory->live_busy : &memory->define_busy)) = FALSE;
  if (live && job->instance != memory->instance)
    return;
  guint *failures = live ? &memory->live_failures : &memory->define_failures;
  gint64 *retry = live ? &memory->live_retry_us : &memory->define_retry_us;
  char **last_error = live ? &memory->live_error : &memory->define_error;
  switch (job->outcome)
    {
    case OUTCOME_DONE:
      *failures = 0;
      g_clear_pointer (last_error, g_free);
      if (live)
        memory->attached = TRUE;
      else
        memory->defined = TRUE;
      break;
    case OUTCOME_NOTHING:
      *retry = now_us + RECHECK_US;
      break;
    case OUTCOME_REFUSED:
      (*failures)++;
      *retry = now_us + vp_wire_backoff_us (*failures);
      /* Said once per VM and message; the API keeps saying it. */
      if (g_strcmp0 (*last_error, job->error) != 0)
        g_warning ("wiring: %s: %s; vpowerd tries again with a growing delay", job->name, job->error);
      g_free (*last_error);
      *last_error = g_strdup (job->error);
      break;
    }
}

static void
queue (VpAutowire *self, JobKind kind, const VpVmInfo *vm, VpWireMemory *memory)
{
  Job *job = g_new0 (Job, 1);
  job->kind = kind;
  job->uuid = g_strdup (vm->uuid);
  job->name = g_strdup (vm->name);
  job->instance = memory->instance;
  (*(kind == JOB_LIVE ? &memory->live_busy : &memory->define_busy)) = TRUE;
  g_thread_pool_push (self->pool, job, NULL);
}

/* When a VM waiting for a retry must be looked at again. */
static void
note_due (VpAutowire *self, const VpWireMemory *memory, gint64 now_us)
{
  if (!memory->live_busy && memory->live_retry_us > now_us)
    self->next_due_us = MIN (self->next_due_us, memory->live_retry_us);
  if (!memory->define_busy && memory->define_retry_us > now_us)
    self->next_due_us = MIN (self->next_due_us, memory->define_retry_us);
}

void
vp_autowire_reconcile (VpAutowire *self, GPtrArray *listed, gboolean complete)
{
  gint64 now_us = g_get_monotonic_time ();
  g_autoptr (GPtrArray) finished = g_ptr_array_new_with_free_func (job_free);
  g_mutex_lock (&self->lock);
  if (self->finished->len)
    {
      g_ptr_array_extend_and_steal (finished, g_steal_pointer (&self->finished));
      self->finished = g_ptr_array_new_with_free_func (job_free);
    }
  self->counts.hotplugs = self->hotplugs;
  self->counts.definitions = self->definitions;
  self->counts.refusals = self->refusals;
  g_mutex_unlock (&self->lock);
  /* Nothing new: the same list, no result, no retry due. The common tick. */
  if (listed == self->last_listed && finished->len == 0 && now_us < self->next_due_us)
    return;

  for (guint i = 0; i < finished->len; i++)
    take_result (self, finished->pdata[i], now_us);
  self->generation++;
  self->next_due_us = G_MAXINT64;
  memset (self->counts.states, 0, sizeof self->counts.states);
  GPtrArray *statuses = g_ptr_array_new_full (listed->len, (GDestroyNotify) vp_wire_status_unref);
  for (guint i = 0; i < listed->len; i++)
    {
      const VpVmInfo *vm = listed->pdata[i];
      Entry *entry = g_hash_table_lookup (self->entries, vm->uuid);
      if (!entry)
        {
          entry = g_new0 (Entry, 1);
          g_hash_table_insert (self->entries, g_strdup (vm->uuid), entry);
        }
      entry->seen = self->generation;
      VpWirePlan plan;
      vp_wire_plan (self->settings, vm, &entry->memory, now_us, &plan);
      if (plan.attach)
        queue (self, JOB_LIVE, vm, &entry->memory);
      if (plan.define)
        queue (self, JOB_DEFINE, vm, &entry->memory);
      note_due (self, &entry->memory, now_us);
      if (!vp_wire_status_equal (entry->status, plan.state, plan.by_vpowerd, plan.reason))
        {
          vp_wire_status_unref (entry->status);
          entry->status = vp_wire_status_new (plan.state, plan.by_vpowerd, plan.reason);
        }
      g_ptr_array_add (statuses, vp_wire_status_ref (entry->status));
      self->counts.states[plan.state]++;
      vp_wire_plan_clear (&plan);
    }
  /* A VM libvirt no longer has is forgotten; its job, if any, finds it gone. */
  if (complete)
    {
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, self->entries);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((Entry *) value)->seen != self->generation)
          g_hash_table_iter_remove (&iter);
    }
  g_ptr_array_unref (self->statuses);
  self->statuses = statuses;
  g_clear_pointer (&self->last_listed, g_ptr_array_unref);
  self->last_listed = g_ptr_array_ref (listed);
}

const VpWireStatus *
vp_autowire_status (VpAutowire *self, const char *uuid)
{
  const Entry *entry = g_hash_table_lookup (self->entries, uuid);
  return entry ? entry->status : NULL;
}

GPtrArray *
vp_autowire_statuses (VpAutowire *self)
{
  return g_ptr_array_ref (self->statuses);
}

void
vp_autowire_counts (VpAutowire *self, VpWireCounts *counts)
{
  *counts = self->counts;
}
