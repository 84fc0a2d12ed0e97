#!/usr/bin/env bash
# virtio-net driven by a raw long-mode guest that polls (virtio_net.elf, see
# there for its cases), on a tap this script makes in a network namespace
# of its own and removes afterwards: no frame leaves that namespace.  The
# tap has 169.254.77.1/24, MTU 1500 and no IPv6 (no router solicitations
# among the replies the guest waits for); the host's kernel answers the
# guest's ARP requests.  Each case the guest reports becomes one ok/not ok
# line, as in virtio.sh; minivmm must end with the guest's status, and
# its --stats must count every frame the hostile cases made it drop.  Then
# the transmit rate limiters, measured with virtio_net_rate.elf.
# Skipped (one ok line saying why) before minivmm has --net, or without
# root, ip, /dev/net/tun or network namespaces.
# Usage: virtio_net.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

NET_TIMEOUT=${NET_TIMEOUT:-150}
NS=minivmm-net-$$
TAP=mvtest0
MAC=02:4d:56:00:00:01

skip() {
	echo "ok - virtio-net guest tests skipped: $1"
	exit 0
}

"$MINIVMM" run --help 2>&1 | grep -q -- "--net" || skip "this minivmm has no --net yet"
[ "$(id -u)" = 0 ] || skip "not root (a network namespace and a tap need CAP_NET_ADMIN)"
command -v ip >/dev/null || skip "no ip (iproute2)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
ip netns add "$NS" 2>/dev/null || skip "cannot make a network namespace"
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T_TMP"' EXIT

in_ns() { ip netns exec "$NS" "$@"; }
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
	>/dev/null 2>&1 || true
if ! in_ns ip tuntap add dev "$TAP" mode tap || ! in_ns ip addr add 169.254.77.1/24 dev "$TAP" ||
	! in_ns ip link set "$TAP" up; then
	not_ok "virtio-net tap" "cannot make $TAP in namespace $NS"
	exit 0
fi

first() { head -c 300 "$1" | tr '\n' ' '; }
last() { tail -c 300 "$1" | tr '\n' ' '; }

# run_ns OUT_PREFIX ARGS...: minivmm ARGS inside the namespace, bounded;
# sets $status.
run_ns() {
	local out=$1
	shift
	status=0
	timeout -k 5 "$T_TIMEOUT" ip netns exec "$NS" "$MINIVMM" "$@" \
		>"$out.out" 2>"$out.err" </dev/null || status=$?
}

# clean NAME: the run's stderr has no sanitizer report.
clean() {
	if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" "$T_TMP/$1.err"; then
		not_ok "$1 sanitizer-clean" "$(grep -m3 -E "Sanitizer|runtime error" "$T_TMP/$1.err" | tr '\n' ' ')"
		return 1
	fi
	return 0
}

# guest NAME ARGS...: virtio_net.elf with --net on the tap and ARGS; one
# line per case, as virtio.sh's hostile().
guest() {
	local name=$1 line cur="" why="" done=""
	shift
	T_TIMEOUT=$NET_TIMEOUT run_ns "$T_TMP/$name" run --kernel "$G/virtio_net.elf" \
		--net "tap=$TAP,mac=$MAC" --stats "$@"
	while IFS= read -r line; do
		case $line in
		"case "*) cur=${line#case }; why="" ;;
		"ok "*) ok "$name ${line#ok }"; cur="" ;;
		"fail "*) not_ok "$name ${line#fail }" "${why:-see the guest output}"; cur="" ;;
		"  "*) why="$why${why:+; }${line#  }" ;;
		"done "*) done=${line#done } ;;
		esac
	done <"$T_TMP/$name.out"
	if [ -n "$cur" ]; then
		not_ok "$name $cur" "minivmm ended during this case: status $status; stderr: $(last "$T_TMP/$name.err")"
	fi
	if [ -z "$done" ]; then
		not_ok "$name completes" "status $status, no 'done' line; stdout: $(first "$T_TMP/$name.out"); stderr: $(last "$T_TMP/$name.err")"
	elif [ "$done" = 0 ] && [ "$status" = 0 ]; then
		ok "$name exit status 0"
	elif [ "$done" != 0 ] && [ "$status" -ge 1 ] && [ "$status" -lt 100 ]; then
		ok "$name exit status $status: the first failed case"
	else
		not_ok "$name exit status" "status $status with $done failed cases"
	fi
	clean "$name" && ok "$name sanitizer-clean"
}

