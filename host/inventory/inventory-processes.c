/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: VMs found from their QEMU processes, for hosts without libvirt (Proxmox VE, Incus, LXD,
 * Ganeti, QEMU run by hand).
 *
 * The ground truth is a walk of /proc every process-rescan seconds: a
 * process whose /proc/PID/exe is a QEMU system emulator has its command line
 * read once (qemu-cmdline.c) and its manager named (qemu-managers.c). Between
 * walks, events keep the list current within a tick, with no walk:
 *   - inotify on the managers' pidfile directories: QEMU writes its pidfile
 *     when it is up (after -daemonize's two forks, so the pidfile's PID is the
 *     VM's), and the process it names is looked at alone;
 *   - a pidfd per VM, in one epoll set: readable when that process exits,
 *     exactly, whatever its pidfile says (kill -9 leaves it behind).
 * A process is known by its PID and start time, so a reused PID is a new
 * process. A tick with no event reads nothing.
 *
 * A QEMU started with -incoming waits for a migration's state: it is listed
 * as arriving (VP_MOVE_INCOMING, not charged) until its vCPU threads run.
 * A VM whose QEMU exits is listed once as departed (its counters wait for its
 * return, departed-retention), unless its manager still has it here: a
 * Proxmox VM whose configuration is still in /etc/pve/qemu-server was shut
 * down, not migrated (Proxmox moves the configuration to the target node),
 * and stays listed as shutoff while the configuration is there. */
#include "config.h"

#include "host/inventory/inventory.h"
#include "host/inventory/qemu-cmdline.h"
#include "host/inventory/qemu-managers.h"
#include "host/inventory/qemu-kubevirt.h"
#include "host/inventory/foreign-root.h"
#include "host/inventory/qemu-process.h"
#include "host/sense/taskstat.h"
#include "shared/vp-error.h"
#include "shared/vp-metadata.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the managers write their pidfiles. The instance directories of Incus
 * and LXD are made per VM, so their parents are watched for new ones. */
static const char *const pidfile_dirs[] = {
  "/run/qemu-server", "/run/ganeti/kvm-hypervisor/pid", NULL,
};
static const char *const instance_parents[] = {
  "/run/incus", "/var/lib/incus/run", "/var/log/lxd", "/var/snap/lxd/common/lxd/logs", NULL,
};

/* A departed VM is listed this long, so the engine marks its row departed. */
#define DEPARTED_LISTED_US (30 * G_USEC_PER_SEC)
/* vCPU threads that ran this often since the last look: the VM was resumed. */
#define VCPU_RESUMED_RUNS 8
#define VCPU_RESUMED_NS (2 * 1000 * 1000)

typedef struct {
  int pid;
  guint64 start_ticks;
  int pidfd;                 /* -1 when pidfd_open is not available: checked each tick instead */
  VpVmInfo *info;            /* as published; replaced, never changed */
  VpManager manager;
  char *vmid;                /* Proxmox: its configuration decides shutoff from departed */
  guint64 vcpu_runs, vcpu_ns;/* while incoming: the vCPU threads' schedstat at the last look */
  gboolean vcpu_seen;
} Tracked;

typedef struct {
  VpVmInfo *info;
  gint64 until_us;           /* departed: listed until then; 0: while its manager keeps it (shutoff) */
  char *vmid;
} Gone;

typedef struct {
  char *proc_root;
  char *etc_root;
  gboolean skip_libvirt;
  gint64 rescan_us;
  gint64 next_rescan_us;
  gint64 opened_us;
  guint64 boot_us;           /* wall clock of boot, for start times */
  long ticks_per_s;
  GHashTable *tracked;       /* pid -> Tracked */
  GHashTable *others;        /* pid -> start ticks of a process judged not a VM (not read again) */
  GHashTable *pending;       /* pid -> start ticks: -daemonize without -pidfile, seen once */
  GHashTable *gone;          /* uuid -> Gone */
  GHashTable *said;          /* what was logged once of a process: "PID:START:MESSAGE" */
  guint without_pidfd;       /* tracked processes checked each tick by their start time */
  guint incoming;            /* tracked processes still arriving (their vCPUs looked at each tick) */
  GPtrArray *extra_dirs;     /* pidfile-dirs from the configuration */
  int inotify_fd;
  GHashTable *watches;       /* wd -> directory */
  GHashTable *watched;       /* directory -> wd */
  int epoll_fd;
  GPtrArray *published;
  gboolean dirty;
} ProcessInventory;

static void
tracked_free (Tracked *t)
{
  if (t->pidfd >= 0)
    close (t->pidfd);
  vp_vm_info_free (t->info);
  g_free (t->vmid);
  g_free (t);
}

static void
gone_free (Gone *g)
{
  vp_vm_info_free (g->info);
  g_free (g->vmid);
  g_free (g);
}






/* Each thing said of a process is said once while it lives (its events and the rescans come back to it). */
static void
say_once (ProcessInventory *inv, int pid, guint64 start_ticks, const char *message)
{
  if (g_hash_table_add (inv->said, g_strdup_printf ("%d:%" G_GUINT64_FORMAT ":%s", pid, start_ticks, message)))
    g_message ("processes: %s", message);
}


static gint64
started_us (ProcessInventory *inv, guint64 start_ticks)
{
  return inv->boot_us + (gint64) (start_ticks * G_USEC_PER_SEC / inv->ticks_per_s);
}


static VpVmInfo *
make_info (ProcessInventory *inv, int pid, guint64 start_ticks, const VpQemuCmdline *cmdline,
           const VpQemuIdentity *identity, const VpKubevirtVm *pod, gboolean incoming)
{
  VpVmInfo *vm = vp_vm_info_new (identity->key, identity->uuid, incoming ? "paused" : "running", pid);
  g_autofree char *dir = g_strdup_printf ("%s/%d", inv->proc_root, pid);
  struct stat st;
  if (stat (dir, &st) == 0)
    {
      vm->uid = st.st_uid;
      vm->gid = st.st_gid;
    }
  if (pod)
    {
      /* libvirt in the pod opened the socket, at a path in the pod: resolved there, and only a
       * listener of the pod is its channel. */
      vm->channel_path = g_strdup (pod->channel_path);
      vm->has_channel = pod->has_channel;
      vm->channel_root_pid = pid;
      vm->has_virtio_serial = pod->has_virtio_serial;
    }
  else
    {
      vm->channel_path = g_strdup (vp_qemu_cmdline_channel (cmdline));
      vm->has_channel = vm->channel_path != NULL;
      /* Whoever started the process chose that path: only this QEMU's own socket is its channel. */
      vm->channel_peer_pid = pid;
    }
  vm->labels = vp_qemu_identity_labels (identity, inv->etc_root);
  vm->manager = vp_manager_to_string (identity->manager);
  vm->vcpus = cmdline->vcpus ? cmdline->vcpus : 1;   /* QEMU's default without -smp */
  gint64 started = started_us (inv, start_ticks);
  if (incoming)
    {
      vm->life.move = VP_MOVE_INCOMING;
      vm->life.arrival = VP_ARRIVAL_MIGRATED;
    }
  else
    {
      vm->life.arrival = started >= inv->opened_us ? VP_ARRIVAL_BOOTED : VP_ARRIVAL_UNKNOWN;
      vm->life.arrived_us = started;
    }
  return vm;
}

static Tracked *
find_by_uuid (ProcessInventory *inv, const char *uuid)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, inv->tracked);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (((Tracked *) value)->info->uuid, uuid))
      return value;
  return NULL;
}

