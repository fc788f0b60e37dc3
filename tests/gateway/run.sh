#!/usr/bin/env bash
# Gateway-mode suite (`make gateway`, issue 12): sgid-fcgi as the login
# gateway in front of an app that knows nothing about sgID, with the shipped
# examples and the real servers:
#
#   redis-server  private, unix socket only
#   MockPass      127.0.0.1:5156, logs the persona in without a page
#   sgid-fcgi     the supervised pool (sgid-fcgi --listen, 2 workers x 8 threads)
#   [nginx]       deploy/gateway/nginx.conf.example on :5001, in front of
#                 tests/gateway/app.js on 127.0.0.1:5180 (auth_request)
#   [lighttpd]    deploy/gateway/lighttpd.conf.example on :5001, in front of
#                 tests/gateway/app.cgi (FastCGI authorizer + mod_cgi), and
#                 of app.js under /protected/ws/ (mod_proxy, WebSockets)
#   hostile-idp   127.0.0.1:5157, for the last part (tests/hostile-idp)
#
# For each front end, driven with curl as a browser (navigations send
# Accept: text/html and Sec-Fetch-Mode: navigate, fetches Accept:
# application/json and Sec-Fetch-Mode: cors):
#   - a navigation to /protected/page?x=1&y=2 without a session: 302 to
#     /api/login?rd=... -> MockPass -> /api/redirect -> 302 back to exactly
#     that URL, where the app sees the persona's sub and name; forged identity
#     headers sent along never reach the app;
#   - a fetch without a session: 401, no Location, the app not reached; the
#     same for Accept: text/html with Sec-Fetch-Mode: cors (Sec-Fetch-Mode
#     decides when sent); a navigation to a URI too long for a return URL:
#     302 to /api/login?rd=%2F;
#   - a logged-in client sending its own X-Sgid-* (nginx) or Variable-SGID_* /
#     Sgid-Sub (lighttpd) headers: the app gets only the real identity;
#   - /api/logout?rd=/bye: 302 /bye, the cookie cleared, the session gone in
#     Redis (the old cookie sent again is refused);
#   - every session deleted in Redis (FLUSHDB): login again; a session past
#     SESSION_TTL_SECONDS (3 s, a pool restarted for it): login again;
#   - Redis down: a 5xx, never the app;
#   - [nginx] the open-redirect suite: 61 hostile rd values sent to
#     /api/login and /api/logout: 400, no Set-Cookie, no Location, and the
#     logged-in session survives the refused logouts; accepted values beside
#     them (so the suite can tell a refusal from a broken endpoint); the
#     per-client rate limit on /api/login;
#   - [lighttpd] the same per-client rate limit on /api/login, from
#     deploy/lighttpd-ratelimit.lua (mod_magnet);
#   - access rules (issue 23), per front end: each kind of rule (exact,
#     list, has, a JSON path into pocdex, the sub allowlist, and/or, a
#     malformed one) allows and refuses the right one of two MockPass
#     personas (S9812379B: a Work Allocation Singapore officer, PR; S9912370B:
#     a citizen, no pocdex): 200 from the app, or 403 with the example's
#     page and the app not reached, or 500, each outcome counted once in
#     the pool's metrics and the refusal audited (access_denied, the rule's
#     name, no sub); /agency/ and /admin/ on one
#     server never take each other's rule; a client's Sgid-Require header
#     changes nothing; the allowlist file is read again on the pool's
#     reload (SIGHUP); a rule changed in nginx.conf takes effect on `nginx -s
#     reload`, in lighttpd.conf on a graceful restart (SIGUSR1), the pool
#     untouched; WebSockets (nginx; lighttpd's mod_proxy under
#     /protected/ws/): an upgrade without a session is a 401 (no Location),
#     with one the echo upstream (app.js) sees the identity headers and not
#     the session cookie, and a refused or forged one is a 403;
#   - the pool restarted against tests/hostile-idp: profiles no MockPass
#     persona has (pocdex values, look-alikes, broken JSON, fixed subs)
#     against eight more rules, through nginx and lighttpd;
#   - [nginx] tests/gateway/browser.js: headless Chromium logs in at MockPass's
#     persona page, reloads, fetches, logs out (screenshots in
#     tests/artifacts/gateway/; GATEWAY_BROWSER=0 leaves it out).
#
# Uses ports 5001, 5156, 5157 and 5180 (5001 and 5156 like `make run`: one at a
# time; `make gateway` runs it in a private network namespace). Output: TAP
# lines "ok - [FRONT] NAME", last "gateway: N passed, N failed"; exit 1 on any
# failure (logs printed, runtime dir kept). Every wait is bounded; past
# GATEWAY_BUDGET seconds (260) the remaining requests fail at once.
#
# Checks pass their conditions as single-quoted strings for eval, on purpose.
# shellcheck disable=SC2016
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$root/deploy/stack-lib.sh"
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"

GW=http://localhost:$API_PORT     # the gateway: API and app on one origin
APP_PORT=5180                     # tests/gateway/app.js (behind nginx)
COOKIE=exampleAppSession
NRIC=S9812379B                    # a MockPass persona with MyInfo data
PROT='/protected/page?x=1&y=2'    # the protected URL the browser asks for
LONG_PROT=/protected/$(printf 'x%.0s' {1..1100})   # too long for a return URL
ALLOWED_HTTPS=https://app.example.test   # in SGID_ALLOWED_RETURN_ORIGINS
ERROR_URL=$GW/public/login-failed        # SGID_GATEWAY_ERROR_URL
TTL_SHORT=3                       # SESSION_TTL_SECONDS of the expiry case
BUDGET=${GATEWAY_BUDGET:-260}
DEADLINE=$((SECONDS + BUDGET))

