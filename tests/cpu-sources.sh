#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The two CPU-time sources against each other and against the truth (issue 24): two vpowerds,
# one counting VMs' CPU time with the BPF sched_switch program, one from /proc, over the same
# stand-in VMs (tests/helpers/vp-threads.c): threads pinned and free, threads that come and go,
# and one thread that alternates between two CPUs which a sysfs fixture puts in two packages.
# Then BPF's program across a kill -9 and a restart, and vpowerd without the capabilities BPF needs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

vp_require_root
command -v bpftool >/dev/null || vp_skip_or_fail "no bpftool (to list the loaded BPF programs)"
command -v setpriv >/dev/null || vp_skip_or_fail "no setpriv (util-linux)"
[ "$(nproc)" -ge 2 ] || vp_skip_or_fail "needs two CPUs"
vp_setup_workdir
vp_plan 18

# Two packages of one CPU each, CPU 0 and CPU 1, both at 50 W (core 20 W, dram 5 W).
for cpu in 0 1; do
  mkdir -p "$work/sysfs/devices/system/cpu/cpu$cpu/topology"
  echo $cpu >"$work/sysfs/devices/system/cpu/cpu$cpu/topology/physical_package_id"
done
cp -R "$abs_top_srcdir/tests/data/powercap/dual-dram" "$work/dual"
powercap=$work/dual/class/powercap
"$VP_FAKE_RAPL" "$powercap" intel-rapl:0=50 intel-rapl:0:0=20 intel-rapl:0:1=5 \
  intel-rapl:1=50 intel-rapl:1:0=20 intel-rapl:1:1=5 & pids+=($!)

# The stand-in VMs wait for SIGUSR1, run for 6 s, write what they ran, and idle.
declare -A vm_pid
start_vm () { "$VP_THREADS" "$work/$1.out" "${@:2}" & pids+=($!); vm_pid[$1]=$!; }
start_vm pinned steady 6 2 pinned 0.4
start_vm free steady 6 2 free 0.4
start_vm churn churn 6
start_vm alternate alternate 6 0.3
: >"$work/vms.ini"
n=0
for vm in pinned free churn alternate; do
  n=$((n + 1))
  printf '[%s]\nuuid=00000000-0000-4000-8000-00000000000%d\npid=%d\n' "$vm" $n "${vm_pid[$vm]}" >>"$work/vms.ini"
done

# capacity: a VM's energy on a package is the package's power x its CPU time there, so its
# energy per package shows where it ran.
common=(--sensor powercap --powercap-root "$powercap" --sysfs-root "$work/sysfs" --policy capacity
        --inventory "static:$work/vms.ini" --allow-fast-updates --interval 0.5)
# as SOURCE CMD...: runs CMD against that source's vpowerd.
as () { local source=$1; shift; VP_URL=${url[$source]} VP_PID=${pid[$source]} "$@"; }
declare -A url pid
for source in bpf proc; do
  vp_start_vpowerd "$work/$source.log" "${common[@]}" --cpu-source $source --state-dir "$work/state-$source" \
    --runtime-dir "$work/run-$source" || { echo "Bail out! vpowerd --cpu-source $source did not start"; exit 1; }
  url[$source]=$VP_URL pid[$source]=$VP_PID
  pids+=("$VP_PID")
done
VP_PID=
used () { vp_get "${url[$1]}/api/v1/host" | vp_json 'd["cpu_source"]'; }
status_line () { "$abs_top_builddir/vpowerctl" --socket "$work/run-$1/control.sock" status | grep '^cpu time'; }
[ "$(used bpf)" = bpf ] && [ "$(used proc)" = proc ] &&
  vp_get "${url[bpf]}/metrics" | grep -x 'vpower_cpu_source_info{source="bpf"} 1' >/dev/null &&
  status_line bpf | grep -q '^cpu time   bpf (a sched_switch program: per CPU)$' &&
  status_line proc | grep -q '^cpu time   proc (/proc: per thread'
vp_ok $? "each says which source it counts with: /api/v1/host cpu_source, vpower_cpu_source_info and vpowerctl status ($(status_line bpf))"

