#!/usr/bin/env bash
# Build a small busybox initramfs for a Linux GUEST of minivmm (or QEMU): its /init
# prints MINIVMM-GUEST-INIT-OK, cmdline/cpus/memtotal, then acts on guest_test=
# (or switches to root=/dev/vdX).
# Usage: mkinitrd.sh OUT.cpio.gz [--init FILE] [--modules-from DIR]... [--modules LIST] [--file SRC:DEST]...
#   --init FILE          FILE replaces the default /init (kept as /init.default)
#   --modules-from DIR   DIR is an unpacked Debian kernel package (DIR/lib/modules/KVER),
#                        or `generic` / `cloud` for fetch.sh's two kernels; repeatable,
#                        so one image serves several kernels.  The modules in LIST that
#                        this kernel does not build in, with their depends= and
#                        `softdep=pre:` closure (read from each .ko's .modinfo), go to
#                        /lib/modules/KVER/NAME.ko (decompressed) with a load-order file;
#                        /init insmods those of `uname -r` before anything else.
#   --modules LIST       roots of that closure (default: "virtio_mmio virtio_blk
#                        virtio_rng virtio_net ext4"); names as in depends= (- or _ alike)
#   --file SRC:DEST      copy SRC into the image as DEST (executable); repeatable
# Without --modules-from the image has no modules (as before).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=fetch.sh
. "$HERE/fetch.sh"

usage() { sed -n 5,5p "$0" | sed 's/^# Usage: /usage: /' >&2; exit 2; }
die() { echo "mkinitrd.sh: $*" >&2; exit 1; }

out="" init_file="" mod_roots=() files=() mod_list="virtio_mmio virtio_blk virtio_rng virtio_net ext4"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --init) init_file="${2:?--init needs a FILE}"; shift 2 ;;
        --modules-from) mod_roots+=("${2:?--modules-from needs a DIR}"); shift 2 ;;
        --modules) mod_list="${2:?--modules needs a LIST}"; shift 2 ;;
        --file) files+=("${2:?--file needs SRC:DEST}"); shift 2 ;;
        -*) usage ;;
        *) out="$1"; shift ;;
    esac
done
[[ -n "$out" ]] || usage
vmhost_fetch

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,mnt}
cp "$VMHOST_BUSYBOX" "$stage/bin/busybox"
for f in $("$VMHOST_BUSYBOX" --list-full); do
    [[ -e "$stage/$f" ]] || ln -s /bin/busybox "$stage/$f"
done
mknod "$stage/dev/console" c 5 1 2>/dev/null || true
for f in "${files[@]+"${files[@]}"}"; do
    mkdir -p "$stage/$(dirname "${f#*:}")"
    cp "${f%%:*}" "$stage/${f#*:}"
    chmod 755 "$stage/${f#*:}"
done

# ---- kernel modules ---------------------------------------------------------
# modname FILE: module name of a .ko[.xz|.zst|.gz] path (dashes as underscores).
modname() { local n="${1##*/}"; n="${n%.xz}"; n="${n%.zst}"; n="${n%.gz}"; n="${n%.ko}"; echo "${n//-/_}"; }
# modinfo_field KO FIELD: the values of FIELD in an uncompressed .ko's .modinfo.
modinfo_field() {
    if command -v objcopy >/dev/null; then
        objcopy -O binary -j .modinfo "$1" /dev/stdout 2>/dev/null
    else
        cat "$1"   # .modinfo strings are NUL-terminated "key=value"
    fi | tr '\0' '\n' | sed -n "s/^$2=//p"
}
# unpack SRC DST: a module file, decompressed.
unpack() {
    case "$1" in
        *.xz) xz -dc "$1" ;; *.zst) zstd -qdc "$1" ;; *.gz) gzip -dc "$1" ;; *) cat "$1" ;;
    esac >"$2"
}

