/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark: latency and throughput of open+read+close of one file by concurrent readers.
 *
 *   bench-fuse-read FILE THREADS DURATION_S [held]
 *
 * Each thread loops open(O_RDONLY), read(64 bytes), close on FILE for
 * DURATION_S seconds, timing every operation with CLOCK_MONOTONIC. With
 * "held", each thread opens FILE once and an operation is pread(64 bytes)
 * at offset 0, as readers that keep energy_uj open and rewind do. Prints
 * one line: ops=N errors=E p50_ns=X p99_ns=Y ops_per_s=Z, where ops counts
 * successful operations, errors the failed opens and reads (an empty read
 * is a failure too), the percentiles are over the successful operations of
 * all threads, and ops_per_s is ops over the wall time of the whole run.
 * Exits 1 on bad usage or when no operation succeeded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  pthread_t thread;
  uint64_t *latencies;
  size_t count, capacity;
  unsigned long long errors;
  int first_error;
} Reader;

static const char *path;
static int held;
static uint64_t deadline_ns;
static pthread_barrier_t start;

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
fail (Reader *reader, int error)
{
  reader->errors++;
  if (!reader->first_error)
    reader->first_error = error;
}

static void *
read_loop (void *data)
{
  Reader *reader = data;
  char buffer[64];
  int held_fd = held ? open (path, O_RDONLY) : -1;
  if (held && held_fd < 0)
    fail (reader, errno);
  pthread_barrier_wait (&start);
  for (; !held || held_fd >= 0;)
    {
      uint64_t begin = now_ns ();
      if (begin >= deadline_ns)
        break;
      ssize_t n;
      int saved;
      if (held)
        {
          n = pread (held_fd, buffer, sizeof buffer, 0);
          saved = errno;
        }
      else
        {
          int fd = open (path, O_RDONLY);
          if (fd < 0)
            {
              fail (reader, errno);
              continue;
            }
          n = read (fd, buffer, sizeof buffer);
          saved = errno;
          close (fd);
        }
      uint64_t end = now_ns ();
      if (n <= 0)
        {
          fail (reader, n < 0 ? saved : EIO);
          continue;
        }
      if (reader->count == reader->capacity)
        {
          reader->capacity = reader->capacity ? 2 * reader->capacity : 65536;
          reader->latencies = realloc (reader->latencies, reader->capacity * sizeof *reader->latencies);
          if (!reader->latencies)
            {
              perror ("bench-fuse-read: realloc");
              exit (1);
            }
        }
      reader->latencies[reader->count++] = end - begin;
    }
  if (held_fd >= 0)
    close (held_fd);
  return NULL;
}

static int
compare_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p of the values at or below it. */
static uint64_t
percentile (const uint64_t *sorted, size_t n, double p)
{
  size_t rank = (size_t) (p * (double) n + 0.999999);
  return sorted[rank ? rank - 1 : 0];
}

int
main (int argc, char **argv)
{
  if (argc < 4 || argc > 5 || atoi (argv[2]) < 1 || atof (argv[3]) <= 0 ||
      (argc == 5 && strcmp (argv[4], "held") != 0))
    {
      fprintf (stderr, "usage: %s FILE THREADS DURATION_S [held]\n", argv[0]);
      return 1;
    }
  path = argv[1];
  held = argc == 5;
  int threads = atoi (argv[2]);
  Reader *readers = calloc ((size_t) threads, sizeof *readers);
  if (!readers)
    return 1;
  pthread_barrier_init (&start, NULL, (unsigned) threads + 1);
  for (int i = 0; i < threads; i++)
    if (pthread_create (&readers[i].thread, NULL, read_loop, &readers[i]) != 0)
      {
        fprintf (stderr, "bench-fuse-read: cannot start thread %d\n", i);
        return 1;
      }
  uint64_t started = now_ns ();
  deadline_ns = started + (uint64_t) (atof (argv[3]) * 1e9);
  pthread_barrier_wait (&start);   /* publishes deadline_ns to the readers */

  size_t total = 0;
  unsigned long long errors = 0;
  int first_error = 0;
  for (int i = 0; i < threads; i++)
    {
      pthread_join (readers[i].thread, NULL);
      total += readers[i].count;
      errors += readers[i].errors;
      if (!first_error)
        first_error = readers[i].first_error;
    }
  double elapsed_s = (double) (now_ns () - started) / 1e9;

  uint64_t *all = malloc ((total ? total : 1) * sizeof *all);
  if (!all)
    return 1;
  size_t used = 0;
  for (int i = 0; i < threads; i++)
    {
      if (readers[i].count)
        memcpy (all + used, readers[i].latencies, readers[i].count * sizeof *all);
      used += readers[i].count;
      free (readers[i].latencies);
    }
  qsort (all, total, sizeof *all, compare_u64);
  if (first_error)
    fprintf (stderr, "bench-fuse-read: %s: %s\n", path, strerror (first_error));
  printf ("ops=%zu errors=%llu p50_ns=%llu p99_ns=%llu ops_per_s=%.0f\n", total, errors,
          (unsigned long long) (total ? percentile (all, total, 0.50) : 0),
          (unsigned long long) (total ? percentile (all, total, 0.99) : 0), (double) total / elapsed_s);
  free (all);
  free (readers);
  return total ? 0 : 1;
}
