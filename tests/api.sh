#!/usr/bin/env bash
# Firecracker-compatible mode: `minivmm fc` and its API driven with
# `curl --unix-socket`, as Firecracker's getting-started guide does.  The
# command line's refusals, every endpoint's validation (bad JSON, wrong
# types, unknown fields, oversized bodies, wrong methods, bad ids, path and
# body ids that differ), the before/after InstanceStart rules, a client that
# connects and sends nothing while others are served, pause and resume of a
# raw ELF guest (tests/guests/ticker.S) with GET / showing the state, and
# the same VM from --config-file with --no-api.  Sockets live under a
# mktemp -d directory.  Usage: api.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/fc_lib.sh"
TICKER=$G/ticker.elf

# grows FILE: FILE gets longer within 20 s (the machine may be busy).
grows() {
	local a b
	a=$(stat -c %s "$1")
	for _ in $(seq 400); do
		b=$(stat -c %s "$1")
		[ "$b" -gt "$a" ] && return 0
		sleep 0.05
	done
	return 1
}

# --- the command line ---
MINIVMM_SAVED=$MINIVMM
refuse fc-no-api-alone "--no-api needs --config-file" fc --no-api
refuse fc-missing-dir "directory .*/nodir does not exist" fc --api-sock "$T_TMP/nodir/s"
touch "$T_TMP/exists.sock"
refuse fc-socket-exists "exists.sock already exists" fc --api-sock "$T_TMP/exists.sock"
refuse fc-bad-id "--id 'a b'" fc --id 'a b' --api-sock "$T_TMP/x.sock"
refuse fc-long-id "--id" fc --id "$(printf 'a%.0s' $(seq 65))" --api-sock "$T_TMP/x.sock"
refuse fc-bad-level "--level 'Loud'" fc --level Loud --api-sock "$T_TMP/x.sock"
refuse fc-unknown-option "unknown option '--bogus'" fc --bogus
refuse fc-seccomp-filter "--seccomp-filter: Firecracker's option is not supported: minivmm's filters are built in" fc --seccomp-filter f.bpf
refuse fc-describe-snapshot "--describe-snapshot: .*no snapshots yet" fc --describe-snapshot s
refuse fc-bad-start-time "--start-time-us '1.5': expected microseconds" fc --start-time-us=1.5
refuse fc-bad-payload-size "--http-api-max-payload-size 'big': expected bytes" fc --http-api-max-payload-size big
refuse fc-stray-argument "unexpected argument 'extra'" fc --api-sock "$T_TMP/x.sock" extra
refuse fc-config-missing "--config-file $T_TMP/none.json" fc --no-api --config-file "$T_TMP/none.json"
echo '{"boot-source": {"kernel_image_path": "'"$TICKER"'"}, "bogus": 1}' >"$T_TMP/unknown.json"
refuse fc-config-unknown-key "unknown field 'bogus'" fc --no-api --config-file "$T_TMP/unknown.json"
echo '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}' >"$T_TMP/noboot.json"
refuse fc-config-no-boot-source "missing field 'boot-source'" fc --no-api --config-file "$T_TMP/noboot.json"
echo '{"boot-source": {"kernel_image_path": "'"$TICKER"'"}' >"$T_TMP/badjson.json"
refuse fc-config-bad-json "bad JSON" fc --no-api --config-file "$T_TMP/badjson.json"
echo '{"boot-source": {"kernel_image_path": "'"$TICKER"'"}, "balloon": {"amount_mib": 1}}' >"$T_TMP/balloon.json"
refuse fc-config-balloon "balloon: not supported" fc --no-api --config-file "$T_TMP/balloon.json"
[ ! -e "$T_TMP/x.sock" ] && ok "refusals leave no socket" || not_ok "refusals leave no socket" "$T_TMP/x.sock exists"

