#!/usr/bin/env bash
# Linux guest scenarios, run INSIDE the vmhost (kvm-amd) by tests/linux/run.sh
# from the staged directory: every boot in sequence, each bounded by timeout;
# prints "ok - NAME" / "not ok - NAME: why", and "# ..." notes.
set -u
. ./scenario_lib.sh

# field NAME: the value of init's "NAME: ..." line in $out.
field() { sed -n "s/^$1: //p" "$out" | head -n1; }

# check_boot NAME CPUS MEM_MIB CMDLINE: status 0, the marker, and what init
# saw: the command line, the number of CPUs and MemTotal in a sane band.
check_boot() {
	local name=$1 cpus=$2 mib=$3 cmdline=$4 kb lo hi
	if [ "$status" != 0 ]; then
		not_ok "$name" "status $status, expected 0" "$out" "$err"
		return
	fi
	if ! grep -q "$MARK" "$out"; then
		not_ok "$name" "no $MARK" "$out" "$err"
		return
	fi
	if grep -q "^the VM ended: guest power-off (ACPI)" "$err"; then
		ok "$name boots and powers off"
	else
		not_ok "$name boots and powers off" "no ACPI power-off" "$err"
	fi
	if [ "$(field cmdline)" = "$cmdline" ]; then ok "$name cmdline"; else
		not_ok "$name cmdline" "got '$(field cmdline)'"; fi
	if [ "$(field cpus)" = "$cpus" ]; then ok "$name cpus=$cpus"; else
		not_ok "$name cpus=$cpus" "got '$(field cpus)'"; fi
	kb=$(field memtotal | sed 's/ kB$//')
	lo=$((mib * 1024 * 70 / 100)) hi=$((mib * 1024))
	[ "$mib" -gt 3072 ] && lo=$((3072 * 1024 + 1))
	if [ -n "$kb" ] && [ "$kb" -ge "$lo" ] && [ "$kb" -le "$hi" ]; then
		ok "$name memtotal ${kb} kB for ${mib}M"
	else
		not_ok "$name memtotal" "'$kb' kB, expected $lo..$hi for ${mib}M"
	fi
}

# The kernel x entry x cpus x memory matrix: every kernel and entry boots,
# cpus 1/2/4 with both kernels, 128M/1G/3584M (above 4 GiB).
# kernel cpus mem
while read -r kernel cpus mib; do
	name="$kernel-${cpus}cpu-${mib}M"
	cmdline="$BASE guest_test=poweroff token=$name-$RANDOM"
	boot "$name" --kernel "$kernel" --initrd initrd --cpus "$cpus" --mem "${mib}M" --cmdline "$cmdline"
	check_boot "$name" "$cpus" "$mib" "$cmdline"
done <<'EOF'
cloud.bzImage 1 128
cloud.vmlinux 2 1024
cloud.vmlinux 4 3584
generic.bzImage 2 3584
generic.vmlinux 4 1024
generic.bzImage 1 256
EOF
# The default --prefault: ahead for a bzImage (the last boot), none for PVH.
if grep -qE "^prefault ahead: [0-9]+ MiB faulted in ahead of the guest" "$err"; then
	ok "default prefault ahead for a bzImage"
else
	not_ok "default prefault ahead for a bzImage" "no 'prefault ahead' line" "$err"
fi
if ! grep -q "^prefault" "$O/generic.vmlinux-4cpu-1024M.err"; then
	ok "default prefault none for PVH"
else
	not_ok "default prefault none for PVH" "a prefault line" "$O/generic.vmlinux-4cpu-1024M.err"
fi

# --prefault all: the boot works while a second thread faults all guest RAM
# in (the other boots use the default, ahead).
name=prefault-cloud.bzImage-2cpu-512M
cmdline="$BASE guest_test=poweroff token=$name-$RANDOM"
boot "$name" --kernel cloud.bzImage --initrd initrd --cpus 2 --mem 512M --prefault all --cmdline "$cmdline"
check_boot "$name" 2 512 "$cmdline"
if grep -qE "^prefault all: [0-9]+ of 512 MiB faulted in" "$err"; then ok "$name: prefault stats"; else
	not_ok "$name: prefault stats" "no prefault line" "$err"; fi

# Reboot (reboot=t: triple-fault reset, the default --on-reboot exit) ends
# minivmm with 0, for both entry points.
for kernel in cloud.bzImage generic.vmlinux; do
	boot "reboot-$kernel" --kernel "$kernel" --initrd initrd --cmdline "$BASE reboot=t guest_test=reboot"
	if [ "$status" = 0 ] && grep -q "$MARK" "$out"; then ok "reboot-$kernel exits 0"; else
		not_ok "reboot-$kernel exits 0" "status $status" "$out" "$err"; fi
	if grep -q "^the VM ended: guest reset (triple fault)" "$err"; then ok "reboot-$kernel: reset by triple fault"; else
		not_ok "reboot-$kernel: reset by triple fault" "no such line" "$err"; fi
