#!/usr/bin/env bash
# Lifecycle tests: stop signals at any moment (while loading, between two
# boots of --on-reboot restart), a console that blocks or goes away, the
# terminal restored, --serial file appended across reboots, console input
# that fails.  Raw guests on the PC platform (COM1, reset ports) run here
# on /dev/kvm.  Usage: lifecycle.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# wait_blocking PID: waits until minivmm's main has blocked SIGTERM (its
# first step): a signal before that would find a process that has not
# started yet (slow under the sanitizers) and kill it, as for any program.
wait_blocking() {
	local mask
	for _ in $(seq 500); do
		mask=$(awk '/^SigBlk/ { print $2 }' "/proc/$1/status" 2>/dev/null)
		[ -n "$mask" ] && (((0x$mask >> 14) & 1)) && return 0
		sleep 0.01
	done
}

# spawn NAME ARGS...: starts `minivmm ARGS` in the background under a perl
# parent that writes how it ended ("exit N" or "signal N") and the CPU
# seconds it used to $T_TMP/NAME.how; sets $spawned (the perl parent) and
# waits for minivmm's pid in $T_TMP/NAME.pid, set as $vmm.
spawn() {
	local name=$1
	shift
	rm -f "$T_TMP/$name.how" "$T_TMP/$name.pid"
	PIDFILE="$T_TMP/$name.pid" HOWFILE="$T_TMP/$name.how" perl -e '
		my $pid = fork() // die;
		if (!$pid) { exec @ARGV; exit 127; }
		open(my $p, ">", "$ENV{PIDFILE}.tmp") or die;
		print $p "$pid\n";
		close $p;
		rename("$ENV{PIDFILE}.tmp", $ENV{PIDFILE});
		waitpid($pid, 0);
		my (undef, undef, $cu, $cs) = times;
		open(my $h, ">", $ENV{HOWFILE}) or die;
		printf $h "%s %d cpu %.2f\n", ($? & 127) ? "signal" : "exit",
			($? & 127) ? ($? & 127) : ($? >> 8), $cu + $cs;
		close $h;' "$MINIVMM" run "$@" <&0 &
	spawned=$!
	for _ in $(seq 100); do
		[ -s "$T_TMP/$name.pid" ] && break
		sleep 0.05
	done
	vmm=$(cat "$T_TMP/$name.pid")
	wait_blocking "$vmm"
}

# ended NAME SECONDS: waits up to SECONDS for the spawned minivmm to end;
# sets $how ("exit 143", "signal 15", or "running" after killing it).
ended() {
	local name=$1 secs=$2
	for _ in $(seq $((secs * 20))); do
		[ -s "$T_TMP/$name.how" ] && break
		sleep 0.05
	done
	if [ -s "$T_TMP/$name.how" ]; then
		how=$(cut -d' ' -f1-2 "$T_TMP/$name.how")
		cpu=$(cut -d' ' -f4 "$T_TMP/$name.how")
	else
		how=running
		kill -KILL "$vmm" 2>/dev/null
	fi
	wait "$spawned" 2>/dev/null
}

expect_how() {
	if [ "$how" = "$2" ]; then ok "$1"; else not_ok "$1" "$how, expected $2: $(head -c 300 "$3" 2>/dev/null)"; fi
}

# A closed stdout (minivmm ... | head): the VM stops cleanly with 141 (as
# SIGPIPE would have ended it), on COM1 and on the debug console.
for guest in "spam --platform pc" "e9spam"; do
	set -- $guest
	name=closed-stdout-$1
	g=$1
	shift
	timeout -k 5 "$T_TIMEOUT" "$MINIVMM" run --raw "$G/$g.bin" "$@" 2>"$T_TMP/$name.err" </dev/null | head -c1 >/dev/null
	st=${PIPESTATUS[0]}
	if [ "$st" = 141 ] && ! grep -qE "Sanitizer|runtime error" "$T_TMP/$name.err"; then
		ok "$name"
	else
		not_ok "$name" "status $st, expected 141; stderr: $(head -c 300 "$T_TMP/$name.err")"
	fi
done

