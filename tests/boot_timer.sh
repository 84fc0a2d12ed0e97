#!/usr/bin/env bash
# Firecracker's boot timer (--boot-timer) with a raw ELF guest
# (tests/guests/boot_timer.S): with it, a write of 123 to 0xd0000000 logs
# "Guest-boot-time = ..." (once per such write, other writes nothing), the
# boot timer reads 0 and the first virtio device answers at 0xd0001000;
# without it, no line and the device is at 0xd0000000.  Through `minivmm
# run` and `minivmm fc --no-api --config-file`.  Usage: boot_timer.sh
# MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
GUEST=$G/boot_timer.elf
LINE='Guest-boot-time = +[0-9]+ us [0-9]+ ms, +[0-9]+ CPU us [0-9]+ CPU ms$'

# check NAME WANT_LINES WANT_STDOUT_HEX: status 7, WANT_LINES boot-time
# lines on stderr, the guest's 8 console bytes as hex.
check() {
	local name=$1 want=$2 hex=$3 n got
	n=$(grep -cE -- "$LINE" "$T_TMP/bt.err")
	got=$(od -An -tx1 "$T_TMP/bt.out" | tr -d ' \n')
	if [ "$status" != 7 ]; then
		not_ok "$name" "status $status: $(head -c 300 "$T_TMP/bt.err")"
	elif [ "$n" != "$want" ]; then
		not_ok "$name" "$n Guest-boot-time lines, expected $want: $(head -c 300 "$T_TMP/bt.err")"
	elif [ "$got" != "$hex" ]; then
		not_ok "$name" "console $got, expected $hex"
	else
		ok "$name"
	fi
}

VIRT=76697274 # "virt", virtio-mmio's magic
NONE=ffffffff # nothing mapped
ZERO=00000000 # the boot timer

run_vmm "$T_TMP/bt" run --kernel "$GUEST" --boot-timer --rng
check "run --boot-timer: two lines, timer reads 0, virtio at 0xd0001000" 2 "$ZERO$VIRT"
run_vmm "$T_TMP/bt" run --kernel "$GUEST" --rng
check "run without --boot-timer: no line, virtio at 0xd0000000" 0 "$VIRT$NONE"
run_vmm "$T_TMP/bt" run --kernel "$GUEST" --boot-timer
check "run --boot-timer without devices" 2 "$ZERO$NONE"
run_vmm "$T_TMP/bt" run --kernel "$GUEST" --boot-timer --rng --no-seccomp
check "run --boot-timer --no-seccomp" 2 "$ZERO$VIRT"

echo '{"boot-source": {"kernel_image_path": "'"$GUEST"'"}, "entropy": {}}' >"$T_TMP/vm.json"
run_vmm "$T_TMP/bt" fc --boot-timer --no-api --config-file "$T_TMP/vm.json"
check "fc --boot-timer --config-file: the line, virtio at 0xd0001000" 2 "$ZERO$VIRT"
run_vmm "$T_TMP/bt" fc --no-api --config-file "$T_TMP/vm.json"
check "fc without --boot-timer: no line" 0 "$VIRT$NONE"
run_vmm "$T_TMP/bt" fc --boot-timer --level Warning --no-api --config-file "$T_TMP/vm.json"
check "fc --boot-timer --level Warning: an Info line, not shown" 0 "$ZERO$VIRT"

# In Firecracker's log format with --log-path.
run_vmm "$T_TMP/bt" fc --boot-timer --log-path "$T_TMP/fc.log" --no-api --config-file "$T_TMP/vm.json"
if [ "$status" = 7 ] && [ "$(grep -cE -- "\] $LINE" "$T_TMP/fc.log")" = 2 ]; then
	ok "fc --boot-timer --log-path: the lines in the log file"
else
	not_ok "fc --boot-timer --log-path: the lines in the log file" "status $status: $(head -c 300 "$T_TMP/fc.log")"
fi

# 16 virtio slots with the boot timer instead of 17.
truncate -s 4096 "$T_TMP/disk.img"
drives=()
for i in $(seq 16); do drives+=(--drive "$T_TMP/disk.img,ro"); done
run_vmm "$T_TMP/bt" run --kernel "$GUEST" --boot-timer "${drives[@]}"
check "run --boot-timer with 16 devices" 2 "$ZERO$VIRT"
refuse "run --boot-timer with 17 devices" "too many virtio devices: minivmm has 16 slots" run --kernel "$GUEST" --boot-timer "${drives[@]}" --rng
# The same room in minivmm fc: its 17th device is refused as the file is read.
d=""
for i in $(seq 16); do d+="${d:+,}{\"drive_id\": \"d$i\", \"path_on_host\": \"$T_TMP/disk.img\", \"is_root_device\": false, \"is_read_only\": true}"; done
echo '{"boot-source": {"kernel_image_path": "'"$GUEST"'"}, "drives": ['"$d"']}' >"$T_TMP/16.json"
echo '{"boot-source": {"kernel_image_path": "'"$GUEST"'"}, "drives": ['"$d"'], "entropy": {}}' >"$T_TMP/17.json"
run_vmm "$T_TMP/bt" fc --boot-timer --no-api --config-file "$T_TMP/16.json"
check "fc --boot-timer with 16 devices" 2 "$ZERO$VIRT"
refuse "fc --boot-timer with 17 devices" "no room: minivmm has 16 virtio slots" fc --boot-timer --no-api --config-file "$T_TMP/17.json"
run_vmm "$T_TMP/bt" fc --no-api --config-file "$T_TMP/17.json"
check "fc without --boot-timer: 17 devices fit" 0 "$VIRT$VIRT"
