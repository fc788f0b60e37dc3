#!/usr/bin/env bash
# `make check`: runs every suite in order, keeps going after a failure so
# one run shows everything, and ends with the total of the suites' own
# closing "name: N passed, N failed" lines (unit counts twice: plain and
# under sanitizers), after one line per suite with its own count and its
# wall-clock seconds. Exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
make=${MAKE:-make}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0 failed_suites=() passed=0 failed=0 summary=()
check_start=$SECONDS
for target in "$@"; do
	echo "=== make $target"
	start=$SECONDS
	"$make" --no-print-directory "$target" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# a suite's own closing line is its last "name: N passed, N failed"
	# (suites that run others inside print those lines first)
	line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	p=0 f=0
	if [[ -n $line ]]; then
		read -r p f < <(awk '{print $2, $4}' <<<"$line")
	fi
	if [[ $rc -ne 0 ]]; then
		status=1
		failed_suites+=("$target")
		((f > 0)) || f=1 # a suite that died without counting its failure
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	summary+=("$(printf '%-16s %6d passed %4d failed %5d s' "$target" "$p" "$f" $((SECONDS - start)))")
done
echo "=== per suite"
printf '%s\n' "${summary[@]}"
printf '%-16s %28s %5d s\n' total "" $((SECONDS - check_start))
echo "=== suites failed: ${failed_suites[*]:-none}"
echo "check: $passed passed, $failed failed"
exit $status
