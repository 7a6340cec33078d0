/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: CPU-time sources behind one interface. */
#include "config.h"

#define VP_CPU_SOURCE_IMPLEMENTATION
#include "host/sense/cpusource-priv.h"
#include "shared/vp-error.h"

#include <string.h>

void
vp_cpu_source_free (VpCpuSource *source)
{
  if (!source)
    return;
  if (source->free_impl)
    source->free_impl (source->impl);
  g_free (source);
}

const char *
vp_cpu_source_name (const VpCpuSource *source)
{
  return source->name;
}

gboolean
vp_cpu_source_read (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error)
{
  return source->read (source, pid, times, error);
}

gboolean
vp_cpu_source_per_cpu (const VpCpuSource *source)
{
  return source->per_cpu;
}

gboolean
vp_cpu_source_read_threads (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error)
{
  return source->read_threads ? source->read_threads (source, pid, times, error)
                              : source->read (source, pid, times, error);
}

void
vp_cpu_source_end_tick (VpCpuSource *source)
{
  if (source->end_tick)
    source->end_tick (source);
}

/* How many VMs the BPF program counts; more are read from /proc. Its counters take
 * 8 bytes per slot per possible CPU: 32 KiB for each CPU. */
#define VP_BPF_SLOTS 4096

/* BPF counts by the kernel's own PIDs: the engine's must be those. NULL when they are, else why
 * not. */
#define INIT_PID_NS_INODE 0xEFFFFFFCU

static char *
why_pids_are_not_the_kernels (const char *proc_root)
{
  if (!g_str_equal (proc_root, "/proc"))
    return g_strdup_printf ("the process tree is read from %s, not /proc", proc_root);
  /* The kernel's PIDs are the initial PID namespace's, whose inode is PROC_PID_INIT_INO
   * (include/linux/proc_ns.h). NSpid alone does not tell: read through a /proc mounted in a
   * child namespace (unshare --mount-proc) it lists that namespace's levels only. */
  /* (Its link, not stat()'s st_ino: from Linux 6.18 nsfs inodes are numbered apart.) */
  g_autofree char *ns = g_file_read_link ("/proc/self/ns/pid", NULL);
  g_autofree char *init_ns = g_strdup_printf ("pid:[%u]", INIT_PID_NS_INODE);
  if (ns && !g_str_equal (ns, init_ns))
    return g_strdup ("vpowerd runs in a PID namespace of its own");
  /* NSpid lists a process's PID in each namespace it is in: one entry is the initial one. */
  g_autofree char *status = NULL;
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return g_strdup ("cannot read /proc/self/status");
  const char *line = strstr (status, "\nNSpid:");
  if (line)
    {
      g_autofree char *value = g_strndup (line + strlen ("\nNSpid:"), strcspn (line + 1, "\n"));
      g_auto (GStrv) pids = g_strsplit_set (g_strstrip (value), " \t", -1);
      guint n = 0;
      for (char **pid = pids; *pid; pid++)
        n += **pid != '\0';
      if (n > 1)
        return g_strdup ("vpowerd runs in a PID namespace of its own");
    }
  return NULL;
}

VpCpuSource *
vp_cpu_source_open (VpCpuSourceKind kind, const char *proc_root, const VpTopology *topology, GError **error)
{
  if (kind == VP_CPU_SOURCE_PROC)
    return vp_cpu_source_proc_new (proc_root, topology);

  g_autoptr (GError) bpf_error = NULL;
  g_autofree char *why_not = why_pids_are_not_the_kernels (proc_root);
  VpCpuSource *source = NULL;
  if (why_not)
    g_set_error (&bpf_error, VP_ERROR, VP_ERROR_FAILED, "%s", why_not);
  else
#ifdef VP_HAVE_BPF
    source = vp_cpu_source_bpf_new (proc_root, topology, VP_BPF_SLOTS, &bpf_error);
#else
    g_set_error (&bpf_error, VP_ERROR, VP_ERROR_FAILED,
                 "this vpowerd was built without it (configure found no clang, bpftool or libbpf)");
#endif
  if (source)
    {
      g_info ("cpu time: from a BPF sched_switch program (per CPU)");
      return source;
    }
  if (kind == VP_CPU_SOURCE_BPF)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&bpf_error), "cpu-source=bpf: ");
      return NULL;
    }
  g_message ("cpu time: from /proc, not BPF: %s", bpf_error->message);
  return vp_cpu_source_proc_new (proc_root, topology);
}
