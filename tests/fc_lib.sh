# Helpers of the suites that drive `minivmm fc` over its API socket with
# curl (api.sh, metrics.sh, swap.sh); sourced after lib.sh, with $MINIVMM
# set.  FC_TIMEOUT bounds each minivmm fc (120 s).
U=http://localhost
FC_TIMEOUT=${FC_TIMEOUT:-120}

# fc_start NAME ARGS...: `minivmm fc --api-sock $T_TMP/NAME.sock ARGS` in
# the background (stdout, stderr in NAME.out, NAME.err); waits for the
# socket.  Sets $fc_pid and $sock.  A $MINIVMM named firecracker takes no
# "fc".
fc_start() {
	local name=$1 fc=(fc)
	shift
	sock=$T_TMP/$name.sock
	case ${MINIVMM##*/} in *firecracker*) fc=() ;; esac
	timeout -k 5 "$FC_TIMEOUT" "$MINIVMM" "${fc[@]}" --api-sock "$sock" "$@" \
		>"$T_TMP/$name.out" 2>"$T_TMP/$name.err" </dev/null &
	fc_pid=$!
	for _ in $(seq 200); do
		[ -S "$sock" ] && return 0
		sleep 0.05
	done
	not_ok "$name: socket" "no socket after 10 s: $(head -c 300 "$T_TMP/$name.err")"
}

# fc_stop NAME: SIGTERM; minivmm ends with 143 and removes its socket.
fc_stop() {
	local name=$1 st=0
	kill -TERM "$fc_pid" 2>/dev/null
	wait "$fc_pid" || st=$?
	if [ "$st" != 143 ]; then
		not_ok "$name: ends on SIGTERM" "status $st: $(head -c 300 "$T_TMP/$name.err")"
	elif [ -e "$sock" ]; then
		not_ok "$name: ends on SIGTERM" "socket $sock left behind"
	else
		ok "$name: ends on SIGTERM with 143, socket removed"
	fi
}

# call METHOD PATH [BODY]: sets $code and $resp.
call() {
	local args=(-s -m 10 --unix-socket "$sock" -X "$1" -o "$T_TMP/resp" -w '%{http_code}')
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	code=$(curl "${args[@]}" "$U$2") || true
	resp=$(cat "$T_TMP/resp" 2>/dev/null)
	rm -f "$T_TMP/resp"
}

# expect NAME CODE PATTERN METHOD PATH [BODY]: status CODE, body matching
# PATTERN (grep -E; "" for an empty body).
expect() {
	local name=$1 want=$2 pat=$3
	shift 3
	call "$@"
	if [ "$code" != "$want" ]; then
		not_ok "$name" "HTTP $code, expected $want: $resp"
	elif [ -z "$pat" ] && [ -n "$resp" ]; then
		not_ok "$name" "unexpected body: $resp"
	elif [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$resp"; then
		not_ok "$name" "body lacks /$pat/: $resp"
	else
		ok "$name"
	fi
}

# fault NAME PATTERN METHOD PATH [BODY]: a 400 with a fault_message.
fault() {
	local name=$1 pat=$2
	shift 2
	expect "$name" 400 "^\\{\"fault_message\": ?\".*$pat" "$@"
}
