#!/usr/bin/env bash
# Reference/benchmark helper: boot a Linux guest with the host's QEMU under KVM
# *inside* the vmhost (nested SVM) and time start -> MINIVMM-GUEST-INIT-OK marker.
# Usage: qemu-in-vmhost.sh [-k KERNEL] [-i INITRD] [-M microvm|q35] [-g GUEST_MB]
#          [-c GUEST_CPUS] [-a EXTRA_APPEND] [-n RUNS] [-m VMHOST_MEM] [-t TIMEOUT_S]
# Defaults: cloud kernel, mkinitrd.sh initramfs, microvm, 256 MiB, 1 cpu, 1 run.
# Prints per run: "QEMU-IN-VMHOST run=I marker_ms=N exit_ms=N rc=N"; exits 0 if all ok.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=fetch.sh
. "$HERE/fetch.sh"
vmhost_fetch

kernel="$VMHOST_CLOUD_KERNEL" initrd="" machine=microvm gmem=256 gcpus=1
append="" runs=1 vmem=2G timeout=600
while getopts "k:i:M:g:c:a:n:m:t:h" opt; do
    case "$opt" in
        k) kernel="$OPTARG" ;; i) initrd="$OPTARG" ;; M) machine="$OPTARG" ;;
        g) gmem="$OPTARG" ;; c) gcpus="$OPTARG" ;; a) append="$OPTARG" ;;
        n) runs="$OPTARG" ;; m) vmem="$OPTARG" ;; t) timeout="$OPTARG" ;;
        *) sed -n 4,7p "$0" >&2; exit 2 ;;
    esac
done
if [[ -z "$initrd" ]]; then
    initrd="$VMHOST_CACHE/guest-initrd.cpio.gz"
    "$HERE/mkinitrd.sh" "$initrd"
fi
# microvm: rtc=on, else the guest's rtc_cmos probe of absent ports costs ~4 s
# nested; guest reboot needs reboot=t in -a there (no i8042/ACPI reset).
case "$machine" in
    microvm) mach="-M microvm,rtc=on -bios /usr/share/qemu/qboot.rom" ;;
    q35) mach="-M q35" ;;
    *) echo "qemu-in-vmhost: unknown machine $machine" >&2; exit 2 ;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$kernel" "$tmp/guest-vmlinuz"
cp "$initrd" "$tmp/guest-initrd"
# Script run inside the vmhost (busybox sh, cwd /work).
cat >"$tmp/test.sh" <<EOF
set -u
# QEMU finds its data dir relative to its binary: restore the host layout
# (mv within the rootfs is a rename).
mkdir -p /usr/bin /usr/share
mv /work/qemu-system-x86_64 /usr/bin/ && mv /work/qemu /work/seabios /usr/share/
# now_ms: monotonic ms since boot (/proc/timer_list has ns; /proc/uptime only 10 ms).
now_ms() { awk '/^now at/ { printf "%d\n", \$3 / 1000000; exit }' /proc/timer_list; }
echo "QEMU-IN-VMHOST vmhost_init_ms=\$(now_ms)"
fails=0
for i in \$(seq 1 $runs); do
    t0=\$(now_ms)
    { qemu-system-x86_64 $mach -accel kvm -cpu host -smp $gcpus -m $gmem \\
        -nodefaults -display none -serial stdio -no-reboot \\
        -kernel guest-vmlinuz -initrd guest-initrd \\
        -append "console=ttyS0 quiet panic=-1 guest_test=poweroff $append" </dev/null
      echo \$? >/tmp/qrc; } 2>&1 | while IFS= read -r line; do
        echo "\$line"
        case "\$line" in *MINIVMM-GUEST-INIT-OK*) echo \$((\$(now_ms) - t0)) >/tmp/marker ;; esac
    done
    t1=\$(now_ms)
    rc=\$(cat /tmp/qrc); m=\$(cat /tmp/marker 2>/dev/null || echo -1); rm -f /tmp/marker
    echo "QEMU-IN-VMHOST run=\$i marker_ms=\$m exit_ms=\$((t1 - t0)) rc=\$rc"
    [ "\$rc" = 0 ] && [ "\$m" != -1 ] || fails=\$((fails + 1))
done
exit \$fails
EOF
"$HERE/vmhost.sh" run -m "$vmem" -t "$timeout" -f "$(command -v qemu-system-x86_64)" \
    -f /usr/share/qemu -f /usr/share/seabios \
    -f "$tmp/guest-vmlinuz" -f "$tmp/guest-initrd" "$tmp/test.sh"