static void forget_process (ProcessInventory *inv, Tracked *t);

/* Whether a process runs in other mounts than the host's: PID 1's, or, where PID 1 is out of
 * sight (vpowerd in a container of its own), vpowerd's. */
static gboolean
in_other_mounts (ProcessInventory *inv, int pid)
{
  if (vp_foreign_root_other_mount_ns (inv->proc_root, pid, 1))
    return TRUE;
  return !vp_foreign_root_same_mount_ns (inv->proc_root, pid, 1) &&
         vp_foreign_root_other_mount_ns (inv->proc_root, pid, getpid ());
}

/* Looks at one process: a VM is tracked from now on; anything else is
 * remembered as not one, so its command line is not read again. */
static void
consider (ProcessInventory *inv, int pid)
{
  guint64 start_ticks;
  if (!vp_qemu_process_start_ticks (inv->proc_root, pid, &start_ticks))
    return;
  Tracked *known = g_hash_table_lookup (inv->tracked, GINT_TO_POINTER (pid));
  if (known && known->start_ticks == start_ticks)
    return;
  if (known)
    forget_process (inv, known);   /* that process ended and its PID was reused */
  gpointer other = g_hash_table_lookup (inv->others, GINT_TO_POINTER (pid));
  if (other && *(guint64 *) other == start_ticks)
    return;
  g_hash_table_remove (inv->others, GINT_TO_POINTER (pid));

  g_autofree char *exe_link = vp_qemu_process_path (inv->proc_root, pid, "exe");
  g_autofree char *exe = g_file_read_link (exe_link, NULL);
  guint64 *mark = g_memdup2 (&start_ticks, sizeof start_ticks);
  if (!exe || !vp_qemu_exe_is_qemu (exe))
    {
      /* Kernel threads have no exe; a process may exec QEMU later (taskset, incusd forkqemu). */
      if (exe)
        g_hash_table_replace (inv->others, GINT_TO_POINTER (pid), mark);
      else
        g_free (mark);
      return;
    }

  g_autofree char *cmdline_path = vp_qemu_process_path (inv->proc_root, pid, "cmdline");
  g_autofree char *bytes = NULL;
  gsize length;
  if (!g_file_get_contents (cmdline_path, &bytes, &length, NULL))
    {
      g_free (mark);
      return;
    }
  g_autoptr (VpQemuCmdline) cmdline = vp_qemu_cmdline_parse (bytes, MIN (length, VP_QEMU_CMDLINE_MAX));
  if (cmdline->daemonize && cmdline->pidfile)
    {
      /* Until the pidfile names it, this may be the process that forks the VM. */
      if (vp_qemu_process_pidfile_pid (inv->proc_root, pid, cmdline->pidfile) != pid)
        {
          g_free (mark);
          return;
        }
    }
  else if (cmdline->daemonize)
    {
      gpointer seen = g_hash_table_lookup (inv->pending, GINT_TO_POINTER (pid));
      if (!seen || *(guint64 *) seen != start_ticks)
        {
          g_hash_table_replace (inv->pending, GINT_TO_POINTER (pid), mark);
          return;
        }
      g_hash_table_remove (inv->pending, GINT_TO_POINTER (pid));
    }
  for (guint i = 0; i < cmdline->readconfig->len; i++)
    {
      gsize config_length;
      g_autofree char *text = vp_qemu_process_read_file (inv->proc_root, pid, cmdline->readconfig->pdata[i], VP_QEMU_CONFIG_MAX, &config_length);
      g_autoptr (GError) error = NULL;
      if (text && !vp_qemu_cmdline_add_config (cmdline, text, config_length, &error))
        {
          g_autofree char *said = g_strdup_printf ("QEMU process %d: -readconfig %s: %s", pid,
                                                   (char *) cmdline->readconfig->pdata[i], error->message);
          say_once (inv, pid, start_ticks, said);
        }
    }

  g_auto (VpQemuIdentity) identity = { 0 };
  if (!vp_qemu_identify (cmdline, &identity))
    {
      g_autofree char *said = g_strdup_printf ("QEMU process %d has no -name, -uuid or manager's pidfile that "
                                               "can name a directory; not counted", pid);
      say_once (inv, pid, start_ticks, said);
      g_hash_table_replace (inv->others, GINT_TO_POINTER (pid), mark);
      return;
    }
  g_auto (VpKubevirtVm) pod = { 0 };
  gboolean in_pod = FALSE;
  if (identity.manager == VP_MANAGER_LIBVIRT && in_other_mounts (inv, pid))
    {
      /* libvirt's, but not in the host's mounts: a KubeVirt pod's, or a containerized libvirt's
       * (Kolla's nova_libvirt) that the libvirt inventory reaches through the shared /run. */
      g_autoptr (GError) error = NULL;
      switch (vp_kubevirt_read (inv->proc_root, pid, identity.key, identity.uuid, &pod, &error))
        {
        case VP_KUBEVIRT_FOUND:
          vp_qemu_identity_set_kubevirt (&identity, pod.namespace, pod.vmi_name, pod.vmi_uid);
          in_pod = TRUE;
          break;
        case VP_KUBEVIRT_NOT:
          break;
        case VP_KUBEVIRT_NOT_YET:
          {
            /* Its libvirt writes the status file once QEMU runs: looked at again at the next scan. */
            g_autofree char *said = g_strdup_printf ("QEMU process %d (%s) runs in another mount namespace; "
                                                     "its libvirt's status file: %s", pid, identity.key,
                                                     error ? error->message : "not found");
            say_once (inv, pid, start_ticks, said);
            g_free (mark);
            return;
          }
        }
    }
  if (identity.manager == VP_MANAGER_LIBVIRT && inv->skip_libvirt)
    {
      g_debug ("processes: QEMU process %d is libvirt's (%s); left to the libvirt inventory", pid, identity.key);
      g_hash_table_replace (inv->others, GINT_TO_POINTER (pid), mark);
      return;
    }
  Tracked *twin = find_by_uuid (inv, identity.uuid);
  if (twin)
    {
      /* Two processes of one VM: a migration on this host, or a copy. The first
       * stays; this one is looked at again when it exits. */
      g_autofree char *said = g_strdup_printf ("QEMU process %d has the UUID %s of process %d; not counted "
                                               "while that one runs", pid, identity.uuid, twin->pid);
      say_once (inv, pid, start_ticks, said);
      g_free (mark);
      return;
    }
  g_free (mark);

  Tracked *t = g_new0 (Tracked, 1);
  t->pid = pid;
  t->start_ticks = start_ticks;
  t->manager = identity.manager;
  t->vmid = g_strdup (identity.vmid);
  gboolean incoming = cmdline->incoming != NULL;
  if (incoming && !cmdline->debug_threads)
    {
      g_autofree char *said = g_strdup_printf ("QEMU process %d has -incoming but no -name ...,debug-threads=on: "
                                               "its vCPUs cannot be told apart, so it is counted from now", pid);
      say_once (inv, pid, start_ticks, said);
      incoming = FALSE;
    }
  t->info = make_info (inv, pid, start_ticks, cmdline, &identity, in_pod ? &pod : NULL, incoming);
  if (incoming)
    t->vcpu_seen = vp_qemu_process_vcpu_schedstat (inv->proc_root, pid, &t->vcpu_runs, &t->vcpu_ns);
  t->pidfd = vp_pidfd_open (pid);
  if (t->pidfd >= 0)
    {
      struct epoll_event event = { .events = EPOLLIN, .data.u64 = (guint64) pid };
      if (epoll_ctl (inv->epoll_fd, EPOLL_CTL_ADD, t->pidfd, &event) != 0)
        {
          close (t->pidfd);
          t->pidfd = -1;
        }
    }
  inv->without_pidfd += t->pidfd < 0;
  inv->incoming += incoming;
  g_hash_table_replace (inv->tracked, GINT_TO_POINTER (pid), t);
  g_hash_table_remove (inv->gone, t->info->uuid);
  inv->dirty = TRUE;
  g_autofree char *labels = vp_metadata_labels_to_string ((const char *const *) t->info->labels);
  g_message ("processes: QEMU process %d is %s VM %s (%s)%s%s%s; %s", pid, vp_manager_to_string (identity.manager),
             t->info->name, t->info->uuid, incoming ? ", arriving by migration" : "",
             t->info->channel_path ? ", channel " : "", t->info->channel_path ? t->info->channel_path : "", labels);
}

