#!/usr/bin/env bash
# Fetch + unpack the Debian kernels and busybox used by the vmhost tests (cached
# in build/vmhost/{debs,root-*}); checks host tools (--install installs them).
# Run it to print KEY=VALUE paths, or `source` it and call `vmhost_fetch [--install]`
# to get VMHOST_* exported.

vmhost_fetch() {
    local here top cache install=0 a
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    top="$(cd "$here/../.." && pwd)"
    cache="${VMHOST_CACHE:-$top/build/vmhost}"
    for a in "$@"; do
        case "$a" in
            --install) install=1 ;;
            *) echo "fetch.sh: unknown argument: $a" >&2; return 2 ;;
        esac
    done

    # Host tools: Debian package names.
    local p missing=()
    for p in qemu-system-x86 cpio xz-utils zstd lz4 busybox-static; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        if ((install)); then
            echo "fetch.sh: installing ${missing[*]}" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "fetch.sh: missing host packages: ${missing[*]} (rerun with --install)" >&2
            return 1
        fi
    fi

    mkdir -p "$cache/debs"
    # real_pkg META: the versioned package a meta package depends on.
    real_pkg() {
        apt-cache depends "$1" 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1
    }
    # fetch_unpack PKG ROOTNAME: download PKG's .deb (if not cached) and unpack it
    # into $cache/ROOTNAME (if not done for this exact .deb).
    fetch_unpack() {
        local pkg="$1" root="$cache/$2" deb
        deb="$(ls -t "$cache/debs/${pkg}"_*.deb 2>/dev/null | head -n1 || true)"
        if [[ -z "$deb" ]]; then
            (cd "$cache/debs" &&
                apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
                { echo "fetch.sh: apt-get download $pkg failed" >&2; return 1; }
            deb="$(ls -t "$cache/debs/${pkg}"_*.deb | head -n1)"
        fi
        if [[ "$(cat "$root/.deb" 2>/dev/null)" != "$(basename "$deb")" ]]; then
            rm -rf "$root" && mkdir -p "$root"
            dpkg -x "$deb" "$root"
            basename "$deb" >"$root/.deb"
        fi
    }
    local kpkg cpkg
    kpkg="$(real_pkg linux-image-amd64)"
    cpkg="$(real_pkg linux-image-cloud-amd64)"
    # Offline / no apt lists: fall back to whatever is cached.
    [[ -n "$kpkg" ]] || kpkg="$(cd "$cache/debs" && ls linux-image-6.1.*-amd64_*.deb 2>/dev/null |
        grep -v cloud | head -n1 | cut -d_ -f1)"
    [[ -n "$cpkg" ]] || cpkg="$(cd "$cache/debs" && ls linux-image-6.1.*-cloud-amd64_*.deb 2>/dev/null |
        head -n1 | cut -d_ -f1)"
    [[ -n "$kpkg" && -n "$cpkg" ]] ||
        { echo "fetch.sh: cannot resolve kernel packages (apt-get update?)" >&2; return 1; }
    fetch_unpack "$kpkg" root-amd64
    fetch_unpack "$cpkg" root-cloud-amd64
    fetch_unpack busybox-static root-busybox

    local kver moddir
    kver="$(ls "$cache/root-amd64/lib/modules" | head -n1)"
    moddir="$cache/root-amd64/lib/modules/$kver"
    # The .deb ships no modules.dep (depmod runs in postinst): generate it.
    [[ -s "$moddir/modules.dep" ]] ||
        "$cache/root-busybox/bin/busybox" depmod -b "$cache/root-amd64" "$kver"

    # Uncompressed ELF vmlinux (PVH entry) from the bzImage's xz payload: QEMU/TCG
    # boots it ~2 s faster than vmlinuz, which spends that time decompressing.
    local vmlinuz off
    vmlinuz="$(ls "$cache"/root-amd64/boot/vmlinuz-* | head -n1)"
    if [[ ! -s "$cache/root-amd64/vmlinux" ]]; then
        off="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1 || true)"
        if [[ -n "$off" ]]; then   # xz complains about the trailing bytes: ignore
            tail -c +$((off + 1)) "$vmlinuz" | xz -dcq >"$cache/vmlinux.tmp" 2>/dev/null || true
            [[ "$(head -c4 "$cache/vmlinux.tmp" | od -An -c | tr -d ' ')" == '177ELF' ]] &&
                mv "$cache/vmlinux.tmp" "$cache/root-amd64/vmlinux"
            rm -f "$cache/vmlinux.tmp"
        fi
    fi

    VMHOST_CACHE="$cache"
    VMHOST_KVER="$kver"
    VMHOST_KERNEL="$vmlinuz"
    VMHOST_VMLINUX="$vmlinuz"   # falls back to the bzImage
    [[ -s "$cache/root-amd64/vmlinux" ]] && VMHOST_VMLINUX="$cache/root-amd64/vmlinux"
    VMHOST_MODDIR="$moddir"
    VMHOST_CLOUD_KERNEL="$(ls "$cache"/root-cloud-amd64/boot/vmlinuz-* | head -n1)"
    VMHOST_GENERIC_KERNEL="$VMHOST_KERNEL"
    VMHOST_BUSYBOX="$cache/root-busybox/bin/busybox"
    # The unpacked kernel packages (lib/modules/KVER/...): mkinitrd.sh --modules-from.
    VMHOST_GENERIC_ROOT="$cache/root-amd64"
    VMHOST_CLOUD_ROOT="$cache/root-cloud-amd64"
    export VMHOST_CACHE VMHOST_KVER VMHOST_KERNEL VMHOST_VMLINUX VMHOST_MODDIR VMHOST_CLOUD_KERNEL \
        VMHOST_GENERIC_KERNEL VMHOST_BUSYBOX VMHOST_GENERIC_ROOT VMHOST_CLOUD_ROOT
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    vmhost_fetch "$@"
    for v in VMHOST_CACHE VMHOST_KVER VMHOST_KERNEL VMHOST_VMLINUX VMHOST_MODDIR VMHOST_CLOUD_KERNEL \
        VMHOST_GENERIC_KERNEL VMHOST_BUSYBOX VMHOST_GENERIC_ROOT VMHOST_CLOUD_ROOT; do
        echo "$v=${!v}"
    done
fi