# add_modules DIR: the closure of $mod_list for the kernel unpacked in DIR.
add_modules() {
    local root="$1" kver moddir dest f n
    case "$root" in
        generic) root="$VMHOST_GENERIC_ROOT" ;;
        cloud) root="$VMHOST_CLOUD_ROOT" ;;
    esac
    [[ -d "$root/lib/modules" ]] || die "--modules-from $1: no lib/modules in $root"
    kver="$(ls "$root/lib/modules" | head -n1)"
    moddir="$root/lib/modules/$kver"
    dest="$stage/lib/modules/$kver"
    mkdir -p "$dest"
    local -A path=() builtin=() state=()
    local order=()
    # name: as modname, without a subshell per file (thousands of them).
    while IFS= read -r f; do
        n="${f##*/}"; n="${n%.xz}"; n="${n%.zst}"; n="${n%.gz}"; n="${n%.ko}"
        path[${n//-/_}]="$f"
    done < <(cd "$moddir" && find . \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \) | sed 's|^\./||')
    if [[ -f "$moddir/modules.builtin" ]]; then
        while IFS= read -r f; do
            n="${f##*/}"; n="${n%.ko}"
            builtin[${n//-/_}]=1
        done <"$moddir/modules.builtin"
    fi
    # has_alias NAME ALIAS: module NAME (a file of this kernel) declares ALIAS.
    has_alias() {
        [[ -n "${path[$1]-}" ]] || return 1
        unpack "$moddir/${path[$1]}" "$stage/.probe.ko"
        modinfo_field "$stage/.probe.ko" alias | grep -xF "$2" >/dev/null
    }
    # alias_of ALIAS: the module providing ALIAS ("" if built in or unknown);
    # a *_generic module is preferred (e.g. crc32c_generic over crc32c_intel).
    alias_of() {
        local a="$1" c g
        [[ -n "${path[${a//-/_}]-}" ]] && { echo "${a//-/_}"; return; }
        [[ -n "${builtin[${a//-/_}]-}" ]] && return
        if [[ -f "$moddir/modules.builtin.modinfo" ]] &&
            tr '\0' '\n' <"$moddir/modules.builtin.modinfo" | grep "^[^.]*\.alias=${a}\$" >/dev/null; then
            return
        fi
        if [[ -f "$moddir/modules.alias" ]]; then
            c="$(awk -v a="$a" '$1 == "alias" && $2 == a { print $3 }' "$moddir/modules.alias")"
        else
            # No depmod output.  The usual crypto naming first (crypto-X is
            # provided by X_generic or X), then every module (slow).
            g="${a#crypto-}"; g="${g//-/_}"
            for c in "${g}_generic" "$g"; do has_alias "$c" "$a" && { echo "$c"; return; }; done
            c=""
            for g in "${!path[@]}"; do has_alias "$g" "$a" && c="$c $g"; done
        fi
        # shellcheck disable=SC2086 # one candidate a word
        c="$(printf '%s\n' $c | sed '/^$/d' | sort -u)"
        g="$(grep '_generic$' <<<"$c" || true)"
        [[ -z "$g" ]] || c="$g"
        echo "${c%%$'\n'*}"
    }
    # visit NAME: NAME's softdep pre: and depends= first, then NAME.
    visit() {
        local n="${1//-/_}" d w pre=0
        case "${state[$n]-}" in
            done) return ;;
            busy) die "$kver: dependency cycle through $n" ;;
        esac
        if [[ -z "${path[$n]-}" ]]; then
            [[ -n "${builtin[$n]-}" ]] && { state[$n]="done"; return; }
            die "$kver: module $n is neither a module nor built in"
        fi
        state[$n]=busy
        unpack "$moddir/${path[$n]}" "$dest/$n.ko"
        for w in $(modinfo_field "$dest/$n.ko" softdep); do
            case "$w" in
                pre:) pre=1 ;; post:) pre=0 ;;
                *) ((pre)) || continue
                   d="$(alias_of "$w")"
                   [[ -z "$d" ]] || visit "$d" ;;
            esac
        done
        for d in $(modinfo_field "$dest/$n.ko" depends | tr ',' ' '); do visit "$d"; done
        state[$n]="done"
        order+=("$n")
    }
    for n in $mod_list; do visit "$n"; done
    rm -f "$stage/.probe.ko"
    printf '%s\n' "${order[@]+"${order[@]}"}" >"$dest/load-order"
    echo "mkinitrd.sh: $kver: ${order[*]-(none: all built in)}" >&2
}
for r in "${mod_roots[@]+"${mod_roots[@]}"}"; do add_modules "$r"; done

