#!/usr/bin/env bash
# Valgrind over the code: every unit-test binary under memcheck, then the
# curl end-to-end flow (tests/integration) with each sgid-fcgi worker run
# under memcheck through a wrapper. Any error or definite leak fails.
# Last line: "valgrind: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
out=$root/build/valgrind
rm -rf "$out" && mkdir -p "$out"
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
# memcheck's reports of an error or a leak, in any log (a forked child of a
# test writes into its parent's log, and its exit code reaches no one)
vg_errors='== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and destination)|definitely lost|indirectly lost'

for t in build/tests/test_*; do
	log=$out/$(basename "$t").log
	start=$SECONDS
	"${vg[@]}" --log-file="$log" "$t" >"$out/$(basename "$t").out" 2>&1
	rc=$?
	check "memcheck clean: $(basename "$t") (exit $rc, $((SECONDS - start)) s)" test "$rc" -eq 0
	# the test's own failures, when it failed without a memcheck report
	((rc == 0)) || grep -E 'not ok|FAIL|failed' "$out/$(basename "$t").out" | head -n 20
	n=$(grep -cE "$vg_errors" "$log" 2>/dev/null)
	check "memcheck log of $(basename "$t") (children included) has no error ($n)" test "${n:-0}" -eq 0
	[[ ${n:-0} -eq 0 ]] || head -n 40 "$log"
done

# The app under memcheck: a wrapper (wrap NAME LOGDIR) the scripts start as
# the binary.
wrap() {
	cat >"$out/$1" <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \\
	--log-file="$2/app.%p.log" "$root/build/sgid-fcgi" "\$@"
WRAP
	chmod 0755 "$out/$1"
	mkdir -p "$2"
}

# The key commands and --check-config (tests/cli), each run under memcheck.
wrap sgid-fcgi-cli "$out/cli"
SGID_FCGI=$out/sgid-fcgi-cli tests/cli/run.sh >"$out/cli.out" 2>&1
rc=$?
tail -n 1 "$out/cli.out"
check "cli passes with sgid-fcgi under memcheck" test "$rc" -eq 0
((rc == 0)) || grep -E '^not ok' "$out/cli.out" | head -n 20
errors=$(cat "$out"/cli/app.*.log 2>/dev/null | grep -cE "$vg_errors")
check "no memcheck error or leak in the cli runs ($(find "$out/cli" -name 'app.*.log' | wc -l) logs, found $errors)" \
	test "$errors" -eq 0
[[ $errors -eq 0 ]] || cat "$out"/cli/app.*.log | head -n 80

wrap sgid-fcgi "$out/apps"
wrapper=$out/sgid-fcgi
# the workers may run as the web server's user: let them write their logs
chmod 1777 "$out/apps"
chmod o+rx "$out" 2>/dev/null || true
STACK_APP_BIN=$wrapper INTEGRATION_NGINX_ONLY=1 "$root/tests/in-netns.sh" "$root/tests/integration/run.sh" >"$out/integration.out" 2>&1
rc=$?
tail -n 1 "$out/integration.out"
check "integration flow passes with workers under memcheck" test "$rc" -eq 0
logs=$(find "$out/apps" -name 'app.*.log' | wc -l)
check "memcheck logs written for the workers ($logs)" test "$logs" -gt 0
errors=$(cat "$out"/apps/app.*.log 2>/dev/null | grep -cE "$vg_errors")
check "no memcheck error or leak in any worker (found $errors)" test "$errors" -eq 0
[[ $errors -eq 0 ]] || cat "$out"/apps/app.*.log | head -n 80
echo "valgrind: $TAP_PASS passed, $TAP_FAIL failed"
((TAP_FAIL == 0))
