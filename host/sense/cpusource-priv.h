/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: what CPU-time sources share; not for other modules. */
#pragma once

#ifndef VP_CPU_SOURCE_IMPLEMENTATION
# error "cpusource-priv.h is only for CPU-time source implementations"
#endif

#include "host/sense/cpusource.h"

struct _VpCpuSource {
  const char *name;
  gboolean per_cpu;
  gboolean (*read) (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error);
  void (*end_tick) (VpCpuSource *source);
  /* NULL: read gives threads already. */
  gboolean (*read_threads) (VpCpuSource *source, int pid, VpProcessTimes *times, GError **error);
  gpointer impl;
  GDestroyNotify free_impl;
};
