#!/usr/bin/env bash
# The package under real systemd: builds a minimal Debian 12 image with mmdebstrap, boots it in QEMU
# (TCG emulation: no KVM needed), and inside, under the VM's systemd, installs the .deb and runs the
# scenarios of Tests/vm/guest/run-scenarios.sh (install, configure as docs/INSTALL.md says, start, journal,
# reload, sandbox, watchdog, stop, broken configuration, timer, upgrade, removal). The guest reports facts
# on its second serial port; Tests/vm/check-results.py asserts them here. One boot for all scenarios.
#
#   scripts/build-deb.sh && scripts/vm-test.sh            # the .deb of dist/
#   scripts/vm-test.sh path/to/export-cleanup_X_amd64.deb
#
# Needs root (mmdebstrap builds the root file system as root), network access to a Debian mirror, and
#   apt-get install mmdebstrap qemu-system-x86 qemu-utils e2fsprogs python3
# Never runs systemd on this host: systemd runs only inside the VM.
#
# Environment: MIRROR (default http://deb.debian.org/debian), SECURITY_MIRROR (default
# http://deb.debian.org/debian-security), VM_TIMEOUT seconds for boot and scenarios (default 600; they take
# 3 to 5 minutes on 2 cores), VM_CPUS (2), VM_MEMORY in MiB (1024), KEEP_WORKDIR=1 keeps the image, the
# console log and the results for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
VM_TIMEOUT=${VM_TIMEOUT:-600}
VM_CPUS=${VM_CPUS:-2}
VM_MEMORY=${VM_MEMORY:-1024}

fail() { echo "vm-test: $*" >&2; exit 1; }
step_start=$SECONDS
step() { echo "== vm-test: $* (at $((SECONDS - step_start)) s)"; }

[ "$(id -u)" -eq 0 ] || fail "run as root (mmdebstrap)"
for tool in mmdebstrap qemu-system-x86_64 mkfs.ext4 timeout python3; do
    command -v "$tool" >/dev/null || fail "$tool not found (apt-get install mmdebstrap qemu-system-x86 qemu-utils e2fsprogs python3)"
done

if [ $# -ge 1 ]; then
    deb=$1
else
    debs=(dist/export-cleanup_*_amd64.deb)
    [ -e "${debs[0]}" ] || fail "no dist/export-cleanup_*_amd64.deb: run scripts/build-deb.sh first, or name the .deb"
    [ "${#debs[@]}" -eq 1 ] || fail "several .deb in dist/ (${debs[*]}): name one"
    deb=${debs[0]}
fi
[ -f "$deb" ] || fail "$deb not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/export-cleanup-vm.XXXXXX")
qemu_pid=
cleanup() {
    local rc=$?
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    if [ "${KEEP_WORKDIR:-0}" = 1 ]; then
        echo "vm-test: work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- image
step "mmdebstrap: Debian 12 with systemd, a kernel, procps, sqlite3"
rootfs=$work/rootfs
if ! mmdebstrap --variant=apt --aptopt='APT::Install-Recommends "false"' \
        --include=systemd,systemd-sysv,udev,linux-image-cloud-amd64,procps,sqlite3,libpq5 \
        bookworm "$rootfs" \
        "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
        "deb $SECURITY_MIRROR bookworm-security main" > "$work/mmdebstrap.log" 2>&1; then
    tail -n 40 "$work/mmdebstrap.log"
    fail "mmdebstrap failed (above)"
fi

step "image: the .deb, the scenarios and their runner unit"
install -d -m 0700 "$rootfs/root/vmtest"
install -m 0644 "$deb" "$rootfs/root/vmtest/"
install -m 0755 Tests/vm/guest/run-scenarios.sh "$rootfs/root/vmtest/"
install -m 0644 Tests/vm/guest/export-cleanup-vmtest.service "$rootfs/etc/systemd/system/"
ln -sf /etc/systemd/system/export-cleanup-vmtest.service \
    "$rootfs/etc/systemd/system/multi-user.target.wants/export-cleanup-vmtest.service"
# Timers that would run apt, fstrim or backups during the test: not ours, and slow under emulation.
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer e2scrub_all.timer; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo export-cleanup-vm > "$rootfs/etc/hostname"
cp "$rootfs"/boot/vmlinuz-* "$work/vmlinuz"
cp "$rootfs"/boot/initrd.img-* "$work/initrd.img"
mkfs.ext4 -q -F -L root -d "$rootfs" "$work/root.img" 2G
rm -rf "$rootfs"

# ---- boot
step "boot: qemu-system-x86_64 -accel tcg (timeout ${VM_TIMEOUT} s)"
# -no-reboot: a guest reboot or kernel panic (panic=-1) ends QEMU instead of looping. `timeout` guards a
# guest that hangs, and QEMU itself, which pauses instead of exiting on some emulation errors.
timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 \
    -accel tcg -cpu max -smp "$VM_CPUS" -m "$VM_MEMORY" \
    -nodefaults -display none -no-reboot \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
    -append "console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0" \
    -drive "file=$work/root.img,format=raw,if=virtio" \
    -serial "file:$work/console.log" -serial "file:$work/results.log" &
qemu_pid=$!
set +e
wait "$qemu_pid"
qemu_status=$?
set -e
qemu_pid=
step "the VM has stopped (qemu exit status $qemu_status)"

# ---- results
status=0
python3 "$repo/Tests/vm/check-results.py" "$work/results.log" || status=$?
if [ "$qemu_status" -ne 0 ]; then
    echo "vm-test: QEMU exited with status $qemu_status ($([ "$qemu_status" -eq 124 ] && echo "timeout after ${VM_TIMEOUT} s" || echo error))"
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "---- guest console (last 300 lines)"
    tr -d '\r' < "$work/console.log" | tail -n 300
    echo "---- end of guest console"
    fail "FAILED"
fi
step "passed"
