/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the platform's power from a BMC, with FreeIPMI's library (see ipmi.h).
 *
 * In-band through the kernel's IPMI driver (/dev/ipmi0), or over the LAN (IPMI 2.0, else 1.5)
 * with credentials from a root-only file. DCMI's Get Power Reading where the BMC has it (the
 * platform's power, as DCMI defines it); else a full SDR sensor in watts, which must be the one
 * sensor in watts there is, the one whose name says it is the system's total, or the one named
 * by ipmi-sensor. Every read runs on the platform meter's thread (platform.c): a BMC that is
 * slow or dead holds that thread, never the tick. A session that fails is opened again at the
 * next read. */
#include "config.h"

#include "host/sense/ipmi.h"
#include "shared/vp-error.h"

#ifndef VP_HAVE_FREEIPMI

VpSensor *
vp_platform_ipmi_open (const VpIpmiOptions *options, GError **error)
{
  g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND,
               "this vpowerd was built without FreeIPMI (configure --with-freeipmi; Debian: libfreeipmi-dev)");
  return NULL;
}

#else

#include "host/sense/platform.h"
#include "host/sense/power-integrator.h"

#include <errno.h>
#include <freeipmi/freeipmi.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PERIOD_US G_USEC_PER_SEC
#define STALE_AFTER_US (5 * G_USEC_PER_SEC)
#define SESSION_TIMEOUT_MS 2000
#define RETRANSMISSION_TIMEOUT_MS 500

typedef struct {
  char *host;                 /* NULL: in-band */
  char *user, *password;
  char *sensor_name;          /* ipmi-sensor, or NULL */
  ipmi_ctx_t ctx;             /* NULL until (re)opened */
  gboolean use_dcmi;          /* DCMI answered at the first read */
  gboolean probed;            /* DCMI was tried */
  guint8 record[IPMI_SDR_MAX_RECORD_LENGTH];
  int record_length;          /* 0: no SDR sensor chosen yet */
  char *described;            /* "DCMI power reading" or "SDR sensor 'NAME'" */
} Bmc;

static void
bmc_close (Bmc *bmc)
{
  if (bmc->ctx)
    {
      ipmi_ctx_close (bmc->ctx);
      ipmi_ctx_destroy (bmc->ctx);
      bmc->ctx = NULL;
    }
}

static void
bmc_free (gpointer data)
{
  Bmc *bmc = data;
  bmc_close (bmc);
  g_free (bmc->host);
  g_free (bmc->user);
  if (bmc->password)
    memset (bmc->password, 0, strlen (bmc->password));
  g_free (bmc->password);
  g_free (bmc->sensor_name);
  g_free (bmc->described);
  g_free (bmc);
}

static gboolean
bmc_open (Bmc *bmc, GError **error)
{
  if (bmc->ctx)
    return TRUE;
  ipmi_ctx_t ctx = ipmi_ctx_create ();
  if (!ctx)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "IPMI: cannot make a context");
      return FALSE;
    }
  int status;
  if (!bmc->host)
    status = ipmi_ctx_find_inband (ctx, NULL, 0, 0, 0, NULL, 0, 0) == 1 ? 0 : -1;
  else
    {
      /* IPMI 2.0 (RMCP+), as BMCs have it; 1.5 for the older ones (and simulators). */
      status = ipmi_ctx_open_outofband_2_0 (ctx, bmc->host, bmc->user, bmc->password, NULL, 0,
                                            IPMI_PRIVILEGE_LEVEL_USER, 3, SESSION_TIMEOUT_MS,
                                            RETRANSMISSION_TIMEOUT_MS, 0, 0);
      if (status < 0)
        status = ipmi_ctx_open_outofband (ctx, bmc->host, bmc->user, bmc->password,
                                          IPMI_AUTHENTICATION_TYPE_MD5, IPMI_PRIVILEGE_LEVEL_USER,
                                          SESSION_TIMEOUT_MS, RETRANSMISSION_TIMEOUT_MS, 0, 0);
    }
  if (status < 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "IPMI: cannot reach the BMC %s: %s",
                   bmc->host ? bmc->host : "in-band (/dev/ipmi0)", ipmi_ctx_errormsg (ctx));
      ipmi_ctx_destroy (ctx);
      return FALSE;
    }
  bmc->ctx = ctx;
  return TRUE;
}

