# Sourced inside the vmhost (cwd: the staged directory with ./minivmm).
# hold_vms KERNEL starts two minivmm VMs and stops them (SIGSTOP) as soon as
# their vCPUs exist, so that KVM's static keys (preempt notifiers, vCPUs
# without an APIC, software-disabled APICs) stay on while the tests create
# and destroy VMs one after another.  Flipping them patches the vmhost
# kernel's text, which sometimes freezes QEMU TCG: a vCPU keeps executing a
# stale int3 (see vmhost_session in common.sh).  They are left stopped when
# the script ends: the vmhost powers off with `poweroff -f`, which tears no
# VM down, whereas killing them would flip the keys once more and can freeze
# the vmhost after the last test.  release_vms kills them, for callers that
# go on using the vmhost.
hold_vms() {
	local spec n pid i
	printf '\353\376' >/tmp/spin.bin # jmp $
	HELD=
	for spec in "1 --raw /tmp/spin.bin" "2 --kernel $1 --cpus 2 --mem 128M"; do
		n=${spec%% *}
		# shellcheck disable=SC2086 # spec holds several words
		./minivmm run ${spec#* } </dev/null >/dev/null 2>&1 &
		pid=$!
		for ((i = 0; i < 200; i++)); do
			[ "$(ls -l /proc/$pid/fd 2>/dev/null | grep -c kvm-vcpu)" -ge "$n" ] && break
			sleep 0.05
		done
		kill -STOP "$pid" 2>/dev/null
		HELD="$HELD $pid"
	done
}
release_vms() {
	# shellcheck disable=SC2086
	kill -KILL $HELD 2>/dev/null
	wait $HELD 2>/dev/null
}