finish() {
  stack_tap_finish gateway "$?" 80 app.log nginx.log nginx/logs/error.log nginx/logs/access.log \
    lighttpd.log upstream.log mockpass.log idp.log redis.log
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_tap_preflight "curl jq node python3 redis-server redis-cli nginx lighttpd setpriv" \
  "$API_PORT" "$MOCKPASS_PORT" "$APP_PORT" 5157
NAME=$(stack_persona_name "$NRIC") || setup "MockPass is installed (make deps)" false

stack_init sgid-gateway
T=$STACK_RT/t
mkdir -p "$T"
# shellcheck source=tests/http-lib.sh
. "$root/tests/http-lib.sh"
# The failing request without its query (the callback's carries the code).
tap_detail() { local LAST=${LAST%%\?*}; last_response; }

# ---- configuration ------------------------------------------------------------

unset "${!SGID_@}" REDIS_URL SESSION_COOKIE_NAME COOKIE_SAMESITE COOKIE_SECURE \
  LOGIN_TTL_SECONDS SESSION_TTL_SECONDS SESSION_IDLE_SECONDS SESSION_SECRET
export REDIS_URL="unix://$STACK_RT/redis.sock"
export SGID_PRIVATE_KEY_FILE=$root/tests/fixtures/client-test-key.pem
export LOG_LEVEL=debug
# The gateway's own origin (http: loopback) and a foreign https one.
export SGID_ALLOWED_RETURN_ORIGINS="$GW,$ALLOWED_HTTPS"
export SGID_GATEWAY_ERROR_URL=$ERROR_URL
# One more field than the default, so a third header/variable is in play;
# and the fields the access rules read (issue 23).
export SGID_SCOPES="openid myinfo.name myinfo.nric_number myinfo.nationality myinfo.residentialstatus pocdex.public_officer_details"
# The allowlist "sub in @admins" reads: empty until a test writes a sub
# into it and reloads the pool.
ADMINS=$STACK_RT/admins.txt
: >"$ADMINS"
chmod 0644 "$ADMINS"
export SGID_ALLOWLISTS="admins=$ADMINS"
# The pool's counters on a socket of their own (the access rules' outcomes);
# its audit log goes to stderr, app.log (AUDIT_LOG's default).
STACK_APP_ARGS=(--env-file "$root/tests/fixtures/mockpass.env" --threads 8
  --metrics-listen "unix:$STACK_RT/metrics.sock")

STACK_NGINX_EXAMPLE=$root/deploy/gateway/nginx.conf.example
# The test's own rules, one location each (/protected/rule-KIND/), beside
# the example's /agency/ and /admin/: name|rule|S9812379B|S9912370B (the
# statuses each persona gets).
RULES=(
  'exact|myinfo.nationality = "SINGAPORE CITIZEN"|403|200'
  'list|myinfo.residentialstatus in ["PR", "FOREIGNER"]|200|403'
  'has|has pocdex.public_officer_details|200|403'
  'either|myinfo.nationality = "SINGAPORE CITIZEN" or has pocdex.public_officer_details|200|200'
  'both|(myinfo.nationality = "SINGAPORE CITIZEN") and has pocdex.public_officer_details|403|403'
  'broken|myinfo.name = |500|500'
  'nolist|sub in @nobody or has myinfo.name|500|500'
)
# Rules for the hostile provider's profiles (hostile_rules, below), one
# location each too: name|rule|the status of each profile of HPROFILES, in
# its order. The JSON path ones read pocdex.public_officer_details as sgID
# sends it: a string holding a JSON array of positions.
POCDEX=pocdex.public_officer_details
HRULES=(
  "h-sub|sub = \"u=hostile-fixed-officer\"|200 403 403 403 403 403"
  "h-sublist|sub in [\"u=hostile-nobody\", \"u=hostile-fixed-boss\"]|403 403 403 403 200 403"
  "h-any|$POCDEX/*/agency_name = \"GovTech\"|200 403 403 403 200 403"
  "h-in|$POCDEX/*/agency_name in [\"GovTech\", \"Ministry of Manpower\"]|200 200 403 403 200 200"
  "h-index|$POCDEX/1/agency_name = \"GovTech\"|200 403 403 403 403 403"
  "h-haspath|has $POCDEX/*/work_email|200 403 403 403 403 403"
  "h-has|has myinfo.email|200 403 403 200 403 403"
  "h-andor|$POCDEX/*/agency_name = \"GovTech\" and has myinfo.email or sub = \"u=hostile-fixed-boss\"|200 403 403 403 200 403"
)
rule_field() { local IFS='|'; local -a f; read -r -a f <<<"$1"; printf '%s' "${f[$2]}"; }
for r in "${RULES[@]}" "${HRULES[@]}"; do
  printf "        %s '%s';\n" "$(rule_field "$r" 0)" "$(rule_field "$r" 1)"
done >"$STACK_RT/nginx-rules.conf"
# "unmapped": a location naming a rule the map does not hold (its default)
for name in $(for r in "${RULES[@]}" "${HRULES[@]}"; do rule_field "$r" 0; echo; done) unmapped; do
  cat <<EOF
        location /protected/rule-$name/ {
            auth_request /.sgid/auth/$name;
            auth_request_set \$sgid_sub \$upstream_http_x_sgid_sub;
            error_page 401 = @sgid_login;
            error_page 403 @sgid_forbidden;
            proxy_set_header X-Sgid-Sub \$sgid_sub;
            proxy_set_header Cookie "";
            proxy_pass http://127.0.0.1:$APP_PORT;
        }
EOF
done >"$STACK_RT/nginx-locations.conf"
STACK_NGINX_SED=(-e "/^        admins  'sub in @admins';/r $STACK_RT/nginx-rules.conf"
  -e "/^        # ---- Your app, with an access rule per location/r $STACK_RT/nginx-locations.conf"
  -e "s#127.0.0.1:8080#127.0.0.1:$APP_PORT#g")
STACK_LIGHTTPD_EXAMPLE=$root/deploy/gateway/lighttpd.conf.example
STACK_WEB_PROBE_URL=$GW/api/health
# The CGI app in a directory of its own that lighttpd's user can run it from,
# and its request log beside it (app.cgi writes one only if it exists).
CGI_DIR=$STACK_RT/cgi-app
mkdir -p "$CGI_DIR"
install -m 0755 "$root/tests/gateway/app.cgi" "$CGI_DIR/app.cgi"
: >"$CGI_DIR/requests.log"
[[ -z $STACK_WEB_USER ]] || chown -R "$STACK_WEB_USER:" "$CGI_DIR"
# lighttpd_rule PATH_REGEX NAME RULE: one setenv block
lighttpd_rule() {
  printf '$HTTP["url"] =~ "%s" {\n    setenv.add-environment = ( "SGID_REQUIRE" => "%s", "SGID_REQUIRE_NAME" => "%s" )\n}\n' \
    "$1" "${3//\"/\\\"}" "$2"
}
for r in "${RULES[@]}" "${HRULES[@]}"; do
  lighttpd_rule "^/protected/rule-$(rule_field "$r" 0)/" "$(rule_field "$r" 0)" "$(rule_field "$r" 1)"
done >"$STACK_RT/lighttpd-rules.conf"
# the example's agency rule on the WebSocket app's path too (websockets)
lighttpd_rule "^/protected/ws/agency/" ws-agency \
  'pocdex.public_officer_details/*/agency_name = "Work Allocation Singapore"' >>"$STACK_RT/lighttpd-rules.conf"
ERRDOC=$(stack_web_path "$root/deploy/gateway/status-403.html")
STACK_LIGHTTPD_SED=(-e "/^# ---- Who may enter which location/r $STACK_RT/lighttpd-rules.conf"
  -e "s#/usr/share/sgid-fcgi/gateway/status-#${ERRDOC%403.html}#g"
  -e "s#/usr/lib/sgid-gateway-app#$CGI_DIR#g"
  -e "s#/usr/share/sgid-fcgi/lighttpd-cookie.lua#$(stack_web_path "$root/deploy/gateway/lighttpd-cookie.lua")#g"
  -e "s#/usr/share/sgid-fcgi/lighttpd-identity.lua#$(stack_web_path "$root/deploy/gateway/lighttpd-identity.lua")#g"
  -e "s#\"port\" => 8080#\"port\" => $APP_PORT#g")
UPSTREAM_LOG=$STACK_RT/upstream-requests.log
: >"$UPSTREAM_LOG"

app_up() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$APP_PORT/__health"; }

setup "start redis-server" stack_start_redis
setup "start MockPass" stack_start_mockpass false "$NRIC"
setup "start the pool (sgid-fcgi --listen, 2 workers x 8 threads)" stack_start_pool 2 "$STACK_RT"
stack_bg upstream "$STACK_RT/upstream.log" env GATEWAY_APP_PORT="$APP_PORT" \
  GATEWAY_APP_LOG="$UPSTREAM_LOG" node "$root/tests/gateway/app.js"
setup "start the protected app (tests/gateway/app.js)" \
  stack_wait_until 15 "app.js (log: $STACK_RT/upstream.log)" "${STACK_PID[upstream]}" app_up

# ---- requests -------------------------------------------------------------------

JAR=$T/jar
NAV_HDRS=(-H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
  -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Dest: document')
XHR_HDRS=(-H 'Accept: application/json' -H 'Sec-Fetch-Mode: cors' -H 'Sec-Fetch-Dest: empty')
# nav URL [curl args]: a browser's top-level navigation with the jar.
nav() { http GET "$1" -b "$JAR" -c "$JAR" "${NAV_HDRS[@]}" "${@:2}"; }
# xhr METHOD URL [curl args]: a script's fetch with the jar.
xhr() { http "$1" "$2" -b "$JAR" -c "$JAR" "${XHR_HDRS[@]}" "${@:3}"; }

# abs LOCATION: an absolute URL (a relative Location is on the gateway's origin).
abs() { if [[ $1 == /* ]]; then printf '%s%s' "$GW" "$1"; else printf '%s' "$1"; fi; }
# pathq URL: its path and query (what a browser asks the origin for).
pathq() {
  node -e 'try { const u = new URL(process.argv[1], "http://x.invalid");
    process.stdout.write(u.pathname + u.search) } catch (e) { process.exit(1) }' "$1"
}
# is_login_redirect TARGET: the last response is a 302 to /api/login whose
# rd is TARGET, on the gateway's origin.
is_login_redirect() {
  local loc
  loc=$(abs "$(hdr location)")
  is 302 && [[ $loc == "$GW/api/login?"* && $(qparam "$loc" rd) == "$1" ]]
}
no_location() { [[ -z $(hdr location) ]]; }
no_set_cookie() { [[ -z $(hdr_all set-cookie) ]]; }
session_sid() { awk -v c="$COOKIE" '$6 == c { v = $7 } END { printf "%s", v }' "$JAR" 2>/dev/null; }

# What the app received: its request log (one JSON line per request).
APP_LOG=$UPSTREAM_LOG
app_count() { wc -l <"$APP_LOG"; }
app_last() { tail -n1 "$APP_LOG"; }
# app_saw JQ VALUE: the app's last request has JQ == VALUE.
app_saw() { [[ $(app_last | jq -r "$1" 2>/dev/null) == "$2" ]]; }
# The app got nothing since N (it logs before answering: no wait needed).
app_untouched() { (($(app_count) == $1)); }

SUB=""   # the default persona's sub, from /api/userinfo at its first login

# persona_assert_url NRIC: from MockPass's persona page in $T/b, the URL its
# button for NRIC goes to (the callback with a code for that persona).
persona_assert_url() {
  node -e 'const html = require("fs").readFileSync(process.argv[1], "utf8");
    const unesc = (s) => s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot);/gi, (m, e) =>
      e[0] === "#" ? String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : +e.slice(1))
        : { amp: "&", lt: "<", gt: ">", quot: "\"" }[e.toLowerCase()]);
    for (const m of html.matchAll(/<option value="([^"]*)" data-asserturl="([^"]*)"/g))
      if (m[1].split(" ")[0] === process.argv[2]) { process.stdout.write(unesc(m[2])); process.exit(0) }
    process.exit(1)' "$T/b" "$1"
}

# login TAG [NRIC]: from a navigation to $PROT without a session, through
# MockPass (as NRIC, picked on its persona page; else its default persona),
# back to $PROT, logged in. Forged identity headers ride along on the first
# request and must not reach the app. Sets the session in $JAR.
login() {
  local tag=$1 nric=${2:-} pname=$NAME psub n loc authz cb
  [[ -z $nric ]] || pname=$(stack_persona_name "$nric") || pname="?"
  n=$(app_count)
  nav "$GW$PROT"
  check "$tag: navigation without a session: 302 to /api/login?rd=$PROT" is_login_redirect "$PROT"
  check "$tag: ... and the app was not reached" app_untouched "$n"
  loc=$(abs "$(hdr location)")
  nav "$loc"
  authz=$(hdr location)
  check "$tag: /api/login: 302 to MockPass's authorize endpoint with a sealed attempt cookie" \
    eval 'is 302 && [[ $authz == "http://localhost:$MOCKPASS_PORT/v2/oauth/authorize?"* && -n $(set_cookie) ]]'
  if [[ -n $nric ]]; then
    nav "$authz" -H 'X-Show-Login-Page: true'
    cb=$(persona_assert_url "$nric" || true)
  else
    nav "$authz"
    cb=$(hdr location)
  fi
  check "$tag: MockPass${nric:+ (persona $nric picked)}: on to $GW/api/redirect" eval '[[ $cb == "$GW/api/redirect?"* ]]'
  nav "$cb"
  check "$tag: callback: 302 back to exactly $GW$PROT, a session cookie set" \
    eval 'is 302 && [[ $(hdr location) == "$GW$PROT" && -n $(set_cookie) ]] && ! cleared'
  n=$(app_count)
  nav "$GW$PROT"
  check "$tag: $PROT: 200 from the app, which greets $pname" \
    eval 'is 200 && grep -qF "Hello, $pname" "$T/b" && ! app_untouched "$n"'
  check "$tag: the app saw the path and query unchanged" app_saw .uri "$PROT"
  xhr GET "$GW/api/userinfo"
  psub=$(jq -r '.sub // empty' "$T/b" 2>/dev/null || true)
  check "$tag: /api/userinfo on the gateway session: 200, sub u=<uuid>, the persona's name" \
    eval 'is 200 && [[ $psub =~ ^u=[0-9a-f-]{36}$ ]] && json_is ".data[\"myinfo.name\"]" "$pname"'
  [[ -n $nric || -n $SUB ]] || SUB=$psub
  check "$tag: the app saw the persona's sub and name" \
    eval 'app_saw .identity.sub.value "$psub" && app_saw .identity.name.value "$pname"'
}
json_is() { [[ $(jq -r "$1" "$T/b" 2>/dev/null) == "$2" ]]; }

# ---- the cases, for one front end ---------------------------------------------

# cases FRONT: everything but the expiry (which needs its own pool).
cases() {
  local front=$1 n old_sid loc
  rm -f "$JAR"

  n=$(app_count)
  xhr GET "$GW/protected/data.json"
  check "fetch without a session: 401, no Location" eval 'is 401 && no_location'
  xhr POST "$GW/protected/form" --data-binary 'a=1&b=2'
  check "POST with a body without a session: 401 at once (the auth check takes no body)" \
    eval 'is 401 && no_location'
  http GET "$GW/protected/data.json"
  check "curl's own Accept: */* (not a navigation): 401, no Location" eval 'is 401 && no_location'
  http GET "$GW$PROT" -H 'Accept: text/html'
  check "Accept: text/html without Sec-Fetch-* (an older browser): 302 to the login" is_login_redirect "$PROT"
  http GET "$GW$PROT" -H 'Accept: text/html' -H 'Sec-Fetch-Mode: cors' -H 'Sec-Fetch-Dest: empty'
  check "Accept: text/html with Sec-Fetch-Mode: cors (a script asking for HTML): 401, no Location" \
    eval 'is 401 && no_location'
  nav "$GW$LONG_PROT"
  check "navigation to /protected/ + 1100 x (no return URL: too long): 302 to exactly /api/login?rd=%2F" \
    eval 'is_login_redirect / && [[ $(abs "$(hdr location)") == "$GW/api/login?rd=%2F" ]]'
  http HEAD "$GW$PROT" -I "${NAV_HDRS[@]}"
  check "HEAD navigation without a session: 302 to the login" is_login_redirect "$PROT"
  http POST "$GW/protected/form" "${NAV_HDRS[@]}" --data-binary 'a=1'
  check "a form POST navigation without a session: 401, no Location (only GET and HEAD go to the login)" \
    eval 'is 401 && no_location'
  http GET "$GW$PROT" -H 'Accept: text/html;q=0.9, application/json'
  check "Accept: text/html;q=0.9, application/json (JSON preferred): 401, no Location" eval 'is 401 && no_location'
  check "none of these reached the app" app_untouched "$n"

  login "login"
  app_identity_only_real "logged in"

  # The session works for scripts too.
  xhr GET "$GW/protected/data.json"
  check "fetch with the session: 200 JSON, the real sub" \
    eval 'is 200 && json_is .identity.sub.value "$SUB" && json_is .identity.name.value "$NAME"'
  xhr POST "$GW/protected/form" --data-binary 'a=1&b=2'
  check "POST with a body with the session: 200 from the app" eval 'is 200 && json_is .method POST'
  if [[ $front == nginx ]]; then
    n=$(app_count)
    nav "$GW/public/hello"
    check "/public/ (no login needed): 200, no identity header" \
      eval 'is 200 && ! app_untouched "$n" && app_saw ".headers | length" 0'
  else
    n=$(app_count)
    nav "$GW/public/hello" "${LOOKALIKE[@]}"
    check "/public/ (the authorizer's public scope) with look-alike headers: 200, no SGID_* variable set" \
      eval 'is 200 && ! app_untouched "$n" && app_saw "[.env | keys[] | select(startswith(\"SGID_\"))] | length" 0'
  fi
  app_cookies "$front"
  forgeries_refused
  dot_segments

  # ---- cross-site requests end no session ------------------------------------------
  nav "$GW/api/logout?rd=/bye" -H 'Sec-Fetch-Site: cross-site'
  check "a cross-site navigation to /api/logout (Sec-Fetch-Site: cross-site): 403, no Set-Cookie" \
    eval 'is 403 && no_set_cookie && no_location'
  nav "$GW/api/login?rd=%2Fprotected%2Fq" -H 'Sec-Fetch-Site: cross-site'
  check "a cross-site /api/login with a live session: 302 on to rd, no Set-Cookie" \
    eval 'is 302 && [[ $(abs "$(hdr location)") == "$GW/protected/q" ]] && no_set_cookie'
  xhr GET "$GW/api/auth-url" -H 'Sec-Fetch-Site: cross-site' -H 'Origin: https://evil.example'
  check "a cross-site fetch of /api/auth-url from another origin: 403, no Set-Cookie" \
    eval 'is 403 && no_set_cookie'
  n=$(app_count)
  nav "$GW$PROT"
  check "... and the session lives on: $PROT 200 as the persona" \
    eval 'is 200 && app_saw .identity.sub.value "$SUB"'

  # ---- logout -----------------------------------------------------------------
  old_sid=$(session_sid)
  nav "$GW/api/logout?rd=/bye" -H 'Sec-Fetch-Site: same-origin'
  loc=$(hdr location)
  check "/api/logout?rd=/bye (a link on the site, Sec-Fetch-Site: same-origin): 302 to /bye on the gateway, the cookie cleared" \
    eval 'is 302 && [[ $loc == /bye || $loc == "$GW/bye" ]] && cleared'
  n=$(app_count)
  nav "$GW$PROT"
  check "after logout: navigation 302 to the login again" is_login_redirect "$PROT"
  xhr GET "$GW/protected/data.json"
  check "after logout: fetch 401" eval 'is 401 && no_location'
  http GET "$GW/protected/data.json" "${XHR_HDRS[@]}" -H "Cookie: $COOKIE=$old_sid"
  check "after logout: the old session cookie sent again: 401 (deleted in Redis)" eval '[[ -n $old_sid ]] && is 401'
  check "after logout: the app was not reached" app_untouched "$n"

  # ---- the session deleted in Redis ---------------------------------------------
  login "login again"
  setup "redis-cli FLUSHDB" eval '[[ $(redis-cli -s "$STACK_RT/redis.sock" FLUSHDB) == OK ]]'
  n=$(app_count)
  nav "$GW$PROT"
  check "every session deleted in Redis (FLUSHDB): navigation 302 to the login" is_login_redirect "$PROT"
  xhr GET "$GW/protected/data.json"
  check "... and a fetch 401" eval 'is 401 && no_location'
  check "... the app not reached" app_untouched "$n"
  login "login after FLUSHDB"

  # ---- a name that needs encoding --------------------------------------------------
  # MockPass's persona S6005053H is named "MY,INFO%BB": '%' is sent as %25
  # (the field's value percent-encoded), ',' as is.
  rm -f "$JAR"
  login "persona S6005053H" S6005053H
  check "persona S6005053H: the name reached the app as MY,INFO%25BB (percent-encoded)" \
    app_saw .identity.name.raw 'MY,INFO%25BB'
  nav "$GW/api/logout?rd=/bye"

  # ---- a failed login ------------------------------------------------------------
  rm -f "$JAR"
  nav "$GW/api/login?rd=%2Fprotected%2Fx"
  nav "$GW/api/redirect?code=not-a-code&state=not-the-state"
  check "a gateway login's callback that fails (state mismatch): 302 to SGID_GATEWAY_ERROR_URL" \
    eval 'is 302 && [[ $(hdr location) == "$ERROR_URL" ]]'
  nav "$GW$PROT"
  check "... and no session: the protected page 302 to the login" is_login_redirect "$PROT"

  # ---- Redis down: closed, not open -----------------------------------------------
  login "before Redis stops"
  stack_stop redis
  n=$(app_count)
  nav "$GW$PROT"
  check "Redis down, a session cookie sent: a 5xx, not the app (the gateway fails closed)" \
    eval '[[ $CODE == 5?? ]] && app_untouched "$n"'
  setup "restart redis-server" stack_start_redis
  setup "the API is healthy again" stack_wait_until 15 "health with Redis back" - stack_api_up
}

# app_identity_only_real TAG: a logged-in request; the app got exactly one
# copy of each identity field, the real one. Through lighttpd look-alike
# headers (not X-Sgid-*) ride along: they reach the app as HTTP_* only.
app_identity_only_real() {
  local n
  n=$(app_count)
  nav "$GW$PROT" "${LOOKALIKE[@]}"
  check "$1${LOOKALIKE:+, look-alike headers sent}: 200 from the app" eval 'is 200 && ! app_untouched "$n"'
  check "$1: the app's identity is the real sub and name" \
    eval 'app_saw .identity.sub.value "$SUB" && app_saw .identity.name.value "$NAME"'
  if [[ $APP_LOG == "$UPSTREAM_LOG" ]]; then
    check "$1: one copy of X-Sgid-Sub and of X-Sgid-Myinfo-Name, each real" \
      eval 'app_saw "[.headers[\"x-sgid-sub\"], .headers[\"x-sgid-myinfo-name\"]] | map(length) | join(\",\")" "1,1"'
  else
    check "$1: no SGID_* variable holds a forgery" \
      app_saw "[.env | to_entries[] | select((.key | startswith(\"SGID_\")) and (.value | contains(\"$FORGERY\")))] | length" 0
    check "$1: the look-alike headers reached the app only as HTTP_* variables" \
      app_saw ".env.HTTP_VARIABLE_SGID_SUB | startswith(\"$FORGERY\")" true
  fi
}

# app_cookies FRONT (logged in): the Cookie header the app gets is the
# client's without the session cookie, every other pair byte for byte (issue
# 21, 1); with only the session cookie, no Cookie header at all.
app_cookies() {
  local sid entry label sent want path n
  sid=$(session_sid)
  local S="$COOKIE=$sid"
  local -a cases=(
    "$PROT|several, ours in the middle|a=1;  $S;  b=\"x y\"; my${COOKIE}x=2;${COOKIE}2=3|a=1;  b=\"x y\"; my${COOKIE}x=2;${COOKIE}2=3"
    "$PROT|ours first|$S; a=1|a=1"
    "$PROT|ours last|a=1;b=2; $S|a=1;b=2"
    "$PROT|ours twice, around another|$S; z=%41; $S|z=%41"
    "$PROT|ours only|$S|"
    "/public/c|several, ours in the middle|a=1;  $S;  b=\"x y\"; my${COOKIE}x=2|a=1;  b=\"x y\"; my${COOKIE}x=2"
    "/public/c|ours only|$S|"
    "/public/c|none of ours|x=1 ;y=2;  ${COOKIE}_old=3|x=1 ;y=2;  ${COOKIE}_old=3"
  )
  for entry in "${cases[@]}"; do
    IFS='|' read -r path label sent want <<<"$entry"
    n=$(app_count)
    http GET "$GW$path" "${NAV_HDRS[@]}" -H "Cookie: $sent"
    if [[ -n $want ]]; then
      check "cookies on $path, $label: the app's Cookie is the rest, byte for byte" \
        eval 'is 200 && ! app_untouched "$n" && app_saw ".cookie | length" 1 && app_saw ".cookie[0]" "$want"'
    else
      check "cookies on $path, $label: the app gets no Cookie header at all" \
        eval 'is 200 && ! app_untouched "$n" && app_saw ".cookie | length" 0'
    fi
    [[ $path != "$PROT" ]] || check "... and the session still counts: the app saw the persona" \
      app_saw .identity.sub.value "$SUB"
    [[ $1 == nginx ]] || check "... and no SGID_APP_COOKIE or SGID_GATEWAY variable reached the app" \
      app_saw '[.env | keys[] | select(. == "SGID_APP_COOKIE" or . == "SGID_GATEWAY")] | length' 0
    check "... and the session id is nowhere in what the app got" eval '! app_last | grep -qF -- "$sid"'
  done
}

# dot_segments (logged in): a path with a dot segment, sent raw (browsers
# never do), is refused before any app: "/public/..;/x" is /public/ to the
# web server and /x to an app that drops ";params" first (issue 21, 9).
dot_segments() {
  local p n
  for p in '/public/..;/protected/page' '/public/.;/../protected/page' \
    '/public/%2e%2E;x/protected/page' '/public/./page' '/public/a/../page' '/protected/..;/public/x'; do
    n=$(app_count)
    http GET "$GW$p" --path-as-is -b "$JAR" "${NAV_HDRS[@]}"
    check "dot segment, raw: $p: 400 or 403, the app not reached" \
      eval '[[ $CODE == 400 || $CODE == 403 ]] && app_untouched "$n"'
  done
  n=$(app_count)
  http GET "$GW/public/a..b/.well-known/x;y" --path-as-is -b "$JAR" "${NAV_HDRS[@]}"
  check "dots and ';' that are no dot segment (/public/a..b/.well-known/x;y): 200 from the app" \
    eval 'is 200 && ! app_untouched "$n"'
}

# forgeries_refused (logged in): a client's own X-Sgid-* header, in any
# spelling, listed in the config or not, never reaches the app: 403 on a
# guarded path (logged in or not) and on /public/ (issue 21, 2).
forgeries_refused() {
  local h path n who jar_arg
  for h in "${XSGID[@]}"; do
    for path in "$PROT" "/public/f"; do
      for who in "logged in" "no session"; do
        n=$(app_count)
        jar_arg=()
        [[ $who == "no session" ]] || jar_arg=(-b "$JAR")
        http GET "$GW$path" "${jar_arg[@]}" "${NAV_HDRS[@]}" -H "$h"
        check "forged '${h%%:*}' on $path ($who): 403, the app not reached" \
          eval 'is 403 && app_untouched "$n" && no_location && no_set_cookie'
      done
    done
  done
  # nginx drops a header with '_' in its name (ignore_invalid_headers);
  # lighttpd passes it as HTTP_X_SGID_SUB: refused
  n=$(app_count)
  http GET "$GW$PROT" -b "$JAR" "${NAV_HDRS[@]}" -H "X_Sgid_Sub: $FORGERY"
  check "forged 'X_Sgid_Sub' (underscores): refused, or dropped before the app" \
    eval '{ is 403 && app_untouched "$n"; } || { is 200 && ! app_last | grep -qF -- "$FORGERY"; }'
}

# ---- access rules (issue 23) -------------------------------------------------------

PERSONA_B=S9912370B   # a citizen without pocdex; S9812379B ($NRIC): an officer, PR
JAR_A=$T/jar-a
JAR_B=$T/jar-b

# as JAR URL [curl args]: a navigation with that persona's session.
as() { http GET "$2" -b "$1" "${NAV_HDRS[@]}" "${@:3}"; }
forbidden_page() { is 403 && grep -qF 'Access denied' "$T/b" && grep -qF 'not open to your account' "$T/b"; }
# expect JAR WHO PATH STATUS LABEL: one request, its status, the app reached
# exactly on 200 (and then as that persona).
expect() {
  local jar=$1 who=$2 path=$3 want=$4 label=$5 n sub
  # shellcheck disable=SC2034 # read by the eval'd conditions
  sub=$([[ $jar == "$JAR_A" ]] && printf '%s' "$SUB" || printf '%s' "$SUB_B")
  n=$(app_count)
  as "$jar" "$GW$path"
  case $want in
    200) check "$label: $who on $path: 200 from the app, as $who" \
           eval 'is 200 && ! app_untouched "$n" && app_saw .identity.sub.value "$sub"' ;;
    403) check "$label: $who on $path: 403 with the access-denied page, the app not reached" \
           eval 'forbidden_page && app_untouched "$n" && no_location && no_set_cookie' ;;
    *) check "$label: $who on $path: $want, the app not reached" \
           eval 'is "$want" && app_untouched "$n" && no_location' ;;
  esac
}
# pool_log_has TEXT: the pool's log holds TEXT (its threads log as they go).
pool_log_has() { grep -qF -- "$1" "$STACK_RT/app.log"; }
# admins_reload TEXT: the allowlist file becomes TEXT, then the pool reloads
# (SIGHUP: new workers read it) and the reload is logged.
admins_reload() {
  local reloads
  printf '%s' "$1" >"$ADMINS"
  reloads=$(grep -c 'configuration reloaded' "$STACK_RT/app.log" || true)
  kill -HUP "${STACK_PID[pool]}"
  setup "the pool reloads (SIGHUP) with the admins list: ${2}" \
    stack_wait_until 20 "the reload" - eval '(($(grep -c "configuration reloaded" "$STACK_RT/app.log") > reloads))'
}

# access_metric OUTCOME: sgid_fcgi_gateway_access_total{outcome=OUTCOME},
# summed over the pool's workers by its /metrics.
access_metric() {
  curl -fsS --max-time 5 --unix-socket "$STACK_RT/metrics.sock" http://metrics/metrics |
    awk -v k="sgid_fcgi_gateway_access_total{outcome=\"$1\"}" '$1 == k { v = $2 } END { printf "%d", v }'
}
# denied_audits RULE: the access_denied lines of the audit log (app.log) for RULE.
denied_audits() { grep -F '"event":"access_denied"' "$STACK_RT/app.log" | jq -c --arg r "$1" 'select(.rule == $r)' 2>/dev/null; }

# outcomes_counted: one request of each outcome, each counted once in the
# pool's metrics; the refusal audited with the rule's name and nothing of
# the user's (no sub, no profile value).
# shellcheck disable=SC2034 # a0 d0 e0 n0: read by the eval'd checks
outcomes_counted() {
  local a0 d0 e0 n0
  a0=$(access_metric allowed) d0=$(access_metric denied) e0=$(access_metric rule_error)
  n0=$(denied_audits exact | wc -l)
  expect "$JAR_B" "$PERSONA_B" "/protected/rule-exact/x" 200 "metrics: allowed"
  expect "$JAR_A" "$NRIC" "/protected/rule-exact/x" 403 "metrics: denied"
  expect "$JAR_A" "$NRIC" "/protected/rule-broken/x" 500 "metrics: rule_error"
  check "metrics: sgid_fcgi_gateway_access_total allowed, denied and rule_error each +1 (from $a0, $d0, $e0)" \
    stack_wait_until 5 "the counters" - eval '(($(access_metric allowed) == a0 + 1 && $(access_metric denied) == d0 + 1 &&
      $(access_metric rule_error) == e0 + 1))'
  check "audit: one more access_denied line, rule \"exact\", outcome denied, no sub" \
    eval '(($(denied_audits exact | wc -l) == n0 + 1)) &&
      [[ $(denied_audits exact | tail -n1 | jq -r "[.outcome, has(\"sub\")] | join(\" \")") == "denied false" ]]'
  check "audit: no access_denied line holds a sub or a name" \
    eval '! grep -F "\"event\":\"access_denied\"" "$STACK_RT/app.log" | grep -qF -e "$SUB" -e "$SUB_B" -e "$NAME"'
}