# Started as `firecracker` (a symlink): Firecracker's command line.
ln -s "$(cd "$(dirname "$MINIVMM")" && pwd)/$(basename "$MINIVMM")" "$T_TMP/firecracker"
MINIVMM=$T_TMP/firecracker
refuse firecracker-symlink "--no-api needs --config-file" --no-api
run_vmm "$T_TMP/fchelp" --help
if [ "$status" = 0 ] && grep -q -- "--api-sock PATH" "$T_TMP/fchelp.out"; then ok "firecracker --help is fc's"; else not_ok "firecracker --help is fc's" "status $status"; fi
MINIVMM=$MINIVMM_SAVED
run_vmm "$T_TMP/fchelp2" fc --help
if [ "$status" = 0 ] && grep -q -- "--config-file FILE" "$T_TMP/fchelp2.out"; then ok "fc --help"; else not_ok "fc --help" "status $status"; fi

# --- before InstanceStart ---
fc_start pre --id my-vm-1
expect "GET / before start" 200 '"id": ?"my-vm-1".*"state": ?"Not started"' GET /
expect "GET /version" 200 'firecracker_version' GET /version
expect "GET /machine-config defaults" 200 '"vcpu_count": ?1,.*"mem_size_mib": ?128' GET /machine-config
fault "bad JSON" "bad JSON" PUT /boot-source '{"kernel_image_path": '
fault "JSON not an object" "must be a JSON object" PUT /boot-source '[1, 2]'
fault "empty body" "needs a JSON body" PUT /boot-source
fault "duplicate key" "bad JSON" PUT /boot-source '{"kernel_image_path": "a", "kernel_image_path": "b"}'
fault "boot-source missing field" "missing field 'kernel_image_path'" PUT /boot-source '{"boot_args": "x"}'
fault "boot-source wrong type" "kernel_image_path: expected a string" PUT /boot-source '{"kernel_image_path": 5}'
fault "boot-source unknown field" "unknown field 'kernel'" PUT /boot-source '{"kernel": "x"}'
fault "boot-source no such kernel" "No such file" PUT /boot-source '{"kernel_image_path": "/nonexistent/vmlinux"}'
fault "boot-source kernel a directory" "is a directory" PUT /boot-source '{"kernel_image_path": "/"}'
fault "InstanceStart without boot-source" "no boot source" PUT /actions '{"action_type": "InstanceStart"}'
fault "machine-config vcpu_count 0" "vcpu_count: 0 is out of range" PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}'
fault "machine-config vcpu_count 33" "vcpu_count: 33 is out of range" PUT /machine-config '{"vcpu_count": 33, "mem_size_mib": 64}'
fault "machine-config vcpu_count string" "vcpu_count: expected an integer" PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 64}'
fault "machine-config vcpu_count float" "vcpu_count: expected an integer" PUT /machine-config '{"vcpu_count": 1.5, "mem_size_mib": 64}'
fault "machine-config negative memory" "mem_size_mib: -1 is out of range" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": -1}'
fault "machine-config PUT needs mem_size_mib" "missing field 'mem_size_mib'" PUT /machine-config '{"vcpu_count": 1}'
fault "machine-config smt" "smt: true is not supported" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "smt": true}'
fault "machine-config huge_pages" "huge_pages: '1G' is not one of None, 2M, Transparent" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "1G"}'
fault "machine-config cpu_template" "CPU templates are not supported" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2"}'
fault "machine-config track_dirty_pages type" "track_dirty_pages: expected true or false" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": 1}'
expect "machine-config PUT" 204 "" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "huge_pages": "2M", "track_dirty_pages": true}'
expect "machine-config PATCH" 204 "" PATCH /machine-config '{"vcpu_count": 1}'
expect "machine-config GET after PATCH" 200 '"vcpu_count": ?1,.*"mem_size_mib": ?64.*"track_dirty_pages": ?true.*"huge_pages": ?"2M"' GET /machine-config
truncate -s 1M "$T_TMP/disk0" "$T_TMP/disk1"
fault "drive bad id" "Invalid ID" PUT /drives/a-b '{"drive_id": "a-b", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false}'
fault "drive no id" "Invalid request method and/or path" PUT /drives '{}'
fault "drive empty id" "Invalid ID" PUT /drives/ '{}'
fault "drive id mismatch" "differs from drive_id" PUT /drives/one '{"drive_id": "two", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false}'
fault "drive missing is_root_device" "missing field 'is_root_device'" PUT /drives/one '{"drive_id": "one", "path_on_host": "'"$T_TMP/disk0"'"}'
fault "drive missing path" "missing field 'path_on_host'" PUT /drives/one '{"drive_id": "one", "is_root_device": false}'
fault "drive no such file" "No such file" PUT /drives/one '{"drive_id": "one", "path_on_host": "'"$T_TMP/nodisk"'", "is_root_device": false}'
fault "drive bad cache_type" "cache_type: 'Fast' is not one of" PUT /drives/one '{"drive_id": "one", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false, "cache_type": "Fast"}'
fault "drive bad io_engine" "io_engine: 'Uring' is not one of" PUT /drives/one '{"drive_id": "one", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false, "io_engine": "Uring"}'
fault "drive vhost-user" "vhost-user drives are not supported" PUT /drives/one '{"drive_id": "one", "is_root_device": false, "socket": "/tmp/x"}'
fault "drive rate_limiter type" "rate_limiter: bandwidth: size: expected an integer" PUT /drives/one '{"drive_id": "one", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false, "rate_limiter": {"bandwidth": {"size": "1", "refill_time": 100}}}'
fault "drive rate_limiter unknown field" "rate_limiter: unknown field 'iops'" PUT /drives/one '{"drive_id": "one", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false, "rate_limiter": {"iops": {}}}'
fault "drive rate_limiter missing refill_time" "ops: missing field 'refill_time'" PUT /drives/one '{"drive_id": "one", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false, "rate_limiter": {"ops": {"size": 100}}}'
expect "drive PUT root" 204 "" PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": true, "is_read_only": false}'
fault "second root drive" "already the root device" PUT /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/disk1"'", "is_root_device": true}'
expect "drive PUT with a rate limiter" 204 "" PUT /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/disk1"'", "is_root_device": false, "is_read_only": true, "cache_type": "Writeback", "io_engine": "Async", "rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 1000, "one_time_burst": 0}, "ops": {"size": 100, "refill_time": 1000}}}'
fault "drive PATCH before start" "not supported before starting" PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$T_TMP/disk1"'"}'
fault "net missing host_dev_name" "missing field 'host_dev_name'" PUT /network-interfaces/eth0 '{"iface_id": "eth0"}'
fault "net long host_dev_name" "the name is 16 bytes" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0123456789abc"}'
fault "net bad guest_mac" "mac=zz:00:00:00:00:01" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "zz:00:00:00:00:01"}'
fault "net multicast guest_mac" "multicast" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "01:00:00:00:00:01"}'
fault "net id mismatch" "differs from iface_id" PUT /network-interfaces/eth0 '{"iface_id": "eth1", "host_dev_name": "tap0"}'
fault "net rx_rate_limiter negative" "size: -5 is out of range" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "rx_rate_limiter": {"ops": {"size": -5, "refill_time": 1}}}'
expect "net PUT" 204 "" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02", "tx_rate_limiter": {"ops": {"size": 5, "refill_time": 1}}}'
fault "net tap twice" "tap=tap0 is given twice" PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap0"}'
fault "net PATCH before start" "not supported before starting" PATCH /network-interfaces/eth0 '{"iface_id": "eth0"}'
fault "vsock cid 2" "guest_cid: 2 is out of range" PUT /vsock '{"guest_cid": 2, "uds_path": "'"$T_TMP/v.sock"'"}'
fault "vsock missing dir" "does not exist" PUT /vsock '{"guest_cid": 3, "uds_path": "'"$T_TMP/nodir/v.sock"'"}'
fault "vsock missing uds_path" "missing field 'uds_path'" PUT /vsock '{"guest_cid": 3}'
expect "vsock PUT" 204 "" PUT /vsock '{"guest_cid": 3, "uds_path": "'"$T_TMP/v.sock"'"}'
fault "entropy unknown field" "unknown field 'rate'" PUT /entropy '{"rate": 1}'
expect "entropy PUT" 204 "" PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 100}}}'
fault "logger bad level" "level: 'Loud' is not one of" PUT /logger '{"level": "Loud"}'
expect "logger PUT" 204 "" PUT /logger '{"log_path": "'"$T_TMP/log"'", "level": "debug", "show_level": true}'
fault "metrics missing path" "missing field 'metrics_path'" PUT /metrics '{}'
expect "metrics PUT" 204 "" PUT /metrics '{"metrics_path": "'"$T_TMP/metrics"'"}'
expect "GET /vm/config" 200 '"drive_id": ?"rootfs".*"is_root_device": ?true.*"drive_id": ?"data".*"cache_type": ?"Writeback".*"io_engine": ?"Async".*"refill_time": ?1000.*"guest_mac": ?"06:00:ac:10:00:02".*"guest_cid": ?3.*"metrics_path"' GET /vm/config
fault "oversized body" "larger than the limit of 51200" PUT /boot-source "{\"boot_args\": \"$(head -c 60000 /dev/zero | tr '\0' a)\"}"
pre="{\"kernel_image_path\": \"$TICKER\", \"boot_args\": \""
body="$pre$(head -c $((51200 - ${#pre} - 2)) /dev/zero | tr '\0' a)\"}"
[ ${#body} = 51200 ] || not_ok "a body of 51200 bytes" "${#body} bytes"
expect "a body of 51200 bytes is read" 400 "boot_args: 51[0-9]+ bytes, at most 2048" PUT /boot-source "$body"
expect "a body of 51201 bytes is not" 400 "larger than the limit of 51200" PUT /boot-source "$body "
fault "unknown path" "Invalid request method and/or path: GET /nothing" GET /nothing
fault "DELETE" "Invalid request method and/or path: DELETE /" DELETE /
fault "POST /actions" "Invalid request method and/or path: POST /actions" POST /actions '{"action_type": "InstanceStart"}'
fault "PUT /" "Invalid request method and/or path: PUT /" PUT / '{}'
fault "GET /boot-source" "Invalid request method and/or path" GET /boot-source
fault "PATCH /boot-source" "Invalid request method and/or path" PATCH /boot-source '{}'
fault "snapshot create" "snapshots are not supported yet" PUT /snapshot/create '{"snapshot_path": "s", "mem_file_path": "m"}'
fault "snapshot load" "snapshots are not supported yet" PUT /snapshot/load '{"snapshot_path": "s"}'
fault "mmds" "MMDS is not supported" PUT /mmds '{}'
fault "balloon" "balloon device is not supported" PUT /balloon '{"amount_mib": 1}'
fault "unknown action" "'Reboot' is not one of" PUT /actions '{"action_type": "Reboot"}'
fault "action unknown field" "unknown field 'now'" PUT /actions '{"action_type": "InstanceStart", "now": true}'
fault "SendCtrlAltDel before start" "not supported before starting" PUT /actions '{"action_type": "SendCtrlAltDel"}'
fault "PATCH /vm before start" "not supported before starting" PATCH /vm '{"state": "Paused"}'
expect "GET / still not started" 200 '"state": ?"Not started"' GET /

# A client that connects and sends nothing, and one that stops in the
# middle of a request: the others are served meanwhile.
python3 -c 'import socket, sys, time
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
b = socket.socket(socket.AF_UNIX); b.connect(sys.argv[1])
b.sendall(b"PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"kern")
time.sleep(30)' "$sock" &
idle=$!
sleep 0.5
t0=$(date +%s%N)
expect "served beside idle clients" 200 '"state": ?"Not started"' GET /
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 3000 ] && ok "served beside idle clients within 3 s" || not_ok "served beside idle clients within 3 s" "$(((t1 - t0) / 1000000)) ms"
kill "$idle" 2>/dev/null
wait "$idle" 2>/dev/null
fc_stop pre

# --- InstanceStart that fails, then one that works; after start ---
cp "$TICKER" "$T_TMP/gone.elf"
fc_start run
expect "boot-source PUT" 204 "" PUT /boot-source '{"kernel_image_path": "'"$T_TMP/gone.elf"'"}'
rm "$T_TMP/gone.elf"
fault "InstanceStart with the kernel gone" "InstanceStart: .*gone.elf" PUT /actions '{"action_type": "InstanceStart"}'
expect "still not started after a failed start" 200 '"state": ?"Not started"' GET /
expect "boot-source PUT again" 204 "" PUT /boot-source '{"kernel_image_path": "'"$TICKER"'"}'
expect "machine-config for the ticker" 204 "" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 32}'
expect "a drive for the ticker" 204 "" PUT /drives/scratch '{"drive_id": "scratch", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false}'
expect "InstanceStart" 204 "" PUT /actions '{"action_type": "InstanceStart"}'
expect "pause right after InstanceStart" 204 "" PATCH /vm '{"state": "Paused"}'
expect "resume right after" 204 "" PATCH /vm '{"state": "Resumed"}'
expect "GET / running" 200 '"state": ?"Running"' GET /
grows "$T_TMP/run.out" && ok "the guest runs" || not_ok "the guest runs" "no output"
fault "InstanceStart twice" "not supported after starting" PUT /actions '{"action_type": "InstanceStart"}'
fault "boot-source after start" "not supported after starting" PUT /boot-source '{"kernel_image_path": "'"$TICKER"'"}'
fault "machine-config PUT after start" "not supported after starting" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
fault "machine-config PATCH after start" "not supported after starting" PATCH /machine-config '{"vcpu_count": 1}'
fault "drive PUT after start" "not supported after starting" PUT /drives/x '{"drive_id": "x", "path_on_host": "'"$T_TMP/disk0"'", "is_root_device": false}'
fault "net PUT after start" "not supported after starting" PUT /network-interfaces/x '{"iface_id": "x", "host_dev_name": "tap9"}'
fault "vsock after start" "not supported after starting" PUT /vsock '{"guest_cid": 3, "uds_path": "'"$T_TMP/v2.sock"'"}'
fault "drive PATCH of an unknown drive" "no drive 'x'" PATCH /drives/x '{"drive_id": "x", "rate_limiter": {"ops": {"size": 1, "refill_time": 1}}}'
fault "drive PATCH: a missing file" "path_on_host: $T_TMP/nodisk: No such file" PATCH /drives/scratch '{"drive_id": "scratch", "path_on_host": "'"$T_TMP/nodisk"'"}'
fault "drive PATCH: a directory" "path_on_host: $T_TMP is a directory" PATCH /drives/scratch '{"drive_id": "scratch", "path_on_host": "'"$T_TMP"'"}'
fault "drive PATCH: an unknown field" "unknown field 'is_read_only'" PATCH /drives/scratch '{"drive_id": "scratch", "path_on_host": "'"$T_TMP/disk1"'", "is_read_only": true}'
expect "drive PATCH: a new medium" 204 "" PATCH /drives/scratch '{"drive_id": "scratch", "path_on_host": "'"$T_TMP/disk1"'"}'
expect "GET /vm/config: the new medium" 200 "disk1" GET /vm/config
fault "SendCtrlAltDel to a guest without an i8042" "the guest has no keyboard" PUT /actions '{"action_type": "SendCtrlAltDel"}'
fault "FlushMetrics without a metrics path" "metrics system is not initialized" PUT /actions '{"action_type": "FlushMetrics"}'
fault "PATCH /vm bad state" "state: expected Paused or Resumed" PATCH /vm '{"state": "Frozen"}'
fault "PATCH /vm wrong type" "state: expected a string" PATCH /vm '{"state": 1}'
expect "GET /vm/config after start" 200 "\"kernel_image_path\": ?\"$TICKER\"" GET /vm/config
expect "pause" 204 "" PATCH /vm '{"state": "Paused"}'
expect "GET / paused" 200 '"state": ?"Paused"' GET /
a=$(stat -c %s "$T_TMP/run.out")
sleep 1
b=$(stat -c %s "$T_TMP/run.out")
[ "$a" = "$b" ] && ok "no guest output while paused" || not_ok "no guest output while paused" "$a -> $b bytes"
expect "pause again" 204 "" PATCH /vm '{"state": "Paused"}'
expect "served while paused" 200 "firecracker_version" GET /version
expect "drive PATCH while paused: taken at the resume" 204 "" PATCH /drives/scratch '{"drive_id": "scratch", "path_on_host": "'"$T_TMP/disk0"'"}'
expect "resume" 204 "" PATCH /vm '{"state": "Resumed"}'
expect "GET / running again" 200 '"state": ?"Running"' GET /
grows "$T_TMP/run.out" && ok "the guest runs after resume" || not_ok "the guest runs after resume" "no output"
expect "resume again" 204 "" PATCH /vm '{"state": "Resumed"}'
for i in 1 2 3 4 5; do
	call PATCH /vm '{"state": "Paused"}'
	c1=$code
	call PATCH /vm '{"state": "Resumed"}'
	[ "$c1$code" = 204204 ] || break
done
[ "$c1$code" = 204204 ] && ok "five pause/resume cycles" || not_ok "five pause/resume cycles" "HTTP $c1 $code: $resp"
grows "$T_TMP/run.out" && ok "the guest runs after the cycles" || not_ok "the guest runs after the cycles" "no output"
expect "pause before SIGTERM" 204 "" PATCH /vm '{"state": "Paused"}'
fc_stop run

# --- the same VM from a file ---
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$TICKER", "boot_args": "console=ttyS0"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 32},
  "drives": [{"drive_id": "rootfs", "path_on_host": "$T_TMP/disk0", "is_root_device": true, "is_read_only": true}],
  "entropy": {},
  "logger": {"level": "Info"},
  "metrics": {"metrics_path": "$T_TMP/metrics"}
}
JSON
timeout -k 5 60 "$MINIVMM" fc --no-api --config-file "$T_TMP/vm.json" >"$T_TMP/file.out" 2>"$T_TMP/file.err" </dev/null &
pid=$!
grows "$T_TMP/file.out" && ok "--config-file --no-api boots" || not_ok "--config-file --no-api boots" "$(head -c 300 "$T_TMP/file.err")"
kill -TERM $pid
st=0
wait $pid || st=$?
[ "$st" = 143 ] && ok "--config-file --no-api ends on SIGTERM" || not_ok "--config-file --no-api ends on SIGTERM" "status $st: $(head -c 300 "$T_TMP/file.err")"
: >"$T_TMP/empty.img"
sed "s|$T_TMP/disk0|$T_TMP/empty.img|" "$T_TMP/vm.json" >"$T_TMP/empty.json"
refuse "--config-file whose VM cannot start" "empty.img" fc --api-sock "$T_TMP/cf.sock" --config-file "$T_TMP/empty.json"
[ ! -e "$T_TMP/cf.sock" ] && ok "--config-file failure removes the socket" || not_ok "--config-file failure removes the socket" "left"
fc_start file --config-file "$T_TMP/vm.json"
# The first request may come before the VM runs: the API serves once it does.
expect "--config-file with the API: a pause first" 204 "" PATCH /vm '{"state": "Paused"}'
expect "--config-file with the API: paused" 200 '"state": ?"Paused"' GET /
expect "--config-file with the API: resumed" 204 "" PATCH /vm '{"state": "Resumed"}'
expect "--config-file with the API: running" 200 '"state": ?"Running"' GET /
expect "--config-file: GET /vm/config" 200 '"drive_id": ?"rootfs".*"is_read_only": ?true' GET /vm/config
fault "--config-file: PUT after start" "not supported after starting" PUT /boot-source '{"kernel_image_path": "'"$TICKER"'"}'
grows "$T_TMP/file.out" && ok "--config-file with the API boots" || not_ok "--config-file with the API boots" "no output"
# Pause and resume with virtio devices (a drive, entropy): their I/O
# threads stop and start again each time.
for i in 1 2 3; do
	expect "pause with devices ($i)" 204 "" PATCH /vm '{"state": "Paused"}'
	expect "resume with devices ($i)" 204 "" PATCH /vm '{"state": "Resumed"}'
done
grows "$T_TMP/file.out" && ok "runs after pausing with devices" || not_ok "runs after pausing with devices" "no output"
fc_stop file