/* Does its manager still have this VM here, stopped? Only Proxmox says so
 * where vpowerd can read it; elsewhere an exit may be a migration away. */
static gboolean
manager_keeps (ProcessInventory *inv, VpManager manager, const char *vmid)
{
  if (manager != VP_MANAGER_PROXMOX || !vmid)
    return FALSE;
  g_autofree char *conf = g_strdup_printf ("%s/etc/pve/qemu-server/%s.conf", inv->etc_root, vmid);
  return g_file_test (conf, G_FILE_TEST_EXISTS);
}

/* Its process exited (or its PID now belongs to another). */
static void
forget_process (ProcessInventory *inv, Tracked *t)
{
  gint64 now_us = g_get_real_time ();
  VpVmInfo *info = t->info;
  inv->without_pidfd -= t->pidfd < 0;
  inv->incoming -= info->life.move == VP_MOVE_INCOMING;
  if (info->life.move == VP_MOVE_INCOMING)
    g_message ("processes: VM %s (%s): its arriving QEMU %d exited before it ran here", info->name, info->uuid,
               t->pid);
  else
    {
      Gone *gone = g_new0 (Gone, 1);
      gone->info = vp_vm_info_copy (info);
      gone->info->pid = 0;
      gone->vmid = g_strdup (t->vmid);
      g_free (gone->info->state);
      gone->info->state = g_strdup ("shutoff");
      gone->info->life.move = VP_MOVE_NONE;
      if (manager_keeps (inv, t->manager, t->vmid))
        {
          g_message ("processes: VM %s (%s): QEMU %d exited; %s still has it here: shut off", info->name,
                     info->uuid, t->pid, vp_manager_to_string (t->manager));
        }
      else
        {
          gone->info->life.move = VP_MOVE_DEPARTED;
          gone->info->life.departed_us = now_us;
          gone->until_us = g_get_monotonic_time () + DEPARTED_LISTED_US;
          g_message ("processes: VM %s (%s): QEMU %d exited; its counters wait for its return (a migration "
                     "away, or gone for good after departed-retention)", info->name, info->uuid, t->pid);
        }
      g_hash_table_replace (inv->gone, g_strdup (info->uuid), gone);
    }
  g_hash_table_remove (inv->tracked, GINT_TO_POINTER (t->pid));
  inv->dirty = TRUE;
  /* A twin held back (a migration on this host) can be counted now. */
  inv->next_rescan_us = 0;
}

