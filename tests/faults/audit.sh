#!/usr/bin/env bash
# (l) The audit log (issue 13) on the real stack: nginx, a pool of 2 workers,
# MockPass, AUDIT_LOG to a file; the test's clients on loopback (nginx's
# REMOTE_ADDR: 127.0.0.1 or ::1, whichever `localhost` gave the client) stand
# for a load balancer in TRUSTED_PROXIES.
# A login, userinfo, a logout, the old cookie again, two failed logins: the
# file holds exactly the expected events, once each, each line one JSON
# object; the client is the untrusted hop of X-Forwarded-For; no cookie,
# token, code, secret or profile value in it. Then logrotate's way: mv +
# SIGHUP to the workers (they reopen; fd-0 mode does the same), mv + SIGHUP
# to the supervisor (a reload: new workers open it afresh): the next events
# land in the new file, none in the moved one.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin audit

AUDIT=$STACK_RT/audit.log
f_stack mockpass 2 "AUDIT_LOG=$AUDIT" "TRUSTED_PROXIES=127.0.0.1,::1"
T=$STACK_RT
NAME=$(f_mockpass_name)
SECRET=$(sed -n 's/^SGID_CLIENT_SECRET=//p' "$ROOT/tests/fixtures/mockpass.env")
UA='audit-test/1.0 "quoted" <b>'

# events FILE: "event outcome cause sub client" per line, in order; a client
# on either loopback address is "loopback".
events() {
  jq -r '[.event, .outcome, (.cause // "-"), (.sub // "-"),
    (.client | if . == "127.0.0.1" or . == "::1" then "loopback" else . end)] | join(" ")' "$1"
}
count() { grep -c -- "\"event\":\"$2\"" "$1" || true; }
lines() { wc -l <"$1"; }
mark() { lines "$AUDIT"; }
# since N: the lines after the first N.
since() { tail -n +"$(($1 + 1))" "$AUDIT"; }

setup "the audit file exists, mode 0640" test "$(stat -c %a "$AUDIT")" == 640

# ---- a login, userinfo, logout, the old cookie again -----------------------------
f_load logins --api "$API" --count 1 --prefix audit --userinfo --expect-name "$NAME" \
  --out "$T/login.tsv" >/dev/null
read -r cookie _ sub < <(head -n1 "$T/login.tsv")
setup "one login made" test -n "$cookie"
code=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$cookie")
check "userinfo of the session: 200 ($code)" test "$code" == 200
m=$(mark)
code=$(f_status "$API/api/logout" -X POST -H "Cookie: $COOKIE=$cookie" -A "$UA" \
  -H 'X-Forwarded-For: 6.6.6.6, 198.51.100.7')
check "logout: 200 ($code)" test "$code" == 200
since "$m" >"$T/logout.jsonl"
check "logout: one line, event logout, outcome success, the session's sub: $(events "$T/logout.jsonl")" \
  test "$(events "$T/logout.jsonl")" == "logout success - $sub 198.51.100.7"
check "logout: the agent as sent (escaped, not truncated)" \
  test "$(jq -r .user_agent "$T/logout.jsonl")" == "$UA"
check "logout: a request id" jq -e '.request_id | test("^[A-Za-z0-9._-]{1,64}$")' "$T/logout.jsonl"
code=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$cookie")
check "the old cookie: 401 ($code)" test "$code" == 401

# ---- failed logins ---------------------------------------------------------------
code=$(f_status "$API/api/redirect?code=made-up-code-1234&state=made-up-state-5678")
check "callback without an attempt: 302 ($code)" test "$code" == 302
attempt=$(curl -s -D - -o /dev/null "$API/api/auth-url?icecream=x" |
  sed -n "s/^[Ss]et-[Cc]ookie: $COOKIE=\([^;]*\).*/\1/p" | tr -d '\r')
