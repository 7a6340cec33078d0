/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The platform meter: the ACPI power meter found among hwmon devices (and nothing else taken for
 * it), its readings parsed strictly, and the sensor's counter, read by a thread of its own: it
 * grows with the meter, stops when the meter fails or hangs while the sensor's reads go on at
 * once, and grows again when the meter answers. */
#include "config.h"

#include "host/sense/hwmon.h"
#include "host/sense/ipmi.h"
#include "host/sense/platform.h"
#include "shared/vp-error.h"

#include <glib/gstdio.h>
#include <string.h>

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, text, -1, &error));
}

/* SYSFS/class/hwmon with a GPU's power (not the platform's) in hwmon0 and the ACPI power meter in
 * hwmon1, its attributes under device/ as older kernels put them. */
static char *
make_sysfs (const char *power)
{
  g_autoptr (GError) error = NULL;
  char *sysfs = g_dir_make_tmp ("vp-hwmon-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *gpu = g_build_filename (sysfs, "class", "hwmon", "hwmon0", NULL);
  g_autofree char *meter = g_build_filename (sysfs, "class", "hwmon", "hwmon1", "device", NULL);
  g_assert_cmpint (g_mkdir_with_parents (gpu, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (meter, 0755), ==, 0);
  write_file (gpu, "name", "amdgpu\n");
  write_file (gpu, "power1_average", "45000000\n");
  write_file (meter, "name", "power_meter\n");
  write_file (meter, "power1_average", power);
  write_file (meter, "power1_average_interval", "500\n");
  return sysfs;
}

static void
remove_tree (const char *dir)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (command), ==, 0);
}

