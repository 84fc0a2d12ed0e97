#!/usr/bin/env bash
# Test disk images (ext4, made with mkfs.ext4 -d from e2fsprogs; no root needed)
# for minivmm's virtio-blk, as read by mkinitrd.sh's guest_test= modes.
# Usage: mkdisk.sh data OUT.img [SIZE_MIB]   (default 64)
#          known.bin: a fixed 3 MiB text whose every 512-byte sector differs
#          (a misplaced sector changes its sum), known.sha256 beside it;
#          prints known.bin's sha256, also written to OUT.img.sha256
#        mkdisk.sh root OUT.img [SIZE_MIB]   (default 32)
#          a root file system: static busybox with its applet links and a
#          /sbin/init that prints "MINIVMM-ROOT-OK ..." and powers off
#          (or, with minivmm_wait in the boot arguments, prints
#          MINIVMM-ROOT-WAIT and waits)
#          (booted with root=/dev/vda: mkinitrd.sh's /init switch_roots to it)
# The images are sparse; gzip them to carry them into the vmhost.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { sed -n 4,10p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 2 && $# -le 3 ]] || usage
kind="$1" out="$2" size="${3:-}"
PATH="$PATH:/sbin:/usr/sbin"
command -v mkfs.ext4 >/dev/null ||
    { echo "mkdisk.sh: mkfs.ext4 missing (Debian package e2fsprogs)" >&2; exit 1; }

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
case "$kind" in
    data)
        size="${size:-64}"
        # 3 MiB of 98304 numbered 32-byte lines: no two sectors alike.
        seq -f 'minivmm known.bin line %08g' 0 98303 >"$dir/known.bin"
        (cd "$dir" && sha256sum known.bin >known.sha256)
        label=minivmm-data
        ;;
    root)
        size="${size:-32}"
        # shellcheck source=../vmhost/fetch.sh
        . "$HERE/../vmhost/fetch.sh"
        vmhost_fetch
        mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,mnt}
        cp "$VMHOST_BUSYBOX" "$dir/bin/busybox"
        for f in $("$VMHOST_BUSYBOX" --list-full); do
            [[ -e "$dir/$f" ]] || ln -s /bin/busybox "$dir/$f"
        done
        rm -f "$dir/sbin/init"   # busybox's init applet: replaced below
        echo "minivmm-rootfs" >"$dir/etc/minivmm-rootfs"
        cat >"$dir/sbin/init" <<'EOF'
#!/bin/sh
# minivmm test root file system: PID 1 after mkinitrd.sh's /init switch_root.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
[ -c /dev/null ] || mount -t devtmpfs dev /dev
root=$(awk '$2 == "/" { r = $1 " " $3 } END { print r }' /proc/mounts)
echo "MINIVMM-ROOT-OK pid=$$ root=${root% *} fstype=${root#* } image=$(cat /etc/minivmm-rootfs)"
if echo "$(date +%s)" >/root/last-boot && sync; then echo "MINIVMM-ROOT-OK writable"; else
    echo "MINIVMM-ROOT-FAIL root not writable"; fi
# minivmm_wait in the boot arguments: stay up until the VMM ends the VM
# (tests/linux/fc.sh: pause, resume, Ctrl-Alt-Del).
case " $(cat /proc/cmdline) " in
*" minivmm_wait "*)
    echo "MINIVMM-ROOT-WAIT"
    # minivmm_readvdc: read vdc (4 KiB, O_DIRECT) over and over in the
    # background (fc.sh measures a rate limit on it through the metrics).
    case " $(cat /proc/cmdline) " in *" minivmm_readvdc "*)
        while :; do dd if=/dev/vdc of=/dev/null bs=4096 iflag=direct 2>/dev/null; done & ;;
    esac
    # A second drive's size as the guest sees it, each time it changes
    # (fc.sh swaps its medium for a bigger one).
    last=
    while :; do
        n=$(cat /sys/block/vdb/size 2>/dev/null)
        [ -n "$n" ] && [ "$n" != "$last" ] && echo "MINIVMM-ROOT-VDB-SIZE $n" && last=$n
        sleep 0.5
    done ;;
esac
poweroff -f
EOF
        chmod 755 "$dir/sbin/init"
        label=minivmm-root
        ;;
    *) usage ;;
esac

mkdir -p "$(dirname "$out")"
rm -f "$out"
mkfs.ext4 -q -F -b 4096 -L "$label" -E root_owner=0:0,nodiscard -d "$dir" "$out" "${size}M" >/dev/null
if [[ "$kind" == data ]]; then
    cut -d' ' -f1 "$dir/known.sha256" | tee "$out.sha256"
fi
