/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: a stand-in VM whose threads run a known pattern, for tests/cpu-sources.sh.
 *
 *   vp-threads OUT steady SECONDS THREADS pinned|free DUTY
 *       THREADS threads, each busy DUTY of every 20 ms; pinned: thread i on CPU i % CPUs
 *   vp-threads OUT alternate SECONDS SHARE
 *       one thread, always busy: on CPU 0 for SHARE of every 20 ms, on CPU 1 for the rest
 *   vp-threads OUT churn SECONDS
 *       short-lived threads, two at a time, each busy 5 to 30 ms and gone
 *
 * It waits for SIGUSR1, runs the pattern for SECONDS, writes to OUT what it really ran,
 * "TOTAL_NS CPU0_NS CPU1_NS" (the process's CPU time over the run, exited threads' included;
 * per CPU for alternate only, else 0 0), and waits to be killed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS (20 * 1000000LL)

static long long
clock_ns (clockid_t clock)
{
  struct timespec ts;
  clock_gettime (clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long
process_cpu_ns (void)
{
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000LL +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000LL;
}

static void
pin (int cpu)
{
  cpu_set_t set;
  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  pthread_setaffinity_np (pthread_self (), sizeof set, &set);
}

static void
sleep_ns (long long ns)
{
  if (ns <= 0)
    return;
  struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };
  nanosleep (&ts, NULL);
}

static long long end_ns;

typedef struct {
  int cpu;        /* -1: free */
  double duty;
} Steady;

static void *
steady_thread (void *data)
{
  Steady *steady = data;
  if (steady->cpu >= 0)
    pin (steady->cpu);
  long long busy = (long long) (steady->duty * PERIOD_NS);
  for (long long start = clock_ns (CLOCK_MONOTONIC); start < end_ns; start += PERIOD_NS)
    {
      while (clock_ns (CLOCK_MONOTONIC) - start < busy)
        continue;
      sleep_ns (start + PERIOD_NS - clock_ns (CLOCK_MONOTONIC));
    }
  return NULL;
}

static long long alternate_on[2];

static void *
alternate_thread (void *data)
{
  double share = *(double *) data;
  long long on_cpu0 = (long long) (share * PERIOD_NS);
  for (long long start = clock_ns (CLOCK_MONOTONIC); start < end_ns; start += PERIOD_NS)
    for (int cpu = 0; cpu < 2; cpu++)
      {
        pin (cpu);
        long long until = start + (cpu == 0 ? on_cpu0 : PERIOD_NS);
        long long ran_from = clock_ns (CLOCK_THREAD_CPUTIME_ID);
        while (clock_ns (CLOCK_MONOTONIC) < until)
          continue;
        alternate_on[cpu] += clock_ns (CLOCK_THREAD_CPUTIME_ID) - ran_from;
      }
  return NULL;
}

static void *
short_thread (void *data)
{
  long long busy_ns = *(long long *) data;
  long long until = clock_ns (CLOCK_THREAD_CPUTIME_ID) + busy_ns;
  while (clock_ns (CLOCK_THREAD_CPUTIME_ID) < until)
    continue;
  return NULL;
}

static void
churn (void)
{
  long long busy[2];
  for (unsigned round = 0; clock_ns (CLOCK_MONOTONIC) < end_ns; round++)
    {
      pthread_t threads[2];
      for (int i = 0; i < 2; i++)
        {
          busy[i] = (5 + (round * 7 + i * 11) % 26) * 1000000LL;
          pthread_create (&threads[i], NULL, short_thread, &busy[i]);
        }
      for (int i = 0; i < 2; i++)
        pthread_join (threads[i], NULL);
      sleep_ns (10 * 1000000LL);
    }
}

static void
usage (void)
{
  fprintf (stderr, "usage: vp-threads OUT steady SECONDS THREADS pinned|free DUTY | OUT alternate SECONDS SHARE"
                   " | OUT churn SECONDS\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  if (argc < 4)
    usage ();
  const char *out = argv[1], *mode = argv[2];
  double seconds = atof (argv[3]);
  if (!(strcmp (mode, "steady") == 0 && argc == 7) && !(strcmp (mode, "alternate") == 0 && argc == 5) &&
      !(strcmp (mode, "churn") == 0 && argc == 4))
    usage ();

  sigset_t usr1;
  sigemptyset (&usr1);
  sigaddset (&usr1, SIGUSR1);
  sigprocmask (SIG_BLOCK, &usr1, NULL);
  int signal_number;
  sigwait (&usr1, &signal_number);

  long long cpu_before = process_cpu_ns ();
  end_ns = clock_ns (CLOCK_MONOTONIC) + (long long) (seconds * 1e9);
  long ncpus = sysconf (_SC_NPROCESSORS_ONLN);
  if (strcmp (mode, "steady") == 0)
    {
      int n = atoi (argv[4]);
      pthread_t threads[64];
      Steady steady[64];
      for (int i = 0; i < n && i < 64; i++)
        {
          steady[i] = (Steady) { strcmp (argv[5], "pinned") == 0 ? (int) (i % ncpus) : -1, atof (argv[6]) };
          pthread_create (&threads[i], NULL, steady_thread, &steady[i]);
        }
      for (int i = 0; i < n && i < 64; i++)
        pthread_join (threads[i], NULL);
    }
  else if (strcmp (mode, "alternate") == 0)
    {
      double share = atof (argv[4]);
      pthread_t thread;
      pthread_create (&thread, NULL, alternate_thread, &share);
      pthread_join (thread, NULL);
    }
  else
    churn ();

  FILE *file = fopen (out, "w");
  if (!file)
    return 1;
  fprintf (file, "%lld %lld %lld\n", process_cpu_ns () - cpu_before, alternate_on[0], alternate_on[1]);
  fclose (file);
  for (;;)
    pause ();
}