static void
test_find (void)
{
  g_autofree char *sysfs = make_sysfs ("250000000\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (VpHwmonMeter) meter = vp_hwmon_find_power_meter (sysfs, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (meter->power_path, "hwmon1/device/power1_average"));
  g_assert_true (g_str_has_suffix (meter->device, "hwmon1"));
  g_assert_cmpuint (meter->interval_ms, ==, 500);
  guint64 power = 0;
  g_assert_true (vp_hwmon_read_power (meter, &power, &error));
  g_assert_cmpuint (power, ==, 250000000);

  /* Without the power meter, the GPU's power is not taken for the platform's. */
  g_autofree char *meter_dir = g_build_filename (sysfs, "class", "hwmon", "hwmon1", NULL);
  remove_tree (meter_dir);
  g_autoptr (VpHwmonMeter) none = vp_hwmon_find_power_meter (sysfs, &error);
  g_assert_null (none);
  g_assert_error (error, VP_ERROR, VP_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no ACPI power meter"));
  remove_tree (sysfs);
}

static void
test_parse (void)
{
  static const struct {
    const char *text;
    gboolean ok;
    guint64 power_uw;
  } cases[] = {
    { "0\n", TRUE, 0 },
    { "312500000\n", TRUE, 312500000 },
    { "1000000000000\n", TRUE, 1000000000000 },   /* 1 MW: the bound */
    { "1000000000001\n", FALSE, 0 },
    { "-5\n", FALSE, 0 },
    { "12.5\n", FALSE, 0 },
    { "", FALSE, 0 },
    { "abc", FALSE, 0 },
    { "18446744073709551616\n", FALSE, 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 power = 0;
      gboolean ok = vp_hwmon_parse_power (cases[i].text, &power, &error);
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (ok)
        g_assert_cmpuint (power, ==, cases[i].power_uw);
      else
        g_assert_error (error, VP_ERROR, VP_ERROR_PARSE);
    }
}

static guint64
counter (VpSensor *sensor)
{
  guint64 reading = 0;
  gboolean ok = FALSE;
  g_autoptr (GError) error = NULL;
  g_assert_cmpuint (vp_sensor_read (sensor, NULL, &reading, &ok, &error), ==, 0);
  return reading;
}

/* Polls CONDITION every 10 ms for up to 10 s. */
#define POLL(condition)                                                             \
  G_STMT_START {                                                                    \
    gint64 deadline_ = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;               \
    while (!(condition) && g_get_monotonic_time () < deadline_)                     \
      g_usleep (10000);                                                             \
    g_assert_true (condition);                                                      \
  } G_STMT_END

static void
test_hwmon_sensor (void)
{
  g_autofree char *sysfs = make_sysfs ("200000000\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (VpSensor) sensor = vp_platform_hwmon_open (sysfs, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vp_sensor_name (sensor), ==, "hwmon");
  g_assert_false (vp_sensor_estimated (sensor));
  g_assert_cmpuint (vp_sensor_n_zones (sensor), ==, 1);
  g_assert_cmpstr (vp_sensor_zone (sensor, 0)->name, ==, "psys");
  g_assert_cmpint (vp_sensor_zone (sensor, 0)->package, ==, -1);
  g_assert_nonnull (strstr (vp_platform_description (sensor), "hwmon1"));
  /* 200 W held: the counter grows. */
  double watts = 0;
  POLL (!vp_platform_stale (sensor, &watts) && counter (sensor) > 0);
  g_assert_cmpfloat (watts, ==, 200.0);
  remove_tree (sysfs);
}

/* A meter that fails, then hangs, then answers: the source the test drives. */
typedef struct {
  GMutex lock;
  GCond changed;
  int mode;          /* 0: answers, 1: fails, 2: hangs until the mode changes */
  guint reads;
} TestMeter;

static gboolean
test_meter_read (gpointer data, guint64 *power_uw, GError **error)
{
  TestMeter *meter = data;
  g_mutex_lock (&meter->lock);
  meter->reads++;
  g_cond_broadcast (&meter->changed);
  while (meter->mode == 2)
    g_cond_wait (&meter->changed, &meter->lock);
  int mode = meter->mode;
  g_mutex_unlock (&meter->lock);
  if (mode == 1)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "garbage");
      return FALSE;
    }
  *power_uw = 100000000;
  return TRUE;
}

static void
set_mode (TestMeter *meter, int mode)
{
  g_mutex_lock (&meter->lock);
  meter->mode = mode;
  g_cond_broadcast (&meter->changed);
  g_mutex_unlock (&meter->lock);
}

static guint
reads (TestMeter *meter)
{
  g_mutex_lock (&meter->lock);
  guint n = meter->reads;
  g_mutex_unlock (&meter->lock);
  return n;
}

static void
test_meter_stops (void)
{
  static TestMeter meter;   /* outlives the sensor: its thread may still be reading */
  g_mutex_init (&meter.lock);
  g_cond_init (&meter.changed);
  VpPowerSource *source = g_new0 (VpPowerSource, 1);
  source->kind = "test";
  source->description = g_strdup ("the test's meter");
  source->period_us = 20000;
  source->read = test_meter_read;
  source->source = &meter;
  g_autoptr (VpSensor) sensor = vp_platform_sensor_new (source, 200000);
  double watts;
  POLL (counter (sensor) > 0 && !vp_platform_stale (sensor, &watts));

  /* It fails: stale once its last reading is 0.2 s old, and the counter stops. */
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "platform: cannot read the test's meter: garbage*");
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "platform: the test's meter is stale*");
  set_mode (&meter, 1);
  POLL (vp_platform_stale (sensor, &watts));
  g_test_assert_expected_messages ();
  guint64 stopped = counter (sensor);
  guint seen = reads (&meter);
  POLL (reads (&meter) >= seen + 3);
  g_assert_cmpuint (counter (sensor), ==, stopped);

  /* It answers again: fresh, and the counter grows from where it stopped. */
  set_mode (&meter, 0);
  POLL (!vp_platform_stale (sensor, &watts) && counter (sensor) > stopped);

  /* It hangs in a read: the sensor's reads still answer at once, and it turns stale. */
  g_test_expect_message ("vpowerd", G_LOG_LEVEL_WARNING, "platform: the test's meter is stale*");
  set_mode (&meter, 2);
  seen = reads (&meter);
  POLL (reads (&meter) > seen);
  POLL (vp_platform_stale (sensor, &watts));
  g_test_assert_expected_messages ();
  stopped = counter (sensor);
  g_assert_cmpuint (counter (sensor), ==, stopped);
  set_mode (&meter, 0);
  POLL (!vp_platform_stale (sensor, &watts) && counter (sensor) > stopped);
}

