/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: a process that keeps one CPU busy for a given fraction of the time.
 *
 *   vp-burn DUTY        e.g. 0.3: busy 30% of every 20 ms period, until killed
 *
 * Integration tests run several of these as stand-ins for VMs with known,
 * different CPU loads. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
main (int argc, char **argv)
{
  const long long period_ns = 20 * 1000000LL;
  double duty = argc > 1 ? atof (argv[1]) : 1.0;
  if (argc != 2 || duty < 0 || duty > 1)
    {
      fprintf (stderr, "usage: vp-burn DUTY (0..1)\n");
      return 2;
    }
  long long busy_ns = (long long) (duty * period_ns);
  for (long long start = now_ns ();; start += period_ns)
    {
      /* Busy: reading the clock is the work (a call the compiler cannot drop). */
      while (now_ns () - start < busy_ns)
        continue;
      long long rest = start + period_ns - now_ns ();
      if (rest > 0)
        {
          struct timespec ts = { rest / 1000000000LL, rest % 1000000000LL };
          nanosleep (&ts, NULL);
        }
      else
        start = now_ns () - period_ns;   /* fell behind: do not try to catch up */
    }
}
