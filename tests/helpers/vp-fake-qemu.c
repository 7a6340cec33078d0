/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A stand-in for an idle QEMU, for bench/bench-inventory.sh: copied to a file named
 * qemu-system-x86_64 and run with a QEMU-like command line, it writes its PID to its -pidfile,
 * as QEMU does, and sleeps until killed. Costs a process, not a VM. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp (argv[i], "-pidfile") == 0)
      {
        FILE *pidfile = fopen (argv[i + 1], "w");
        if (!pidfile || fprintf (pidfile, "%d\n", (int) getpid ()) < 0 || fclose (pidfile) != 0)
          {
            perror (argv[i + 1]);
            return 1;
          }
      }
  for (;;)
    pause ();
}
