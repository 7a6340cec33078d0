/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark: latency and server CPU per HTTP scrape of a Prometheus exporter.
 *
 *   bench-scrape HOST:PORT PID N [EXPECT]
 *   bench-scrape --cpu PID [PID...]
 *
 * The first form does N sequential scrapes of http://HOST:PORT/metrics, each
 * on a new connection: connect, one "GET /metrics HTTP/1.1" with
 * "Connection: close" and no Accept-Encoding, read until the server closes.
 * Every scrape is timed with CLOCK_MONOTONIC from before connect() to EOF. A
 * scrape fails when it cannot connect, times out (5 s), does not answer
 * "HTTP/1.x 200", or (with EXPECT) its response does not contain EXPECT.
 * Around the N scrapes it reads the CPU time of PID (the server), and prints
 * one line:
 *
 *   scrapes=N errors=E bytes=B p50_ns=X p90_ns=Y p99_ns=Z wall_ns=W cpu_ns=C cpu_stat_ns=S threads=T
 *
 * bytes is the mean response size (headers included), the percentiles are
 * over the successful scrapes, wall_ns is the time of all N, cpu_ns is the
 * server's CPU time over them: the sum over its threads of the first field
 * of /proc/PID/task/TID/schedstat (ns on CPU, user and system), so it misses
 * the time of a thread that exits in between; cpu_stat_ns is the same from
 * utime+stime of /proc/PID/stat, which counts exited threads but only in
 * clock ticks (10 ms), a cross-check. threads is the thread count after.
 *
 * The second form prints one line "MONO_NS CPU_NS..." : CLOCK_MONOTONIC and
 * each PID's schedstat CPU time as above, read back to back, for callers
 * that measure a longer window themselves.
 *
 * Exits 1 on bad usage, when a PID cannot be read, or when no scrape
 * succeeded. */
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ns on CPU of all the threads of pid, from schedstat; -1 when unreadable. */
static int64_t
cpu_schedstat_ns (long pid, unsigned *threads)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%ld/task", pid);
  DIR *dir = opendir (path);
  if (!dir)
    return -1;
  int64_t total = 0;
  unsigned n = 0;
  struct dirent *entry;
  while ((entry = readdir (dir)))
    {
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
        continue;
      char file[320];
      snprintf (file, sizeof file, "/proc/%ld/task/%s/schedstat", pid, entry->d_name);
      FILE *f = fopen (file, "r");
      unsigned long long ns;
      if (!f)
        continue;   /* the thread exited meanwhile */
      if (fscanf (f, "%llu", &ns) == 1)
        {
          total += (int64_t) ns;
          n++;
        }
      fclose (f);
    }
  closedir (dir);
  if (threads)
    *threads = n;
  return n ? total : -1;
}