static void
drain_pidfds (ProcessInventory *inv)
{
  struct epoll_event events[64];
  int n;
  while ((n = epoll_wait (inv->epoll_fd, events, G_N_ELEMENTS (events), 0)) > 0)
    for (int i = 0; i < n; i++)
      {
        Tracked *t = g_hash_table_lookup (inv->tracked, GINT_TO_POINTER ((int) events[i].data.u64));
        if (t)
          forget_process (inv, t);
      }
}

/* Without pidfds: each tracked process is checked by its start time. */
static void
check_without_pidfds (ProcessInventory *inv)
{
  if (!inv->without_pidfd)
    return;
  g_autoptr (GPtrArray) ended = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, inv->tracked);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Tracked *t = value;
      guint64 start_ticks;
      if (t->pidfd < 0 && (!vp_qemu_process_start_ticks (inv->proc_root, t->pid, &start_ticks) || start_ticks != t->start_ticks))
        g_ptr_array_add (ended, t);
    }
  for (guint i = 0; i < ended->len; i++)
    forget_process (inv, ended->pdata[i]);
}

static void
watch_dir (ProcessInventory *inv, const char *dir, guint32 mask)
{
  if (g_hash_table_contains (inv->watched, dir))
    return;
  int wd = inotify_add_watch (inv->inotify_fd, dir, mask | IN_ONLYDIR);
  if (wd < 0)
    {
      if (errno != ENOENT && errno != ENOTDIR)
        g_warning ("processes: cannot watch %s (%s); VMs there are found by the rescan only", dir,
                   g_strerror (errno));
      return;
    }
  g_hash_table_replace (inv->watches, GINT_TO_POINTER (wd), g_strdup (dir));
  g_hash_table_replace (inv->watched, g_strdup (dir), GINT_TO_POINTER (wd));
}