/* DCMI Get Power Reading: the platform's power now, if the BMC measures it. */
static gboolean
read_dcmi (Bmc *bmc, guint64 *power_uw, GError **error)
{
  fiid_obj_t rs = fiid_obj_create (tmpl_cmd_dcmi_get_power_reading_rs);
  uint64_t watts = 0, active = 0;
  const char *problem = NULL;
  if (!rs)
    problem = "out of memory";
  else if (ipmi_cmd_dcmi_get_power_reading (bmc->ctx, IPMI_DCMI_POWER_READING_MODE_SYSTEM_POWER_STATISTICS, 0,
                                            rs) < 0)
    problem = ipmi_ctx_errormsg (bmc->ctx);
  else if (fiid_obj_get (rs, "current_power", &watts) != 1 ||
           fiid_obj_get (rs, "power_reading_state.power_measurement", &active) != 1)
    problem = "an answer without a reading";
  else if (!active)
    problem = "its measurement is not active";
  if (problem)
    g_set_error (error, VP_ERROR, VP_ERROR_IO, "IPMI: no DCMI power reading: %s", problem);
  else
    *power_uw = watts * 1000000;
  fiid_obj_destroy (rs);
  return !problem;
}

/* A name that says the sensor is the system's whole power, as vendors name it: "Pwr Consumption"
 * (Dell), "Power Meter" (HPE), "Total Power", "Sys Power". */
static gboolean
name_says_total (const char *name)
{
  static const char *const words[] = { "consumption", "power meter", "total", "sys", "system", NULL };
  g_autofree char *lower = g_ascii_strdown (name, -1);
  for (const char *const *word = words; *word; word++)
    if (strstr (lower, *word))
      return TRUE;
  return FALSE;
}

gboolean
vp_ipmi_pick_sensor (GPtrArray *records, const char *wanted, guint *chosen, char **name, GError **error)
{
  ipmi_sdr_ctx_t sdr = ipmi_sdr_ctx_create ();
  if (!sdr)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "IPMI: out of memory");
      return FALSE;
    }
  g_autoptr (GString) names = g_string_new (NULL);
  guint in_watts = 0, totals = 0, first = 0, total = 0;
  gboolean named = FALSE;
  g_autofree char *first_name = NULL, *total_name = NULL;
  for (guint i = 0; i < records->len; i++)
    {
      gsize length;
      const guint8 *record = g_bytes_get_data (records->pdata[i], &length);
      uint16_t id;
      uint8_t type, percentage, modifier, rate, base, modifier_unit;
      char text[IPMI_SDR_MAX_ID_STRING_LENGTH + 1] = "";
      if (length == 0 || length > IPMI_SDR_MAX_RECORD_LENGTH ||
          ipmi_sdr_parse_record_id_and_type (sdr, record, length, &id, &type) < 0 ||
          type != IPMI_SDR_FORMAT_FULL_SENSOR_RECORD ||
          ipmi_sdr_parse_sensor_units (sdr, record, length, &percentage, &modifier, &rate, &base, &modifier_unit) < 0 ||
          base != IPMI_SENSOR_UNIT_WATTS || percentage || rate != IPMI_SENSOR_RATE_UNIT_NONE ||
          modifier != IPMI_SDR_MODIFIER_UNIT_NONE ||
          ipmi_sdr_parse_id_string (sdr, record, length, text, sizeof text - 1) < 0 ||
          !g_utf8_validate (text, -1, NULL))
        continue;
      g_strstrip (text);
      g_string_append_printf (names, "%s'%s'", names->len ? ", " : "", text);
      if (wanted && g_str_equal (text, wanted) && !named)
        {
          named = TRUE;
          first = i;
          first_name = g_strdup (text);
        }
      if (!wanted && in_watts++ == 0)
        {
          first = i;
          first_name = g_strdup (text);
        }
      if (!wanted && name_says_total (text) && totals++ == 0)
        {
          total = i;
          total_name = g_strdup (text);
        }
    }
  ipmi_sdr_ctx_destroy (sdr);
  if (wanted ? named : in_watts == 1)
    {
      *chosen = first;
      *name = g_steal_pointer (&first_name);
      return TRUE;
    }
  if (!wanted && totals == 1)
    {
      *chosen = total;
      *name = g_steal_pointer (&total_name);
      return TRUE;
    }
  g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND, "IPMI: no DCMI power reading, and %s (sensors in watts: %s)",
               wanted          ? "no sensor in watts has the name ipmi-sensor gives"
               : in_watts == 0 ? "no sensor in watts"
                               : "several sensors in watts, none of them the system's total: name one with ipmi-sensor",
               names->len ? names->str : "none");
  return FALSE;
}

