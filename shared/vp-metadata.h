/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpower: who a VM belongs to, from its libvirt <metadata>: OpenStack Nova,
 * OpenNebula, or vpower's own free-form labels. */
#pragma once

#include <glib.h>

#define VP_METADATA_NS_NOVA_1_1 "http://openstack.org/xmlns/libvirt/nova/1.1"
#define VP_METADATA_NS_NOVA_1_0 "http://openstack.org/xmlns/libvirt/nova/1.0"
#define VP_METADATA_NS_OPENNEBULA "http://opennebula.org/xmlns/libvirt/1.0"
/* vpower's own: <labels><label name="team">infra</label>...</labels>, set with
 *   virsh metadata DOMAIN --uri urn:vpower:labels:1.0 --key vpower --set '<labels>...</labels>' */
#define VP_METADATA_NS_VPOWER "urn:vpower:labels:1.0"
/* vpower's opt-out of wiring (host/wiring/): <wiring>off</wiring>, set with
 *   virsh metadata DOMAIN --uri urn:vpower:wiring:1.0 --key vpowerwiring --set '<wiring>off</wiring>' --live --config */
#define VP_METADATA_NS_WIRING "urn:vpower:wiring:1.0"
/* Who else writes domain definitions, told by their own metadata. */
#define VP_METADATA_NS_LIBOSINFO "http://libosinfo.org/xmlns/libvirt/domain/1.0"   /* virt-install, virt-manager */
#define VP_METADATA_NS_OVIRT "http://ovirt.org/vm/1.0"
/* KubeVirt's virt-launcher: <kubevirt xmlns="http://kubevirt.io"><uid>VMI-UID</uid>... */
#define VP_METADATA_NS_KUBEVIRT "http://kubevirt.io"

/* Bounds, so that hostile metadata cannot blow up an exposition. */
#define VP_METADATA_VALUE_MAX 128     /* bytes of a value, cut at a character boundary */
#define VP_METADATA_NAME_MAX 48       /* bytes of a free-form label's name */
#define VP_METADATA_FREE_LABELS_MAX 16

/* The owner labels, in the order they are exported. A cloud's own fields
 * fill them (Nova first, then OpenNebula); vpower labels of these names fill
 * what is left, so the shipped rules work on any libvirt fleet. */
#define VP_METADATA_OWNER_LABELS "vm_name", "project_id", "project", "user_id", "user", "flavor"

/* Parses a <domain> document, or a bare <metadata> element (a file of the
 * static inventory). Returns a NULL-terminated vector of label pairs
 * {name, value, name, value, ..., NULL}: the owner labels that have a value,
 * then "label_NAME" for each other vpower label. Empty when there is no
 * metadata vpower knows. *ignored (may be NULL) counts the vpower labels
 * dropped: a bad or repeated name, or one past the limit. Fails only when
 * the document is not well-formed. */
char **vp_metadata_labels_parse (const char *text, gssize length, guint *ignored, GError **error);

/* What the metadata says beyond the labels. */
typedef struct {
  /* Who wrote the definition, from its own metadata: "nova", "opennebula", "ovirt",
   * "virt-install" (libosinfo's, which virt-install and virt-manager write), "kubevirt", or NULL. A static
   * string. */
  const char *manager;
  gboolean wiring_off;     /* vpower's <wiring>off</wiring>: leave this VM's wiring alone */
  char kubevirt_uid[37];   /* KubeVirt's <uid>: the VMI's UID, or "" */
} VpMetadataFacts;

/* vp_metadata_labels_parse, and the facts (may be NULL) from the same pass. */
char **vp_metadata_parse (const char *text, gssize length, guint *ignored, VpMetadataFacts *facts, GError **error);

/* The labels as "name=value name=value", for logs and vpowerctl. */
char *vp_metadata_labels_to_string (const char *const *labels);
