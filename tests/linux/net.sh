#!/usr/bin/env bash
# virtio-net scenarios with the Debian kernels (--net tap=NAME[,mac=MAC]
# [,mtu=N]): a tap made in the vmhost with link-local IPv4 addresses on
# both ends (169.254.10.1/24 in the vmhost, .2 in the guest; the second
# interface 169.254.11.0/24); the guest pings the vmhost, and TCP moves
# 64 MiB each way (busybox nc on both sides: the vmhost listens, the guest
# connects) with matching SHA-256 sums; at MTU 1500 and 9000; then two
# interfaces at once.  Prints "ok - net ..." / "not ok - ...".
# Two halves, as virtio.sh:
#   on the host, after linux_prepare STAGE and virtio.sh --prepare STAGE:
#       net.sh --prepare STAGE
#     adds tun.ko (the vmhost kernel builds tun as a module, and the vmhost
#     loads only kvm's) and this script to STAGE; the guest boots
#     virtio-initrd, which must have virtio_net and the net mode (below);
#   in the vmhost, from STAGE: sourced by scenarios.sh (`. ./net.sh`, after
#     virtio.sh) or alone (`bash ./net.sh`).
# NET_KERNELS: kernels to run every case with (default: the cloud bzImage
# and the generic PVH vmlinux).  NET_MB: MiB each way (64).  NET_T_BOOT:
# the bound of a boot that moves data (600 s: TCP in a nested guest under
# QEMU TCG is slow).
#
# The guest half is the net mode of tests/vmhost/mkinitrd.sh.

if [ "${1:-}" = --prepare ]; then
	set -eu
	[ $# = 2 ] || { echo "usage: net.sh --prepare STAGE" >&2; exit 2; }
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	stage=$2
	# shellcheck source=../vmhost/fetch.sh
	. "$here/../vmhost/fetch.sh"
	vmhost_fetch
	ko=$(find "$VMHOST_MODDIR" -name 'tun.ko*' | head -n1)
	[ -n "$ko" ] || { echo "net.sh: no tun.ko in $VMHOST_MODDIR" >&2; exit 1; }
	case "$ko" in
	*.xz) xz -dc "$ko" ;;
	*.zst) zstd -qdc "$ko" ;;
	*.gz) gzip -dc "$ko" ;;
	*) cat "$ko" ;;
	esac >"$stage/tun.ko"
	cp "$here/net.sh" "$stage/"
	exit 0
fi

# Run alone: scenarios.sh's set-up and helpers.
declare -F boot >/dev/null || . ./scenario_lib.sh

NET_MB=${NET_MB:-64}
NET_T_BOOT=${NET_T_BOOT:-600}

# The vmhost's tun: a module of its kernel, not loaded by its /init.
[ -c /dev/net/tun ] || { [ -f tun.ko ] && insmod ./tun.ko; }
for _ in 1 2 3 4 5 6 7 8 9 10; do
	[ -c /dev/net/tun ] && break
	sleep 0.1
done

# n_tap NAME MTU ADDR/PREFIX: a persistent tap in the vmhost, up, with that
# address.  busybox's ip has no tuntap: its tunctl makes the same device.
n_tap() {
	ip tuntap add dev "$1" mode tap 2>/dev/null || tunctl -t "$1" >/dev/null || return 1
	ip link set "$1" mtu "$2" && ip addr add "$3" dev "$1" && ip link set "$1" up
}

n_untap() {
	ip link set "$1" down 2>/dev/null
	ip tuntap del dev "$1" mode tap 2>/dev/null || tunctl -d "$1" >/dev/null 2>&1
}

# n_listen: the vmhost's halves of the TCP test, before the guest boots:
# nc on 5001 keeps what the guest sends ($O/up.bin; its input a FIFO held
# open, so that it never half-closes first), nc on 5002 sends
# $O/down.bin.
n_listen() {
	rm -f "$O/up.bin" "$O/hold"
	mkfifo "$O/hold"
	exec 7<>"$O/hold"
	nc -l -p 5001 <&7 >"$O/up.bin" &
	NC_UP=$!
	nc -l -p 5002 <"$O/down.bin" >/dev/null &
	NC_DOWN=$!
}

# n_unlisten: the listeners end (they have, if the guest did its part).
n_unlisten() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$NC_UP" 2>/dev/null || kill -0 "$NC_DOWN" 2>/dev/null || break
		sleep 0.5
	done
	kill "$NC_UP" "$NC_DOWN" 2>/dev/null
	wait "$NC_UP" "$NC_DOWN" 2>/dev/null
	exec 7>&-
}

# n_ifcheck NAME MAC MTU PEER: the guest brought the interface up with
# virtio_net's driver and pinged the vmhost.
n_ifcheck() {
	local name=$1 mac=$2 mtu=$3 peer=$4 dev
	dev=$(sed -n "s/^MINIVMM-NET-OK \([a-z0-9]*\) mac=$mac mtu=$mtu driver=virtio_net$/\1/p" "$out")
	if [ -n "$dev" ]; then ok "$name: $dev mac=$mac mtu=$mtu (virtio_net)"; else
		not_ok "$name: interface mac=$mac mtu=$mtu (virtio_net)" "no such line" "$out"; return; fi
	if grep -qxF "MINIVMM-NET-OK $dev ping $peer" "$out"; then ok "$name: $dev pings $peer"; else
		not_ok "$name: $dev pings $peer" "no such line" "$out"; fi
	if [ "$mtu" -gt 1500 ]; then
		if grep -qxF "MINIVMM-NET-OK $dev ping $peer size $((mtu - 28))" "$out"; then
			ok "$name: $dev pings $peer with $((mtu - 28)) bytes"
		else
			not_ok "$name: $dev pings $peer with $((mtu - 28)) bytes" "no such line" "$out"
		fi
	fi
}