#ifdef VP_HAVE_FREEIPMI
/* A full sensor record as a BMC's SDR repository holds it (IPMI 2.0, 43.1): sensor NUMBER of
 * type TYPE (0x0b other units-based, 0x01 temperature), base unit UNIT (6 watts, 1 degrees C). */
static GBytes *
full_record (guint8 number, guint8 type, guint8 unit, const char *name)
{
  const guint8 head[] = { 0x20, 0x00, number, 0x07, 0x01, 0x67, 0x88, type, 0x01, 0xc0, 0x0f, 0xc0, 0x7f, 0x38, 0x38,
                          0x00, unit, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x40, 0xf0, 0x00, 0xff,
                          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
  gsize name_length = strlen (name);
  GByteArray *record = g_byte_array_new ();
  const guint8 header[] = { 0x00, 0x00, 0x51, 0x01, (guint8) (sizeof head + 1 + name_length) };
  const guint8 id_type = (guint8) (0xc0 | name_length);
  g_byte_array_append (record, header, sizeof header);
  g_byte_array_append (record, head, sizeof head);
  g_byte_array_append (record, &id_type, 1);
  g_byte_array_append (record, (const guint8 *) name, (guint) name_length);
  return g_byte_array_free_to_bytes (record);
}

/* Which of a BMC's sensors is the system's power. */
static void
test_ipmi_pick (void)
{
  static const struct {
    const char *sensors;   /* NAME:UNIT,... (W watts, C degrees) */
    const char *wanted;
    const char *chosen;    /* NULL: refused */
  } cases[] = {
    { "Pwr Consumption:W", NULL, "Pwr Consumption" },
    { "CPU Temp:C,Sys Power:W", NULL, "Sys Power" },             /* the one in watts */
    { "PS1 Input:W,PS2 Input:W", NULL, NULL },                   /* several, none the total */
    { "PS1 Input:W,Pwr Consumption:W,PS2 Input:W", NULL, "Pwr Consumption" },
    { "PS1 Input:W,PS2 Input:W", "PS2 Input", "PS2 Input" },     /* ipmi-sensor names it */
    { "PS1 Input:W", "Total Power", NULL },                      /* named, not there */
    { "CPU Temp:C", NULL, NULL },                                /* nothing in watts */
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      g_auto (GStrv) sensors = g_strsplit (cases[c].sensors, ",", -1);
      for (guint i = 0; sensors[i]; i++)
        {
          g_auto (GStrv) parts = g_strsplit (sensors[i], ":", 2);
          gboolean watts = g_str_equal (parts[1], "W");
          g_ptr_array_add (records, full_record ((guint8) (0x60 + i), watts ? 0x0b : 0x01, watts ? 6 : 1, parts[0]));
        }
      guint chosen = 0;
      g_autofree char *name = NULL;
      g_autoptr (GError) error = NULL;
      gboolean ok = vp_ipmi_pick_sensor (records, cases[c].wanted, &chosen, &name, &error);
      g_test_message ("%s (%s)", cases[c].sensors, cases[c].wanted ? cases[c].wanted : "none named");
      if (cases[c].chosen)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (name, ==, cases[c].chosen);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, VP_ERROR, VP_ERROR_NOT_FOUND);
        }
    }
}
#endif

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/platform/hwmon/find", test_find);
  g_test_add_func ("/platform/hwmon/parse", test_parse);
  g_test_add_func ("/platform/hwmon/sensor", test_hwmon_sensor);
  g_test_add_func ("/platform/meter-stops", test_meter_stops);
#ifdef VP_HAVE_FREEIPMI
  g_test_add_func ("/platform/ipmi/pick", test_ipmi_pick);
#endif
  return g_test_run ();
}