# Both have sampled the idle VMs before they start, and again after they stop: each then counted
# all of what they ran. (/proc finds the time of threads that came and went between two ticks in
# the process's total, which it reads every 10 ticks: hence 12 ticks after.)
for source in bpf proc; do as $source vp_wait_for 20 vp_ticks_at_least 2; done
# The CPU time the hypervisor below stole from this machine meanwhile (/proc/stat's steal, in
# USER_HZ ticks): a clock charges it to whatever ran, the kernel's count of run time does not.
steal_ticks () { awk '/^cpu / { print $9 }' /proc/stat; }
steal0=$(steal_ticks)
kill -USR1 "${vm_pid[@]}"
all_done () { for vm in "${!vm_pid[@]}"; do [ -s "$work/$vm.out" ] || return 1; done; }
vp_wait_for 60 all_done || echo "Bail out! the stand-in VMs did not finish"
steal_ms=$(( ($(steal_ticks) - steal0) * 1000 / $(getconf CLK_TCK) ))
for source in bpf proc; do
  ticks=$(as $source vp_ticks)
  as $source vp_wait_for 30 vp_ticks_at_least $((ticks + 12))
done

# vm_figure SOURCE VM: "CPU_SECONDS PACKAGE0_J PACKAGE1_J" as that vpowerd counted them.
vm_figure () {
  vp_get "${url[$1]}/api/v1/vms" | vp_json "' '.join(str(x) for v in d['vms'] if v['name'] == '$2'
    for x in (v['cpu_seconds'], [z['total_uj'] for z in v['zones'] if z['index'] == '0'][0] / 1e6,
              [z['total_uj'] for z in v['zones'] if z['index'] == '1'][0] / 1e6))"
}
truth () { awk '{ print $1 / 1e9 }' "$work/$1.out"; }
within () { python3 -c "import sys; a, b, tol = map(float, sys.argv[1:]); sys.exit(0 if abs(a - b) <= tol * max(abs(b), 1e-9) else 1)" "$@"; }

for vm in pinned free; do
  read -r bpf_s _ _ < <(vm_figure bpf $vm)
  read -r proc_s _ _ < <(vm_figure proc $vm)
  vp_diag "$vm: ran $(truth $vm) s; BPF counted $bpf_s s, /proc $proc_s s"
  within "$bpf_s" "$proc_s" 0.02
  vp_ok $? "threads $vm: BPF and /proc agree on the VM's CPU time within 2% ($bpf_s s, $proc_s s)"
  # Like with like: BPF counts the kernel's own run time (se.sum_exec_runtime, what the threads'
  # CLOCK_THREAD_CPUTIME_ID reads), not the clock between switches, which counts stolen time too.
  # Within 0.5% and 20 ms of what they ran (the process's other threads add a little; a tick of a
  # loaded, sanitized engine shifts a little), however much was stolen: a clock would have
  # counted the steal on top.
  python3 -c "import sys; b, t = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(b - t) <= t * 0.005 + 0.02 else 1)" \
    "$bpf_s" "$(truth $vm)"
  vp_ok $? "threads $vm: BPF charges the VM the run time the kernel counted for its threads, not the clock ($bpf_s s for $(truth $vm) s; the hypervisor stole $steal_ms ms of this machine's CPUs meanwhile)"
done

read -r bpf_s _ _ < <(vm_figure bpf churn)
read -r proc_s _ _ < <(vm_figure proc churn)
vp_diag "churn: ran $(truth churn) s; BPF counted $bpf_s s, /proc $proc_s s"
within "$bpf_s" "$(truth churn)" 0.02
vp_ok $? "threads that come and go: BPF loses none of their time (within 2% of the $(truth churn) s they ran: $bpf_s s)"
within "$proc_s" "$(truth churn)" 0.02
vp_ok $? "and neither does /proc (within 2%: $proc_s s), exited threads' time coming from the process's total"

# The alternating thread: its share on package 0, as it measured it and as each source charged it.
read -r _ on0 on1 <"$work/alternate.out"
true_share=$(python3 -c "print($on0 / ($on0 + $on1))")
share () { vm_figure "$1" alternate | awk '{ printf "%.4f", $2 / ($2 + $3) }'; }
bpf_share=$(share bpf) proc_share=$(share proc)
vp_diag "alternate: truly $true_share of its time on package 0; BPF charged it $bpf_share, /proc $proc_share"
python3 -c "import sys; sys.exit(0 if abs($bpf_share - $true_share) <= 0.02 else 1)"
vp_ok $? "a thread alternating between packages: BPF charges each package its true share within 2% ($bpf_share of $true_share)"