# access_rules FRONT AGENCY_PATH ADMIN_PATH
access_rules() {
  local front=$1 r name want_a want_b n
  AGENCY_PATH=$2 ADMIN_PATH=$3
  [[ ! -s $ADMINS ]] || admins_reload "" "empty"
  rm -f "$JAR"
  login "rules: log in as $NRIC"
  cp "$JAR" "$JAR_A"
  rm -f "$JAR"
  login "rules: log in as $PERSONA_B" "$PERSONA_B"
  xhr GET "$GW/api/userinfo"
  SUB_B=$(jq -r '.sub // empty' "$T/b" 2>/dev/null || true)
  cp "$JAR" "$JAR_B"
  check "rules: two personas, two subs" eval '[[ -n $SUB_B && $SUB_B != "$SUB" ]]'

  for r in "${RULES[@]}"; do
    name=$(rule_field "$r" 0) want_a=$(rule_field "$r" 2) want_b=$(rule_field "$r" 3)
    expect "$JAR_A" "$NRIC" "/protected/rule-$name/x" "$want_a" "rule $name"
    expect "$JAR_B" "$PERSONA_B" "/protected/rule-$name/x" "$want_b" "rule $name"
  done
  check "rule broken: the pool's log names the rule that did not compile" \
    pool_log_has "rule broken (SGID_REQUIRE): syntax error"
  check "rule nolist: the pool's log names the rule and its unknown allowlist" \
    pool_log_has "rule nolist (SGID_REQUIRE): unknown allowlist"
  if [[ $front == nginx ]]; then
    expect "$JAR_A" "$NRIC" "/protected/rule-unmapped/x" 500 "a rule name the map does not hold (its default, \"!\")"
    check "rule unmapped: the pool's log names it" pool_log_has "rule unmapped (SGID_REQUIRE): syntax error at byte 0"
  fi
  check "rule exact: the pool's log says whose rule refused, by its name" \
    pool_log_has "rule exact: access denied"
  outcomes_counted

  # the example's own rules, on two locations of one server: the JSON path
  # into pocdex on $AGENCY_PATH, the allowlist (empty) on $ADMIN_PATH,
  # asked in turn so a rule never leaks into the other location
  for _ in 1 2; do
    expect "$JAR_A" "$NRIC" "$AGENCY_PATH" 200 "agency (pocdex path)"
    expect "$JAR_A" "$NRIC" "$ADMIN_PATH" 403 "admins (allowlist, empty)"
    expect "$JAR_B" "$PERSONA_B" "$AGENCY_PATH" 403 "agency (pocdex path)"
    expect "$JAR_B" "$PERSONA_B" "$ADMIN_PATH" 403 "admins (allowlist, empty)"
    expect "$JAR_A" "$NRIC" "$PROT" 200 "no rule"
  done

  # other spellings of the ruled path reach no app around the rule: the
  # server picks the location (nginx) or the setenv block (lighttpd) on the
  # decoded, normalised path, or refuses the request
  local p1=${AGENCY_PATH%agency/} spell
  for spell in "${p1}%61gency/x" "${p1}agenc%79/x" "${p1%/}//agency/x" "${p1}./agency/x" "${p1}agency//x"; do
    n=$(app_count)
    http GET "$GW$spell" --path-as-is -b "$JAR_B" "${NAV_HDRS[@]}"
    check "$PERSONA_B on $spell (the agency path spelt otherwise): refused (400 or 403), the app not reached" \
      eval '[[ $CODE == 400 || $CODE == 403 ]] && app_untouched "$n"'
  done

  # a client's headers never set or change a rule
  local -a SETS=(-H 'Sgid-Require: has myinfo.name' -H 'Sgid-Require-Name: forged'
    -H 'Require: has myinfo.name')
  n=$(app_count)
  as "$JAR_B" "$GW$AGENCY_PATH" "${SETS[@]}"
  check "a client's Sgid-Require header on $AGENCY_PATH ($PERSONA_B): still 403, the app not reached" \
    eval 'forbidden_page && app_untouched "$n"'
  as "$JAR_A" "$GW/protected/rule-broken/x" "${SETS[@]}"
  check "a client's Sgid-Require header on a broken rule: still 500" eval 'is 500 && app_untouched "$n"'
  as "$JAR_A" "$GW$PROT" -H 'Sgid-Require: sub = "nobody"' -H 'Sgid-Require-Name: forged'
  check "a client's Sgid-Require header on a location without a rule: still 200" \
    eval 'is 200 && ! app_untouched "$n" && app_saw .identity.sub.value "$SUB"'

  # nor can a client pick a location's rule by asking for nginx's internal
  # auth location itself (a rule's name is in its path)
  if [[ $front == nginx ]]; then
    local p
    for p in /.sgid/auth /.sgid/auth/admins /.sgid/auth/agency /.sgid/public; do
      http GET "$GW$p" -b "$JAR_B" "${NAV_HDRS[@]}"
      check "a client asking for the internal $p itself: 404 (only auth_request reaches it)" \
        eval 'is 404 && [[ -z $(hdr_all x-sgid-sub) ]]'
    done
  fi

  # the allowlist file is read again on the pool's reload
  admins_reload "# the admins"$'\n'"$SUB_B"$'\n' "$PERSONA_B's sub"
  expect "$JAR_B" "$PERSONA_B" "$ADMIN_PATH" 200 "admins (allowlist, after the reload)"
  expect "$JAR_A" "$NRIC" "$ADMIN_PATH" 403 "admins (allowlist, after the reload)"
  expect "$JAR_B" "$PERSONA_B" "$AGENCY_PATH" 403 "agency, beside the admins"
}