# n_tcpcheck NAME: both transfers complete, with the sums of both ends.
n_tcpcheck() {
	local name=$1 bytes=$((NET_MB * 1048576)) up down
	up=$(sha256sum <"$O/up.bin" | cut -d' ' -f1)
	if grep -qxF "MINIVMM-NET-OK sent $bytes sha256=$up" "$out" &&
		[ "$(wc -c <"$O/up.bin")" = "$bytes" ]; then
		ok "$name: $NET_MB MiB guest -> vmhost, sums match"
	else
		not_ok "$name: $NET_MB MiB guest -> vmhost, sums match" \
			"vmhost got $(wc -c <"$O/up.bin") bytes, sha256 $up; guest: $(grep '^MINIVMM-NET-OK sent' "$out")"
	fi
	down=$(cut -d' ' -f1 "$O/down.sha256")
	if grep -qxF "MINIVMM-NET-OK received $bytes sha256=$down" "$out"; then
		ok "$name: $NET_MB MiB vmhost -> guest, sums match"
	else
		not_ok "$name: $NET_MB MiB vmhost -> guest, sums match" \
			"sent sha256 $down; guest: $(grep '^MINIVMM-NET-OK received' "$out")"
	fi
}

# n_nodrops NAME: --stats of every interface: no frame dropped for a bad
# header, a bad chain or a length (a Linux driver sends none), no tap
# error.  Prints the counters.
n_nodrops() {
	local name=$1 line
	sed -n 's/^\([^ ]* virtio-net at .*\)/# \1/p; s/^  \(tap .*\)/#   \1/p; s/^  \(dropped: .*\)/#   \1/p' "$err"
	line=$(grep '^  dropped: ' "$err" | grep -v '^  dropped: tx 0 malformed, 0 empty, 0 bad header, 0 too short, 0 too long, [0-9]* tap busy, 0 tap error; rx 0 malformed, [0-9]* too long, 0 refused, 0 read error$' | head -n1)
	if [ -z "$line" ] && grep -q '^  dropped: ' "$err"; then
		ok "$name: nothing dropped as malformed"
	else
		not_ok "$name: nothing dropped as malformed" "${line:-no --stats line}" "$err"
	fi
}

# Data for the vmhost -> guest direction.
head -c $((NET_MB * 1048576)) /dev/urandom >"$O/down.bin"
sha256sum <"$O/down.bin" >"$O/down.sha256"

MAC0=02:00:00:00:0a:02
MAC1=02:00:00:00:0b:02

if [ ! -c /dev/net/tun ]; then
	not_ok "net: /dev/net/tun" "none in the vmhost (tun.ko: $(ls -l tun.ko 2>&1))"
else
	for kernel in ${NET_KERNELS:-cloud.bzImage generic.vmlinux}; do
		k=net-$kernel

		# One interface, MTU 1500 then 9000: ping, 64 MiB each way.
		for mtu in 1500 9000; do
			name=$k-mtu$mtu
			if ! n_tap mvnet0 "$mtu" 169.254.10.1/24; then
				not_ok "$name" "cannot make tap mvnet0"
				continue
			fi
			n_listen
			if T_BOOT=$NET_T_BOOT v_boot "$name" "$kernel" \
				"guest_test=net net_if=$MAC0,169.254.10.2/24,169.254.10.1 net_tcp=169.254.10.1 net_mb=$NET_MB" \
				--mem 512M --net "tap=mvnet0,mac=$MAC0,mtu=$mtu"; then
				n_ifcheck "$name" "$MAC0" "$mtu" 169.254.10.1
				n_unlisten
				n_tcpcheck "$name"
				n_nodrops "$name"
			else
				n_unlisten
			fi
			n_untap mvnet0
		done

		# Two interfaces at once, the MTU from each tap (no mtu=).
		name=$k-two
		if n_tap mvnet0 1500 169.254.10.1/24 && n_tap mvnet1 9000 169.254.11.1/24; then
			if v_boot "$name" "$kernel" \
				"guest_test=net net_if=$MAC0,169.254.10.2/24,169.254.10.1 net_if=$MAC1,169.254.11.2/24,169.254.11.1" \
				--net "tap=mvnet0,mac=$MAC0" --net "tap=mvnet1,mac=$MAC1"; then
				n_ifcheck "$name" "$MAC0" 1500 169.254.10.1
				n_ifcheck "$name" "$MAC1" 9000 169.254.11.1
				if [ "$(grep -cE '^[^ ]+ virtio-net at 0xd000[01]000: ' "$err")" = 2 ]; then
					ok "$name: two virtio-net devices in slots 0 and 1"
				else
					not_ok "$name: two virtio-net devices in slots 0 and 1" "--stats says otherwise" "$err"
				fi
				n_nodrops "$name"
			fi
		else
			not_ok "$name" "cannot make taps mvnet0 and mvnet1"
		fi
		n_untap mvnet0
		n_untap mvnet1
	done
fi
rm -f "$O/down.bin" "$O/up.bin"
