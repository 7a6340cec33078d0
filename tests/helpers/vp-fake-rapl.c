/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: advances a fixture powercap tree's energy_uj files at a known power.
 *
 *   vp-fake-rapl ROOT ZONE=WATTS [ZONE=WATTS ...]
 *
 * Every 10 ms each ZONE (e.g. intel-rapl:0) gets energy = start + WATTS x
 * elapsed, wrapped at the zone's max_energy_range_uj like hardware. Each
 * value is written to a temporary file and renamed, so a reader never sees
 * a half-written number. Runs until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  char path[4096];
  char tmp[4096];
  double watts;
  unsigned long long start_uj;
  unsigned long long max_uj;
} Zone;

static unsigned long long
read_u64 (const char *path)
{
  FILE *f = fopen (path, "r");
  unsigned long long value = 0;
  if (!f || fscanf (f, "%llu", &value) != 1)
    {
      fprintf (stderr, "vp-fake-rapl: cannot read %s\n", path);
      exit (1);
    }
  fclose (f);
  return value;
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "usage: vp-fake-rapl ROOT ZONE=WATTS...\n");
      return 2;
    }
  int n = argc - 2;
  Zone *zones = calloc ((size_t) n, sizeof *zones);
  for (int i = 0; i < n; i++)
    {
      char *eq = strchr (argv[i + 2], '=');
      if (!eq)
        return 2;
      *eq = '\0';
      char max_path[4096];
      snprintf (zones[i].path, sizeof zones[i].path, "%s/%s/energy_uj", argv[1], argv[i + 2]);
      snprintf (zones[i].tmp, sizeof zones[i].tmp, "%s/%s/.energy_uj.tmp", argv[1], argv[i + 2]);
      snprintf (max_path, sizeof max_path, "%s/%s/max_energy_range_uj", argv[1], argv[i + 2]);
      zones[i].watts = atof (eq + 1);
      zones[i].start_uj = read_u64 (zones[i].path);
      zones[i].max_uj = read_u64 (max_path);
    }
  struct timespec t0, now;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;)
    {
      clock_gettime (CLOCK_MONOTONIC, &now);
      double elapsed = (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
      for (int i = 0; i < n; i++)
        {
          unsigned long long value = (zones[i].start_uj + (unsigned long long) (zones[i].watts * elapsed * 1e6))
                                     % zones[i].max_uj;
          FILE *f = fopen (zones[i].tmp, "w");
          if (!f)
            return 1;
          fprintf (f, "%llu\n", value);
          fclose (f);
          rename (zones[i].tmp, zones[i].path);
        }
      usleep (10000);
    }
}
