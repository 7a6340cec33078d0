/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: files and sockets inside an untrusted root (host/inventory/foreign-root.c), with real
 * sockets and the kernel's own path resolution. A "pod" directory plants what a hostile tenant
 * would: absolute and ".." symlinks to a host socket and a host file, a regular file and a FIFO
 * where a socket or a file should be. Nothing may reach the host's socket or file. */
#include "config.h"

#include "host/inventory/foreign-root.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct
{
  char *host;       /* the host's side: host.sock listening, secret.txt */
  char *pod;        /* the pod's root */
  int root_fd;
  int host_listener;
} Fixture;

static int
listen_at (const char *path)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  g_assert_cmpint (fd, >=, 0);
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_assert_cmpuint (strlen (path), <, sizeof address.sun_path);
  strcpy (address.sun_path, path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  g_assert_cmpint (listen (fd, 8), ==, 0);
  return fd;
}

/* How many connections wait on a listener (non-blocking accepts, each then closed). */
static int
pending_connections (int listener)
{
  int n = 0, fd;
  while ((fd = accept (listener, NULL, NULL)) >= 0)
    {
      close (fd);
      n++;
    }
  g_assert_cmpint (errno, ==, EAGAIN);
  return n;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  (void) data;
  f->host = g_dir_make_tmp ("vp-host-XXXXXX", NULL);
  f->pod = g_dir_make_tmp ("vp-pod-XXXXXX", NULL);
  g_assert_nonnull (f->host);
  g_assert_nonnull (f->pod);
  g_autofree char *host_sock = g_build_filename (f->host, "host.sock", NULL);
  f->host_listener = listen_at (host_sock);
  g_autofree char *secret = g_build_filename (f->host, "secret.txt", NULL);
  g_assert_true (g_file_set_contents (secret, "host secret\n", -1, NULL));
  g_autofree char *run = g_build_filename (f->pod, "run", "libvirt", NULL);
  g_assert_cmpint (g_mkdir_with_parents (run, 0755), ==, 0);
  f->root_fd = open (f->pod, O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (f->root_fd, >=, 0);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  (void) data;
  close (f->root_fd);
  close (f->host_listener);
  g_autofree char *command = g_strdup_printf ("rm -rf '%s' '%s'", f->host, f->pod);
  g_assert_cmpint (system (command), ==, 0);
  g_free (f->host);
  g_free (f->pod);
}

static void
plant_symlink (Fixture *f, const char *target, const char *pod_path)
{
  g_autofree char *at = g_build_filename (f->pod, pod_path, NULL);
  g_assert_cmpint (symlink (target, at), ==, 0);
}

static gboolean
connect_in_pod (Fixture *f, const char *pod_path, GError **error)
{
  int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok = vp_foreign_root_connect (f->root_fd, pod_path, sock, error);
  close (sock);
  return ok;
}

/* The pod's own socket, by its absolute path in the pod, and through a symlink that stays in it. */
static void
test_own_socket (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *real = g_build_filename (f->pod, "run", "libvirt", "qemu.sock", NULL);
  int listener = listen_at (real);
  int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_autoptr (GError) error = NULL;
  g_assert_true (vp_foreign_root_connect (f->root_fd, "/run/libvirt/qemu.sock", sock, &error));
  g_assert_no_error (error);
  int peer = accept (listener, NULL, NULL);
  g_assert_cmpint (peer, >=, 0);
  g_assert_cmpint (write (sock, "hello", 5), ==, 5);
  char buf[8] = { 0 };
  g_assert_cmpint (read (peer, buf, sizeof buf), ==, 5);
  g_assert_cmpstr (buf, ==, "hello");
  close (peer);
  close (sock);
  plant_symlink (f, "/run/libvirt/qemu.sock", "run/alias.sock");
  g_assert_true (connect_in_pod (f, "/run/alias.sock", &error));
  g_assert_cmpint (pending_connections (listener), ==, 1);
  close (listener);
  g_assert_cmpint (pending_connections (f->host_listener), ==, 0);
}

/* The hostile pod: the channel's path is a symlink to the host's socket, absolute or by "..", or
 * the path itself climbs out. Each resolves inside the pod, where there is no such socket. */
static void
test_symlink_to_host_socket (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *host_sock = g_build_filename (f->host, "host.sock", NULL);
  plant_symlink (f, host_sock, "run/libvirt/absolute.sock");
  g_autofree char *climb = g_strdup_printf ("../../../../../../../..%s", host_sock);
  plant_symlink (f, climb, "run/libvirt/climb.sock");
  g_autofree char *direct = g_strdup_printf ("/run/../../../..%s", host_sock);
  const char *paths[] = { "/run/libvirt/absolute.sock", "/run/libvirt/climb.sock", direct, host_sock };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (connect_in_pod (f, paths[i], &error));
      g_assert_error (error, VP_ERROR, VP_ERROR_IO);
      g_test_message ("%s: %s", paths[i], error->message);
    }
  g_assert_cmpint (pending_connections (f->host_listener), ==, 0);
}

