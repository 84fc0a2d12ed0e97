#!/usr/bin/env bash
# virtio-mmio devices driven by raw long-mode guests that poll (the bare
# platform has no interrupts): virtio_rng.elf, virtio_blk.elf, and
# virtio_hostile.elf, a driver that breaks the protocol one case at a time
# (each case printed by the guest becomes one ok/not ok line here).
# Usage: virtio.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

# A hostile run goes through some 45 cases, each with waits that must time
# out: give it more than one guest's usual bound.
HOSTILE_TIMEOUT=${HOSTILE_TIMEOUT:-150}
SERIAL=MVSERIAL42

# head/tail of a file on one line, for a not ok message.
first() { head -c 300 "$1" | tr '\n' ' '; }
last() { tail -c 300 "$1" | tr '\n' ' '; }

# clean NAME: the run's stderr has no sanitizer report.
clean() {
	if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" "$T_TMP/$1.err"; then
		not_ok "$1 sanitizer-clean" "$(grep -m3 -E "Sanitizer|runtime error" "$T_TMP/$1.err" | tr '\n' ' ')"
		return 1
	fi
	return 0
}

# expect NAME STATUS STDOUT ARGS...: exact status and stdout, clean stderr.
expect() {
	local name=$1 want_status=$2 want_out=$3
	shift 3
	run_vmm "$T_TMP/$name" run "$@"
	if [ "$status" != "$want_status" ]; then
		not_ok "$name" "status $status, expected $want_status; stdout: $(first "$T_TMP/$name.out"); stderr: $(first "$T_TMP/$name.err")"
	elif [ "$(cat "$T_TMP/$name.out")" != "$want_out" ]; then
		not_ok "$name" "unexpected output: $(first "$T_TMP/$name.out")"
	elif clean "$name"; then
		ok "$name"
	fi
}

# hostile NAME ARGS...: runs virtio_hostile.elf with --mem 4G and ARGS;
# one line per case the guest reports, a case that never ended (minivmm
# died or hung in it) fails, and minivmm must exit with the guest's status
# (0, or the number of the first failed case).
hostile() {
	local name=$1 line cur="" why="" done="" failed=0
	shift
	T_TIMEOUT=$HOSTILE_TIMEOUT run_vmm "$T_TMP/$name" run \
		--kernel "$G/virtio_hostile.elf" --mem 4G "$@"
	while IFS= read -r line; do
		case $line in
		"case "*) cur=${line#case }; why="" ;;
		"ok "*) ok "$name ${line#ok }"; cur="" ;;
		"fail "*)
			not_ok "$name ${line#fail }" "${why:-see the guest output}"
			failed=$((failed + 1)); cur="" ;;
		"  "*) why="$why${why:+; }${line#  }" ;;
		"done "*) done=${line#done } ;;
		esac
	done <"$T_TMP/$name.out"
	if [ -n "$cur" ]; then
		not_ok "$name $cur" "minivmm ended during this case: status $status; stderr: $(last "$T_TMP/$name.err")"
	fi
	if [ -z "$done" ]; then
		not_ok "$name completes" "status $status, no 'done' line; stderr: $(last "$T_TMP/$name.err")"
	elif [ "$done" = 0 ] && [ "$status" = 0 ]; then
		ok "$name exit status 0"
	elif [ "$done" != 0 ] && [ "$status" -ge 1 ] && [ "$status" -lt 100 ]; then
		ok "$name exit status $status: the first failed case"
	else
		not_ok "$name exit status" "status $status with $done failed cases"
	fi
	clean "$name" && ok "$name sanitizer-clean"
}

