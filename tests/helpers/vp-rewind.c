/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: a reader that keeps energy_uj open and rewinds, as MangoHud, Alumet and the powercap library do.
 *
 *   vp-rewind FILE SECONDS INTERVAL [pread|lseek]
 *
 * Opens FILE once and, every INTERVAL seconds for SECONDS, reads it again
 * from offset 0 on the same descriptor: pread(fd, buf, n, 0) (the default),
 * or lseek(fd, 0, SEEK_SET) then read(). On sysfs each such read renders
 * the current value. Prints one line:
 *   reads=N errors=E decreases=D wraps=W zeros=Z distinct=K first=V last=V
 * and the first error on stderr. A wrap at max_energy_range_uj is not a
 * decrease (vp-wrap.h). Exits 0 however the reads went: the test judges. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vp-wrap.h"

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
  if (argc < 4 || argc > 5 || (argc == 5 && strcmp (argv[4], "pread") != 0 && strcmp (argv[4], "lseek") != 0))
    {
      fprintf (stderr, "usage: vp-rewind FILE SECONDS INTERVAL [pread|lseek]\n");
      return 2;
    }
  const char *path = argv[1];
  double seconds = atof (argv[2]), interval = atof (argv[3]);
  int use_lseek = argc == 5 && strcmp (argv[4], "lseek") == 0;
  unsigned long long reads = 0, errors = 0, decreases = 0, wraps = 0, zeros = 0, distinct = 0, first = 0, last = 0;
  unsigned long long range = vp_wrap_range_beside (path);
  int reported = 0;

  int fd = open (path, O_RDONLY);
  if (fd < 0)
    {
      fprintf (stderr, "vp-rewind: open %s: %s\n", path, strerror (errno));
      printf ("reads=0 errors=1 decreases=0 wraps=0 zeros=0 distinct=0 first=0 last=0\n");
      return 0;
    }
  double deadline = now () + seconds;
  do
    {
      char buffer[64];
      ssize_t n;
      if (use_lseek)
        n = lseek (fd, 0, SEEK_SET) == 0 ? read (fd, buffer, sizeof buffer - 1) : -1;
      else
        n = pread (fd, buffer, sizeof buffer - 1, 0);
      int saved = errno;
      reads++;
      char *end = buffer;
      unsigned long long value = 0;
      if (n > 0)
        {
          buffer[n] = '\0';
          value = strtoull (buffer, &end, 10);
        }
      if (n <= 0 || end == buffer || *end != '\n')
        {
          if (!reported++)
            fprintf (stderr, "vp-rewind: read %s: %s\n", path, n < 0 ? strerror (saved) : "not a number");
          errors++;
        }
      else
        {
          if (reads - errors == 1)
            first = value, distinct = 1;
          else if (value != last)
            distinct++;
          if (reads - errors > 1 && vp_wrap_is_wrap (last, value, range))
            wraps++;
          else if (reads - errors > 1 && value < last)
            decreases++;
          zeros += value == 0;
          last = value;
        }
      struct timespec pause = { (time_t) interval, (long) ((interval - (time_t) interval) * 1e9) };
      nanosleep (&pause, NULL);
    }
  while (now () < deadline);
  close (fd);
  printf ("reads=%llu errors=%llu decreases=%llu wraps=%llu zeros=%llu distinct=%llu first=%llu last=%llu\n", reads,
          errors, decreases, wraps, zeros, distinct, first, last);
  return 0;
}
