#!/usr/bin/env bash
# Runs every fuzz target for a while from its seed corpus; any crash fails.
# Usage: smoke.sh SECONDS FUZZ_DIR GUEST_DIR
set -u
secs=$1 dir=$2 guests=$3
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for t in "$dir"/fuzz_*; do
	[ -x "$t" ] || continue
	name=${t##*/fuzz_}
	work="$dir/corpus-$name"
	mkdir -p "$work"
	seeds=("$here/corpus/$name")
	case $name in elf | pvh) seeds+=("$guests") ;; esac
	[ -d "${seeds[0]}" ] || seeds=("${seeds[@]:1}")
	if "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$dir/crash-$name-" "$work" "${seeds[@]}" \
		>"$dir/$name.log" 2>&1; then
		echo "ok - fuzz $name ($(grep -oE 'Done [0-9]+ runs' "$dir/$name.log"))"
	else
		echo "not ok - fuzz $name: see $dir/$name.log"
		tail -20 "$dir/$name.log" | sed 's/^/#   /'
		rc=1
	fi
done
exit $rc