# ---- access rules over the hostile provider's profiles (issue 23) -------------
# tests/hostile-idp stands in for sgID: its scenario's userinfo.data_plain
# gives each login whatever profile the case needs (pocdex values sgID would
# send, look-alikes, broken JSON), and a fixed sub when the id_token and the
# userinfo both name one. label|sub ("" for the provider's own random one)|
# the fields added to its profile (a JSON object; every value a string).
HPROFILES=(
  "officer of GovTech, the second of two positions|u=hostile-fixed-officer|{\"$POCDEX\": $(jq -nc '[{agency_name: "Ministry of Manpower", work_email: "a@mom.example"}, {agency_name: "GovTech", work_email: "b@tech.example"}] | tojson'), \"myinfo.email\": \"officer@example.com\"}"
  "officer of another agency only, email NA||{\"$POCDEX\": $(jq -nc '[{agency_name: "Ministry of Manpower"}] | tojson'), \"myinfo.email\": \"NA\"}"
  "look-alikes only (case, a space, a number, an array, nested deeper, another key), email empty||{\"$POCDEX\": $(jq -nc '[{agency_name: "govtech"}, {agency_name: "GovTech "}, {agency_name: 7}, {agency_name: ["GovTech"]}, {position: {agency_name: "GovTech"}}, {agency: "GovTech"}] | tojson'), \"myinfo.email\": \"\"}"
  "pocdex that is no JSON (cut short), an email||{\"$POCDEX\": \"[{\\\"agency_name\\\":\\\"GovTech\\\"}\", \"myinfo.email\": \"x@example.com\"}"
  "pocdex an object of positions, not an array, email NA|u=hostile-fixed-boss|{\"$POCDEX\": $(jq -nc '{current: {agency_name: "GovTech"}} | tojson'), \"myinfo.email\": \"NA\"}"
  "300 positions, GovTech the 201st (past the 256 values a path visits), no email||{\"$POCDEX\": $(jq -nc '[range(300) | {agency_name: (if . == 200 then "GovTech" else "Ministry of Manpower" end)}] | tojson')}"
)
IDP_PORT=5157
IDP=http://127.0.0.1:$IDP_PORT
IDP_CLIENT_ID=gateway-hostile-client
IDP_CLIENT_SECRET=gateway-hostile-secret-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
hprofile_field() { local IFS='|'; local -a f; read -r -a f <<<"$1"; printf '%s' "${f[$2]:-}"; }

