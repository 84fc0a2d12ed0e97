#!/usr/bin/env bash
# virtio-vsock scenarios with the Debian kernels: Linux's virtio-vsock
# driver (vsock, vmw_vsock_virtio_transport_common,
# vmw_vsock_virtio_transport) against minivmm's device (--vsock
# cid=3,uds=PATH), host programs on Firecracker's UNIX sockets.  One boot
# per kernel does it all: streams of 16 MiB both ways with matching
# checksums, 100 connections at once both ways, a reader that stalls 5 s
# on each side while minivmm's own RSS stays flat, no listener (refused both
# ways), and each side closing mid-stream.  Prints "ok - vsock ..." /
# "not ok - ...".  minivmm's RSS is VmRSS less guest RAM (its mapping in
# /proc/PID/smaps), so what the guest touches does not count.
#
# The guest half is the vsock mode of tests/vmhost/mkinitrd.sh and
# /bin/vsock-guest (tests/linux/vsock/guest.c, built static by the Makefile).
#
# Two halves:
#   on the host, after linux_prepare STAGE (common.sh):
#       vsock.sh --prepare STAGE
#     builds vsock-guest and vsock-host (static), vsock-initrd (mkinitrd.sh
#     with the vsock modules and /bin/vsock-guest), and copies this script
#     and vsock-host to STAGE;
#   in the vmhost, from STAGE: sourced by scenarios.sh (`. ./vsock.sh`: it
#     uses scenarios.sh's ok, not_ok, now_ms, $O, $BASE, $PIN, $MARK,
#     $T_BOOT), or alone (`bash ./vsock.sh`).
# VSOCK_KERNELS: kernel files to boot (default both kernels and both entries:
# the cloud bzImage and the generic PVH vmlinux; one boot takes about 11 s).

if [ "${1:-}" = --prepare ]; then
	set -eu
	[ $# = 2 ] || { echo "usage: vsock.sh --prepare STAGE" >&2; exit 2; }
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	top=$(cd "$here/../.." && pwd)
	stage=$2
	out=$top/build/linux
	mkdir -p "$out"
	for p in guest host; do
		make -s -C "$top" "build/linux/vsock-$p" 2>/dev/null ||
			gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
				-o "$out/vsock-$p" "$here/vsock/$p.c"
	done
	"$here/../vmhost/mkinitrd.sh" "$stage/vsock-initrd" \
		--modules-from generic --modules-from cloud \
		--modules "virtio_mmio vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport" \
		--file "$out/vsock-guest:/bin/vsock-guest"
	cp "$out/vsock-host" "$stage/vsock-host"
	cp "$here/vsock.sh" "$stage/"
	exit 0
fi

# Run alone: scenarios.sh's set-up and helpers.
declare -F boot >/dev/null || . ./scenario_lib.sh

VSOCK_INITRD=vsock-initrd
VS_CID=3
VS_MIB=16777216	   # 16 MiB streams
VS_BIG=67108864	   # what a sender offers a reader that closes early
VS_STALL_MS=5000   # a slow reader reads nothing this long
VS_RSS_KB=4096	   # minivmm may grow by this much meanwhile
VS_MEM_MIB=256
VS_T=${VSOCK_T:-$((T_BOOT * 3))}

# vs_line PATTERN: $vs_out has a line (CRs stripped) matching PATTERN.
vs_line() { tr -d '\r' <"$vs_out" | grep -qE -- "$1"; }

# vs_wait PATTERN SECONDS: until vs_line PATTERN, or minivmm is gone.
vs_wait() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		vs_line "$1" && return 0
		kill -0 "$vs_pid" 2>/dev/null || { vs_line "$1"; return; }
		sleep 0.2
	done
	return 1
}

# vs_rss: minivmm's resident kB now outside guest RAM (the mapping of
# --mem or more), "" once it is gone.
vs_rss() {
	awk -v mem=$((VS_MEM_MIB * 1024)) '
		/^[0-9a-f]+-[0-9a-f]+ / { guest = 0 }
		/^Size:/ { guest = $2 >= mem }
		/^Rss:/ { if (!guest) own += $2; seen = 1 }
		END { if (seen) print own }' "/proc/$vs_pid/smaps" 2>/dev/null
}

# vs_check NAME FILE PATTERN: ok if FILE has a line matching PATTERN.
vs_check() {
	if tr -d '\r' <"$2" | grep -qE -- "$3"; then ok "$1"; else
		not_ok "$1" "no line /$3/" "$2"; fi
}

