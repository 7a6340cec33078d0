# SPDX-License-Identifier: GPL-2.0-or-later
# Checks of one VM's powercap tree, sourced by every test that serves one: vpowerd's mount
# (tests/fuse-layout.sh) and the guest agent's own (tests/agent-channel.sh, and in a real guest
# tests/agent-guest.sh). Each takes the VM's directory, so both trees meet the same checks.

# The expected listing of a VM directory, from a fixture's zones and the kernel's naming rule:
# child zone "intel-rapl:0:1" lives at intel-rapl/intel-rapl:0/intel-rapl:0:1, and has a flat
# symlink at the top. ZONES_DIR holds the fixture's intel-rapl:* entries.
vp_tree_expected_layout () {
  local zones_dir=$1 owner=$2 zone index nested part component
  {
  echo "d 555 $owner intel-rapl"
  echo "f 444 $owner intel-rapl/enabled"
  echo "l 777 $owner intel-rapl/subsystem"
  for zone in $(cd "$zones_dir" && ls -d intel-rapl:*); do
    index=${zone#intel-rapl:}
    nested=intel-rapl
    part=
    for component in ${index//:/ }; do
      part=${part:+$part:}$component
      nested=$nested/intel-rapl:$part
    done
    echo "l 777 $owner $zone"
    echo "d 555 $owner $nested"
    echo "f 444 $owner $nested/enabled"
    echo "f 400 $owner $nested/energy_uj"
    echo "f 444 $owner $nested/max_energy_range_uj"
    echo "f 444 $owner $nested/name"
  done
  } | sort
}

vp_tree_actual_layout () { (cd "$1" && find . -mindepth 1 -printf '%y %m %U:%G %P\n' | sort); }

# Writes of every kind under VM_DIR are refused with EROFS or EACCES and leave nothing behind.
vp_tree_writes_refused () {
  python3 - "$1" <<'PY'
import errno, os, sys
vm = sys.argv[1]
f = f"{vm}/intel-rapl/intel-rapl:0/energy_uj"
attempts = {
    "write energy_uj": lambda: os.open(f, os.O_WRONLY),
    "truncate": lambda: os.truncate(f, 0),
    "create": lambda: os.open(f"{vm}/new", os.O_CREAT | os.O_WRONLY, 0o644),
    "mkdir": lambda: os.mkdir(f"{vm}/dir"),
    "chmod": lambda: os.chmod(f, 0o666),
    "chown": lambda: os.chown(f, 0, 0),
    "setxattr": lambda: os.setxattr(f, "user.x", b"1"),
    "unlink": lambda: os.unlink(f"{vm}/intel-rapl:0"),
    "rmdir": lambda: os.rmdir(f"{vm}/intel-rapl"),
    "rename": lambda: os.rename(f"{vm}/intel-rapl:0", f"{vm}/intel-rapl:7"),
    "symlink": lambda: os.symlink("/etc/passwd", f"{vm}/evil"),
    "utime": lambda: os.utime(f),
}
bad = 0
for what, attempt in attempts.items():
    try:
        attempt()
        print(f"# {what}: succeeded"); bad += 1
    except OSError as e:
        if e.errno not in (errno.EROFS, errno.EACCES):
            print(f"# {what}: {errno.errorcode.get(e.errno)}"); bad += 1
sys.exit(bad)
PY
}

# Unknown names under VM_DIR are ENOENT, and every symlink stays inside VM_DIR.
vp_tree_paths_contained () {
  python3 - "$1" <<'PY'
import errno, os, sys
vm = os.path.realpath(sys.argv[1])
bad = 0
for path, want in [("intel-rapl:9/energy_uj", errno.ENOENT), ("nope", errno.ENOENT),
                   ("intel-rapl/intel-rapl:0:0", errno.ENOENT),
                   ("intel-rapl:0/energy_uj/x", errno.ENOTDIR), ("a" * 300, errno.ENOENT)]:
    try:
        os.stat(f"{vm}/{path}"); print(f"# {path}: exists"); bad += 1
    except OSError as e:
        if e.errno != want:
            print(f"# {path}: {errno.errorcode.get(e.errno)}"); bad += 1
for dirpath, dirnames, filenames in os.walk(vm):
    for name in dirnames + filenames:
        p = os.path.join(dirpath, name)
        if os.path.islink(p):
            target = os.path.realpath(p)
            # intel-rapl/subsystem leads to the VM's root itself.
            if target != vm and not target.startswith(f"{vm}/"):
                print(f"# {p} -> {target} leaves the VM's directory"); bad += 1
sys.exit(bad)
PY
}

# The mount at DIR is read-only, nosuid, nodev and noexec, readable by other users' processes
# (allow_other) under the files' modes (default_permissions).
vp_tree_mount_options () {
  local options o
  options=$(awk -v m="$1" '$2 == m {print $4}' /proc/mounts)
  for o in ro nosuid nodev noexec allow_other default_permissions; do
    [[ ",$options," == *",$o,"* ]] || { echo "# missing mount option $o in $options"; return 1; }
  done
}