/* What is not a socket is not connected to; a regular file in its place says so. */
static void
test_not_a_socket (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *file = g_build_filename (f->pod, "run", "libvirt", "file.sock", NULL);
  g_assert_true (g_file_set_contents (file, "", 0, NULL));
  g_autoptr (GError) error = NULL;
  g_assert_false (connect_in_pod (f, "/run/libvirt/file.sock", &error));
  g_assert_nonnull (strstr (error->message, "not a socket"));
}

/* A socket deeper than a sockaddr_un can name (108 bytes) is still reached. */
static void
test_long_path (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *deep_rel = g_strdup ("/run/kubevirt-private/libvirt/qemu/channel/target/domain-1-ns1_vmi1-with-a-long-name");
  g_autofree char *deep = g_build_filename (f->pod, deep_rel, NULL);
  g_assert_cmpint (g_mkdir_with_parents (deep, 0755), ==, 0);
  g_autofree char *pod_path = g_strdup_printf ("%s/org.vpower.0", deep_rel);
  g_assert_cmpuint (strlen (f->pod) + strlen (pod_path), >=, sizeof ((struct sockaddr_un *) NULL)->sun_path);
  /* bind() takes the long path from inside its directory. */
  g_autofree char *cwd = g_get_current_dir ();
  g_assert_cmpint (chdir (deep), ==, 0);
  int listener = listen_at ("org.vpower.0");
  g_assert_cmpint (chdir (cwd), ==, 0);
  g_autoptr (GError) error = NULL;
  g_assert_true (connect_in_pod (f, pod_path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pending_connections (listener), ==, 1);
  close (listener);
}

/* Files: read whole within a bound; a symlink to a host file, a FIFO, a directory or an oversized
 * file is refused (the FIFO at once, with no writer). */
static void
test_read_file (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *status = g_build_filename (f->pod, "run", "libvirt", "ns1_vmi1.xml", NULL);
  g_assert_true (g_file_set_contents (status, "<domstatus/>\n", -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autofree char *text = vp_foreign_root_read_file (f->root_fd, "/run/libvirt/ns1_vmi1.xml", 64, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "<domstatus/>\n");
  g_assert_null (vp_foreign_root_read_file (f->root_fd, "/run/libvirt/ns1_vmi1.xml", 12, &error));
  g_assert_nonnull (strstr (error->message, "larger than 12 bytes"));
  g_clear_error (&error);

  g_autofree char *secret = g_build_filename (f->host, "secret.txt", NULL);
  plant_symlink (f, secret, "run/libvirt/evil.xml");
  g_assert_null (vp_foreign_root_read_file (f->root_fd, "/run/libvirt/evil.xml", 64, &error));
  g_assert_error (error, VP_ERROR, VP_ERROR_IO);
  g_clear_error (&error);

  g_autofree char *fifo = g_build_filename (f->pod, "run", "libvirt", "fifo.xml", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_null (vp_foreign_root_read_file (f->root_fd, "/run/libvirt/fifo.xml", 64, &error));
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_clear_error (&error);
  g_assert_null (vp_foreign_root_read_file (f->root_fd, "/run", 64, &error));
  g_assert_nonnull (strstr (error->message, "not a regular file"));
}

/* Our own /proc/PID/root is "/": absolute paths resolve as usual there. */
static void
test_own_process_root (void)
{
  g_autoptr (GError) error = NULL;
  int root = vp_foreign_root_open ("/proc", getpid (), &error);
  g_assert_no_error (error);
  g_assert_cmpint (root, >=, 0);
  g_autofree char *text = vp_foreign_root_read_file (root, "/proc/self/comm", 64, &error);
  /* /proc/self is a plain symlink (to "PID"), not a magic link: allowed. */
  g_assert_no_error (error);
  g_assert_nonnull (text);
  close (root);
  g_assert_cmpint (vp_foreign_root_open ("/proc", G_MAXINT, &error), <, 0);
  g_assert_error (error, VP_ERROR, VP_ERROR_IO);
}

/* A child in a mount namespace of its own (unshare --mount sleep 30), once it is there. */
static GPid
spawn_unshared (void)
{
  const char *argv[] = { "unshare", "--mount", "sleep", "30", NULL };
  GPid child = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                NULL, &child, &error));
  g_assert_no_error (error);
  /* The child is in our namespace until unshare(2) runs: polled, with a deadline. */
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (vp_foreign_root_same_mount_ns ("/proc", getpid (), child) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  return child;
}

/* Mount namespaces: a process is in its own; one that unshared its mounts (a pod) is not in ours. */
static void
test_same_mount_ns (void)
{
  g_assert_true (vp_foreign_root_same_mount_ns ("/proc", getpid (), getpid ()));
  g_assert_false (vp_foreign_root_same_mount_ns ("/proc", getpid (), G_MAXINT));
  if (geteuid () != 0)
    {
      g_test_skip ("unshare --mount needs root");
      return;
    }
  GPid child = spawn_unshared ();
  g_assert_false (vp_foreign_root_same_mount_ns ("/proc", getpid (), child));
  g_assert_true (vp_foreign_root_other_mount_ns ("/proc", getpid (), child));
  g_assert_true (vp_foreign_root_same_mount_ns ("/proc", child, child));
  g_assert_false (vp_foreign_root_other_mount_ns ("/proc", child, child));
  /* Unknown is neither. */
  g_assert_false (vp_foreign_root_other_mount_ns ("/proc", child, G_MAXINT));
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);
  g_spawn_close_pid (child);
}

/* Roots: a process that only unshared its mounts (libvirt's QEMU on a host) keeps our root; one
 * that changed its root (a container's) has another, whatever its mount namespace. */
static void
test_same_root (void)
{
  g_assert_true (vp_foreign_root_same_root ("/proc", getpid (), getpid ()));
  g_assert_false (vp_foreign_root_same_root ("/proc", getpid (), G_MAXINT));
  g_assert_false (vp_foreign_root_other_root ("/proc", getpid (), G_MAXINT));
  if (geteuid () != 0)
    {
      g_test_skip ("unshare and chroot need root");
      return;
    }
  GPid unshared = spawn_unshared ();
  g_assert_true (vp_foreign_root_other_mount_ns ("/proc", getpid (), unshared));
  g_assert_true (vp_foreign_root_same_root ("/proc", getpid (), unshared));
  g_assert_false (vp_foreign_root_other_root ("/proc", getpid (), unshared));

  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vp-root-XXXXXX", &error);
  g_assert_no_error (error);
  pid_t contained = fork ();
  g_assert_cmpint (contained, >=, 0);
  if (contained == 0)
    {
      if (chroot (dir) == 0)
        pause ();
      _exit (1);
    }
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!vp_foreign_root_other_root ("/proc", getpid (), contained) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (vp_foreign_root_other_root ("/proc", getpid (), contained));
  g_assert_false (vp_foreign_root_same_root ("/proc", getpid (), contained));
  g_assert_true (vp_foreign_root_other_root ("/proc", unshared, contained));
  g_assert_true (vp_foreign_root_same_root ("/proc", contained, contained));
  kill (unshared, SIGKILL);
  waitpid (unshared, NULL, 0);
  kill (contained, SIGKILL);
  waitpid (contained, NULL, 0);
  g_spawn_close_pid (unshared);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/foreign-root/own-socket", Fixture, NULL, fixture_set_up, test_own_socket, fixture_tear_down);
  g_test_add ("/foreign-root/symlink-to-host-socket", Fixture, NULL, fixture_set_up, test_symlink_to_host_socket,
              fixture_tear_down);
  g_test_add ("/foreign-root/not-a-socket", Fixture, NULL, fixture_set_up, test_not_a_socket, fixture_tear_down);
  g_test_add ("/foreign-root/long-path", Fixture, NULL, fixture_set_up, test_long_path, fixture_tear_down);
  g_test_add ("/foreign-root/read-file", Fixture, NULL, fixture_set_up, test_read_file, fixture_tear_down);
  g_test_add_func ("/foreign-root/own-process-root", test_own_process_root);
  g_test_add_func ("/foreign-root/same-mount-ns", test_same_mount_ns);
  g_test_add_func ("/foreign-root/same-root", test_same_root);
  return g_test_run ();
}