/* QEMU creates its pidfile, then writes its PID into it and keeps it open
 * (locked) while it runs: IN_MODIFY is the write. */
#define PIDFILE_EVENTS (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO)

static void
watch_instance_dirs (ProcessInventory *inv, const char *parent)
{
  watch_dir (inv, parent, IN_CREATE | IN_MOVED_TO);
  g_autoptr (GDir) dir = g_dir_open (parent, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name (dir));)
    {
      g_autofree char *path = g_build_filename (parent, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        watch_dir (inv, path, PIDFILE_EVENTS);
    }
}

/* Directories that did not exist yet (a manager installed or started since)
 * are tried again at each rescan. */
static void
setup_watches (ProcessInventory *inv)
{
  for (const char *const *dir = pidfile_dirs; *dir; dir++)
    watch_dir (inv, *dir, PIDFILE_EVENTS);
  for (guint i = 0; i < inv->extra_dirs->len; i++)
    watch_dir (inv, inv->extra_dirs->pdata[i], PIDFILE_EVENTS);
  for (const char *const *parent = instance_parents; *parent; parent++)
    watch_instance_dirs (inv, *parent);
}

static gboolean
is_instance_parent (const char *dir)
{
  return g_strv_contains (instance_parents, dir);
}

static void
check_pidfile (ProcessInventory *inv, const char *path)
{
  int pid = vp_read_pid_file (path);
  if (pid)
    consider (inv, pid);
}

