#!/usr/bin/env bash
# (g) Scale-out: two "hosts" on loopback, each its own sgid-fcgi pool and its
# own nginx (A: API 25001, B: API 25002), sharing one Redis over TCP. Same
# configuration on both, as behind a load balancer whose address is A's.
#   - a login started on A (auth-url) finishes on B (redirect) and the other
#     way round; each profile is served by either host;
#   - under mixed traffic to both, host A is killed outright (SIGKILL to its
#     nginx and its whole pool): B serves every request sent to it, no
#     session is lost (all valid on B), and logins started on A before the
#     kill finish on B after it.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin scaleout

N=${FAULTS_WORKERS:-3}
REDIS_PORT=${FAULTS_REDIS_PORT:-26390}
API_B_PORT=$((API_PORT + 1))
SPA_B_PORT=$((SPA_PORT + 1))
A=$API
B=http://localhost:$API_B_PORT
if ((QUICK)); then LOAD_S=6 SESS=20; else LOAD_S=20 SESS=60; fi

setup "ports free" stack_ports_free "$API_PORT" "$SPA_PORT" "$API_B_PORT" "$SPA_B_PORT" "$REDIS_PORT"
setup "start the shared redis-server on 127.0.0.1:$REDIS_PORT" f_redis_start redis --port "$REDIS_PORT"
setup "start MockPass" f_mockpass_start
T=$STACK_RT
NAME=$(f_mockpass_name)
f_app_env "$T/app.env" mockpass "REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
setup "host A: pool" f_pool_start poolA "$T/app.env" "$N"
setup "host A: nginx on $API_PORT" f_nginx_start nginxA "$API_PORT" "$SPA_PORT" "$T/poolA.sock"
setup "host B: pool" f_pool_start poolB "$T/app.env" "$N"
setup "host B: nginx on $API_B_PORT" f_nginx_start nginxB "$API_B_PORT" "$SPA_B_PORT" "$T/poolB.sock"

# ---- across hosts ---------------------------------------------------------------
f_load prepare --api "$A" --count "$SESS" --concurrency 4 --prefix ab --out "$T/ab.tsv" >/dev/null
f_load finish --in "$T/ab.tsv" --cb "$B" --userinfo --expect-name "$NAME" --frontend "$FRONTEND" \
  --out "$T/ab.sessions" --json "$T/ab.json" >/dev/null
note "started on A, finished on B: $(jq -c '{outcomes, userinfo, problems}' "$T/ab.json")"
ab_ok() { (($(jqv "$T/ab.json" '.outcomes["logged-in"] // 0') == SESS && $(jqv "$T/ab.json" '.userinfo["200"] // 0') == SESS)); }
check "$SESS logins started on A (auth-url) finish on B (redirect), profile 200 on B" ab_ok
check_sessions "their profiles are served by A too" "$T/ab.sessions" "$A"

f_load prepare --api "$B" --count 10 --concurrency 4 --prefix ba --out "$T/ba.tsv" >/dev/null
f_load finish --in "$T/ba.tsv" --cb "$A" --userinfo --expect-name "$NAME" --frontend "$FRONTEND" \
  --out "$T/ba.sessions" --json "$T/ba.json" >/dev/null
check "10 logins started on B finish on A: $(jq -c .outcomes "$T/ba.json")" \
  test "$(jqv "$T/ba.json" '.outcomes["logged-in"] // 0')" -eq 10
check_sessions "... and are served by B" "$T/ba.sessions" "$B"
cat "$T/ab.sessions" "$T/ba.sessions" >"$T/sessions.tsv"
total=$((SESS + 10))

# A logout on one host ends the session on both.
read -r bye _ < <(head -n1 "$T/ab.sessions")
f_status "$A/api/logout" -H "Cookie: $COOKIE=$bye" >/dev/null
code=$(f_status "$B/api/userinfo" -H "Cookie: $COOKIE=$bye")
check "logout on A ends the session on B too (userinfo $code)" test "$code" == 401
tail -n +2 "$T/sessions.tsv" >"$T/live.tsv"
total=$((total - 1))

# ---- host A dies mid-traffic ------------------------------------------------------
f_load prepare --api "$A" --count 8 --concurrency 4 --prefix pending --out "$T/pending.tsv" >/dev/null
f_load run --base "$A" --base "$B" --mix health=1,auth-url=1,userinfo=3,login=1 --sessions "$T/live.tsv" \
  --concurrency 8 --seconds "$LOAD_S" --max 2000000 --timeout 20000 --frontend "$FRONTEND" \
  --records "$T/load.ndjson" --json "$T/load.json" >/dev/null &
load=$!
sleep "$((LOAD_S / 3))"
t_kill=$(f_now_ms)
for svc in nginxA poolA; do
  pid=${STACK_PID[$svc]}
  exec 3>&2 2>/dev/null
  kill -KILL -- "-$pid" || true
  wait "$pid" || true
  exec 2>&3 3>&-
  unset "STACK_PID[$svc]"
done
wait "$load" || true
f_load stats --records "$T/load.ndjson" --b 1 --json "$T/loadB.json" >/dev/null
f_load stats --records "$T/load.ndjson" --b 0 --from "$t_kill" --json "$T/loadA-after.json" >/dev/null
# Host A: requests that ended before the kill, and those in flight at it.
a_done=$(jq -cs --argjson t "$t_kill" '[.[] | select(.b == 0 and .e < $t)] | {n: length, failed: map(select(.ok | not)) | length}' "$T/load.ndjson")
a_inflight=$(jq -cs --argjson t "$t_kill" '[.[] | select(.b == 0 and .s < $t and .e >= $t)] | {n: length, failed: map(select(.ok | not)) | length}' "$T/load.ndjson")
note "host B during the whole run: $(jq -c '{total, by_status, unexpected, wrong, lat}' "$T/loadB.json")"
note "host A: done before the kill $a_done; in flight at the kill $a_inflight; sent after it: $(jq -c '{total, by_status}' "$T/loadA-after.json")"
check "host B: zero failed requests while A died ($(jqv "$T/loadB.json" .unexpected) of $(jqv "$T/loadB.json" .total))" \
  test "$(jqv "$T/loadB.json" .unexpected)" -eq 0
check "host A: zero failures before the kill ($(jq -c . <<<"$a_done"))" test "$(jq .failed <<<"$a_done")" -eq 0
check "no 200 with wrong data anywhere" test "$(jqv "$T/load.json" .wrong)" -eq 0
check_sessions "after the kill, all $total sessions are valid on B" "$T/live.tsv" "$B"
f_load finish --in "$T/pending.tsv" --cb "$B" --userinfo --expect-name "$NAME" --frontend "$FRONTEND" \
  --json "$T/pending.json" >/dev/null
check "8 logins started on A before it died finish on B: $(jq -c '{outcomes, userinfo}' "$T/pending.json")" \
  test "$(jqv "$T/pending.json" '.userinfo["200"] // 0')" -eq 8
check "host B's pool untouched (no worker died)" test "$(f_log_count poolB 'killed by signal|exited with status')" -eq 0