vp_books_conserve "${url[bpf]}" 6 && vp_books_conserve "${url[proc]}" 6
vp_ok $? "the books conserve to the µJ on every zone with either source"

# BPF's program and maps are the engine's: a kill -9 leaves none behind.
# programs PID: "PROG_ID MAP_ID..." of the sched_switch program that process holds, from its
# descriptors' fdinfo (bpftool here cannot list a program's owners).
programs () {
  local prog maps
  prog=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u |
         while read -r id; do bpftool prog show id "$id" 2>/dev/null | grep 'name vp_sched_switch' >/dev/null && echo "$id"; done)
  maps=$(grep -h '^map_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u | tr '\n' ' ')
  [ -n "$prog" ] && echo "$prog $maps"
}
read -r prog_id map_ids < <(programs "${pid[bpf]}")
before=$(vp_get "${url[bpf]}/api/v1/vms" | vp_json "sorted((v['name'], v['cpu_seconds']) for v in d['vms'])")
kill -9 "${pid[bpf]}"; wait "${pid[bpf]}" 2>/dev/null
gone () {
  ! bpftool prog show id "$prog_id" >/dev/null 2>&1 || return 1
  for map in $map_ids; do ! bpftool map show id "$map" >/dev/null 2>&1 || return 1; done
}
[ -n "$prog_id" ] && vp_wait_for 20 gone
vp_ok $? "kill -9: the engine's program (id ${prog_id:-none}) and its maps (${map_ids:-none}) are freed with it"

vp_start_vpowerd "$work/bpf-again.log" "${common[@]}" --cpu-source bpf --state-dir "$work/state-bpf" \
  --runtime-dir "$work/run-bpf" || sed 's/^/# restarted: /' "$work/bpf-again.log"
url[bpf]=$VP_URL pid[bpf]=$VP_PID
pids+=("$VP_PID")
read -r new_id _ < <(programs "${pid[bpf]}")
[ -n "$new_id" ] || { vp_diag "no program found among the descriptors of $VP_PID:"; grep -H '' /proc/"$VP_PID"/fdinfo/* | grep -E 'prog_id|link_id' | sed 's/^/# /'; }
after=$(vp_get "${url[bpf]}/api/v1/vms" | vp_json "sorted((v['name'], v['cpu_seconds']) for v in d['vms'])")
python3 -c "
before, after = $before, $after
import sys; sys.exit(0 if [n for n, _ in before] == [n for n, _ in after] and all(a >= b for (_, b), (_, a) in zip(before, after)) else 1)" &&
  [ -n "$new_id" ] && [ "$new_id" != "$prog_id" ]
vp_ok $? "restarted, it loads a program of its own (id ${new_id:-none}) and no VM's CPU time goes back"

# A change of source across a kill -9, each way: what the VM ran while no vpowerd counted is
# charged to it, exactly as /proc says it ran (the burner frozen at both ends, so that both ends
# are known to the nanosecond), and the books still conserve.
"$VP_BURN" 0.5 & pids+=($!); burner=$!
printf '[burn]\nuuid=00000000-0000-4000-8000-0000000000aa\npid=%d\n' $burner >"$work/burn.ini"
switch_common=(--sensor powercap --powercap-root "$powercap" --sysfs-root "$work/sysfs" --inventory "static:$work/burn.ini"
               --allow-fast-updates --interval 0.5 --state-dir "$work/state-switch" --runtime-dir "$work/run-switch")
burn_cpu () { vp_get "$VP_URL/api/v1/vms" | vp_json 'd["vms"][0]["cpu_seconds"]'; }
ran_ns () { awk '{ s += $1 } END { printf "%.0f\n", s }' /proc/$burner/task/*/schedstat; }
vp_start_vpowerd "$work/switch-1.log" "${switch_common[@]}" --cpu-source proc; pids+=("$VP_PID")
vp_wait_for 20 vp_ticks_at_least 3
for to in bpf proc; do
  vp_freeze_burners $burner
  counted0=$(burn_cpu) ran0=$(ran_ns) from=$(vp_get "$VP_URL/api/v1/host" | vp_json 'd["cpu_source"]')
  kill -9 "$VP_PID"; wait "$VP_PID" 2>/dev/null
  vp_thaw_burners $burner
  sleep 2   # the work done while no vpowerd counts: a duration, not a wait for anything
  kill -STOP $burner
  ran1=$(ran_ns)
  vp_start_vpowerd "$work/switch-$to.log" "${switch_common[@]}" --cpu-source $to; pids+=("$VP_PID")
  vp_wait_for 20 vp_ticks_at_least 2
  counted1=$(burn_cpu)
  vp_thaw_burners $burner
  vp_diag "$from -> $to: ran $(( (ran1 - ran0) / 1000000 )) ms while no vpowerd counted; charged $(python3 -c "print(round(($counted1 - $counted0) * 1000))") ms"
  python3 -c "import sys; sys.exit(0 if abs(($counted1 - $counted0) - ($ran1 - $ran0) / 1e9) <= 0.02 * ($ran1 - $ran0) / 1e9 else 1)" &&
    [ "$(vp_get "$VP_URL/api/v1/host" | vp_json 'd["cpu_source"]')" = $to ]
  vp_ok $? "cpu-source $from -> $to across a kill -9: the VM is charged what it ran meanwhile, within 2%"
  vp_wait_for 20 vp_ticks_at_least 3
