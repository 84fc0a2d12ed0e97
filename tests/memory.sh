#!/usr/bin/env bash
# machine-config's huge_pages and track_dirty_pages in minivmm fc, with a
# raw ELF guest (tests/guests/ticker.S) from a --config-file: "2M" backs
# guest RAM with hugetlbfs pages (smaps: KernelPageSize 2048 kB, the pool's
# pages reserved), refused with one line when the pool is short or the size
# is not a multiple of 2 MiB; "Transparent" advises THP (VmFlags hg), which
# a raw guest does not get otherwise; track_dirty_pages puts
# KVM_MEM_LOG_DIRTY_PAGES on the slots (the Debug log says so).  Needs root
# to size the huge page pool; restores it.  Usage: memory.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
TICKER=$G/ticker.elf
POOL=/proc/sys/vm/nr_hugepages

# cfg FILE MEM HUGE DIRTY [nolog]: a config file for the ticker guest,
# its Debug log in $T_TMP/log (without it, errors go to stderr).
cfg() {
	local log=', "logger": {"log_path": "'"$T_TMP/log"'", "level": "Debug"}'
	[ "${5:-}" = nolog ] && log=
	cat >"$1" <<JSON
{"boot-source": {"kernel_image_path": "$TICKER"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": $2, "huge_pages": "$3", "track_dirty_pages": $4}$log}
JSON
}

# start NAME FILE: minivmm fc --no-api on it, in the background ($pid);
# waits for the guest's first dots.
start() {
	rm -f "$T_TMP/log"
	"$MINIVMM" fc --no-api --config-file "$2" </dev/null >"$T_TMP/$1.out" 2>"$T_TMP/$1.err" &
	pid=$!
	for _ in $(seq 100); do
		[ -s "$T_TMP/$1.out" ] && return 0
		kill -0 $pid 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

stop() { kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; }

# guest_map FIELD: FIELD of the 64 MiB mapping in minivmm's smaps.
guest_map() {
	awk -v f="$1" '/^[0-9a-f]+-[0-9a-f]+ / { g = 0 } /^Size: +65536 kB/ { g = 1 } g && $1 == f ":" { $1 = ""; print; exit }' "/proc/$pid/smaps"
}

if [ ! -w $POOL ]; then
	ok "memory: huge page tests # SKIP needs root to size $POOL"
	exit 0
fi
saved=$(cat $POOL)
trap 'echo "$saved" >$POOL; rm -rf "$T_TMP"' EXIT

# --- 2M with a pool ---
echo $((saved + 32)) >$POOL
free0=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
cfg "$T_TMP/2m.json" 64 2M true
if start hp2m "$T_TMP/2m.json"; then
	kps=$(guest_map KernelPageSize)
	[ "$(echo $kps)" = "2048 kB" ] && ok "huge_pages 2M: guest RAM in 2 MiB hugetlbfs pages (KernelPageSize $kps)" ||
		not_ok "huge_pages 2M: KernelPageSize" "'$kps'"
	rsvd=$(awk '/^HugePages_Rsvd:/ { print $2 }' /proc/meminfo)
	free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	[ $((rsvd + (free0 - free))) -ge 32 ] && ok "huge_pages 2M: the 32 pages are taken from the pool at start (reserved $rsvd, used $((free0 - free)))" ||
		not_ok "huge_pages 2M: pool" "reserved $rsvd, used $((free0 - free)) of 32"
	grep -q "Guest memory: 64 MiB of 2 MiB huge pages (hugetlbfs), dirty page tracking on" "$T_TMP/log" &&
		ok "track_dirty_pages: the slots log dirty pages (KVM took the flag), logged" ||
		not_ok "track_dirty_pages" "no log line: $(tail -c 300 "$T_TMP/log")"
	stop
else
	not_ok "huge_pages 2M with a pool" "no guest output: $(tail -c 300 "$T_TMP/hp2m.err")"
	stop
fi

# --- 2M without enough free pages, and an odd size ---
echo "$saved" >$POOL
if [ "$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)" -lt 32 ]; then
	cfg "$T_TMP/short.json" 64 2M false nolog
	run_vmm "$T_TMP/short" fc --no-api --config-file "$T_TMP/short.json"
	[ "$status" = 1 ] && grep -q "^minivmm: huge_pages 2M: cannot map 64 MiB of 2 MiB huge pages: .*nr_hugepages" "$T_TMP/short.err" &&
		ok "huge_pages 2M with a short pool: one line saying how to reserve them, status 1" ||
		not_ok "huge_pages 2M with a short pool" "status $status: $(tail -c 300 "$T_TMP/short.err")"
fi
cfg "$T_TMP/odd.json" 63 2M false nolog
run_vmm "$T_TMP/odd" fc --no-api --config-file "$T_TMP/odd.json"
[ "$status" = 1 ] && grep -q "^minivmm: huge_pages 2M: the memory size .* must be a multiple of 2 MiB" "$T_TMP/odd.err" &&
	ok "huge_pages 2M with 63 MiB: refused, status 1" ||
	not_ok "huge_pages 2M with 63 MiB" "status $status: $(tail -c 300 "$T_TMP/odd.err")"

# --- Transparent, and None (a raw guest gets no advice by default) ---
cfg "$T_TMP/thp.json" 64 Transparent false
if start thp "$T_TMP/thp.json"; then
	guest_map VmFlags | grep -qw hg && ok "huge_pages Transparent: guest RAM advised MADV_HUGEPAGE (VmFlags hg)" ||
		not_ok "huge_pages Transparent" "VmFlags: $(guest_map VmFlags)"
	grep -q "dirty page tracking off" "$T_TMP/log" && ok "track_dirty_pages false: off" ||
		not_ok "track_dirty_pages false" "$(tail -c 300 "$T_TMP/log")"
	stop
else
	not_ok "huge_pages Transparent" "no guest output: $(tail -c 300 "$T_TMP/thp.err")"
	stop
fi
cfg "$T_TMP/none.json" 64 None false
if start none "$T_TMP/none.json"; then
	guest_map VmFlags | grep -qw hg && not_ok "huge_pages None (raw guest)" "advised: $(guest_map VmFlags)" ||
		ok "huge_pages None: a raw guest's RAM is not advised"
	stop
else
	not_ok "huge_pages None" "no guest output: $(tail -c 300 "$T_TMP/none.err")"
	stop
fi
