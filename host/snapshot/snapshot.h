/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the immutable snapshot the engine publishes each tick, for HTTP (and later FUSE). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "host/wiring/autowire.h"

/* Zone labels are borrowed from the engine (they never change while it
 * runs), so a snapshot must not outlive the engine that published it. */
typedef struct {
  const char *name;             /* package-0, core, dram, psys */
  const char *index;            /* powercap index path: "0", "0:0" */
  guint64 max_energy_range_uj;
  guint64 energy_uj;            /* what an energy_uj file shows: host raw, VM wrapped virtual */
  guint64 total_uj;             /* monotonic: VM counter total; host: all energy accounted */
  double power_w;               /* over the last tick */
  /* Host zones only: */
  guint64 host_processes_uj;    /* total to the host's own (non-VM) processes */
  guint64 unattributed_uj;      /* total to nobody (policy active, capacity) */
  guint64 departed_vms_uj;      /* totals of the VMs that migrated away, kept for their return */
  double busy_ratio;            /* busy share of the zone's CPUs in the last tick */
  gboolean estimated;           /* from the model sensor */
} VpZoneSnapshot;

/* A snapshot is rebuilt every tick, so it is laid out to cost few
 * allocations: VMs and their zones live in two flat arrays, and strings are
 * borrowed from objects the snapshot keeps alive (see keepalive). */
typedef struct {
  const char *name;
  const char *uuid;
  const char *state;
  int pid;
  guint uid;                    /* who QEMU runs as: owns the VM's FUSE files */
  guint gid;
  gboolean owner_known;         /* FALSE for VMs only the state file knows */
  guint64 cpu_ns_total;
  double cpu_share;             /* VM CPU time / host busy CPU time, last tick */
  guint64 epoch;                /* when its counters began here (VpVmLedger.epoch) */
  gboolean has_channel;         /* the domain has the vpower channel */
  gboolean has_9p, has_virtiofs; /* shares with the tag "vpower" */
  gboolean channel_connected;   /* this tick's message went to its socket */
  const char *arrival;          /* how it came to run here: booted, restored, migrated, unknown */
  const char *move;             /* none, outgoing (paused to leave), incoming (not yet resumed) */
  guint64 migrations_in;        /* arrivals by migration and departures since its counters began here */
  guint64 migrations_out;
  gint64 arrived_us;            /* wall clock of its last arrival by migration; 0: none */
  const char *const *labels;    /* who it belongs to: label pairs from its <metadata>, or NULL */
  const VpWireStatus *wiring;   /* how its channel is wired (host/wiring/), or NULL */
  guint n_zones;
  VpZoneSnapshot *zones;        /* in the VM's layout (mirror/aggregate) */
} VpVmSnapshot;

typedef struct {
  guint64 ticks;                /* completed attribution ticks since start */
  gint64 started_us;            /* wall clock when this engine started */
  gint64 mono_us;               /* g_get_monotonic_time() of this snapshot */
  gint64 real_us;               /* wall clock of this snapshot */
  double interval_s;            /* configured tick length */
  double last_interval_s;       /* measured length of the last tick */
  char *sensor;
  const char *cpu_source;       /* "bpf" or "proc": a static string */
  gboolean estimated;
  char *policy;
  char *topology;
  char *inventory;
  gboolean libvirt_connected;
  const char *wire_mode;        /* "auto", "off", "define": a static string */
  VpWireCounts wiring;          /* VMs by wiring state; hot-plugs done */
  GArray *zones;                /* VpZoneSnapshot: the host's zones */
  GArray *vm_layout;            /* VpZoneSnapshot: every VM's zones (name, index, max only) */
  GPtrArray *vms;               /* VpVmSnapshot *, sorted by name (into vm_storage) */
  VpVmSnapshot *vm_storage;     /* owned */
  VpZoneSnapshot *zone_storage; /* owned: every VM's zones */
  GPtrArray *keepalive;         /* owned references that borrowed strings point into */
  double tick_duration_s;       /* CPU-side wall time the last tick took */
  double tick_duration_total_s;
  guint64 sensor_errors;
  guint64 state_save_errors;
  char *host_id;                /* as told to guests over the channel */
  /* The whole machine's power (host/sense/with-platform.h), when a source measures it: */
  int platform_zone;            /* its zone in zones, or -1: none */
  const char *platform_source;  /* "psys", "hwmon": a static string */
  const char *platform_description; /* what measures it: borrowed from the engine */
  const char *platform_split;   /* the policy that splits what is beyond RAPL's zones: static */
  gboolean platform_stale;      /* the meter has not answered for longer than its reading is held */
  double platform_watts;        /* its last reading (a meter), or the last tick's power (psys) */
  guint64 platform_raised_uj;   /* what it was raised by to RAPL's zones in it (it lagged, or was stale) */
  guint64 channel_sent;         /* channel messages, host/channel/channel.c */
  guint64 channel_dropped;
  guint64 channel_connects;
  guint64 channel_discarded_bytes;
  guint64 channels_connected;
  guint64 vms_departed;         /* VMs that migrated away whose counters are kept */
} VpSnapshot;

VpSnapshot *vp_snapshot_new (void);
VpSnapshot *vp_snapshot_ref (VpSnapshot *snapshot);
void vp_snapshot_unref (VpSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpSnapshot, vp_snapshot_unref)

GArray *vp_zone_snapshot_array_new (void);

/* Healthy while the last tick is at most this many intervals old. */
#define VP_SNAPSHOT_HEALTHY_INTERVALS 3
typedef enum { VP_HEALTH_STARTING, VP_HEALTH_OK, VP_HEALTH_STALE } VpHealth;
/* How fresh the snapshot is now (/healthz, vpowerctl status); *age_s is
 * the seconds since its tick. */
VpHealth vp_snapshot_health (const VpSnapshot *snapshot, double *age_s);
const char *vp_health_to_string (VpHealth health);

/* A VM by name or UUID, or NULL. */
const VpVmSnapshot *vp_snapshot_find_vm (const VpSnapshot *snapshot, const char *name_or_uuid);

/* JSON views (json-glib) used by the HTTP API and --once. */
char *vp_snapshot_host_json (const VpSnapshot *snapshot, gboolean pretty);
char *vp_snapshot_vms_json (const VpSnapshot *snapshot, gboolean pretty);
char *vp_snapshot_once_json (const VpSnapshot *snapshot);
/* The members of those views' objects, for callers that add their own
 * (the control socket): call between json_builder_begin/end_object. */
void vp_snapshot_json_host_members (JsonBuilder *builder, const VpSnapshot *snapshot);
void vp_snapshot_json_vm_members (JsonBuilder *builder, const VpVmSnapshot *vm);

/* Prometheus text exposition 0.0.4. */
char *vp_snapshot_metrics (const VpSnapshot *snapshot, gsize *length);
