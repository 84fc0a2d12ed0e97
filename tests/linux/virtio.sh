#!/usr/bin/env bash
# virtio-mmio scenarios with the Debian kernels: virtio-blk (--drive) and
# virtio-rng (--rng), found by the guest through ACPI (LNRO0005).  Debian
# builds virtio and (generic kernel) ext4 as modules: the guest boots
# virtio-initrd (mkinitrd.sh --modules-from generic --modules-from cloud),
# whose /init loads them and runs the guest's half (guest_test=blk, ...;
# see tests/vmhost/mkinitrd.sh).  Prints "ok - virtio ..." / "not ok - ...".
# Two halves:
#   on the host, after linux_prepare STAGE (common.sh):
#       virtio.sh --prepare STAGE
#     adds virtio-initrd, data.img.gz and data.sha256 (tests/linux/mkdisk.sh
#     data, and the sum of its known.bin), root.img.gz (mkdisk.sh root) and
#     this script to STAGE;
#   in the vmhost, from STAGE: sourced by scenarios.sh (`. ./virtio.sh`: it
#     uses scenarios.sh's boot, ok, not_ok, $O, $BASE, $PIN, $MARK, $T_BOOT),
#     or alone (`bash ./virtio.sh`: then it sources scenario_lib.sh).
# VIRTIO_KERNELS: kernel files to run every case with (default: the cloud
# bzImage and the generic PVH vmlinux: both kernels, both entries).

