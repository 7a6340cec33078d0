/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A platform meter's power readings made into energy: held until the next reading, exact to the
 * µJ, never going back, and a meter that stops answering counts nothing after STALE_AFTER. */
#include "config.h"

#include "host/sense/power-integrator.h"

#define S G_GINT64_CONSTANT (1000000)
#define W G_GUINT64_CONSTANT (1000000)   /* 1 W in µW */

static void
test_held (void)
{
  VpPowerIntegrator meter;
  vp_power_integrator_init (&meter, 5 * S);
  g_assert_true (vp_power_integrator_stale (&meter, 0));
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 10 * S), ==, 0);

  vp_power_integrator_add (&meter, 10 * S, 250 * W);
  g_assert_false (vp_power_integrator_stale (&meter, 10 * S));
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 10 * S), ==, 0);
  /* Between readings: 250 W held for half a second. */
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 10 * S + S / 2), ==, 125000000);
  /* The next reading adds exactly what was held: no step, either way. */
  vp_power_integrator_add (&meter, 11 * S, 400 * W);
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 11 * S), ==, 250000000);
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 13 * S), ==, 250000000 + 800000000);
}

static void
test_stale (void)
{
  VpPowerIntegrator meter;
  vp_power_integrator_init (&meter, 3 * S);
  vp_power_integrator_add (&meter, 0, 100 * W);
  /* The meter stops answering: its last reading is held for 3 s, then nothing more is counted. */
  g_assert_false (vp_power_integrator_stale (&meter, 3 * S));
  g_assert_true (vp_power_integrator_stale (&meter, 3 * S + 1));
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 3 * S), ==, 300000000);
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 60 * S), ==, 300000000);
  /* It answers again: counting goes on from what was counted, and it is fresh. */
  vp_power_integrator_add (&meter, 60 * S, 50 * W);
  g_assert_false (vp_power_integrator_stale (&meter, 60 * S));
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 60 * S), ==, 300000000);
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 62 * S), ==, 400000000);
}

static void
test_exact (void)
{
  /* A µW held for a µs, a million times, is one µJ: the rest below a µJ is carried, not lost. */
  VpPowerIntegrator meter;
  vp_power_integrator_init (&meter, S);
  for (gint64 t = 0; t <= 1000000; t++)
    vp_power_integrator_add (&meter, t, 1);
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 1000000), ==, 1);

  /* Readings whose time goes back (a clock the caller got wrong) add nothing for it. */
  vp_power_integrator_init (&meter, S);
  vp_power_integrator_add (&meter, 5 * S, 10 * W);
  vp_power_integrator_add (&meter, 4 * S, 10 * W);
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 5 * S), ==, 0);
  /* A reading beyond a server's power is held at the bound: no overflow, an hour of it counted. */
  vp_power_integrator_init (&meter, 3600 * S);
  vp_power_integrator_add (&meter, 0, G_MAXUINT64);
  g_assert_cmpuint (vp_power_integrator_energy_uj (&meter, 3600 * S), ==, VP_POWER_MAX_UW / W * 3600 * W);
}

/* Random readings at random times: the counter read at any moment never goes back, and at each
 * reading it is the sum of each power held for its time (capped at STALE_AFTER), to the µJ. */
static void
test_random (void)
{
  GRand *rand = g_rand_new_with_seed (31);
  VpPowerIntegrator meter;
  vp_power_integrator_init (&meter, 2 * S);
  gint64 t = 0;
  guint64 power = 0, last_read = 0;
  unsigned __int128 expected = 0;
  gboolean first = TRUE;
  for (int i = 0; i < 20000; i++)
    {
      gint64 step = g_rand_int_range (rand, 0, 3 * S);
      if (!first)
        expected += (unsigned __int128) power * (guint64) MIN (step, 2 * S);
      /* Read in between: never less than before. */
      guint64 between = vp_power_integrator_energy_uj (&meter, t + step / 2);
      g_assert_cmpuint (between, >=, last_read);
      last_read = between;
      t += step;
      power = (guint64) g_rand_int_range (rand, 0, 2000) * W + (guint64) g_rand_int (rand) % W;
      vp_power_integrator_add (&meter, t, power);
      first = FALSE;
      guint64 now = vp_power_integrator_energy_uj (&meter, t);
      g_assert_cmpuint (now, >=, last_read);
      g_assert_cmpuint (now, ==, (guint64) (expected / 1000000));
      last_read = now;
    }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/power-integrator/held", test_held);
  g_test_add_func ("/power-integrator/stale", test_stale);
  g_test_add_func ("/power-integrator/exact", test_exact);
  g_test_add_func ("/power-integrator/random", test_random);
  return g_test_run ();
}
