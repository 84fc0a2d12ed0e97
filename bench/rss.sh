#!/usr/bin/env bash
# Peak RSS of minivmm beyond the guest memory it touched, as minivmm's own
# --stats reports them (VmHWM and mincore over guest RAM).
set -eu
line=$("$1" run --raw "$2" --stats 2>&1 >/dev/null | grep 'peak RSS')
rss=$(echo "$line" | sed -E 's/.*peak RSS ([0-9]+) KiB.*/\1/')
guest=$(echo "$line" | sed -E 's/.*guest RAM resident ([0-9]+) KiB.*/\1/')
printf '%-34s %12s KiB (peak %s KiB, guest RAM touched %s KiB; target < 2048 KiB)\n' \
	"(b) RSS beyond guest RAM touched" "$((rss - guest))" "$rss" "$guest"
