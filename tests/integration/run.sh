#!/usr/bin/env bash
# End-to-end test (`make integration`): a private Redis and MockPass on
# loopback, then the whole login driven with curl the way the demo SPA and a
# browser do it (cookie jar, Origin header on the SPA's fetches), once per
# front end, with the shipped example configurations:
#
#   [nginx]          nginx.conf.example, 3 workers under spawn-fcgi
#   [lighttpd]       lighttpd.conf.example with its "#spawn:" switch on:
#                    lighttpd starts the workers itself (bin-path, max-procs)
#   [lighttpd+pool]  lighttpd.conf.example as shipped, in front of the
#                    supervised pool (sgid-fcgi --listen): a short smoke test
#
# and the per-client rate limits of both examples ([nginx] "rate limit":
# limit_req; [lighttpd+pool] "rate limit": mod_magnet running
# deploy/lighttpd-ratelimit.lua): a burst from one client address
# (127.0.0.2.., all on loopback) gets 429 on /api/auth-url and /api/redirect
# past the configured burst and nothing of it reaches the app, other clients
# and the other endpoints are not limited; from lighttpd a 429 says
# Retry-After, and the client is served again after waiting that long. And
# [lighttpd-ratelimit.lua]: the script's logic under lua5.4 on a clock of its
# own (tests/integration/ratelimit.lua): the memory bound at 65 536
# addresses, idle ones dropped, a clock stepped back.
#
# Uses ports 5001, 5173 and 5156 like `make run`: the two cannot run at once.
# Prints "ok - [FRONT] NAME" / "not ok - [FRONT] NAME" per check and ends with
# "integration: N passed, N failed". On failure it dumps the logs and keeps
# the runtime dir. Every wait is bounded; past INTEGRATION_BUDGET seconds
# (240) the remaining requests fail at once.

# Checks pass their conditions as single-quoted strings that `check ... eval`
# expands later, on purpose.
# shellcheck disable=SC2016
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$root/deploy/stack-lib.sh"

ORIGIN=http://localhost:$SPA_PORT
API=http://localhost:$API_PORT
COOKIE=exampleAppSession          # SESSION_COOKIE_NAME default
NRIC=S9812379B                    # a MockPass persona with MyInfo data
WORKERS=3                         # spawn-fcgi workers behind nginx
BUDGET=${INTEGRATION_BUDGET:-240}   # seconds for all requests (a run takes ~15)
DEADLINE=$((SECONDS + BUDGET))
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
tap_detail() { last_response; }

