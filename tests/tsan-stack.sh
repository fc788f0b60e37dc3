#!/usr/bin/env bash
# `make tsan` (issue 11, item 4): the threaded workers under ThreadSanitizer.
# Needs build/tsan/ (the Makefile's tsan target builds it: clang,
# -fsanitize=thread -O1 -g -fno-omit-frame-pointer).
#
#   1. every unit-test binary of build/tsan/tests/ under TSan
#   2. the hostile suite (tests/hostile/run.sh: 2 spawn-fcgi workers x the
#      default 64 threads; every case as an SPA's and as a gateway's login)
#      against build/tsan/sgid-fcgi
#   3. a load stack of our own (`tsan-stack.sh --load`, in the private
#      network namespace): redis (over TLS: rediss://), the hostile IdP with token and userinfo
#      delayed, the supervised pool `--workers 2 --threads 32 --max-requests`
#      (so workers are recycled with requests in flight), nginx; then 200
#      concurrent clients of mixed traffic (tests/faults/load.mjs: health,
#      auth-url, noise, whole logins with first and cached userinfo and
#      logout), a signing-key rotation (the shared JWKS cache refetched while
#      threads wait on its lock) and a SIGHUP reload in the middle
#   4. the workers' logs of 2 and 3 searched for any ThreadSanitizer report
# 2 runs (in a network namespace of its own, as 3 does) while 1 and then 3
# do: it mostly waits. 1 and 3 one after the other: both keep the CPUs busy,
# and the unit tests time some of their own waits.
#
# TSAN_OPTIONS: halt_on_error=1 second_deadlock_stack=1 exitcode=66 (a report
# fails the process). If the TSan runtime cannot map its shadow memory under
# this kernel's ASLR ("unexpected memory mapping"), everything is run again
# under `setarch -R` (ASLR off), and the run says so.
# Last line: "tsan: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
out=${TSAN_OUT:-$root/build/tsan} # TSAN_OUT: another TSan build dir
bin=$out/sgid-fcgi
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1 exitcode=66}
# Reports are to fail the run, not to be silenced: no suppressions file
# unless one exists (tests/tsan.supp: third-party false positives only).
if [[ -f $root/tests/tsan.supp && $TSAN_OPTIONS != *suppressions=* ]]; then
	TSAN_OPTIONS="$TSAN_OPTIONS suppressions=$root/tests/tsan.supp"
fi
TSAN_PATTERN='ThreadSanitizer'

