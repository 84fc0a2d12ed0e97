#!/usr/bin/env bash
# Fails if any C file differs from what clang-format makes of it.
set -u
cd "$(dirname "$0")/.."
bad=0
for f in $(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.c' 'tests/guests/*.c' 'bench/*.c'); do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run 'make format')"
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "format ok"
exit $bad
