#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build a TCG test guest (uncompressed Debian kernel + busybox initramfs) into OUTDIR, cached.
set -euo pipefail

die () { echo "build-guest: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: build-guest.sh OUTDIR"
mkdir -p "$1"
out=$(cd "$1" && pwd)
self=${BASH_SOURCE[0]}

# Cached: the outputs only depend on this script and the Debian packages.
if [ "$out/vmlinux" -nt "$self" ] && [ "$out/initramfs.gz" -nt "$self" ]; then
  exit 0
fi

# Loaded in this order by /init: each needs the ones before it.
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console
         netfs fscache 9pnet 9pnet_virtio 9p fuse virtiofs)

if [ ! -x /bin/busybox ] || ! file -L /bin/busybox | grep -q 'statically linked'; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends busybox-static >/dev/null \
    || die "apt-get install busybox-static failed"
fi

# The versioned image that the linux-image-amd64 metapackage points at.
# (No `| head` in these pipelines: under pipefail, its SIGPIPE to the writer
# would fail the script.)
pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p')
pkg=${pkg%%$'\n'*}
[ -n "$pkg" ] || die "cannot resolve the kernel package behind linux-image-amd64"

# Keep the extracted kernel per package so a script change does not refetch it,
# unless the list of modules to extract changed.
kdir=$out/$pkg
if [ ! -d "$kdir" ] || [ "$(cat "$kdir/.modules" 2>/dev/null)" != "${modules[*]}" ]; then
  rm -rf "$kdir"
  tmp=$(mktemp -d "$out/fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # The sandbox user _apt cannot write into our private temp dir.
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) \
    || die "apt-get download $pkg failed"
  # Only the kernel and a dozen modules: ~41 MB of the ~430 MB package.
  patterns=('./boot/vmlinuz-*')
  for m in "${modules[@]}"; do patterns+=("./lib/modules/*/$m.ko" "./lib/modules/*/$m.ko.xz"); done
  mkdir "$tmp/x"
  dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp/x" --wildcards "${patterns[@]}" 2>/dev/null || true
  ls "$tmp"/x/boot/vmlinuz-* >/dev/null 2>&1 || die "no boot/vmlinuz-* in $pkg"
  find "$tmp/x" -name '*.ko.xz' -exec xz -d {} +
  echo "${modules[*]}" >"$tmp/x/.modules"
  mv "$tmp/x" "$kdir"
  rm -rf "$tmp"
  trap - EXIT
fi

# PVH boot of the plain ELF vmlinux is about twice as fast as the bzImage
# under TCG. The bzImage carries it as one XZ stream after the setup code;
# --single-stream ignores whatever follows the stream.
# (Process substitution: xz stops reading early and tail's SIGPIPE is no error.)
vmlinuz=$(find "$kdir/boot" -name 'vmlinuz-*' -print -quit)
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | cut -d: -f1 | sed -n 1p)
[ -n "$offset" ] || die "no XZ payload in $vmlinuz"
xz -dc --single-stream < <(tail -c +$((offset + 1)) "$vmlinuz") >"$out/vmlinux.tmp" \
  || die "cannot decompress the XZ payload of $vmlinuz"
file "$out/vmlinux.tmp" | grep -q ELF || die "the payload of $vmlinuz is not an ELF vmlinux"
mv "$out/vmlinux.tmp" "$out/vmlinux"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,mnt,tmp,var/lib,lib/modules}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
# Some modules are built into the Debian kernel; ship only those that are not.
for m in "${modules[@]}"; do
  f=$(find "$kdir/lib/modules" -name "$m.ko" -print -quit)
  [ -z "$f" ] || cp "$f" "$root/lib/modules/"
done

cat >"$root/init" <<INIT
#!/bin/sh
# Test guest init: load the virtio and share modules, then do what vp.cmd= says.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# The initramfs has no /dev/console node, so the kernel gave us no stdio.
exec </dev/console >/dev/console 2>&1
for m in ${modules[*]}; do
  [ -f /lib/modules/\$m.ko ] && insmod /lib/modules/\$m.ko
done

