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