finish() {
  stack_tap_finish integration "$?" 150 app.log spawn-fcgi.log nginx.log nginx/logs/error.log \
    nginx/logs/access.log lighttpd.log mockpass.log redis.log
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_tap_preflight "curl jq node redis-server redis-cli nginx spawn-fcgi lighttpd setpriv lua5.4" \
  "$API_PORT" "$SPA_PORT" "$MOCKPASS_PORT"
# The persona's name as MockPass will serve it.
NAME=$(stack_persona_name "$NRIC") || setup "MockPass is installed (make deps)" false

stack_init sgid-fcgi-it
T=$STACK_RT/t
JAR=$T/jar
mkdir -p "$T"

# Only our configuration: nothing from the caller's environment.
unset "${!SGID_@}" "${!REDIS_TLS_@}" REDIS_URL SESSION_COOKIE_NAME COOKIE_SAMESITE COOKIE_SECURE \
  LOGIN_TTL_SECONDS SESSION_TTL_SECONDS SESSION_SECRET
export REDIS_URL="unix://$STACK_RT/redis.sock"
export SGID_PRIVATE_KEY_FILE=$root/tests/fixtures/client-test-key.pem
export LOG_LEVEL=debug
STACK_APP_ARGS=(--env-file "$root/tests/fixtures/mockpass.env")
SECRET=$(sed -n 's/^SGID_CLIENT_SECRET=//p' "$root/tests/fixtures/mockpass.env")
# lighttpd's own workers run as the web user when we are root.
STACK_REDIS_GROUP=$STACK_WEB_USER

# [nginx] reaches Redis over TLS (rediss://, verified against a CA made
# for this run), the lighttpd runs over the unix socket: the same flow,
# Redis restart included, on both transports.
REDIS_UNIX_URL=$REDIS_URL
REDIS_TLS_PORT=6390
setup "make a throw-away CA and Redis certificates" sh "$root/tests/tls/make-certs.sh" "$STACK_RT/tls"
chmod 755 "$STACK_RT/tls" && chmod 644 "$STACK_RT/tls/ca.pem"
STACK_REDIS_TLS="$REDIS_TLS_PORT $STACK_RT/tls"
setup "start redis-server" stack_start_redis

# ---- HTTP helpers ---------------------------------------------------------

# shellcheck source=tests/http-lib.sh
. "$root/tests/http-lib.sh"
# An SPA fetch: credentials included, Origin set.
fetch() { http "$1" "$2" -b "$JAR" -c "$JAR" -H "Origin: $ORIGIN" "${@:3}"; }
# A top-level browser navigation: cookies, no Origin.
navigate() { http GET "$1" -b "$JAR" -c "$JAR" "${@:2}"; }

is_json() { jq -e . "$T/b" >/dev/null 2>&1; }
ctype_is() { [[ $(hdr content-type) == "$1"* ]]; }
json_is() { [[ $(jq -r "$1" "$T/b" 2>/dev/null) == "$2" ]]; }
hdr_is() { [[ $(hdr "$1") == "$2" ]]; }
hdr_has() { [[ $(hdr "$1") =~ $2 ]]; }
cors_ok() { hdr_is access-control-allow-origin "$ORIGIN" && hdr_is access-control-allow-credentials true; }
std_headers() { hdr_has cache-control 'no-store' && hdr_is x-content-type-options nosniff; }

# poll_ok SECS N METHOD URL: until N 200s in a row (each worker reconnects).
poll_ok() {
  local deadline=$((SECONDS + $1)) n=$2 run=0
  ((deadline < DEADLINE)) || deadline=$DEADLINE
  while ((SECONDS < deadline)); do
    fetch "$3" "$4"
    if is 200; then
      run=$((run + 1))
      ((run >= n)) && return 0
    else
      run=0
      sleep 0.2
    fi
  done
  return 1
}

# ---- the flow ---------------------------------------------------------------

# flow FRONT WORKERS ALIVE LOG...: the whole login and its edge cases through
# the front end (nginx or lighttpd) now serving the API and the SPA. WORKERS
# workers behind it, ALIVE a command printing how many still run, LOG... the
# files the app's and the front end's logs go to. MockPass must be running
# (stopped halfway); Redis is killed and restarted on the same socket.
flow() {
  local front=$1 workers=$2 alive=$3
  shift 3
  local logs=("$@")
  local url state code redirect login_cookie login_sid session_cookie session_sid
  local userinfo same leaks long s
  JAR=$T/jar-$front
  rm -f "$JAR"

  # ---- health, demo SPA -----------------------------------------------------

  fetch GET "$API/api/health"
  check "health: 200 JSON {\"status\":\"ok\"}" eval 'is 200 && ctype_is application/json && json_is .status ok'
  check "health: Cache-Control no-store, X-Content-Type-Options nosniff" std_headers

  http GET "$ORIGIN/"
  check "demo SPA: / is served by $front" eval 'is 200 && ctype_is text/html'
  http GET "$ORIGIN/logged-in"
  check "demo SPA: /logged-in falls back to index.html" eval 'is 200 && ctype_is text/html'

  fetch GET "$API/api/userinfo"
  check "userinfo before login: 401 text/plain Unauthorized" \
    eval 'is 401 && ctype_is text/plain && [[ $(tr -d "\r\n" <"$T/b") == Unauthorized ]]'
  check "userinfo 401 carries CORS headers" cors_ok

  # ---- CORS -----------------------------------------------------------------

  http OPTIONS "$API/api/auth-url" -H "Origin: $ORIGIN" \
    -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: content-type'
  check "preflight OPTIONS /api/auth-url: 2xx" eval '[[ $CODE == 200 || $CODE == 204 ]]'
  check "preflight: exact origin, credentials true" cors_ok
  check "preflight: Access-Control-Allow-Methods has GET" hdr_has access-control-allow-methods 'GET'

  http GET "$API/api/health" -H 'Origin: http://evil.example'
  check "CORS: a foreign Origin is not allowed" \
    eval '[[ $(hdr access-control-allow-origin) != http://evil.example && $(hdr access-control-allow-origin) != "*" ]]'

  # ---- login ----------------------------------------------------------------

  fetch GET "$API/api/auth-url?icecream=Vanilla"
  check "auth-url: 200 JSON with a url" eval 'is 200 && ctype_is application/json && jq -e ".url | strings" "$T/b" >/dev/null'
  check "auth-url: CORS exact origin + credentials" cors_ok
  check "auth-url: Vary includes Origin" hdr_has vary 'Origin'
  check "auth-url: Cache-Control no-store, X-Content-Type-Options nosniff" std_headers
  login_cookie=$(set_cookie)
  check "auth-url: sets the $COOKIE cookie" test -n "$login_cookie"
  check "auth-url: cookie is HttpOnly" eval '[[ ${login_cookie,,} == *"; httponly"* ]]'
  check "auth-url: cookie is SameSite=Lax" eval '[[ ${login_cookie,,} == *"; samesite=lax"* ]]'
  check "auth-url: cookie is not Secure on http://localhost" eval '[[ ${login_cookie,,} != *"; secure"* ]]'
  login_sid=$(cookie_value "$login_cookie")

  url=$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)
  check "auth-url: url is MockPass's authorize endpoint" eval '[[ $url == "http://localhost:$MOCKPASS_PORT/v2/oauth/authorize?"* ]]'
  check "auth-url: client_id=sgid-fcgi-demo" eval '[[ $(qparam "$url" client_id) == sgid-fcgi-demo ]]'
  check "auth-url: scope has openid and myinfo.name" \
    eval 's=" $(qparam "$url" scope) "; [[ $s == *" openid "* && $s == *" myinfo.name "* ]]'
  check "auth-url: response_type=code" eval '[[ $(qparam "$url" response_type) == code ]]'
  check "auth-url: redirect_uri is $API/api/redirect" eval '[[ $(qparam "$url" redirect_uri) == "$API/api/redirect" ]]'
  check "auth-url: nonce present" eval '[[ -n $(qparam "$url" nonce) ]]'
  state=$(qparam "$url" state || true)
  check "auth-url: state present" test -n "$state"
  check "auth-url: code_challenge is 43 base64url chars" eval '[[ $(qparam "$url" code_challenge) =~ ^[A-Za-z0-9_-]{43}$ ]]'
  check "auth-url: code_challenge_method=S256" eval '[[ $(qparam "$url" code_challenge_method) == S256 ]]'

  # The browser follows the url to MockPass, which logs the persona in at once.
  navigate "$url"
  redirect=$(hdr location)
  check "MockPass authorize: 302 to the redirect_uri" eval 'is 302 && [[ $redirect == "$API/api/redirect?"* ]]'
  code=$(qparam "$redirect" code || true)
  check "MockPass authorize: returns code and our state" eval '[[ -n $code && $(qparam "$redirect" state) == "$state" ]]'

  navigate "$redirect"
  check "redirect: 302 to $ORIGIN/logged-in" eval 'is 302 && hdr_is location "$ORIGIN/logged-in"'
  session_cookie=$(set_cookie)
  session_sid=$(cookie_value "$session_cookie")
  check "redirect: sets a new session id" eval '[[ -n $session_sid && $session_sid != "$login_sid" ]]'
  check "redirect: new cookie is HttpOnly" eval '[[ ${session_cookie,,} == *"; httponly"* ]]'

  fetch GET "$API/api/userinfo"
  check "userinfo: 200 JSON" eval 'is 200 && ctype_is application/json && is_json'
  check "userinfo: sub is u=<uuid>" eval '[[ $(jq -r .sub "$T/b") =~ ^u=[0-9a-f-]{36}$ ]]'
  check "userinfo: data[\"myinfo.name\"] is $NAME" json_is '.data["myinfo.name"]' "$NAME"
  check "userinfo: data.iceCream is Vanilla" json_is .data.iceCream Vanilla
  check "userinfo: CORS exact origin + credentials" cors_ok
  userinfo=$(jq -S -c . "$T/b" 2>/dev/null || echo none)

  # Two tabs (issue 14): two auth-url calls in one browser (a jar of its
  # own, so the session above stays), then the first one opened finishes.
  JAR=$T/jar-$front-tabs
  rm -f "$JAR"
  fetch GET "$API/api/auth-url?icecream=Mango"
  local tab1 tab2
  tab1=$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)
  fetch GET "$API/api/auth-url?icecream=Durian"
  tab2=$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)
  check "two tabs: the second auth-url keeps the first attempt in the cookie" \
    eval '[[ -n $tab1 && -n $tab2 && $(cookie_value "$(set_cookie)") == *.* ]]'
  navigate "$tab1"
  navigate "$(hdr location)"
  check "two tabs: the first one opened logs in (302 to $ORIGIN/logged-in)" \
    eval 'is 302 && hdr_is location "$ORIGIN/logged-in"'
  fetch GET "$API/api/userinfo"
  check "two tabs: the session has the first tab's iceCream (Mango)" json_is .data.iceCream Mango
  fetch GET "$API/api/logout"
  JAR=$T/jar-$front

  # The profile is kept in the session: sgID is not asked again.
  stack_stop mockpass
  fetch GET "$API/api/userinfo"
  check "userinfo with MockPass stopped: same JSON from the session" \
    eval 'is 200 && [[ $(jq -S -c . "$T/b" 2>/dev/null) == "$userinfo" ]]'

  # Each request may land on another worker: the session is in Redis.
  same=0
  for _ in 1 2 3 4 5 6; do
    fetch GET "$API/api/userinfo"
    is 200 && [[ $(jq -S -c . "$T/b" 2>/dev/null) == "$userinfo" ]] && same=$((same + 1))
  done
  check "userinfo: 6 more requests over $workers workers all see the session" test "$same" -eq 6

  # Replayed with the session cookie but outside the jar: what the app does to
  # the logged-in session on a failed redirect is not part of the contract, and
  # the logout checks below need that session.
  http GET "$redirect" -H "Cookie: $COOKIE=$session_sid"
  check "redirect replayed (logged-in cookie): 302 to $ORIGIN/error" \
    eval 'is 302 && [[ $(hdr location) =~ ^$ORIGIN/error($|\?) ]]'
  check "redirect replayed: no code in the error URL" eval '[[ $(hdr location) != *"$code"* && $(hdr location) != *code=* ]]'
  http GET "$redirect" -H "Cookie: $COOKIE=$login_sid"
  check "redirect replayed with the pre-login cookie: 302 to $ORIGIN/error" \
    eval 'is 302 && [[ $(hdr location) =~ ^$ORIGIN/error($|\?) ]]'
  http GET "$API/api/redirect?state=$state"
  check "redirect without code or cookie: 302 to $ORIGIN/error" \
    eval 'is 302 && [[ $(hdr location) =~ ^$ORIGIN/error($|\?) ]]'

  # ---- logout ---------------------------------------------------------------

  fetch GET "$API/api/logout"
  check "logout: 200" is 200
  check "logout: clears the cookie (Max-Age=0 or a past Expires)" cleared
  check "logout: CORS exact origin + credentials" cors_ok
  fetch GET "$API/api/userinfo"
  check "userinfo after logout: 401 text/plain Unauthorized" \
    eval 'is 401 && ctype_is text/plain && [[ $(tr -d "\r\n" <"$T/b") == Unauthorized ]]'
  http GET "$API/api/userinfo" -H "Cookie: $COOKIE=$session_sid"
  check "userinfo with the old session id after logout: 401 (deleted in Redis)" is 401
  fetch POST "$API/api/logout"
  check "logout again (POST, no session): 200" is 200

  # Secrets stay out of the logs (DESIGN: no codes, tokens, cookies, secrets).
  leaks=()
  for s in "$code" "$login_sid" "$session_sid" "$SECRET"; do
    [[ -n $s ]] && grep -qF -- "$s" "${logs[@]}" && leaks+=("${s:0:6}...")
  done
  check "logs hold no auth code, session ids or client secret" eval '((${#leaks[@]} == 0))'
  ((${#leaks[@]} == 0)) || echo "#   found: ${leaks[*]}"

  # ---- routing and input checks ---------------------------------------------

  fetch GET "$API/api/nope"
  check "unknown path /api/nope: 404" is 404
  fetch GET "$API/api/health/extra"
  check "unknown path /api/health/extra: 404" is 404
  fetch POST "$API/api/userinfo"
  check "POST /api/userinfo: 405" is 405
  fetch PUT "$API/api/auth-url?icecream=Vanilla"
  check "PUT /api/auth-url: 405" is 405
  fetch DELETE "$API/api/health"
  check "DELETE /api/health: 405" is 405

  long=$(printf 'x%.0s' {1..100})
  fetch GET "$API/api/auth-url?icecream=$long"
  check "auth-url icecream of 100 chars: 400 JSON" eval 'is 400 && ctype_is application/json && is_json'
  # lighttpd (1.4.69) refuses control characters in the URL itself, with its
  # own HTML 400 (server.http-parseopts "url-ctrls-reject", on by default):
  # the app never sees those requests.
  local ctrl='is 400 && ctype_is application/json && is_json' ctrl_what="400 JSON"
  if [[ $front == lighttpd ]]; then
    ctrl='is 400'
    ctrl_what="400 (lighttpd refuses it itself)"
  fi
  fetch GET "$API/api/auth-url?icecream=Van%01illa"
  check "auth-url icecream with a control char: $ctrl_what" eval "$ctrl"
  fetch GET "$API/api/auth-url?icecream=Van%00illa"
  check "auth-url icecream with %00: $ctrl_what" eval "$ctrl"
  fetch GET "$API/api/auth-url?icecream=Van%0D%0ASet-Cookie:x=1"
  check "auth-url icecream with CR LF: $ctrl_what" eval "$ctrl"

  # ---- Redis down and back --------------------------------------------------

  # A crash, not a shutdown: the stale socket file stays behind.
  # (Shell stderr muted meanwhile: bash would report the killed job.)
  exec 3>&2 2>/dev/null
  kill -KILL "${STACK_PID[redis]}" || true
  wait "${STACK_PID[redis]}" || true
  exec 2>&3 3>&-
  unset "STACK_PID[redis]"
  # auth-url needs no Redis: the attempt is sealed into its cookie (and this
  # jar names no session to end, which would need Redis).
  fetch GET "$API/api/auth-url?icecream=Vanilla"
  check "Redis down: auth-url still 200 with a url (no Redis needed)" \
    eval 'is 200 && jq -e ".url | strings" "$T/b" >/dev/null'
  fetch GET "$API/api/health"
  check "Redis down: health 503 JSON" eval 'is 503 && ctype_is application/json && is_json'
  check "Redis down: 503 keeps CORS headers" cors_ok

  setup "restart redis-server on the same socket" stack_start_redis
  check "Redis back: health 200 (6 in a row) within 15 s" poll_ok 15 6 GET "$API/api/health"
  check "Redis back: auth-url 200 (6 in a row) within 15 s" poll_ok 15 6 GET "$API/api/auth-url?icecream=Chocolate"
  check "Redis back: auth-url still returns JSON with a url" eval 'jq -e ".url | strings" "$T/b" >/dev/null'

  check "all $workers workers still running" test "$("$alive")" -eq "$workers"
}

# ---- rate limits --------------------------------------------------------------

# others do (so the header was looked at at all).
no_cors_on_429() {
  awk -v o="$ORIGIN" '$1 == 429 && NF > 1 { bad = 1 } $1 != 429 && $2 == o { cors = 1 }
    END { exit bad || !cors }' "$1"
}
# app_saw ROUTE: how many requests the app has logged for ROUTE.
app_saw() { grep -c -- " route=$1 status=" "$STACK_RT/app.log" || true; }
# app_saw_is ROUTE N: app_saw ROUTE is N (check_limited waits up to 10 s: the
# app logs a request after answering it).
app_saw_is() { (($(app_saw "$1") == $2)); }

# limit_of_lua SCRIPT ENDPOINT: "RATE BURST" of ["/api/ENDPOINT"] in the
# LIMITS table of deploy/lighttpd-ratelimit.lua (one line each); nothing when
# it is not there.
limit_of_lua() {
  sed -n "s|^[[:space:]]*\[\"/api/$2\"\][[:space:]]*=[[:space:]]*{[[:space:]]*rate[[:space:]]*=[[:space:]]*\([0-9]\{1,\}\),[[:space:]]*burst[[:space:]]*=[[:space:]]*\([0-9]\{1,\}\)[[:space:]]*},.*|\1 \2|p" "$1"
}

# limit_of CONF ENDPOINT: "RATE BURST" of the limit_req in `location =
# /api/ENDPOINT` of CONF (RATE in r/s, from its zone's limit_req_zone);
# nothing when the location, its limit_req or the zone is missing.
limit_of() {
  local conf=$1 ep=$2 zone burst rate
  read -r zone burst < <(awk -v loc="/api/$ep" '
    $1 == "location" && $2 == "=" && $3 == loc { inside = 1; next }
    inside && /}/ { inside = 0 }
    inside && $1 == "limit_req" {
      z = ""; b = ""
      for (i = 2; i <= NF; i++) {
        if ($i ~ /^zone=/) { z = substr($i, 6) }
        if ($i ~ /^burst=[0-9]+$/) { b = substr($i, 7) }
      }
      sub(/;$/, "", z)
      if ($0 ~ /[ \t]nodelay;/) print z, b
    }' "$conf")
  [[ -n ${zone:-} && -n ${burst:-} ]] || return 0
  rate=$(sed -n "s/^[[:space:]]*limit_req_zone[[:space:]]\{1,\}\\\$binary_remote_addr[[:space:]]\{1,\}zone=$zone:[0-9]*[km][[:space:]]\{1,\}rate=\([0-9]\{1,\}\)r\/s;.*/\1/p" "$conf")
  [[ -n $rate ]] && echo "$rate $burst"
}

# check_limited FRONT ENDPOINT OKCODE SRC URL: a burst from SRC over the
# limit of ENDPOINT: the first burst+1 answered as usual (OKCODE), then 429
# from FRONT (nginx or lighttpd), never more than the rate allows, only those
# reach the app; another client address is not affected.
check_limited() {
  local front=$1 ep=$2 okcode=$3 src=$4 url=$5 conf script
  local rate burst n ms ok max before f=$T/burst-$2
  if [[ $front == nginx ]]; then
    conf=$STACK_RT/nginx/nginx.conf
    read -r rate burst < <(limit_of "$conf" "$ep"; echo)
    check "$ep: nginx.conf.example limits it (limit_req_zone on \$binary_remote_addr, r/s; limit_req burst nodelay in location = /api/$ep)" \
      test -n "$rate"
  else
    # The script the generated lighttpd.conf runs for /api/ (the example's,
    # its path substituted).
    script=$(sed -n 's/^[[:space:]]*magnet\.attract-raw-url-to[[:space:]]*=[[:space:]]*([[:space:]]*"\([^"]*lighttpd-ratelimit\.lua\)".*/\1/p' \
      "$STACK_RT/lighttpd.conf" | head -n1)
    read -r rate burst < <([[ -z $script ]] || limit_of_lua "$script" "$ep"; echo)
    check "$ep: lighttpd.conf.example runs lighttpd-ratelimit.lua (magnet.attract-raw-url-to), whose LIMITS has /api/$ep" \
      test -n "$rate"
  fi
  [[ -n $rate ]] || return 0
  n=$((2 * (burst + 1) + 10))
  before=$(app_saw "$ep")
  ms=$(burst "$f" "$src" "$n" "$url" -H "Origin: $ORIGIN")
  ok=$(count "$f" "$okcode")
  # What the zone lets through in ms: burst+1 at once, then rate/s (+1: rounding).
  max=$((burst + 1 + rate * ms / 1000 + 1))
  echo "# $front $ep: $n requests at once from $src, ${ms} ms (rate=${rate}r/s burst=$burst): $ok x $okcode, $(count "$f" 429) x 429"
  check "$ep: $n at once from one client: $((burst + 1)) to $max get $okcode, the rest 429, nothing else" \
    eval '((ok >= burst + 1 && ok <= max && $(count "$f" 429) >= 1)) && only "$f" "$okcode" 429'
  check "$ep: a 429 carries no CORS headers (the SPA sees a network error), the $okcode ones do" no_cors_on_429 "$f"
  check "$ep: only the $ok requests let through reached the app" \
    stack_wait_until 10 "app log for $ep" - app_saw_is "$ep" $((before + ok))
  burst "$f" 127.0.0.9 1 "$url" -H "Origin: $ORIGIN" >/dev/null
  check "$ep: meanwhile another client address gets $okcode" only "$f" "$okcode"
}

# check_unlimited SRC N OKCODE URL: N requests from one client, none limited.
check_unlimited() {
  local src=$1 n=$2 okcode=$3 url=$4 f=$T/burst-unlimited
  burst "$f" "$src" "$n" "$url" -H "Origin: $ORIGIN" >/dev/null
  check "${url#"$API"}: $n at once from one client: all $okcode, not limited" only "$f" "$okcode"
}

rate_limits_nginx() {
  local ex=$root/nginx.conf.example rid
  check "nginx.conf.example: limit_req_status 429" grep -Eq '^[[:space:]]*limit_req_status[[:space:]]+429;' "$ex"
  check "nginx.conf.example: two zones (auth-url, redirect)" \
    eval '(($(grep -Ec "^[[:space:]]*limit_req_zone[[:space:]]" "$ex") == 2))'
  check "nginx.conf.example: fastcgi_param REQUEST_ID \$request_id kept" \
    grep -Eq '^[[:space:]]*fastcgi_param[[:space:]]+REQUEST_ID[[:space:]]+\$request_id;' "$ex"
  # The limited locations inherit the FastCGI parameters of /api/: the id
  # nginx logged for the last auth-url is the one the app logged.
  rid=$(awk '/"GET \/api\/auth-url" 200 / { r = $0 } END { print r }' "$STACK_RT/nginx/logs/access.log" |
    sed -n 's/.* rid=\([0-9a-f]\{32\}\).*/\1/p')
  check "auth-url: the app logs nginx's \$request_id (REQUEST_ID reaches the limited location)" \
    eval '[[ -n $rid ]] && grep -q "req=$rid " "$STACK_RT/app.log"'

  check_limited nginx auth-url 200 127.0.0.2 "$API/api/auth-url?icecream=Vanilla"
  # No cookie: the app refuses at once (302 /error), nothing is sent to sgID.
  check_limited nginx redirect 302 127.0.0.3 "$API/api/redirect?code=junk-rate-limited&state=junk"
  # nginx's own "limiting requests" lines quote the request line, query
  # included: the example keeps them out of error.log.
  check "rejected requests' query strings (the code) are not in nginx's logs" \
    eval '! grep -q "junk-rate-limited" "$STACK_RT"/nginx/logs/*.log'
  check_unlimited 127.0.0.4 60 200 "$API/api/health"
  check_unlimited 127.0.0.4 60 401 "$API/api/userinfo"
  check_unlimited 127.0.0.4 30 200 "$API/api/logout"
}

# r429_ok FILE: lines "CODE|RETRY-AFTER|CONTENT-TYPE|BODY-FILE" of a burst
# at auth-url: every 429 says Retry-After in whole seconds (1 or more) with a
# short text/plain body, every other line is a 200 without Retry-After, and
# there is at least one 429.
r429_ok() {
  local code ra ctype file n=0
  while IFS='|' read -r code ra ctype file; do
    if [[ $code == 429 ]]; then
      [[ $ra =~ ^[1-9][0-9]*$ && $ctype == text/plain* ]] || return 1
      grep -q '^429 Too Many Requests' "$file" || return 1
      (($(wc -c <"$file") < 200)) || return 1
      n=$((n + 1))
    else
      [[ $code == 200 && -z $ra ]] || return 1
    fi
  done <"$1"
  ((n > 0))
}

rate_limits_lighttpd() {
  local f=$T/burst-r429 n=30 i args=() ra
  check_limited lighttpd auth-url 200 127.0.0.2 "$API/api/auth-url?icecream=Vanilla"
  check_limited lighttpd redirect 302 127.0.0.3 "$API/api/redirect?code=junk-rate-limited&state=junk"
  check "rejected requests' query strings (the code) are not in lighttpd's log" \
    eval '! grep -q "junk-rate-limited" "$STACK_RT/lighttpd.log"'
  # What the client gets: each answer's body in a file of its own.
  for ((i = 0; i < n; i++)); do args+=(-o "$T/r429-$i" "$API/api/auth-url?icecream=Mango"); done
  curl -s --max-time 30 --parallel --parallel-immediate --parallel-max "$n" --interface 127.0.0.5 \
    -H "Origin: $ORIGIN" -w '%{http_code}|%header{retry-after}|%header{content-type}|%{filename_effective}\n' \
    "${args[@]}" >"$f" 2>"$T/curl.err" || true
  check "auth-url: $n at once from one client: each 429 has Retry-After (whole seconds) and a short text body, no 200 has Retry-After" \
    r429_ok "$f"
  # Served again once it waits as long as Retry-After said.
  ra=$(awk -F'|' '$1 == 429 && $2 + 0 > m { m = $2 + 0 } END { print m + 0 }' "$f")
  ((ra >= 1 && ra <= 5)) || ra=1
  sleep "$ra"
  http GET "$API/api/auth-url?icecream=Mango" --interface 127.0.0.5 -H "Origin: $ORIGIN"
  check "auth-url: after waiting Retry-After ($ra s) the client is served again (200)" eval 'is 200 && cors_ok'
  http GET "$API/api/redirect?code=junk-rate-limited&state=junk" --interface 127.0.0.3
  check "redirect: a second after its burst the client is served again (302)" is 302
  check_unlimited 127.0.0.4 60 200 "$API/api/health"
  check_unlimited 127.0.0.4 60 401 "$API/api/userinfo"
  check_unlimited 127.0.0.4 30 200 "$API/api/logout"
}

# ratelimit_lua: tests/integration/ratelimit.lua on the shipped script, its
# lines counted as this suite's.
ratelimit_lua() {
  local out=$T/ratelimit-lua.out rc=0
  lua5.4 "$root/tests/integration/ratelimit.lua" "$root/deploy/lighttpd-ratelimit.lua" >"$out" 2>&1 || rc=$?
  tap_relay "$out"
  grep -q '^# lighttpd-ratelimit.lua: ' "$out" || not_ok "ratelimit.lua ended without its summary (exit $rc)"
}

# ---- nginx, spawn-fcgi workers ----------------------------------------------

TAP_TAG="[nginx] "
export REDIS_URL="rediss://localhost:$REDIS_TLS_PORT/0" REDIS_TLS_CA_FILE=$STACK_RT/tls/ca.pem
setup "start MockPass" stack_start_mockpass false "$NRIC"
setup "start $WORKERS sgid-fcgi workers (spawn-fcgi)" stack_start_app "$WORKERS" "$STACK_RT"
setup "start nginx (nginx.conf.example)" stack_start_nginx
setup "API answers /api/health with 200 through nginx" \
  stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up
flow nginx "$WORKERS" stack_app_alive "$STACK_RT/app.log" "$STACK_RT/nginx/logs/access.log"
tls_clients() { redis-cli -s "$STACK_RT/redis.sock" client list | grep -c "laddr=127.0.0.1:$REDIS_TLS_PORT "; }
check "Redis over TLS: the workers' connections are on the TLS port (plain TCP is off)" \
  eval '(($(tls_clients) >= 1))'
TAP_TAG="[nginx] rate limit: "
rate_limits_nginx
stack_stop nginx
stack_stop_app
# tests/valgrind-stack.sh runs the workers under memcheck: nginx is enough.
[[ ${INTEGRATION_NGINX_ONLY:-} == 1 ]] && exit 0
export REDIS_URL=$REDIS_UNIX_URL
unset REDIS_TLS_CA_FILE

# ---- lighttpd starting the workers itself -----------------------------------

TAP_TAG="[lighttpd] "
# The workers lighttpd starts get no environment but LOG_LEVEL and PATH: their
# whole configuration goes in the env file the shipped file names, with paths
# the web user can read.
app_env=$STACK_RT/lighttpd-app.env
key=$(stack_web_path "$SGID_PRIVATE_KEY_FILE")
{
  grep -v '^SGID_PRIVATE_KEY_FILE=' "$root/tests/fixtures/mockpass.env"
  echo "SGID_PRIVATE_KEY_FILE=$key"
  echo "REDIS_URL=$REDIS_URL"
} >"$app_env"
chmod 0644 "$app_env"
setup "start MockPass" stack_start_mockpass false "$NRIC"
setup "start lighttpd (lighttpd.conf.example, \"#spawn:\" on)" stack_start_lighttpd spawn "$app_env"
setup "API answers /api/health with 200 through lighttpd" \
  stack_wait_until 15 "sgid-fcgi behind lighttpd" - stack_api_up
check "lighttpd started max-procs=$STACK_LIGHTTPD_PROCS workers" \
  test "$(stack_lighttpd_workers)" -eq "$STACK_LIGHTTPD_PROCS"
if [[ -n $STACK_WEB_USER ]]; then
  check "its workers run as $STACK_WEB_USER, not root" \
    eval '[[ -z $(pgrep -P "${STACK_PID[lighttpd]}" -x sgid-fcgi -u root) ]]'
fi
flow lighttpd "$STACK_LIGHTTPD_PROCS" stack_lighttpd_workers "$STACK_RT/lighttpd.log"
# lighttpd supervises what it started: a worker that dies is replaced.
victim=$(pgrep -P "${STACK_PID[lighttpd]}" -x sgid-fcgi | head -n1 || true)
[[ -z $victim ]] || kill -KILL "$victim"
replaced() { ! stack_alive "$victim" && (($(stack_lighttpd_workers) == STACK_LIGHTTPD_PROCS)) && stack_api_up; }
check "a killed worker is replaced by lighttpd within 10 s" \
  eval '[[ -n $victim ]] && stack_wait_until 10 "lighttpd replacing a worker" - replaced'
stack_stop lighttpd

# ---- lighttpd as shipped, in front of the supervised pool -------------------

TAP_TAG="[lighttpd+pool] "
JAR=$T/jar-pool
setup "start the pool (sgid-fcgi --listen, 2 workers)" stack_start_pool 2 "$STACK_RT"
setup "start lighttpd (lighttpd.conf.example as shipped)" stack_start_lighttpd pool
setup "API answers /api/health with 200 through lighttpd" \
  stack_wait_until 15 "sgid-fcgi pool behind lighttpd" - stack_api_up
http GET "$ORIGIN/"
check "demo SPA: / is served by lighttpd" eval 'is 200 && ctype_is text/html'
fetch GET "$API/api/auth-url?icecream=Strawberry"
check "auth-url: 200 JSON with a url and a cookie" \
  eval 'is 200 && jq -e ".url | strings" "$T/b" >/dev/null && [[ -n $(set_cookie) ]] && cors_ok'
fetch GET "$API/api/userinfo"
check "userinfo before login: 401" is 401
fetch POST "$API/api/logout"
check "logout: 200, cookie cleared" eval 'is 200 && cleared'
# The same per-client limits as nginx, from lighttpd-ratelimit.lua (mod_magnet).
TAP_TAG="[lighttpd+pool] rate limit: "
rate_limits_lighttpd
TAP_TAG="[lighttpd-ratelimit.lua] "
ratelimit_lua
