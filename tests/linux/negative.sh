#!/usr/bin/env bash
# Negative tests with real Debian kernels (run on the host: they fail before
# the guest runs): each gives one "minivmm: ..." line, status 1, no crash.
# Usage: negative.sh MINIVMM BZIMAGE VMLINUX
set -u
MINIVMM=$1
BZ=$2
VMLINUX=$3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

# Every case here is a `minivmm run` (refuse: tests/lib.sh).
linux_refuse() {
	local name=$1 pattern=$2
	shift 2
	refuse "$name" "$pattern" run "$@"
}

# patch FILE OFFSET HEXBYTES: overwrite bytes in place.
patch() { printf "$(echo "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none; }

head -c 4096 "$BZ" >"$T_TMP/bz-4k"
head -c 600 "$BZ" >"$T_TMP/bz-600"
head -c 4096 "$VMLINUX" >"$T_TMP/vmlinux-4k"
cp "$BZ" "$T_TMP/bz-magic" && patch "$T_TMP/bz-magic" 0x202 58585858
cp "$BZ" "$T_TMP/bz-old" && patch "$T_TMP/bz-old" 0x206 0502
head -c $((100 << 20)) /dev/zero >"$T_TMP/initrd-100M"
echo x >"$T_TMP/initrd"
long=$(head -c 5000 /dev/zero | tr '\0' x)

linux_refuse linux-truncated-4k "truncated kernel" --kernel "$T_TMP/bz-4k"
linux_refuse linux-truncated-600 "truncated kernel" --kernel "$T_TMP/bz-600"
linux_refuse linux-truncated-vmlinux "truncated" --kernel "$T_TMP/vmlinux-4k"
linux_refuse linux-wrong-magic "neither an ELF executable nor a Linux kernel" --kernel "$T_TMP/bz-magic"
linux_refuse linux-protocol-too-old "protocol 2.05 is older than 2.06" --kernel "$T_TMP/bz-old"
linux_refuse linux-initrd-too-big "initrd .* does not fit.*raise --mem" --kernel "$BZ" --initrd "$T_TMP/initrd-100M" --mem 128M
linux_refuse linux-initrd-too-big-pvh "initrd .* does not fit.*raise --mem" --kernel "$VMLINUX" --initrd "$T_TMP/initrd-100M" --mem 128M
linux_refuse linux-cmdline-too-long "command line is 5000 bytes, longer than .* 2047" --kernel "$BZ" --cmdline "$long"
linux_refuse linux-cmdline-too-long-pvh "command line is 5000 bytes, longer than .* 2047" --kernel "$VMLINUX" --cmdline "$long"
linux_refuse linux-initrd-missing "cannot open /nonexistent/initrd" --kernel "$BZ" --initrd /nonexistent/initrd
linux_refuse linux-kernel-too-big-for-mem "raise --mem" --kernel "$BZ" --initrd "$T_TMP/initrd" --mem 16M
linux_refuse linux-on-bare-platform "a Linux kernel needs the PC platform" --kernel "$BZ" --platform bare

# On a kvm_pvm host (this one) a Linux boot cannot work: minivmm says so at
# once instead of hanging silently.  Elsewhere (the vmhost) it says nothing.
timeout -k 5 3 "$MINIVMM" run --kernel "$BZ" --serial none </dev/null >/dev/null 2>"$T_TMP/pvm.err"
if [ -e /sys/module/kvm_pvm ] && ! grep -q "KVM is kvm_pvm" "$T_TMP/pvm.err"; then
	not_ok linux-pvm-note "no note on a kvm_pvm host: $(head -c 300 "$T_TMP/pvm.err")"
elif [ ! -e /sys/module/kvm_pvm ] && grep -q "kvm_pvm" "$T_TMP/pvm.err"; then
	not_ok linux-pvm-note "a kvm_pvm note on another host"
else
	ok linux-pvm-note
fi
