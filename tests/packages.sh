#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian packages as operators and tenants get them (issue 22), for Debian 12 and 13:
# scripts/build-deb.sh builds vpower-host, vpower-agent and vpower-monitoring (here for this
# machine's release, in a clean root for another) and lintian passes them; then, in a clean root
# of that release (scripts/root.sh), apt installs them with that release's dependencies and
# tests/helpers/packages-in-root.sh checks what an operator meets: nothing starts without
# systemd, vpowerd --once, vpowerd without libvirtd, the agent, man pages, the hook called as
# libvirt calls it (with and without vpowerd), an upgrade to the same packages rebuilt with a
# higher version while a reader loops on the tree (a reload, never a restart), a changed conffile
# kept, remove and purge. Last, the hook's installed path, symlinks resolved, against the exec
# rules of the usr.sbin.libvirtd AppArmor profile that release's libvirt-daemon-system ships
# (tests/helpers/apparmor-exec.py), and the same check refusing /usr/libexec.
#   tests/packages.sh [RELEASE...]      (default: bookworm trixie)
#   tests/packages.sh --roots-only [RELEASE...]
#                                       only make (or find fresh in the cache) the roots it uses
# With VP_DEBS_KEEP=DIR, the packages of each release stay in DIR/RELEASE.
# Not part of `make check`: it builds the packages from a copy of the tree, minutes a release.
# scripts/test.sh runs it once per CI run; the roots are cached in /var/cache/vpower-roots.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# What a clean root of each release holds before apt installs the packages (and their dependencies).
root_packages=(procps man-db mawk)
if [ "${1:-}" = --roots-only ]; then
  shift
  here=$(. /etc/os-release && echo "$VERSION_CODENAME")
  for release in ${*:-bookworm trixie}; do
    "$abs_top_srcdir/scripts/root.sh" tarball "$release" "${root_packages[@]}" >/dev/null || exit 1
    [ "$release" = "$here" ] || "$abs_top_srcdir/scripts/build-deb.sh" --root-only --release "$release" || exit 1
  done
  exit 0
fi

vp_require_root
for tool in mmdebstrap lintian dpkg-buildpackage git; do
  command -v "$tool" >/dev/null || vp_skip_or_fail "no $tool (scripts/install-deps.sh package)"
done
/usr/bin/python3 -c 'import apparmor.rule.file' 2>/dev/null || vp_skip_or_fail "no python3-apparmor"
releases=${*:-bookworm trixie}
here=$(. /etc/os-release && echo "$VERSION_CODENAME")
scripts=$abs_top_srcdir/scripts
helpers=$abs_top_srcdir/tests/helpers
vp_setup_workdir
in_root_lifecycle=20 in_root_libvirt=2
per_release=$((4 + in_root_lifecycle + in_root_libvirt))
vp_plan $((1 + per_release * $(wc -w <<<"$releases")))

# The packages' version is the tree's.
configured=$(sed -n 's/^AC_INIT(\[vpower\], \[\([^]]*\)\].*/\1/p' "$abs_top_srcdir/configure.ac")
packaged=$(sed -n '1s/^vpower (\([^)]*\)).*/\1/p' "$abs_top_srcdir/debian/changelog")
[ -n "$configured" ] && [ "$configured" = "$packaged" ]
vp_ok $? "debian/changelog carries configure.ac's version ($packaged, $configured)"

# forward RELEASE FILE EXPECTED: the in-root script's "ok"/"not ok" lines as this test's results,
# and a failure for each check it did not get to.
forward () {
  local release=$1 file=$2 expected=$3 seen=0 line
  while IFS= read -r line; do
    case $line in
      "ok "*) vp_ok 0 "$release: ${line#ok }"; seen=$((seen + 1)) ;;
      "not ok "*) vp_ok 1 "$release: ${line#not ok }"; seen=$((seen + 1)) ;;
      *) echo "# $release: $line" ;;
    esac
  done <"$file"
  while [ $seen -lt "$expected" ]; do vp_ok 1 "$release: a check in the root that never ran"; seen=$((seen + 1)); done
}

# repack DEB DIR VERSION: the same package as version VERSION, for the upgrade.
repack () {
  local tmp
  tmp=$(mktemp -d)
  dpkg-deb -R "$1" "$tmp" && sed -i "s/^Version: .*/Version: $3/" "$tmp/DEBIAN/control" &&
    dpkg-deb -b "$tmp" "$2" >/dev/null
  local status=$?
  rm -rf "$tmp"
  return $status
}

