#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vpower.spec for EL and Fedora (issue 22), checked where it can be here, on Debian: rpmbuild -bb
# --nodeps builds it from the release tarball (Debian's rpm has no systemd macros:
# tests/helpers/rpm-macros.systemd stands in for them); its %files hold exactly what `make install`
# put in the build root, plus the hook's link and the mount point the spec adds; the scriptlets
# reload vpowerd on upgrade and never restart it; rpmlint reports no error (vpower.rpmlintrc says
# why each filter is there). No EL machine is at hand, so nothing here proves it installs there.
#   tests/rpm-spec.sh [TARBALL]    (default: `make dist` of a fresh copy of the tree)
# Not part of `make check`; scripts/test.sh runs it once per CI run, with distcheck's tarball.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

for tool in rpmbuild rpmlint rpm; do
  command -v "$tool" >/dev/null || vp_skip_or_fail "no $tool (scripts/install-deps.sh package)"
done
spec=$abs_top_srcdir/vpower.spec
vp_setup_workdir
vp_plan 6

configured=$(sed -n 's/^AC_INIT(\[vpower\], \[\([^]]*\)\].*/\1/p' "$abs_top_srcdir/configure.ac")
specified=$(sed -n 's/^Version: *//p' "$spec")
[ -n "$configured" ] && [ "$specified" = "$configured" ]
vp_ok $? "vpower.spec carries configure.ac's version ($specified, $configured)"

mkdir -p "$work/SOURCES"
if [ $# -ge 1 ]; then
  cp "$1" "$work/SOURCES/"
else
  # A release tarball from a copy of the tree.
  "$abs_top_srcdir/scripts/copy-tree.sh" "$work/src"
  (cd "$work/src" && autoreconf -fi && ./configure && make dist) >"$work/dist.log" 2>&1 &&
    cp "$work"/src/vpower-*.tar.xz "$work/SOURCES/" || tail -20 "$work/dist.log" | sed 's/^/# /'
fi

# The unit tests in %check ran in the other passes; --nocheck keeps this to the packaging.
rpmbuild -bb --nodeps --nocheck --noclean --load "$abs_top_srcdir/tests/helpers/rpm-macros.systemd" \
  --define "_topdir $work" "$spec" >"$work/rpmbuild.log" 2>&1
status=$?
[ $status -eq 0 ] || tail -20 "$work/rpmbuild.log" | sed 's/^/# /'
rpms=$(find "$work/RPMS" -name '*.rpm' 2>/dev/null | sort)
[ $status -eq 0 ] && [ "$(wc -l <<<"$rpms")" -eq 3 ]
vp_ok $? "rpmbuild -bb --nodeps builds vpower-host, vpower-agent and vpower-monitoring ($(echo $rpms | xargs -n1 basename 2>/dev/null | tr '\n' ' '))"

# What `make install` (the spec's %install, %make_install) put in the build root, against what the
# packages hold: the same files, but for the link, directories and docs the spec adds itself.
buildroot=$(find "$work/BUILDROOT" -mindepth 1 -maxdepth 1 -type d | head -n 1)
installed=$(cd "$buildroot" && find . \( -type f -o -type l \) | sed 's|^\.||' |
  grep -vE '^/usr/share/(licenses|doc)/|^/etc/libvirt/hooks/qemu.d/vpower$' | sed 's/\.\(gz\|bz2\|xz\|zst\)$//' | sort)
packaged=$(for rpm in $rpms; do rpm -qlp --nodigest --nosignature "$rpm" 2>/dev/null; done |
  while read -r path; do [ -d "$buildroot$path" ] && [ ! -L "$buildroot$path" ] || echo "$path"; done |
  grep -vE '^/usr/share/(licenses|doc)/|^/etc/libvirt/hooks/qemu.d/vpower$' | sed 's/\.\(gz\|bz2\|xz\|zst\)$//' | sort)
differ=$(diff <(echo "$installed") <(echo "$packaged") | grep '^[<>]' | tr '\n' ' ')
[ -n "$installed" ] && [ -z "$differ" ]
vp_ok $? "%files holds exactly what make install installs ($(wc -l <<<"$installed") files)${differ:+; differ: $differ}"

host_rpm=$(grep '/vpower-host-' <<<"$rpms")
agent_rpm=$(grep '/vpower-agent-' <<<"$rpms")
rpm -qp --nodigest --nosignature --requires "$agent_rpm" 2>/dev/null | grep -q libvirt && agent_libvirt=yes || agent_libvirt=no
[ "$(rpm -qlp --nodigest --nosignature "$host_rpm" 2>/dev/null | grep -c '/etc/libvirt/hooks/qemu.d/vpower$')" -eq 1 ] &&
  [ "$agent_libvirt" = no ] && rpm -qp --nodigest --nosignature --requires "$host_rpm" 2>/dev/null | grep -qx fuse3
vp_ok $? "vpower-host holds the hook's link and requires fuse3; vpower-agent requires no libvirt"

scripts=$(rpm -qp --nodigest --nosignature --scripts "$host_rpm" 2>/dev/null)
postun=$(sed -n '/^postuninstall scriptlet/,/^[a-z]* *scriptlet/p' <<<"$scripts")
grep -q 'try-reload-or-restart vpowerd.service' <<<"$postun" && ! grep -qE '(^|[ ;])(try-)?restart +vpowerd' <<<"$postun"
vp_ok $? "an upgrade reloads vpowerd (%postun: try-reload-or-restart) and never restarts it"

lint=$(rpmlint -r "$abs_top_srcdir/vpower.rpmlintrc" "$spec" $rpms 2>&1)
summary=$(grep -E 'packages and .* checked' <<<"$lint")
grep ' E: ' <<<"$lint" | sed 's/^/# /'
! grep -q ' E: ' <<<"$lint" && grep -q ' 0 errors' <<<"$summary"
vp_ok $? "rpmlint: no error (${summary# })"
vp_finish