done

# A line typed into COM1 reaches the guest's shell and the answer comes back.
name=serial-shell
fifo=$O/in
mkfifo "$fifo"
t0=$(now_ms)
timeout -k 5 "$T_BOOT" $PIN ./minivmm run --kernel generic.bzImage --initrd initrd --cpus 2 \
	--cmdline "$BASE guest_test=shell" <"$fifo" >"$O/$name.raw" 2>"$O/$name.err" &
pid=$!
exec 3>"$fifo"
# wait_for PATTERN SECONDS: until PATTERN is in the output (CRs stripped).
wait_for() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		tr -d '\r' <"$O/$name.raw" | grep -q -- "$1" && return 0
		kill -0 "$pid" 2>/dev/null || { tr -d '\r' <"$O/$name.raw" | grep -q -- "$1"; return; }
		sleep 0.2
	done
	return 1
}
if wait_for "^memtotal:" "$T_BOOT"; then
	# The shell's prompt has no newline; it still shows.
	if wait_for '/ # ' 60; then ok "$name: prompt without a newline shows"; else
		not_ok "$name: prompt without a newline shows" "no '# ' prompt" "$O/$name.raw"; fi
	echo 'echo $((6*7))-answer' >&3
	if wait_for "^42-answer" 60; then
		ok "$name: typed line answered"
	else
		not_ok "$name: typed line answered" "no 42-answer" "$O/$name.raw"
	fi
	echo 'poweroff -f' >&3
else
	not_ok "$name: typed line answered" "no init marker" "$O/$name.raw"
fi
exec 3>&-
status=0
wait "$pid" || status=$?
echo "# $name: status $status after $(($(now_ms) - t0)) ms"
if [ "$status" = 0 ]; then ok "$name: poweroff -f exits 0"; else
	not_ok "$name: poweroff -f exits 0" "status $status" "$O/$name.err"; fi

# --on-reboot restart: the guest boots again; SIGTERM then ends minivmm (143).
name=on-reboot-restart
t0=$(now_ms)
$PIN ./minivmm run --kernel cloud.bzImage --initrd initrd --on-reboot restart \
	--cmdline "$BASE reboot=t guest_test=reboot" </dev/null >"$O/$name.raw" 2>"$O/$name.err" &
pid=$!
n=0
for ((i = 0; i < T_BOOT * 5; i++)); do
	n=$(grep -c "$MARK" "$O/$name.raw")
	[ "$n" -ge 2 ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
kill -TERM "$pid" 2>/dev/null
for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$pid" 2>/dev/null
status=0
wait "$pid" || status=$?
echo "# $name: $n boots, status $status after $(($(now_ms) - t0)) ms"
if [ "$n" -ge 2 ]; then ok "$name: boots again ($n markers)"; else
	not_ok "$name: boots again" "$n markers, status $status" "$O/$name.raw" "$O/$name.err"; fi
if [ "$status" = 143 ]; then ok "$name: SIGTERM exits 143"; else
	not_ok "$name: SIGTERM exits 143" "status $status" "$O/$name.err"; fi

# The raw-guest suite on kvm-amd, and what a triple fault looks like here.
# KVM on AMD resets a vCPU at a SHUTDOWN intercept (svm.c), so minivmm's
# register dump shows the reset state (cs f000, rip fff0): when it does, the
# suite's checks of the faulting registers are reported as skipped.
if [ -d suite ]; then
	timeout 60 ./minivmm run --raw suite/build/guests/triple.bin --mode long >/dev/null 2>"$O/triple.err"
	echo "# triple fault on kvm-amd: status $?, stderr:"
	sed 's/^/#   /' "$O/triple.err"
	skip='^(no such line)$'
	grep -q 'rip=000000000000fff0' "$O/triple.err" && grep -q 'cs  sel=f000' "$O/triple.err" &&
		skip='^not ok - (triple-fault stderr /(rax|cs  sel|cr0|efer)[^:]*): .*'
	echo "# raw-guest suite (tests/guests/run.sh) on kvm-amd"
	T_TIMEOUT=60 bash suite/tests/guests/run.sh "$PWD/minivmm" suite/build/guests 2>&1 |
		sed -E -e "s%$skip%ok - \\1 # SKIP registers after SHUTDOWN are the reset state on AMD%" \
			-e 's/^(not )?ok - /&kvm-amd: /'
fi

# The virtio devices (virtio-blk, virtio-rng) with both kernels: see virtio.sh.
[ -f virtio.sh ] && . ./virtio.sh
# virtio-net on a tap with link-local addresses: see net.sh.
[ -f net.sh ] && . ./net.sh
# virtio-vsock with Firecracker's host sockets: see vsock.sh.
[ -f vsock.sh ] && . ./vsock.sh
# Firecracker-compatible mode (the API, pause/resume, a config file): fc.sh.
[ -f fc.sh ] && . ./fc.sh
