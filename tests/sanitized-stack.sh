#!/usr/bin/env bash
# Runs the hostile-provider suite (the most adversarial traffic we have; its
# SPA and gateway passes) against sgid-fcgi built with ASan + UBSan (build/asan/sgid-fcgi), then
# searches the workers' log for sanitizer reports, including the leak check
# LeakSanitizer runs when each worker exits. Last line:
# "sanitized-stack: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/build/asan/sgid-fcgi
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
if [[ ! -x $bin ]]; then
	echo "not ok - $bin missing (make sanitized-stack builds it)"
	echo "sanitized-stack: 0 passed, 1 failed"
	exit 1
fi
# halt_on_error: a report ends the worker, which the suite notices too.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
art=$root/build/asan/hostile-artifacts
STACK_APP_BIN=$bin HOSTILE_KEEP=1 HOSTILE_ARTIFACTS=$art "$root/tests/in-netns.sh" "$root/tests/hostile/run.sh" \
	>"$root/build/asan/hostile.out" 2>&1
rc=$?
tail -n 3 "$root/build/asan/hostile.out"
check "hostile suite passes against the sanitized build" test "$rc" -eq 0
log=$art/app.log
check "workers' log kept" test -s "$log"
reports=$(grep -cE 'AddressSanitizer|LeakSanitizer|runtime error:' "$log" 2>/dev/null)
check "no ASan/LSan/UBSan report in the workers' log (found ${reports:-0})" test "${reports:-0}" -eq 0
[[ ${reports:-0} -eq 0 ]] || grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' "$log" | head -n 60
echo "sanitized-stack: $TAP_PASS passed, $TAP_FAIL failed"
((TAP_FAIL == 0))
