#!/usr/bin/env bash
# Firecracker-compatible mode with a Debian kernel: Firecracker's
# getting-started flow over the API socket (PUT /boot-source, /machine-config,
# a root drive, a second drive, a network interface on a tap, InstanceStart)
# boots the cloud bzImage with its root file system on the drive (mkdisk.sh
# root, whose init waits when the boot arguments say minivmm_wait, printing
# vdb's size as it changes); the second drive's medium is swapped for a
# bigger file (PATCH path_on_host) and the guest sees the new size; PATCH
# /vm Paused for longer than the guest's soft-lockup threshold (20 s),
# Resumed, and no soft-lockup report; SendCtrlAltDel ends it through the
# i8042 (the kernel restarts, minivmm exits 0); the --metrics-path file has
# the FlushMetrics lines and one from the end, with the drive's and the
# interface's counters; a third drive limited to 200 requests/s, read by the
# guest all along, shows 200 IOPS (within 10%) between two metrics lines.
# Then the same VM, generic PVH vmlinux, from a config file with --no-api: it
# boots its root drive and powers off.
# Prints "ok - fc ..." / "not ok - ...".
#
# Two halves, as vsock.sh:
#   on the host, after linux_prepare STAGE, virtio.sh --prepare STAGE (the
#     root image and virtio-initrd) and net.sh --prepare STAGE (tun.ko):
#       fc.sh --prepare STAGE
#     builds fcreq (tests/linux/fcreq.c, static: the vmhost has no curl)
#     and copies it and this script to STAGE;
#   in the vmhost, from STAGE: sourced by scenarios.sh (`. ./fc.sh`), or
#     alone (`bash ./fc.sh`).

if [ "${1:-}" = --prepare ]; then
	set -eu
	[ $# = 2 ] || { echo "usage: fc.sh --prepare STAGE" >&2; exit 2; }
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	top=$(cd "$here/../.." && pwd)
	stage=$2
	mkdir -p "$top/build/linux"
	gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
		-o "$top/build/linux/fcreq" "$here/fcreq.c"
	cp "$top/build/linux/fcreq" "$stage/fcreq"
	cp "$here/fc.sh" "$stage/"
	exit 0
fi

# Run alone: scenarios.sh's set-up and helpers.
declare -F boot >/dev/null || . ./scenario_lib.sh

FC_PAUSE_S=${FC_PAUSE_S:-25} # the soft-lockup watchdog reports after 20 s
FC_MAC=06:00:a9:fe:0c:02

# fc_line FILE PATTERN: FILE has a line (CRs stripped) matching PATTERN.
fc_line() { tr -d '\r' <"$1" | grep -qE -- "$2"; }

# fc_wait FILE PATTERN SECONDS: until fc_line, or minivmm ($fc_pid) is gone.
fc_wait() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		fc_line "$1" "$2" && return 0
		kill -0 "$fc_pid" 2>/dev/null || { fc_line "$1" "$2"; return; }
		sleep 0.2
	done
	return 1
}

# fc_req NAME EXPECT METHOD PATH [BODY]: one API request; ok if its status
# is EXPECT (and, for a GET, its body has $FC_BODY when set).
fc_req() {
	local name=$1 expect=$2 r
	shift 2
	r=$(./fcreq "$FC_SOCK" "$@" 2>&1)
	if [ "${r%% *}" = "$expect" ] && { [ -z "${FC_BODY:-}" ] || [[ $r == *"$FC_BODY"* ]]; }; then
		ok "fc $name"
	else
		echo "$r" >"$O/fc-req.txt"
		not_ok "fc $name" "$* answered '$r', expected $expect${FC_BODY:+ with $FC_BODY}" "$fc_err"
		return 1
	fi
}

