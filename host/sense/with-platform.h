/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the host's sensor with the platform's zone, as config->platform chooses it.
 *
 *   auto   RAPL's own psys zone where the host has one; else the ACPI power meter (hwmon); else the BMC
 *          in-band; else none
 *   psys   RAPL's psys zone
 *   hwmon  the ACPI power meter under --sysfs-root (RAPL's psys zone, if any, is then not used)
 *   ipmi   the BMC (host/sense/ipmi.h): in-band, or over the LAN with ipmi-host; auto tries it
 *          in-band only where the kernel's IPMI driver is
 *   none   no platform zone: RAPL's psys zone, if any, is split as any other zone, by CPU time
 *
 * The platform's zone is flagged (VpZone.platform): the engine splits it as the whole machine's
 * energy (host/attribution/platform-split.h). A meter's zone comes after RAPL's, as the next
 * top-level index, named psys as Intel's platform domain is; its counter wraps at the range of
 * Intel's psys counters, as every zone's does. */
#pragma once

#include "host/conf.h"
#include "host/sense/sensor.h"

/* The range of a meter's zone: Intel's psys counters' (2^32 units of 61 µJ). */
#define VP_PLATFORM_RANGE_UJ G_GUINT64_CONSTANT (262143328850)

typedef struct {
  int zone;                 /* the platform's zone in the sensor, or -1: none */
  const char *source;       /* "psys", "hwmon", "ipmi", or NULL: a static string */
  char *description;        /* what measures it, for the API and the logs */
  VpSensor *meter;          /* borrowed from the sensor: a meter, whose staleness counts; NULL for psys */
} VpPlatformChoice;

void vp_platform_choice_clear (VpPlatformChoice *choice);

/* The sensor the engine reads: RAPL (taken) with the platform config->platform asks for, which
 * CHOICE describes. NULL with error set when the platform asked for by name is not there (RAPL
 * is freed then). */
VpSensor *vp_sensor_with_platform (VpSensor *rapl, const VpConfig *config, VpPlatformChoice *choice,
                                   GError **error);
