#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what vpower needs from Debian 12, idempotently: `build` (to build and run vpowerd),
# `package` (to build and check the Debian packages and the RPM spec),
# `libvirt` (a minimal libvirtd + QEMU) or `test` (all of it, plus the real peers the suite uses).
set -euo pipefail

# clang, bpftool and libbpf-dev build the BPF CPU-time source (issue 24; configure --enable-bpf);
# libfreeipmi-dev the platform's meter on a BMC (issue 32; --with-freeipmi).
build_packages=(build-essential autoconf automake libtool pkg-config
                libvirt-dev libfuse3-dev fuse3 libglib2.0-dev libmicrohttpd-dev libjson-glib-dev
                clang bpftool libbpf-dev libfreeipmi-dev)
# libvirt-daemon-system would pull in systemd and a default network: not needed
# (real-components.md).
libvirt_packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils)
# The real peers and tools the test suite talks to; the RAPL readers of tests/readers.sh
# (s-tui, and prometheus/procfs built from Debian's Go source package); clang for the fuzz smoke run.
test_packages=(prometheus prometheus-node-exporter busybox-static curl python3 xz-utils cpio openssl file
               s-tui golang-go golang-github-prometheus-procfs-dev
               libxml2-utils python3-yaml   # libvirt's schema check and the manifests (kubevirt-hook.sh)
               openipmi                     # ipmi_sim, the BMC the platform meter reads (tests/ipmi.sh)
               clang libclang-rt-dev)   # libFuzzer, for scripts/fuzz.sh

# Debian packages and the RPM spec (scripts/build-deb.sh, tests/packages.sh): debhelper and lintian,
# mmdebstrap for clean roots of other releases, python3-apparmor to read libvirtd's profile, rpm.
# podman and runc build and run the Kubernetes images from the packages (tests/images.sh).
package_packages=(debhelper dpkg-dev fakeroot lintian mmdebstrap python3-apparmor rpm rpmlint podman runc)

case "${1:-build}" in
  build) want=("${build_packages[@]}") ;;
  package) want=("${build_packages[@]}" "${package_packages[@]}") ;;
  libvirt) want=("${libvirt_packages[@]}") ;;
  test) want=("${build_packages[@]}" "${libvirt_packages[@]}" "${test_packages[@]}" "${package_packages[@]}") ;;
  *) echo "usage: install-deps.sh build|libvirt|package|test" >&2; exit 2 ;;
esac

missing=()
for package in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages already installed"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt's output goes by as usual. When it fails, the last line names the packages and gives apt's
# own reason (its "E:" lines), so that a caller can show that one line (scripts/demo.sh does).
apt_log=$(mktemp)
trap 'rm -f "$apt_log"' EXIT
# (pipefail: the pipeline fails when apt does.)
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } 2>&1 | tee "$apt_log"; then
  echo "install-deps: cannot install ${missing[*]}: $(grep '^E: ' "$apt_log" | tr '\n' ' ' | sed 's/ $//')" >&2
  exit 1
fi
