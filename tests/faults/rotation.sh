#!/usr/bin/env bash
# (l) Rotating every secret under load, with one SIGHUP (issue 14 item 3).
#   Before: SESSION_SECRET=S1, SGID_PRIVATE_KEY=K1, SGID_CLIENT_SECRET=C1; the
#     provider (the hostile IdP: its control API changes the client at run
#     time, as the sgID developer portal would) encrypts userinfo to K1 and
#     takes C1. Sessions logged in: some with the profile cached, two sets
#     without (their first userinfo call comes after the rotation).
#   The rotation, under mixed load (logins through the provider, cached
#     userinfo, auth-url, health): the provider takes C1 and C2; the env file
#     is rewritten with S2 (S1 previous), K2 (K1 previous), C2; SIGHUP.
#     The first uncached set fetches while the provider still encrypts to K1
#     (opened with the previous key); then the provider encrypts to K2 and
#     the second set fetches (the current key); then the provider drops C1.
#   Asserted: 0 failed requests across all of it, every session logged in
#     before the rotation gives its own profile, logins after it work with
#     the new client secret alone, which key opened each userinfo (debug log).
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin rotation

N=${FAULTS_WORKERS:-4}
if ((QUICK)); then PER_SET=6; else PER_SET=20; fi
K1=$ROOT/tests/fixtures/client-test-key.pem
K2=$ROOT/tests/fixtures/client-test-key-2.pem
S1=rotation-session-secret-one-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
S2=rotation-session-secret-two-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
# debug: the line naming the key that opened each userinfo
f_stack idp "$N" SESSION_SECRET="$S1" LOG_LEVEL=debug
T=$STACK_RT
C1=$IDP_CLIENT_SECRET
C2=$C1-rotated

idp_client() {
  curl -fsS --max-time 5 -o /dev/null -X POST -H 'content-type: application/json' \
    --data "$1" "$IDP/__control/client"
}
opened_with() { f_log_count pool "userinfo: opened with the $1 client key"; }

f_idp_scenario '{}'
f_load logins --api "$API" --count "$PER_SET" --concurrency 4 --prefix cached --userinfo \
  --out "$T/cached.tsv" >/dev/null
f_load logins --api "$API" --count "$PER_SET" --concurrency 4 --prefix first --out "$T/first.tsv" >/dev/null
f_load logins --api "$API" --count "$PER_SET" --concurrency 4 --prefix second --out "$T/second.tsv" >/dev/null
for s in cached first second; do
  setup "$PER_SET sessions logged in ($s)" test "$(wc -l <"$T/$s.tsv")" -eq "$PER_SET"
done
setup "before the rotation every userinfo opened with the current key" test "$(opened_with previous)" -eq 0

f_load run --base "$API" --mix health=1,auth-url=1,userinfo=3,login=1 --sessions "$T/cached.tsv" \
  --concurrency 6 --seconds 50 --max 2000000 --timeout 30000 --frontend "$FRONTEND" \
  --stop-file "$T/stop" --records "$T/load.ndjson" --json "$T/load.json" >/dev/null &
load=$!
sleep 2

# ---- the rotation ---------------------------------------------------------------
setup "the provider takes the old and the new client secret" idp_client "{\"secrets\":[\"$C1\",\"$C2\"]}"
f_app_env "$T/app.env" idp SESSION_SECRET="$S2" SESSION_SECRET_PREVIOUS="$S1" \
  SGID_PRIVATE_KEY_FILE="$K2" SGID_PRIVATE_KEY_PREVIOUS_FILE="$K1" SGID_CLIENT_SECRET="$C2" LOG_LEVEL=debug
setup "the rotated configuration passes --check-config" \
  env -i -C "$T" PATH="$PATH" "$ROOT/build/sgid-fcgi" --env-file "$T/app.env" --check-config