# hostile_login JAR N: a login (nginx or lighttpd in front) through the
# hostile provider as profile N of HPROFILES, from a local address of its
# own (the servers' per-client limits on /api/login and /api/redirect).
hostile_login() {
  local jar=$1 i=$2 sc sub data loc src=127.0.4.$(($2 + 1))
  sub=$(hprofile_field "${HPROFILES[$i]}" 1) data=$(hprofile_field "${HPROFILES[$i]}" 2)
  sc=$(jq -nc --arg sub "$sub" --argjson data "$data" \
    '{userinfo: {data_plain: $data}} + (if $sub == "" then {} else
      {id_token: {claims_set: {sub: $sub}}, userinfo: {data_plain: $data, sub: $sub}} end)') || return 1
  curl -fsS --max-time 5 -X POST -H 'Content-Type: application/json' --data-binary "$sc" \
    "$IDP/__control/scenario" >/dev/null || return 1
  rm -f "$jar"
  http GET "$GW/api/login?rd=%2Fprotected%2Fpage" --interface "$src" -b "$jar" -c "$jar" "${NAV_HDRS[@]}"
  loc=$(hdr location)
  is 302 && [[ $loc == "http://localhost:$IDP_PORT/v2/oauth/authorize?"* ]] || return 1
  http GET "$loc" --interface "$src" "${NAV_HDRS[@]}"
  loc=$(hdr location)
  is 302 && [[ $loc == "$GW/api/redirect?"* ]] || return 1
  http GET "$loc" --interface "$src" -b "$jar" -c "$jar" "${NAV_HDRS[@]}"
  is 302 && [[ -n $(set_cookie) ]] || return 1
  http GET "$GW/api/userinfo" --interface "$src" -b "$jar" "${XHR_HDRS[@]}"
  HSUB=$(jq -r '.sub // empty' "$T/b" 2>/dev/null || true)
  is 200 && [[ -n $HSUB && ( -z $sub || $HSUB == "$sub" ) ]]
}