# vs_sum FILE WHAT BYTES: the sum of FILE's "WHAT BYTES SUM" line.
vs_sum() { tr -d '\r' <"$1" | sed -n "s/^\\(MINIVMM-VSOCK-OK \\)\\{0,1\\}$2 $3 \\([0-9a-f]*\\)$/\\2/p" | head -n1; }

for kernel in ${VSOCK_KERNELS:-cloud.bzImage generic.vmlinux}; do
	name=vsock-$kernel
	U=$O/$name.sock
	vs_out=$O/$name.out
	vs_err=$O/$name.err
	vs_host=()
	# Host programs the guest connects to: UDS_PORT.
	./vsock-host serve "${U}_7001" sink >"$O/$name.7001" 2>&1 &
	vs_host+=($!)
	./vsock-host serve "${U}_7002" slowsink "$VS_STALL_MS" >"$O/$name.7002" 2>&1 &
	vs_host+=($!)
	./vsock-host serve "${U}_7003" echo >"$O/$name.7003" 2>&1 &
	vs_host+=($!)
	./vsock-host serve "${U}_7005" source "$VS_BIG" >"$O/$name.7005" 2>&1 &
	vs_host+=($!)
	# The guest: servers in the background, then its connections in
	# order, then one last server whose connection powers it off.
	words="vsockbg=serve,5001,sink vsockbg=serve,5002,slowsink,$VS_STALL_MS"
	words="$words vsockbg=serve,5003,echo vsockbg=serve,5005,recvclose,1048576"
	words="$words vsock=connect,2,7001,send,$VS_MIB vsock=connect,2,7002,send,$VS_MIB"
	words="$words vsock=connect,2,7003,many,100 vsock=connect,2,7009,refused"
	words="$words vsock=connect,2,7005,recvclose,1048576 vsock=serve,9,recv,0,1"
	t0=$(now_ms)
	$PIN ./minivmm run --stats --kernel "$kernel" --initrd "$VSOCK_INITRD" \
		--mem "${VS_MEM_MIB}M" --vsock "cid=$VS_CID,uds=$U" \
		--cmdline "$BASE guest_test=vsock $words" </dev/null >"$vs_out" 2>"$vs_err" &
	vs_pid=$!
	rss0="" rss_max=0 up=0
	for p in 5001 5002 5003 5005; do
		vs_wait "^MINIVMM-VSOCK-OK listening $p$" "$T_BOOT" || break
		up=$((up + 1))
	done
	if [ "$up" = 4 ]; then
		rss0=$(vs_rss)
		# Host side, while the guest makes its own connections.
		./vsock-host connect "$U" 5001 send "$VS_MIB" >"$O/$name.c5001" 2>&1 &
		c5001=$!
		./vsock-host connect "$U" 5002 send "$VS_MIB" >"$O/$name.c5002" 2>&1 &
		c5002=$!
		./vsock-host connect "$U" 5003 many 100 >"$O/$name.c5003" 2>&1 &
		c5003=$!
		./vsock-host connect "$U" 5004 refused >"$O/$name.c5004" 2>&1
		./vsock-host connect "$U" 5005 send "$VS_BIG" >"$O/$name.c5005" 2>&1 &
		c5005=$!
		# RSS while the streams and the stalled readers run.
		while kill -0 "$c5002" 2>/dev/null || ! vs_line "^MINIVMM-VSOCK-OK listening 9$"; do
			r=$(vs_rss)
			[ -n "$r" ] || break
			[ "$r" -gt "$rss_max" ] && rss_max=$r
			[ $(($(now_ms) - t0)) -lt $((VS_T * 1000)) ] || break
			sleep 0.2
		done
		for p in $c5001 $c5002 $c5003; do wait "$p"; done
		st5005=0
		wait "$c5005" || st5005=$?
		./vsock-host connect "$U" 9 send 0 >"$O/$name.c9" 2>&1
	fi
	# Power-off, or the timeout.
	while kill -0 "$vs_pid" 2>/dev/null && [ $(($(now_ms) - t0)) -lt $((VS_T * 1000)) ]; do
		sleep 0.2
	done
	kill -TERM "$vs_pid" 2>/dev/null
	status=0
	wait "$vs_pid" || status=$?
	for p in "${vs_host[@]}"; do kill "$p" 2>/dev/null; done
	wait "${vs_host[@]}" 2>/dev/null
	echo "# $name: status $status after $(($(now_ms) - t0)) ms; RSS ${rss0:-?} kB, at most $rss_max kB"
	if [ -z "$rss0" ]; then
		not_ok "$name: boots with vsock" "$up of the guest's 4 servers listen, status $status" "$vs_out" "$vs_err"
		continue
	fi
	if [ "$status" = 0 ] && grep -q "^the VM ended: guest power-off (ACPI)" "$vs_err"; then
		ok "$name: powers off"
	else
		not_ok "$name: powers off" "status $status" "$vs_out" "$vs_err"
	fi
	bad=$(tr -d '\r' <"$vs_out" | grep -E '^MINIVMM-[A-Z]+-FAIL' | head -n 5 | tr '\n' ';')
	if [ -z "$bad" ]; then ok "$name: no guest failures"; else
		not_ok "$name: no guest failures" "$bad"; fi

	# Streams, 16 MiB each way, with matching sums.
	want=$(vs_sum "$O/$name.c5001" sent "$VS_MIB")
	if [ -n "$want" ] && [ "$(tr -d '\r' <"$vs_out" | grep -c "^MINIVMM-VSOCK-OK got $VS_MIB $want$")" = 2 ]; then
		ok "$name: host to guest, 16 MiB, twice (one reader stalled 5 s), checksums match"
	else
		not_ok "$name: host to guest 16 MiB" "host sent '$want'" "$O/$name.c5001" "$O/$name.c5002" "$vs_out"
	fi
	want=$(vs_sum "$vs_out" sent "$VS_MIB")
	if [ -n "$want" ] && [ "$(vs_sum "$O/$name.7001" got "$VS_MIB")" = "$want" ] &&
		[ "$(vs_sum "$O/$name.7002" got "$VS_MIB")" = "$want" ]; then
		ok "$name: guest to host, 16 MiB, twice (one reader stalled 5 s), checksums match"
	else
		not_ok "$name: guest to host 16 MiB" "guest sent '$want'" "$O/$name.7001" "$O/$name.7002" "$vs_out"
	fi
	# 100 at once, both ways.
	vs_check "$name: 100 connections at once, guest to host" "$vs_out" "^MINIVMM-VSOCK-OK many 100 ok$"
	vs_check "$name: 100 connections at once, host to guest" "$O/$name.c5003" "^many 100 ok$"
	# No listener.
	vs_check "$name: refused, guest to host (ECONNRESET)" "$vs_out" "^MINIVMM-VSOCK-OK refused$"
	vs_check "$name: refused, host to guest (closed without OK)" "$O/$name.c5004" "^refused$"
	# Closing mid-stream: the sender learns, nothing hangs.
	vs_check "$name: the guest closes mid-stream (reader)" "$vs_out" "^MINIVMM-VSOCK-OK closed after 1048576$"
	if [ "$st5005" != 0 ] && grep -q "^sent-short" "$O/$name.c5005"; then
		ok "$name: the host sender learns the guest closed"
	else
		not_ok "$name: the host sender learns the guest closed" "status $st5005" "$O/$name.c5005"
	fi
	vs_check "$name: the guest closes a host source mid-stream" "$O/$name.7005" "^sent-short "
	# Bounded buffering: RSS, and what --stats says was buffered.
	if [ $((rss_max - rss0)) -le "$VS_RSS_KB" ]; then
		ok "$name: RSS grows by $((rss_max - rss0)) kB (at most $VS_RSS_KB) with readers stalled"
	else
		not_ok "$name: RSS bounded" "$rss0 kB -> $rss_max kB" "$vs_err"
	fi
	sed -n 's/^\(vsock[0-9]* virtio-vsock.*\)/# \1/p; s/^  \([0-9]* connections.*\)/#   \1/p; s/^  \([0-9]* packets.*\)/#   \1/p' "$vs_err"
	if grep -qE "^  [0-9]+ connections from the host, [0-9]+ from the guest, [0-9]+ refused, 0 open; .*, at most 0\.[0-3] MiB buffered$" "$vs_err"; then
		ok "$name: every connection closed, at most 256 KiB buffered"
	else
		not_ok "$name: every connection closed, at most 256 KiB buffered" "--stats says otherwise" "$vs_err"
	fi
	vs_check "$name: no credit overrun by Linux" "$vs_err" "^  [0-9]+ packets dropped, [0-9]+ answered with RST, 0 credit overruns,"
done
