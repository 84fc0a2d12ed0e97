#!/usr/bin/env bash
# Runs the cmocka unit-test binaries given as arguments and reports each
# test case as "ok - ..." or "not ok - ..." (a crashing binary fails too).
set -u
for t in "$@"; do
	name=$(basename "$t")
	out=$("$t" 2>&1)
	status=$?
	printf '%s\n' "$out" | sed -n \
		-e "s/^\[       OK \] \(.*\)/ok - $name: \1/p" \
		-e "s/^\[  FAILED  \] \([^ ]*\)$/not ok - $name: \1/p"
	if [ "$status" != 0 ] && ! printf '%s\n' "$out" | grep -q '^\[  FAILED  \]'; then
		echo "not ok - $name: exited with status $status"
		printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
	elif [ "$status" != 0 ]; then
		printf '%s\n' "$out" | grep -E 'error|Failure|failed' | head -10 | sed 's/^/#   /'
	fi
done