cmd= reads=5 period=1 seconds=15 load=3
for arg in \$(cat /proc/cmdline); do
  case \$arg in
    vp.cmd=*) cmd=\${arg#vp.cmd=} ;;
    vp.reads=*) reads=\${arg#vp.reads=} ;;
    vp.period=*) period=\${arg#vp.period=} ;;
    vp.seconds=*) seconds=\${arg#vp.seconds=} ;;
    vp.load=*) load=\${arg#vp.load=} ;;
  esac
done

read_share () {
  if ! mount "\$@" vpower /mnt; then
    echo "VP-ERROR mount \$*"
    poweroff -f
  fi
  i=0
  while [ \$i -lt \$reads ]; do
    [ \$i -eq 0 ] || sleep \$period
    # A failed read must be visible to the test, not an empty value.
    if v=\$(cat /mnt/intel-rapl:0/energy_uj); then echo "VP-VALUE \$v"; else echo "VP-ERROR read"; fi
    i=\$((i + 1))
  done
  echo VP-DONE
  poweroff -f
}

# agent: the vpower-agent overlay (tests/guest/agent-overlay.sh) is in the
# initramfs. Mount the share as a tenant would, print one sample as JSON,
# then what node_exporter and the agent's exporter read from the bound tree.
run_agent () {
  export PATH=/usr/sbin:/usr/bin:/sbin:/bin
  mkdir -p /tmp /var/lib
  # The exporters listen on loopback, which the kernel leaves down.
  ip link set lo up
  if vpower-agent mount --bind-sysfs; then echo VP-MOUNTED; else echo "VP-ERROR mount"; poweroff -f; fi
  echo VP-JSON-BEGIN
  vpower-agent once --json --interval \$period || echo "VP-ERROR once"
  echo VP-JSON-END
  prometheus-node-exporter --collector.disable-defaults --collector.rapl \\
    --web.listen-address=127.0.0.1:9100 >/tmp/node.log 2>&1 &
  vpower-agent serve --interval 1 >/tmp/agent.log 2>&1 &
  i=0
  until wget -q -O /tmp/node.txt http://127.0.0.1:9100/metrics && wget -q -O /tmp/agent.txt http://127.0.0.1:9783/metrics; do
    i=\$((i + 1)); [ \$i -lt 600 ] || { echo "VP-ERROR exporters"; cat /tmp/node.log /tmp/agent.log; poweroff -f; }
    sleep 0.1
  done
  grep '^node_rapl' /tmp/node.txt | sed 's/^/VP-NODE /'
  grep -E '^(vpower_energy_joules_total|vpower_up)' /tmp/agent.txt | sed 's/^/VP-AGENT /'
  echo VP-DONE
  poweroff -f
}

# demo (scripts/demo.sh): the agent overlay is in the initramfs. Bind the
# share, or the channel's tree, over /sys/class/powercap as a tenant would
# (with the channel, vpower-agent mount stays running: it serves the tree),
# then, for vp.seconds counted from the first sample (a TCG boot takes a
# varying part of the demo's time), print one line per sample of what the
# agent reads there:
#   VP-DEMO <uptime s> <package energy_uj> <package watts> <busy|idle>
# while the CPU alternates busy and idle every vp.load seconds, so that the
# power visibly follows the load. Each sample is "once" over 1 s; the burner
# runs at nice 19 so the sampler keeps its pace on the single vCPU (Debian's
# busybox has renice but no nice).
run_demo () {
  export PATH=/usr/sbin:/usr/bin:/sbin:/bin
  mkdir -p /tmp /var/lib
  ip link set lo up
  if cat /sys/class/virtio-ports/*/name 2>/dev/null | grep -qx org.vpower.0; then
    vpower-agent mount --bind-sysfs >/tmp/mount.log 2>&1 &
    i=0
    until [ -e /sys/class/powercap/intel-rapl:0/energy_uj ]; do
      i=\$((i + 1)); [ \$i -lt 600 ] || { sed 's/^/VP-ERROR /' /tmp/mount.log; echo "VP-ERROR no tree from the channel"; poweroff -f; }
      sleep 0.1
    done
    echo "VP-MOUNT vpower-agent serves the tree from the channel org.vpower.0 over /sys/class/powercap"
  elif ! vpower-agent mount --bind-sysfs >/tmp/mount.log 2>&1; then
    sed 's/^/VP-ERROR /' /tmp/mount.log; echo "VP-ERROR vpower-agent mount --bind-sysfs failed"; poweroff -f
  else
    sed 's/^/VP-MOUNT /' /tmp/mount.log
  fi
  read up _ </proc/uptime
  begin=\${up%.*}
  now=\$begin start= burner=
  while [ -z "\$start" ] || [ \$now -lt \$((start + seconds)) ]; do
    if [ \$(( (now - begin) / load % 2 )) -eq 0 ]; then
      state=busy
      [ -n "\$burner" ] || { sh -c 'while :; do :; done' & burner=\$!; renice 19 \$burner >/dev/null; }
    else
      state=idle
      [ -z "\$burner" ] || { kill \$burner; burner=; }
    fi
    # The agent reads the bound /sys/class/powercap, where unmodified RAPL
    # tools look. The package zone is index "0"; its object ends before the
    # next zone or the "processes" section, which has its own energy_uj.
    if ! vpower-agent once --json --interval 1 --root /sys/class/powercap >/tmp/once.json 2>/tmp/once.err; then
      sed 's/^/VP-ERROR /' /tmp/once.err; echo "VP-ERROR vpower-agent once failed"; poweroff -f
    fi
    sample=\$(awk -F'[:,]' '/"index" :/ { pkg = (\$2 ~ /"0"/) } /"processes" :/ { pkg = 0 }
      pkg && /"energy_uj" :/ { e = \$2; gsub(/ /, "", e) } pkg && /"power_watts" :/ { w = \$2 }
      END { if (e == "") exit 1; printf "%s %.3f", e, w }' /tmp/once.json) ||
      { echo "VP-ERROR no package zone in:"; cat /tmp/once.json; poweroff -f; }
    read up _ </proc/uptime
    now=\${up%.*}
    [ -n "\$start" ] || start=\$now
    echo "VP-DEMO \$up \$sample \$state"
  done
  [ -z "\$burner" ] || kill \$burner
  echo VP-DONE
  poweroff -f
}

# channel (tests/channel-guest.sh): the agent overlay is in the initramfs, and the
# VM has a virtio-serial controller but, at boot, no channel. Start the agent
# as a tenant's unit would, before the port exists; the host hot-plugs the
# channel. Then node_exporter reads the bound tree once, and a reader loop
# prints energy_uj every vp.period seconds for vp.seconds seconds of guest
# time (which stops while the VM is saved).
run_channel () {
  export PATH=/usr/sbin:/usr/bin:/sbin:/bin
  mkdir -p /tmp /var/lib /run
  ip link set lo up
  vpower-agent mount --transport channel --bind-sysfs >/tmp/mount.log 2>&1 &
  echo VP-AGENT-STARTED
  i=0
  until [ -e /sys/class/powercap/intel-rapl:0/energy_uj ]; do
    i=\$((i + 1)); [ \$i -lt 1200 ] || { echo "VP-ERROR no channel"; sed 's/^/VP-LOG /' /tmp/mount.log; poweroff -f; }
    sleep 0.1
  done
  echo VP-CHANNEL \$(cat /sys/class/virtio-ports/*/name)
  prometheus-node-exporter --collector.disable-defaults --collector.rapl \\
    --web.listen-address=127.0.0.1:9100 >/tmp/node.log 2>&1 &
  i=0
  until wget -q -O /tmp/node.txt http://127.0.0.1:9100/metrics; do
    i=\$((i + 1)); [ \$i -lt 600 ] || { echo "VP-ERROR node_exporter"; cat /tmp/node.log; poweroff -f; }
    sleep 0.1
  done
  grep '^node_rapl' /tmp/node.txt | sed 's/^/VP-NODE /'
  read up _ </proc/uptime
  end=\$((\${up%.*} + seconds))
  now=\${up%.*}
  while [ \$now -lt \$end ]; do
    if v=\$(cat /sys/class/powercap/intel-rapl:0/energy_uj); then echo "VP-VALUE \$v"; else echo "VP-ERROR read"; fi
    sleep \$period
    read up _ </proc/uptime
    now=\${up%.*}
  done
  sed 's/^/VP-LOG /' /tmp/mount.log
  cat /run/vpower-agent/channel.status | sed 's/^/VP-STATUS /'
  echo VP-DONE
  poweroff -f
}

# flood (tests/channel-guest.sh): a hostile tenant. It never reads the vpower
# port and writes garbage into it as fast as the port takes it.
run_flood () {
  for port in /sys/class/virtio-ports/*; do
    [ "\$(cat \$port/name 2>/dev/null)" = org.vpower.0 ] && dev=/dev/\${port##*/}
  done
  [ -n "\$dev" ] || { echo "VP-ERROR no org.vpower.0 port"; poweroff -f; }
  echo "VP-FLOOD \$dev"
  while :; do cat /dev/urandom >\$dev 2>/dev/null; done
}

case \$cmd in
  burn) echo VP-READY; while :; do :; done ;;
  agent) run_agent ;;
  channel) run_channel ;;
  flood) run_flood ;;
  demo) run_demo ;;
  read9p) read_share -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 ;;
  readvirtiofs) read_share -t virtiofs ;;
  *) echo "VP-ERROR unknown vp.cmd=\$cmd"; poweroff -f ;;
esac
INIT
chmod +x "$root/init"

(cd "$root" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9 >"$out/initramfs.gz.tmp"
mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