# Default /init. Output goes to /dev/console (= ttyS0 with console=ttyS0).
# guest_test=MODE (default poweroff) picks what it does after the lines above;
# the block-device modes print "MINIVMM-<MODE>-OK ..." lines with their values,
# or "MINIVMM-<MODE>-FAIL why", then power off:
#   blk       mount /dev/vda (ext4), check known.bin against known.sha256, write
#             small/odd/big.bin (urandom) with NAME.sha256 beside, sync, remount
#             with caches dropped and check them again
#   blkcheck  every NAME.sha256 on /dev/vda still matches (a later boot)
#   ro        /dev/vdb: /sys/block/vdb/ro is 1, a raw write and a file write fail,
#             its known.bin reads back
#   serial    the serial of every /dev/vd*
#   trim      write, delete, fstrim -v /dev/vda's file system
#   mq        the number of blk-mq queues of /dev/vda
#   durable   write + sync durable.bin, print its sum, sleep (for a SIGKILL)
#   rng       hw_random's rng_current and 64 bytes read from /dev/hwrng
#   vsock     the vsockbg=A,B,C words run "/bin/vsock-guest A B C" in the
#             background, the vsock= words in the foreground, in order;
#             each line it prints as MINIVMM-VSOCK-OK LINE
#   net       net_if=MAC,ADDR/PREFIX,PEER (one per interface): bring the
#             interface with that MAC up with ADDR, ping PEER (and with
#             MTU > 1500 a ping of MTU - 28 bytes); net_tcp=HOST: 64 MiB
#             (net_mb=N) to HOST:5001 and from HOST:5002 with busybox nc,
#             the SHA-256 of each printed
#   shell, reboot, poweroff (as before)
# root=/dev/vdX on the command line: mount it and switch_root to its /sbin/init
# (any other root= is ignored, as before).
# /lib/load-modules.sh, sourced by /init (and by the benchmarks' own inits,
# bench/*.sh): the modules of this kernel (--modules-from), in the order found
# at build time; one already loaded is fine, any other failure gets one line.
# Sets $mods to those it loaded.
mkdir -p "$stage/lib"
cat >"$stage/lib/load-modules.sh" <<'EOF'
mods=
kmods=/lib/modules/$(uname -r)
if [ -s "$kmods/load-order" ]; then
    while read -r m; do
        if e=$(insmod "$kmods/$m.ko" 2>&1); then mods="$mods $m"; else
            case "$e" in *"File exists"*) ;; *) echo "MINIVMM-MODULE-FAIL $m: $e" ;; esac
        fi
    done <"$kmods/load-order"
fi
EOF
# /lib/if-by-mac.sh: if_by_mac MAC sets $dev to the interface with that MAC
# address, waiting up to 5 s for its driver (the net mode below, and
# bench/net.sh's init).
cat >"$stage/lib/if-by-mac.sh" <<'EOF'
if_by_mac() {
    dev= i=0
    while [ -z "$dev" ] && [ $i -lt 50 ]; do
        for d in /sys/class/net/*; do
            [ "$(cat "$d/address" 2>/dev/null)" = "$1" ] && dev=${d##*/}
        done
        [ -n "$dev" ] || { sleep 0.1; i=$((i + 1)); }
    done
}
EOF
cat >"$stage/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /lib/load-modules.sh
. /lib/if-by-mac.sh
echo "MINIVMM-GUEST-INIT-OK"
echo "cmdline: $(cat /proc/cmdline)"
echo "cpus: $(grep -c '^processor' /proc/cpuinfo)"
echo "memtotal: $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) kB"
[ -z "$mods" ] || echo "modules:$mods"
mode=poweroff root=
for w in $(cat /proc/cmdline); do
    case "$w" in
        guest_test=*) mode="${w#guest_test=}" ;;
        root=/dev/vd*) root="${w#root=}" ;;
    esac
done