fc_api() {
	local img=$O/fc-root.img out=$O/fc.out status i n0
	FC_SOCK=$O/fc.sock
	fc_err=$O/fc.err
	zcat root.img.gz >"$img" || { not_ok "fc root image" "no root.img.gz"; return; }
	# The tap of the network interface (net.sh loaded tun).
	[ -c /dev/net/tun ] || { [ -f tun.ko ] && insmod ./tun.ko; }
	ip tuntap add dev fctap0 mode tap 2>/dev/null || tunctl -t fctap0 >/dev/null
	ip addr add 169.254.12.1/24 dev fctap0 && ip link set fctap0 up
	$PIN ./minivmm fc --api-sock "$FC_SOCK" --id fc-test --metrics-path "$O/fc.metrics" \
		</dev/null >"$out" 2>"$fc_err" &
	fc_pid=$!
	for ((i = 0; i < 50; i++)); do [ -S "$FC_SOCK" ] && break; sleep 0.1; done
	if [ ! -S "$FC_SOCK" ]; then
		not_ok "fc listens on its API socket" "no $FC_SOCK after 5 s" "$fc_err"
		kill -KILL "$fc_pid" 2>/dev/null
		return
	fi
	FC_BODY='"state":"Not started"' fc_req "GET / before the start" 200 GET /
	fc_req "PUT /boot-source" 204 PUT /boot-source \
		'{"kernel_image_path": "cloud.bzImage", "initrd_path": "virtio-initrd", "boot_args": "console=ttyS0 quiet panic=-1 minivmm_wait minivmm_readvdc"}'
	fc_req "PUT /machine-config" 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
	fc_req "PUT /drives/rootfs (root device)" 204 PUT /drives/rootfs \
		"{\"drive_id\": \"rootfs\", \"path_on_host\": \"$img\", \"is_root_device\": true, \"is_read_only\": false}"
	truncate -s 4M "$O/fc-data1.img" && truncate -s 8M "$O/fc-data2.img"
	fc_req "PUT /drives/data (a second drive)" 204 PUT /drives/data \
		"{\"drive_id\": \"data\", \"path_on_host\": \"$O/fc-data1.img\", \"is_root_device\": false, \"is_read_only\": false}"
	# A third drive (vdc), limited to 200 requests/s, that the guest reads.
	truncate -s 8M "$O/fc-rate.img"
	fc_req "PUT /drives/limited (rate_limiter ops 20 per 100 ms)" 204 PUT /drives/limited \
		"{\"drive_id\": \"limited\", \"path_on_host\": \"$O/fc-rate.img\", \"is_root_device\": false, \"is_read_only\": true, \"rate_limiter\": {\"ops\": {\"size\": 20, \"refill_time\": 100}}}"
	fc_req "PUT /network-interfaces/eth0" 204 PUT /network-interfaces/eth0 \
		"{\"iface_id\": \"eth0\", \"guest_mac\": \"$FC_MAC\", \"host_dev_name\": \"fctap0\"}"
	fc_req "InstanceStart" 204 PUT /actions '{"action_type": "InstanceStart"}'
	if fc_wait "$out" '^MINIVMM-ROOT-WAIT' "$T_BOOT"; then
		ok "fc boots the kernel with its root on the drive"
	else
		not_ok "fc boots the kernel with its root on the drive" "no MINIVMM-ROOT-WAIT" "$out" "$fc_err"
		kill -KILL "$fc_pid" 2>/dev/null
		return
	fi
	fc_line "$out" '^MINIVMM-ROOT-OK pid=1 root=/dev/vda fstype=ext4' &&
		ok "fc root=/dev/vda from is_root_device" ||
		not_ok "fc root=/dev/vda from is_root_device" "no MINIVMM-ROOT-OK line" "$out"
	FC_BODY='"state":"Running"' fc_req "GET / while it runs" 200 GET /
	FC_BODY='"iface_id":"eth0"' fc_req "GET /vm/config" 200 GET /vm/config
	fc_req "a second InstanceStart is refused" 400 PUT /actions '{"action_type": "InstanceStart"}'
	# The second drive's medium swapped for a bigger file: Linux's
	# virtio_blk hears the configuration change and resizes vdb.
	if fc_wait "$out" '^MINIVMM-ROOT-VDB-SIZE 8192$' 20; then
		fc_req "PATCH /drives/data path_on_host (swap the medium)" 204 PATCH /drives/data \
			"{\"drive_id\": \"data\", \"path_on_host\": \"$O/fc-data2.img\"}"
		fc_wait "$out" '^MINIVMM-ROOT-VDB-SIZE 16384$' 20 &&
			ok "fc the guest sees the swapped medium's size (vdb 8192 -> 16384 sectors)" ||
			not_ok "fc the guest sees the swapped medium's size" "no MINIVMM-ROOT-VDB-SIZE 16384" "$out" "$fc_err"
	else
		not_ok "fc the guest has the second drive" "no MINIVMM-ROOT-VDB-SIZE 8192" "$out"
	fi
	# The limited drive's IOPS, from two metrics lines 5 s apart (the
	# second's block_limited.read_count is the delta): within 10% of 200.
	sleep 2
	fc_req "FlushMetrics (rate: start)" 204 PUT /actions '{"action_type": "FlushMetrics"}'
	sleep 5
	fc_req "FlushMetrics (rate: end)" 204 PUT /actions '{"action_type": "FlushMetrics"}'
	iops=$(tail -n 2 "$O/fc.metrics" | sed -n 's/^{"utc_timestamp_ms":\([0-9]*\),.*"block_limited":{[^}]*"read_count":\([0-9]*\).*/\1 \2/p' |
		awk 'NR == 1 { t = $1 } NR == 2 { if ($1 > t) printf "%.1f", $2 / (($1 - t) / 1000) }')
	if [ -n "$iops" ] && awk -v r="$iops" 'BEGIN { exit !(r > 180 && r < 220) }'; then
		ok "fc a rate-limited drive holds its limit: $iops IOPS read, limit 200 (within 10%)"
	else
		not_ok "fc a rate-limited drive holds its limit" "'$iops' IOPS, limit 200" "$O/fc.metrics"
	fi
	fc_req "PATCH /vm Paused" 204 PATCH /vm '{"state": "Paused"}'
	FC_BODY='"state":"Paused"' fc_req "GET / while paused" 200 GET /
	n0=$(wc -l <"$out")
	sleep "$FC_PAUSE_S"
	fc_req "PATCH /vm Resumed after ${FC_PAUSE_S} s" 204 PATCH /vm '{"state": "Resumed"}'
	FC_BODY='"state":"Running"' fc_req "GET / after the resume" 200 GET /
	sleep 5
	if fc_line "$out" 'soft lockup|rcu_sched self-detected stall|rcu: INFO'; then
		not_ok "fc no soft lockup after a ${FC_PAUSE_S} s pause" "the guest reported one" "$out"
	else
		ok "fc no soft lockup after a ${FC_PAUSE_S} s pause ($((n0)) console lines before it)"
	fi
	fc_req "FlushMetrics" 204 PUT /actions '{"action_type": "FlushMetrics"}'
	fc_req "SendCtrlAltDel" 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	for ((i = 0; i < 150; i++)); do kill -0 "$fc_pid" 2>/dev/null || break; sleep 0.2; done
	if kill -0 "$fc_pid" 2>/dev/null; then
		not_ok "fc SendCtrlAltDel ends the VM" "minivmm still runs 30 s later" "$out" "$fc_err"
		kill -KILL "$fc_pid"
	fi
	status=0
	wait "$fc_pid" || status=$?
	[ "$status" = 0 ] && ok "fc SendCtrlAltDel ends the VM, status 0" ||
		not_ok "fc SendCtrlAltDel ends the VM, status 0" "status $status" "$out" "$fc_err"
	[ -e "$FC_SOCK" ] && not_ok "fc removes its socket" "$FC_SOCK is left" || ok "fc removes its socket"
	# One line from FlushMetrics, one at the end; the root drive's reads
	# (the guest booted from it) in the first.
	n0=$(grep -c '^{"utc_timestamp_ms":' "$O/fc.metrics" 2>/dev/null)
	if [ "${n0:-0}" -ge 4 ] && grep -q '"block_rootfs":{[^}]*"read_bytes":[1-9]' "$O/fc.metrics" &&
		grep -q '"net_eth0":{' "$O/fc.metrics"; then
		ok "fc metrics: $n0 lines, the root drive's reads and eth0 counted"
	else
		not_ok "fc metrics: lines with the drive's and the interface's counters" "${n0:-0} lines" "$O/fc.metrics"
	fi
	ip link set fctap0 down 2>/dev/null
	ip tuntap del dev fctap0 mode tap 2>/dev/null || tunctl -d fctap0 >/dev/null 2>&1
	rm -f "$img" "$O/fc-data1.img" "$O/fc-data2.img" "$O/fc-rate.img"
}

fc_config_file() {
	local img=$O/fc-root2.img out=$O/fc2.out err=$O/fc2.err status=0
	zcat root.img.gz >"$img" || return
	cat >"$O/fc.json" <<EOF
{
  "boot-source": {"kernel_image_path": "generic.vmlinux", "initrd_path": "virtio-initrd",
                  "boot_args": "console=ttyS0 quiet panic=-1"},
  "drives": [{"drive_id": "rootfs", "path_on_host": "$img", "is_root_device": true, "is_read_only": false}],
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 256}
}
EOF
	timeout -k 5 "$T_BOOT" $PIN ./minivmm fc --no-api --config-file "$O/fc.json" </dev/null >"$out" 2>"$err" || status=$?
	if [ "$status" = 0 ] && fc_line "$out" '^MINIVMM-ROOT-OK pid=1 root=/dev/vda fstype=ext4' &&
		fc_line "$out" '^MINIVMM-ROOT-OK writable'; then
		ok "fc --no-api --config-file boots the generic vmlinux from its root drive"
	else
		not_ok "fc --no-api --config-file boots the generic vmlinux from its root drive" "status $status" "$out" "$err"
	fi
	rm -f "$img"
}

fc_api
fc_config_file