# hostile_rules: each profile logs in, then meets every rule of HRULES: 200
# from the app as that sub, or 403 with the access-denied page and the app
# not reached. The profile's JSON never reaches the pool's log.
hostile_rules() {
  local i r name want jar=$T/jar-h n label
  for i in "${!HPROFILES[@]}"; do
    label=$(hprofile_field "${HPROFILES[$i]}" 0)
    check "hostile provider: log in as profile $((i + 1)) ($label)" hostile_login "$jar" "$i"
    # shellcheck disable=SC2034 # read by the eval'd checks
    SUB_H=$HSUB
    for r in "${HRULES[@]}"; do
      name=$(rule_field "$r" 0)
      read -r -a want <<<"$(rule_field "$r" 2)"
      n=$(app_count)
      as "$jar" "$GW/protected/rule-$name/x"
      case ${want[$i]} in
        200) check "rule $name ($(rule_field "$r" 1)): profile $((i + 1)): 200 from the app, as its sub" \
               eval 'is 200 && ! app_untouched "$n" && app_saw .identity.sub.value "$SUB_H"' ;;
        *) check "rule $name ($(rule_field "$r" 1)): profile $((i + 1)): 403 with the access-denied page, the app not reached" \
             eval 'forbidden_page && app_untouched "$n" && no_location' ;;
      esac
    done
  done
  check "the pool's log holds no profile value (GovTech, officer@example.com)" \
    eval '! grep -qE "GovTech|officer@example\.com|a@mom\.example" "$STACK_RT/app.log"'
}

# nginx_rule_reload: a rule changed in nginx.conf and `nginx -s reload`:
# the new rule holds once the old nginx worker is gone (it serves the old
# configuration until then), sgid-fcgi neither restarted nor reloaded.
nginx_one_worker() { (($(pgrep -c -P "${STACK_PID[nginx]}") == 1)); }
nginx_rule_reload() {
  local conf=$STACK_RT/nginx/nginx.conf pid=${STACK_PID[pool]} reloads
  # shellcheck disable=SC2034 # read by the eval'd check
  reloads=$(grep -c 'configuration reloaded' "$STACK_RT/app.log" || true)
  expect "$JAR_A" "$NRIC" "$AGENCY_PATH" 200 "before nginx -s reload"
  sed -i 's#agency_name = "Work Allocation Singapore"#agency_name = "Another Agency"#' "$conf"
  setup "nginx -s reload with the agency rule changed" \
    nginx -s reload -p "$STACK_RT/nginx/" -c "$conf"
  setup "the new rule holds" stack_wait_until 10 "nginx's new workers" - \
    eval 'nginx_one_worker && as "$JAR_A" "$GW$AGENCY_PATH" && is 403'
  expect "$JAR_A" "$NRIC" "$AGENCY_PATH" 403 "after nginx -s reload (Another Agency)"
  sed -i 's#agency_name = "Another Agency"#agency_name = "Work Allocation Singapore"#' "$conf"
  setup "nginx -s reload with the rule back" nginx -s reload -p "$STACK_RT/nginx/" -c "$conf"
  setup "the old rule holds again" stack_wait_until 10 "nginx's new workers" - \
    eval 'nginx_one_worker && as "$JAR_A" "$GW$AGENCY_PATH" && is 200'
  check "... and sgid-fcgi was untouched: the same pool, no reload of its own" \
    eval '[[ ${STACK_PID[pool]} == "$pid" ]] && kill -0 "$pid" &&
      (($(grep -c "configuration reloaded" "$STACK_RT/app.log") == reloads))'
}

# lighttpd_rule_reload: the same for lighttpd: the agency rule changed in
# lighttpd.conf and a graceful restart (SIGUSR1: lighttpd re-reads its
# configuration in the same process, keeping its listening sockets); the
# new rule holds, then the old one again, the pool untouched.
lighttpd_rule_reload() {
  local conf=$STACK_RT/lighttpd.conf pid=${STACK_PID[pool]} lpid=${STACK_PID[lighttpd]} reloads
  # shellcheck disable=SC2034 # read by the eval'd check
  reloads=$(grep -c 'configuration reloaded' "$STACK_RT/app.log" || true)
  expect "$JAR_A" "$NRIC" "$AGENCY_PATH" 200 "before lighttpd's graceful restart"
  sed -i 's#agency_name = \\"Work Allocation Singapore\\"#agency_name = \\"Another Agency\\"#' "$conf"
  setup "lighttpd.conf: the agency rule changed (lighttpd -tt)" \
    eval 'grep -qF "Another Agency" "$conf" && lighttpd -tt -f "$conf" >>"$STACK_RT/lighttpd.log" 2>&1'
  kill -USR1 "$lpid"
  setup "the new rule holds after lighttpd's graceful restart (SIGUSR1)" stack_wait_until 15 "lighttpd's restart" "$lpid" \
    eval 'as "$JAR_A" "$GW$AGENCY_PATH" && is 403'
  expect "$JAR_A" "$NRIC" "$AGENCY_PATH" 403 "after lighttpd's graceful restart (Another Agency)"
  expect "$JAR_A" "$NRIC" "$PROT" 200 "after lighttpd's graceful restart, no rule"
  sed -i 's#agency_name = \\"Another Agency\\"#agency_name = \\"Work Allocation Singapore\\"#' "$conf"
  kill -USR1 "$lpid"
  setup "the old rule holds again after another graceful restart" stack_wait_until 15 "lighttpd's restart" "$lpid" \
    eval 'as "$JAR_A" "$GW$AGENCY_PATH" && is 200'
  check "... and sgid-fcgi was untouched: the same pool, no reload of its own; lighttpd the same process" \
    eval '[[ ${STACK_PID[pool]} == "$pid" ]] && kill -0 "$pid" && kill -0 "$lpid" &&
      (($(grep -c "configuration reloaded" "$STACK_RT/app.log") == reloads))'
}

