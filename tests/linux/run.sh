#!/usr/bin/env bash
# Linux guest tests: negative tests with the Debian kernels on this host, then
# ONE vmhost session (kvm-amd) running scenarios.sh and the raw-guest suite.
# Usage: run.sh [MINIVMM [GUESTDIR]]   (defaults build/minivmm, its guests/)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
[ $# -ge 1 ] || make -s -C "$LINUX_TOP" all || exit 1
MINIVMM=$(realpath "${1:-$LINUX_TOP/build/minivmm}")
G=$(realpath -m "${2:-$(dirname "$MINIVMM")/guests}")
cd "$LINUX_TOP"
[ -d "$G" ] || make -s BUILD="$(dirname "$G")" guests || exit 1
STAGE=$LINUX_TOP/build/linux/linux
LOG=$LINUX_TOP/build/linux/vmhost.log
LOG_NEG=$LINUX_TOP/build/linux/negative.log
failed=0
start=$SECONDS

linux_prepare "$MINIVMM" "$STAGE" >/dev/null || { echo "not ok - linux-prepare: see above"; exit 1; }
"$HERE/virtio.sh" --prepare "$STAGE" >/dev/null || { echo "not ok - virtio-prepare: see above"; exit 1; }
"$HERE/net.sh" --prepare "$STAGE" >/dev/null || { echo "not ok - net-prepare: see above"; exit 1; }
"$HERE/vsock.sh" --prepare "$STAGE" >/dev/null || { echo "not ok - vsock-prepare: see above"; exit 1; }
"$HERE/fc.sh" --prepare "$STAGE" >/dev/null || { echo "not ok - fc-prepare: see above"; exit 1; }
cp "$HERE/scenarios.sh" "$STAGE/"
# The raw-guest suite, laid out as run.sh expects (seed/ beside guests/).
mkdir -p "$STAGE/suite/tests" "$STAGE/suite/build"
ln -s "$LINUX_TOP/tests/lib.sh" "$STAGE/suite/tests/lib.sh"
ln -s "$LINUX_TOP/tests/guests" "$STAGE/suite/tests/guests"
ln -s "$G" "$STAGE/suite/build/guests"
ln -s "$(dirname "$G")/seed" "$STAGE/suite/build/seed"

echo "# negative tests with Debian kernels (this host)"
"$HERE/negative.sh" "$MINIVMM" "$VMHOST_CLOUD_KERNEL" "$VMHOST_CACHE/root-cloud-amd64/vmlinux" |
	tee "$LOG_NEG"
grep -q "^not ok" "$LOG_NEG" && failed=1

echo "# Linux guests in the vmhost (log: ${LOG#"$LINUX_TOP"/})"
stub=$(mktemp)
trap 'rm -f "$stub"' EXIT
vmhost_stub linux scenarios.sh >"$stub"
# A network boot moving 64 MiB each way through nested TCG prints nothing
# for minutes: the freeze watchdog waits longer than its default.
export VMHOST_SILENCE=${VMHOST_SILENCE:-600}
vmhost_session "$LOG" -m 6G -t "${LINUX_TIMEOUT:-3600}" "${LINUX_FILES[@]}" "$stub"
rc=$?
tr -d '\r' <"$LOG" | grep -E '^(ok - |not ok - |# |#   )'
tr -d '\r' <"$LOG" | grep -q '^not ok - ' && failed=1
if [ "$rc" != 0 ]; then
	echo "not ok - vmhost: status $rc: $(tr -d '\r' <"$LOG" | grep -E '^vmhost:|VMHOST-ERROR' | tail -n 3)"
	echo "# last lines of ${LOG#"$LINUX_TOP"/}:"
	tr -d '\r' <"$LOG" | tail -n 8 | sed 's/^/#   /'
	failed=1
elif ! tr -d '\r' <"$LOG" | grep -q '^ok - '; then
	echo "not ok - vmhost: no results"
	failed=1
fi
echo "# test-linux took $((SECONDS - start)) s"
exit $failed