/* The BMC's sensor records, read once through a cache file FreeIPMI needs, then removed. */
static GPtrArray *
read_records (Bmc *bmc, GError **error)
{
  g_autofree char *cache = NULL;
  int fd = g_file_open_tmp ("vpower-sdr-XXXXXX", &cache, error);
  if (fd < 0)
    return NULL;
  close (fd);
  ipmi_sdr_ctx_t sdr = ipmi_sdr_ctx_create ();
  if (!sdr || ipmi_sdr_cache_create (sdr, bmc->ctx, cache, IPMI_SDR_CACHE_CREATE_FLAGS_OVERWRITE, NULL, NULL) < 0 ||
      ipmi_sdr_cache_open (sdr, bmc->ctx, cache) < 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "IPMI: cannot read the BMC's sensor records: %s",
                   sdr ? ipmi_sdr_ctx_errormsg (sdr) : "out of memory");
      if (sdr)
        ipmi_sdr_ctx_destroy (sdr);
      g_unlink (cache);
      return NULL;
    }
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if (ipmi_sdr_cache_first (sdr) == 0)
    do
      {
        guint8 record[IPMI_SDR_MAX_RECORD_LENGTH];
        int length = ipmi_sdr_cache_record_read (sdr, record, sizeof record);
        if (length > 0)
          g_ptr_array_add (records, g_bytes_new (record, (gsize) length));
      }
    while (ipmi_sdr_cache_next (sdr) == 1);
  ipmi_sdr_cache_close (sdr);
  ipmi_sdr_ctx_destroy (sdr);
  g_unlink (cache);
  return records;
}

static gboolean
choose_sensor (Bmc *bmc, GError **error)
{
  g_autoptr (GPtrArray) records = read_records (bmc, error);
  guint chosen;
  g_autofree char *name = NULL;
  if (!records || !vp_ipmi_pick_sensor (records, bmc->sensor_name, &chosen, &name, error))
    return FALSE;
  gsize length;
  const guint8 *record = g_bytes_get_data (records->pdata[chosen], &length);
  memcpy (bmc->record, record, length);
  bmc->record_length = (int) length;
  g_free (bmc->described);
  bmc->described = g_strdup_printf ("SDR sensor '%s'", name);
  return TRUE;
}

static gboolean
read_sdr_sensor (Bmc *bmc, guint64 *power_uw, GError **error)
{
  ipmi_sensor_read_ctx_t reader = ipmi_sensor_read_ctx_create (bmc->ctx);
  if (!reader)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "IPMI: cannot make a sensor reader");
      return FALSE;
    }
  uint8_t raw = 0;
  double *reading = NULL;
  uint16_t events = 0;
  int status = ipmi_sensor_read (reader, bmc->record, (unsigned int) bmc->record_length, 0, &raw, &reading, &events);
  gboolean ok = status == 1 && reading && isfinite (*reading) && *reading >= 0 && *reading <= VP_POWER_MAX_UW / 1e6;
  if (ok)
    *power_uw = (guint64) llround (*reading * 1e6);
  else if (status < 0)
    g_set_error (error, VP_ERROR, VP_ERROR_IO, "IPMI: %s: %s", bmc->described, ipmi_sensor_read_ctx_errormsg (reader));
  else
    g_set_error (error, VP_ERROR, VP_ERROR_PARSE, "IPMI: %s has no usable reading%s", bmc->described,
                 reading ? " (not a power in watts)" : "");
  free (reading);
  ipmi_sensor_read_ctx_destroy (reader);
  return ok;
}

