#!/usr/bin/env bash
# (c) Redis restarted under load, persistence on (appendonly yes, fsync every
# second). Twice: a clean restart (SIGTERM) and a crash (SIGKILL), each with
# Redis down for DOWN_S seconds. While it is down, requests must fail fast
# with 503 (nothing else: no 502/504, no hang); after it is back they must
# recover at once; sessions written before each restart must still be valid.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin redis-restart

N=${FAULTS_WORKERS:-4}
if ((QUICK)); then DOWN_S=1; else DOWN_S=3; fi
FAIL_FAST_MS=${FAULTS_FAIL_FAST_MS:-1000}
if ((QUICK)); then SESSIONS=12; else SESSIONS=40; fi
REDIS_OPTS=(--appendonly yes --appendfsync everysec)
setup "start redis-server with appendonly yes" f_redis_start redis "${REDIS_OPTS[@]}"
f_stack mockpass "$N"
T=$STACK_RT
NAME=$(f_mockpass_name)

f_load logins --api "$API" --count "$SESSIONS" --concurrency 4 --prefix before --userinfo \
  --expect-name "$NAME" --out "$T/sessions1.tsv" >/dev/null
setup "$SESSIONS sessions created" test "$(wc -l <"$T/sessions1.tsv")" -eq "$SESSIONS"
sleep 1.5   # past one appendfsync

f_load run --base "$API" --mix health=1,auth-url=1,userinfo=2 --sessions "$T/sessions1.tsv" \
  --concurrency 6 --seconds 30 --max 1000000 --timeout 20000 --frontend "$FRONTEND" \
  --stop-file "$T/stop" --records "$T/load.ndjson" --json "$T/load.json" >/dev/null &
load=$!

# outage SIGNAL: take Redis down, wait DOWN_S, bring it back. Sets t_down,
# t_spawn (redis-server launched) and t_up (it answered our PING, polled
# every 100 ms).
outage() {
  t_down=$(f_now_ms)
  f_redis_kill redis "$1"
  sleep "$DOWN_S"
  t_spawn=$(f_now_ms)
  f_redis_start redis "${REDIS_OPTS[@]}"
  t_up=$(f_now_ms)
}

# report LABEL FROM TO: the window's numbers, then the checks.
report() {
  local label=$1 from=$2 to=$3 j=$T/$1.json
  f_load stats --records "$T/load.ndjson" --from "$from" --to "$to" --event "$t_spawn" --json "$j" >/dev/null
  local fails rec detect
  fails=$(jqv "$j" .unexpected)
  note "$label: $(jq -c '{total, by_status, unexpected, wrong, fail_lat}' "$j")"
  if ((fails > 0)); then
    rec=$(jqv "$j" .fail_last_after_event_ms)
    detect=$(($(jqv "$j" .fail_first_start) - t_down))
    note "$label: Redis down $((t_spawn - t_down)) ms, answering PING $((t_up - t_spawn)) ms after redis-server was launched; first failure ${detect} ms after it went down; last failure ended ${rec} ms after the launch; failures span $(jqv "$j" .fail_window_ms) ms"
  else
    rec=0
  fi
  check "$label: while Redis was down, clients got 503 ($(jqv "$j" '.by_status["503"] // 0') of $(jqv "$j" .total))" \
    test "$(jqv "$j" '.by_status["503"] // 0')" -gt 0
  check "$label: every failure is a 503: $(jq -c .by_status "$j")" \
    statuses_within "$j" 200 503
  check "$label: failures are fast (p99 $(jqv "$j" .fail_lat.p99) ms, max $(jqv "$j" .fail_lat.max) ms < $FAIL_FAST_MS ms)" \
    test "$(jqv "$j" '.fail_lat.max // 0')" -lt "$FAIL_FAST_MS"
  # Recovery by endpoint: health (readiness) keeps its answer up to 1 s per
  # process, so it may say 503 up to 1 s longer than the requests it stands for.
  local ep lim rec_ep
  for ep in health api; do
    if [[ $ep == health ]]; then lim=2000; else lim=1000; fi
    f_load stats --records "$T/load.ndjson" --from "$from" --to "$to" --event "$t_spawn" \
      $([[ $ep == health ]] && echo --ep health || echo --not-ep health) --json "$j.$ep" >/dev/null
    rec_ep=$(jqv "$j.$ep" '.fail_last_after_event_ms // 0')
    check "$label: $ep recovered within $((lim / 1000)) s of redis-server's launch (last failure ended at +${rec_ep} ms)" \
      test "$rec_ep" -lt "$lim"
  done
  check "$label: no 200 with wrong data" test "$(jqv "$j" .wrong)" -eq 0
}

sleep 1
t0=$(f_now_ms)
outage TERM
sleep 1.5
t1=$(f_now_ms)
report "clean restart (SIGTERM)" "$t0" "$t1"
check_sessions "clean restart: the $SESSIONS sessions from before are valid" "$T/sessions1.tsv"

# Sessions written between the two outages, at least one fsync before the crash.
f_load logins --api "$API" --count 6 --concurrency 3 --prefix between --userinfo \
  --expect-name "$NAME" --out "$T/sessions2.tsv" >/dev/null || true
check "6 sessions created after the clean restart ($(wc -l <"$T/sessions2.tsv"))" test "$(wc -l <"$T/sessions2.tsv")" -eq 6
sleep 1.5
t2=$(f_now_ms)
outage KILL
sleep 1.5
t3=$(f_now_ms)
touch "$T/stop"
wait "$load" || true
report "crash (SIGKILL)" "$t2" "$t3"
check_sessions "crash: the $SESSIONS sessions from the start are valid" "$T/sessions1.tsv"
check_sessions "crash: the 6 sessions written 1.5 s before it are valid" "$T/sessions2.tsv"
note "whole run: $(jq -c '{total, rps, by_status, unexpected, wrong}' "$T/load.json")"
check "pool still has its $N original workers (none died)" \
  test "$(f_log_count pool 'killed by signal|exited with status')" -eq 0
