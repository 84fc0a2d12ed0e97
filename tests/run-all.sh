#!/usr/bin/env bash
# Runs every suite against one build directory (build, build/asan, ...):
# unit tests, guest tests, negative tests, the seccomp sandbox, the measured
# rate limiters, the Firecracker API, its metrics and logger, a drive's
# medium swapped under a running guest, the boot timer, huge pages.  Prints
# each result, then one closing line "N passed, N failed"; exits non-zero if
# anything failed.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

{
	echo "# unit tests ($BUILD)"
	"$HERE/run-unit.sh" $(find "$BUILD/tests" -maxdepth 1 -name "test_*" ! -name "*.d" -type f | sort)
	echo "# guest tests ($BUILD)"
	"$HERE/guests/run.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# negative tests ($BUILD)"
	"$HERE/negative.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# virtio guest tests ($BUILD)"
	"$HERE/guests/virtio.sh" "$BUILD/minivmm" "$BUILD/guests"
	"$HERE/guests/virtio_net.sh" "$BUILD/minivmm" "$BUILD/guests"
	"$HERE/guests/virtio_vsock.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# seccomp tests ($BUILD)"
	"$HERE/guests/seccomp.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# rate limiter tests ($BUILD)"
	"$HERE/rate.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# lifecycle tests ($BUILD)"
	"$HERE/lifecycle.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# Firecracker API tests ($BUILD)"
	"$HERE/api.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# metrics and logger tests ($BUILD)"
	"$HERE/metrics.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# drive swap tests ($BUILD)"
	"$HERE/swap.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# boot timer tests ($BUILD)"
	"$HERE/boot_timer.sh" "$BUILD/minivmm" "$BUILD/guests"
	echo "# guest memory: huge pages, dirty page tracking ($BUILD)"
	"$HERE/memory.sh" "$BUILD/minivmm" "$BUILD/guests"
} 2>&1 | tee "$log"

passed=$(grep -c '^ok - ' "$log")
failed=$(grep -c '^not ok - ' "$log")
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
