#!/usr/bin/env bash
# Negative tests: every bad input a user controls gives exactly one clear
# line on stderr ("minivmm: ..."), exit status 1, nothing on stdout and no
# crash.  Usage: negative.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

: >"$T_TMP/empty.bin"
head -c $((2 * 1024 * 1024)) /dev/zero >"$T_TMP/2M.bin"
head -c 100 "$G/long.elf" >"$T_TMP/truncated.elf"
head -c 4096 /dev/urandom | tr -d '\177' >"$T_TMP/garbage.bin"
printf 'not a kernel at all\n' >"$T_TMP/text.bin"

refuse no-command "no command"
refuse bad-command "unknown command 'boot'" boot
refuse no-image "no guest image" run
refuse two-images "one guest image" run --raw "$G/hlt.bin" --kernel "$G/long.elf"
refuse unknown-option "unknown option '--turbo'" run --raw "$G/hlt.bin" --turbo
refuse missing-value "needs a value" run --raw "$G/hlt.bin" --mem
refuse missing-file "cannot open /nonexistent/guest.bin: No such file" run --raw /nonexistent/guest.bin
refuse directory-file "not a regular file" run --raw /tmp
refuse empty-file "empty" run --raw "$T_TMP/empty.bin"
refuse image-larger-than-memory "larger than guest memory.*raise --mem" run --raw "$T_TMP/2M.bin" --mem 1M
refuse load-addr-outside "does not fit in guest memory" run --raw "$G/hlt.bin" --load-addr 0x20000000
refuse load-addr-crosses-end "does not fit in guest memory" run --raw "$G/real.bin" --load-addr 0xffffff0 --mem 256M
refuse load-addr-in-hole "does not fit in guest memory" run --raw "$G/hlt.bin" --load-addr 0xd0000000 --mem 4G
refuse load-addr-huge "does not fit in guest memory" run --raw "$G/hlt.bin" --load-addr 0xffffffffffffffff
refuse entry-outside "--entry 0x40000000 is outside guest memory" run --raw "$G/hlt.bin" --entry 0x40000000
refuse entry-real-above-1M "below 1 MiB" run --raw "$G/hlt.bin" --load-addr 0x200000
refuse image-over-page-tables "overlaps minivmm's boot tables" run --raw "$G/long.bin" --mode long --load-addr 0x1000
refuse mem-zero "--mem '0'" run --raw "$G/hlt.bin" --mem 0
refuse mem-garbage "--mem 'lots'" run --raw "$G/hlt.bin" --mem lots
refuse mem-suffix "--mem '12Q'" run --raw "$G/hlt.bin" --mem 12Q
refuse mem-negative "--mem '-1'" run --raw "$G/hlt.bin" --mem -1
refuse mem-unaligned "multiple of 4K" run --raw "$G/hlt.bin" --mem 1025K
refuse mem-more-than-host "more than this host's .* MiB of RAM" run --raw "$G/hlt.bin" --mem 1T
refuse mem-more-than-supported "more than minivmm supports" run --raw "$G/hlt.bin" --mem 100T
refuse mem-overflow "--mem '99999999999T'" run --raw "$G/hlt.bin" --mem 99999999999T
refuse cpus-zero "--cpus '0'" run --raw "$G/hlt.bin" --cpus 0
refuse cpus-garbage "--cpus 'many'" run --raw "$G/hlt.bin" --cpus many
refuse cpus-negative "--cpus '-4'" run --raw "$G/hlt.bin" --cpus -4
refuse cpus-beyond-kvm "this host's KVM allows 1 to [0-9]+ vCPUs" run --raw "$G/hlt.bin" --cpus 4096
refuse cpus-stacks-dont-fit "vCPU stacks .* do not fit" run --raw "$G/long.bin" --mode long --mem 1M --cpus 64
refuse mode-bad "--mode 'virtual8086'" run --raw "$G/hlt.bin" --mode virtual8086
refuse mode-with-kernel "--raw images only" run --kernel "$G/long.elf" --mode long
refuse max-exits-bad "--max-exits 'x'" run --raw "$G/hlt.bin" --max-exits x
refuse platform-bad "--platform 'isa': expected pc or bare" run --raw "$G/hlt.bin" --platform isa
refuse serial-on-bare "--serial and --on-reboot apply to the PC platform" run --raw "$G/hlt.bin" --serial none
refuse on-reboot-on-bare "--serial and --on-reboot apply to the PC platform" run --raw "$G/hlt.bin" --platform bare --on-reboot restart
refuse serial-file-missing-dir "--serial file:/nonexistent/dir/log: No such file" run --raw "$G/hlt.bin" --platform pc --serial file:/nonexistent/dir/log
refuse truncated-elf "truncated ELF" run --kernel "$T_TMP/truncated.elf"
refuse elf-outside-memory "segment 0 .* lies outside guest memory" run --kernel "$G/far.elf"
refuse garbage-kernel "neither an ELF executable nor a Linux kernel" run --kernel "$T_TMP/garbage.bin"
refuse text-kernel "neither an ELF executable nor a Linux kernel" run --kernel "$T_TMP/text.bin"
refuse empty-kernel "empty" run --kernel "$T_TMP/empty.bin"
MINIVMM_KVM_DEVICE=/nonexistent/kvm refuse no-kvm "/nonexistent/kvm not found: load the kvm module" run --raw "$G/hlt.bin"
MINIVMM_KVM_DEVICE=/dev/null refuse not-kvm "KVM API version" run --raw "$G/hlt.bin"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod o+rx "$T_TMP"
	T_ONE="setpriv --reuid=65534 --regid=65534 --clear-groups"
	run_vmm "$T_TMP/perm" run --raw "$G/hlt.bin" # warm-up, ignored
	MINIVMM_REAL=$MINIVMM
	MINIVMM="$T_TMP/as-nobody.sh"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$T_ONE" "$MINIVMM_REAL" >"$MINIVMM"
	chmod 755 "$MINIVMM"
	refuse no-permission "no permission to open /dev/kvm: add your user to the 'kvm' group" run --raw "$G/hlt.bin"
	MINIVMM=$MINIVMM_REAL
