/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the platform's power from a BMC over IPMI (platform=ipmi), with FreeIPMI's library. */
#pragma once

#include "host/sense/sensor.h"

typedef struct {
  const char *host;         /* ipmi-host: HOST[:PORT] over the LAN; NULL or empty: in-band (/dev/ipmi0) */
  const char *credentials;  /* ipmi-credentials: a root-only key file, [ipmi] user= password= */
  const char *sensor;       /* ipmi-sensor: the SDR sensor's name, when DCMI is not there; NULL: choose */
} VpIpmiOptions;

/* The BMC as a platform meter (platform.h), read once now: NULL with error set when it cannot be
 * reached, has neither DCMI's power reading nor one SDR sensor of the system's power in watts, or
 * this vpowerd was built without FreeIPMI. */
VpSensor *vp_platform_ipmi_open (const VpIpmiOptions *options, GError **error);

/* Chooses, among a BMC's sensor records (GBytes, as the BMC gave them), the full sensor record of
 * the system's power in watts: the one named WANTED (ipmi-sensor), else the only one in watts,
 * else the only one whose name says it is the system's total ("Pwr Consumption", "Total Power",
 * "Sys Power", "Power Meter"). Sets *chosen to its index and *name to its name; else error with
 * the sensors in watts there are. Only where built with FreeIPMI. */
gboolean vp_ipmi_pick_sensor (GPtrArray *records, const char *wanted, guint *chosen, char **name, GError **error);
