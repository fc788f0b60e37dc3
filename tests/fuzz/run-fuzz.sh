#!/usr/bin/env bash
# Runs each libFuzzer binary (built by `make fuzz-build`) for FUZZ_SECONDS,
# one target at a time. Usage: tests/fuzz/run-fuzz.sh BUILD_DIR TARGET...
# The committed corpus tests/fuzz/corpus/<t> is read only; new inputs go to
# BUILD_DIR/corpus/<t>, findings (crash-*, leak-*, timeout-*, oom-*) to
# BUILD_DIR/findings/<t>-*, the full log to BUILD_DIR/<t>.log.
# Prints one line per target with execs, exec/s, coverage and findings;
# exits non-zero when any target found something.
set -u
cd "$(dirname "$0")/../.." || exit 1
dir=$1; shift
secs=${FUZZ_SECONDS:-60}
rss=${FUZZ_RSS_MB:-2048}
extra=${FUZZ_ARGS:-}
mkdir -p "$dir/findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_execs=0 found=0
for t in "$@"; do
	bin=$dir/fuzz_$t work=$dir/corpus/$t seeds=tests/fuzz/corpus/$t log=$dir/$t.log
	mkdir -p "$work"
	dict=()
	[ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
	before=$(find "$dir/findings" -name "$t-*" | wc -l)
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -rss_limit_mb="$rss" -timeout=25 \
		-print_final_stats=1 -artifact_prefix="$dir/findings/$t-" "${dict[@]}" $extra \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	after=$(find "$dir/findings" -name "$t-*" | wc -l)
	execs=$(sed -n -E 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
	eps=$(sed -n -E 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(sed -n -E 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
	ft=$(sed -n -E 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
	corp=$(sed -n -E 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
	new=$((after - before))
	status=ok
	if [ "$rc" -ne 0 ] || [ "$new" -ne 0 ]; then
		status="FOUND (exit $rc, see $log)"; found=$((found + 1))
		grep -E 'ERROR: |runtime error|property violated|SUMMARY' "$log" | head -n 5
	fi
	echo "fuzz_$t: ${secs}s execs=${execs:-?} exec/s=${eps:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} findings=$new $status"
	total_execs=$((total_execs + ${execs:-0}))
done
echo "fuzz: $# targets, $total_execs execs, $found with findings"
[ "$found" -eq 0 ]
