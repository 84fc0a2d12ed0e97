#!/usr/bin/env bash
# vmhost: boot a Debian kernel in QEMU/TCG (nested SVM) with kvm-amd loaded, so
# the guest has a real /dev/kvm; run a script there and exit with its status.
# Usage: vmhost.sh run [-m MEM] [-t TIMEOUT_S] [-f FILE|DIR]... [-l LIB]... SCRIPT
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=fetch.sh
. "$HERE/fetch.sh"

usage() { sed -n 2,4p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "vmhost: $*" >&2; exit 125; }

MODULES="irqbypass ccp kvm kvm-amd"   # load order

# /init of the vmhost initramfs. @MODULES@ is substituted.
INIT='#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb VMHOST=1
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts
fail() {
    echo "VMHOST-ERROR: $*"
    grep -q -w svm /proc/cpuinfo || echo "VMHOST-ERROR: no svm flag in /proc/cpuinfo"
    echo "--- dmesg tail ---"; dmesg | tail -n 25
    echo "VMHOST-STATUS 125"; poweroff -f
}
for m in @MODULES@; do
    insmod /lib/modules/vmhost/$m.ko 2>&1 || fail "insmod $m failed"
done
[ -c /dev/kvm ] || fail "/dev/kvm missing after loading kvm-amd"
cd /work
sh /test.sh </dev/console
echo "VMHOST-STATUS $?"
poweroff -f
'

# build_base: cached base initramfs (busybox + kvm modules + /init), padded to
# 512 bytes so that an uncompressed cpio can be appended. Prints its path.
build_base() {
    local deps key out stage m dep f
    # Module files to pack, dependencies first (from modules.dep).
    deps=()
    add_mod() {   # add_mod RELPATH: add a module and (first) its dependencies
        local rel="$1" d
        for d in $(sed -n "s|^$rel: *||p" "$VMHOST_MODDIR/modules.dep"); do add_mod "$d"; done
        [[ " ${deps[*]-} " == *" $rel "* ]] || deps+=("$rel")
    }
    for m in $MODULES; do
        f="$(grep -E "^[^:]*/${m}\.ko(\.xz|\.zst)?:" "$VMHOST_MODDIR/modules.dep" | cut -d: -f1)"
        [[ -n "$f" ]] || die "module $m not found in $VMHOST_MODDIR/modules.dep"
        add_mod "$f"
    done
    key="$( { cat "$VMHOST_CACHE"/root-amd64/.deb "$VMHOST_CACHE"/root-busybox/.deb
              echo "$INIT $MODULES ${deps[*]}"; } | sha256sum | cut -c1-16)"
    out="$VMHOST_CACHE/base-$key.cpio.gz"
    if [[ ! -s "$out" ]]; then
        stage="$(mktemp -d "$VMHOST_CACHE/stage.XXXXXX")"
        mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,work,root,lib/modules/vmhost}
        cp "$VMHOST_BUSYBOX" "$stage/bin/busybox"
        for f in $("$VMHOST_BUSYBOX" --list-full); do
            [[ -e "$stage/$f" ]] || ln -s /bin/busybox "$stage/$f"
        done
        mknod "$stage/dev/console" c 5 1 2>/dev/null || true
        # Plain .ko files named after the module (busybox insmod can't decompress).
        local order=()
        for dep in "${deps[@]}"; do
            m="$(basename "$dep")"; m="${m%.xz}"; m="${m%.zst}"; m="${m%.ko}"
            case "$dep" in
                *.xz) xz -dc "$VMHOST_MODDIR/$dep" ;;
                *.zst) zstd -qdc "$VMHOST_MODDIR/$dep" ;;
                *) cat "$VMHOST_MODDIR/$dep" ;;
            esac >"$stage/lib/modules/vmhost/$m.ko"
            order+=("$m")
        done
        printf '%s' "${INIT//@MODULES@/${order[*]}}" >"$stage/init"
        chmod 755 "$stage/init"
        (cd "$stage" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -6) >"$out.tmp"
        truncate -s %512 "$out.tmp"
        rm -f "$VMHOST_CACHE"/base-*.cpio.gz   # drop stale bases
        mv "$out.tmp" "$out"
        rm -rf "$stage"
    fi
    echo "$out"
}