if [ "${1:-}" = --prepare ]; then
	set -eu
	[ $# = 2 ] || { echo "usage: virtio.sh --prepare STAGE" >&2; exit 2; }
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	stage=$2
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	"$here/../vmhost/mkinitrd.sh" "$stage/virtio-initrd" --modules-from generic --modules-from cloud
	"$here/mkdisk.sh" data "$tmp/data.img" >"$stage/data.sha256"
	"$here/mkdisk.sh" root "$tmp/root.img"
	# Sparse images, compressed: the vmhost's initramfs carries them.
	gzip -1 -c "$tmp/data.img" >"$stage/data.img.gz"
	gzip -1 -c "$tmp/root.img" >"$stage/root.img.gz"
	cp "$here/virtio.sh" "$stage/"
	exit 0
fi

# Run alone: scenarios.sh's set-up and helpers.
declare -F boot >/dev/null || . ./scenario_lib.sh

VIRTIO_INITRD=virtio-initrd
KNOWN=$(cat data.sha256) # sha256 of known.bin on data.img

# v_disk NAME: a fresh copy of the data image, $O/NAME.img.  zcat writes
# every block (no holes), so that a trim has blocks to give back.
v_disk() {
	zcat data.img.gz >"$O/$1.img"
	echo "$O/$1.img"
}

# v_line NAME WHAT LINE: ok if the guest printed LINE (whole line).
v_line() {
	if grep -qxF -- "$3" "$out"; then ok "$1: $2"; else
		not_ok "$1: $2" "no line '$3'" "$out"; fi
}

for kernel in ${VIRTIO_KERNELS:-cloud.bzImage generic.vmlinux}; do
	k=virtio-$kernel

	# blk: known.bin reads back; three new files written, synced, read back
	# after a remount with caches dropped.  Then a second boot finds them.
	name=$k-blk
	img=$(v_disk "$name")
	if v_boot "$name" "$kernel" guest_test=blk --drive "$img"; then
		v_line "$name" "known.bin reads back" "MINIVMM-BLK-OK known.bin $KNOWN"
		v_line "$name" "3 files written and read back" "MINIVMM-BLK-OK done"
		# The hot path: no exit to minivmm for a notify or an interrupt.
		if grep -q "^vda virtio-blk at 0xd0000000: notify through ioeventfd, interrupts through irqfd" "$err"; then
			ok "$name: notify through ioeventfd, interrupts through irqfd"
		else
			not_ok "$name: notify through ioeventfd, interrupts through irqfd" "--stats says otherwise" "$err"
		fi
		sed -n 's/^\(vda virtio-blk.*\)/# \1/p; s/^  \([0-9]* requests.*\)/#   \1/p' "$err"
		written=$(sed -n 's/^MINIVMM-BLK-OK wrote \([a-z]*\.bin\) [0-9]* \([0-9a-f]*\)$/\1 \2/p' "$out")
		name=$k-blkcheck
		if v_boot "$name" "$kernel" guest_test=blkcheck --drive "$img"; then
			n=0
			while read -r f sum; do
				v_line "$name" "$f intact on a second boot" "MINIVMM-BLKCHECK-OK $f $sum"
				n=$((n + 1))
			done <<<"$written"
			v_line "$name" "$n written files and known.bin, nothing else" \
				"MINIVMM-BLKCHECK-OK done files=$((n + 1))"
		fi
	fi
	rm -f "$img"

	# ro: a second drive, read-only: the guest sees ro=1, writes fail, its
	# file reads back; the host file is unchanged.
	name=$k-ro
	a=$(v_disk "$name-a") b=$(v_disk "$name-b")
	if v_boot "$name" "$kernel" guest_test=ro --drive "$a" --drive "$b,ro"; then
		v_line "$name" "vdb is read-only" "MINIVMM-RO-OK vdb ro=1"
		v_line "$name" "vda is writable" "MINIVMM-RO-OK vda ro=0"
		if grep -q '^MINIVMM-RO-OK raw write refused' "$out"; then ok "$name: raw write to vdb fails"; else
			not_ok "$name: raw write to vdb fails" "no such line" "$out"; fi
		if grep -q '^MINIVMM-RO-OK file write refused' "$out"; then ok "$name: file write on vdb fails"; else
			not_ok "$name: file write on vdb fails" "no such line" "$out"; fi
		v_line "$name" "vdb's known.bin reads back" "MINIVMM-RO-OK vdb known.bin $KNOWN"
		if zcat data.img.gz | cmp -s - "$b"; then ok "$name: read-only image unchanged"; else
			not_ok "$name: read-only image unchanged" "$(zcat data.img.gz | cmp - "$b" 2>&1 | head -n1)"; fi
	fi
	rm -f "$a" "$b"

	# serial: serial=S, and the default (the file name).
	name=$k-serial
	a=$(v_disk "$name-a") b=$(v_disk ser-b)
	if v_boot "$name" "$kernel" guest_test=serial --drive "$a,serial=minivmm-SER-42" --drive "$b"; then
		v_line "$name" "serial=minivmm-SER-42" "MINIVMM-SERIAL-OK vda serial=minivmm-SER-42"
		v_line "$name" "default serial: the file name" "MINIVMM-SERIAL-OK vdb serial=ser-b.img"
	fi
	rm -f "$a" "$b"

	# trim: fstrim in the guest punches holes in the (fully allocated) file.
	name=$k-trim
	img=$(v_disk "$name")
	before=$(stat -c %b "$img")
	if v_boot "$name" "$kernel" guest_test=trim --drive "$img"; then
		after=$(stat -c %b "$img")
		echo "# $name: $(sed -n 's/^MINIVMM-TRIM-OK //p' "$out" | tr '\n' ' ')allocated $before -> $after blocks"
		if grep -qE '^MINIVMM-TRIM-OK discard_max_bytes=[1-9]' "$out"; then ok "$name: the disk offers discard"; else
			not_ok "$name: the disk offers discard" "discard_max_bytes 0 or missing" "$out"; fi
		if grep -qE '^MINIVMM-TRIM-OK trimmed=[1-9]' "$out"; then ok "$name: fstrim trims"; else
			not_ok "$name: fstrim trims" "nothing trimmed" "$out"; fi
		# 64 MiB, ~4 MiB in use: at least half of the file must go.
		if [ "$after" -lt $((before / 2)) ]; then ok "$name: host file shrinks ($before -> $after blocks)"; else
			not_ok "$name: host file shrinks" "$before -> $after blocks of 512 bytes"; fi
	fi
	rm -f "$img"

	# mq: one queue per vCPU.
	name=$k-mq
	img=$(v_disk "$name")
	if v_boot "$name" "$kernel" guest_test=mq --cpus 4 --drive "$img"; then
		v_line "$name" "4 vCPUs, 4 queues" "MINIVMM-MQ-OK vda queues=4 cpus=4"
	fi
	rm -f "$img"

	# durable: the guest syncs a file and says so; minivmm is SIGKILLed; the
	# next boot finds the file.
	name=$k-durable
	img=$(v_disk "$name")
	raw=$O/$name.raw
	t0=$(now_ms)
	$PIN ./minivmm run --kernel "$kernel" --initrd "$VIRTIO_INITRD" --drive "$img" \
		--cmdline "$BASE guest_test=durable" </dev/null >"$raw" 2>"$O/$name.err" &
	pid=$!
	sum=
	for ((i = 0; i < T_BOOT * 5; i++)); do
		sum=$(tr -d '\r' <"$raw" | sed -n 's/^MINIVMM-DURABLE-OK synced durable.bin \([0-9a-f]*\)$/\1/p')
		[ -n "$sum" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null
	status=0
	{ wait "$pid" || status=$?; } 2>/dev/null # no "Killed" line from bash
	echo "# $name: SIGKILL after $(($(now_ms) - t0)) ms, status $status"
	if [ -z "$sum" ]; then
		not_ok "$name: synced file survives SIGKILL" "no 'synced' line" "$raw" "$O/$name.err"
	elif [ "$status" != 137 ]; then
		not_ok "$name: synced file survives SIGKILL" "minivmm ended ($status) before the SIGKILL" "$raw" "$O/$name.err"
	elif v_boot "$name-check" "$kernel" guest_test=blkcheck --drive "$img"; then
		v_line "$name" "synced file survives SIGKILL" "MINIVMM-BLKCHECK-OK durable.bin $sum"
	fi
	rm -f "$img"

	# rng: hw_random picks virtio_rng, and /dev/hwrng gives bytes.
	name=$k-rng
	if v_boot "$name" "$kernel" guest_test=rng --rng; then
		if grep -qE '^MINIVMM-RNG-OK current=virtio_rng\.[0-9]+ bytes=64$' "$out"; then
			ok "$name: /dev/hwrng from virtio_rng"
		else
			not_ok "$name: /dev/hwrng from virtio_rng" "no such line" "$out"
		fi
	fi

	# root=/dev/vda: /init switch_roots to the disk's /sbin/init.
	name=$k-root
	img=$O/$name.img
	zcat root.img.gz >"$img"
	if v_boot "$name" "$kernel" root=/dev/vda --drive "$img"; then
		v_line "$name" "boots its root file system" \
			"MINIVMM-ROOT-OK pid=1 root=/dev/vda fstype=ext4 image=minivmm-rootfs"
		v_line "$name" "root is writable" "MINIVMM-ROOT-OK writable"
	fi
	rm -f "$img"
done
