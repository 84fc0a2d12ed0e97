#!/usr/bin/env bash
# The shared half of bench/blk.sh and bench/net.sh inside the vmhost (each
# stages this file beside itself as bench_lib.sh and sources it there): the
# runs in their order, and the table from their results.  The caller
# defines one VMM I (one boot, appending "VMM I TEST BYTES NS CPU HOST_CPU"
# lines to $O/results, -1 where a value is missing) and show VMM (what the
# warm-up run said besides the numbers), and sets O and RUNS.

# bench_runs: one warm-up run of each VMM (shown, not counted), then RUNS
# runs of each, the order alternating.  A failed run sets FAILED=1 (the
# caller's one does).
bench_runs() {
	local i
	# shellcheck disable=SC2034 # the caller reads it
	FAILED=0
	: >"$O/results"
	one minivmm 0 && show minivmm
	one qemu 0 && show qemu
	: >"$O/results"
	for ((i = 1; i <= RUNS; i++)); do
		if ((i % 2)); then
			one minivmm $i
			one qemu $i
		else
			one qemu $i
			one minivmm $i
		fi
	done
}

# median VMM TEST EXPR: median over the runs of EXPR (awk, on $4 bytes,
# $5 ns, $6 and $7 cpu ticks), runs with a missing value left out.
median() {
	awk -v v="$1" -v t="$2" '$1 == v && $3 == t && $4 >= 0 && $5 >= 0 && $6 >= 0 && $7 >= 0 { print '"$3"' }' "$O/results" |
		sort -n | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : -1 }'
}

# table_line METRIC MINIVMM QEMU RATIO TARGET: one row of the table, as printed.
table_line() {
	printf 'BENCH| %-40s %10s %12s %7s  %s\n' "$@"
}

# row METRIC TEST EXPR FORMAT TARGET: the medians of both VMMs and their
# ratio.
row() {
	local a b
	a=$(median minivmm "$2" "$3") b=$(median qemu "$2" "$3")
	awk -v n="$1" -v a="$a" -v b="$b" -v f="$4" -v t="$5" 'BEGIN {
		r = (b + 0 > 0 && a >= 0) ? sprintf("%.2fx", a / b) : "-"
		printf "BENCH| %-40s %10s %12s %7s  %s\n", n, a < 0 ? "-" : sprintf(f, a), b < 0 ? "-" : sprintf(f, b), r, t }'
}
