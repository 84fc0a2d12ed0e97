#!/usr/bin/env bash
# virtio-net and virtio-vsock benchmark (`make bench-net`): in ONE vmhost
# session, the cloud bzImage (256M, 1 vCPU, the VMM pinned to vmhost CPU 0
# like the Linux tests) with minivmm (--net tap=bench0, --vsock
# cid=3,uds=...) and with QEMU microvm (acpi=on; virtio-net-device on the
# same tap with QEMU's userspace backend, vhost=off, its default offloads,
# which are the ones minivmm offers; vhost-vsock-device, the vmhost kernel's
# vhost_vsock), one after the other.  The guest's /init runs, over link-local
# addresses that exist only in the vmhost (169.254.10.1 on the tap, .2 in
# the guest):
#   ping      busybox ping of the vmhost, NET_PINGS (50) at 0.1 s: the
#             average round trip;
#   tcp_tx    guest → vmhost, NET_MIB (256) MiB over TCP: netbench send in
#             the guest (connect to the receiver's close), recv in the vmhost;
#   tcp_rx    vmhost → guest, the same the other way (timed by the guest's
#             receiver, first byte to EOF);
#   vsock_tx  guest → host over vsock (port 5003): for minivmm, its UNIX
#             socket UDS_5003 (Firecracker's scheme); for QEMU, an AF_VSOCK
#             listener in the vmhost;
#   vsock_rx  host → guest (guest port 5004): for minivmm, CONNECT 5004 on
#             its UNIX socket; for QEMU, an AF_VSOCK connect to CID 3.
# bench/netbench.c is both ends (static).  Per test also the VMM process's
# user+sys CPU (/proc/PID/stat, every thread) between the test's start and
# end lines, per GiB moved: with the guest's own time and without it (the
# VMM's and KVM's work alone), as bench/blk.sh does.  QEMU's vhost-vsock
# data path is a kernel thread, vhost-PID, outside QEMU's /proc/PID/stat and
# its taskset: it is pinned to CPU 0 with QEMU and its CPU time counted as
# QEMU's, so that both VMMs' whole data paths share one CPU.  The warm-up
# runs also print the CPU time of each thread of the VMM per test.  Median of BENCH_RUNS
# (3) after one warm-up run of each, the order alternating.  The frames
# minivmm's device moved (--stats) give the average frame size each way:
# large frames mean the TSO offloads are in effect.
# Usage: net.sh [MINIVMM [NETBENCH]]   (BENCH_RUNS=N, NET_MIB=M, NET_PINGS=P)
set -u
RUNS=${BENCH_RUNS:-3}
MIB=${NET_MIB:-256}
PINGS=${NET_PINGS:-50}

