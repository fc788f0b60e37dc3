#!/usr/bin/env bash
# (d) Redis full (maxmemory 1 byte, noeviction: every write refused with OOM)
# and Redis read-only (REPLICAOF a master that does not exist: every write
# refused with READONLY; then replica-serve-stale-data no: reads refused with
# MASTERDOWN too). Under load in each state: auth-url still answers 200 (a
# login attempt lives in its cookie, not in Redis), what needs a write
# answers a clean 503 JSON, nothing crashes, no 200 carries wrong data, a login finishing then
# lands on /error; /api/health (readiness) answers 503 naming the reason
# (redis_oom, redis_read_only) while /api/health?live=1 stays 200; after
# the fault is lifted the service recovers (time measured) and the
# sessions from before are intact.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin redis-full-ro

N=${FAULTS_WORKERS:-4}
if ((QUICK)); then LOAD_S=2; else LOAD_S=8; fi
f_stack mockpass "$N"
T=$STACK_RT
NAME=$(f_mockpass_name)
pids0=$(f_pool_workers pool | sort | tr '\n' ' ')

f_load logins --api "$API" --count 13 --concurrency 4 --prefix fr --userinfo --expect-name "$NAME" \
  --out "$T/all.tsv" >/dev/null
setup "13 sessions created" test "$(wc -l <"$T/all.tsv")" -eq 13
head -n 12 "$T/all.tsv" >"$T/sessions.tsv"
read -r one_cookie _ < <(head -n1 "$T/sessions.tsv")
read -r bye_cookie _ < <(tail -n1 "$T/all.tsv")   # logged out while Redis is full

ep() { jq -c --arg e "$2" '.by_ep[$e].by_status // {}' "$T/$1.json"; }
ep_only() { [[ $(jq -c --arg e "$2" '.by_ep[$e].by_status // {} | keys' "$T/$1.json") == "$3" ]]; }
load() {
  f_load run --base "$API" --mix health=1,auth-url=1,userinfo=1 --sessions "$T/sessions.tsv" \
    --concurrency 4 --seconds "$LOAD_S" --max 1000000 --timeout 20000 --frontend "$FRONTEND" \
    --json "$T/$1.json" >/dev/null
}
# health_503 REASON: readiness says 503 {"status":"unavailable","reason":REASON}.
health_503() {
  local b code
  b=$T/body
  code=$(curl -s -o "$b" --max-time 10 -w '%{http_code}' "$API/api/health") || code=000
  [[ $code == 503 ]] && jq -e --arg r "$1" '.status == "unavailable" and .reason == $r' "$b" >/dev/null 2>&1
}
live_200() { test "$(f_status "$API/api/health?live=1")" == 200; }
# readiness is cached up to 1 s per worker: a change of Redis is seen after it
settle() { sleep 1.2; }
# body_is STATUS URL [curl args]: status and a JSON body naming the store.
json_503() {
  local b code
  b=$T/body
  code=$(curl -s -o "$b" --max-time 10 -w '%{http_code}' "$@") || code=000
  [[ $code == 503 ]] && jq -e '.error == "session_store_unavailable"' "$b" >/dev/null 2>&1
}
# recover_time: ms until auth-url, userinfo and health (readiness, cached up
# to 1 s) answer 200 (polled every 50 ms, 10 s max).
recover_time() {
  local t0 deadline a u h
  t0=$(f_now_ms)
  deadline=$((t0 + 10000))
  while (($(f_now_ms) < deadline)); do
    a=$(f_status "$API/api/auth-url?icecream=back")
    u=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$one_cookie")
    h=$(f_status "$API/api/health")
    if [[ $a == 200 && $u == 200 && $h == 200 ]]; then
      echo $(($(f_now_ms) - t0))
      return 0
    fi
    sleep 0.05
  done
  echo timeout
}

# ---- full ---------------------------------------------------------------------
f_load prepare --api "$API" --count 4 --prefix full --out "$T/full.tsv" >/dev/null
f_redis_cli redis config set maxmemory-policy noeviction >/dev/null
f_redis_cli redis config set maxmemory 1 >/dev/null
settle
load full
note "Redis full: $(jq -c '{total, by_status, wrong}' "$T/full.json"); auth-url $(ep full auth-url), userinfo $(ep full userinfo), health $(ep full health)"
check "full: auth-url answers 200 only (it writes nothing): $(ep full auth-url)" ep_only full auth-url '["200"]'
check "full: existing sessions still served (GETEX is allowed when full): userinfo $(ep full userinfo)" \
  ep_only full userinfo '["200"]'
