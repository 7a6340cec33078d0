/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: concurrent readers of one counter file, counting errors and decreases.
 *
 *   vp-readers FILE THREADS COUNT         each thread does COUNT open/read/close
 *   vp-readers FILE THREADS -t SECONDS    each thread loops for SECONDS
 *
 * Prints one line: reads=N errors=E decreases=D wraps=W first=V last=V, and the
 * first error's message on stderr. A wrap at max_energy_range_uj is not a
 * decrease (vp-wrap.h). Exits 0 however the reads went: the test judges. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vp-wrap.h"

static const char *path;
static long count;
static double seconds;
static unsigned long long range_uj;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long total_reads, total_errors, total_decreases, total_wraps, first_value, last_value;
static int first_error_reported;

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
report_error (const char *what, int error)
{
  pthread_mutex_lock (&lock);
  if (!first_error_reported)
    fprintf (stderr, "vp-readers: %s %s: %s\n", what, path, strerror (error));
  first_error_reported = 1;
  pthread_mutex_unlock (&lock);
}

static void *
reader (void *unused)
{
  unsigned long long reads = 0, errors = 0, decreases = 0, wraps = 0, previous = 0, first = 0;
  int have_previous = 0;
  double deadline = now () + seconds;

  for (long i = 0; count ? i < count : now () < deadline; i++)
    {
      char buffer[64];
      int fd = open (path, O_RDONLY);
      if (fd < 0)
        {
          report_error ("open", errno);
          errors++;
          continue;
        }
      ssize_t n = read (fd, buffer, sizeof buffer - 1);
      int saved = errno;
      close (fd);
      reads++;
      if (n <= 0)
        {
          report_error ("read", n < 0 ? saved : EIO);
          errors++;
          continue;
        }
      buffer[n] = '\0';
      char *end;
      unsigned long long value = strtoull (buffer, &end, 10);
      if (end == buffer || *end != '\n')
        {
          report_error ("parse", EINVAL);
          errors++;
          continue;
        }
      if (have_previous && vp_wrap_is_wrap (previous, value, range_uj))
        wraps++;
      else if (have_previous && value < previous)
        decreases++;
      if (!have_previous)
        first = value;
      previous = value;
      have_previous = 1;
    }

  pthread_mutex_lock (&lock);
  total_reads += reads;
  total_errors += errors;
  total_decreases += decreases;
  total_wraps += wraps;
  if (!first_value || first < first_value)
    first_value = first;
  if (previous > last_value)
    last_value = previous;
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc == 5 && strcmp (argv[3], "-t") == 0)
    seconds = atof (argv[4]);
  else if (argc == 4)
    count = atol (argv[3]);
  else
    {
      fprintf (stderr, "usage: vp-readers FILE THREADS COUNT | vp-readers FILE THREADS -t SECONDS\n");
      return 2;
    }
  path = argv[1];
  range_uj = vp_wrap_range_beside (path);
  int threads = atoi (argv[2]);
  pthread_t ids[64];
  if (threads < 1 || threads > 64)
    return 2;
  for (int t = 0; t < threads; t++)
    pthread_create (&ids[t], NULL, reader, NULL);
  for (int t = 0; t < threads; t++)
    pthread_join (ids[t], NULL);
  printf ("reads=%llu errors=%llu decreases=%llu wraps=%llu first=%llu last=%llu\n", total_reads, total_errors,
          total_decreases, total_wraps, first_value, last_value);
  return 0;
}
