#!/usr/bin/env bash
# virtio-blk benchmark (`make bench-blk`): in ONE vmhost session, the cloud
# bzImage (256M, 1 vCPU, pinned to vmhost CPU 0 like the Linux tests) runs
# build/bench/blkbench on /dev/vda, with minivmm (--drive IMG,io=uring,
# cache=writeback) and with QEMU microvm (acpi=on, virtio-blk-device on a
# modern virtio-mmio transport, aio=io_uring, cache=writeback) on the same
# image: a 512 MiB file of zeros in the vmhost's /tmp (tmpfs: the host side
# of each request is a memory copy, so the rows measure the VMMs' request
# path, not a disk).  Per test: throughput (sequential 1 MiB O_DIRECT read
# and write of 256 MiB; 4 KiB O_DIRECT random reads, one at a time, for
# BLK_RAND_SECONDS), and the VMM process's user+sys CPU time (/proc/PID/stat:
# every thread, io_uring's io-wq workers included, which taskset does not
# bind) between the guest's GO and END lines, per GiB moved: with the guest's
# own time (the vCPU thread in guest mode), and without it (the VMM's and
# KVM's work alone); peak RSS; minivmm's RSS beyond guest RAM (--stats).
# Median of BENCH_RUNS (3) after one warm-up run of each, the order alternating.
# Usage: blk.sh [MINIVMM [BLKBENCH]]   (BENCH_RUNS=N, BLK_RAND_SECONDS=S)
set -u
RUNS=${BENCH_RUNS:-3}
RAND_SECONDS=${BLK_RAND_SECONDS:-5}
SEQ_MIB=256
IMG_MIB=512

