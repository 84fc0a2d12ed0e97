#!/usr/bin/env bash
# Linux boot benchmark (`make bench-boot`): in ONE vmhost session, boots the
# cloud bzImage (256M, 1 vCPU, guest_test=poweroff) N times with minivmm and
# with QEMU microvm, and prints boot time and RSS side by side; and the same
# boot through `minivmm fc`'s API, timed from InstanceStart.
# Usage: boot.sh [MINIVMM]   (BENCH_RUNS=N, default 5)
set -u
MARK=MINIVMM-GUEST-INIT-OK
RUNS=${BENCH_RUNS:-5}

# boot.sh --fc CMDLINE (in the vmhost): the same boot through minivmm fc's
# API, for the "InstanceStart to init marker" row: the getting-started
# requests, a FC-INSTANCE-START line on stdout (marktime notes it), then
# InstanceStart; minivmm's console is this script's stdout.
if [ "${1:-}" = --fc ]; then
	S=/tmp/bench-fc.sock
	rm -f $S
	./minivmm fc --api-sock $S --id bench </dev/null &
	pid=$!
	for _ in $(seq 100); do [ -S $S ] && break; sleep 0.02; done
	./fcreq $S PUT /boot-source "{\"kernel_image_path\": \"cloud.bzImage\", \"initrd_path\": \"initrd\", \"boot_args\": \"$2\"}" >&2 &&
		./fcreq $S PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' >&2 || {
		kill $pid
		exit 1
	}
	echo FC-INSTANCE-START
	./fcreq $S PUT /actions '{"action_type": "InstanceStart"}' >&2
	wait $pid
	exit
fi

