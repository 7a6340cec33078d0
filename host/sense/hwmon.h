/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the platform's power from hwmon: the ACPI power meter.
 *
 * Only the ACPI power meter (hwmon name "power_meter", drivers/hwmon/acpi_power_meter.c) counts as
 * platform power: ACPI defines it as the power the whole platform draws, as a BMC reports it.
 * Other hwmon power*_input are parts of the machine: a GPU (amdgpu), a CPU package (fam15h_power,
 * zenpower: RAPL counts those already), a board rail (ina2xx), one of several PSUs (pmbus, which
 * the BMC owns on most servers); summing them would count some parts twice and miss others. */
#pragma once

#include <glib.h>

typedef struct {
  char *power_path;      /* power1_average, else power1_input (µW) */
  char *device;          /* the hwmon directory, for messages */
  guint interval_ms;     /* power1_average_interval: how often it changes (0: unknown) */
} VpHwmonMeter;

void vp_hwmon_meter_free (VpHwmonMeter *meter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpHwmonMeter, vp_hwmon_meter_free)

/* The ACPI power meter under SYSFS_ROOT/class/hwmon (its attributes in hwmonN/, or in
 * hwmonN/device/ as older kernels put them), or NULL with error set (none, or unreadable). */
VpHwmonMeter *vp_hwmon_find_power_meter (const char *sysfs_root, GError **error);

/* A hwmon power file's text: one unsigned decimal of µW, as the kernel prints it, at most
 * VP_POWER_MAX_UW. */
gboolean vp_hwmon_parse_power (const char *text, guint64 *power_uw, GError **error);

/* Reads the meter's power now. Fails while the meter has no reading (the kernel returns an error). */
gboolean vp_hwmon_read_power (const VpHwmonMeter *meter, guint64 *power_uw, GError **error);
