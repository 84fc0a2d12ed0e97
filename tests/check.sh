#!/usr/bin/env bash
# Everything CI runs (`make check`): the whole suite built with gcc, with
# ASan+UBSan, with clang, and with ThreadSanitizer (clang); the Linux guests in the vmhost; the format
# check; a short run of every fuzz target.  Ends with one line "N passed,
# N failed"; non-zero if any failed.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
MAKE=${MAKE:-make}

step() {
	local name=$1
	shift
	echo "# $name"
	if ! "$@"; then
		echo "not ok - $name: '$*' failed"
	fi
}

{
	step "build and test (gcc)" $MAKE -s test
	step "build and test (ASan+UBSan)" $MAKE -s SANITIZE=1 test
	step "build and test (clang)" $MAKE -s CC=clang BUILD=build/clang test
	step "build and test (ThreadSanitizer)" $MAKE -s CC=clang SANITIZE=thread test
	step "Linux guests in the vmhost" $MAKE -s test-linux
	if tests/check-format.sh; then echo "ok - clang-format"; else echo "not ok - clang-format"; fi
	# make bench's in-process table runs (it broke once unnoticed).
	if $MAKE -s bench-smoke; then echo "ok - bench-smoke"; else echo "not ok - bench-smoke"; fi
	step "fuzz smoke" $MAKE -s fuzz-smoke FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
} 2>&1 | grep -v -E '^[0-9]+ passed, [0-9]+ failed$' | tee "$log"

passed=$(grep -c '^ok - ' "$log")
failed=$(grep -c '^not ok - ' "$log")
# The failures again at the end, where a log cut to its last lines still
# shows them (the first 20, each cut to 300 characters).
grep '^not ok - ' "$log" | head -n 20 | cut -c 1-300 | sed 's/^not ok - /# failed: /'
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
