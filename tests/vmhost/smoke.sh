#!/usr/bin/env bash
# vmhost smoke test. On the host: builds kvmcheck, boots the vmhost with this same
# file as its SCRIPT (where VMHOST=1: uname, /dev/kvm probe), then boots a Linux
# guest with QEMU/KVM inside the vmhost (qemu-in-vmhost.sh; skip with --quick).
set -eu
if [ "${VMHOST:-}" = 1 ]; then   # inside the vmhost (busybox sh, cwd /work)
    echo "vmhost: uname -r: $(uname -r), init reached at uptime $(cut -d' ' -f1 /proc/uptime) s"
    grep -q -w svm /proc/cpuinfo && echo "vmhost: cpu has svm$(grep -q -w npt /proc/cpuinfo && echo ' + npt')"
    ./kvmcheck
    echo "SMOKE-OK"
    exit 0
fi
set -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$HERE/../../build/vmhost"
mkdir -p "$OUT"
gcc -static -O2 -Wall -o "$OUT/kvmcheck" "$HERE/kvmcheck.c"
"$HERE/vmhost.sh" run -t 300 -f "$OUT/kvmcheck" "$HERE/smoke.sh"
[ "${1:-}" = --quick ] || "$HERE/qemu-in-vmhost.sh" -t 300