# websockets SOCKET_PATH RULED_SOCKET_PATH: through the front end to
# app.js's echo (nginx: proxy_pass; lighttpd: mod_proxy), a path with no
# rule and one under the agency rule. Reads the upstream's own log.
WS_OUT=$T/ws.out
ws() { timeout 10 node "$root/tests/gateway/ws-client.js" "$@" >"$WS_OUT" 2>&1 || true; }
ws_line() { sed -n "s/^$1 //p" "$WS_OUT" | head -n1; }
ws_echo() { ws_line message | jq -r "$1" 2>/dev/null; }
websockets() {
  local sock=$1 ruled=$2 n cookie_a cookie_b APP_LOG=$UPSTREAM_LOG
  cookie_a="$COOKIE=$(awk -v c="$COOKIE" '$6 == c { v = $7 } END { printf "%s", v }' "$JAR_A")"
  cookie_b="$COOKIE=$(awk -v c="$COOKIE" '$6 == c { v = $7 } END { printf "%s", v }' "$JAR_B")"
  n=$(app_count)
  ws "$GW$sock" 'Sec-Fetch-Mode: websocket' 'Origin: http://localhost:5001'
  check "WebSocket to $sock without a session (Sec-Fetch-Mode: websocket): 401, no Location, the upstream not reached" \
    eval '[[ $(ws_line status) == 401 && -z $(ws_line location) ]] && app_untouched "$n"'
  ws "$GW$sock" 'Accept: text/html'
  check "WebSocket to $sock without a session, Accept: text/html and no Sec-Fetch-Mode: 401, no Location" \
    eval '[[ $(ws_line status) == 401 && -z $(ws_line location) ]] && app_untouched "$n"'
  ws "$GW$sock" "Cookie: $cookie_a; other=kept" 'Sec-Fetch-Mode: websocket'
  check "WebSocket to $sock with $NRIC's session: 101, the echo came back" \
    eval '[[ $(ws_line status) == 101 && $(ws_line accept) == ok && $(ws_echo .echo) == "ping over the gateway" ]]'
  check "... and the upstream saw the identity headers on the upgrade, one copy each" \
    eval '[[ $(ws_echo .identity.sub.value) == "$SUB" && $(ws_echo .identity.name.value) == "$NAME" &&
      $(ws_echo "[.headers[\"x-sgid-sub\"], .headers[\"x-sgid-myinfo-name\"]] | map(length) | join(\",\")") == 1,1 ]] &&
      app_saw .method UPGRADE && app_saw .uri "$sock"'
  check "... and its Cookie header without the session cookie (other=kept alone)" \
    eval '[[ $(ws_echo ".cookie | join(\"|\")") == other=kept ]] && ! grep -qF -- "${cookie_a#*=}" "$WS_OUT"'
  n=$(app_count)
  http GET "$GW$sock" "${NAV_HDRS[@]}" -H "Cookie: other=kept; $cookie_a"
  check "a plain GET of $sock with the session (no upgrade): 200 from the same upstream, as $NRIC, the Cookie without the session" \
    eval 'is 200 && ! app_untouched "$n" && app_saw .identity.sub.value "$SUB" && app_saw ".cookie | join(\"|\")" other=kept'
  n=$(app_count)
  ws "$GW$sock" "Cookie: $cookie_a" 'Sec-Fetch-Mode: websocket' "X-Sgid-Sub: $FORGERY"
  check "WebSocket to $sock with the session and a forged X-Sgid-Sub: 403, the upstream not reached" \
    eval '[[ $(ws_line status) == 403 ]] && app_untouched "$n"'
  ws "$GW$ruled" "Cookie: $cookie_b" 'Sec-Fetch-Mode: websocket'
  check "WebSocket to $ruled as $PERSONA_B (the agency rule refuses): 403, the upstream not reached" \
    eval '[[ $(ws_line status) == 403 ]] && app_untouched "$n"'
  ws "$GW$ruled" "Cookie: $cookie_a" 'Sec-Fetch-Mode: websocket'
  check "WebSocket to $ruled as $NRIC: 101, the upstream saw the officer" \
    eval '[[ $(ws_line status) == 101 && $(ws_echo .identity.sub.value) == "$SUB" ]] && app_saw .uri "$ruled"'
}

# ---- [nginx] ----------------------------------------------------------------------

FORGERY=forged-by-the-client
# A client's own X-Sgid-* headers: those the config passes on, one it does
# not (no line for myinfo.email), the gateway's own names, any case.
XSGID=("X-Sgid-Sub: $FORGERY" "x-sgid-sub: $FORGERY" "X-SGID-MYINFO-NAME: $FORGERY"
  "X-Sgid-Myinfo-Nric-Number: $FORGERY" "X-Sgid-Myinfo-Email: $FORGERY"
  "X-Sgid-Login: //$FORGERY.example/" "X-Sgid-App-Cookie: a=$FORGERY" "X-Sgid-Gateway: 1"
  "x-SgId-anything-else: $FORGERY")
LOOKALIKE=()
TAP_TAG="[nginx] "
setup "start nginx (deploy/gateway/nginx.conf.example)" stack_start_nginx
setup "the API answers through nginx" stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up
cases nginx
access_rules nginx /agency/ /admin/
nginx_rule_reload
websockets /protected/socket /agency/socket

# ---- [nginx] open redirects ------------------------------------------------------
# Each value is rd as it stands in the query string (so %25 is a literal %
# in rd: "also after percent-decoding"). label|value.
long_path=/$(printf 'a%.0s' {1..1100})
long_abs=$ALLOWED_HTTPS/$(printf 'a%.0s' {1..1010})
HOSTILE=(
  'scheme-relative|//evil.example/'
  'scheme-relative, encoded in the query|%2F%2Fevil.example%2F'
  'three slashes|///evil.example/'
  'four slashes|////evil.example'
  'slash backslash|/%5Cevil.example'
  'backslash slash|%5C/evil.example'
  'two backslashes|%5C%5Cevil.example'
  'slash, two backslashes|/%5C%5Cevil.example'
  'slash backslash slash|/%5C/evil.example'
  'encoded slash in rd (%2F)|/%252Fevil.example'
  'encoded backslash in rd (%5C)|/%255Cevil.example'
  'double-encoded scheme-relative|%252F%252Fevil.example'
  'double-encoded slash, then slash|%252F/evil.example'
  'encoded slashes after the first (%2F%2F)|/%252F%252Fevil.example'
  'tab between slashes|/%09/evil.example'
  'tab, encoded in rd|/%2509/evil.example'
  'CR LF header injection|/%0D%0ALocation:%20http://evil.example/'
  'CR LF, encoded in rd|/%250D%250ASet-Cookie:%20evil=1'
  'LF|/%0A/evil.example'
  'leading CR LF|%0D%0A//evil.example'
  'NUL|/%00/evil.example'
  'NUL, encoded in rd|/%2500//evil.example'
  'DEL|/%7F/evil.example'
  'javascript:|javascript:alert%281%29'
  'JaVaScRiPt:|JaVaScRiPt:alert%281%29'
  'space, javascript:|%20javascript:alert%281%29'
  'java<tab>script:|java%09script:alert%281%29'
  'javascript with an encoded colon in rd|javascript%253Aalert%281%29'
  'data:|data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg%3D%3D'
  'vbscript:|vbscript:msgbox%281%29'
  'http to a foreign host|http://evil.example/'
  'https to a foreign host|https://evil.example/'
  'userinfo: evil@allowed origin|http://evil.example@localhost:5001/'
  'userinfo: allowed@evil|http://localhost:5001@evil.example/'
  'userinfo: allowed https@evil|https://app.example.test@evil.example/'
  'userinfo with a port: allowed:443@evil|https://app.example.test:443@evil.example/'
  'encoded @ in the host|https://app.example.test%2540evil.example/'
  'other port of the allowed origin|http://localhost:5002/'
  'allowed host, default port|http://localhost/'
  'other port of the allowed https origin|https://app.example.test:8443/'
  'https on the allowed http origin|https://localhost:5001/'
  'http to the allowed https host (not loopback)|http://app.example.test/'
  'look-alike: allowed host as a subdomain|https://app.example.test.evil.example/'
  'look-alike: prefixed|https://evilapp.example.test/'
  'look-alike: hyphen for a dot|https://app-example.test/'
  'look-alike: Cyrillic a (IDN)|https://%D0%B0pp.example.test/'
  'loopback look-alike host over http|http://127.0.0.1.evil.example/'
  'http to a foreign host on the allowed port|http://evil.example:5001/'
  'IPv6 userinfo|http://[::1]:5001@evil.example/'
  'https: without slashes|https:evil.example'
  'https:/ one slash|https:/evil.example'
  'https: backslashes|https:%5C%5Cevil.example'
  'http: backslashes with userinfo|http:%5C%5Clocalhost:5001@evil.example'
  'ftp on the allowed host|ftp://app.example.test/'
  'no leading slash|evil.example/'
  'rd twice, the second hostile|/protected/x&rd=//evil.example/'
  'rd twice, the first hostile|//evil.example/&rd=/protected/x'
  'dot, two slashes|.//evil.example'
  'space, scheme-relative|%20//evil.example'
  "over-long path (${#long_path} bytes)|$long_path"
  "over-long allowed https URL (${#long_abs} bytes)|$long_abs"
)
# Accepted beside them: a refusal must not be all the endpoint can do.
at_limit=/$(printf 'b%.0s' {1..1023})
ACCEPTED=(
  "a path|/protected/x?a=1%26b=2"
  "no rd (/)|"
  "the gateway's own origin, absolute|$GW/protected/x"
  "the allowed https origin|$ALLOWED_HTTPS/welcome?from=sgid"
  "a path of exactly 1024 bytes|$at_limit"
)

