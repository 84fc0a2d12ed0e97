#!/usr/bin/env bash
# Guest tests: small assembly and C guests run on /dev/kvm, checked for their
# output, exit status, traces and statistics.  Usage: run.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
SEED=$(dirname "$G")/seed/vm.bin
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

# expect NAME STATUS STDOUT ARGS...: exact status and exact stdout.
expect() {
	local name=$1 want_status=$2 want_out=$3
	shift 3
	run_vmm "$T_TMP/$name" run "$@"
	if [ "$status" != "$want_status" ]; then
		not_ok "$name" "status $status, expected $want_status; stderr: $(head -c 300 "$T_TMP/$name.err")"
	elif [ "$(cat "$T_TMP/$name.out")" != "$want_out" ]; then
		not_ok "$name" "unexpected output: $(head -c 300 "$T_TMP/$name.out")"
	else
		ok "$name"
	fi
}

# expect_golden NAME STATUS FILE ARGS...: stdout byte for byte equal to FILE.
expect_golden() {
	local name=$1 want_status=$2 golden=$3
	shift 3
	run_vmm "$T_TMP/$name" run "$@"
	if [ "$status" != "$want_status" ]; then
		not_ok "$name" "status $status, expected $want_status"
	elif ! cmp -s "$T_TMP/$name.out" "$golden"; then
		not_ok "$name" "output differs from $golden: $(diff "$golden" "$T_TMP/$name.out" | head -5)"
	else
		ok "$name"
	fi
}

# expect_err NAME PATTERN: the last run's stderr matches PATTERN (grep -E).
expect_err() {
	if grep -qE -- "$2" "$T_TMP/$1.err"; then
		ok "$1 stderr /$2/"
	else
		not_ok "$1 stderr /$2/" "got: $(head -c 300 "$T_TMP/$1.err")"
	fi
}

expect_golden seed-trace 0 "$HERE/seed.expected" --raw "$SEED" --trace-io --max-exits 5
expect real 0 "real mode ok" --raw "$G/real.bin"
expect protected 0 "protected mode ok" --raw "$G/protected.bin" --mode protected
expect protected-elf32 0 "protected mode ok" --kernel "$G/protected.elf"
expect long-5G 0 "long mode ok" --raw "$G/long.bin" --mode long --mem 5G
expect long-elf64-3584M 0 "long mode ok" --kernel "$G/long.elf" --mem 3584M
expect long-load-addr 0 "long mode ok" --raw "$G/long.bin" --mode long --mem 5G --load-addr 0x10000 --entry 0x10000
expect_golden mmio-trace 0 "$HERE/mmio.expected" --raw "$G/mmio.bin" --mode protected --trace-mmio
expect hlt 0 "" --raw "$G/hlt.bin"
expect exit-status-42 42 "" --raw "$G/exit42.bin"
expect exit-status-smp 7 "" --raw "$G/smp_exit.bin" --mode long --cpus 4

# Four vCPUs each report their index (in any order) and halt.
run_vmm "$T_TMP/smp4" run --kernel "$G/smp.elf" --cpus 4
if [ "$status" = 0 ] && [ "$(sort "$T_TMP/smp4.out")" = "$(printf 'hello from vcpu %s\n' 0 1 2 3)" ]; then
	ok smp-4-vcpus
else
	not_ok smp-4-vcpus "status $status, output: $(head -c 300 "$T_TMP/smp4.out")"
fi
expect smp-1-vcpu 0 "hello from vcpu 0" --kernel "$G/smp.elf" --cpus 1

# --prefault faults guest RAM in from another thread while the guest writes
# and reads it: no byte the guest wrote is lost.  memcheck writes upward
# through memory, a stream that "ahead" follows.
expect memcheck 0 "memory ok" --kernel "$G/memcheck.elf" --mem 64M
expect memcheck-prefault-all 0 "memory ok" --kernel "$G/memcheck.elf" --mem 64M --prefault all --stats
# How far the thread got depends on how fast the guest is (on kvm-amd it can
# finish its pass first, and the thread is stopped with the VM).
expect_err memcheck-prefault-all "^prefault all: [0-9]+ of 64 MiB faulted in, in "
expect_err memcheck-prefault-all "^the VM ended: the guest wrote to the exit port$"
expect memcheck-prefault-ahead 0 "memory ok" --kernel "$G/memcheck.elf" --mem 64M --prefault ahead --stats
expect_err memcheck-prefault-ahead "^prefault ahead: [1-9][0-9]* MiB faulted in ahead of the guest \(at most [0-9]+ MiB of it unused\)"

# A triple fault ends the VM with status 2, the reason and a register dump.
expect triple-fault 2 "" --raw "$G/triple.bin" --mode long
expect_err triple-fault "vcpu 0: guest triple fault \(KVM_EXIT_SHUTDOWN\)"
expect_err triple-fault "rax=00000000deadbeef"
expect_err triple-fault "cs  sel=0008"
expect_err triple-fault "cr0=.* cr3=0000000000001000"
expect_err triple-fault "efer=0000000000000500"

# --stats counts exits per reason and per port range.
expect stats 0 "" --raw "$SEED" --max-exits 1000 --stats
expect_err stats "^IO +1000 "
expect_err stats "^pio +- +unassigned +1000 "
expect_err stats "peak RSS [0-9]+ KiB"
expect_err stats "^the VM ended: --max-exits reached$"
# ... and where each vCPU was when it stopped.
expect_err stats "^vcpu 0: running, rip 0x[0-9a-f]+ \(cpl 0\), interrupts off$"
expect smp-stats 7 "" --raw "$G/smp_exit.bin" --mode long --cpus 4 --stats
expect_err smp-stats "^vcpu 3: [a-z ]+, rip 0x[0-9a-f]+ \(cpl 0\), interrupts (on|off)$"
expect stats-debugcon 0 "real mode ok" --raw "$G/real.bin" --stats
expect_err stats-debugcon "^pio +0xe9-0xe9 +debugcon +13 "
expect_err stats-debugcon "^the VM ended: the guest wrote to the exit port$"
expect hlt-stats 0 "" --raw "$G/hlt.bin" --stats
expect_err hlt-stats "^the VM ended: every vCPU halted$"

# Without --trace-io, an unassigned port is logged, rate-limited.
run_vmm "$T_TMP/ratelimit" run --raw "$SEED" --max-exits 5000
n=$(grep -c "unassigned 0xff" "$T_TMP/ratelimit.err")
if [ "$status" = 0 ] && [ "$n" -ge 1 ] && [ "$n" -le 12 ] &&
	grep -qE "pio: [0-9]+ more unassigned accesses not shown" "$T_TMP/ratelimit.err"; then
	ok "unassigned-ratelimited ($n lines)"
else
	not_ok unassigned-ratelimited "status $status, $n lines"
fi

# SIGTERM and SIGINT stop every vCPU and exit 128+signal.
for sig in TERM INT; do
	# A background job of a script starts with SIGINT ignored: undo that.
	env --default-signal=INT "$MINIVMM" run --raw "$SEED" --cpus 3 >/dev/null 2>&1 </dev/null &
	pid=$!
	sleep 0.5
	kill -s "$sig" "$pid"
	start=$(date +%s%N)
	status=0
	wait "$pid" || status=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	want=$((128 + $(kill -l "$sig")))
	if [ "$status" = "$want" ] && [ "$ms" -lt 2000 ]; then
		ok "sig$sig-stops-vm (${ms} ms)"
	else
		not_ok "sig$sig-stops-vm" "status $status (want $want) after ${ms} ms"
	fi
done
