#!/usr/bin/env bash
# (f) Signals to the supervisor under load.
#   SIGHUP: workers replaced one by one while load runs and slow logins (2 s
#     token call) are in flight: zero failed requests, the slow logins finish.
#     A reload with a bad configuration is refused and the pool keeps running.
#   SIGTERM: with slow logins (3 s) in flight, they complete, the supervisor
#     exits and removes its socket. Load requests caught by the stop are counted.
#   SIGTERM past --stop-timeout (2 s) with a 6 s stall: the worker is killed,
#     its client gets a 502, the supervisor is gone in about 2 s.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin signals

N=${FAULTS_WORKERS:-4}
if ((QUICK)); then HUPS=3; else HUPS=8; fi
f_stack idp "$N" SGID_HTTP_TIMEOUT_MS=8000
T=$STACK_RT
SOCK=$T/pool.sock

f_idp_scenario '{}'
f_load logins --api "$API" --count 12 --concurrency 4 --prefix sig --userinfo --out "$T/sessions.tsv" >/dev/null
setup "12 sessions created" test "$(wc -l <"$T/sessions.tsv")" -eq 12

load_bg() {
  f_load run --base "$API" --mix health=1,auth-url=1,userinfo=2 --sessions "$T/sessions.tsv" \
    --concurrency 6 --seconds 60 --max 2000000 --timeout 30000 --frontend "$FRONTEND" \
    --stop-file "$T/stop-$1" --records "$T/$1.ndjson" --json "$T/$1.json" >/dev/null &
  load=$!
}

# ---- SIGHUP -------------------------------------------------------------------
f_idp_scenario '{"token":{"delay_ms":2000}}'
for ((h = 1; h <= HUPS; h++)); do
  f_load prepare --api "$API" --count 2 --prefix "hup$h" --out "$T/hup$h.tsv" >/dev/null
done
load_bg hup
sleep 1
fins=()
gen_ok=1
replace_ms=()
for ((h = 1; h <= HUPS; h++)); do
  f_load finish --in "$T/hup$h.tsv" --frontend "$FRONTEND" --json "$T/hup$h.json" >/dev/null &
  fins+=($!)
  sleep 0.3   # the slow logins are on their workers now
  old=$(f_pool_workers pool | tr '\n' ' ')
  t0=$(f_now_ms)
  kill -HUP "${STACK_PID[pool]}"
  if f_wait 15 "all workers replaced after SIGHUP $h" f_pool_replaced pool "$N" "$old"; then
    replace_ms+=($(($(f_now_ms) - t0)))
  else
    gen_ok=0
  fi
  sleep 0.5
done
# A bad configuration: the reload must be refused, the pool left alone.
cp "$T/app.env" "$T/app.env.good"
echo "SGID_HTTP_TIMEOUT_MS=not-a-number" >>"$T/app.env"
before=$(f_pool_workers pool | sort | tr '\n' ' ')
kill -HUP "${STACK_PID[pool]}"
f_wait 5 "reload refused" grep -q "reload refused" "$T/pool.log" || true
sleep 0.5
after=$(f_pool_workers pool | sort | tr '\n' ' ')
cp "$T/app.env.good" "$T/app.env"
sleep 1
touch "$T/stop-hup"
wait "$load" || true
for p in "${fins[@]}"; do wait "$p" || true; done

note "SIGHUP x$HUPS: every worker replaced after each, in ms: ${replace_ms[*]}"
note "load during the reloads: $(jq -c '{total, rps, by_status, unexpected, wrong, lat}' "$T/hup.json")"
check "SIGHUP x$HUPS during load: zero failed requests ($(jqv "$T/hup.json" .unexpected) of $(jqv "$T/hup.json" .total))" \
  test "$(jqv "$T/hup.json" .unexpected)" -eq 0
check "SIGHUP: all $N workers replaced after each of the $HUPS reloads" test "$gen_ok" -eq 1
slow_in=0
for ((h = 1; h <= HUPS; h++)); do slow_in=$((slow_in + $(jqv "$T/hup$h.json" '.outcomes["logged-in"] // 0'))); done
check "SIGHUP: the $((2 * HUPS)) slow logins in flight during the reloads all logged in ($slow_in)" \
  test "$slow_in" -eq $((2 * HUPS))
check "SIGHUP: generation $HUPS reached" grep -q "configuration reloaded (generation $HUPS," "$T/pool.log"
bad_hup_ok() { [[ $before == "$after" ]] && grep -q "reload refused.*SGID_HTTP_TIMEOUT_MS" "$T/pool.log"; }
check "SIGHUP with a bad configuration: refused, logged, pool untouched" bad_hup_ok
check "no worker crashed during the reloads" test "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0

