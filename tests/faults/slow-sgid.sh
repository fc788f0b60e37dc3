#!/usr/bin/env bash
# (a) Slow sgID: the hostile IdP answers token and userinfo after 5 s. While
# logins hang in those calls, /api/auth-url and /api/health must keep answering
# fast: measured (p50/p99 of 200 requests) with no stall, with N-1 logins
# stuck, and with N x 8 stuck (the request threads: before them a worker held
# one request and N stuck logins made the rest queue). tests/faults/concurrency.sh takes the same to 200 in flight.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin slow-sgid

N=${FAULTS_WORKERS:-4}
STALL_MS=5000
FAST_P99_MS=${FAULTS_FAST_P99_MS:-500}
f_stack idp "$N" SGID_HTTP_TIMEOUT_MS=8000
T=$STACK_RT

# measure LABEL: 200 requests, health and auth-url, two at a time.
measure() {
  f_load run --base "$API" --mix health=1,auth-url=1 --concurrency 2 --max 200 --seconds 60 \
    --timeout 20000 --json "$T/$1.json" >/dev/null
}
lat() { jq -r '"p50 \(.lat.p50) ms, p99 \(.lat.p99) ms, max \(.lat.max) ms"' "$T/$1.json"; }
all_200() { [[ $(jqv "$T/$1.json" '.by_status["200"] // 0') == 200 && $(jqv "$T/$1.json" .unexpected) == 0 ]]; }
busy_is() { (($(f_pool_busy pool | wc -l) >= $1)); }

# One happy login first: every worker that serves it has the JWKS, so the
# stalled logins below wait on token/userinfo only.
f_idp_scenario '{}'
f_load logins --api "$API" --count "$N" --concurrency "$N" --prefix warm --userinfo >/dev/null

measure base
check "no stall: 200/200 answered 200 ($(lat base))" all_200 base

f_idp_scenario "{\"token\":{\"delay_ms\":$STALL_MS},\"userinfo\":{\"delay_ms\":$STALL_MS}}"

# ---- N-1 workers stuck -------------------------------------------------------
k=$((N - 1))
f_load prepare --api "$API" --count "$k" --concurrency "$k" --prefix slow --out "$T/slow1.tsv" >/dev/null
f_load finish --in "$T/slow1.tsv" --api "$API" --userinfo --frontend "$FRONTEND" --expect-name "HOSTILE TEST PERSONA" \
  --json "$T/slow1.json" >/dev/null &
fin=$!
f_wait 5 "$k requests busy in the token call" busy_is "$k" || true
stuck_before=$(f_pool_busy pool | wc -l)
t0=$(f_now_ms)
measure stuck1
t1=$(f_now_ms)
stuck_after=$(f_pool_busy pool | wc -l)
note "$k logins stuck on $N workers (busy request threads before/after: $stuck_before/$stuck_after), measured in $((t1 - t0)) ms: $(lat stuck1)"
check "$k stuck: health+auth-url 200/200 answered 200" all_200 stuck1
check "$k stuck: p99 $(jqv "$T/stuck1.json" .lat.p99) ms < $FAST_P99_MS ms" \
  test "$(jqv "$T/stuck1.json" .lat.p99)" -lt "$FAST_P99_MS"
check "$k stuck: the measurement ran while the logins hung (${stuck_after} busy at its end)" \
  test "$stuck_after" -ge "$k"
wait "$fin" || true
note "stalled logins: $(jq -c '{outcomes, userinfo, ms, userinfo_ms, problems}' "$T/slow1.json")"
slow_ok() {
  local j=$T/slow1.json
  [[ $(jqv "$j" '.outcomes["logged-in"]') == "$k" && $(jqv "$j" '.userinfo["200"]') == "$k" &&
    $(jqv "$j" '.problems | length') == 0 ]] && (($(jqv "$j" .ms.p50) >= STALL_MS))
}
check "the $k stalled logins complete: logged-in after ≥ ${STALL_MS} ms, userinfo 200 with the right data" slow_ok

# ---- many more logins stuck than workers ------------------------------------
# Before threads a worker held one request, so N stuck logins left nothing to
# serve health and auth-url and they queued. Now each worker serves up to
# --threads requests (64) and at most 3/4 of the pool's threads wait on sgID
# (the bulkhead): with N x STUCK_PER logins stuck, health and auth-url must
# stay as fast as with none. Where they land is the kernel's choice (each
# request thread waits with EPOLLEXCLUSIVE; a burst often fills one worker
# first): the spread is printed, and some worker must hold several.
STUCK_PER=${FAULTS_STUCK_PER_WORKER:-8}
M=$((N * STUCK_PER))
f_load prepare --api "$API" --count "$M" --concurrency "$M" --prefix slow2 --out "$T/slow2.tsv" >/dev/null
f_load finish --in "$T/slow2.tsv" --api "$API" --userinfo --frontend "$FRONTEND" --expect-name "HOSTILE TEST PERSONA" \
  --timeout 30000 --json "$T/slow2.json" >/dev/null &
fin=$!
f_wait 5 "$M requests busy" busy_is "$M" || true
stuck_before=$(f_pool_busy pool | wc -l)
per_worker=""
most=0
for p in $(f_pool_workers pool); do
  c=$(f_worker_in "$p" 7 271)
  per_worker+="$p:$c "
  ((c <= most)) || most=$c
done
t0=$(f_now_ms)
measure stuck2
t1=$(f_now_ms)
stuck_after=$(f_pool_busy pool | wc -l)
note "$M logins stuck (busy request threads before/after: $stuck_before/$stuck_after; waiting on sgID per worker: $per_worker), measured in $((t1 - t0)) ms: $(lat stuck2)"
check "$M stuck ($N x $STUCK_PER): health+auth-url 200/200 answered 200" all_200 stuck2
check "$M stuck: p99 $(jqv "$T/stuck2.json" .lat.p99) ms < $FAST_P99_MS ms" \
  test "$(jqv "$T/stuck2.json" .lat.p99)" -lt "$FAST_P99_MS"
check "$M stuck: nothing queues behind them (max $(jqv "$T/stuck2.json" .lat.max) ms < 1000 ms)" \
  test "$(jqv "$T/stuck2.json" .lat.max)" -lt 1000
check "$M stuck: the measurement ran while they hung ($stuck_after busy at its end), a worker holding $most of them" \
  test "$stuck_after" -ge "$M" -a "$most" -ge 2
wait "$fin" || true
note "stalled logins: $(jq -c '{outcomes, userinfo, ms, userinfo_ms, problems}' "$T/slow2.json")"
slow2_ok() {
  local j=$T/slow2.json
  [[ $(jqv "$j" '.outcomes["logged-in"]') == "$M" && $(jqv "$j" '.userinfo["200"]') == "$M" &&
    $(jqv "$j" '.problems | length') == 0 ]] && (($(jqv "$j" .ms.p50) >= STALL_MS))
}
check "the $M stalled logins complete: logged-in after ≥ ${STALL_MS} ms, userinfo 200 with the right data" slow2_ok
check "no worker crashed" test "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0
