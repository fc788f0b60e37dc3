#!/usr/bin/env bash
# `make check`: runs every suite, several at a time, keeps going after a
# failure so one run shows everything, and ends with one line per suite (its
# own count, its wall-clock and CPU seconds, when it started) and the total
# of the suites' own closing "name: N passed, N failed" lines (unit counts
# twice: plain and under sanitizers). Exits non-zero if any suite failed.
#
#   tests/run-check.sh [SUITE[:OPTION]...]
#
# Each SUITE is `make SUITE`, its output kept in a file of its own and
# printed whole, in the order given, once it and every suite before it are
# done (a line "# done: ..." says when each one ends). Suites start in the
# order given while their slots (default 1, SUITE:N for N) fit in
# CHECK_SLOTS (default 4); SUITE:alone takes them all (nothing runs beside
# it). The stack suites each run in a network namespace of their own
# (tests/in-netns.sh), so suites side by side never meet on a port; where
# this user cannot make one (not root), they share the host's ports and run
# one at a time (CHECK_SLOTS=1).
#
# Every suite runs holding CHECK_QUIET_LOCK shared (flock) but those marked
# SUITE:timed, whose tests that time the app's answers take it exclusive
# (tests/faults/run.sh's FAULTS_ALONE): those tests run with no other suite
# beside them, once every suite started before has ended.
#
# CHECK_BUILD="TARGET...": `make -j CHECK_BUILD_JOBS (2) TARGET...` first
# (every tree the suites use, built side by side), its own line "build" in
# the table; the suites start only if it succeeds.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
make=${MAKE:-make}
slots=${CHECK_SLOTS:-4}
if [[ ${SGID_NO_NETNS:-} == 1 ]] || ! unshare -n true 2>/dev/null; then slots=1; fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/sgid-check.XXXXXX")
check_start=$EPOCHREALTIME

export CHECK_QUIET_LOCK=$logs/quiet.lock
: >"$CHECK_QUIET_LOCK"

names=() weights=() timed=()
for arg in "$@"; do
	IFS=: read -ra opts <<<"$arg"
	name=${opts[0]} w=1 t=0
	for o in "${opts[@]:1}"; do
		case $o in
			alone) w=$slots ;;
			timed) t=1 ;;
			*)
				if [[ ! $o =~ ^[1-9][0-9]*$ ]]; then
					echo "run-check: bad option '$o' in '$arg'" >&2
					exit 2
				fi
				w=$o
				;;
		esac
	done
	((w <= slots)) || w=$slots
	# faults takes the lock exclusive for its timed tests: holding it shared
	# around them would wait on itself for ever, so it is always timed
	[[ $name != faults ]] || t=1
	names+=("$name") weights+=("$w") timed+=("$t")
done

# seconds since check_start, or between two $EPOCHREALTIME values
since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%d", b - a + 0.5 }'; }

declare -A pid_of=() idx_of_pid=()
state=()   # per suite: "" waiting, run, ended
started=() ended=()
used=0
printed=0
status=0 failed_suites=() passed=0 failed=0 summary=()

# job I: `make SUITE` with its output in logs/I.log, then its exit status
# and the CPU seconds of everything it started (reaped) in logs/I.end.
job() {
	local i=$1 rc lock=()
	((timed[i] == 1)) || lock=(flock -o -s "$CHECK_QUIET_LOCK")
	"${lock[@]}" "$make" --no-print-directory "${names[$i]}" </dev/null >"$logs/$i.log" 2>&1
	rc=$?
	# `times` (no subshell: this one's children): its second line is the
	# user and system time of the children, "0m1.250s 0m0.310s"
	times >"$logs/$i.times"
	echo "$rc $(awk -F'[ ms]+' 'NR == 2 { printf "%d", $1 * 60 + $2 + $3 * 60 + $4 + 0.5 }' "$logs/$i.times")" >"$logs/$i.end"
}

