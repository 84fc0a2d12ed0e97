#!/usr/bin/env bash
# The seccomp sandbox on running VMs: every thread of a VM with every kind
# of thread (2 vCPUs, two drives on io_uring and io=sync, the rng, vsock, a
# tap in a private network namespace when this host allows one, the
# prefault thread) shows "Seccomp: 2" in /proc/PID/task/TID/status, and 0
# with --no-seccomp; --on-reboot restart keeps creating such a VM under the
# main thread's filter; --no-seccomp's option handling.  The guests of the
# other suites run sandboxed too (the default); tests/unit/test_sandbox.c
# checks that each filter kills a forbidden call with its one line.
# Usage: seccomp.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

NS=minivmm-sc-$$
TAP=mvsc0
NET=()
IN_NS=()
# A tap for --net, if this host lets us make one (as virtio_net.sh).
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && [ -c /dev/net/tun ] &&
	ip netns add "$NS" 2>/dev/null; then
	trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T_TMP"' EXIT
	if ip netns exec "$NS" ip tuntap add dev "$TAP" mode tap &&
		ip netns exec "$NS" ip link set "$TAP" up; then
		NET=(--net "tap=$TAP")
		IN_NS=(ip netns exec "$NS")
	fi
fi
[ ${#NET[@]} = 0 ] && echo "# seccomp: no tap here, the status check runs without --net"

truncate -s 16M "$T_TMP/a.img" "$T_TMP/b.img"
DEVICES=(--drive "$T_TMP/a.img" --drive "$T_TMP/b.img,io=sync" --rng
	--vsock "cid=3,uds=$T_TMP/v.sock" "${NET[@]}")
# main, 2 vCPUs, one I/O thread per device (the host may add a kernel
# thread of its own, kvm-nx-lpage-recovery)
WANT_THREADS=$((1 + 2 + 4 + ${#NET[@]} / 2))

# ThreadSanitizer's runtime starts a background thread at the program's
# first pthread_create, before any thread has a filter: in that build one
# thread may show 0 (the sanitizer builds, README "The sandbox").
TSAN=
nm "$MINIVMM" 2>/dev/null | grep -q " __tsan_init$" && TSAN=1

# statuses NAME WANT ARGS...: starts minivmm ARGS (idle.bin halts for
# good), waits for its threads, and checks every thread's Seccomp field is
# WANT; then SIGTERM must end it with 143.
statuses() {
	local name=$1 want=$2 pid n=0 bad="" seen="" st tsan_spared=""
	shift 2
	"${IN_NS[@]}" "$MINIVMM" run --platform pc --raw "$G/idle.bin" --cpus 2 \
		--serial none "${DEVICES[@]}" "$@" </dev/null >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	pid=$!
	for _ in $(seq 200); do
		n=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
		[ "$n" -ge "$WANT_THREADS" ] && break
		sleep 0.05
	done
	sleep 0.2
	for t in /proc/$pid/task/*; do
		st=$(awk '/^Seccomp:/ { print $2 }' "$t/status" 2>/dev/null) || continue
		[ -n "$st" ] || continue
		seen="$seen $(cat "$t/comm" 2>/dev/null):$st"
		if [ "$st" != "$want" ] && [ -n "$TSAN" ] && [ "$st" = 0 ] && [ -z "$tsan_spared" ]; then
			tsan_spared=1
			continue
		fi
		[ "$st" = "$want" ] || bad="$bad ${t##*/}($(cat "$t/comm" 2>/dev/null))=$st"
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	local status=$?
	if [ "$n" -lt "$WANT_THREADS" ]; then
		not_ok "$name" "$n threads, expected $WANT_THREADS; stderr: $(head -c 300 "$T_TMP/$name.err")"
	elif [ -n "$bad" ]; then
		not_ok "$name" "threads not at Seccomp $want:$bad"
	elif [ "$status" != 143 ]; then
		not_ok "$name" "status $status after SIGTERM, expected 143; stderr: $(head -c 300 "$T_TMP/$name.err")"
	else
		ok "$name ($n threads:$seen${tsan_spared:+; one at 0: the TSan background thread})"
	fi
	LAST_SEEN=$seen
}

statuses seccomp-every-thread 2
statuses seccomp-every-thread-prefault 2 --prefault ahead --mem 1G
# Each thread is named for what it runs (ps -L, top -H, /proc/TID/comm).
missing=""
for want in "fc_vcpu 0" "fc_vcpu 1" "io vda" "io vdb" "io rng0" "io vsock0" \
	prefault ${NET:+"io eth0"}; do
	case "$LAST_SEEN" in *" $want:"*) ;; *) missing="$missing '$want'" ;; esac
done
if [ -n "$missing" ]; then
	not_ok "thread-names" "no thread named$missing among:$LAST_SEEN"
else
	ok "thread-names"
fi
statuses no-seccomp-every-thread 0 --no-seccomp

# --on-reboot restart with every device: each boot creates the VM (KVM,
# memory, drives, vsock listener, threads) again under the main thread's
# filter, installed by the first boot.
"${IN_NS[@]}" "$MINIVMM" run --platform pc --raw "$G/reboot.bin" \
	--on-reboot restart --serial "file:$T_TMP/boots.log" --cpus 2 \
	--prefault all --drive "$T_TMP/a.img" --drive "$T_TMP/b.img,io=sync" \
	--rng --vsock "cid=3,uds=$T_TMP/r.sock" "${NET[@]}" \
	</dev/null >/dev/null 2>"$T_TMP/restart.err" &
pid=$!
for _ in $(seq 100); do
	boots=$(grep -c '^boot$' "$T_TMP/boots.log" 2>/dev/null)
	[ "${boots:-0}" -ge 5 ] && break
	sleep 0.05
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
status=$?
boots=$(grep -c '^boot$' "$T_TMP/boots.log" 2>/dev/null)
if [ "$status" != 143 ] || [ "${boots:-0}" -lt 5 ]; then
	not_ok "seccomp-restart-with-devices" "status $status, $boots boots; stderr: $(head -c 300 "$T_TMP/restart.err")"
elif grep -q "seccomp" "$T_TMP/restart.err"; then
	not_ok "seccomp-restart-with-devices" "$(head -c 300 "$T_TMP/restart.err")"
else
	ok "seccomp-restart-with-devices ($boots boots)"
fi

# A violation in minivmm itself: a preloaded poll() that first makes a
# socket(2) call, as a bug in the main thread would (vm_wait's poll comes
# after the main thread's filter): one line naming it, death by SIGSYS
# (159), and on a tty the terminal restored.  With --no-seccomp the same
# call is harmless.
cat >"$T_TMP/violate.c" <<-'EOF'
	#define _GNU_SOURCE
	#include <poll.h>
	#include <sys/socket.h>
	#include <sys/syscall.h>
	#include <unistd.h>
	int poll(struct pollfd *fds, nfds_t n, int timeout)
	{
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		return (int)syscall(SYS_poll, fds, n, timeout);
	}
EOF
if ! gcc -shared -fPIC -O2 -o "$T_TMP/violate.so" "$T_TMP/violate.c" 2>"$T_TMP/cc.err"; then
	not_ok "seccomp-violation preload builds" "$(head -c 300 "$T_TMP/cc.err")"
else
	# ASan wants to come first; the preload only replaces poll.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	LINE="minivmm: seccomp: main thread made a forbidden system call: socket (41)"
	# (in a subshell: no "Bad system call" from this shell in the log)
	status=$( (LD_PRELOAD=$T_TMP/violate.so timeout -k 5 "$T_TIMEOUT" "$MINIVMM" run \
		--platform pc --raw "$G/idle.bin" --serial none </dev/null >/dev/null \
		2>"$T_TMP/viol.err"; echo $?) 2>/dev/null)
	if [ "$status" != 159 ]; then
		not_ok "seccomp-violation-kills" "status $status, expected 159 (SIGSYS); stderr: $(head -c 300 "$T_TMP/viol.err")"
	elif [ "$(cat "$T_TMP/viol.err")" != "$LINE" ]; then
		not_ok "seccomp-violation-kills" "stderr is not the one line: $(head -c 300 "$T_TMP/viol.err")"
	else
		ok "seccomp-violation-kills (one line, SIGSYS)"
	fi
	LD_PRELOAD=$T_TMP/violate.so "$MINIVMM" run --platform pc --raw "$G/idle.bin" \
		--serial none --no-seccomp </dev/null >/dev/null 2>"$T_TMP/viol0.err" &
	pid=$!
	sleep 0.5
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	status=$?
	if [ "$status" = 143 ] && [ ! -s "$T_TMP/viol0.err" ]; then
		ok "seccomp-violation-none-with-no-seccomp"
	else
		not_ok "seccomp-violation-none-with-no-seccomp" "status $status; stderr: $(head -c 300 "$T_TMP/viol0.err")"
	fi
	# On a tty (script gives minivmm a pty): raw mode while it ran, the
	# terminal as it was after the SIGSYS.
	if command -v script >/dev/null; then
		cat >"$T_TMP/viol-tty.sh" <<-EOF
			LD_PRELOAD=$T_TMP/violate.so "$MINIVMM" run --platform pc --raw "$G/idle.bin" 2>"$T_TMP/violtty.err"
			echo status=\$?
			stty -a
		EOF
		timeout -k 5 "$T_TIMEOUT" script -qec "bash $T_TMP/viol-tty.sh" /dev/null </dev/null >"$T_TMP/violtty.out" 2>&1
		if ! grep -q 'status=159' "$T_TMP/violtty.out"; then
			not_ok "seccomp-violation-tty-restored" "unexpected end: $(head -c 300 "$T_TMP/violtty.out") $(head -c 200 "$T_TMP/violtty.err")"
		elif grep -qE '(^| )-(icanon|echo|isig)( |$)' "$T_TMP/violtty.out"; then
			not_ok "seccomp-violation-tty-restored" "tty left raw: $(grep -oE -- '-(icanon|echo|isig)' "$T_TMP/violtty.out" | tr '\n' ' ')"
		elif [ "$(cat "$T_TMP/violtty.err")" != "$LINE" ]; then
			not_ok "seccomp-violation-tty-restored" "stderr: $(head -c 300 "$T_TMP/violtty.err")"
		else
			ok "seccomp-violation-tty-restored"
		fi
	fi
fi

# The option.
if "$MINIVMM" run --help | grep -q -- "--no-seccomp"; then
	ok "help-mentions-no-seccomp"
else
	not_ok "help-mentions-no-seccomp" "not in --help"
fi
run_vmm "$T_TMP/nosc" run --raw "$G/real.bin" --no-seccomp
if [ "$status" = 0 ] && [ "$(cat "$T_TMP/nosc.out")" = "real mode ok" ]; then
	ok "no-seccomp-runs"
else
	not_ok "no-seccomp-runs" "status $status, stdout $(head -c 100 "$T_TMP/nosc.out")"
fi
refuse no-seccomp-takes-no-value "no-seccomp" run --raw "$G/real.bin" --no-seccomp=1
refuse no-seccomp-alone "no guest image" run --no-seccomp
