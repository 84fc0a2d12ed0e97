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

# refuse NAME PATTERN ARGS...: one stderr line matching PATTERN, status 1,
# nothing on stdout.
refuse() {
	local name=$1 pattern=$2 lines
	shift 2
	run_vmm "$T_TMP/neg" run "$@"
	lines=$(wc -l <"$T_TMP/neg.err")
	if [ "$status" != 1 ]; then
		not_ok "$name" "status $status, expected 1; stderr: $(head -c 300 "$T_TMP/neg.err")"
	elif [ "$lines" != 1 ]; then
		not_ok "$name" "$lines stderr lines: $(head -c 300 "$T_TMP/neg.err")"
	elif ! grep -qE -- "^minivmm: .*$pattern" "$T_TMP/neg.err"; then
		not_ok "$name" "stderr lacks /$pattern/: $(cat "$T_TMP/neg.err")"
	elif [ -s "$T_TMP/neg.out" ]; then
		not_ok "$name" "unexpected stdout: $(head -c 300 "$T_TMP/neg.out")"
	else
		ok "$name"
	fi
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

refuse linux-truncated-4k "truncated kernel" --kernel "$T_TMP/bz-4k"
refuse linux-truncated-600 "truncated kernel" --kernel "$T_TMP/bz-600"
refuse linux-truncated-vmlinux "truncated" --kernel "$T_TMP/vmlinux-4k"
refuse linux-wrong-magic "neither an ELF executable nor a Linux kernel" --kernel "$T_TMP/bz-magic"
refuse linux-protocol-too-old "protocol 2.05 is older than 2.06" --kernel "$T_TMP/bz-old"
refuse linux-initrd-too-big "initrd .* does not fit.*raise --mem" --kernel "$BZ" --initrd "$T_TMP/initrd-100M" --mem 128M
refuse linux-initrd-too-big-pvh "initrd .* does not fit.*raise --mem" --kernel "$VMLINUX" --initrd "$T_TMP/initrd-100M" --mem 128M
refuse linux-cmdline-too-long "command line is 5000 bytes, longer than .* 2047" --kernel "$BZ" --cmdline "$long"
refuse linux-cmdline-too-long-pvh "command line is 5000 bytes, longer than .* 2047" --kernel "$VMLINUX" --cmdline "$long"
refuse linux-initrd-missing "cannot open /nonexistent/initrd" --kernel "$BZ" --initrd /nonexistent/initrd
refuse linux-kernel-too-big-for-mem "raise --mem" --kernel "$BZ" --initrd "$T_TMP/initrd" --mem 16M
