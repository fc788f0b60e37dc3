#!/usr/bin/env bash
# `make check`: runs every suite in order, keeps going after a failure so
# one run shows everything, and ends with the total of the suites' own
# "name: N passed, N failed" lines. Exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
make=${MAKE:-make}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0 failed_suites=()
for target in "$@"; do
	echo "=== make $target"
	"$make" --no-print-directory "$target" 2>&1 | tee -a "$log"
	rc=${PIPESTATUS[0]}
	if [[ $rc -ne 0 ]]; then
		status=1
		failed_suites+=("$target")
	fi
done
# Totals per suite (the last summary line of each name; unit counts twice:
# plain and under sanitizers).
read -r passed failed < <(grep -E '^(unit|fuzz-replay|integration|hostile|sanitized-stack|valgrind|browser|faults): [0-9]+ passed, [0-9]+ failed$' "$log" |
	awk '{p += $2; f += $4} END {print p + 0, f + 0}')
echo "=== suites failed: ${failed_suites[*]:-none}"
if [[ $status -ne 0 && $failed -eq 0 ]]; then
	failed=1 # a suite died without counting its failure
fi
echo "check: $passed passed, $failed failed"
exit $status