if [ "${VMHOST:-}" = 1 ]; then # inside the vmhost, cwd /work/bench-net
	mkdir -p /usr/bin /usr/share
	mv /work/qemu-system-x86_64 /usr/bin/ && mv /work/qemu /work/seabios /usr/share/
	O=/tmp/bench
	FIFO=/tmp/net.fifo
	UDS=$O/v.sock
	MAC=02:00:00:00:10:02
	BYTES=$((MIB * 1048576))
	mkdir -p $O
	. ./hold.sh
	. ./bench_lib.sh
	hold_vms cloud.bzImage # left stopped at the end: see hold.sh
	# The vmhost's /init loads kvm only: the tap and vhost-vsock modules.
	for m in tun vhost_iotlb vhost vsock vmw_vsock_virtio_transport_common vhost_vsock; do
		e=$(insmod ./$m.ko 2>&1) || case "$e" in *exists*) ;; *) echo "# insmod $m: $e" ;; esac
	done
	ip tuntap add dev bench0 mode tap 2>/dev/null || tunctl -t bench0 >/dev/null || {
		echo "# cannot make the tap bench0"
		exit 1
	}
	ip addr add 169.254.10.1/24 dev bench0 && ip link set bench0 up || exit 1
	CMDLINE="console=ttyS0 quiet panic=-1 netbench=$BYTES,$PINGS,$MAC"
	HZ=100 # USER_HZ: the unit of /proc/PID/stat's utime and stime
	# one VMM I: one boot; appends "VMM I TEST BYTES NS CPU HOST_CPU" per
	# test (CPU: user+sys ticks between the test's start and end lines;
	# HOST_CPU: the same without the guest time), "VMM I ping US 0 0 0"
	# and, for minivmm, "VMM I txframe AVG_BYTES 0 0 0" and "... rxframe"
	# to $O/results (-1 where a value is missing).
	one() {
		local vmm=$1 i=$2 f=$O/$1-$2 pid wd line st status t bg w ws vh workers=
		local -A c0=() g0=()
		rm -f $FIFO "$UDS" "${UDS}_5003" && mkfifo $FIFO
		: >"$f.out"
		: >"$f.cpu"
		: >"$f.host"
		./netbench h_tcp_tx recv tcp:169.254.10.1:5001 >>"$f.host" 2>&1 &
		bg=($!)
		if [ "$vmm" = minivmm ]; then
			./netbench h_vsock_tx recv "unix:${UDS}_5003" >>"$f.host" 2>&1 & bg+=($!)
			taskset 1 ./minivmm run --kernel cloud.bzImage --initrd initrd-net --mem 256M \
				--cpus 1 --cmdline "$CMDLINE" --stats \
				--net tap=bench0,mac=$MAC --vsock cid=3,uds=$UDS </dev/null >$FIFO 2>"$f.err" &
		else
			./netbench h_vsock_tx recv vsock:0:5003 >>"$f.host" 2>&1 & bg+=($!)
			taskset 1 qemu-system-x86_64 -M microvm,acpi=on,rtc=on -bios /usr/share/qemu/qboot.rom \
				-accel kvm -cpu host -smp 1 -m 256 -nodefaults -display none -serial stdio \
				-no-reboot -global virtio-mmio.force-legacy=false \
				-netdev tap,id=n0,ifname=bench0,script=no,downscript=no,vhost=off \
				-device virtio-net-device,netdev=n0,mac=$MAC \
				-device vhost-vsock-device,guest-cid=3 \
				-kernel cloud.bzImage -initrd initrd-net -append "$CMDLINE" \
				</dev/null >$FIFO 2>"$f.err" &
		fi
		pid=$! # taskset execs the VMM: this is its pid
		(sleep 200 && echo "# $vmm run $i: killed after 200 s: $(cat /proc/$pid/task/*/stat 2>/dev/null | cut -d' ' -f2,3,14,15 | tr '\n' ' ')" && kill -KILL $pid) 2>/dev/null &
		wd=$!
		while IFS= read -r line; do
			line=${line%$'\r'}
			echo "$line" >>"$f.out"
			case "$line" in # progress, and what to look at if a run hangs
			NETBENCH* | MINIVMM-* | DMESG*) echo "# $vmm $i: $line" ;;
			esac
			case "$line" in
			MINIVMM-GUEST-INIT-OK)
				# QEMU's vhost-vsock worker, "vhost-PID": the
				# device's data path, which KVM wakes directly.  It
				# runs on CPU 0 with QEMU, as minivmm's I/O threads
				# do, and its CPU time counts as QEMU's.
				workers=
				for w in /proc/[0-9]*; do
					[ "$(cat $w/comm 2>/dev/null)" = "vhost-$pid" ] || continue
					workers="$workers ${w#/proc/}"
					taskset -p 1 ${w#/proc/} >/dev/null
				done
				[ "$vmm" = qemu ] && [ "$i" = 0 ] && echo "# qemu vhost workers pinned to CPU 0:$workers"
				;;
			NETBENCH-READY\ tcp_rx)
				./netbench h_tcp_rx send tcp:169.254.10.2:5002 $BYTES >>"$f.host" 2>&1 & bg+=($!)
				;;
			NETBENCH-READY\ vsock_rx)
				if [ "$vmm" = minivmm ]; then
					./netbench h_vsock_rx send "fc:$UDS:5004" $BYTES >>"$f.host" 2>&1 & bg+=($!)
				else
					./netbench h_vsock_rx send vsock:3:5004 $BYTES >>"$f.host" 2>&1 & bg+=($!)
				fi
				;;
			esac
			case "$line" in
			NETBENCH-GO\ * | NETBENCH-READY\ *_rx | NETBENCH-END\ *)
				# utime (guest time included) + stime, and guest_time;
				# plus QEMU's vhost worker (a kernel thread: not in
				# QEMU's /proc/PID/stat), pinned with it, see below
				read -r -a st </proc/$pid/stat
				vh=0
				for w in $workers; do
					read -r -a ws </proc/$w/stat && vh=$((vh + ws[13] + ws[14]))
				done
				st[13]=$((st[13] + vh))
				t=${line#* }
				if [ "${line%% *}" != NETBENCH-END ]; then
					c0[$t]=$((st[13] + st[14])) g0[$t]=${st[42]}
					[ "$i" = 0 ] && tasks $pid >"$f.$t.tasks"
				else
					echo "$t $((st[13] + st[14] - ${c0[$t]:-0})) $((st[13] + st[14] - st[42] - ${c0[$t]:-0} + ${g0[$t]:-0}))" >>"$f.cpu"
					[ "$i" = 0 ] && echo "# $vmm $t: CPU ticks per thread (user+sys, guest): $(tasks $pid | awk -v f="$f.$t.tasks" 'BEGIN { while ((getline l < f) > 0) { split(l, a); c[a[1]] = a[3]; g[a[1]] = a[4] } } { printf "%s %d %d; ", $2, $3 - c[$1], $4 - g[$1] }')"
				fi
				;;
			esac
		done <$FIFO
		echo "# $vmm $i: console closed"
		status=0
		wait $pid || status=$?
		echo "# $vmm $i: exit $status"
		kill $wd 2>/dev/null
		kill "${bg[@]}" 2>/dev/null # a listener nobody connected to
		if [ "$status" != 0 ] || grep -q 'NETBENCH-FAIL\|MINIVMM-MODULE-FAIL' "$f.out" "$f.host" ||
			[ "$(grep -c '^NETBENCH [a-z_]* bytes=' "$f.out")" != 4 ]; then
			FAILED=1
			echo "# $vmm run $i: status $status: $(grep -h 'FAIL' "$f.out" "$f.host" | head -n 3 | tr '\n' ' ')$(tail -n 2 "$f.err" | tr '\n' ' ')"
		fi
		# NETBENCH NAME bytes=B ns=T mibps=X
		sed -n 's/^NETBENCH \([a-z_]*\) bytes=\([0-9]*\) ns=\([0-9]*\) .*/\1 \2 \3/p' "$f.out" |
			while read -r t b ns; do
				k=$(awk -v t="$t" '$1 == t { print $2, $3 }' "$f.cpu")
				echo "$vmm $i $t $b $ns ${k:--1 -1}" >>$O/results
			done
		t=$(sed -n 's/^NETBENCH-PING .* avg=\([0-9.]*\) .*/\1/p' "$f.out")
		echo "$vmm $i ping $(awk -v t="${t:--1}" 'BEGIN { print t < 0 ? -1 : t * 1000 }') 0 0 0" >>$O/results
		if [ "$vmm" = minivmm ]; then
			# "  tap bench0, ...: tx F frames (B bytes), rx F frames (B bytes), ..."
			sed -n 's/.*: tx \([0-9]*\) frames (\([0-9]*\) bytes), rx \([0-9]*\) frames (\([0-9]*\) bytes).*/\1 \2 \3 \4/p' "$f.err" |
				while read -r tf tb rf rb; do
					echo "$vmm $i txframe $((tf ? tb / tf : -1)) 0 0 0"
					echo "$vmm $i rxframe $((rf ? rb / rf : -1)) 0 0 0"
				done >>$O/results
		fi
		echo "# $vmm run $i: $(sed -n 's/^NETBENCH \([a-z_]*\) .* mibps=\([0-9.]*\)$/\1 \2 MiB\/s;/p' "$f.out" | tr '\n' ' ')ping ${t:-?} ms; cpu ticks (all, outside the guest) $(tr '\n' ';' <"$f.cpu" | sed 's/;/; /g')"
	}
	# tasks PID: "TID NAME USER+SYS GUEST" per thread.
	tasks() {
		local d st
		for d in /proc/$1/task/*; do
			read -r -a st <"$d/stat" 2>/dev/null || continue
			echo "${d##*/} ${st[1]//[()]/} $((st[13] + st[14])) ${st[42]}"
		done
	}
	# show VMM: what the warm-up run of VMM said besides the numbers.
	show() {
		sed -n 's/^\(NETINFO\|modules:\)/# '"$1"' guest: \1/p' "$O/$1-0.out"
		sed -n 's/^DMESG /# '"$1"' guest dmesg: /p' "$O/$1-0.out"
		grep -v '^$\|^pio \|^mmio \|^bus \|^exit reason\|^[a-z_]* *[0-9]* *[0-9.]* *[0-9]*$' "$O/$1-0.err" | sed 's/^/# '"$1"' stderr: /'
	}
	bench_runs
	# shellcheck disable=SC2016 # awk expressions
	MIBPS='$4 / 1048576 / ($5 / 1e9)'
	CPU="\$6 * 1000 / $HZ / (\$4 / 1073741824)" HCPU="\$7 * 1000 / $HZ / (\$4 / 1073741824)" # ms per GiB
	echo "BENCH| virtio-net (tap, QEMU vhost=off) and virtio-vsock (QEMU vhost-vsock, its worker pinned too), cloud bzImage, 256M, 1 vCPU, the VMM pinned to one CPU, $MIB MiB per stream, median of $RUNS"
	table_line metric minivmm "QEMU microvm" ratio target
	row "TCP guest -> host (MiB/s)" tcp_tx "$MIBPS" %.0f ">= 1.00x"
	row "TCP host -> guest (MiB/s)" tcp_rx "$MIBPS" %.0f ">= 1.00x"
	# shellcheck disable=SC2016
	row "ping round trip, average (us)" ping '$4' %.0f "<= 1.00x"
	row "vsock guest -> host (MiB/s)" vsock_tx "$MIBPS" %.0f ">= 0.70x"
	row "vsock host -> guest (MiB/s)" vsock_rx "$MIBPS" %.0f ">= 0.70x"
	row "VMM CPU, TCP guest -> host (ms/GiB)" tcp_tx "$CPU" %.0f "-"
	row "VMM CPU, TCP host -> guest (ms/GiB)" tcp_rx "$CPU" %.0f "-"
	row "VMM CPU, vsock guest -> host (ms/GiB)" vsock_tx "$CPU" %.0f "-"
	row "VMM CPU, vsock host -> guest (ms/GiB)" vsock_rx "$CPU" %.0f "-"
	row "  without guest time, TCP g -> h" tcp_tx "$HCPU" %.0f "-"
	row "  without guest time, TCP h -> g" tcp_rx "$HCPU" %.0f "-"
	row "  without guest time, vsock g -> h" vsock_tx "$HCPU" %.0f "-"
	row "  without guest time, vsock h -> g" vsock_rx "$HCPU" %.0f "-"
	# shellcheck disable=SC2016
	table_line "minivmm average frame, guest -> tap (B)" "$(median minivmm txframe '$4')" - - "TSO: > 1514"
	# shellcheck disable=SC2016
	table_line "minivmm average frame, tap -> guest (B)" "$(median minivmm rxframe '$4')" - - "TSO: > 1514"
	exit $FAILED