check "full: health (readiness) 503 only, the probe's write refused: $(ep full health)" \
  ep_only full health '["503"]'
check "full: health says redis_oom" health_503 redis_oom
check "full: health?live=1 still 200" live_200
check "full: no 200 with wrong data" test "$(jqv "$T/full.json" .wrong)" -eq 0
f_load finish --in "$T/full.tsv" --frontend "$FRONTEND" --json "$T/full-login.json" >/dev/null
check "full: logins finishing now land on /error: $(jq -c .outcomes "$T/full-login.json")" \
  test "$(jqv "$T/full-login.json" '.outcomes.error // 0')" -eq 4
code=$(f_status "$API/api/logout" -H "Cookie: $COOKIE=$bye_cookie")
check "full: logout of a session works (DEL needs no memory): $code" test "$code" == 200
code=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$bye_cookie")
check "full: that session is gone: userinfo $code" test "$code" == 401
f_redis_cli redis config set maxmemory 0 >/dev/null
rt=$(recover_time)
check "full: recovered ${rt} ms after maxmemory was lifted" test "$rt" != timeout

# ---- read-only -----------------------------------------------------------------
f_load prepare --api "$API" --count 4 --prefix ro --out "$T/ro.tsv" >/dev/null
f_redis_cli redis replicaof 127.0.0.1 25999 >/dev/null
settle
load ro
note "Redis read-only: $(jq -c '{total, by_status, wrong}' "$T/ro.json"); auth-url $(ep ro auth-url), userinfo $(ep ro userinfo), health $(ep ro health)"
check "read-only: auth-url answers 200 only (it writes nothing): $(ep ro auth-url)" ep_only ro auth-url '["200"]'
check "read-only: auth-url replacing a logged-in cookie answers 503 JSON (that session could not be ended)" \
  json_503 "$API/api/auth-url?icecream=x" -H "Cookie: $COOKIE=$one_cookie"
check "read-only: userinfo answers 503 (GETEX is a write): $(ep ro userinfo)" ep_only ro userinfo '["503"]'
check "read-only: health (readiness) 503 only: $(ep ro health)" ep_only ro health '["503"]'
check "read-only: health says redis_read_only" health_503 redis_read_only
check "read-only: health?live=1 still 200" live_200
check "read-only: no 200 with wrong data" test "$(jqv "$T/ro.json" .wrong)" -eq 0
f_load finish --in "$T/ro.tsv" --frontend "$FRONTEND" --json "$T/ro-login.json" >/dev/null
check "read-only: logins finishing now land on /error: $(jq -c .outcomes "$T/ro-login.json")" \
  test "$(jqv "$T/ro-login.json" '.outcomes.error // 0')" -eq 4
check "read-only: logout answers 503 JSON (the session could not be deleted)" \
  json_503 "$API/api/logout" -H "Cookie: $COOKIE=$one_cookie"

f_redis_cli redis config set replica-serve-stale-data no >/dev/null
settle
load stale
note "read-only, stale reads refused: $(jq -c '{total, by_status, wrong}' "$T/stale.json")"
check "stale reads refused (MASTERDOWN): userinfo 503 only: $(ep stale userinfo)" ep_only stale userinfo '["503"]'
check "stale: health 503 only: $(ep stale health)" ep_only stale health '["503"]'
check "stale: auth-url still 200 only: $(ep stale auth-url)" ep_only stale auth-url '["200"]'
check "stale: health says redis_read_only (MASTERDOWN)" health_503 redis_read_only

f_redis_cli redis replicaof no one >/dev/null
rt=$(recover_time)
check "read-only: recovered ${rt} ms after REPLICAOF NO ONE" test "$rt" != timeout
check_sessions "the 12 sessions from before are intact" "$T/sessions.tsv"
check "no worker died or was replaced (pids $pids0)" \
  test "$(f_pool_workers pool | sort | tr '\n' ' ')" == "$pids0"
