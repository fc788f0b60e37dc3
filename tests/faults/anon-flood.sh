#!/usr/bin/env bash
# (j) Anonymous auth-url flood (issue 10 A): 100 000 /api/auth-url calls with
# no cookie, as one client in a loop would make them, change nothing in
# Redis: the key count and the count of every write command stay the same,
# because a login attempt lives sealed in its cookie. Then, with Redis gone,
# auth-url still answers 200 while health reports the store down; a real
# login started before Redis went away finishes after it is back.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin anon-flood

N=${FAULTS_WORKERS:-4}
CALLS=${FLOOD_CALLS:-100000}
f_stack mockpass "$N"
T=$STACK_RT
NAME=$(f_mockpass_name)

# writes: calls of every command that can create or change a key.
writes() {
  f_redis_cli redis info commandstats |
    awk -F'[:=,]' '/^cmdstat_(set|setex|getdel|getex|del|expire|hset|incr)/ { n += $3 } END { print n + 0 }'
}
f_load logins --api "$API" --count 2 --concurrency 2 --prefix fl --userinfo --expect-name "$NAME" \
  --out "$T/sessions.tsv" >/dev/null
setup "2 sessions before the flood" test "$(wc -l <"$T/sessions.tsv")" -eq 2
# keys: every key but the readiness probe's (sgid:health, EX 10: it may
# expire during the flood).
keys() { f_redis_cli redis --scan | grep -vc '^sgid:health' || true; }
keys0=$(keys)
writes0=$(writes)

t0=$(f_now_ms)
# One curl process, keep-alive, 16 transfers at a time; icecream takes the
# sequence number so every URL is distinct and valid.
curl -s -o /dev/null -w '%{http_code}\n' --parallel --parallel-max 16 --max-time 600 \
  "$API/api/auth-url?icecream=[1-$CALLS]" >"$T/codes" 2>"$T/curl.err" || true
t1=$(f_now_ms)
ok=$(grep -c '^200$' "$T/codes" || true)
note "$CALLS anonymous auth-url calls in $((t1 - t0)) ms: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
check "$CALLS anonymous auth-url calls answered 200 ($ok)" test "$ok" -eq "$CALLS"
keys1=$(keys)
writes1=$(writes)
check "Redis key count unchanged by the flood ($keys0 → $keys1)" test "$keys1" -eq "$keys0"
check "no Redis write command during the flood ($writes0 → $writes1)" test "$writes1" -eq "$writes0"
check_sessions "the sessions from before still work" "$T/sessions.tsv"

# ---- Redis gone -------------------------------------------------------------------
f_load prepare --api "$API" --count 2 --prefix down --out "$T/pending.tsv" >/dev/null
stack_stop redis
code=$(f_status "$API/api/auth-url?icecream=nodb")
check "Redis down: auth-url still 200 ($code)" test "$code" == 200
code=$(f_status "$API/api/health")
check "Redis down: health reports it: 503 ($code)" test "$code" == 503
code=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$(head -n1 "$T/sessions.tsv" | cut -f1)")
check "Redis down: userinfo 503 ($code)" test "$code" == 503
setup "restart redis-server" f_redis_start redis
f_load finish --in "$T/pending.tsv" --api "$API" --userinfo --frontend "$FRONTEND" --expect-name "$NAME" \
  --json "$T/pending.json" >/dev/null || true
check "logins started while Redis was up, finished after its restart: $(jq -c .outcomes "$T/pending.json")" \
  test "$(jqv "$T/pending.json" '.outcomes["logged-in"] // 0')" -eq 2
check "no worker crashed" test "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0