static void
drain_inotify (ProcessInventory *inv)
{
  char buffer[16384] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  ssize_t n;
  while ((n = read (inv->inotify_fd, buffer, sizeof buffer)) > 0)
    for (char *p = buffer; p < buffer + n;)
      {
        const struct inotify_event *event = (const struct inotify_event *) p;
        p += sizeof *event + event->len;
        if (event->mask & IN_Q_OVERFLOW)
          {
            inv->next_rescan_us = 0;
            continue;
          }
        const char *dir = g_hash_table_lookup (inv->watches, GINT_TO_POINTER (event->wd));
        if (!dir)
          continue;
        if (event->mask & IN_IGNORED)
          {
            g_hash_table_remove (inv->watched, dir);
            g_hash_table_remove (inv->watches, GINT_TO_POINTER (event->wd));
            continue;
          }
        if (!event->len)
          continue;
        g_autofree char *path = g_build_filename (dir, event->name, NULL);
        if (is_instance_parent (dir))
          {
            if (event->mask & IN_ISDIR)
              {
                watch_dir (inv, path, PIDFILE_EVENTS);
                g_autofree char *pidfile = g_build_filename (path, "qemu.pid", NULL);
                check_pidfile (inv, pidfile);
              }
          }
        else if (!(event->mask & IN_ISDIR))
          check_pidfile (inv, path);
      }
}