/* utime+stime of pid in ns (tick resolution); -1 when unreadable. */
static int64_t
cpu_stat_ns (long pid)
{
  char path[64], buf[2048];
  snprintf (path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen (path, "r");
  if (!f)
    return -1;
  size_t len = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[len] = '\0';
  char *p = strrchr (buf, ')');
  unsigned long long utime, stime;
  /* after "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
  if (!p || sscanf (p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (int64_t) ((utime + stime) * (1000000000.0 / (double) sysconf (_SC_CLK_TCK)));
}

static int
compare_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static uint64_t
percentile (const uint64_t *sorted, size_t n, double p)
{
  size_t i = (size_t) (p * (double) (n - 1) + 0.5);
  return sorted[i < n ? i : n - 1];
}

/* One scrape; returns the response size, or -1 with *why set. */
static long
scrape (const struct addrinfo *ai, const char *request, size_t request_len, const char *expect,
        char *buf, size_t size, const char **why)
{
  int fd = socket (ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  if (fd < 0)
    {
      *why = "socket";
      return -1;
    }
  struct timeval timeout = { .tv_sec = 5 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  long len = 0;
  if (connect (fd, ai->ai_addr, ai->ai_addrlen) < 0)
    {
      *why = "connect";
      goto fail;
    }
  if (write (fd, request, request_len) != (ssize_t) request_len)
    {
      *why = "write";
      goto fail;
    }
  for (;;)
    {
      ssize_t r = read (fd, buf + len, size - 1 - (size_t) len);
      if (r == 0)
        break;
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          *why = errno == EAGAIN ? "timeout" : "read";
          goto fail;
        }
      len += r;
      if ((size_t) len == size - 1)
        {
          *why = "response too large";
          goto fail;
        }
    }
  close (fd);
  buf[len] = '\0';
  if (len < 12 || strncmp (buf, "HTTP/1.", 7) != 0 || strncmp (buf + 8, " 200", 4) != 0)
    {
      *why = "status not 200";
      return -1;
    }
  if (expect && !strstr (buf, expect))
    {
      *why = "EXPECT not in the response";
      return -1;
    }
  return len;
fail:
  close (fd);
  return -1;
}

static int
usage (void)
{
  fprintf (stderr, "usage: bench-scrape HOST:PORT PID N [EXPECT]\n       bench-scrape --cpu PID...\n");
  return 1;
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "--cpu") == 0)
    {
      int64_t cpu[64];
      int n = argc - 2 < 64 ? argc - 2 : 64;
      uint64_t mono = now_ns ();
      for (int i = 0; i < n; i++)
        if ((cpu[i] = cpu_schedstat_ns (strtol (argv[i + 2], NULL, 10), NULL)) < 0)
          {
            fprintf (stderr, "bench-scrape: cannot read the CPU time of %s\n", argv[i + 2]);
            return 1;
          }
      printf ("%llu", (unsigned long long) mono);
      for (int i = 0; i < n; i++)
        printf (" %lld", (long long) cpu[i]);
      printf ("\n");
      return 0;
    }
  if (argc < 4 || argc > 5)
    return usage ();

  char host[256];
  const char *colon = strrchr (argv[1], ':');
  if (!colon || colon == argv[1] || (size_t) (colon - argv[1]) >= sizeof host)
    return usage ();
  memcpy (host, argv[1], (size_t) (colon - argv[1]));
  host[colon - argv[1]] = '\0';
  long pid = strtol (argv[2], NULL, 10);
  long n = strtol (argv[3], NULL, 10);
  const char *expect = argc == 5 ? argv[4] : NULL;
  if (pid <= 0 || n <= 0)
    return usage ();

  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
  int rc = getaddrinfo (host, colon + 1, &hints, &ai);
  if (rc != 0)
    {
      fprintf (stderr, "bench-scrape: %s: %s\n", argv[1], gai_strerror (rc));
      return 1;
    }
  char request[512];
  int request_len = snprintf (request, sizeof request,
                              "GET /metrics HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-scrape\r\n"
                              "Accept: text/plain\r\nConnection: close\r\n\r\n", argv[1]);
  static char buf[1 << 20];
  uint64_t *latencies = calloc ((size_t) n, sizeof *latencies);
  if (!latencies)
    return 1;
  size_t ok = 0;
  unsigned long long errors = 0, bytes = 0;
  const char *first_error = NULL;

  unsigned threads = 0;
  int64_t cpu0 = cpu_schedstat_ns (pid, NULL), stat0 = cpu_stat_ns (pid);
  uint64_t t0 = now_ns ();
  for (long i = 0; i < n; i++)
    {
      const char *why = NULL;
      uint64_t start = now_ns ();
      long len = scrape (ai, request, (size_t) request_len, expect, buf, sizeof buf, &why);
      uint64_t end = now_ns ();
      if (len < 0)
        {
          errors++;
          if (!first_error)
            first_error = why;
          continue;
        }
      latencies[ok++] = end - start;
      bytes += (unsigned long long) len;
    }
  uint64_t wall = now_ns () - t0;
  int64_t cpu1 = cpu_schedstat_ns (pid, &threads), stat1 = cpu_stat_ns (pid);
  freeaddrinfo (ai);

  if (cpu0 < 0 || cpu1 < 0 || stat0 < 0 || stat1 < 0)
    {
      fprintf (stderr, "bench-scrape: cannot read the CPU time of PID %ld\n", pid);
      return 1;
    }
  if (errors)
    fprintf (stderr, "bench-scrape: %llu of %ld scrapes of %s failed; the first: %s\n", errors, n, argv[1],
             first_error);
  if (!ok)
    return 1;
  qsort (latencies, ok, sizeof *latencies, compare_u64);
  printf ("scrapes=%zu errors=%llu bytes=%llu p50_ns=%llu p90_ns=%llu p99_ns=%llu wall_ns=%llu cpu_ns=%lld "
          "cpu_stat_ns=%lld threads=%u\n",
          ok, errors, bytes / ok, (unsigned long long) percentile (latencies, ok, 0.50),
          (unsigned long long) percentile (latencies, ok, 0.90), (unsigned long long) percentile (latencies, ok, 0.99),
          (unsigned long long) wall, (long long) (cpu1 - cpu0), (long long) (stat1 - stat0), threads);
  free (latencies);
  return 0;
}
