/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: the few facts vpower needs from a libvirt domain XML (name, UUID, DAC owner, shares, channel). */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* One <devices><filesystem>: what vpowerctl needs to tell whether a share
 * is already wired. */
typedef struct {
  char *driver;          /* <driver type>: "virtiofs", "path", ...; NULL when absent (9p) */
  char *source_dir;      /* <source dir>, or NULL */
  char *target_dir;      /* <target dir>: the tag the guest mounts, or NULL */
} VpDomainFilesystem;

typedef struct {
  char *name;
  char *uuid;            /* lower-case, as written in <uuid> */
  gboolean owner_known;  /* a DAC <label> named the QEMU user */
  uid_t uid;             /* valid when owner_known */
  gid_t gid;
  gboolean shared_memory; /* <memoryBacking><access mode='shared'/>: virtiofs needs it */
  GPtrArray *filesystems; /* VpDomainFilesystem *, in document order */
  /* The vpower channel: <channel type='unix'> with <target type='virtio'
   * name='org.vpower.0'>. libvirt fills in its socket's path in the live
   * XML of a running domain (real-components.md). */
  gboolean has_channel;
  char *channel_path;     /* <source path>, or NULL */
  gboolean has_virtio_serial; /* a <controller type='virtio-serial'>: a channel can be hot-plugged */
  guint vcpus;            /* <vcpu>: the vCPUs it reserves; 0 when absent or not a number */
  int status_pid;         /* libvirt's status file (<domstatus pid='N'><domain>...): QEMU's PID as
                           * libvirt saw it (in its own PID namespace); 0 otherwise */
} VpDomainXml;

/* The value of attribute wanted among a GMarkup start element's, or NULL. */
const char *vp_markup_attribute (const char **names, const char **values, const char *wanted);

void vp_domain_xml_free (VpDomainXml *xml);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VpDomainXml, vp_domain_xml_free)

/* Parses a <domain> document (inactive, live or a hook's stdin), or libvirt's status file, a
 * <domstatus> that holds the live <domain>. Fails when
 * it is not well-formed or lacks <name> or <uuid>; an unusable DAC label is
 * not an error (owner_known stays FALSE). */
/* TRUE when fs is a virtiofs share (anything else libvirt calls a mount is 9p). */
gboolean vp_domain_filesystem_is_virtiofs (const VpDomainFilesystem *fs);

VpDomainXml *vp_domain_xml_parse (const char *text, gssize length, GError **error);

/* Parses a DAC label as libvirt writes it: "+UID:+GID", "user:group", or
 * "user" (the user's primary group). Names are looked up in the passwd and
 * group databases. */
gboolean vp_dac_label_parse (const char *label, uid_t *uid, gid_t *gid, GError **error);
