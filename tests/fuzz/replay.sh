#!/usr/bin/env bash
# Replays the committed fuzz corpus through the replay binaries (built by
# `make fuzz-replay`). Usage: tests/fuzz/replay.sh BUILD_DIR TARGET...
# Prints each binary's "fuzz_<target>: N passed, N failed" and a total
# "fuzz-replay: N passed, N failed"; exits non-zero on any failed input
# (sanitizer report, violated property, leak) or a binary without summary.
set -u
cd "$(dirname "$0")/../.." || exit 1
dir=$1; shift
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 bad=0
for t in "$@"; do
	bin=$dir/fuzz_$t-replay corpus=tests/fuzz/corpus/$t
	if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
		echo "fuzz_$t: missing $bin or $corpus"; bad=$((bad + 1)); continue
	fi
	out=$("$bin" "$corpus" 2>&1); rc=$?
	line=$(printf '%s\n' "$out" | grep -E "^fuzz_$t: [0-9]+ passed, [0-9]+ failed$" | tail -n 1)
	if [ -z "$line" ]; then
		printf '%s\n' "$out"
		echo "fuzz_$t: crashed or printed no summary (exit $rc)"; bad=$((bad + 1)); continue
	fi
	# show the sanitizer or property report of failing inputs
	[ "$rc" -eq 0 ] || printf '%s\n' "$out" | grep -v -E "^fuzz_$t: [0-9]+ passed"
	echo "$line"
	p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
	passed=$((passed + p)); failed=$((failed + f))
	[ "$rc" -eq 0 ] || bad=$((bad + 1))
done
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
