#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside a clean Debian root (scripts/root.sh run), for tests/packages.sh: installs the vpower
# packages in /debs/v1 with apt, checks what an operator meets, upgrades to /debs/v2 while a
# reader loops on the tree, then removes and purges. Prints one "ok DESCRIPTION" or
# "not ok DESCRIPTION" line per check (tests/packages.sh numbers them) and "# ..." diagnostics.
#   packages-in-root.sh lifecycle
#   packages-in-root.sh libvirt      (installs libvirt-daemon-system and vpower-host from /debs/v2)
# No systemd runs in a root. For the upgrade, a stand-in systemctl (tests/helpers/fake-systemctl)
# plays systemd's part for vpowerd.service so that the maintainer scripts' reload can be seen.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

check () { local description=$1; shift; if "$@"; then echo "ok $description"; else echo "not ok $description"; fi; }
diag () { sed 's/^/# /'; }
# wait_for SECONDS COMMAND...: poll with a deadline.
wait_for () {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.1; done
}
alive () { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
debs () { ls "$1"/*.deb | grep -v dbgsym; }
# running_here NAME: a process runs this root's NAME (the host's processes are visible here too:
# the root shares the host's PID namespace).
running_here () {
  local pid program
  program=$(command -v "$1") || return 1
  for pid in $(pgrep -x "$1"); do
    [ "$(stat -Lc %d:%i "/proc/$pid/exe" 2>/dev/null)" = "$(stat -c %d:%i "$program")" ] && return 0
  done
  return 1
}
# Whatever this script started ends with it, so nothing outlives the root.
trap 'kill $(jobs -p) 2>/dev/null; [ -z "${vp:-}" ] || kill -TERM "$vp" 2>/dev/null; wait' EXIT
# apt runs dpkg with its own PATH (DPkg::Path), which leaves out /usr/local/sbin and with it the
# stand-in systemctl: give it ours.
apt_get () { apt-get -y -q -o DPkg::Path="$PATH" "$@"; }
apt_install () { apt_get install --no-install-recommends "$@" >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log | diag; return 1; }; }

# A fixture RAPL tree whose package zone advances at 10 W, and a busy process as the VM.
fixture () {
  mkdir -p /tmp/rapl/intel-rapl /tmp/rapl/intel-rapl:0
  echo 1 >/tmp/rapl/intel-rapl/enabled
  echo package-0 >/tmp/rapl/intel-rapl:0/name
  echo 262143328850 >/tmp/rapl/intel-rapl:0/max_energy_range_uj
  echo 1 >/tmp/rapl/intel-rapl:0/enabled
  e=1000000
  echo $e >/tmp/rapl/intel-rapl:0/energy_uj
  (while :; do e=$((e + 100000)); echo $e >/tmp/rapl/e.tmp && mv /tmp/rapl/e.tmp /tmp/rapl/intel-rapl:0/energy_uj; sleep 0.01; done) &
  rapl_pid=$!
  (while :; do :; done) &
  vm_pid=$!
  printf '[vm1]\nuuid=11111111-2222-3333-4444-555555555555\npid=%d\n' "$vm_pid" >/tmp/vms.ini
}
vpowerd_args=(--sensor powercap --powercap-root /tmp/rapl --inventory static:/tmp/vms.ini --allow-fast-updates --interval 0.2)

lifecycle () {
  apt-get update -q >/tmp/apt.log 2>&1 || { tail -5 /tmp/apt.log | diag; echo "not ok apt-get update"; return; }
  check "apt installs vpower-host, vpower-agent and vpower-monitoring, with their dependencies from this release" \
    apt_install $(debs /debs/v1)
  ! running_here vpowerd && ! running_here vpower-agent
  status=$?
  check "nothing was started: no systemd runs here" test "$status" -eq 0
  check "the state directory is not there yet, the mount point is, and the hook is linked in libvirt's qemu.d" \
    bash -c '[ ! -e /var/lib/vpowerd ] && [ -d /var/lib/vpower ] && [ "$(readlink -f /etc/libvirt/hooks/qemu.d/vpower)" = /usr/sbin/vpower-hook ]'
  check "man vpowerd and man vpower-agent render" bash -c 'man -P cat vpowerd 2>/dev/null | grep -q "per-VM" && man -P cat vpower-agent 2>/dev/null | grep -q bind-sysfs'

  fixture
  vpowerd --once "${vpowerd_args[@]}" >/tmp/once.json 2>/tmp/once.err
  check "vpowerd --once on fixture RAPL prints the VM's energy" \
    grep -qE '"energy_uj" : [1-9][0-9]*' /tmp/once.json
  grep -E '"name" : "vm1"|"energy_uj"' /tmp/once.json | head -4 | diag
  timeout 5 vpowerd --once --sensor powercap --powercap-root /tmp/rapl >/dev/null 2>/tmp/nolibvirt.err
  check "without libvirtd, vpowerd (inventory=auto) lists QEMU processes and libvirt's VMs once it answers" \
    bash -c "grep -q 'processes: [0-9]* QEMU VMs' /tmp/nolibvirt.err && grep -q 'its VMs are listed once it answers' /tmp/nolibvirt.err"
  timeout 5 vpowerd --once --inventory libvirt --sensor powercap --powercap-root /tmp/rapl >/dev/null 2>/tmp/nolibvirt.err
  check "with inventory=libvirt and no libvirtd, vpowerd says it serves no VMs until libvirt answers" \
    grep -q 'serving no VMs until it answers' /tmp/nolibvirt.err
  vpower-agent once --json --root /tmp/rapl --interval 0.2 >/tmp/agent.json 2>&1
  check "vpower-agent reads a tree" grep -q '"zone" : "package-0"' /tmp/agent.json

  # The hook as libvirt runs it: through the link in qemu.d, with the domain XML on stdin.
  hook=/etc/libvirt/hooks/qemu.d/vpower
  xml="<domain type='qemu'><name>transient1</name><uuid>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid></domain>"
  echo "$xml" | "$hook" transient1 prepare begin - >/tmp/hook.out 2>/tmp/hook.err
  status=$?
  check "the hook with no vpowerd running: exit 0, nothing on stdout (the VM still starts), the reason on stderr" \
    bash -c "[ $status -eq 0 ] && [ ! -s /tmp/hook.out ] && grep -q 'cannot reach vpowerd' /tmp/hook.err"
  vpowerd --foreground "${vpowerd_args[@]}" >/tmp/vpowerd.log 2>&1 &
  vp=$!
  wait_for 20 mountpoint -q /var/lib/vpower
  echo "$xml" | "$hook" transient1 prepare begin - >/tmp/hook.out 2>/tmp/hook.err
  status=$?
  check "the hook, called as libvirt calls it, answers: exit 0, nothing on stdout, and vpowerd makes the VM's directory" \
    bash -c "[ $status -eq 0 ] && [ ! -s /tmp/hook.out ] && [ -d /var/lib/vpower/transient1 ]"
  kill -TERM "$vp"; wait "$vp"
  status=$?
  check "vpowerd stops cleanly on SIGTERM (status $status) and saves its counters in /var/lib/vpowerd" \
    bash -c "[ $status -eq 0 ] && ls /var/lib/vpowerd | grep -q . && ! mountpoint -q /var/lib/vpower"

  # --- the upgrade, with a stand-in systemd for vpowerd.service ---
  mkdir -p /run/systemd/system
  cp /helpers/fake-systemctl /usr/local/sbin/systemctl
  echo 'interval = 0.2' >>/etc/vpower/vpowerd.conf
  # As systemd starts the unit: ExecStart, and the main PID for ExecReload.
  vpowerd --foreground "${vpowerd_args[@]}" >/tmp/vpowerd.log 2>&1 &
  echo $! >/run/vpowerd.mainpid
  vp=$!
  engine_of () { pgrep -P "$vp" | head -n 1; }
  wait_for 20 test -r /var/lib/vpower/vm1/intel-rapl:0/energy_uj
  engine=$(engine_of)
  # The reader a guest's share has: the VM's directory held, energy_uj read again and again.
  (cd /var/lib/vpower/vm1 && while [ ! -e /tmp/stop-reading ]; do
     if v=$(cat intel-rapl:0/energy_uj 2>&1); then echo "value $v"; else echo "error $v"; fi
   done) >/tmp/reads &
  reader=$!
  wait_for 10 bash -c '[ "$(grep -c ^value /tmp/reads)" -ge 20 ]'
  apt_install $(debs /debs/v2)
  check "apt upgrades to the rebuilt packages (version $(dpkg-query -W -f='${Version}' vpower-host))" \
    bash -c '[ "$(dpkg-query -W -f="\${Version}" vpower-host)" = "$(dpkg-deb -f "$(ls /debs/v2/vpower-host_*.deb)" Version)" ]'
  check "the upgrade reloaded vpowerd (try-reload-or-restart) and never stopped or restarted it" \
    bash -c 'grep -q "try-reload-or-restart vpowerd.service" /run/systemctl.log && ! grep -qE "(^| )(stop|restart) vpowerd" /run/systemctl.log'
  diag </run/systemctl.log
  replaced () { local e; e=$(engine_of); [ -n "$e" ] && [ "$e" != "$engine" ]; }
  wait_for 20 replaced && alive "$vp"
  status=$?
  check "the reload replaced the engine ($engine -> $(engine_of)) under the same mount holder" test "$status" -eq 0
  reads_then=$(grep -c ^value /tmp/reads)
  wait_for 10 bash -c "[ \$(grep -c ^value /tmp/reads) -ge $((reads_then + 20)) ]"
  touch /tmp/stop-reading; wait "$reader"
  check "the reader saw no error and no decrease across the upgrade ($(grep -c ^value /tmp/reads) reads)" \
    awk '/^error/ { bad = 1 } /^value/ { if (n++ && $2 < last) bad = 1; last = $2 } END { exit bad || n < 40 }' /tmp/reads
  grep -m3 ^error /tmp/reads | diag
  check "the administrator's change to vpowerd.conf survived the upgrade" grep -qx 'interval = 0.2' /etc/vpower/vpowerd.conf

  # --- remove, then purge ---
  apt_get remove vpower-host >/tmp/apt.log 2>&1
  ! alive "$vp" && [ ! -e /usr/sbin/vpowerd ] && [ ! -L /etc/libvirt/hooks/qemu.d/vpower ] && ! mountpoint -q /var/lib/vpower
  status=$?
  check "remove: prerm stops vpowerd (through systemd), the programs and the hook's link go" test "$status" -eq 0
  check "remove keeps the configuration and the counters (/etc/vpower/vpowerd.conf, /var/lib/vpowerd)" \
    bash -c '[ -f /etc/vpower/vpowerd.conf ] && ls /var/lib/vpowerd | grep -q . && [ "$(dpkg-query -W -f="\${db:Status-Abbrev}" vpower-host)" = "rc " ]'
  apt_get purge vpower-host >/tmp/apt.log 2>&1
  check "purge deletes them too, and the package is gone" \
    bash -c '[ ! -e /etc/vpower/vpowerd.conf ] && [ ! -e /var/lib/vpowerd ] && [ ! -e /var/lib/vpower ] && ! dpkg-query -W vpower-host >/dev/null 2>&1'
  check "vpower-agent and vpower-monitoring stay installed and usable" \
    bash -c 'vpower-agent --version >/dev/null && [ -f /usr/share/vpower/monitoring/prometheus/vpower-rules.yml ]'
  kill "$rapl_pid" "$vm_pid" 2>/dev/null
}

# libvirt's own package, for its AppArmor profile (checked from outside by tests/packages.sh).
# policy-rc.d keeps its init script from starting libvirtd in the root.
libvirt () {
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  apt-get update -q >/tmp/apt.log 2>&1
  # apparmor is installed by default on Debian; it brings the abstractions the profile includes.
  check "apt installs libvirt-daemon-system, apparmor and vpower-host" \
    apt_install libvirt-daemon-system apparmor $(debs /debs/v2 | grep vpower-host)
  check "libvirt-daemon-system ships /etc/apparmor.d/usr.sbin.libvirtd" test -f /etc/apparmor.d/usr.sbin.libvirtd
  echo "# hook: $(readlink -f /etc/libvirt/hooks/qemu.d/vpower)"
  rm -f /usr/sbin/policy-rc.d
}

"$1"
