/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower-agent: mounting the host's vpower share inside the guest.
 *
 * vpowerd serves /var/lib/vpower/<vm> on the host; the operator shares that
 * directory into the VM with a mount tag (default "vpower") over virtiofs or
 * 9p. virtiofs is tried first: it is the faster transport and needs no
 * transport options. A tag that is not attached makes virtiofs fail with
 * EINVAL and 9p with ENOENT; a filesystem type the kernel lacks fails with
 * ENODEV, and we ask modprobe for it once before giving up on it. */
#include "config.h"

#include "guest/share.h"
#include "shared/vp-error.h"
#include "shared/vp-rapl-scan.h"
#include "shared/vp-share-xml.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/mount.h>

#define SHARE_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define NINEP_OPTIONS "trans=virtio,version=9p2000.L,cache=none,msize=262144"

typedef struct {
  const char *fstype;
  const char *options;
  const char *const *modules;   /* what to modprobe when the kernel lacks fstype */
} Transport;

static const char *const virtiofs_modules[] = { "virtiofs", NULL };
static const char *const ninep_modules[] = { "9pnet_virtio", "9p", NULL };
static const Transport transports[] = {
  { "virtiofs", NULL, virtiofs_modules },
  { "9p", NINEP_OPTIONS, ninep_modules },
};

/* The filesystem type mounted at path, from /proc/self/mountinfo (the last
 * mount there wins, as it hides the others), or NULL. */
static char *
mounted_fstype (const char *path)
{
  g_autofree char *text = NULL;
  g_autofree char *canonical = g_canonicalize_filename (path, "/");
  char *fstype = NULL;
  if (!g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL))
    return NULL;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **line = lines; *line; line++)
    {
      /* "36 35 98:0 /root /mnt rw,noatime - ext3 /dev/root rw": field 5 is
       * the mount point (octal escapes for blanks), after " - " the type. */
      g_auto (GStrv) fields = g_strsplit (*line, " ", 6);
      const char *dash = strstr (*line, " - ");
      if (g_strv_length (fields) < 6 || !dash)
        continue;
      g_autofree char *mount_point = g_strcompress (fields[4]);
      if (g_str_equal (mount_point, canonical))
        {
          g_free (fstype);
          fstype = g_strndup (dash + 3, strcspn (dash + 3, " "));
        }
    }
  return fstype;
}

/* The share, or the agent's own tree (guest/tree-mount.c), which mounts as fuse.vpower. */
static gboolean
is_share_fstype (const char *fstype)
{
  return fstype && (g_str_equal (fstype, "virtiofs") || g_str_equal (fstype, "9p") ||
                    g_str_equal (fstype, VP_AGENT_TREE_FSTYPE));
}

static void
load_modules (const char *const *modules)
{
  for (const char *const *module = modules; *module; module++)
    {
      const char *argv[] = { "modprobe", "-q", *module, NULL };
      g_autoptr (GError) error = NULL;
      int status = 0;
      if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                         G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error))
        g_debug ("modprobe %s: %s", *module, error->message);
      else
        g_debug ("modprobe %s: exit status %d", *module, status);
    }
}

/* Returns 0, or the errno of the last attempt. */
static int
try_transport (const Transport *transport, const char *tag, const char *target)
{
  for (int attempt = 0; attempt < 2; attempt++)
    {
      if (mount (tag, target, transport->fstype, SHARE_FLAGS, transport->options) == 0)
        return 0;
      int saved = errno;
      g_debug ("mount -t %s %s %s: %s", transport->fstype, tag, target, g_strerror (saved));
      if (saved != ENODEV || attempt > 0)
        return saved;
      load_modules (transport->modules);
    }
  return ENODEV;
}

char *
vp_share_libvirt_xml (const char *tag)
{
  /* The guest cannot know its libvirt name; on the host, `vpowerctl xml`
   * prints the exact element, and `vpowerctl attach` adds it. */
  g_autofree char *nine_p = vp_share_device_xml (VP_SHARE_9P, "/var/lib/vpower/DOMAIN", tag);
  g_autofree char *virtiofs = vp_share_device_xml (VP_SHARE_VIRTIOFS, "/var/lib/vpower/DOMAIN", tag);
  /* No "--" inside an XML comment (XML 1.0, section 2.5). */
  return g_strdup_printf ("<!-- 9p: add to <devices> (virsh edit DOMAIN, or on the host: vpowerctl attach),\n"
                          "     then restart the VM -->\n%s\n"
                          "<!-- or virtiofs: the <filesystem> in <devices>, and shared memory in <domain> -->\n%s%s",
                          nine_p, vp_share_memory_backing_xml (), virtiofs);
}

