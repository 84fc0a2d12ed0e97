#!/usr/bin/env bash
# Build a small busybox initramfs for a Linux GUEST of minivmm (or QEMU): its /init
# prints MINIVMM-GUEST-INIT-OK, cmdline/cpus/memtotal, then acts on guest_test=.
# Usage: mkinitrd.sh OUT.cpio.gz [--init FILE]   (FILE replaces the default /init)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=fetch.sh
. "$HERE/fetch.sh"

out="" init_file=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --init) init_file="${2:?--init needs a FILE}"; shift 2 ;;
        -*) echo "usage: mkinitrd.sh OUT.cpio.gz [--init FILE]" >&2; exit 2 ;;
        *) out="$1"; shift ;;
    esac
done
[[ -n "$out" ]] || { echo "usage: mkinitrd.sh OUT.cpio.gz [--init FILE]" >&2; exit 2; }
vmhost_fetch

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root}
cp "$VMHOST_BUSYBOX" "$stage/bin/busybox"
for f in $("$VMHOST_BUSYBOX" --list-full); do
    [[ -e "$stage/$f" ]] || ln -s /bin/busybox "$stage/$f"
done
mknod "$stage/dev/console" c 5 1 2>/dev/null || true

# Default /init. Output goes to /dev/console (= ttyS0 with console=ttyS0).
cat >"$stage/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "MINIVMM-GUEST-INIT-OK"
echo "cmdline: $(cat /proc/cmdline)"
echo "cpus: $(grep -c '^processor' /proc/cpuinfo)"
echo "memtotal: $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) kB"
mode=poweroff
for w in $(cat /proc/cmdline); do
    case "$w" in guest_test=*) mode="${w#guest_test=}" ;; esac
done
case "$mode" in
    shell)
        mount -t tmpfs tmp /tmp
        setsid cttyhack sh
        poweroff -f ;;
    reboot) reboot -f ;;
    *) poweroff -f ;;
esac
EOF
if [[ -n "$init_file" ]]; then
    mv "$stage/init" "$stage/init.default"
    cp "$init_file" "$stage/init"
fi
chmod 755 "$stage"/init*
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9) >"$out.tmp"
mv "$out.tmp" "$out"