M=
okm() { echo "MINIVMM-$M-OK $*"; }
fail() { echo "MINIVMM-$M-FAIL $*"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
# wait_dev DEV: until the block device exists (5 s at most).
wait_dev() {
    i=0
    while [ ! -b "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -b "$1" ] || { fail "no $1"; return 1; }
}
# mnt DEV DIR [OPTS]: mount an ext4 file system.
mnt() {
    mkdir -p "$2"
    e=$(mount -t ext4 ${3:+-o "$3"} "$1" "$2" 2>&1) || { fail "mount $1: $e"; return 1; }
}
# check_sums DIR: every NAME.sha256 in DIR (sha256sum format) against its file.
check_sums() {
    n=0 bad=0
    for m in "$1"/*.sha256; do
        [ -f "$m" ] || continue
        while read -r h f; do
            a=$(sum "$1/$f" 2>/dev/null)
            n=$((n + 1))
            if [ "$a" = "$h" ]; then okm "$f $a"; else fail "$f: sum '$a', expected $h"; bad=$((bad + 1)); fi
        done <"$m"
    done
}

if [ -n "$root" ]; then
    M=ROOT
    if wait_dev "$root" && mnt "$root" /newroot; then
        if [ -x /newroot/sbin/init ]; then
            umount /proc /sys
            [ -d /newroot/dev ] && mount --move /dev /newroot/dev
            exec switch_root /newroot /sbin/init
        fi
        fail "no /sbin/init on $root"
    fi
    poweroff -f
fi

case "$mode" in
    shell)
        mount -t tmpfs tmp /tmp
        setsid cttyhack sh
        poweroff -f ;;
    reboot) reboot -f ;;
    blk)
        M=BLK
        if wait_dev /dev/vda && mnt /dev/vda /mnt; then
            okm "mounted /dev/vda $(awk '$1 == "/dev/vda" { print $3; exit }' /proc/mounts)"
            if [ -f /mnt/known.bin ]; then
                h=$(cut -d' ' -f1 /mnt/known.sha256 2>/dev/null)
                a=$(sum /mnt/known.bin)
                if [ "$a" = "$h" ]; then okm "known.bin $a"; else fail "known.bin: sum $a, known.sha256 says '$h'"; fi
            else
                fail "no known.bin"
            fi
            for spec in small:4096 odd:1048699 big:8388608; do
                f=${spec%%:*}.bin s=${spec#*:}
                dd if=/dev/urandom of=/mnt/$f bs=65536 count=$((s / 65536 + 1)) 2>/dev/null
                truncate -s $s /mnt/$f
                (cd /mnt && sha256sum $f >${f%.bin}.sha256)
                okm "wrote $f $(stat -c %s /mnt/$f) $(sum /mnt/$f)"
            done
            sync
            umount /mnt
            echo 3 >/proc/sys/vm/drop_caches
            if mnt /dev/vda /mnt; then
                for f in small.bin odd.bin big.bin; do
                    a=$(sum /mnt/$f) h=$(cut -d' ' -f1 /mnt/${f%.bin}.sha256)
                    if [ "$a" = "$h" ]; then okm "reread $f $a"; else fail "reread $f: $a, expected $h"; fi
                done
                umount /mnt
                okm "done"
            fi
        fi
        poweroff -f ;;
    blkcheck)
        M=BLKCHECK
        if wait_dev /dev/vda && mnt /dev/vda /mnt; then
            check_sums /mnt
            umount /mnt
            if [ $bad = 0 ]; then okm "done files=$n"; else fail "done files=$n bad=$bad"; fi
        fi
        poweroff -f ;;
    ro)
        M=RO
        if wait_dev /dev/vdb; then
            r=$(cat /sys/block/vdb/ro)
            if [ "$r" = 1 ]; then okm "vdb ro=1"; else fail "vdb ro=$r"; fi
            [ -b /dev/vda ] && okm "vda ro=$(cat /sys/block/vda/ro)"
            if e=$(dd if=/dev/zero of=/dev/vdb bs=4096 count=1 seek=16 conv=fsync 2>&1); then
                fail "raw write to /dev/vdb succeeded"
            else
                okm "raw write refused: $(echo "$e" | head -n1)"
            fi
            if mnt /dev/vdb /mnt ro; then
                if [ -f /mnt/known.bin ]; then okm "vdb known.bin $(sum /mnt/known.bin)"; else fail "no known.bin on vdb"; fi
                if e=$(touch /mnt/new-file 2>&1); then fail "file write on vdb succeeded"; else
                    okm "file write refused: $e"; fi
                umount /mnt
            fi
        fi
        poweroff -f ;;
    serial)
        M=SERIAL
        found=0
        for d in /sys/block/vd*; do
            [ -e "$d" ] || continue
            found=1
            if s=$(cat "$d/serial" 2>&1); then okm "${d##*/} serial=$s"; else fail "${d##*/}: $s"; fi
        done
        [ $found = 1 ] || fail "no /sys/block/vd*"
        poweroff -f ;;
    trim)
        M=TRIM
        if wait_dev /dev/vda && mnt /dev/vda /mnt; then
            okm "discard_max_bytes=$(cat /sys/block/vda/queue/discard_max_bytes)"
            dd if=/dev/urandom of=/mnt/trim.bin bs=1048576 count=16 2>/dev/null
            sync
            rm /mnt/trim.bin
            sync
            if e=$(fstrim -v /mnt 2>&1); then
                okm "trimmed=$(echo "$e" | sed -n 's/^.*[: (]\([0-9][0-9]*\) bytes)\{0,1\} trimmed.*$/\1/p' | head -n1)"
            else
                fail "fstrim: $e"
            fi
            sync
            umount /mnt
        fi
        poweroff -f ;;
    mq)
        M=MQ
        if wait_dev /dev/vda; then
            okm "vda queues=$(ls /sys/block/vda/mq/ | wc -l) cpus=$(grep -c '^processor' /proc/cpuinfo)"
        fi
        poweroff -f ;;
    durable)
        M=DURABLE
        if wait_dev /dev/vda && mnt /dev/vda /mnt; then
            dd if=/dev/urandom of=/mnt/durable.bin bs=65536 count=16 2>/dev/null
            (cd /mnt && sha256sum durable.bin >durable.sha256)
            sync
            okm "synced durable.bin $(sum /mnt/durable.bin)"
            sleep 600
        fi
        poweroff -f ;;
    rng)
        M=RNG
        cur=$(cat /sys/class/misc/hw_random/rng_current 2>&1)
        n=$(timeout 20 head -c 64 /dev/hwrng 2>/dev/null | wc -c)
        case "$cur" in
            virtio_rng*) [ "$n" = 64 ] && okm "current=$cur bytes=$n" || fail "current=$cur bytes=$n" ;;
            *) fail "current=$cur bytes=$n" ;;
        esac
        poweroff -f ;;
    net)
        M=NET
        ifs= tcp= mb=64
        for w in $(cat /proc/cmdline); do
            case "$w" in
                net_if=*) ifs="$ifs ${w#net_if=}" ;;
                net_tcp=*) tcp="${w#net_tcp=}" ;;
                net_mb=*) mb="${w#net_mb=}" ;;
            esac
        done
        ip link set lo up
        for spec in $ifs; do
            mac=${spec%%,*} rest=${spec#*,}
            addr=${rest%%,*} peer=${rest#*,}
            if_by_mac "$mac"
            [ -n "$dev" ] || { fail "no interface with MAC $mac"; continue; }
            ip addr add "$addr" dev "$dev" && ip link set "$dev" up
            mtu=$(cat "/sys/class/net/$dev/mtu")
            okm "$dev mac=$mac mtu=$mtu driver=$(basename "$(readlink "/sys/class/net/$dev/device/driver")")"
            if ping -c 3 -w 30 "$peer" >/dev/null 2>&1; then okm "$dev ping $peer"; else fail "$dev ping $peer"; fi
            if [ "$mtu" -gt 1500 ]; then
                s=$((mtu - 28))
                if ping -c 2 -w 30 -s $s "$peer" >/dev/null 2>&1; then okm "$dev ping $peer size $s"; else fail "$dev ping $peer size $s"; fi
            fi
        done
        if [ -n "$tcp" ]; then
            mount -t tmpfs tmp /tmp
            # 1 MiB of random bytes mb times: no disk, little memory.
            dd if=/dev/urandom of=/tmp/r bs=1048576 count=1 2>/dev/null
            mkfifo /tmp/f /tmp/g
            sha256sum </tmp/f >/tmp/sum &
            i=0
            while [ $i -lt "$mb" ]; do cat /tmp/r; i=$((i + 1)); done | tee /tmp/f | nc "$tcp" 5001
            wait
            okm "sent $((mb * 1048576)) sha256=$(cut -d' ' -f1 /tmp/sum)"
            # nc reads the console meanwhile: no end of input, so it
            # does not half-close before the host has sent everything.
            wc -c </tmp/g >/tmp/n &
            s=$(nc "$tcp" 5002 | tee /tmp/g | sha256sum | cut -d' ' -f1)
            wait
            okm "received $(cat /tmp/n) sha256=$s"
        fi
        poweroff -f ;;
    vsock)
        M=VSOCK
        vsock_run() {
            { /bin/vsock-guest "$@" 2>&1; echo "vsock-status $?"; } |
                while read -r l; do
                    case "$l" in
                        "vsock-status 0") ;;
                        "vsock-status "*) fail "$*: status ${l#vsock-status }" ;;
                        *) okm "$l" ;;
                    esac
                done
        }
        [ -e /dev/vsock ] || fail "no /dev/vsock"
        for w in $(cat /proc/cmdline); do
            case "$w" in
                vsockbg=*) vsock_run $(echo "${w#vsockbg=}" | tr , ' ') & ;;
                vsock=*) vsock_run $(echo "${w#vsock=}" | tr , ' ') ;;
            esac
        done
        poweroff -f ;;
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