# no_hostile_location: no Location at all (a 400 has none to follow).
open_redirects() {
  local i entry label value src n=0
  rm -f "$JAR"
  login "open-redirect suite: log in"
  TAP_TAG="[nginx] open redirect: "
  for i in "${!HOSTILE[@]}"; do
    entry=${HOSTILE[$i]}
    label=${entry%%|*} value=${entry#*|}
    # A source address per request: the shipped limit on /api/login (10/s,
    # burst 20) is per client, and this is not a test of it.
    src=127.0.1.$((i + 1))
    # -b only: whatever the answer, the jar keeps the session.
    http GET "$GW/api/login?rd=$value" --interface "$src" -b "$JAR" "${NAV_HDRS[@]}"
    check "/api/login $label: 400, no Set-Cookie, no Location" eval 'is 400 && no_set_cookie && no_location'
    http GET "$GW/api/logout?rd=$value" -b "$JAR" "${NAV_HDRS[@]}"
    check "/api/logout $label: 400, no Set-Cookie, no Location" eval 'is 400 && no_set_cookie && no_location'
    n=$((n + 1))
  done
  TAP_TAG="[nginx] "
  check "$n hostile values sent to each endpoint (at least 40)" test "$n" -ge 40
  nav "$GW$PROT"
  check "the session survived the $n refused logins and logouts: 200, the app saw the persona" \
    eval 'is 200 && app_saw .identity.sub.value "$SUB" && app_saw .uri "$PROT"'
  xhr GET "$GW/api/userinfo"
  check "... and /api/userinfo still 200 with the same sub" eval 'is 200 && json_is .sub "$SUB"'

  for i in "${!ACCEPTED[@]}"; do
    entry=${ACCEPTED[$i]}
    label=${entry%%|*} value=${entry#*|}
    if [[ -n $value ]]; then
      http GET "$GW/api/login?rd=$value" --interface "127.0.2.$((i + 1))" "${NAV_HDRS[@]}"
    else
      http GET "$GW/api/login" --interface "127.0.2.$((i + 1))" "${NAV_HDRS[@]}"
    fi
    check "accepted: /api/login rd=$label: 302 to MockPass with the attempt cookie" \
      eval 'is 302 && [[ $(hdr location) == "http://localhost:$MOCKPASS_PORT/v2/oauth/authorize?"* && -n $(set_cookie) ]]'
  done

  # An absolute rd on the allowed https origin, all the way: the callback
  # ends there, and a logout may go there too.
  local back="$ALLOWED_HTTPS/welcome?from=sgid"
  rm -f "$JAR"
  nav "$GW/api/login?rd=$(jq -rn --arg v "$back" '$v | @uri')" --interface 127.0.2.99
  nav "$(hdr location)"
  nav "$(hdr location)"
  check "a login with rd=$back: the callback 302 to exactly that URL" \
    eval 'is 302 && [[ $(hdr location) == "$back" ]] && [[ -n $(set_cookie) ]]'
  nav "$GW/api/logout?rd=$(jq -rn --arg v "$ALLOWED_HTTPS/bye" '$v | @uri')"
  check "/api/logout?rd=$ALLOWED_HTTPS/bye: 302 there, the cookie cleared" \
    eval 'is 302 && [[ $(hdr location) == "$ALLOWED_HTTPS/bye" ]] && cleared'

  # The shipped per-client limit on /api/login (10/s, burst 20): 52 at once
  # from one address; what the zone lets through in the time they took:
  # burst+1 at once, then 10/s (+1: rounding).
  local ms
  ms=$(burst "$T/burst-login" 127.0.3.1 52 "$GW/api/login?rd=/protected/x")
  check "rate limit: 52 logins at once from one client ($ms ms): 21 to $((22 + ms / 100)) get 302, the rest 429" \
    login_limited $((22 + ms / 100))
}
login_limited() {
  local ok
  ok=$(count "$T/burst-login" 302)
  echo "# /api/login burst: $ok x 302, $(count "$T/burst-login" 429) x 429"
  ((ok >= 21 && ok <= $1)) && only "$T/burst-login" 302 429
}
open_redirects

# ---- [nginx] a real browser ------------------------------------------------------
# tests/gateway/browser.js: headless Chromium (playwright-core from
# tests/browser) through the same nginx; its steps become this suite's.
# GATEWAY_BROWSER=0 leaves it out.
browser_visit() {
  local out=$STACK_RT/browser.out rc=0
  local nric=S9912370B   # not MockPass's default persona: the pick is carried through
  setup "chromium is installed (make deps)" test -x "${CHROMIUM:-/usr/bin/chromium}"
  setup "playwright-core is installed in tests/browser (make deps)" \
    test -f "$root/tests/browser/node_modules/playwright-core/package.json"
  mkdir -p "$STACK_RT/tmp"
  env TMPDIR="$STACK_RT/tmp" GATEWAY_URL="$GW" MOCKPASS_URL="http://localhost:$MOCKPASS_PORT" \
    PROTECTED_PATH="$PROT" PERSONA_NRIC="$nric" PERSONA_NAME="$(stack_persona_name "$nric")" \
    timeout --kill-after=5 150 node "$root/tests/gateway/browser.js" >"$out" 2>&1 || rc=$?
  TAP_TAG="[nginx] browser: "
  tap_relay "$out"
  grep -q '^gateway-browser: ' "$out" || not_ok "browser.js ended without its summary (exit $rc)"
  TAP_TAG="[nginx] "
}
[[ ${GATEWAY_BROWSER:-1} == 0 ]] || browser_visit
stack_stop nginx

# ---- [lighttpd] -----------------------------------------------------------------

# Headers that look like the variables but are no X-Sgid-*: they pass, as
# HTTP_* variables only.
LOOKALIKE=(-H "Variable-SGID_SUB: $FORGERY-1" -H "Variable-SGID-MYINFO-NAME: $FORGERY-2"
  -H "Sgid-Sub: $FORGERY-3" -H "SGID_SUB: $FORGERY-5")
APP_LOG=$CGI_DIR/requests.log
TAP_TAG="[lighttpd] "
setup "start lighttpd (deploy/gateway/lighttpd.conf.example)" stack_start_lighttpd pool
setup "the API answers through lighttpd" stack_wait_until 15 "sgid-fcgi behind lighttpd" - stack_api_up
http GET "$GW/app.cgi"
check "the app's file is not served: /app.cgi 403" is 403
http GET "$GW/public/app.cgi"
check "/public/app.cgi runs the app, never sends its source" eval 'is 200 && ! grep -q "^#!" "$T/b"'
cases lighttpd
access_rules lighttpd /protected/agency/ /protected/admin/
lighttpd_rule_reload
websockets /protected/ws/socket /protected/ws/agency/socket
# The example's per-client limit on /api/login (lighttpd-ratelimit.lua, as
# nginx's: 10/s, burst 20), from an address of its own.
ms=$(burst "$T/burst-login" 127.0.3.2 52 "$GW/api/login?rd=/protected/x")
check "rate limit: 52 logins at once from one client ($ms ms): 21 to $((22 + ms / 100)) get 302, the rest 429" \
  login_limited $((22 + ms / 100))

# ---- expiry: a pool with SESSION_TTL_SECONDS=3 ---------------------------------

# expiry: log in, still in right after, out 2 s past the lifetime.
expiry() {
  rm -f "$JAR"
  login "expiry"
  nav "$GW$PROT"
  check "expiry: right after the login: 200" is 200
  sleep $((TTL_SHORT + 2))
  nav "$GW$PROT"
  check "expiry: ${TTL_SHORT}+ s later (SESSION_TTL_SECONDS=$TTL_SHORT): navigation 302 to the login" \
    is_login_redirect "$PROT"
  xhr GET "$GW/protected/data.json"
  check "expiry: ... and a fetch 401" eval 'is 401 && no_location'
}
TAP_TAG=""
stack_stop pool
export SESSION_TTL_SECONDS=$TTL_SHORT
setup "restart the pool with SESSION_TTL_SECONDS=$TTL_SHORT" stack_start_pool 2 "$STACK_RT"
setup "the API answers" stack_wait_until 15 "the pool behind lighttpd" - stack_api_up
TAP_TAG="[lighttpd] "
expiry
stack_stop lighttpd
TAP_TAG="[nginx] "
APP_LOG=$UPSTREAM_LOG
setup "start nginx again" stack_start_nginx
setup "the API answers through nginx" stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up
expiry

# ---- access rules over the hostile provider's profiles, both servers ------------
# The pool restarted against tests/hostile-idp instead of MockPass (the
# process environment wins over mockpass.env); the same examples in front.
TAP_TAG=""
stack_stop pool
unset SESSION_TTL_SECONDS
export SGID_HOSTNAME=http://localhost:$IDP_PORT SGID_CLIENT_ID=$IDP_CLIENT_ID SGID_CLIENT_SECRET=$IDP_CLIENT_SECRET
setup "start the hostile provider (tests/hostile-idp)" \
  stack_start_hostile_idp "$IDP_PORT" "$IDP_CLIENT_ID" "$IDP_CLIENT_SECRET" "$GW/api/redirect"
setup "restart the pool against the hostile provider" stack_start_pool 2 "$STACK_RT"
setup "the API answers" stack_wait_until 15 "the pool behind nginx" - stack_api_up
TAP_TAG="[nginx] "
hostile_rules
stack_stop nginx
TAP_TAG="[lighttpd] "
APP_LOG=$CGI_DIR/requests.log
setup "start lighttpd again" stack_start_lighttpd pool
setup "the API answers through lighttpd" stack_wait_until 15 "sgid-fcgi behind lighttpd" - stack_api_up
hostile_rules
