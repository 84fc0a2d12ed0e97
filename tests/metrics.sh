#!/usr/bin/env bash
# Firecracker-compatible metrics and logger: `minivmm fc` with a metrics
# file and a log file, driven with `curl --unix-socket`.  Each metrics line
# parses as JSON (jq), FlushMetrics adds one, most counters are deltas since
# the previous line, a second PUT /metrics and FlushMetrics without a path
# are refused with Firecracker's messages, a raw guest's I/O to a drive
# (tests/guests/virtio_blk.elf) moves block_<drive_id> and the "block"
# aggregate, virtio_rng.elf moves "entropy", the timer writes lines on its
# own (its period shortened with MINIVMM_METRICS_PERIOD_MS), and the log
# file gets Firecracker's lines at the level asked for.
# Usage: metrics.sh MINIVMM GUESTDIR
set -u
MINIVMM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
FC_TIMEOUT=60
. "$HERE/fc_lib.sh"
BLK=$G/virtio_blk.elf

if ! command -v jq >/dev/null; then
	not_ok "metrics: jq" "jq is not installed (scripts/setup.sh installs it)"
	exit 0
fi

# check NAME FILE JQ-EXPR: the last line of FILE makes JQ-EXPR true.
check() {
	if [ -s "$2" ] && tail -n 1 "$2" | jq -e "$3" >/dev/null 2>&1; then
		ok "$1"
	else
		not_ok "$1" "$3 on: $(tail -n 1 "$2" | head -c 600)"
	fi
}

# all_parse NAME FILE: every line of FILE is one JSON object.
all_parse() {
	local n
	n=$(lines "$2")
	if [ "$n" -gt 0 ] && jq -e -s "length == $n and all(.[]; type == \"object\" and (.utc_timestamp_ms | type) == \"number\")" "$2" >/dev/null 2>&1; then
		ok "$1 ($n lines)"
	else
		not_ok "$1" "$n lines: $(head -c 300 "$2")"
	fi
}

lines() { cat "$1" 2>/dev/null | wc -l; }

awk 'BEGIN { for (s = 0; s < 2048; s++) { u = sprintf("sect %05d data\n", s); for (i = 0; i < 32; i++) printf "%s", u } }' >"$T_TMP/rw.img"
cp "$T_TMP/rw.img" "$T_TMP/ro.img"
DRIVES='{"drive_id": "rootfs", "path_on_host": "'"$T_TMP/rw.img"'", "is_root_device": false, "is_read_only": false}'

# --- the API: PUT /metrics, FlushMetrics, deltas, a guest's I/O ---
M=$T_TMP/m1.json
L=$T_TMP/l1.log
fc_start m1 --id mvm-1
expect "FlushMetrics before a path" 400 "metrics system is not initialized" PUT /actions '{"action_type": "FlushMetrics"}'
expect "PUT /logger" 204 "" PUT /logger '{"log_path": "'"$L"'", "level": "Debug", "show_level": true}'
expect "PUT /metrics" 204 "" PUT /metrics '{"metrics_path": "'"$M"'"}'
expect "PUT /metrics again" 400 "Reinitialization of metrics not allowed." PUT /metrics '{"metrics_path": "'"$T_TMP/m2.json"'"}'
expect "GET /" 200 '"state":' GET /
expect "FlushMetrics" 204 "" PUT /actions '{"action_type": "FlushMetrics"}'
[ "$(lines "$M")" = 1 ] && ok "FlushMetrics wrote one line" || not_ok "FlushMetrics wrote one line" "$(lines "$M") lines"
check "the line has the API's counters" "$M" '.get_api_requests.instance_info_count == 1 and .put_api_requests.metrics_count == 2 and .put_api_requests.metrics_fails == 1 and .put_api_requests.logger_count == 1 and .put_api_requests.actions_fails == 1'
expect "FlushMetrics again" 204 "" PUT /actions '{"action_type": "FlushMetrics"}'
check "deltas: what the previous line counted is not counted again" "$M" '.get_api_requests.instance_info_count == 0 and .put_api_requests.metrics_count == 0 and .put_api_requests.actions_count == 1'
expect "boot-source" 204 "" PUT /boot-source '{"kernel_image_path": "'"$BLK"'"}'
expect "machine-config" 204 "" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
expect "drive" 204 "" PUT /drives/rootfs "$DRIVES"
expect "InstanceStart" 204 "" PUT /actions '{"action_type": "InstanceStart"}'
# The guest does its I/O and ends (its check of the serial fails: the API
# gives drives none); the VM's end writes its last counters.
wait "$fc_pid" || true
all_parse "metrics lines parse" "$M"
check "block_rootfs counts the guest's I/O" "$M" '.block_rootfs.read_count > 0 and .block_rootfs.read_bytes >= 512 and .block_rootfs.write_count > 0 and .block_rootfs.write_bytes >= 512 and (.block_rootfs | has("flush_count"))'
check "the block aggregate sums the drives" "$M" '.block.read_bytes == .block_rootfs.read_bytes and .block.write_count == .block_rootfs.write_count'
check "vcpu exits per reason" "$M" '.vcpu.exit_mmio_write > 0 and (.vcpu | has("exit_io_in") and has("exit_io_out") and has("exit_mmio_read") and has("exit_hlt"))'
if grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9} \[mvm-1:fc_api:DEBUG\] The API server received a PUT request on "/actions"\.$' "$L"; then
	ok "log: Firecracker's line format"