# ---- SIGTERM --------------------------------------------------------------------
# stopped SECS: wait for the supervisor to exit (reaped), sets t_gone.
stopped() {
  local pid=${STACK_PID[pool]} deadline=$((SECONDS + $1))
  while stack_alive "$pid" && ((SECONDS < deadline)); do sleep 0.02; done
  t_gone=$(f_now_ms)
  stack_alive "$pid" && return 1
  wait "$pid" 2>/dev/null || true
  unset "STACK_PID[pool]"
}

f_idp_scenario '{"token":{"delay_ms":3000}}'
f_load prepare --api "$API" --count 3 --prefix term --out "$T/term.tsv" >/dev/null
load_bg term
sleep 1
f_load finish --in "$T/term.tsv" --frontend "$FRONTEND" --json "$T/term-slow.json" >/dev/null &
fin=$!
busy3() { (($(f_pool_busy pool | wc -l) >= 3)); }
f_wait 3 "3 workers busy" busy3 || true
t_term=$(f_now_ms)
kill -TERM "${STACK_PID[pool]}"
stopped 40 || true
wait "$fin" || true
sleep 0.5
touch "$T/stop-term"
wait "$load" || true
f_load stats --records "$T/term.ndjson" --to "$((t_term - 1))" --json "$T/term-before.json" >/dev/null
f_load stats --records "$T/term.ndjson" --from "$t_term" --json "$T/term-after.json" >/dev/null
# In flight at SIGTERM: started before it, ended after it.
inflight=$(jq -s --argjson t "$t_term" '[.[] | select(.s < $t and .e >= $t)] | length' "$T/term.ndjson")
inflight_bad=$(jq -s --argjson t "$t_term" '[.[] | select(.s < $t and .e >= $t and (.ok | not))] | length' "$T/term.ndjson")
note "SIGTERM: supervisor gone $((t_gone - t_term)) ms after the signal; slow logins: $(jq -c '{outcomes, ms}' "$T/term-slow.json")"
note "SIGTERM: load requests started before it: $(jq -c '{total, by_status}' "$T/term-before.json"); in flight at the signal: $inflight, failed: $inflight_bad"
note "SIGTERM: load requests started after it (no server any more): $(jq -c '{total, by_status, lat}' "$T/term-after.json")"
check "SIGTERM: the 3 slow logins in flight complete (logged in): $(jq -c .outcomes "$T/term-slow.json")" \
  test "$(jqv "$T/term-slow.json" '.outcomes["logged-in"] // 0')" -eq 3
check "SIGTERM: every load request in flight at the signal completed ($inflight_bad of $inflight failed)" \
  test "$inflight_bad" -eq 0
check "SIGTERM: the supervisor exited ($((t_gone - t_term)) ms, the slow logins needed ~3000)" test -z "${STACK_PID[pool]:-}"
check "SIGTERM: the socket is removed" test ! -e "$SOCK"
term_log_ok() { grep -q "supervisor: stopped" "$T/pool.log" && (($(f_log_count pool "still busy after") == 0)); }
check "SIGTERM: 'supervisor: stopped' logged, no worker killed" term_log_ok

# ---- SIGTERM past --stop-timeout ------------------------------------------------
setup "restart the pool with --stop-timeout 2" f_pool_start pool "$T/app.env" "$N" --stop-timeout 2
f_idp_scenario '{"token":{"delay_ms":6000}}'
f_load prepare --api "$API" --count 1 --prefix late --out "$T/late.tsv" >/dev/null
f_load finish --in "$T/late.tsv" --frontend "$FRONTEND" --json "$T/late.json" >/dev/null &
fin=$!
busy1() { (($(f_pool_busy pool | wc -l) >= 1)); }
f_wait 3 "a worker busy" busy1 || true
t_term=$(f_now_ms)
kill -TERM "${STACK_PID[pool]}"
stopped 15 || true
wait "$fin" || true
note "stop-timeout 2 s, 6 s stall: supervisor gone after $((t_gone - t_term)) ms; the stalled request: $(jq -c '{outcomes, ms}' "$T/late.json")"
late_exit_ok() { ((t_gone - t_term >= 1900 && t_gone - t_term < 4000)) && [[ -z ${STACK_PID[pool]:-} ]]; }
check "stop-timeout: supervisor gone within 2-4 s ($((t_gone - t_term)) ms)" late_exit_ok
late_kill_ok() { grep -q "still busy after 2 s: killing" "$T/pool.log" && (($(jqv "$T/late.json" '.outcomes["status 502"] // 0') == 1)); }
check "stop-timeout: the straggler was killed (logged) and its client got a 502: $(jq -c .outcomes "$T/late.json")" late_kill_ok
check "stop-timeout: the socket is removed" test ! -e "$SOCK"