if [ "${VMHOST:-}" = 1 ]; then # inside the vmhost, cwd /work/bench-blk
	mkdir -p /usr/bin /usr/share
	mv /work/qemu-system-x86_64 /usr/bin/ && mv /work/qemu /work/seabios /usr/share/
	O=/tmp/bench
	IMG=/tmp/blk.img
	FIFO=/tmp/blk.fifo
	mkdir -p $O
	. ./hold.sh
	. ./bench_lib.sh
	hold_vms cloud.bzImage # left stopped at the end: see hold.sh
	dd if=/dev/zero of=$IMG bs=1048576 count=$IMG_MIB 2>/dev/null || {
		echo "# cannot make $IMG"
		exit 1
	}
	CMDLINE="console=ttyS0 quiet panic=-1 blkbench=$SEQ_MIB,$RAND_SECONDS"
	HZ=100 # USER_HZ: the unit of /proc/PID/stat's utime and stime
	# one VMM I: one boot; appends "VMM I TEST BYTES NS CPU HOST_CPU" per
	# test (CPU: user+sys ticks between GO and END; HOST_CPU: the same
	# without the guest time, i.e. the VMM's and KVM's own work), "VMM I rss
	# VMHWM_KIB 0 0 0" and "VMM I beyond KIB 0 0 0" to $O/results (-1 where
	# a value is missing).
	one() {
		local vmm=$1 i=$2 f=$O/$1-$2 pid wd line st rs hwm=-1 k v beyond=-1 status t
		local -A c0=() g0=()
		rm -f $FIFO && mkfifo $FIFO
		if [ "$vmm" = minivmm ]; then
			taskset 1 ./minivmm run --kernel cloud.bzImage --initrd initrd-blk --mem 256M \
				--cpus 1 --cmdline "$CMDLINE" --stats \
				--drive $IMG,io=uring,cache=writeback </dev/null >$FIFO 2>"$f.err" &
		else
			taskset 1 qemu-system-x86_64 -M microvm,acpi=on,rtc=on -bios /usr/share/qemu/qboot.rom \
				-accel kvm -cpu host -smp 1 -m 256 -nodefaults -display none -serial stdio \
				-no-reboot -global virtio-mmio.force-legacy=false \
				-drive file=$IMG,if=none,id=d,format=raw,aio=io_uring,cache=writeback \
				-device virtio-blk-device,drive=d \
				-kernel cloud.bzImage -initrd initrd-blk -append "$CMDLINE" \
				</dev/null >$FIFO 2>"$f.err" &
		fi
		pid=$! # taskset execs the VMM: this is its pid
		(sleep 240 && kill -KILL $pid) 2>/dev/null &
		wd=$!
		: >"$f.out"
		while IFS= read -r line; do
			line=${line%$'\r'}
			echo "$line" >>"$f.out"
			case "$line" in
			BLKBENCH-GO\ * | BLKBENCH-END\ *)
				# utime (guest time included) + stime, and guest_time
				read -r -a st </proc/$pid/stat
				t=${line#* }
				if [ "${line%% *}" = BLKBENCH-GO ]; then
					c0[$t]=$((st[13] + st[14])) g0[$t]=${st[42]}
				else
					echo "$t $((st[13] + st[14] - ${c0[$t]:-0})) $((st[13] + st[14] - st[42] - ${c0[$t]:-0} + ${g0[$t]:-0}))" >>"$f.cpu"
					while read -r k v _; do [ "$k" = VmHWM: ] && hwm=$v; done </proc/$pid/status
					[ "$i" = 0 ] && [ "$t" = randread ] && threads $pid >"$f.threads"
				fi
				;;
			esac
		done <$FIFO
		status=0
		wait $pid || status=$?
		kill $wd 2>/dev/null
		if [ "$status" != 0 ] || grep -q 'BLKBENCH-FAIL\|MINIVMM-MODULE-FAIL\|BLKBENCH-NODEV' "$f.out" ||
			! grep -q '^BLKBENCH randread ' "$f.out"; then
			FAILED=1
			echo "# $vmm run $i: status $status: $(grep 'FAIL\|NODEV' "$f.out" | head -n 3 | tr '\n' ' ')$(tail -n 2 "$f.err" | tr '\n' ' ')"
		fi
		rs=$(sed -n 's/.*peak RSS \([0-9]*\) KiB, guest RAM resident \([0-9]*\) KiB.*/\1 \2/p' "$f.err")
		[ -n "$rs" ] && beyond=$((${rs% *} - ${rs#* }))
		# BLKBENCH NAME bytes=B ops=N ns=T mibps=X iops=Y
		sed -n 's/^BLKBENCH \([a-z]*\) bytes=\([0-9]*\) ops=[0-9]* ns=\([0-9]*\) .*/\1 \2 \3/p' "$f.out" |
			while read -r t b ns; do
				k=$(awk -v t="$t" '$1 == t { print $2, $3 }' "$f.cpu" 2>/dev/null)
				echo "$vmm $i $t $b $ns ${k:--1 -1}" >>$O/results
			done
		echo "$vmm $i rss $hwm 0 0 0" >>$O/results
		echo "$vmm $i beyond $beyond 0 0 0" >>$O/results
		echo "# $vmm run $i: $(sed -n 's/^BLKBENCH \([a-z]*\) .* mibps=\([0-9.]*\) iops=\([0-9]*\)$/\1 \2 MiB\/s \3 IOPS;/p' "$f.out" | tr '\n' ' ')cpu ticks (all, outside the guest) $(tr '\n' ';' <"$f.cpu" 2>/dev/null | sed 's/;/; /g')VmHWM $hwm KiB, beyond guest RAM $beyond KiB"
	}
	# threads PID: each thread's name and the CPUs it may run on.
	threads() {
		local d c k v a=
		for d in "/proc/$1/task"/*; do
			read -r c <"$d/comm"
			while read -r k v; do [ "$k" = Cpus_allowed_list: ] && a="$a $c:$v"; done <"$d/status"
		done
		echo "$a"
	}
	# show VMM: what the warm-up run of VMM said besides the numbers.
	show() {
		sed -n 's/^\(BLKBENCH-INFO\|BLKINFO\|modules:\)/# '"$1"' guest: \1/p' "$O/$1-0.out"
		sed -n 's/^DMESG /# '"$1"' guest dmesg: /p' "$O/$1-0.out"
		echo "# $1 threads (name:CPUs) during randread:$(cat "$O/$1-0.threads" 2>/dev/null)"
		grep -v '^$\|^pio ' "$O/$1-0.err" | sed 's/^/# '"$1"' stderr: /'
	}
	bench_runs
	# shellcheck disable=SC2016 # awk expressions
	MIBPS='$4 / 1048576 / ($5 / 1e9)' IOPS='$4 / 4096 / ($5 / 1e9)'
	CPU="\$6 * 1000 / $HZ / (\$4 / 1073741824)" HCPU="\$7 * 1000 / $HZ / (\$4 / 1073741824)" # ms per GiB
	echo "BENCH| virtio-blk, cloud bzImage, 256M, 1 vCPU pinned, ${IMG_MIB} MiB image in the vmhost's tmpfs, median of $RUNS"
	table_line metric minivmm "QEMU microvm" ratio target
	row "seq read 1 MiB O_DIRECT (MiB/s)" seqread "$MIBPS" %.0f ">= 1.00x"
	row "seq write 1 MiB O_DIRECT (MiB/s)" seqwrite "$MIBPS" %.0f ">= 1.00x"
	row "rand read 4 KiB O_DIRECT QD1 (IOPS)" randread "$IOPS" %.0f ">= 1.00x"
	row "VMM CPU, seq read (ms/GiB)" seqread "$CPU" %.0f "<= 1.00x"
	row "VMM CPU, seq write (ms/GiB)" seqwrite "$CPU" %.0f "<= 1.00x"
	row "VMM CPU, rand read (ms/GiB)" randread "$CPU" %.0f "<= 1.00x"
	row "  without guest time, seq read" seqread "$HCPU" %.0f "<= 1.00x"
	row "  without guest time, seq write" seqwrite "$HCPU" %.0f "<= 1.00x"
	row "  without guest time, rand read" randread "$HCPU" %.0f "<= 1.00x"
	# shellcheck disable=SC2016
	row "peak RSS, VmHWM (KiB)" rss '$4' %d "-"
	# shellcheck disable=SC2016
	a=$(median minivmm beyond '$4')
	table_line "RSS beyond guest RAM touched (KiB)" "$a" - - "< 4096 KiB"
	rm -f $IMG
	exit $FAILED
fi

# On the host: stage minivmm, the cloud kernel, a guest initramfs whose /init
# runs blkbench, QEMU, and run this script in the vmhost.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/linux/common.sh"
MINIVMM=$(realpath "${1:-$LINUX_TOP/build/minivmm}")
BLKBENCH=$(realpath "${2:-$LINUX_TOP/build/bench/blkbench}")
cd "$LINUX_TOP" || exit 1
[ -x "$BLKBENCH" ] || { echo "bench-blk: no $BLKBENCH (make build/bench/blkbench)" >&2; exit 1; }
STAGE=$LINUX_TOP/build/linux/bench-blk
LOG=$LINUX_TOP/build/linux/bench-blk.log
linux_prepare "$MINIVMM" "$STAGE" >/dev/null || exit 1
cp "$HERE/blk.sh" "$STAGE/blk.sh"
cp "$HERE/vmhost_lib.sh" "$STAGE/bench_lib.sh"
rm -f "$STAGE/cloud.vmlinux" "$STAGE"/generic.* "$STAGE/initrd" # only cloud.bzImage is booted
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The guest's /init: the modules as the default /init loads them, then
# blkbench on /dev/vda with blkbench=SEQ_MIB,SECONDS from the command line.
cat >"$tmp/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /lib/load-modules.sh # mkinitrd.sh's, as the default /init loads them
echo "modules:$mods"
echo "MINIVMM-GUEST-INIT-OK"
args=256,5
for w in $(cat /proc/cmdline); do
    case "$w" in blkbench=*) args="${w#blkbench=}" ;; esac
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -b /dev/vda ]; then
    q=/sys/block/vda/queue
    echo "BLKINFO max_sectors_kb=$(cat $q/max_sectors_kb) max_hw_sectors_kb=$(cat $q/max_hw_sectors_kb) max_segments=$(cat $q/max_segments) max_segment_size=$(cat $q/max_segment_size) nr_requests=$(cat $q/nr_requests) scheduler=$(cat $q/scheduler) mq=$(ls /sys/block/vda/mq | wc -l)"
    /bin/blkbench /dev/vda "${args%,*}" "${args#*,}"
else
    echo "BLKBENCH-NODEV no /dev/vda after 5 s"
fi
dmesg | grep -i -E 'virtio|vda|blk|i/o error|fail|warn|error' | grep -v 'blkbench=' | sed 's/^/DMESG /'
poweroff -f
EOF
"$LINUX_TOP/tests/vmhost/mkinitrd.sh" "$tmp/initrd.gz" --init "$tmp/init" \
	--modules-from cloud --modules "virtio_mmio virtio_blk" || exit 1
# blkbench appended as an uncompressed cpio (the kernel unpacks both).
mkdir -p "$tmp/add/bin"
cp "$BLKBENCH" "$tmp/add/bin/blkbench"
cp "$tmp/initrd.gz" "$STAGE/initrd-blk"
truncate -s %512 "$STAGE/initrd-blk"
(cd "$tmp/add" && find . | cpio -o -H newc -R 0:0 --quiet) >>"$STAGE/initrd-blk"
{
	echo "export BENCH_RUNS=$RUNS BLK_RAND_SECONDS=$RAND_SECONDS"
	vmhost_stub bench-blk blk.sh
} >"$tmp/stub"
vmhost_session "$LOG" -m 2G -t "${BENCH_TIMEOUT:-900}" "${LINUX_FILES[@]}" \
	-f "$(command -v qemu-system-x86_64)" -f /usr/share/qemu -f /usr/share/seabios "$tmp/stub"
rc=$?
tr -d '\r' <"$LOG" | grep '^# ' | sed 's/^/  /'
tr -d '\r' <"$LOG" | sed -n 's/^BENCH| //p'
[ "$rc" = 0 ] || { echo "bench-blk: vmhost failed ($rc), see ${LOG#"$LINUX_TOP"/}" >&2; exit 1; }