/* The meter's read: on the platform's thread. */
static gboolean
bmc_read (gpointer data, guint64 *power_uw, GError **error)
{
  Bmc *bmc = data;
  if (!bmc_open (bmc, error))
    return FALSE;
  gboolean ok;
  if (!bmc->probed || bmc->use_dcmi)
    {
      g_autoptr (GError) dcmi_error = NULL;
      ok = read_dcmi (bmc, power_uw, &dcmi_error);
      if (!bmc->probed)
        {
          bmc->probed = TRUE;
          bmc->use_dcmi = ok;
          if (ok)
            bmc->described = g_strdup ("DCMI power reading");
          else
            g_debug ("%s", dcmi_error->message);
        }
      if (bmc->use_dcmi)
        {
          if (!ok)
            {
              g_propagate_error (error, g_steal_pointer (&dcmi_error));
              bmc_close (bmc);
            }
          return ok;
        }
    }
  if (!bmc->record_length && !choose_sensor (bmc, error))
    {
      bmc_close (bmc);
      return FALSE;
    }
  ok = read_sdr_sensor (bmc, power_uw, error);
  if (!ok)
    bmc_close (bmc);
  return ok;
}

/* The credentials file: a key file with [ipmi] user= and password=, readable by root alone, as
 * anything that holds a BMC's password must be. */
static gboolean
read_credentials (const char *path, char **user, char **password, GError **error)
{
  struct stat st;
  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "ipmi-credentials: cannot read %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (st.st_uid != 0 || (st.st_mode & 077))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG,
                   "ipmi-credentials: %s must be root's and readable by root alone (chmod 600), not %04o", path,
                   (unsigned) (st.st_mode & 07777));
      return FALSE;
    }
  g_autoptr (GKeyFile) keys = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_file (keys, path, G_KEY_FILE_NONE, &local) ||
      !(*user = g_key_file_get_string (keys, "ipmi", "user", &local)) ||
      !(*password = g_key_file_get_string (keys, "ipmi", "password", &local)))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "ipmi-credentials: %s: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}

VpSensor *
vp_platform_ipmi_open (const VpIpmiOptions *options, GError **error)
{
  Bmc *bmc = g_new0 (Bmc, 1);
  bmc->host = options->host && *options->host ? g_strdup (options->host) : NULL;
  bmc->sensor_name = options->sensor && *options->sensor ? g_strdup (options->sensor) : NULL;
  if (bmc->host && !options->credentials)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_CONFIG, "ipmi-host %s needs ipmi-credentials (a root-only file)",
                   bmc->host);
      bmc_free (bmc);
      return NULL;
    }
  if (bmc->host && !read_credentials (options->credentials, &bmc->user, &bmc->password, error))
    {
      bmc_free (bmc);
      return NULL;
    }
  /* The first read, here: a BMC that is not there, or has nothing to read, is said at start. */
  guint64 power_uw;
  if (!bmc_read (bmc, &power_uw, error))
    {
      bmc_free (bmc);
      return NULL;
    }
  VpPowerSource *source = g_new0 (VpPowerSource, 1);
  source->kind = "ipmi";
  source->description = g_strdup_printf ("the BMC %s, %s", bmc->host ? bmc->host : "in-band (/dev/ipmi0)",
                                         bmc->described);
  source->period_us = PERIOD_US;
  source->read = bmc_read;
  source->source = bmc;
  source->free_source = bmc_free;
  return vp_platform_sensor_new (source, STALE_AFTER_US);
}

#endif
