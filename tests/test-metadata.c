/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: who a VM belongs to, from libvirt <metadata> (Nova 1.0/1.1,
 * OpenNebula, vpower's own labels), and what hostile metadata cannot do. */
#include "config.h"

#include "shared/vp-metadata.h"

/* Nova's metadata as a Debian 12 nova-compute writes it (trimmed). */
#define NOVA_DOMAIN(NS, PREFIX) \
  "<domain type='kvm'>\n" \
  "  <name>instance-00000885</name>\n" \
  "  <uuid>629b29b9-b0fb-4766-b27d-f4a686d5cbda</uuid>\n" \
  "  <metadata>\n" \
  "    <" PREFIX ":instance xmlns:" PREFIX "=\"" NS "\">\n" \
  "      <" PREFIX ":package version=\"27.1.0\"/>\n" \
  "      <" PREFIX ":name>web-frontend-1</" PREFIX ":name>\n" \
  "      <" PREFIX ":creationTime>2026-10-01 06:01:09</" PREFIX ":creationTime>\n" \
  "      <" PREFIX ":flavor name=\"m1.small\">\n" \
  "        <" PREFIX ":memory>2048</" PREFIX ":memory>\n" \
  "        <" PREFIX ":vcpus>1</" PREFIX ":vcpus>\n" \
  "      </" PREFIX ":flavor>\n" \
  "      <" PREFIX ":owner>\n" \
  "        <" PREFIX ":user uuid=\"5e1b1a0c0f4e4d2c9d1c2b3a4f5e6d7c\">alice</" PREFIX ":user>\n" \
  "        <" PREFIX ":project uuid=\"9a8b7c6d5e4f40318d2c1b0a99887766\">acme-web</" PREFIX ":project>\n" \
  "      </" PREFIX ":owner>\n" \
  "      <" PREFIX ":root type=\"image\" uuid=\"0e2c0d7e-1f6b-4c39-9a8e-0d6f3f1e2a11\"/>\n" \
  "    </" PREFIX ":instance>\n" \
  "  </metadata>\n" \
  "  <memory unit='KiB'>2097152</memory>\n" \
  "</domain>\n"

static char **
parse_ok (const char *xml, guint *ignored)
{
  g_autoptr (GError) error = NULL;
  char **labels = vp_metadata_labels_parse (xml, -1, ignored, &error);
  g_assert_no_error (error);
  g_assert_nonnull (labels);
  return labels;
}

static void
assert_labels (const char *xml, const char *expected)
{
  g_auto (GStrv) labels = parse_ok (xml, NULL);
  g_autofree char *text = vp_metadata_labels_to_string ((const char *const *) labels);
  g_assert_cmpstr (text, ==, expected);
}

#define NOVA_LABELS \
  "vm_name=web-frontend-1 project_id=9a8b7c6d5e4f40318d2c1b0a99887766 project=acme-web " \
  "user_id=5e1b1a0c0f4e4d2c9d1c2b3a4f5e6d7c user=alice flavor=m1.small"

static void
test_nova (void)
{
  assert_labels (NOVA_DOMAIN (VP_METADATA_NS_NOVA_1_1, "nova"), NOVA_LABELS);
  /* Older releases write 1.0; the prefix is anyone's choice. */
  assert_labels (NOVA_DOMAIN (VP_METADATA_NS_NOVA_1_0, "n"), NOVA_LABELS);
}

static void
test_opennebula (void)
{
  assert_labels ("<domain><name>one-42</name><uuid>3b7a5bd1-2f0c-4f3e-9d3a-5f2b6c7d8e9f</uuid><metadata>"
                 "<one:vm xmlns:one=\"" VP_METADATA_NS_OPENNEBULA "\">"
                 "<one:system_datastore><![CDATA[/var/lib/one//datastores/0/42]]></one:system_datastore>"
                 "<one:name><![CDATA[build runner]]></one:name>"
                 "<one:uname><![CDATA[bob]]></one:uname><one:uid>7</one:uid>"
                 "<one:gname><![CDATA[ci]]></one:gname><one:gid>105</one:gid>"
                 "</one:vm></metadata></domain>",
                 "vm_name=build runner project_id=105 project=ci user_id=7 user=bob");
}

/* vpower's own namespace, as virsh metadata --key vpower writes it, or with
 * a default namespace. Owner names fill the owner labels; others become
 * label_NAME; a cloud's own fields win. */
static void
test_vpower_labels (void)
{
  assert_labels ("<domain><name>a</name><uuid>u</uuid><metadata>"
                 "<vpower:labels xmlns:vpower=\"" VP_METADATA_NS_VPOWER "\">"
                 "<vpower:label name=\"project\">research</vpower:label>"
                 "<vpower:label name=\"team\">hpc</vpower:label>"
                 "<vpower:label name=\"cost_center\"> 4711 </vpower:label>"
                 "</vpower:labels></metadata></domain>",
                 "project=research label_team=hpc label_cost_center=4711");
  assert_labels ("<metadata><labels xmlns=\"" VP_METADATA_NS_VPOWER "\">"
                 "<label name=\"user\">carol</label><label name=\"env\">prod</label></labels></metadata>",
                 "user=carol label_env=prod");
  /* Nova says project=acme-web; vpower's project label cannot override it. */
  g_autofree char *both = g_strdup_printf (
    "%.*s<v:labels xmlns:v=\"" VP_METADATA_NS_VPOWER "\"><v:label name=\"project\">other</v:label>"
    "<v:label name=\"tier\">gold</v:label></v:labels></metadata></domain>",
    (int) (strstr (NOVA_DOMAIN (VP_METADATA_NS_NOVA_1_1, "nova"), "</metadata>") -
           NOVA_DOMAIN (VP_METADATA_NS_NOVA_1_1, "nova")),
    NOVA_DOMAIN (VP_METADATA_NS_NOVA_1_1, "nova"));
  assert_labels (both, NOVA_LABELS " label_tier=gold");
}

static void
test_no_metadata (void)
{
  assert_labels ("<domain><name>a</name><uuid>u</uuid></domain>", "");
  assert_labels ("<domain><name>a</name><uuid>u</uuid><metadata>"
                 "<app1:foo xmlns:app1=\"http://app1.org/app1/\">..</app1:foo></metadata></domain>", "");
}

/* Only the namespace URI counts: a "nova" prefix bound elsewhere, or bound
 * nowhere, is not Nova; an element of another namespace inside Nova's hides
 * what is under it; a prefix rebound in an inner scope follows the scope. */
static void
test_namespaces (void)
{
  assert_labels ("<domain><metadata><nova:instance xmlns:nova=\"http://evil.example/nova/1.1\">"
                 "<nova:name>x</nova:name></nova:instance></metadata></domain>", "");
  assert_labels ("<domain><metadata><nova:instance><nova:name>x</nova:name></nova:instance></metadata></domain>", "");
  assert_labels ("<domain><metadata><nova:instance xmlns:nova=\"" VP_METADATA_NS_NOVA_1_1 "\">"
                 "<x:wrap xmlns:x=\"urn:x\"><nova:name>hidden</nova:name></x:wrap>"
                 "<nova:owner><nova:user uuid=\"u1\" xmlns:nova=\"urn:not-nova\">mallory</nova:user>"
                 "<nova:project uuid=\"p1\">real</nova:project></nova:owner>"
                 "</nova:instance></metadata></domain>",
                 "project_id=p1 project=real");
  /* <metadata> counts only as the domain's child, and only the first one. */
  assert_labels ("<domain><devices><metadata><nova:instance xmlns:nova=\"" VP_METADATA_NS_NOVA_1_1 "\">"
                 "<nova:name>x</nova:name></nova:instance></metadata></devices></domain>", "");
  assert_labels ("<domain><metadata/><metadata><nova:instance xmlns:nova=\"" VP_METADATA_NS_NOVA_1_1 "\">"
                 "<nova:name>x</nova:name></nova:instance></metadata></domain>", "");
}

/* Values become Prometheus label values: bounded, without control
 * characters, cut at a character boundary, whatever the XML holds. */
static void
test_hostile_values (void)
{
  GString *huge = g_string_new ("<domain><metadata><nova:instance xmlns:nova=\"" VP_METADATA_NS_NOVA_1_1 "\"><nova:name>");
  for (int i = 0; i < 500000; i++)
    g_string_append (huge, "é");   /* 2 bytes: a cut at 128 lands mid-character unless done right */
  g_string_append (huge, "</nova:name><nova:flavor name=\"a&#10;b&#9;c&quot;,evil=&quot;1\"/>"
                         "<nova:owner><nova:project uuid=\"p\">x\\\"}\ninjected 1</nova:project></nova:owner>"
                         "</nova:instance></metadata></domain>");
  g_auto (GStrv) labels = parse_ok (huge->str, NULL);
  g_string_free (huge, TRUE);
  g_assert_cmpstr (labels[0], ==, "vm_name");
  g_assert_cmpuint (strlen (labels[1]), <=, VP_METADATA_VALUE_MAX);
  g_assert_cmpuint (strlen (labels[1]), >=, VP_METADATA_VALUE_MAX - 1);
  g_assert_true (g_utf8_validate (labels[1], -1, NULL));
  for (char **p = labels; *p; p++)
    for (const char *c = *p; *c; c++)
      g_assert_true ((guchar) *c >= 0x20 && *c != 0x7f);
  g_autofree char *text = vp_metadata_labels_to_string ((const char *const *) labels + 2);
  g_assert_cmpstr (text, ==, "project_id=p project=x\\\"} injected 1 flavor=a b c\",evil=\"1");
}

static void
test_deep (void)
{
  GString *deep = g_string_new ("<domain><metadata><nova:instance xmlns:nova=\"" VP_METADATA_NS_NOVA_1_1 "\">");
  for (int i = 0; i < 100000; i++)
    g_string_append (deep, "<nova:x xmlns:y=\"urn:y\">");
  g_string_append (deep, "<nova:name>too deep to count</nova:name>");
  for (int i = 0; i < 100000; i++)
    g_string_append (deep, "</nova:x>");
  g_string_append (deep, "<nova:name>shallow</nova:name></nova:instance></metadata></domain>");
  assert_labels (deep->str, "vm_name=shallow");
  g_string_free (deep, TRUE);
}

static void
test_free_label_bounds (void)
{
  GString *xml = g_string_new ("<metadata><v:labels xmlns:v=\"" VP_METADATA_NS_VPOWER "\">");
  const char *bad[] = { "1abc", "a-b", "__reserved", "", "a b", "ünï" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    g_string_append_printf (xml, "<v:label name=\"%s\">v</v:label>", bad[i]);
  g_string_append (xml, "<v:label>no name</v:label>");
  g_string_append_printf (xml, "<v:label name=\"%0*d\">too long</v:label>", VP_METADATA_NAME_MAX + 1, 7);
  g_string_append (xml, "<v:label name=\"dup\">first</v:label><v:label name=\"dup\">second</v:label>");
  for (int i = 0; i < 40; i++)
    g_string_append_printf (xml, "<v:label name=\"l%d\">%d</v:label>", i, i);
  g_string_append (xml, "</v:labels></metadata>");
  guint ignored = 0;
  g_auto (GStrv) labels = parse_ok (xml->str, &ignored);
  g_string_free (xml, TRUE);
  g_assert_cmpuint (g_strv_length (labels), ==, 2 * VP_METADATA_FREE_LABELS_MAX);
  g_assert_cmpstr (labels[0], ==, "label_dup");
  g_assert_cmpstr (labels[1], ==, "first");
  g_assert_cmpstr (labels[2], ==, "label_l0");
  /* 6 bad names, 1 missing, 1 too long, 1 repeat, and 40 - 15 past the limit. */
  g_assert_cmpuint (ignored, ==, 6 + 1 + 1 + 1 + (40 - (VP_METADATA_FREE_LABELS_MAX - 1)));
}

static VpMetadataFacts
facts_of (const char *xml)
{
  VpMetadataFacts facts = { 0 };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) labels = vp_metadata_parse (xml, -1, NULL, &facts, &error);
  g_assert_no_error (error);
  return facts;
}

/* Who defines the VM, from its manager's own metadata, and vpower's wiring opt-out (issue 30). */
static void
test_facts (void)
{
  VpMetadataFacts facts = facts_of (NOVA_DOMAIN (VP_METADATA_NS_NOVA_1_1, "nova"));
  g_assert_cmpstr (facts.manager, ==, "nova");
  g_assert_false (facts.wiring_off);
  /* As virt-install 4.1 writes it (measured), and OpenNebula (one@f847cf2 LibVirtDriverKVM.cc). */
  facts = facts_of ("<domain><metadata><libosinfo:libosinfo xmlns:libosinfo=\"" VP_METADATA_NS_LIBOSINFO "\">"
                    "<libosinfo:os id=\"http://debian.org/debian/11\"/></libosinfo:libosinfo></metadata></domain>");
  g_assert_cmpstr (facts.manager, ==, "virt-install");
  facts = facts_of ("<domain><metadata><one:vm xmlns:one=\"" VP_METADATA_NS_OPENNEBULA "\"><one:name>x</one:name>"
                    "</one:vm></metadata></domain>");
  g_assert_cmpstr (facts.manager, ==, "opennebula");
  facts = facts_of ("<domain><metadata><ovirt-vm:vm xmlns:ovirt-vm=\"" VP_METADATA_NS_OVIRT "\"/></metadata></domain>");
  g_assert_cmpstr (facts.manager, ==, "ovirt");
  facts = facts_of ("<domain><metadata><v:labels xmlns:v=\"" VP_METADATA_NS_VPOWER "\"/></metadata></domain>");
  g_assert_null (facts.manager);

  /* The opt-out, as virsh metadata --key vpowerwiring writes it, in any case, with blanks; next
   * to Nova's metadata, which keeps naming the manager. */
  facts = facts_of ("<domain><metadata><nova:instance xmlns:nova=\"" VP_METADATA_NS_NOVA_1_1 "\"/>"
                    "<vpowerwiring:wiring xmlns:vpowerwiring=\"" VP_METADATA_NS_WIRING "\"> OFF\n</vpowerwiring:wiring>"
                    "</metadata></domain>");
  g_assert_true (facts.wiring_off);
  g_assert_cmpstr (facts.manager, ==, "nova");
  /* Anything but off, another namespace, or outside <metadata> is no opt-out. */
  const char *not_off[] = {
    "<domain><metadata><w:wiring xmlns:w=\"" VP_METADATA_NS_WIRING "\">auto</w:wiring></metadata></domain>",
    "<domain><metadata><w:wiring xmlns:w=\"urn:someone:else\">off</w:wiring></metadata></domain>",
    "<domain><metadata><w:x xmlns:w=\"" VP_METADATA_NS_WIRING "\"><w:wiring>off</w:wiring></w:x></metadata></domain>",
    "<domain><description><w:wiring xmlns:w=\"" VP_METADATA_NS_WIRING "\">off</w:wiring></description></domain>",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (not_off); i++)
    g_assert_false (facts_of (not_off[i]).wiring_off);
}

static void
test_malformed (void)
{
  const char *bad[] = {
    "<domain><metadata>",
    "<domain><metadata></domain>",
    "",
    "<domain>\xff\xfe</domain>",
    /* No DTDs, no entity expansion: a billion laughs is just an error. */
    "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><domain>&lol2;</domain>",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_auto (GStrv) labels = vp_metadata_labels_parse (bad[i], -1, NULL, &error);
      g_assert_null (labels);
      g_assert_nonnull (error);
      g_assert_true (g_str_has_prefix (error->message, "metadata: "));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metadata/nova", test_nova);
  g_test_add_func ("/metadata/opennebula", test_opennebula);
  g_test_add_func ("/metadata/vpower-labels", test_vpower_labels);
  g_test_add_func ("/metadata/none", test_no_metadata);
  g_test_add_func ("/metadata/namespaces", test_namespaces);
  g_test_add_func ("/metadata/hostile-values", test_hostile_values);
  g_test_add_func ("/metadata/deep", test_deep);
  g_test_add_func ("/metadata/free-label-bounds", test_free_label_bounds);
  g_test_add_func ("/metadata/malformed", test_malformed);
  g_test_add_func ("/metadata/facts", test_facts);
  return g_test_run ();
}