setup "an attempt cookie" test -n "$attempt"
code=$(f_status "$API/api/redirect?code=another-code-9876&state=wrong-state" -H "Cookie: $COOKIE=$attempt")
check "callback with the wrong state: 302 ($code)" test "$code" == 302
# anonymous: no audit
f_status "$API/api/userinfo" >/dev/null
f_status "$API/api/userinfo" -H "Cookie: $COOKIE=junk" >/dev/null
f_status "$API/api/logout" -X POST >/dev/null
f_status "$API/api/logout" -X POST -H "Cookie: $COOKIE=junk" >/dev/null
f_status "$API/api/health" >/dev/null

events "$AUDIT" >"$T/events.txt"
want="login_success success - $sub loopback
logout success - $sub 198.51.100.7
session_expired denied - - loopback
login_failure failure attempt_expired - loopback
login_failure failure state_mismatch - loopback"
check "exactly the expected events, once each, in order: $(tr '\n' '|' <"$T/events.txt")" \
  test "$(cat "$T/events.txt")" == "$want"
check "every line is one JSON object" \
  test "$(jq -c 'select(type == "object")' "$AUDIT" | wc -l)" -eq "$(lines "$AUDIT")"
check "every time is RFC 3339 UTC" \
  test "$(jq -r '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")' "$AUDIT" | sort -u)" == true

no_secrets() {
  local f=$1 s
  for s in "$cookie" "$attempt" "$SECRET" "$NAME" made-up-code-1234 another-code-9876 made-up-state-5678 \
    wrong-state eyJ myinfo access_token; do
    [[ -n $s ]] || continue
    if grep -qF -- "$s" "$f"; then echo "found in $f: ${s:0:12}..." >&2; return 1; fi
  done
}
check "no cookie, code, state, token, client secret or profile value in it" no_secrets "$AUDIT"

# ---- logrotate: mv + SIGHUP --------------------------------------------------------
pids=$(f_pool_workers pool | sort | tr '\n' ' ')
mv "$AUDIT" "$AUDIT.1"
# shellcheck disable=SC2086
kill -HUP $pids
f_wait 5 "the workers reopen the file" test -e "$AUDIT" || true
check "SIGHUP to the workers: the file is there again, mode 0640" test "$(stat -c %a "$AUDIT" 2>/dev/null)" == 640
check "the workers were not replaced" test "$(f_pool_workers pool | sort | tr '\n' ' ')" == "$pids"
n1=$(lines "$AUDIT.1")
for i in 1 2 3 4; do  # 4 callbacks: both workers answer one, most likely
  f_status "$API/api/redirect?code=rot-$i&state=x" >/dev/null
done
check "the next events land in the new file ($(count "$AUDIT" login_failure) of 4)" \
  test "$(count "$AUDIT" login_failure)" -eq 4
check "none in the moved one" test "$(lines "$AUDIT.1")" -eq "$n1"

mv "$AUDIT" "$AUDIT.2"
kill -HUP "${STACK_PID[pool]}"
replaced() { [[ $(f_pool_workers pool | sort | tr '\n' ' ') != "$pids" ]] && test -e "$AUDIT"; }
f_wait 15 "a new generation of workers" replaced || true
check "SIGHUP to the supervisor (reload): the new workers opened a new file" test -e "$AUDIT"
f_wait 15 "old workers gone" f_pool_has pool 2 || true
n2=$(lines "$AUDIT.2")
f_load logins --api "$API" --count 1 --prefix rot --userinfo --out "$T/login2.tsv" >/dev/null
read -r _ _ sub2 < <(head -n1 "$T/login2.tsv")
check "after the reload: the login in the new file" \
  test "$(events "$AUDIT")" == "login_success success - $sub2 loopback"
check "nothing more in the moved one" test "$(lines "$AUDIT.2")" -eq "$n2"
check "the pool's log warns of no dropped event" test "$(f_log_count pool 'audit: event dropped')" -eq 0
