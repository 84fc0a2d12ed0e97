#!/usr/bin/env bash
# virtio-vsock with the raw polling guest virtio_vsock.elf (see its
# header), run as
#   minivmm run --kernel virtio_vsock.elf --vsock cid=3,uds=DIR/v.sock
# with host programs (tests/linux/vsock/host.c, built here with the host's
# gcc) serving DIR/v.sock_5000 (echo) and DIR/v.sock_5001 (hold: never
# reads), and one that connects through DIR/v.sock to the guest's port
# 6000 once the guest says it listens.  One ok/not ok line per case the
# guest reports (as virtio.sh's hostile runs), then minivmm's status, the
# host program's answer, the socket file gone at exit, the --stats lines,
# and --vsock's refusals.  Skipped while minivmm has no --vsock.
# Usage: virtio_vsock.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

# Some 13 cases, each with waits that must time out on a kvm_pvm host.
VSOCK_TIMEOUT=${VSOCK_TIMEOUT:-150}

if ! "$MINIVMM" run --help 2>&1 | grep -q -- "--vsock"; then
	echo "ok - virtio-vsock guest tests skipped: this minivmm has no --vsock"
	exit 0
fi
HOSTPROG=$T_TMP/vsock-host
if ! gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$HOSTPROG" \
	"$HERE/../linux/vsock/host.c" 2>"$T_TMP/cc.err"; then
	not_ok "vsock host program builds" "$(head -c 300 "$T_TMP/cc.err" | tr '\n' ' ')"
	exit 0
fi

D=$T_TMP/vs
mkdir -p "$D"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T_TMP"' EXIT

first() { head -c 300 "$1" | tr '\n' ' '; }
last() { tail -c 300 "$1" | tr '\n' ' '; }

# clean NAME FILE: no sanitizer report in FILE.
clean() {
	if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" "$2"; then
		not_ok "$1 sanitizer-clean" "$(grep -m3 -E "Sanitizer|runtime error" "$2" | tr '\n' ' ')"
	else
		ok "$1 sanitizer-clean"
	fi
}

"$HOSTPROG" serve "$D/v.sock_5000" echo >"$T_TMP/echo.out" 2>&1 &
pids+=($!)
"$HOSTPROG" serve "$D/v.sock_5001" hold >/dev/null 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do
	[ -S "$D/v.sock_5000" ] && [ -S "$D/v.sock_5001" ] && break
	sleep 0.1
done

timeout -k 5 "$VSOCK_TIMEOUT" "$MINIVMM" run --kernel "$G/virtio_vsock.elf" \
	--vsock "cid=3,uds=$D/v.sock" --stats </dev/null >"$T_TMP/g.out" 2>"$T_TMP/g.err" &
vm=$!
# The guest's last case: a host program connects once the guest listens.
client=none
for ((i = 0; i < VSOCK_TIMEOUT * 10; i++)); do
	grep -qx 'listening 6000' "$T_TMP/g.out" && break
	kill -0 "$vm" 2>/dev/null || break
	sleep 0.1
done
if grep -qx 'listening 6000' "$T_TMP/g.out"; then
	client=0
	timeout 60 "$HOSTPROG" connect "$D/v.sock" 6000 ping >"$T_TMP/client.out" 2>&1 || client=$?
fi
status=0
wait "$vm" || status=$?

name=vsock
cur="" why="" done=""
while IFS= read -r line; do
	case $line in
	"case "*) cur=${line#case }; why="" ;;
	"ok "*) ok "$name ${line#ok }"; cur="" ;;
	"fail "*) not_ok "$name ${line#fail }" "${why:-see the guest output}"; cur="" ;;
	"  "*) why="$why${why:+; }${line#  }" ;;
	"done "*) done=${line#done } ;;
	esac
done <"$T_TMP/g.out"
if [ -n "$cur" ]; then
	not_ok "$name $cur" "minivmm ended during this case: status $status; stderr: $(last "$T_TMP/g.err")"
fi
if [ -z "$done" ]; then
	not_ok "$name completes" "status $status, no 'done' line; stdout: $(last "$T_TMP/g.out"); stderr: $(last "$T_TMP/g.err")"
elif [ "$done" = 0 ] && [ "$status" = 0 ]; then
	ok "$name exit status 0"
else
	not_ok "$name exit status" "status $status with $done failed cases"
fi
if [ "$client" = 0 ] && grep -qx pong "$T_TMP/client.out"; then
	ok "$name host program connected through v.sock and got its pong"
else
	not_ok "$name host program connected through v.sock" "status $client: $(first "$T_TMP/client.out" 2>/dev/null)"
fi
if [ ! -e "$D/v.sock" ]; then
	ok "$name v.sock removed at exit"
else
	not_ok "$name v.sock removed at exit" "$(ls -l "$D/v.sock")"
fi
# --stats: the transport's line, then ours.
if grep -qE "^[a-z0-9]+ virtio-vsock at 0xd0000000: " "$T_TMP/g.err" &&
	grep -qE "^  1 connections from the host, [1-9][0-9]* from the guest, [1-9][0-9]* refused, 0 open;" "$T_TMP/g.err" &&
	grep -qE "^  [1-9][0-9]* packets dropped, [1-9][0-9]* answered with RST, 1 credit overruns, 0 bad CONNECT lines, 0 timeouts$" "$T_TMP/g.err"; then
	ok "$name --stats lines"
else
	not_ok "$name --stats lines" "$(grep -A2 virtio-vsock "$T_TMP/g.err" | tr '\n' ' ')"
fi
clean "$name" "$T_TMP/g.err"

# --vsock's refusals: one line each, status 1.
: >"$D/exists"
refuse "vsock-refuses-an-existing-path" "already exists" run --kernel "$G/virtio_vsock.elf" \
	--vsock "cid=3,uds=$D/exists"
refuse "vsock-refuses-cid-2" "from 3 to 4294967294" run --kernel "$G/virtio_vsock.elf" \
	--vsock "cid=2,uds=$D/x.sock"
refuse "vsock-refuses-a-missing-directory" "does not exist" run --kernel "$G/virtio_vsock.elf" \
	--vsock "cid=3,uds=$D/none/x.sock"
refuse "vsock-refuses-a-second-vsock" "vsock" run --kernel "$G/virtio_vsock.elf" \
	--vsock "cid=3,uds=$D/a.sock" --vsock "cid=4,uds=$D/b.sock"
if [ ! -e "$D/a.sock" ] && [ ! -e "$D/x.sock" ]; then
	ok "vsock refusals leave no socket behind"
else
	not_ok "vsock refusals leave no socket behind" "$(ls "$D")"
fi