fi

# Drives: bad files, bad keys, a file another minivmm holds, too many devices.
head -c 1000 /dev/zero >"$T_TMP/unaligned.img"
head -c 65536 /dev/zero >"$T_TMP/disk.img"
refuse drive-missing "drive /nonexistent/disk.img does not exist" run --raw "$G/hlt.bin" --drive /nonexistent/disk.img
refuse drive-empty "empty" run --raw "$G/hlt.bin" --drive "$T_TMP/empty.bin"
refuse drive-directory "directory|not a regular file" run --raw "$G/hlt.bin" --drive /tmp
refuse drive-unaligned "multiple of 512" run --raw "$G/hlt.bin" --drive "$T_TMP/unaligned.img"
refuse drive-unknown-key "unknown key 'speed'" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,speed=fast"
refuse drive-bad-cache "cache" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,cache=none"
refuse drive-bad-io "io" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,io=aio"
refuse drive-serial-too-long "serial" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,serial=123456789012345678901"
refuse drive-bw-no-ms "bw=1000: expected SIZE/MS" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,bw=1000"
refuse drive-bw-zero "bw=0/100: expected" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,bw=0/100"
refuse drive-iops-zero-ms "iops=10/0: expected" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,iops=10/0"
refuse drive-iops-negative "iops=-5/100: expected" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,iops=-5/100"
refuse drive-bw-huge "bw=9223372036854775808/1: expected" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,bw=9223372036854775808/1"
refuse drive-bw-bad-burst "bw=10/10\+x: expected" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,bw=10/10+x"
refuse drive-iops-twice "'iops' given twice" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img,iops=1/1,iops=2/1"
refuse rng-bad-key "--rng: unknown key 'speed=1'" run --raw "$G/hlt.bin" --rng=speed=1
refuse rng-bad-value "--rng: iops=1: expected SIZE/MS" run --raw "$G/hlt.bin" --rng=iops=1
refuse rng-key-twice "--rng: 'bw' given twice" run --raw "$G/hlt.bin" --rng=bw=1/1,bw=2/2
refuse rng-twice "--rng given twice" run --raw "$G/hlt.bin" --rng --rng=bw=1/1
refuse drive-empty-path "empty|path" run --raw "$G/hlt.bin" --drive ",ro"
refuse drive-twice "in use by another process" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img" --drive "$T_TMP/disk.img"
drives=()
for i in $(seq 17); do
	head -c 512 /dev/zero >"$T_TMP/d$i.img"
	drives+=(--drive "$T_TMP/d$i.img")