static void
rescan (ProcessInventory *inv)
{
  setup_watches (inv);
  g_autoptr (GHashTable) present = g_hash_table_new (NULL, NULL);
  DIR *proc = opendir (inv->proc_root);
  for (struct dirent *entry; proc && (entry = readdir (proc));)
    {
      guint64 pid;
      if (!g_ascii_string_to_unsigned (entry->d_name, 10, 1, G_MAXINT, &pid, NULL))
        continue;
      g_hash_table_add (present, GINT_TO_POINTER ((int) pid));
      Tracked *t = g_hash_table_lookup (inv->tracked, GINT_TO_POINTER ((int) pid));
      if (t && t->pidfd >= 0)
        continue;   /* its pidfd says when it ends */
      consider (inv, (int) pid);
    }
  if (proc)
    closedir (proc);
  /* What was learnt of processes that are gone is forgotten with them. */
  GHashTable *tables[] = { inv->others, inv->pending };
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      GHashTableIter iter;
      gpointer key;
      g_hash_table_iter_init (&iter, tables[i]);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!g_hash_table_contains (present, key))
          g_hash_table_iter_remove (&iter);
    }
  GHashTableIter said;
  gpointer said_key;
  g_hash_table_iter_init (&said, inv->said);
  while (g_hash_table_iter_next (&said, &said_key, NULL))
    if (!g_hash_table_contains (present, GINT_TO_POINTER ((int) g_ascii_strtoll (said_key, NULL, 10))))
      g_hash_table_iter_remove (&said);
  /* A stopped Proxmox VM whose configuration left this node: it went elsewhere. */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, inv->gone);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Gone *gone = value;
      if (gone->until_us || manager_keeps (inv, VP_MANAGER_PROXMOX, gone->vmid))
        continue;
      g_message ("processes: VM %s (%s): its configuration left this host; its counters wait for its return",
                 gone->info->name, gone->info->uuid);
      gone->info->life.move = VP_MOVE_DEPARTED;
      gone->info->life.departed_us = g_get_real_time ();
      gone->until_us = g_get_monotonic_time () + DEPARTED_LISTED_US;
      inv->dirty = TRUE;
    }
  inv->next_rescan_us = g_get_monotonic_time () + inv->rescan_us;
}

/* An arriving VM runs here once its vCPU threads do: the switchover (and the
 * "cont" of a manager that starts it with -S). */
static void
check_incoming (ProcessInventory *inv)
{
  if (!inv->incoming)
    return;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, inv->tracked);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Tracked *t = value;
      if (t->info->life.move != VP_MOVE_INCOMING)
        continue;
      guint64 runs, ns;
      if (!vp_qemu_process_vcpu_schedstat (inv->proc_root, t->pid, &runs, &ns))
        continue;
      gboolean resumed = t->vcpu_seen && (runs >= t->vcpu_runs + VCPU_RESUMED_RUNS || ns >= t->vcpu_ns + VCPU_RESUMED_NS);
      t->vcpu_runs = runs;
      t->vcpu_ns = ns;
      t->vcpu_seen = TRUE;
      if (!resumed)
        continue;
      VpVmInfo *info = vp_vm_info_copy (t->info);
      g_free (info->state);
      info->state = g_strdup ("running");
      info->life.move = VP_MOVE_NONE;
      info->life.arrived_us = g_get_real_time ();
      vp_vm_info_free (t->info);
      t->info = info;
      inv->incoming--;
      inv->dirty = TRUE;
      g_message ("processes: VM %s (%s) arrived by migration and runs here; counted from now", info->name,
                 info->uuid);
    }
}

static void
expire_gone (ProcessInventory *inv)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, inv->gone);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Gone *) value)->until_us && now > ((Gone *) value)->until_us)
      {
        g_hash_table_iter_remove (&iter);
        inv->dirty = TRUE;
      }
}

static gint
compare_info_name (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(VpVmInfo *const *) a)->name, (*(VpVmInfo *const *) b)->name);
}

/* The list the engine walks every tick, copied in its order: copies made one after the other lie
 * together in memory, as a static inventory's do (copied in the hash table's order, the walk cost
 * a tenth more at 1000 VMs, in cache misses). */
static void
publish (ProcessInventory *inv)
{
  guint n = g_hash_table_size (inv->tracked) + g_hash_table_size (inv->gone);
  g_autoptr (GPtrArray) order = g_ptr_array_sized_new (n);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, inv->tracked);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (order, ((Tracked *) value)->info);
  g_hash_table_iter_init (&iter, inv->gone);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (order, ((Gone *) value)->info);
  g_ptr_array_sort (order, compare_info_name);
  GPtrArray *list = g_ptr_array_new_full (n, (GDestroyNotify) vp_vm_info_free);
  for (guint i = 0; i < order->len; i++)
    g_ptr_array_add (list, vp_vm_info_copy (order->pdata[i]));
  g_ptr_array_unref (inv->published);
  inv->published = list;
  inv->dirty = FALSE;
}

