#!/usr/bin/env bash
# A drive's medium swapped under a running guest: `minivmm fc` (seccomp
# on, the default) boots tests/guests/virtio_blk_swap.elf with drive "data"
# on image A; once the guest has read A, PATCH /drives/data refuses files
# that cannot be used (missing, a directory, not whole sectors, locked by
# another process) with a 400 naming them, the medium staying A, then
# swaps in image B (with a rate limiter in the same request); the guest
# sees the configuration change (ConfigGeneration, InterruptStatus), B's
# capacity and B's bytes.  GET /vm/config follows; A is unlocked after.
# Then B grows and the same path is PATCHed again (how a resized file is
# shown to the guest): a second change with the new capacity.
# Before InstanceStart a drive's path is set with PUT as usual, and PATCH is
# refused.  Usage: swap.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/fc_lib.sh"
GUEST=$G/virtio_blk_swap.elf

# image FILE SECTORS BYTE: SECTORS sectors of BYTE (octal escape).
image() {
	head -c $(($2 * 512)) /dev/zero | tr '\0' "$3" >"$1"
}

# lock_held FILE: true if a POSIX write lock on FILE cannot be taken
# (minivmm's OFD lock conflicts with it).
lock_held() {
	python3 -c 'import fcntl, sys
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

image "$T_TMP/a.img" 2048 '\252'
image "$T_TMP/b.img" 4096 '\273'
image "$T_TMP/c.img" 8 '\314'
head -c 1000 /dev/zero >"$T_TMP/odd.img"
image "$T_TMP/locked.img" 8 '\0'
mkdir "$T_TMP/dir"
D='{"drive_id": "data", "is_root_device": false, "path_on_host": '

fc_start swap
expect "boot-source" 204 "" PUT /boot-source '{"kernel_image_path": "'"$GUEST"'"}'
expect "machine-config" 204 "" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
# Before the start a path is a PUT's, as often as wanted.
expect "before start: PUT a drive" 204 "" PUT /drives/data "$D\"$T_TMP/c.img\"}"
expect "before start: PUT it again with another path" 204 "" PUT /drives/data "$D\"$T_TMP/a.img\"}"
fault "before start: PATCH of path_on_host refused" "not supported before starting" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/b.img"'"}'
expect "GET /vm/config: image A" 200 "a\\.img" GET /vm/config
expect "InstanceStart" 204 "" PUT /actions '{"action_type": "InstanceStart"}'

# guest_says NAME LINE: waits (30 s at most) for LINE on the guest's console.
guest_says() {
	for _ in $(seq 600); do
		grep -q "$2" "$T_TMP/swap.out" 2>/dev/null && break
		kill -0 "$fc_pid" 2>/dev/null || break
		sleep 0.05
	done
	if grep -q "$2" "$T_TMP/swap.out"; then
		ok "$1"
	else
		not_ok "$1" "$(head -c 300 "$T_TMP/swap.out") $(head -c 300 "$T_TMP/swap.err")"
	fi
}

guest_says "the guest read image A" "swap: A read"

# Refused: the guest must see no change (it fails on a generation move
# before B's capacity).
fault "PATCH: unknown drive" "no drive 'nodrive'" PATCH /drives/nodrive '{"drive_id": "nodrive", "path_on_host": "'"$T_TMP/b.img"'"}'
fault "PATCH: a missing file, named" "path_on_host: $T_TMP/none.img: No such file" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/none.img"'"}'
fault "PATCH: a directory" "path_on_host: $T_TMP/dir is a directory" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/dir"'"}'
fault "PATCH: not whole sectors" "odd.img is 1000 bytes, not a multiple of 512" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/odd.img"'"}'
fault "PATCH: path_on_host not a string" "path_on_host: expected a string" PATCH /drives/data '{"drive_id": "data", "path_on_host": 7}'
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(30)' "$T_TMP/locked.img" >"$T_TMP/locker.out" &
locker=$!
for _ in $(seq 100); do
	grep -q locked "$T_TMP/locker.out" && break
	sleep 0.05
done
fault "PATCH: a file locked by another process" "locked.img is in use by another process" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/locked.img"'"}'
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null
expect "GET /vm/config: still image A after the refusals" 200 "a\\.img" GET /vm/config
if lock_held "$T_TMP/a.img"; then
	ok "image A locked while in use"
else
	not_ok "image A locked while in use" "a POSIX lock could be taken"
fi

# The swap, with a rate limiter in the same request: both applied.
expect "PATCH: path_on_host and rate_limiter" 204 "" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/b.img"'", "rate_limiter": {"ops": {"size": 1000, "refill_time": 100}}}'
guest_says "the guest saw the change: generation, interrupt status, B's capacity and bytes" "swap: B read"
expect "GET /vm/config: image B and its limiter" 200 "b\\.img.*\"size\": ?1000" GET /vm/config
if lock_held "$T_TMP/a.img"; then
	not_ok "image A unlocked after the swap" "still locked"
else
	ok "image A unlocked after the swap"
fi
truncate -s $((6144 * 512)) "$T_TMP/b.img"
expect "PATCH: the same path again, resized" 204 "" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/b.img"'"}'

st=0
wait "$fc_pid" || st=$?
if [ "$st" = 0 ] && grep -q "virtio-blk-swap ok" "$T_TMP/swap.out"; then
	ok "the guest saw B's new size"
else
	not_ok "the guest saw B's new size" "status $st: $(head -c 400 "$T_TMP/swap.out") $(head -c 400 "$T_TMP/swap.err")"
fi
if grep -q seccomp "$T_TMP/swap.err"; then
	not_ok "no seccomp line (sandboxed)" "$(head -c 300 "$T_TMP/swap.err")"
else
	ok "no seccomp line (sandboxed)"
fi
if lock_held "$T_TMP/b.img"; then
	not_ok "image B unlocked once the VM ended" "still locked"
else
	ok "image B unlocked once the VM ended"
fi