if [ "${VMHOST:-}" = 1 ]; then # inside the vmhost, cwd /work/bench
	mkdir -p /usr/bin /usr/share
	mv /work/qemu-system-x86_64 /usr/bin/ && mv /work/qemu /work/seabios /usr/share/
	O=/tmp/bench
	mkdir -p $O
	. ./hold.sh
	hold_vms cloud.bzImage # left stopped at the end: see hold.sh
	QUIET="console=ttyS0 quiet panic=-1 guest_test=poweroff"
	VERBOSE="console=ttyS0 panic=-1 printk.time=1 guest_test=poweroff"
	# one VMM MODE I: one boot; appends "VMM MODE marker exit rss kernel
	# beyond" to $O/results (-1 where a value is missing).
	one() {
		local vmm=$1 mode=$2 i=$3 cmdline=$QUIET f=$O/$1-$2-$3 kern beyond=-1 st status exit rss
		[ "$mode" = verbose ] && cmdline=$VERBOSE
		if [ "$vmm" = fc ]; then
			# mark 0: the init marker, mark 1: just before
			# InstanceStart; their difference is the row
			timeout -k 5 150 ./marktime -o "$f.mt" -m "$MARK" -m FC-INSTANCE-START -- \
				bash ./boot.sh --fc "$cmdline" </dev/null >"$f.out" 2>"$f.err"
		elif [ "$vmm" != qemu ]; then
			local extra=()
			[ "$vmm" = all ] && extra=(--prefault all)
			[ "$vmm" = none ] && extra=(--prefault none)
			timeout -k 5 150 ./marktime -o "$f.mt" -m "$MARK" -- ./minivmm run --kernel cloud.bzImage \
				--initrd initrd --mem 256M --cpus 1 --cmdline "$cmdline" --stats "${extra[@]}" \
				</dev/null >"$f.out" 2>"$f.err"
		else
			timeout -k 5 150 ./marktime -o "$f.mt" -m "$MARK" -- qemu-system-x86_64 \
				-M microvm,rtc=on -bios /usr/share/qemu/qboot.rom -accel kvm -cpu host -smp 1 -m 256 \
				-nodefaults -display none -serial stdio -no-reboot -kernel cloud.bzImage \
				-initrd initrd -append "$cmdline" </dev/null >"$f.out" 2>"$f.err"
		fi
		kern=$(tr -d '\r' <"$f.out" | sed -n 's/^\[ *\([0-9]*\)\.\([0-9]\{3\}\).*\] Run \/init .*/\1\2/p' | head -n1)
		if [ -n "$kern" ]; then kern=$((10#$kern)); else kern=-1; fi
		st=$(sed -n 's/.*peak RSS \([0-9]*\) KiB, guest RAM resident \([0-9]*\) KiB.*/\1 \2/p' "$f.err")
		[ -n "$st" ] && beyond=$((${st% *} - ${st#* }))
		read -r _ _ marker <"$f.mt" 2>/dev/null || marker=-1
		if [ "$vmm" = fc ]; then
			local start
			start=$(awk '$1 == "mark" && $2 == 1 { print $3 }' "$f.mt" 2>/dev/null)
			[ "${start:--1}" -ge 0 ] && [ "$marker" -ge 0 ] && marker=$((marker - start)) || marker=-1
		fi
		# shellcheck disable=SC2046 # "exit STATUS MS MAXRSS_KB"; no <(...): no /dev/fd here
		set -- $(grep '^exit' "$f.mt" 2>/dev/null) x x x x
		status=$2 exit=$3 rss=$4
		[ "$exit" = x ] && exit=-1 rss=-1
		[ "$status" = 0 ] || echo "# $vmm $mode run $i: status $status: $(tail -n 2 "$f.err" | tr '\n' ' ')"
		echo "# $vmm $mode run $i: marker ${marker} ms, exit $exit ms, kernel $kern ms, peak RSS $rss KiB, beyond guest RAM $beyond KiB"
		echo "$vmm $mode ${marker:--1} $exit $rss $kern $beyond" >>$O/results
	}
	# A warm-up boot of each, not counted: the first VM of a vmhost session
	# starts on never-used memory and boots faster than any later one.
	# Then the order alternates, so neither VMM always follows the other.
	one minivmm quiet 0 >/dev/null
	one qemu quiet 0 >/dev/null
	: >$O/results
	for ((i = 1; i <= RUNS; i++)); do
		for mode in quiet verbose; do
			if ((i % 2)); then
				one minivmm $mode $i
				one qemu $mode $i
			else
				one qemu $mode $i
				one minivmm $mode $i
			fi
		done
		one none quiet $i
		one fc quiet $i
		# The boot after a --prefault all one starts on mostly clean
		# memory and is faster: a discarded default boot settles that
		# before the next pair.
		one all quiet $i
		one settle quiet $i >/dev/null
	done
	# median VMM MODE COLUMN: median of the valid (>= 0) values.
	median() {
		awk -v v="$1" -v m="$2" -v c="$3" '$1 == v && $2 == m && $c >= 0 { print $c }' $O/results |
			sort -n | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : -1 }'
	}
	row() { # row METRIC MODE COLUMN TARGET [MINIVMM-ONLY-VALUE] [VMM]
		local a b
		a=${5:-$(median "${6:-minivmm}" "$2" "$3")} b=$(median qemu "$2" "$3")
		[ -n "${5:-}" ] && b=-
		awk -v n="$1" -v a="$a" -v b="$b" -v t="$4" 'BEGIN {
			r = (b + 0 > 0 && a >= 0) ? sprintf("%.2fx", a / b) : "-"
			printf "BENCH| %-44s %10s %12s %7s  %s\n", n, a, b, r, t }'
	}
	beyond=$(median minivmm quiet 7)
	echo "BENCH| Linux boot, cloud bzImage, 256M, 1 vCPU, median of $RUNS (ms, KiB)"
	printf 'BENCH| %-44s %10s %12s %7s  %s\n' metric minivmm "QEMU microvm" ratio target
	row "start to init marker (quiet)" quiet 3 "<= 0.80x"
	row "start to exit after poweroff (quiet)" quiet 4 "-"
	row "kernel's printk time at 'Run /init' (verbose)" verbose 6 "-"
	row "start to init marker (verbose console)" verbose 3 "-"
	row "peak RSS" quiet 5 "-"
	row "RSS beyond guest RAM touched" quiet 7 "< 2048 KiB" "$beyond"
	row "minivmm fc: InstanceStart to init marker" quiet 3 "run: see row 1" "" fc
	row "--prefault none: start to init marker" quiet 3 "-" "" none
	row "--prefault none: peak RSS" quiet 5 "-" "" none
	row "--prefault all: start to init marker" quiet 3 "-" "" all
	row "--prefault all: peak RSS" quiet 5 "-" "" all
	exit 0
fi

# On the host: stage minivmm, kernels, initrd, QEMU, and run this script.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/linux/common.sh"
MINIVMM=$(realpath "${1:-$LINUX_TOP/build/minivmm}")
cd "$LINUX_TOP"
STAGE=$LINUX_TOP/build/linux/bench
LOG=$LINUX_TOP/build/linux/bench-boot.log
linux_prepare "$MINIVMM" "$STAGE" >/dev/null || exit 1
cp "$HERE/boot.sh" "$STAGE/boot.sh"
gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-o "$STAGE/fcreq" "$LINUX_TOP/tests/linux/fcreq.c" || exit 1
rm -f "$STAGE/cloud.vmlinux" "$STAGE"/generic.* # only cloud.bzImage is booted
stub=$(mktemp)
trap 'rm -f "$stub"' EXIT
{
	echo "export BENCH_RUNS=$RUNS"
	vmhost_stub bench boot.sh
} >"$stub"
vmhost_session "$LOG" -m 2G -t "${BENCH_TIMEOUT:-900}" "${LINUX_FILES[@]}" \
	-f "$(command -v qemu-system-x86_64)" -f /usr/share/qemu -f /usr/share/seabios "$stub"
rc=$?
tr -d '\r' <"$LOG" | grep '^# ' | sed 's/^/  /'
tr -d '\r' <"$LOG" | sed -n 's/^BENCH| //p'
[ "$rc" = 0 ] || { echo "bench-boot: vmhost failed ($rc), see ${LOG#"$LINUX_TOP"/}" >&2; exit 1; }