static GPtrArray *
processes_list (gpointer impl, gboolean *complete)
{
  ProcessInventory *inv = impl;
  drain_inotify (inv);
  drain_pidfds (inv);
  check_without_pidfds (inv);
  if (g_get_monotonic_time () >= inv->next_rescan_us)
    rescan (inv);
  check_incoming (inv);
  expire_gone (inv);
  if (inv->dirty)
    publish (inv);
  *complete = TRUE;
  return g_ptr_array_ref (inv->published);
}

static guint64
boot_time_us (const char *proc_root)
{
  g_autofree char *path = g_build_filename (proc_root, "stat", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  const char *line = strstr (text, "\nbtime ");
  guint64 seconds;
  return line && sscanf (line + 7, "%" G_GUINT64_FORMAT, &seconds) == 1 ? seconds * G_USEC_PER_SEC : 0;
}

gpointer
vp_inventory_processes_open (const VpConfig *config, gboolean skip_libvirt, GError **error)
{
  ProcessInventory *inv = g_new0 (ProcessInventory, 1);
  inv->proc_root = g_strdup (config->proc_root);
  inv->etc_root = g_strdup ("");
  inv->skip_libvirt = skip_libvirt;
  inv->rescan_us = (gint64) (config->process_rescan_s * G_USEC_PER_SEC);
  inv->opened_us = g_get_real_time ();
  inv->boot_us = boot_time_us (config->proc_root);
  inv->ticks_per_s = sysconf (_SC_CLK_TCK);
  inv->tracked = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) tracked_free);
  inv->others = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  inv->pending = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  inv->gone = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) gone_free);
  inv->said = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  inv->watches = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  inv->watched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  inv->extra_dirs = g_ptr_array_new_with_free_func (g_free);
  for (char **dir = config->pidfile_dirs; dir && *dir; dir++)
    g_ptr_array_add (inv->extra_dirs, g_strdup (*dir));
  inv->published = g_ptr_array_new_with_free_func ((GDestroyNotify) vp_vm_info_free);
  inv->inotify_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  inv->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (inv->inotify_fd < 0 || inv->epoll_fd < 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_FAILED, "process inventory: %s: %s",
                   inv->inotify_fd < 0 ? "inotify" : "epoll", g_strerror (errno));
      vp_inventory_processes_ops.free (inv);
      return NULL;
    }
  rescan (inv);
  publish (inv);
  g_message ("processes: %u QEMU VMs; watching %u pidfile directories, a full look every %.0f s",
             g_hash_table_size (inv->tracked), g_hash_table_size (inv->watched), config->process_rescan_s);
  return inv;
}

static gboolean
processes_connected (gpointer impl)
{
  return TRUE;
}

static void
processes_free (gpointer impl)
{
  ProcessInventory *inv = impl;
  if (inv->inotify_fd >= 0)
    close (inv->inotify_fd);
  if (inv->epoll_fd >= 0)
    close (inv->epoll_fd);
  g_hash_table_unref (inv->tracked);
  g_hash_table_unref (inv->others);
  g_hash_table_unref (inv->pending);
  g_hash_table_unref (inv->gone);
  g_hash_table_unref (inv->said);
  g_hash_table_unref (inv->watches);
  g_hash_table_unref (inv->watched);
  g_ptr_array_unref (inv->extra_dirs);
  g_ptr_array_unref (inv->published);
  g_free (inv->proc_root);
  g_free (inv->etc_root);
  g_free (inv);
}

const VpInventoryOps vp_inventory_processes_ops = {
  .kind = "processes",
  .list = processes_list,
  .cpu_times = NULL,
  .connected = processes_connected,
  .free = processes_free,
};
