#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Print the libvirt domain XML of a test guest built by build-guest.sh.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 5 ]; then
  echo "usage: domain.sh NAME MODE OUTDIR [SHARE_DIR] [9p|virtiofs|channel|controller]" >&2
  exit 2
fi
name=$1 mode=$2 out=$3 share=${4:-} share_type=${5:-9p}

# virtiofsd maps guest memory, so virtiofs needs shared memfd-backed RAM.
memory_backing='' filesystem=''
if [ -n "$share" ]; then
  case $share_type in
    9p)
      filesystem="<filesystem type='mount' accessmode='passthrough'><driver type='path'/><source dir='$share'/><target dir='vpower'/><readonly/></filesystem>" ;;
    virtiofs)
      memory_backing="<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
      # As vpowerctl writes it: libvirt 9.0 rejects <readonly/> on virtiofs (the share is
      # read-only anyway), and no binary path: libvirt finds virtiofsd, and what it can do
      # (migration), through /usr/share/qemu/vhost-user (Debian 12: /usr/lib/qemu/virtiofsd;
      # Debian 13: /usr/libexec/virtiofsd).
      filesystem="<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><binary><cache mode='none'/></binary><source dir='$share'/><target dir='vpower'/></filesystem>" ;;
    *) echo "domain.sh: unknown share type '$share_type'" >&2; exit 2 ;;
  esac
fi
# The channel needs no share directory (pass "" as SHARE_DIR). "controller" is a
# virtio-serial controller without the channel, for hot-plugging it.
case $share_type in
  channel) filesystem="<channel type='unix'><source mode='bind'/><target type='virtio' name='org.vpower.0'/></channel>" ;;
  controller) filesystem="<controller type='virtio-serial' index='0'/>" ;;
esac

# Optional: extra kernel arguments (VP_GUEST_ARGS="vp.reads=12"), and the user QEMU
# runs as (VP_GUEST_DAC_LABEL="+UID:+GID", a static DAC label libvirt does not relabel for).
seclabel=''
[ -z "${VP_GUEST_DAC_LABEL:-}" ] ||
  seclabel="<seclabel type='static' model='dac' relabel='no'><label>$VP_GUEST_DAC_LABEL</label></seclabel>"

# type='qemu' (TCG): /dev/kvm exists on these hosts but KVM guests hang.
cat <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  ${memory_backing}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$out/vmlinux</kernel>
    <initrd>$out/initramfs.gz</initrd>
    <cmdline>console=ttyS0 quiet vp.cmd=$mode ${VP_GUEST_ARGS:-}</cmdline>
  </os>
  <!-- Without it libvirt runs QEMU with ACPI off, and poweroff -f only halts. -->
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <!-- append: a restore (and a migration's destination) would truncate the log otherwise. -->
    <serial type='file'><source path='$out/$name.console' append='on'/><target port='0'/></serial>
    <console type='file'><source path='$out/$name.console' append='on'/><target type='serial' port='0'/></console>
    ${filesystem}
    <memballoon model='none'/>
  </devices>
  ${seclabel}
</domain>
XML
