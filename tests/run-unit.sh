#!/usr/bin/env bash
# Runs each unit-test binary, shows its output, and ends with the total as
# "N passed, N failed". Exits non-zero if any binary failed or crashed.
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0 failed=0 bad=0
for bin in "$@"; do
	out=$("$bin" 2>&1); rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[a-z_0-9]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$bin: crashed or printed no summary (exit $rc)"; bad=$((bad + 1)); continue
	fi
	p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
	passed=$((passed + p)); failed=$((failed + f))
	[ "$rc" -eq 0 ] || bad=$((bad + 1))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