# stats NAME: the drops the hostile cases caused, exactly (virtio_net.c:
# 1 transmit chain with a writable buffer, 2 of zero length, 10 bad
# headers, 2 frames shorter than an Ethernet header, 2 longer than the MTU
# allows; on receive a readable buffer and a first buffer shorter than the
# header, and 1 frame for a buffer too small), and frames both ways.
stats() {
	local name=$1 err=$T_TMP/$1.err want line
	want="  dropped: tx 1 malformed, 2 empty, 10 bad header, 2 too short, 2 too long, 0 tap busy, 0 tap error; rx 2 malformed, 1 too long, 0 refused, 0 read error"
	line=$(grep -E "^[^ ]+ virtio-net at 0xd0000000: " "$err")
	if [ -n "$line" ]; then
		ok "$name --stats line"
		echo "# $line"
	else
		not_ok "$name --stats line" "no virtio-net line: $(last "$err")"
	fi
	if grep -qxF -- "$want" "$err"; then
		ok "$name drops counted by reason"
	else
		not_ok "$name drops counted by reason" "got '$(grep -m1 '^  dropped: ' "$err")'"
	fi
	line=$(grep -m1 -E "^  tap $TAP, mac $MAC, mtu 1500: tx [0-9]+ frames" "$err")
	echo "# ${line# }"
	if [[ $line =~ tx\ ([0-9]+)\ frames.*rx\ ([0-9]+)\ frames ]] &&
		[ "${BASH_REMATCH[1]}" -ge 25 ] && [ "${BASH_REMATCH[2]}" -ge 25 ]; then
		ok "$name frames both ways"
	else
		not_ok "$name frames both ways" "'$line'"
	fi
}

guest net
stats net
# The same with an interrupt line (irqfd into the in-kernel IOAPIC) that
# the guest ignores: it still polls.
guest net-platform-pc --platform pc
stats net-platform-pc

# Refused: the tap's MTU is not mtu=; a tap that does not exist.
run_ns "$T_TMP/mtu" run --kernel "$G/virtio_net.elf" --net "tap=$TAP,mtu=9000"
if [ "$status" = 1 ] && [ "$(wc -l <"$T_TMP/mtu.err")" = 1 ] &&
	grep -qF "minivmm: tap $TAP has MTU 1500, but --net asks for mtu=9000: set it with 'ip link set $TAP mtu 9000'" "$T_TMP/mtu.err"; then
	ok "net mtu= differs from the tap's: refused"
else
	not_ok "net mtu= differs from the tap's: refused" "status $status: $(first "$T_TMP/mtu.err")"
fi
run_ns "$T_TMP/nosuch" run --kernel "$G/virtio_net.elf" --net tap=mvnosuch0
if [ "$status" = 1 ] && [ "$(wc -l <"$T_TMP/nosuch.err")" = 1 ] &&
	grep -qF "minivmm: tap mvnosuch0: no such device: create it with 'ip tuntap add dev mvnosuch0 mode tap' (and 'ip link set mvnosuch0 up')" "$T_TMP/nosuch.err"; then
	ok "net on a tap that does not exist: refused"
else
	not_ok "net on a tap that does not exist: refused" "status $status: $(first "$T_TMP/nosuch.err")"
fi
if in_ns ip link show mvnosuch0 >/dev/null 2>&1; then
	not_ok "net on a tap that does not exist: none made" "mvnosuch0 exists now"
else
	ok "net on a tap that does not exist: none made"
fi

# Rate limiters, measured: virtio_net_rate.elf sends 3000 frames of 1000
# bytes as fast as it polls; with tx-iops (1000 frames/s) or tx-bw
# (1000000 bytes/s) the measured rate (--stats: frames, bytes, wall time)
# must be within 10% of the limit.
for lim in tx-iops=50/50 tx-bw=25000/25; do
	run_ns "$T_TMP/rate" run --kernel "$G/virtio_net_rate.elf" --net "tap=$TAP,$lim" --stats
	frames=$(sed -nE "s/^  tap $TAP, .*: tx ([0-9]+) frames \(([0-9]+) bytes\).*/\1/p" "$T_TMP/rate.err")
	bytes=$(sed -nE "s/^  tap $TAP, .*: tx ([0-9]+) frames \(([0-9]+) bytes\).*/\2/p" "$T_TMP/rate.err")
	ms=$(sed -nE 's/^wall time ([0-9.]+) ms.*/\1/p' "$T_TMP/rate.err")
	if [ "$status" != 0 ] || [ "$(cat "$T_TMP/rate.out")" != "net-rate done" ] || [ -z "$frames" ] || [ -z "$ms" ]; then
		not_ok "net rate $lim" "status $status: $(first "$T_TMP/rate.out") $(last "$T_TMP/rate.err")"
		continue
	fi
	case $lim in
	tx-iops*) what="frames/s" v=$frames limit=1000 ;;
	*) what="bytes/s" v=$bytes limit=1000000 ;;
	esac
	r=$(awk -v n="$v" -v ms="$ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
	if awk -v r="$r" -v l="$limit" 'BEGIN { d = (r - l) / l; exit !(d < 0.10 && d > -0.10) }'; then
		ok "net rate $lim: $r $what, limit $limit (within 10%)"
	else
		not_ok "net rate $lim" "$r $what, limit $limit: more than 10% off"
	fi
	clean rate && ok "net rate $lim sanitizer-clean"
done