# ---------------------------------------------------------------------------
# The load stack (run by the main part below through tests/in-netns.sh).
if [[ ${1:-} == --load ]]; then
	# shellcheck source=deploy/stack-lib.sh
	. "$root/deploy/stack-lib.sh"
	# shellcheck source=tests/tap.sh
	. "$root/tests/tap.sh"
	TAP_TAG="[load] "
	IDP_PORT=5157
	WORKERS=${TSAN_WORKERS:-2}
	THREADS=${TSAN_THREADS:-32}
	CLIENTS=${TSAN_CLIENTS:-200}
	SECONDS_LOAD=${TSAN_LOAD_SECONDS:-30}
	DELAY_MS=${TSAN_SGID_DELAY_MS:-400}
	API=http://localhost:$API_PORT
	IDP=http://127.0.0.1:$IDP_PORT
	client_id=tsan-client
	client_secret=tsan-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	finish() {
		trap - EXIT INT TERM
		stack_stop nginx
		# TERM: the workers stop cleanly, so TSan's exit-time checks run too.
		stack_stop pool
		stack_cleanup
		if [[ -n $STACK_RT && -d $STACK_RT ]]; then
			cp -f "$STACK_RT/app.log" "$out/load-app.log" 2>/dev/null || true
			cp -f "$STACK_RT/idp.log" "$out/load-idp.log" 2>/dev/null || true
			cp -f "$STACK_RT/nginx/logs/error.log" "$out/load-nginx-error.log" 2>/dev/null || true
			rm -rf "$STACK_RT"
		fi
		echo "tsan-load: $TAP_PASS passed, $TAP_FAIL failed"
		((TAP_FAIL == 0)) || exit 1
		exit 0
	}
	trap finish EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	rm -f "$out/load-app.log" "$out/load.json" "$out/load-records.jsonl" "$out/load-inflight.json"
	setup "ports $API_PORT $SPA_PORT $IDP_PORT free" stack_ports_free "$API_PORT" "$SPA_PORT" "$IDP_PORT"
	stack_init sgid-tsan
	# Redis over TLS (rediss://, a CA made for the run): 64 threads' TLS
	# connections and their session resumption under TSan too.
	setup "a throw-away CA and Redis certificates" sh "$root/tests/tls/make-certs.sh" "$STACK_RT/tls"
	chmod 755 "$STACK_RT/tls" && chmod 644 "$STACK_RT/tls/ca.pem"
	STACK_REDIS_TLS="6390 $STACK_RT/tls"
	setup "redis-server (tls-port 6390)" stack_start_redis
	setup "hostile IdP" stack_start_hostile_idp "$IDP_PORT" "$client_id" "$client_secret" "$API/api/redirect"
	export SGID_CLIENT_ID=$client_id SGID_CLIENT_SECRET=$client_secret
	export SGID_PRIVATE_KEY_FILE=$root/tests/fixtures/client-test-key.pem
	export SGID_HOSTNAME=http://localhost:$IDP_PORT
	export SGID_REDIRECT_URI=$API/api/redirect SGID_FRONTEND_HOST=http://localhost:$SPA_PORT
	# The pool's 64 threads open their TLS connections in the same instant,
	# each handshake under TSan's locks: 500 ms (the default) is too short
	# for the last ones on 2 shared cores (7 logins of 11 000 got 503).
	export REDIS_URL=rediss://localhost:6390/0 REDIS_TLS_CA_FILE=$STACK_RT/tls/ca.pem LOG_LEVEL=debug
	export REDIS_CONNECT_TIMEOUT_MS=3000
	export SGID_HTTP_TIMEOUT_MS=10000 SGID_JWKS_MIN_REFETCH_SECONDS=1
	# Every thread may be inside sgID at once: the point is as many threads as
	# possible in the shared JWKS cache, curl share and scoreboard together
	# (the bulkhead's refusals are tested in tests/faults). Three pools'
	# worth: during the reload below the new workers start while the old
	# ones still finish their sgID calls, and the limit counts them all.
	export SGID_MAX_INFLIGHT=$((3 * WORKERS * THREADS))
	unset SGID_PRIVATE_KEY SESSION_SECRET SGID_SCOPES SESSION_COOKIE_NAME 2>/dev/null || true
	STACK_APP_BIN=$bin
	STACK_APP_ARGS=(--threads "$THREADS" --max-requests "${TSAN_MAX_REQUESTS:-1500}")
	setup "the TSan pool (--workers $WORKERS --threads $THREADS)" stack_start_pool "$WORKERS" "$STACK_RT"
	# 200 clients: 400 nginx connections (client + FastCGI) and the idle
	# keep-alive ones; the example's 256 would drop some. Rate limits raised
	# (all the load is from 127.0.0.1), as tests/hostile/run.sh does.
	STACK_NGINX_SED=(
		-e 's/worker_connections[[:space:]]*[0-9]*;/worker_connections 4096;/'
		-e '/^[[:space:]]*limit_req_zone[[:space:]]/s# rate=[0-9][0-9]*r/[sm];# rate=100000r/s;#'
		-e '/^[[:space:]]*limit_req[[:space:]]/s# burst=[0-9][0-9]*# burst=100000#'
	)
	setup "nginx" stack_start_nginx
	setup "nginx bound its ports" stack_wait_until 10 nginx "${STACK_PID[nginx]}" test -s "$STACK_RT/nginx/nginx.pid"
	setup "the API answers through nginx" stack_wait_until 30 "API" - stack_api_up
	sup=${STACK_PID[pool]}
	idp_post() {
		local data='{}'
		(($# < 2)) || data=$2
		curl -fsS --max-time 5 -o /dev/null -X POST -H 'content-type: application/json' --data "$data" "$IDP/__control/$1"
	}
	setup "scenario: token and userinfo delayed ${DELAY_MS} ms" \
		idp_post scenario "{\"token\":{\"delay_ms\":$DELAY_MS},\"userinfo\":{\"delay_ms\":$DELAY_MS}}"
	setup "inflight counters reset" idp_post inflight/reset

	timeout $((SECONDS_LOAD + 120)) node "$root/tests/faults/load.mjs" run --base "$API" \
		--frontend "http://localhost:$SPA_PORT" --mix health=1,auth-url=1,noise=1,login=6 \
		--concurrency "$CLIENTS" --seconds "$SECONDS_LOAD" --max 20000 --timeout 60000 \
		--records "$out/load-records.jsonl" --json "$out/load.json" >/dev/null &
	load=$!
	# A third of the way in: a new signing key, so the ID tokens name a kid
	# the cached JWKS lacks and the threads meet in the cache's refetch.
	sleep $((SECONDS_LOAD / 3))
	check "signing key rotated under load" idp_post rotate
	# Two thirds: a reload, a new pool started while the old one drains.
	sleep $((SECONDS_LOAD / 3))
	check "SIGHUP (reload) to the supervisor under load" kill -HUP "$sup"
	wait "$load"
	rc=$?
	check "load driver finished (exit $rc)" test "$rc" -eq 0
	# the IdP's own count, where it has one (GET /__control/inflight)
	curl -fsS --max-time 5 "$IDP/__control/inflight" >"$out/load-inflight.json" 2>/dev/null || rm -f "$out/load-inflight.json"
	j=$out/load.json
	jqv() { jq -r "$1" "$j" 2>/dev/null || echo null; }
	echo "# load: $(jq -c '{total, by_status, unexpected, wrong, unexpected_samples, rps, lat}' "$j" 2>/dev/null)"
	echo "# endpoints: $(jq -c '.by_ep | map_values({total, by_status})' "$j" 2>/dev/null)"
	[[ ! -s $out/load-inflight.json ]] ||
		echo "# sgID calls in flight at once (IdP's count): $(jq -c . "$out/load-inflight.json" 2>/dev/null)"
	check "$(jqv .total) requests from $CLIENTS clients, every answer the expected one (unexpected: $(jqv .unexpected))" \
		test "$(jqv .unexpected)" == 0
	check "no response with somebody else's data (wrong: $(jqv .wrong))" test "$(jqv .wrong)" == 0
	logins=$(jqv '.by_ep["login.logout"].total // 0')
	check "logins through token, first and cached userinfo, logout: $logins" test "$logins" -ge 100
	for ep in health auth-url noise login.userinfo1 login.userinfo2; do
		n=$(jqv ".by_ep[\"$ep\"].total // 0")
		check "$ep requests in the mix: $n" test "$n" -gt 0
	done
	# Threads inside an sgID call at once, from the workers' own log: every
	# callback (302) and userinfo (200) that took the scripted delay or more
	# made its sgID call, so [end - ms, end] holds one. The most that overlap.
	max_sgid=$(node -e '
		const [file, delay] = [process.argv[1], Number(process.argv[2])];
		const ev = [];
		const re = /^(\S+Z) .* route=(redirect|userinfo) status=(302|200) ms=(\d+)/;
		for (const l of require("fs").readFileSync(file, "utf8").split("\n")) {
			const m = re.exec(l);
			if (!m || Number(m[4]) < delay) continue;
			const end = Date.parse(m[1]);
			ev.push([end - Number(m[4]), 1], [end, -1]);
		}
		ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
		let n = 0, max = 0;
		for (const [, d] of ev) max = Math.max(max, (n += d));
		console.log(max);' "$STACK_RT/app.log" "$DELAY_MS" 2>/dev/null || echo 0)
	want=$((WORKERS * THREADS / 2))
	check "many threads inside sgID calls at once (from the workers' log): $max_sgid (want >= $want)" \
		test "${max_sgid:-0}" -ge "$want"
	reloaded=$(grep -c 'supervisor: configuration reloaded' "$STACK_RT/app.log" 2>/dev/null)
	check "the pool reloaded under load" test "${reloaded:-0}" -ge 1
	recycled=$(grep -ciE 'max-requests|recycl' "$STACK_RT/app.log" 2>/dev/null)
	echo "# log lines about recycling (--max-requests): ${recycled:-0}"
	crashed=$(grep -cE 'killed by signal|exited with status [1-9]' "$STACK_RT/app.log" 2>/dev/null)
	check "no worker crashed or exited with an error (found ${crashed:-0})" test "${crashed:-0}" -eq 0
	exit 0
fi

# ---------------------------------------------------------------------------
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
if [[ ! -x $bin ]]; then
	echo "not ok - $bin missing (make tsan builds it)"
	echo "tsan: 0 passed, 1 failed"
	exit 1
fi

# Can the TSan runtime start here? Newer kernels with more ASLR bits can
# place mappings where it wants its shadow memory.
probe=$("$bin" --version 2>&1)
if grep -q 'unexpected memory mapping' <<<"$probe"; then
	if [[ ${TSAN_SETARCH:-} != 1 ]] && command -v setarch >/dev/null; then
		echo "# TSan: \"unexpected memory mapping\" under this kernel's ASLR: rerunning under setarch -R (ASLR off)"
		TSAN_SETARCH=1 exec setarch "$(uname -m)" -R "$0" "$@"
	fi
	echo "not ok - the TSan runtime cannot start (unexpected memory mapping)${TSAN_SETARCH:+, even under setarch -R}"
	echo "tsan: 0 passed, 1 failed"
	exit 1
fi
[[ ${TSAN_SETARCH:-} != 1 ]] || echo "# running under setarch -R (ASLR off) for the TSan runtime"
echo "# TSAN_OPTIONS=$TSAN_OPTIONS"

# 2 (below) starts first and runs beside 1 and 3.
hostile_log=$out/hostile-app.log
rm -f "$hostile_log"
STACK_APP_BIN=$bin HOSTILE_KEEP=1 HOSTILE_ARTIFACTS=$out/hostile-artifacts \
	"$root/tests/in-netns.sh" "$root/tests/hostile/run.sh" >"$out/hostile.out" 2>&1 &
hostile_pid=$!

# ---- 1. unit tests -----------------------------------------------------------
mkdir -p "$out/unit"
for t in "$out"/tests/test_*; do
	name=$(basename "$t")
	log=$out/unit/$name.log
	"$t" >"$log" 2>&1
	rc=$?
	summary=$(grep -E '^[a-z_0-9]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	reports=$(grep -c "$TSAN_PATTERN" "$log")
	check "TSan clean: $name (${summary#*: }, exit $rc, reports $reports)" \
		test "$rc" -eq 0 -a "$reports" -eq 0 -a -n "$summary"
	[[ $rc -eq 0 && $reports -eq 0 ]] || grep -E -A40 'WARNING: ThreadSanitizer|FATAL|not ok' "$log" | head -n 80
done

# ---- 3. the load stack ---------------------------------------------------------------
"$root/tests/in-netns.sh" "$0" --load >"$out/load.out" 2>&1
load_rc=$?

# ---- 2. the hostile suite ----------------------------------------------------------
wait "$hostile_pid"
rc=$?
grep -E '^(FAIL|runner finished)' "$out/hostile.out" | head -n 20
tail -n 1 "$out/hostile.out"
check "hostile suite passes against the TSan build (2 workers x 64 threads)" test "$rc" -eq 0
cp -f "$out/hostile-artifacts/app.log" "$hostile_log" 2>/dev/null
check "hostile: workers' log kept" test -s "$hostile_log"

# ---- 3. the load stack's results ------------------------------------------------------
rc=$load_rc
grep -E '^(ok|not ok|#)' "$out/load.out"
line=$(grep -E '^tsan-load: [0-9]+ passed, [0-9]+ failed$' "$out/load.out" | tail -n 1)
if [[ -n $line ]]; then
	read -r p f < <(awk '{print $2, $4}' <<<"$line")
	TAP_PASS=$((TAP_PASS + p))
	TAP_FAIL=$((TAP_FAIL + f))
fi
check "load stack ran to its end (exit $rc)" test "$rc" -eq 0 -a -n "$line"
[[ $rc -eq 0 ]] || tail -n 30 "$out/load.out" | sed 's/^/#   /'
check "load: workers' log kept" test -s "$out/load-app.log"

# ---- 4. no ThreadSanitizer report -------------------------------------------------
for log in "$hostile_log" "$out/load-app.log"; do
	n=$(grep -c "$TSAN_PATTERN" "$log" 2>/dev/null)
	w=$(grep -c "WARNING: ThreadSanitizer" "$log" 2>/dev/null)
	check "no ThreadSanitizer report in $(basename "$log") (found ${n:-0}, ${w:-0} WARNING)" \
		test "${n:-0}" -eq 0 -a "${w:-0}" -eq 0
	[[ ${n:-0} -eq 0 ]] || grep -E -B2 -A60 "$TSAN_PATTERN" "$log" | head -n 200
done
echo "# logs: $out/{unit/,hostile.out,hostile-app.log,load.out,load-app.log,load.json}"
echo "tsan: $TAP_PASS passed, $TAP_FAIL failed"
((TAP_FAIL == 0))
