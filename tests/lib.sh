# Shared helpers for the shell test suites: each check prints "ok - NAME" or
# "not ok - NAME: why"; run-all.sh counts them.  Guest runs are bounded by a
# timeout because a broken guest can hang KVM_RUN (kvm_pvm, see README).

T_TIMEOUT=${T_TIMEOUT:-30}
T_TMP=$(mktemp -d)
trap 'rm -rf "$T_TMP"' EXIT

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1: $2"; }

# run_vmm OUT_PREFIX ARGS...: runs minivmm with stdout/stderr into files,
# sets $status.
run_vmm() {
	local out=$1
	shift
	status=0
	timeout -k 5 "$T_TIMEOUT" "$MINIVMM" "$@" >"$out.out" 2>"$out.err" </dev/null || status=$?
}

# refuse NAME PATTERN ARGS...: minivmm ARGS prints exactly one stderr line
# "minivmm: ..." matching PATTERN, nothing on stdout, and exits 1.
refuse() {
	local name=$1 pattern=$2 lines
	shift 2
	run_vmm "$T_TMP/neg" "$@"
	lines=$(wc -l <"$T_TMP/neg.err")
	if [ "$status" != 1 ]; then
		not_ok "$name" "status $status, expected 1; stderr: $(head -c 300 "$T_TMP/neg.err")"
	elif [ "$lines" != 1 ]; then
		not_ok "$name" "$lines stderr lines: $(head -c 300 "$T_TMP/neg.err")"
	elif ! grep -qE -- "^minivmm: .*$pattern" "$T_TMP/neg.err"; then
		not_ok "$name" "stderr lacks /$pattern/: $(cat "$T_TMP/neg.err")"
	elif [ -s "$T_TMP/neg.out" ]; then
		not_ok "$name" "unexpected stdout: $(head -c 300 "$T_TMP/neg.out")"
	else
		ok "$name"
	fi
}