else
	not_ok "log: Firecracker's line format" "$(head -c 400 "$L")"
fi
grep -q '\[mvm-1:main:INFO\] Vmm is stopping\.$' "$L" && ok "log: the main thread's line" || not_ok "log: the main thread's line" "$(tail -c 300 "$L")"
! grep -q 'Vmm is stopping' "$T_TMP/m1.err" && ok "log lines not on stderr with a log path" || not_ok "log lines not on stderr with a log path" "$(head -c 300 "$T_TMP/m1.err")"

# --- --log-path and --level; the level changed with PUT /logger ---
L=$T_TMP/l2.log
fc_start m2 --log-path "$L" --level debug
expect "GET / logged" 200 '"state":' GET /
expect "PUT /logger Warning" 204 "" PUT /logger '{"log_path": "'"$L"'", "level": "Warning"}'
expect "GET /version" 200 '"firecracker_version":' GET /version
expect "bad level" 400 "level" PUT /logger '{"level": "Loud"}'
kill -TERM "$fc_pid"
wait "$fc_pid" || true
grep -q 'received a GET request on "/"\.$' "$L" && ok "--log-path: Debug lines at debug" || not_ok "--log-path: Debug lines at debug" "$(head -c 300 "$L")"
! grep -q '"/version"' "$L" && ok "level Warning: no Debug lines" || not_ok "level Warning: no Debug lines" "$(tail -c 300 "$L")"

# --- the timer (shortened), and --metrics-path ---
M=$T_TMP/m3.json
MINIVMM_METRICS_PERIOD_MS=200 fc_start m3 --metrics-path "$M"
sleep 1.5
expect "PUT /metrics after --metrics-path" 400 "Reinitialization of metrics not allowed." PUT /metrics '{"metrics_path": "'"$T_TMP/m4.json"'"}'
kill -TERM "$fc_pid"
wait "$fc_pid" || true
n=$(lines "$M")
[ "$n" -ge 4 ] && ok "the timer writes lines ($n in 1.5 s at 200 ms)" || not_ok "the timer writes lines" "$n lines"
all_parse "timer lines parse" "$M"

# --- as Firecracker's jailer execs it: a copy named firecracker, --id=UUID
# and its start times; api_server's startup times come from them; with
# --show-level and --show-log-origin, and a smaller body limit ---
M=$T_TMP/m7.json
L=$T_TMP/l7.log
ID=551e7604-e35c-42b3-b825-416853441234
mkdir -p "$T_TMP/jail"
ln -s "$(cd "$(dirname "$MINIVMM")" && pwd)/$(basename "$MINIVMM")" "$T_TMP/jail/firecracker"
# CLOCK_MONOTONIC now (the kernel's ktime), if this host shows it: the
# jailer "started" 2 s before.
now_ns=$(sed -n 's/^now at \([0-9]*\) nsecs$/\1/p' /proc/timer_list 2>/dev/null | head -n 1)
start_us=$((${now_ns:-2000000000} / 1000 - 2000000))
MINIVMM_SAVED=$MINIVMM
MINIVMM=$T_TMP/jail/firecracker
fc_start m7 --id="$ID" --start-time-us="$start_us" --start-time-cpu-us=0 \
	--parent-cpu-time-us=1000000 --metrics-path "$M" --log-path "$L" \
	--level Debug --show-level --show-log-origin --http-api-max-payload-size 1000