# add_file SRC DEST-IN-STAGE: copy a file/dir; add shared libs of dynamic ELFs.
add_file() {
    local src="$1" dst="$2" f lib
    mkdir -p "$(dirname "$dst")"
    cp -rL "$src" "$dst"
    while IFS= read -r -d '' f; do
        [[ "$(head -c4 "$f" | od -An -c | tr -d ' ')" == '177ELF' ]] || continue
        ldd "$f" >/dev/null 2>&1 || continue   # static, or not an executable ELF
        for lib in $(ldd "$f" | grep -o '/[^ ]*'); do
            [[ -e "$STAGE$lib" ]] || { mkdir -p "$STAGE$(dirname "$lib")"; cp -L "$lib" "$STAGE$lib"; }
        done
    done < <(find "$dst" -type f -print0)
}

# add_lib LIB: a shared library a program loads with dlopen (ldd cannot see
# it) at its own path in the vmhost, with the libraries it needs.
add_lib() {
    local lib
    for lib in "$1" $(ldd "$1" | grep -o '/[^ ]*'); do
        [[ -e "$STAGE$lib" ]] || { mkdir -p "$STAGE$(dirname "$lib")"; cp -L "$lib" "$STAGE$lib"; }
    done
}

cmd_run() {
    local mem=2G timeout=600 files=() libs=() script opt base rc status
    OPTIND=1
    while getopts "m:t:f:l:h" opt; do
        case "$opt" in
            m) mem="$OPTARG" ;; t) timeout="$OPTARG" ;; f) files+=("$OPTARG") ;;
            l) libs+=("$OPTARG") ;; *) usage ;;
        esac
    done
    shift $((OPTIND - 1))
    [[ $# -eq 1 ]] || usage
    script="$1"
    [[ -f "$script" ]] || die "no such script: $script"

    vmhost_fetch
    base="$(build_base)"
    local tmp; tmp="$(mktemp -d "${TMPDIR:-/tmp}/vmhost.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    STAGE="$tmp/stage"
    mkdir -p "$STAGE/work"
    cp "$script" "$STAGE/test.sh"
    for f in "${files[@]+"${files[@]}"}"; do
        [[ -e "$f" ]] || die "no such file: $f"
        add_file "$f" "$STAGE/work/$(basename "$f")"
    done
    for f in "${libs[@]+"${libs[@]}"}"; do
        [[ -e "$f" ]] || die "no such library: $f"
        add_lib "$f"
    done
    # Per-run part: uncompressed cpio appended to the cached base.
    cp "$base" "$tmp/initrd"
    (cd "$STAGE" && find . | cpio -o -H newc -R 0:0 --quiet) >>"$tmp/initrd"

    # -cpu max under TCG exposes svm+npt (no extra flags needed). qboot is quieter
    # and faster than SeaBIOS; the ELF vmlinux (PVH) skips in-guest decompression.
    # VMHOST_ACCEL/VMHOST_CPU/VMHOST_SMP/VMHOST_APPEND override for experiments.
    set +e
    timeout -k 5 "$timeout" qemu-system-x86_64 -machine q35 -accel "${VMHOST_ACCEL:-tcg,thread=multi}" \
        -cpu "${VMHOST_CPU:-max}" -smp "${VMHOST_SMP:-2}" -m "$mem" -nographic -no-reboot -nodefaults -serial stdio \
        -bios qboot.rom \
        -kernel "$VMHOST_VMLINUX" -initrd "$tmp/initrd" \
        -append "console=ttyS0 quiet panic=-1 mitigations=off ${VMHOST_APPEND:-}" \
        </dev/null 2>&1 | tee "$tmp/log"
    rc="${PIPESTATUS[0]}"
    set -e
    status="$(tr -d '\r' <"$tmp/log" | sed -n 's/^VMHOST-STATUS \([0-9]\{1,3\}\)$/\1/p' | tail -n1)"
    if [[ -n "$status" ]]; then
        [[ "$status" == 125 ]] && grep -q 'VMHOST-ERROR' "$tmp/log" &&
            echo "vmhost: FAILED: kvm setup in the vmhost failed (see VMHOST-ERROR above)" >&2
        exit "$status"
    fi
    [[ "$rc" == 124 || "$rc" == 137 ]] && die "timeout after ${timeout}s (no VMHOST-STATUS marker)"
    die "qemu exited ($rc) without a VMHOST-STATUS marker"
}

case "${1:-}" in
    run) shift; cmd_run "$@" ;;
    *) usage ;;
esac
