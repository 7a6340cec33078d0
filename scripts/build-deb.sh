#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the Debian packages vpower-host, vpower-agent and vpower-monitoring from this tree, and
# checks them with lintian. `--help` says how.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

usage () {
  cat <<'EOF'
usage: scripts/build-deb.sh [--release RELEASE] [--version VERSION] [--out DIR]
       scripts/build-deb.sh --root-only --release RELEASE

Builds vpower-host, vpower-agent and vpower-monitoring with `dpkg-buildpackage -us -uc -b` from a
copy of this tree (the tree itself is left as it is), then runs lintian on them: any error or
warning fails the build.

  --release RELEASE  build inside a clean root of that Debian release (bookworm, trixie, ...),
                     with its own compiler, libraries and lintian: a package built on Debian 12
                     does not install on 13 (libfuse3-3 became libfuse3-4). The root is cached
                     by scripts/root.sh. Default: on this machine, for its own release.
  --version VERSION  build as VERSION (a changelog entry in the copy): a newer package to
                     upgrade to. Default: debian/changelog's, which is configure.ac's.
  --out DIR          where the .deb files and lintian.txt go (default: ./build-deb/RELEASE)
  --root-only        only make (or find fresh in the cache) RELEASE's build root, and exit

Runs as root: it installs the packaging tools here, or works in the root.
EOF
}
release='' version='' out='' root_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --root-only) root_only=true ;;
    --release) [ $# -ge 2 ] || { usage >&2; exit 2; }; release=$2; shift ;;
    --version) [ $# -ge 2 ] || { usage >&2; exit 2; }; version=$2; shift ;;
    --out) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build-deb: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
die () { echo "build-deb: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
# build_root RELEASE: the path of a cached root of RELEASE with the build dependencies in it, so
# that a build downloads nothing; systemd.pc is in systemd-dev from Debian 13 on, in systemd before.
build_root () {
  local systemd_pc
  case $1 in bullseye|bookworm) systemd_pc=systemd ;; *) systemd_pc=systemd-dev ;; esac
  "$src/scripts/root.sh" tarball "$1" build-essential debhelper fakeroot lintian pkgconf \
    libvirt-dev libfuse3-dev libglib2.0-dev libjson-glib-dev libmicrohttpd-dev "$systemd_pc" \
    bpftool clang libbpf-dev libfreeipmi-dev
}
if $root_only; then
  [ -n "$release" ] || { usage >&2; exit 2; }
  build_root "$release" >/dev/null || die "no $release root"
  exit 0
fi
here=$(. /etc/os-release && echo "$VERSION_CODENAME")
out=${out:-$src/build-deb/${release:-$here}}
mkdir -p "$out" && out=$(cd "$out" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The files a clone has.
upstream=$(sed -n '1s/^vpower (\([^)]*\)).*/\1/p' "$src/debian/changelog")
tree=$work/b/vpower-$upstream
"$src/scripts/copy-tree.sh" "$tree" || die "cannot copy the tree"

if [ -n "$version" ]; then
  { printf 'vpower (%s) unstable; urgency=medium\n\n  * Rebuilt as %s by scripts/build-deb.sh --version.\n\n' "$version" "$version"
    printf ' -- vpower developers <vpower-devel@lists.vpower.org>  %s\n\n' "$(date -R)"
    cat "$tree/debian/changelog"; } >"$work/changelog"
  mv "$work/changelog" "$tree/debian/changelog"
fi

# The build and lintian, as run here or in the root: the packages and lintian.txt into $1.
build_script='
set -e
cd "$1"/vpower-*/
dpkg-checkbuilddeps 2>/dev/null || { apt-get update -qq -o Acquire::Check-Valid-Until=false && apt-get build-dep -y -q .; } >/dev/null
# debhelper builds with one job unless told: as many as there are CPUs.
case " ${DEB_BUILD_OPTIONS:-} " in *" parallel="*) ;; *) export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$(nproc)" ;; esac
dpkg-buildpackage -us -uc -b >"$1/build.log" 2>&1 || { tail -30 "$1/build.log"; exit 1; }
cd ..
# lintian warns on stderr that it runs as root; its findings go to stdout.
lintian --fail-on none *.changes >lintian.txt 2>/dev/null
'
if [ -z "$release" ]; then
  "$src/scripts/install-deps.sh" package >/dev/null || die "cannot install the packaging tools (scripts/install-deps.sh package)"
  bash -c "$build_script" build "$work/b" || die "the build failed (see above)"
else
  tarball=$(build_root "$release") || die "no $release root"
  "$src/scripts/root.sh" unpack "$tarball" "$work/root"
  "$src/scripts/root.sh" run "$work/root" --bind "$work/b:/build" -- bash -c "$build_script" build /build ||
    die "the build in a $release root failed (see above)"
fi

rm -f "$out"/*.deb
cp "$work"/b/*.deb "$work/b/lintian.txt" "$out/"
findings=$(grep -E '^[EW]: ' "$out/lintian.txt" || true)
[ -z "$findings" ] || { echo "$findings" >&2; die "lintian reports errors or warnings (all of it: $out/lintian.txt)"; }
echo "build-deb: $(cd "$out" && ls ./*.deb | grep -vc dbgsym) packages in $out; lintian: no error, no warning"