MINIVMM=$MINIVMM_SAVED
expect "jailer: GET / has the --id" 200 "\"id\": ?\"$ID\"" GET /
expect "jailer: a body of 1007 bytes is over --http-api-max-payload-size" 400 "larger than the limit of 1000" PUT /boot-source "{\"boot_args\": \"$(head -c 990 /dev/zero | tr '\0' a)\"}"
expect "jailer: FlushMetrics" 204 "" PUT /actions '{"action_type": "FlushMetrics"}'
fc_stop m7
# The CPU time: the parent's 1 s plus this process's, from 0.
check "jailer: process_startup_time_cpu_us from --start-time-cpu-us and --parent-cpu-time-us" "$M" '.api_server.process_startup_time_cpu_us > 1000000 and .api_server.process_startup_time_cpu_us < 6000000'
if [ -n "$now_ns" ]; then
	check "jailer: process_startup_time_us from --start-time-us" "$M" '.api_server.process_startup_time_us >= 2000000 and .api_server.process_startup_time_us < 30000000'
else
	echo "# no /proc/timer_list here: the wall time from --start-time-us is not checked"
fi
if grep -qE "^[0-9-]{10}T[0-9:.]{18} \[$ID:fc_api:DEBUG:src/api/server\.c:[0-9]+\] The API server received a GET request on \"/\"\.$" "$L"; then
	ok "jailer: --show-level and --show-log-origin in the log lines"
else
	not_ok "jailer: --show-level and --show-log-origin in the log lines" "$(head -c 400 "$L")"
fi
# Started by hand: minivmm's own start counts, a few ms of CPU.
M=$T_TMP/m8.json
fc_start m8 --metrics-path "$M"
expect "FlushMetrics" 204 "" PUT /actions '{"action_type": "FlushMetrics"}'
fc_stop m8
check "process_startup_time_us and _cpu_us from minivmm's own start" "$M" '.api_server.process_startup_time_us > 0 and .api_server.process_startup_time_us < 10000000 and .api_server.process_startup_time_cpu_us > 0 and .api_server.process_startup_time_cpu_us < 5000000'

# --- latencies_us: a ticking guest paused and resumed ---
M=$T_TMP/m9.json
fc_start m9 --metrics-path "$M"
expect "boot-source (ticker)" 204 "" PUT /boot-source '{"kernel_image_path": "'"$G/ticker.elf"'"}'
expect "InstanceStart (ticker)" 204 "" PUT /actions '{"action_type": "InstanceStart"}'
expect "pause" 204 "" PATCH /vm '{"state": "Paused"}'
expect "resume" 204 "" PATCH /vm '{"state": "Resumed"}'
expect "FlushMetrics" 204 "" PUT /actions '{"action_type": "FlushMetrics"}'
fc_stop m9
check "latencies_us: pause_vm and resume_vm, the VMM's part within them; no snapshot times" "$M" '.latencies_us.pause_vm > 0 and .latencies_us.vmm_pause_vm > 0 and .latencies_us.vmm_pause_vm <= .latencies_us.pause_vm and .latencies_us.resume_vm > 0 and .latencies_us.vmm_resume_vm <= .latencies_us.resume_vm and .latencies_us.pause_vm < 5000000 and .latencies_us.full_create_snapshot == 0 and .latencies_us.load_snapshot == 0'

# --- --no-api with the config file's metrics and logger ---
M=$T_TMP/m5.json
L=$T_TMP/l5.log
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$BLK"},
  "drives": [$DRIVES],
  "logger": {"log_path": "$L", "level": "Warning"},
  "metrics": {"metrics_path": "$M"}
}
JSON
timeout -k 5 30 "$MINIVMM" fc --no-api --config-file "$T_TMP/vm.json" >"$T_TMP/m5.out" 2>"$T_TMP/m5.err" </dev/null || true
check "--config-file: metrics at the end" "$M" '.block_rootfs.read_count > 0'
[ -e "$L" ] && ! grep -q 'INFO\|Vmm is stopping' "$L" && ok "--config-file: logger level Warning" || not_ok "--config-file: logger level Warning" "$(head -c 300 "$L" 2>&1)"
# --- entropy: a raw guest reads the rng ---
M=$T_TMP/m6.json
cat >"$T_TMP/rng.json" <<JSON
{"boot-source": {"kernel_image_path": "$G/virtio_rng.elf"}, "entropy": {}, "metrics": {"metrics_path": "$M"}}
JSON
timeout -k 5 30 "$MINIVMM" fc --no-api --config-file "$T_TMP/rng.json" >"$T_TMP/m6.out" 2>"$T_TMP/m6.err" </dev/null || true
check "entropy counts the guest's requests" "$M" '.entropy.entropy_event_count > 0 and .entropy.entropy_bytes > 0 and .entropy.host_rng_fails == 0'
expect_none=$(pgrep -f "$T_TMP" || true)
[ -z "$expect_none" ] && ok "no minivmm left" || not_ok "no minivmm left" "$expect_none"
