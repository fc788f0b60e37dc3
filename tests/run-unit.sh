#!/usr/bin/env bash
# Runs the unit-test binaries, UNIT_JOBS (4) at a time (most of their time
# is spent waiting: TTLs running out, timeouts, forked servers), shows each
# one's output whole in the order given, and ends with the total as
# "unit: N passed, N failed". Exits non-zero if any binary failed or crashed.
set -u
cd "$(dirname "$0")/.." || exit 1
jobs=${UNIT_JOBS:-4}
out=$(mktemp -d "${TMPDIR:-/tmp}/sgid-unit.XXXXXX")
trap 'rm -rf "$out"' EXIT
passed=0 failed=0 bad=0

# run I BIN: its output in out/I, its exit status in out/I.rc
run() { "$2" >"$out/$1" 2>&1; echo $? >"$out/$1.rc"; }

bins=("$@")
for i in "${!bins[@]}"; do
	while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
	run "$i" "${bins[i]}" &
done
wait

for i in "${!bins[@]}"; do
	bin=${bins[i]}
	rc=$(cat "$out/$i.rc" 2>/dev/null || echo 1)
	cat "$out/$i"
	line=$(grep -E '^[a-z_0-9]+: [0-9]+ passed, [0-9]+ failed$' "$out/$i" | tail -n 1)
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