# The terminal: a closed stdout, and a SIGTERM while the image loads (a
# 256 MiB raw image: loading takes about a second), leave the tty as they found
# it (script gives minivmm a pty as stdin; stty reads it afterwards).
if command -v script >/dev/null; then
	truncate -s 256M "$T_TMP/big.bin"
	cat >"$T_TMP/tty-closed.sh" <<-EOF
		"$MINIVMM" run --platform pc --raw "$G/spam.bin" | head -c1 >/dev/null
		echo status=\${PIPESTATUS[0]}
		stty -a
	EOF
	cat >"$T_TMP/tty-term-while-loading.sh" <<-EOF
		"$MINIVMM" run --platform pc --raw "$T_TMP/big.bin" --mem 1G &
		p=\$!
		for i in \$(seq 500); do
			m=\$(awk '/^SigBlk/ { print \$2 }' /proc/\$p/status)
			(((0x\$m >> 14) & 1)) && break
			sleep 0.01
		done
		kill -TERM \$p
		wait \$p
		echo status=\$?
		stty -a
	EOF
	for how in closed term-while-loading; do
		name=tty-restored-$how
		timeout -k 5 "$T_TIMEOUT" script -qec "bash $T_TMP/tty-$how.sh" /dev/null </dev/null >"$T_TMP/$name.out" 2>&1
		if ! grep -qE 'status=(141|143)' "$T_TMP/$name.out"; then
			not_ok "$name" "unexpected end: $(head -c 300 "$T_TMP/$name.out")"
		elif grep -qE '(^| )-(icanon|echo|isig)( |$)' "$T_TMP/$name.out"; then
			not_ok "$name" "tty left raw: $(grep -oE -- '-(icanon|echo|isig)' "$T_TMP/$name.out" | tr '\n' ' ')"
		else
			ok "$name"
		fi
	done
	# The SIGTERM above must have ended minivmm itself, not killed it.
	spawn term-loading --platform pc --raw "$T_TMP/big.bin" --mem 1G --stats
	kill -TERM "$vmm"
	ended term-loading 10
	expect_how sigterm-while-loading "exit 143"
	rm -f "$T_TMP/big.bin"
else
	ok "tty tests skipped: no script(1)"
fi

# --on-reboot restart with a guest that reboots at once: a SIGTERM at any
# moment ends minivmm with 143, never kills it, never restarts the guest.
bad=
for i in $(seq 20); do
	spawn restart-term --platform pc --raw "$G/reboot.bin" --on-reboot restart --serial none
	sleep "0.0$((RANDOM % 10))"
	kill -TERM "$vmm"
	ended restart-term 10
	[ "$how" = "exit 143" ] || bad="$bad $i:$how"
done
if [ -z "$bad" ]; then ok "restart-sigterm-20x"; else not_ok "restart-sigterm-20x" "runs ended otherwise:$bad"; fi

# --serial file: appended across reboots, not truncated by each one.
spawn serial-append --platform pc --raw "$G/reboot.bin" --on-reboot restart --serial "file:$T_TMP/serial.log"
sleep 0.5
kill -TERM "$vmm"
ended serial-append 10
lines=$(grep -c '^boot$' "$T_TMP/serial.log")
if [ "$how" = "exit 143" ] && [ "$lines" -ge 2 ]; then
	ok "serial-file-appended ($lines boots)"
else
	not_ok "serial-file-appended" "$how, $lines boot lines in the file"
fi

# A console that blocks (a FIFO whose reader never reads): a SIGTERM still
# ends minivmm at once, on COM1 and on the debug console.
mkfifo "$T_TMP/fifo"
exec 3<>"$T_TMP/fifo"
for guest in "spam --platform pc" "e9spam"; do
	set -- $guest
	name=blocked-stdout-$1
	g=$1
	shift
	spawn "$name" --raw "$G/$g.bin" "$@" >"$T_TMP/fifo" 2>"$T_TMP/$name.err"
	sleep 0.5
	kill -TERM "$vmm"
	ended "$name" 5
	expect_how "$name" "exit 143" "$T_TMP/$name.err"
done
exec 3>&-

# Console input that cannot be read (stdin a directory): input is turned
# off with one line, and the main thread does not spin.
spawn stdin-dir --platform pc --raw "$G/idle.bin" </ 2>"$T_TMP/stdin-dir.err" >/dev/null
sleep 1
kill -TERM "$vmm"
ended stdin-dir 5
if [ "$how" != "exit 143" ]; then
	not_ok "stdin-directory" "$how"
elif ! grep -q "console input disabled" "$T_TMP/stdin-dir.err"; then
	not_ok "stdin-directory" "no line about the input: $(head -c 300 "$T_TMP/stdin-dir.err")"
elif awk -v c="$cpu" 'BEGIN { exit !(c > 0.5) }'; then
	not_ok "stdin-directory" "minivmm used $cpu s of CPU in 1 s: it spins"
else
	ok "stdin-directory (cpu ${cpu}s)"
fi