fi

# On the host: stage minivmm, the cloud kernel, a guest initramfs whose /init
# runs the tests, netbench, the vmhost's tun and vhost-vsock modules, QEMU,
# and run this script in the vmhost.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/linux/common.sh"
MINIVMM=$(realpath "${1:-$LINUX_TOP/build/minivmm}")
NETBENCH=$(realpath "${2:-$LINUX_TOP/build/bench/netbench}")
cd "$LINUX_TOP" || exit 1
[ -x "$NETBENCH" ] || { echo "bench-net: no $NETBENCH (make build/bench/netbench)" >&2; exit 1; }
STAGE=$LINUX_TOP/build/linux/bench-net
LOG=$LINUX_TOP/build/linux/bench-net.log
linux_prepare "$MINIVMM" "$STAGE" >/dev/null || exit 1
cp "$HERE/net.sh" "$STAGE/net.sh"
cp "$HERE/vmhost_lib.sh" "$STAGE/bench_lib.sh"
cp "$NETBENCH" "$STAGE/netbench"
rm -f "$STAGE/cloud.vmlinux" "$STAGE"/generic.* "$STAGE/initrd" # only cloud.bzImage is booted
for m in drivers/net/tun drivers/vhost/vhost_iotlb drivers/vhost/vhost net/vmw_vsock/vsock \
	net/vmw_vsock/vmw_vsock_virtio_transport_common drivers/vhost/vhost_vsock; do
	ko=$(find "$VMHOST_MODDIR/kernel/$(dirname $m)" -name "$(basename $m).ko*" | head -n1)
	[ -n "$ko" ] || { echo "bench-net: no $m.ko in $VMHOST_MODDIR" >&2; exit 1; }
	case "$ko" in
	*.xz) xz -dc "$ko" ;;
	*.zst) zstd -qdc "$ko" ;;
	*) cat "$ko" ;;
	esac >"$STAGE/$(basename $m).ko"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The guest's /init: the modules as the default /init loads them, the
