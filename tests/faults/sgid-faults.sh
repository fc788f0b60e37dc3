#!/usr/bin/env bash
# (e) sgID failing: 500s, connection resets (before the headers, mid-body),
# stalls beyond SGID_HTTP_TIMEOUT_MS (2 s here), garbage and oversized
# bodies, on the token, JWKS and userinfo calls. For each, K logins at once
# on N workers. A failing token/JWKS call must end the login on a 302 to
# {frontend}/error, a failing userinfo call must answer 502 (not JSON), each
# within the timeout (never a hang), and never a 200 with wrong data. After
# each userinfo fault the same sessions, asked again with sgID healthy, must
# get their own profile.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin sgid-faults

N=${FAULTS_WORKERS:-4}
# More logins than workers in the full run (some wait for a worker).
if ((QUICK)); then K=$N; else K=$((N + 2)); fi
TIMEOUT_MS=2000
# K requests on N workers, each cut at the timeout: at most ceil(K/N) in a
# row, plus slack for a busy 2-core machine. A hang would be the 10 s stall.
BOUND_MS=$((((K + N - 1) / N) * TIMEOUT_MS + 3000))
f_stack idp "$N" SGID_HTTP_TIMEOUT_MS=$TIMEOUT_MS SGID_JWKS_MIN_REFETCH_SECONDS=1
T=$STACK_RT
PERSONA="HOSTILE TEST PERSONA"

f_idp_scenario '{}'
f_load logins --api "$API" --count "$N" --concurrency "$N" --prefix warm --userinfo >/dev/null

# Replace every worker (SIGHUP), so the next logins fetch the JWKS afresh.
fresh_workers() {
  local old
  old=$(f_pool_workers pool | tr '\n' ' ')
  kill -HUP "${STACK_PID[pool]}"
  all_new() {
    local p
    f_pool_has pool "$N" || return 1
    for p in $(f_pool_workers pool); do [[ " $old " != *" $p "* ]] || return 1; done
  }
  f_wait 15 "fresh workers after SIGHUP" all_new
}

i=0
# token_fault LABEL SCENARIO [fresh]: K logins whose callback meets the fault.
token_fault() {
  local label=$1 scen=$2 j
  i=$((i + 1))
  j=$T/tok$i.json
  f_idp_scenario '{}'
  f_load prepare --api "$API" --count "$K" --concurrency "$K" --prefix "t$i" --out "$T/tok$i.tsv" >/dev/null
  [[ ${3:-} != fresh ]] || fresh_workers
  f_idp_scenario "$scen"
  f_load finish --in "$T/tok$i.tsv" --api "$API" --userinfo --frontend "$FRONTEND" --json "$j" >/dev/null
  note "$label: $(jq -c '{outcomes, ms}' "$j")"
  check "$label: all $K logins end on 302 /error, none logged in: $(jq -c .outcomes "$j")" \
    test "$(jqv "$j" '.outcomes.error // 0')" -eq "$K"
  check "$label: no hang: slowest answer $(jqv "$j" .ms.max) ms < $BOUND_MS ms" test "$(jqv "$j" .ms.max)" -lt "$BOUND_MS"
}

# userinfo_fault LABEL SCENARIO: K logins succeed, their first userinfo meets the fault.
userinfo_fault() {
  local label=$1 scen=$2 j
  i=$((i + 1))
  j=$T/ui$i.json
  f_idp_scenario '{}'
  f_load prepare --api "$API" --count "$K" --concurrency "$K" --prefix "u$i" --out "$T/ui$i.tsv" >/dev/null
  f_idp_scenario "$scen"
  f_load finish --in "$T/ui$i.tsv" --api "$API" --userinfo --frontend "$FRONTEND" --expect-name "$PERSONA" \
    --out "$T/ui$i.sessions" --json "$j" >/dev/null
  note "$label: $(jq -c '{outcomes, userinfo, userinfo_ms, problems}' "$j")"
  check "$label: all $K userinfo answers are 502: $(jq -c .userinfo "$j")" \
    test "$(jqv "$j" '.userinfo["502"] // 0')" -eq "$K"
  check "$label: no 200 with wrong data, no JSON error body: $(jq -c .problems "$j")" \
    test "$(jqv "$j" '.problems | length')" -eq 0
  check "$label: no hang: slowest userinfo $(jqv "$j" .userinfo_ms.max) ms < $BOUND_MS ms" \
    test "$(jqv "$j" '.userinfo_ms.max // 99999')" -lt "$BOUND_MS"
  f_idp_scenario '{}'
  check_sessions "$label: with sgID healthy again the same sessions get their own profile" "$T/ui$i.sessions"
}

token_fault "token 500" '{"token":{"status":500,"raw_body":"{\"error\":\"server_error\"}"}}'
((QUICK)) || token_fault "token 503 HTML" '{"token":{"status":503,"raw_body":"<html>down</html>","content_type":"text/html"}}'
token_fault "token reset before headers" '{"token":{"destroy":"before_headers"}}'
((QUICK)) || token_fault "token reset mid-body" '{"token":{"destroy":"mid_body"}}'
token_fault "token stall 10 s (timeout 2 s)" '{"token":{"delay_ms":10000}}'
((QUICK)) || token_fault "token 200 with garbage" '{"token":{"raw_body":"<html>oops</html>"}}'
((QUICK)) || token_fault "token 200 of 5 MiB (cap 1 MiB)" '{"token":{"huge_mb":5}}'
token_fault "JWKS 500 (fresh workers)" '{"jwks":{"status":500}}' fresh
((QUICK)) || token_fault "JWKS stall 10 s (fresh workers)" '{"jwks":{"delay_ms":10000}}' fresh
userinfo_fault "userinfo 500" '{"userinfo":{"status":500}}'
userinfo_fault "userinfo reset before headers" '{"userinfo":{"destroy":"before_headers"}}'
((QUICK)) || userinfo_fault "userinfo reset mid-body" '{"userinfo":{"destroy":"mid_body"}}'
userinfo_fault "userinfo stall 10 s (timeout 2 s)" '{"userinfo":{"delay_ms":10000}}'
userinfo_fault "userinfo for another sub" '{"userinfo":{"sub":"u=somebody-else"}}'
((QUICK)) || userinfo_fault "userinfo 200 with garbage" '{"userinfo":{"raw_body":"{\"sub\":1}"}}'

f_idp_scenario '{}'
viol=$(curl -fsS --max-time 5 "$IDP/__control/log" | jq -c '[.violations[].code] | unique')
check "the provider saw no protocol violation from the app: $viol" test "$viol" == "[]"
check "no worker crashed" test "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0
code=$(f_status "$API/api/health")
check "health 200 at the end" test "$code" == 200
