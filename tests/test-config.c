/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: configuration file and command line (host/conf.c). */
#include "config.h"

#include "host/conf.h"
#include "shared/vp-error.h"

#include <glib/gstdio.h>

static char *
write_config (const char *text)
{
  g_autofree char *dir = g_dir_make_tmp ("vp-conf-XXXXXX", NULL);
  char *path = g_build_filename (dir, "vpowerd.conf", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_defaults_and_file (void)
{
  g_autofree char *path = write_config ("[vpowerd]\ninterval = 2.5\npolicy=capacity\n"
                                        "inventory=static:/etc/vms.ini\nlisten=[::1]:9999\n"
                                        "model-idle-watts=5\nforeground=true\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) config = vp_config_load_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (config->interval_s, ==, 2.5);
  g_assert_cmpint (config->policy, ==, VP_POLICY_CAPACITY);
  g_assert_cmpstr (config->inventory, ==, "static:/etc/vms.ini");
  g_assert_cmpstr (config->listen_host, ==, "::1");
  g_assert_cmpuint (config->listen_port, ==, 9999);
  g_assert_cmpfloat (config->model_idle_watts, ==, 5);
  g_assert_true (config->foreground);
  /* Untouched keys keep their documented defaults. */
  g_assert_cmpstr (config->connect, ==, "qemu:///system");
  g_assert_cmpint (config->topology, ==, VP_TOPOLOGY_MIRROR);
  g_assert_cmpuint (config->listen_port, !=, VPOWERD_DEFAULT_PORT);
}

/* Side channels: an interval below 1 s needs allow-fast-updates; the quantum is a whole number of µJ. */
static void
test_side_channel_keys (void)
{
  g_autofree char *path = write_config ("[vpowerd]\ninterval=0.1\nallow-fast-updates=true\nquantum-uj=1000\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) config = vp_config_load_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (config->interval_s, ==, 0.1);
  g_assert_true (config->allow_fast_updates);
  g_assert_cmpuint (config->quantum_uj, ==, 1000);
  g_autofree char *defaults = write_config ("[vpowerd]\n");
  g_autoptr (VpConfig) plain = vp_config_load_file (defaults, &error);
  g_assert_no_error (error);
  g_assert_false (plain->allow_fast_updates);
  g_assert_cmpuint (plain->quantum_uj, ==, 0);
}

/* Each bad file gives one error that names the key (or group). */
static void
test_file_errors (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "[vpowerd]\nintervall=1\n", "unknown key 'intervall'" },
    { "[vpowerd]\ninterval=fast\n", "invalid value for 'interval': \"fast\" is not a number" },
    { "[vpowerd]\ninterval=0\n", "invalid value for 'interval'" },
    { "[vpowerd]\npolicy=fair\n", "invalid value for 'policy': \"fair\" is not one of busy, active, capacity" },
    { "[vpowerd]\ntopology=flat\n", "invalid value for 'topology'" },
    { "[vpowerd]\nsensor=rapl\n", "invalid value for 'sensor'" },
    { "[vpowerd]\nlisten=localhost\n", "invalid value for 'listen'" },
    { "[vpowerd]\nlisten=example.org:80\n", "invalid value for 'listen': \"example.org\" is not a numeric IP address" },
    { "[vpowerd]\ninventory=ldap\n", "invalid value for 'inventory'" },
    { "[vpowerd]\nstate-dir=\n", "invalid value for 'state-dir': must not be empty" },
    { "[vpowerd]\nonce=maybe\n", "invalid value for 'once'" },
    { "[vpowerd]\nmodel-idle-watts=50\nmodel-max-watts=40\n", "'model-max-watts'" },
    { "[vpowerd]\ninterval=0.5\n", "0.5 s is below the 1 s floor" },
    { "[vpowerd]\ninterval=0.5\nallow-fast-updates=false\n", "set allow-fast-updates=true" },
    { "[vpowerd]\ninterval=0.05\nallow-fast-updates=true\n", "is not a number from 0.1 to 3600" },
    { "[vpowerd]\nquantum-uj=-1\n", "invalid value for 'quantum-uj'" },
    { "[vpowerd]\nquantum-uj=1000000001\n", "invalid value for 'quantum-uj'" },
    { "[vpowerd]\nquantum-uj=1.5\n", "invalid value for 'quantum-uj'" },
    { "[vpowerd]\nwire=yes\n", "invalid value for 'wire': \"yes\" is not one of auto, off, define" },
    { "[vpowerd]\nwire-exclude=web*,=x\n", "invalid value for 'wire-exclude': \"=x\" is neither" },
    { "[vpowerd]\nwire-exclude=project=\n", "invalid value for 'wire-exclude'" },
    { "[daemon]\ninterval=1\n", "unknown group [daemon]" },
    { "interval=1\n", "vpowerd.conf" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_config (cases[i].text);
      g_autoptr (GError) error = NULL;
      g_autoptr (VpConfig) config = vp_config_load_file (path, &error);
      g_test_message ("%s -> %s", cases[i].text, error ? error->message : "(no error)");
      g_assert_null (config);
      g_assert_error (error, VP_ERROR, VP_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, cases[i].message));
      g_assert_null (strchr (error->message, '\n'));   /* one line */
    }
}

/* Wiring (issue 30): auto unless told, the exclusions as written, trimmed, empty ones dropped. */
static void
test_wire_keys (void)
{
  g_autofree char *defaults = write_config ("[vpowerd]\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) plain = vp_config_load_file (defaults, &error);
  g_assert_no_error (error);
  g_assert_cmpint (plain->wire, ==, VP_WIRE_MODE_AUTO);
  g_assert_null (plain->wire_exclude);
  g_autofree char *path = write_config ("[vpowerd]\nwire=define\nwire-exclude= ci-* , project=lab*,,manager=nova\n");
  g_autoptr (VpConfig) config = vp_config_load_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (config->wire, ==, VP_WIRE_MODE_DEFINE);
  g_assert_cmpstr (vp_wire_mode_to_string (config->wire), ==, "define");
  g_assert_cmpuint (g_strv_length (config->wire_exclude), ==, 3);
  g_assert_cmpstr (config->wire_exclude[0], ==, "ci-*");
  g_assert_cmpstr (config->wire_exclude[1], ==, "project=lab*");
  g_assert_cmpstr (config->wire_exclude[2], ==, "manager=nova");
  char *args[] = { "vpowerd", "--config", path, "--wire", "off", NULL };
  char **argv = args;
  int argc = G_N_ELEMENTS (args) - 1;
  g_autoptr (VpConfig) overridden = vp_config_load (&argc, &argv, &error);
  g_assert_no_error (error);
  g_assert_cmpint (overridden->wire, ==, VP_WIRE_MODE_OFF);

  /* pidfile-dirs after wire-exclude leaves the patterns alone (its parser used to free them and
   * leave the pointer: a use after free, and a double free when the configuration was freed). */
  g_autofree char *both = write_config ("[vpowerd]\nwire-exclude=ci-*,manager=nova\npidfile-dirs=/run/a,/run/b\n");
  g_autoptr (VpConfig) config_both = vp_config_load_file (both, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (config_both->wire_exclude), ==, 2);
  g_assert_cmpstr (config_both->wire_exclude[1], ==, "manager=nova");
  g_assert_cmpuint (g_strv_length (config_both->pidfile_dirs), ==, 2);
}

static void
test_command_line_overrides_file (void)
{
  g_autofree char *path = write_config ("[vpowerd]\ninterval=3\npolicy=active\n");
  char *args[] = { "vpowerd", "--config", path, "--policy", "busy", "-v", NULL };
  char **argv = args;
  int argc = G_N_ELEMENTS (args) - 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) config = vp_config_load (&argc, &argv, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (config->interval_s, ==, 3);            /* from the file */
  g_assert_cmpint (config->policy, ==, VP_POLICY_BUSY);     /* the command line wins */
  g_assert_true (config->verbose);
}

static void
test_command_line_errors (void)
{
  char *bad_value[] = { "vpowerd", "--config", "/nonexistent/none.conf", "--interval", "-1", NULL };
  char *missing_file[] = { "vpowerd", "--config", "/nonexistent/none.conf", NULL };
  char *unknown[] = { "vpowerd", "--frobnicate", NULL };
  struct {
    char **argv;
    const char *message;
  } cases[] = {
    { missing_file, "/nonexistent/none.conf" },
    { unknown, "--frobnicate" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char **argv = cases[i].argv;
      int argc = (int) g_strv_length (argv);
      g_autoptr (GError) error = NULL;
      g_autoptr (VpConfig) config = vp_config_load (&argc, &argv, &error);
      g_assert_null (config);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, cases[i].message));
    }
  /* A bad value on the command line names the option. The default
   * config file is optional, so point --config at a valid one. */
  g_autofree char *path = write_config ("[vpowerd]\n");
  bad_value[2] = path;
  char **argv = bad_value;
  int argc = (int) g_strv_length (argv);
  g_autoptr (GError) error = NULL;
  g_autoptr (VpConfig) config = vp_config_load (&argc, &argv, &error);
  g_assert_null (config);
  g_assert_nonnull (strstr (error->message, "invalid value for 'interval'"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/file", test_defaults_and_file);
  g_test_add_func ("/config/file-errors", test_file_errors);
  g_test_add_func ("/config/side-channel", test_side_channel_keys);
  g_test_add_func ("/config/wire", test_wire_keys);
  g_test_add_func ("/config/command-line-overrides", test_command_line_overrides_file);
  g_test_add_func ("/config/command-line-errors", test_command_line_errors);
  return g_test_run ();
}