start_job() {
	local i=$1
	state[i]=run
	started[i]=$EPOCHREALTIME
	used=$((used + weights[i]))
	# its own process group (job control), so an interrupt reaches all of it
	set -m
	job "$i" &
	set +m
	pid_of[$i]=$!
	idx_of_pid[$!]=$i
}

# Count a finished suite from its log: its own closing line is its last
# "name: N passed, N failed" (suites that run others print those first).
finish_job() {
	local i=$1 rc c line p=0 f=0
	read -r rc c 2>/dev/null <"$logs/$i.end" || { rc=1 c=0; }
	ended[i]=$EPOCHREALTIME
	state[i]=ended
	used=$((used - weights[i]))
	line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed$' "$logs/$i.log" | tail -n 1)
	[[ -z $line ]] || read -r p f < <(awk '{print $2, $4}' <<<"$line")
	if [[ $rc -ne 0 ]]; then
		status=1
		failed_suites+=("${names[i]}")
		((f > 0)) || f=1 # a suite that died without counting its failure
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	summary[i]=$(printf '%-18s %6d passed %4d failed %5d s  (cpu %4d s, from +%d s)' "${names[i]}" "$p" "$f" \
		"$(since "${started[i]}" "${ended[i]}")" "$c" "$(since "$check_start" "${started[i]}")")
	echo "# done: ${summary[i]}"
}

# Print the logs of the suites done, in order, up to the first still running.
print_done() {
	while ((printed < ${#names[@]})) && [[ ${state[printed]:-} == ended ]]; do
		echo "=== make ${names[printed]}"
		cat "$logs/$printed.log"
		printed=$((printed + 1))
	done
}

interrupted() {
	local i
	trap - INT TERM
	for i in "${!pid_of[@]}"; do
		[[ ${state[i]} != run ]] || kill -TERM -- "-${pid_of[$i]}" 2>/dev/null
	done
	wait
	for i in "${!names[@]}"; do
		[[ ${state[i]:-} != run ]] || finish_job "$i"
	done
	print_done
	echo "check: interrupted"
	rm -rf "$logs"
	exit 130
}
trap interrupted INT TERM

build_row=()
# Suites side by side would each run `make all` in the same tree at once
# (a race: one links a libsgid.a another is rewriting): build it first.
if [[ -z ${CHECK_BUILD:-} ]] && ((slots > 1 && $# > 1)); then
	CHECK_BUILD=all
fi
if [[ -n ${CHECK_BUILD:-} ]]; then
	echo "=== make -j${CHECK_BUILD_JOBS:-2} $CHECK_BUILD"
	t0=$EPOCHREALTIME
	read -ra build_targets <<<"$CHECK_BUILD"
	"$make" --no-print-directory -j"${CHECK_BUILD_JOBS:-2}" "${build_targets[@]}"
	rc=$?
	build_row=("$(printf '%-18s %6d passed %4d failed %5d s' build 0 $((rc != 0)) "$(since "$t0")")")
	if ((rc != 0)); then
		printf '%s\n' "${build_row[@]}"
		echo "=== suites failed: build"
		echo "check: 0 passed, 1 failed"
		rm -rf "$logs"
		exit 1
	fi
fi

next=0
while ((printed < ${#names[@]})); do
	# start what fits, in order
	while ((next < ${#names[@]})) && ((used == 0 || used + weights[next] <= slots)); do
		start_job "$next"
		next=$((next + 1))
	done
	done_pid=""
	wait -n -p done_pid
	[[ -n ${done_pid:-} && -n ${idx_of_pid[$done_pid]:-} ]] || continue
	finish_job "${idx_of_pid[$done_pid]}"
	print_done
done

echo "=== per suite (CHECK_SLOTS=$slots)"
printf '%s\n' "${build_row[@]}" "${summary[@]}"
printf '%-18s %28s %5d s\n' total "" "$(since "$check_start")"
echo "=== suites failed: ${failed_suites[*]:-none}"
echo "check: $passed passed, $failed failed"
rm -rf "$logs"
exit $status