old=$(f_pool_workers pool | tr '\n' ' ')
t0=$(f_now_ms)
kill -HUP "${STACK_PID[pool]}"
replaced=0
f_wait 20 "all workers replaced after the SIGHUP" f_pool_replaced pool "$N" "$old" && replaced=1
note "every worker replaced $(($(f_now_ms) - t0)) ms after the SIGHUP"
sleep 1

# sgID still encrypts to the old key: the previous key opens it
prev0=$(opened_with previous)
first=$(f_sessions_ok "$T/first.tsv")
prev1=$(opened_with previous)

# the new public key registered: sgID encrypts to the new key from now on
setup "the provider encrypts to the new key" \
  idp_client "$(jq -n --rawfile k "$ROOT/tests/fixtures/client-test-pub-2.pem" '{public_key: $k}')"
sleep 0.5   # a load login's userinfo sealed before the switch is opened by now
prev_sw=$(opened_with previous)
cur0=$(opened_with current)
second=$(f_sessions_ok "$T/second.tsv")
cur1=$(opened_with current)
prev2=$(opened_with previous)

# the old client secret revoked: logins go on with the new one
setup "the provider drops the old client secret" idp_client "{\"secrets\":[\"$C2\"]}"
sleep 3
touch "$T/stop"
wait "$load" || true
f_load logins --api "$API" --count 4 --concurrency 4 --prefix after --userinfo --out "$T/after.tsv" \
  --json "$T/after.json" >/dev/null || true
cached=$(f_sessions_ok "$T/cached.tsv")
violations=$(curl -fsS --max-time 5 "$IDP/__control/log" | jq '[.violations[] | select(.code == "client_secret")] | length')

note "load across the rotation: $(jq -c '{total, rps, by_status, unexpected, wrong}' "$T/load.json")"
note "userinfo opened with the previous key: $prev0 before the first set, $prev1 after it, $prev_sw at the switch, $prev2 after the second set; with the current key: $cur0 -> $cur1 for the second set"
check "SIGHUP with every secret rotated: all $N workers replaced" test "$replaced" -eq 1
check "0 failed requests across the rotation ($(jqv "$T/load.json" .unexpected) of $(jqv "$T/load.json" .total), $(jqv "$T/load.json" '.wrong // 0') with somebody else's data)" \
  test "$(jqv "$T/load.json" .unexpected)" -eq 0 -a "$(jqv "$T/load.json" '.wrong // 0')" -eq 0
logins=$(grep -c '"ep":"login.redirect"' "$T/load.ndjson" || true)
check "the load logged in through the provider meanwhile ($logins logins)" test "${logins:-0}" -gt 0
check "sessions logged in before, profile cached, after it: $cached" test "$cached" == "$PER_SET/$PER_SET"
check "sessions logged in before, first userinfo after the rotation while sgID still encrypts to the old key: $first" \
  test "$first" == "$PER_SET/$PER_SET"
check "... opened with the previous key: $((prev1 - prev0)) userinfo meanwhile, the set's $PER_SET and the load's logins" \
  test $((prev1 - prev0)) -ge "$PER_SET"
check "sessions logged in before, first userinfo after sgID moved to the new key: $second" \
  test "$second" == "$PER_SET/$PER_SET"
check "... opened with the current key: $((cur1 - cur0)) userinfo meanwhile; none with the previous one ($((prev2 - prev_sw)))" \
  test $((cur1 - cur0)) -ge "$PER_SET" -a "$prev2" -eq "$prev_sw"
check "new logins with only the new client secret accepted: $(jq -c '{outcomes, userinfo}' "$T/after.json")" \
  test "$(jqv "$T/after.json" '.outcomes["logged-in"] // 0')" -eq 4 -a "$(jqv "$T/after.json" '.userinfo["200"] // 0')" -eq 4
check "the provider saw no wrong client secret ($violations)" test "$violations" -eq 0
check "generation 1 reached, no worker crashed" \
  test "$(f_log_count pool 'configuration reloaded \(generation 1,')" -eq 1 -a "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0