gboolean
vp_share_bind_sysfs (const VpAgentConfig *config, GError **error)
{
  g_autofree char *fstype = mounted_fstype (config->sysfs_powercap);
  if (is_share_fstype (fstype))
    {
      g_message ("%s is already bound to the share", config->sysfs_powercap);
      return TRUE;
    }
  if (!g_file_test (config->sysfs_powercap, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, VP_ERROR, VP_ERROR_NOT_FOUND,
                   "cannot bind over %s: it is not a directory (a kernel without CONFIG_POWERCAP?)",
                   config->sysfs_powercap);
      return FALSE;
    }
  /* A bind takes the source's flags only on a remount. */
  if (mount (config->mount, config->sysfs_powercap, NULL, MS_BIND, NULL) != 0 ||
      mount (NULL, config->sysfs_powercap, NULL, MS_REMOUNT | MS_BIND | SHARE_FLAGS, NULL) != 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot bind %s over %s: %s",
                   config->mount, config->sysfs_powercap, g_strerror (saved));
      umount2 (config->sysfs_powercap, MNT_DETACH);
      return FALSE;
    }
  g_autofree char *source_type = mounted_fstype (config->mount);
  g_message ("bound the %s over %s: RAPL tools read it as native powercap",
             g_strcmp0 (source_type, VP_AGENT_TREE_FSTYPE) == 0 ? "channel's tree" : "share", config->sysfs_powercap);
  return TRUE;
}

/* A mounted share that lists no zone: most likely vpowerd is not running,
 * or the share is some other directory. Worth a warning, not a failure. */
static void
check_tree (const char *mount_point)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) keys = vp_rapl_scan_keys (mount_point, &error);
  if (!keys)
    g_warning ("the share at %s cannot be listed: %s", mount_point, error->message);
  else if (keys->len == 0)
    g_warning ("the share at %s holds no RAPL zone (intel-rapl:*): is vpowerd running on the host, "
               "and is the share's source /var/lib/vpower/<this VM>?", mount_point);
}

gboolean
vp_share_mount (const VpAgentConfig *config, GError **error)
{
  g_autofree char *fstype = mounted_fstype (config->mount);

  if (g_mkdir_with_parents (config->mount, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot create %s: %s", config->mount, g_strerror (saved));
      return FALSE;
    }
  if (is_share_fstype (fstype))
    g_message ("the share is already mounted at %s (%s)", config->mount, fstype);
  else
    {
      const Transport *mounted = NULL;
      g_autoptr (GString) tried = g_string_new (NULL);
      for (gsize i = 0; i < G_N_ELEMENTS (transports) && !mounted; i++)
        {
          if ((config->transport == VP_TRANSPORT_VIRTIOFS && i != 0) || (config->transport == VP_TRANSPORT_9P && i != 1))
            continue;
          int failure = try_transport (&transports[i], config->tag, config->mount);
          if (failure == 0)
            mounted = &transports[i];
          else
            g_string_append_printf (tried, "%s%s: %s", tried->len ? "; " : "", transports[i].fstype,
                                    failure == ENODEV ? "not supported by this kernel"
                                    : failure == EINVAL || failure == ENOENT ? "no such tag" : g_strerror (failure));
        }
      if (!mounted)
        {
          g_set_error (error, VP_ERROR, VP_ERROR_SHARE_MISSING,
                       "no share with tag \"%s\" is attached to this VM (%s). The host's operator must "
                       "attach /var/lib/vpower/<this VM> with that tag, as below.",
                       config->tag, tried->str);
          return FALSE;
        }
      g_message ("mounted the share \"%s\" (%s) read-only at %s", config->tag, mounted->fstype, config->mount);
    }
  check_tree (config->mount);
  return !config->bind_sysfs || vp_share_bind_sysfs (config, error);
}

static gboolean
unmount_if_share (const char *path, GError **error)
{
  g_autofree char *fstype = mounted_fstype (path);
  if (!is_share_fstype (fstype))
    return TRUE;
  if (umount2 (path, 0) != 0 && umount2 (path, MNT_DETACH) != 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot unmount %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  g_message ("unmounted %s", path);
  return TRUE;
}

gboolean
vp_share_umount (const VpAgentConfig *config, GError **error)
{
  return unmount_if_share (config->sysfs_powercap, error) && unmount_if_share (config->mount, error);
}