for release in $releases; do
  dir=$work/$release
  mkdir -p "$dir/v1" "$dir/v2"
  # This machine's release is built here (its unit tests ran in the other passes); another one in
  # a clean root of its own, with its unit tests against its libraries.
  if [ "$release" = "$here" ]; then
    DEB_BUILD_OPTIONS=nocheck "$scripts/build-deb.sh" --out "$dir/v1" >"$dir/build.log" 2>&1
  else
    "$scripts/build-deb.sh" --release "$release" --out "$dir/v1" >"$dir/build.log" 2>&1
  fi
  status=$?
  [ $status -eq 0 ] || tail -20 "$dir/build.log" | sed 's/^/# /'
  [ $status -eq 0 ] && [ "$(ls "$dir"/v1/*.deb | grep -vc dbgsym)" -eq 3 ]
  vp_ok $? "$release: build-deb.sh builds vpower-host, vpower-agent and vpower-monitoring; lintian: no error, no warning"
  # $VP_DEBS_KEEP/RELEASE: the packages, kept for tests/images.sh (scripts/test.sh says where).
  if [ -n "${VP_DEBS_KEEP:-}" ]; then
    rm -rf "${VP_DEBS_KEEP:?}/$release" && mkdir -p "$VP_DEBS_KEEP/$release" && cp "$dir"/v1/*.deb "$VP_DEBS_KEEP/$release/"
  fi
  grep -E '^[IN]: ' "$dir/v1/lintian.txt" 2>/dev/null | head -5 | sed "s/^/# $release lintian: /"

  agent_deb=$(ls "$dir"/v1/vpower-agent_*.deb 2>/dev/null)
  monitoring_deb=$(ls "$dir"/v1/vpower-monitoring_*.deb 2>/dev/null)
  [ -n "$agent_deb" ] && ! dpkg-deb -f "$agent_deb" Depends | grep -q libvirt &&
    [ "$(dpkg-deb -f "$monitoring_deb" Architecture)" = all ]
  vp_ok $? "$release: vpower-agent does not depend on libvirt ($(dpkg-deb -f "$agent_deb" Depends 2>/dev/null)); vpower-monitoring is Architecture: all"

  version=$(dpkg-deb -f "$agent_deb" Version 2>/dev/null)
  for deb in "$dir"/v1/*.deb; do repack "$deb" "$dir/v2" "$version+upgrade1" || echo "# cannot repack $deb"; done

  tarball=$("$scripts/root.sh" tarball "$release" "${root_packages[@]}" 2>"$dir/root.log") ||
    { tail -5 "$dir/root.log" | sed 's/^/# /'; }
  root=$dir/root
  [ -n "$tarball" ] && "$scripts/root.sh" unpack "$tarball" "$root"
  in_root () { "$scripts/root.sh" run "$root" --bind "$dir/v1:/debs/v1" --bind "$dir/v2:/debs/v2" --bind "$helpers:/helpers" -- "$@"; }
  in_root /helpers/packages-in-root.sh lifecycle >"$dir/lifecycle.out" 2>&1
  forward "$release" "$dir/lifecycle.out" $in_root_lifecycle
  in_root /helpers/packages-in-root.sh libvirt >"$dir/libvirt.out" 2>&1
  forward "$release" "$dir/libvirt.out" $in_root_libvirt

  # AppArmor judges the path after symlinks are resolved: resolve it inside the root.
  profile=$root/etc/apparmor.d/usr.sbin.libvirtd
  hook=$(in_root readlink -f /etc/libvirt/hooks/qemu.d/vpower 2>/dev/null)
  verdict=$(/usr/bin/python3 "$helpers/apparmor-exec.py" "$profile" "$hook" 2>&1)
  [ $? -eq 0 ] && [ "$hook" = /usr/sbin/vpower-hook ]
  vp_ok $? "$release: libvirtd's AppArmor profile lets it execute the installed hook: $verdict"
  # The same hook where the README used to put it: the check must refuse it.
  moved=$(in_root sh -c 'mkdir -p /usr/libexec/vpower && mv /usr/sbin/vpower-hook /usr/libexec/vpower/vpower-hook &&
    ln -sfn /usr/libexec/vpower/vpower-hook /etc/libvirt/hooks/qemu.d/vpower && readlink -f /etc/libvirt/hooks/qemu.d/vpower' 2>/dev/null)
  verdict=$(/usr/bin/python3 "$helpers/apparmor-exec.py" "$profile" "$moved" 2>&1)
  [ $? -eq 1 ] && [ "$moved" = /usr/libexec/vpower/vpower-hook ]
  vp_ok $? "$release: and the check refuses it in /usr/libexec: $verdict"
  # Nothing started in the root may outlive it (its mounts are in a namespace of their own).
  for proc in /proc/[0-9]*; do [ "$(readlink "$proc/root" 2>/dev/null)" = "$root" ] && kill -9 "${proc#/proc/}" 2>/dev/null; done
  rm -rf "$root"
done
vp_finish