# interface with the MAC of netbench=BYTES,PINGS,MAC up as 169.254.10.2,
# then the tests in order.
cat >"$tmp/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /lib/load-modules.sh # mkinitrd.sh's, as the default /init loads them
echo "modules:$mods"
echo "MINIVMM-GUEST-INIT-OK"
args=
for w in $(cat /proc/cmdline); do
    case "$w" in netbench=*) args="${w#netbench=}" ;; esac
done
bytes=${args%%,*} rest=${args#*,}
pings=${rest%%,*} mac=${rest#*,}
. /lib/if-by-mac.sh # mkinitrd.sh's
if_by_mac "$mac"
ip link set lo up
if [ -n "$dev" ]; then
    ip addr add 169.254.10.2/24 dev "$dev" && ip link set "$dev" up
    echo "NETINFO $dev mtu=$(cat /sys/class/net/$dev/mtu) driver=$(basename "$(readlink /sys/class/net/$dev/device/driver)") vsock=$([ -e /dev/vsock ] && echo yes || echo no)"
    ping -c 2 -w 10 169.254.10.1 >/dev/null 2>&1 # ARP, and a warm path
    ping -c "$pings" -i 0.1 169.254.10.1 |
        sed -n 's|^round-trip min/avg/max = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms|NETBENCH-PING min=\1 avg=\2 max=\3|p'
    echo "NETBENCH-GO tcp_tx"
    /bin/netbench tcp_tx send tcp:169.254.10.1:5001 "$bytes"
    echo "NETBENCH-END tcp_tx"
    /bin/netbench tcp_rx recv tcp:169.254.10.2:5002
    echo "NETBENCH-END tcp_rx"
else
    echo "NETBENCH-FAIL no interface with MAC $mac"
fi
echo "NETBENCH-GO vsock_tx"
/bin/netbench vsock_tx send vsock:2:5003 "$bytes"
echo "NETBENCH-END vsock_tx"
/bin/netbench vsock_rx recv vsock:0:5004
echo "NETBENCH-END vsock_rx"
dmesg | grep -i -E 'virtio|vsock|eth|fail|warn|error' | grep -v 'netbench=' | sed 's/^/DMESG /'
poweroff -f
EOF
"$LINUX_TOP/tests/vmhost/mkinitrd.sh" "$tmp/initrd.gz" --init "$tmp/init" \
	--modules-from cloud \
	--modules "virtio_mmio virtio_net vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport" \
	--file "$NETBENCH:/bin/netbench" || exit 1
cp "$tmp/initrd.gz" "$STAGE/initrd-net"
{
	echo "export BENCH_RUNS=$RUNS NET_MIB=$MIB NET_PINGS=$PINGS"
	vmhost_stub bench-net net.sh
} >"$tmp/stub"
vmhost_session "$LOG" -m 2G -t "${BENCH_TIMEOUT:-1200}" "${LINUX_FILES[@]}" \
	-f "$(command -v qemu-system-x86_64)" -f /usr/share/qemu -f /usr/share/seabios "$tmp/stub"
rc=$?
tr -d '\r' <"$LOG" | grep '^# ' | sed 's/^/  /'
tr -d '\r' <"$LOG" | sed -n 's/^BENCH| //p'
[ "$rc" = 0 ] || { echo "bench-net: vmhost failed ($rc), see ${LOG#"$LINUX_TOP"/}" >&2; exit 1; }