# --- virtio-rng ---
expect rng 0 "virtio-rng ok in slot 0" --kernel "$G/virtio_rng.elf" --rng
# The same device with an interrupt line (irqfd into the in-kernel IOAPIC)
# that the guest ignores: it still polls.
expect rng-platform-pc 0 "virtio-rng ok in slot 0" --kernel "$G/virtio_rng.elf" --rng --platform pc
expect rng-stats 0 "virtio-rng ok in slot 0" --kernel "$G/virtio_rng.elf" --rng --stats
if grep -qE "^rng0 virtio-rng at 0xd0000000: .*; [1-9][0-9]* notifications" "$T_TMP/rng-stats.err"; then
	ok "rng-stats line"
else
	not_ok "rng-stats line" "$(grep rng0 "$T_TMP/rng-stats.err")"
fi
# No device: the guest finds nothing in the slots (all ones).
expect rng-absent 1 "virtio-rng: no virtio-rng in slots 0-16" --kernel "$G/virtio_rng.elf"
hostile rng-hostile --rng

# --- virtio-blk (once minivmm has --drive) ---
if ! "$MINIVMM" run --help 2>&1 | grep -q -- "--drive"; then
	echo "# virtio-blk: skipped, this minivmm has no --drive"
	exit 0
fi

# Sector s of a test drive: 32 times "sect NNNNN data\n" (virtio.h,
# blk_sector_pattern), 2048 sectors.
awk 'BEGIN { for (s = 0; s < 2048; s++) { u = sprintf("sect %05d data\n", s); for (i = 0; i < 32; i++) printf "%s", u } }' >"$T_TMP/pattern.img"
# What virtio_blk.elf leaves: sector 5 is "WRITTEN BY GUEST" x 32.
cp "$T_TMP/pattern.img" "$T_TMP/written.img"
awk 'BEGIN { for (i = 0; i < 32; i++) printf "WRITTEN BY GUEST" }' |
	dd of="$T_TMP/written.img" bs=512 seek=5 count=1 conv=notrunc status=none

fresh() {
	cp "$T_TMP/pattern.img" "$T_TMP/rw.img"
	cp "$T_TMP/pattern.img" "$T_TMP/ro.img"
}

# same NAME FILE WANT: FILE equals WANT byte for byte.
same() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1" "$(cmp "$2" "$3" 2>&1 | head -1)"
	fi
}

# blk NAME OPTS...: virtio_blk.elf with vda = rw.img (serial, OPTS), vdb =
# ro.img (,ro), then the files: vda changed in sector 5 only, vdb not.
blk() {
	local name=$1 opts=""
	shift
	for o in "$@"; do opts="$opts,$o"; done
	fresh
	expect "$name" 0 "virtio-blk ok" --kernel "$G/virtio_blk.elf" \
		--drive "$T_TMP/rw.img,serial=$SERIAL$opts" --drive "$T_TMP/ro.img,ro$opts"
	same "$name rw-file: sector 5 written, the rest unchanged" "$T_TMP/rw.img" "$T_TMP/written.img"
	same "$name ro-file unchanged" "$T_TMP/ro.img" "$T_TMP/pattern.img"
}

blk blk
blk blk-io-sync io=sync
blk blk-io-uring io=uring
blk blk-cache-unsafe cache=unsafe
blk blk-writeback-sync cache=writeback,io=sync

# Slots in command-line order: drives first, then the rng.
fresh
expect rng-after-drives 0 "virtio-rng ok in slot 2" --kernel "$G/virtio_rng.elf" \
	--rng --drive "$T_TMP/rw.img" --drive "$T_TMP/ro.img,ro"

# The hostile driver against vda, with vdb read-only; neither file may
# change (no case writes legitimately).
for io in uring sync; do
	fresh
	hostile blk-hostile-$io --drive "$T_TMP/rw.img,serial=$SERIAL,io=$io" \
		--drive "$T_TMP/ro.img,ro,io=$io"
	same "blk-hostile-$io rw-file unchanged" "$T_TMP/rw.img" "$T_TMP/pattern.img"
	same "blk-hostile-$io ro-file unchanged" "$T_TMP/ro.img" "$T_TMP/pattern.img"
done
