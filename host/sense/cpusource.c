/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: CPU-time sources behind one interface. */
#include "config.h"

#define VP_CPU_SOURCE_IMPLEMENTATION
#include "host/sense/cpusource-priv.h"

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

void
vp_cpu_source_end_tick (VpCpuSource *source)
{
  if (source->end_tick)
    source->end_tick (source);
}