done
vp_books_conserve "$VP_URL" 6
vp_ok $? "and after both changes the books conserve to the µJ"

# Without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN: auto falls back to /proc, says why, and counts.
: >"$work/empty.conf"
setpriv --bounding-set=-bpf,-perfmon,-sys_admin --inh-caps=-bpf,-perfmon,-sys_admin \
  "$VPOWERD" --once --config "$work/empty.conf" --sensor powercap --powercap-root "$powercap" \
  --sysfs-root "$work/sysfs" --inventory "static:$work/burn.ini" >"$work/nocaps.json" 2>"$work/nocaps.err"
status=$?
vp_diag "$(grep 'cpu time' "$work/nocaps.err")"
[ $status -eq 0 ] && grep -q 'cpu time: from /proc, not BPF: cannot load the sched_switch program: not permitted' "$work/nocaps.err"
vp_ok $? "without CAP_BPF and CAP_PERFMON, cpu-source=auto falls back to /proc with one line that says why"
vp_json 'd["host"]["cpu_source"] == "proc" and d["vms"][0]["cpu_seconds"] > 0' <"$work/nocaps.json" | grep -qx True
vp_ok $? "and the API says proc, and the VM's CPU time is counted"
setpriv --bounding-set=-bpf,-perfmon,-sys_admin --inh-caps=-bpf,-perfmon,-sys_admin \
  "$VPOWERD" --once --cpu-source bpf --config "$work/empty.conf" --sensor powercap --powercap-root "$powercap" \
  --sysfs-root "$work/sysfs" --inventory "static:$work/burn.ini" >/dev/null 2>"$work/nocaps-bpf.err"
status=$?
[ $status -eq 1 ] && grep -q '^vpowerd: cpu-source=bpf: cannot load the sched_switch program: not permitted' "$work/nocaps-bpf.err"
vp_ok $? "and cpu-source=bpf is refused with the reason (status $status)"

# In a PID namespace of its own, with its own /proc (a host "namespace" of tests/processes-migration.sh,
# a container): the program's PIDs are the initial namespace's, not these. auto falls back to /proc,
# and the VM, known by its PID there, is counted.
unshare --pid --fork --mount-proc bash -c '
  "$1" 0.5 & burn=$!
  printf "[inns]\nuuid=00000000-0000-4000-8000-0000000000bb\npid=%d\n" $burn >"$2/ns.ini"
  "$3" --once --config "$2/empty.conf" --sensor powercap --powercap-root "$4" --sysfs-root "$2/sysfs" \
    --inventory "static:$2/ns.ini" >"$2/ns.json" 2>"$2/ns.err"
  status=$?
  kill $burn
  exit $status' _ "$VP_BURN" "$work" "$VPOWERD" "$powercap"
status=$?
[ $status -eq 0 ] && grep -q 'cpu time: from /proc, not BPF: vpowerd runs in a PID namespace of its own' "$work/ns.err" &&
  vp_json 'd["host"]["cpu_source"] == "proc" and d["vms"][0]["cpu_seconds"] > 0' <"$work/ns.json" | grep -qx True
vp_ok $? "in a PID namespace of its own, cpu-source=auto uses /proc, says why, and counts the VM there"
vp_finish