done
refuse too-many-drives "too many --drive options" run --raw "$G/hlt.bin" "${drives[@]}" --drive "$T_TMP/disk.img"
refuse too-many-devices "too many virtio devices: minivmm has 17 slots" run --raw "$G/hlt.bin" "${drives[@]}" --rng
# Locked by another running minivmm.
timeout 20 "$MINIVMM" run --platform pc --raw "$G/idle.bin" --drive "$T_TMP/disk.img" --serial none </dev/null >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do
	grep -q "disk.img" /proc/$holder/fdinfo/* 2>/dev/null && break
	ls -l /proc/$holder/fd 2>/dev/null | grep -q disk.img && break
	sleep 0.05
done
sleep 0.2
refuse drive-locked "in use by another process \(locked\)" run --raw "$G/hlt.bin" --drive "$T_TMP/disk.img"
kill -TERM $holder 2>/dev/null
wait $holder 2>/dev/null

# Network interfaces: a missing tap, bad or duplicate MACs, bad keys.
refuse net-missing-tap "tap mvnonexist0: no such device: create it with 'ip tuntap add dev mvnonexist0 mode tap'" run --raw "$G/hlt.bin" --net tap=mvnonexist0
refuse net-bad-mac "mac=zz: expected six hex bytes" run --raw "$G/hlt.bin" --net tap=a,mac=zz
refuse net-multicast-mac "multicast" run --raw "$G/hlt.bin" --net tap=a,mac=01:00:00:00:00:01
refuse net-duplicate-mac "would both have MAC 02:00:00:00:00:01" run --raw "$G/hlt.bin" --net tap=a,mac=02:00:00:00:00:01 --net tap=b,mac=02:00:00:00:00:01
refuse net-unknown-key "unknown key 'speed'" run --raw "$G/hlt.bin" --net tap=a,speed=1
refuse net-rx-bw-bad "--net: rx-bw=fast: expected SIZE/MS" run --raw "$G/hlt.bin" --net tap=a,rx-bw=fast
refuse net-tx-iops-zero "--net: tx-iops=0/1: expected" run --raw "$G/hlt.bin" --net tap=a,tx-iops=0/1
refuse net-tx-bw-twice "'tx-bw' given twice" run --raw "$G/hlt.bin" --net tap=a,tx-bw=1/1,tx-bw=1/1
refuse net-bad-mtu "mtu=10: expected 68 to 65535" run --raw "$G/hlt.bin" --net tap=a,mtu=10
refuse net-no-tap "no tap=NAME" run --raw "$G/hlt.bin" --net mac=02:00:00:00:00:01

# vsock: a reserved CID, a socket path too long or in a missing directory,
# an existing path, two devices.
long=$(head -c 120 /dev/zero | tr '\0' a)
: >"$T_TMP/exists.sock"
refuse vsock-cid-below-3 "cid=2: expected a number from 3" run --raw "$G/hlt.bin" --vsock "cid=2,uds=$T_TMP/v.sock"
refuse vsock-path-too-long "uds= is 1[0-9][0-9] bytes: at most 96" run --raw "$G/hlt.bin" --vsock "cid=3,uds=$T_TMP/$long"
refuse vsock-missing-dir "directory /nonexistent/dir does not exist" run --raw "$G/hlt.bin" --vsock cid=3,uds=/nonexistent/dir/v.sock
refuse vsock-path-exists "already exists" run --raw "$G/hlt.bin" --vsock "cid=3,uds=$T_TMP/exists.sock"
refuse vsock-twice "--vsock given twice" run --raw "$G/hlt.bin" --vsock "cid=3,uds=$T_TMP/v.sock" --vsock "cid=4,uds=$T_TMP/w.sock"
