#!/usr/bin/env bash
# Login with Singpass end to end (`make singpass`, part of `make check`):
# sgid-fcgi with LOGIN_PROVIDER=singpass against the local Singpass stand-in
# (tests/singpass-op: oidc-provider, FAPI 2.0) and the hostile Singpass
# (tests/hostile-idp/singpass.js), through the shipped example configs:
#
#   [stand-in]       tests/singpass-op/rp-smoke.mjs: the stand-in proved
#                    with a small Node RP, no sgid-fcgi
#   [nginx]          nginx.conf.example, spawn-fcgi workers: GET /api/jwks,
#                    auth-url (one PAR: the authorize URL holds only client_id
#                    and request_uri; no Redis command), the login, /api/userinfo's envelope,
#                    the replayed callback, logout, no secret in the logs
#   [nginx] modes    the MockPass deviations (A256GCM ID token, fractional
#                    iat), a DPoP nonce required, Myinfo scopes (userinfo)
#                    with SINGPASS_ACR_VALUES passed through
#   [nginx] hostile  one hostile Singpass per case: each ends on the SPA's
#                    error page (or an auth-url error) with no session; the
#                    hostile Singpass also checks every client assertion
#                    (aud, exp) and DPoP proof (htm, htu) and that no jti
#                    comes twice
#   [lighttpd+pool]  lighttpd.conf.example in front of the supervised pool,
#                    the flow and the MockPass deviations
#   [gateway nginx], [gateway lighttpd]  deploy/gateway/'s examples: a
#                    navigation to a guarded path, /api/login, Singpass, back,
#                    the Singpass sub at the app (header / authorizer variable);
#                    an access rule on Singpass fields (account_type,
#                    identity_coi) lets the stand-in's Singapore persona in
#                    and gives its foreign one 403, audited access_denied
#   [browser nginx], [browser lighttpd]  headless Chromium logs in through
#                    the demo SPA (tests/browser/singpass.js), behind each server
#   [two providers]  deploy/nginx-two-providers.conf.example: an sgID instance
#                    (MockPass) and a Singpass one behind one nginx, both
#                    logged in from one cookie jar, each session its own
#
# Uses ports 5001, 5173, 5158 (stand-in), 5159 (rp-smoke's), 5160 (hostile),
# 5180 (gateway upstream): run it in a network namespace (make singpass
# does). Prints "ok - ..." / "not ok - ..." and ends with
# "singpass: N passed, N failed". Every wait is bounded (SINGPASS_BUDGET
# seconds for all requests, 300).

# Checks pass their conditions as single-quoted strings that `check ... eval`
# expands later, on purpose.
# shellcheck disable=SC2016,SC2034
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$root/deploy/stack-lib.sh"

ORIGIN=http://localhost:$SPA_PORT
API=http://localhost:$API_PORT
OP=http://localhost:$STACK_SINGPASS_PORT/fapi
HOSTILE_PORT=5160
HOSTILE=http://localhost:$HOSTILE_PORT
APP_PORT=5180
COOKIE=exampleAppSession
CLIENT_ID=sgidFcgiSingpassTestClient000001
SP_SUB=5b4a9a37-5c9e-4a52-9d0f-2f3c9e1b7a64   # the stand-in's persona
SP_NRIC=S9812379B
SP_NAME="LIM YONG XIANG"
WORKERS=2
BUDGET=${SINGPASS_BUDGET:-300}
DEADLINE=$((SECONDS + BUDGET))
KEYS=$root/tests/vectors/singpass/op
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
tap_detail() { local LAST=${LAST%%\?*}; last_response; }

finish() {
  stack_tap_finish singpass "$?" 80 app.log spawn-fcgi.log nginx.log nginx/logs/error.log \
    lighttpd.log singpass-op.log hostile-singpass.log upstream.log browser.out redis.log
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_tap_preflight "curl jq node redis-server redis-cli nginx spawn-fcgi lighttpd" \
  "$API_PORT" "$SPA_PORT" "$STACK_SINGPASS_PORT" "$HOSTILE_PORT" "$APP_PORT" 5159

stack_init sgid-fcgi-singpass
T=$STACK_RT/t
JAR=$T/jar
mkdir -p "$T"

# ---- [stand-in] the stand-in on its own ----------------------------------------

TAP_TAG="[stand-in] "
smoke_out=$T/rp-smoke.out
(cd "$root/tests/singpass-op" && timeout 180 node rp-smoke.mjs) >"$smoke_out" 2>&1 || true
tap_relay "$smoke_out"
grep -q '^singpass-op smoke: ' "$smoke_out" || not_ok "rp-smoke.mjs ended without its summary"

# ---- configuration --------------------------------------------------------------

# Only our configuration: nothing from the caller's environment.
unset "${!SGID_@}" "${!SINGPASS_@}" "${!REDIS_TLS_@}" REDIS_URL SESSION_COOKIE_NAME COOKIE_SAMESITE \
  COOKIE_SECURE LOGIN_TTL_SECONDS SESSION_TTL_SECONDS SESSION_SECRET LOGIN_PROVIDER
export REDIS_URL="unix://$STACK_RT/redis.sock"
export SINGPASS_SIGNING_KEY_FILE=$KEYS/rp-signing-key.pem
export SINGPASS_ENCRYPTION_KEY_FILE=$KEYS/rp-encryption-key.pem
export LOG_LEVEL=debug
STACK_APP_ARGS=(--env-file "$root/tests/fixtures/singpass.env")
STACK_REDIS_GROUP=$STACK_WEB_USER
setup "start redis-server" stack_start_redis

# shellcheck source=tests/http-lib.sh
. "$root/tests/http-lib.sh"
fetch() { http "$1" "$2" -b "$JAR" -c "$JAR" -H "Origin: $ORIGIN" "${@:3}"; }
navigate() { http GET "$1" -b "$JAR" -c "$JAR" "${@:2}"; }
ctype_is() { [[ $(hdr content-type) == "$1"* ]]; }
json_is() { [[ $(jq -r "$1" "$T/b" 2>/dev/null) == "$2" ]]; }
is_error_page() { is 302 && [[ $(hdr location) =~ ^$ORIGIN/error($|\?) ]]; }
# redis_commands: the commands Redis has run so far (INFO itself not counted).
redis_commands() {
  redis-cli -s "$STACK_RT/redis.sock" INFO commandstats |
    awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { n += $3 } END { print n + 0 }'
}
op_count() { curl -fsS --max-time 5 "http://localhost:$STACK_SINGPASS_PORT/counts" | jq -r ".$1"; }

# authorize_to_callback URL: a browser at the provider's authorize URL:
# follow its redirects (cookies kept) until one goes back to the app's
# redirect URI; that URL in CALLBACK (empty when it never does).
CALLBACK=""
authorize_to_callback() {
  local url=$1
  CALLBACK=""
  for _ in 1 2 3 4 5 6; do
    navigate "$url"
    [[ $CODE == 30[0-9] ]] || return 0
    url=$(hdr location)
    [[ $url == /* ]] && url="${1%%/fapi/*}$url"
    if [[ $url == "$API/api/redirect?"* ]]; then
      CALLBACK=$url
      return 0
    fi
  done
}

# jwks_ok: the last response is the app's public JWKS: at least one EC P-256
# sig key (ES256) and one enc key (ECDH-ES+A*KW), kids unique, no private member.
jwks_ok() {
  jq -e '(.keys | type == "array") and
    ([.keys[] | select(.use == "sig" and .kty == "EC" and .crv == "P-256" and .alg == "ES256")] | length >= 1) and
    ([.keys[] | select(.use == "enc" and .kty == "EC" and (.alg | test("^ECDH-ES\\+A(128|192|256)KW$")))] | length >= 1) and
    ([.keys[].kid] | length == (unique | length)) and
    ([.keys[] | select(has("d") or has("p") or has("q") or has("k"))] | length == 0)' "$T/b" >/dev/null 2>&1
}
max_age_ok() {
  local cc
  cc=$(hdr cache-control)
  [[ $cc == *public* && $cc =~ max-age=([0-9]+) ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[1] <= 3600))
}

# login_ok TAG ICECREAM [ISSUER SUB NAME]: one whole SPA login that must
# succeed (against the stand-in, or ISSUER whose persona is SUB, NAME);
# leaves the session in $JAR and its /api/userinfo in $T/b.
login_ok() {
  # (not "name": check's own local would hide it from the eval)
  local tag=$1 ice=$2 iss=${3:-$OP} want_sub=${4:-$SP_SUB} want_name=${5:-$SP_NAME} url
  fetch GET "$API/api/auth-url?icecream=$ice"
  url=$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)
  check "$tag: auth-url: 200 with the provider's authorize URL" eval 'is 200 && [[ $url == "$iss/auth?"* ]]'
  authorize_to_callback "$url"
  check "$tag: the provider logs the persona in and sends the browser to $API/api/redirect" test -n "$CALLBACK"
  navigate "${CALLBACK:-$API/api/redirect}"
  check "$tag: callback: 302 to $ORIGIN/logged-in" eval 'is 302 && [[ $(hdr location) == "$ORIGIN/logged-in" ]]'
  fetch GET "$API/api/userinfo"
  check "$tag: /api/userinfo: 200, the persona's sub and name, iceCream $ice" \
    eval 'is 200 && json_is .sub "$want_sub" && json_is .data.name "$want_name" && json_is .data.iceCream "$ice"'
}

# ---- [nginx] the SPA login ------------------------------------------------------

flow() {
  local front=$1 url state code login_sid session_sid userinfo leaks s par0 tok0 disc0 n r0
  JAR=$T/jar-$front
  rm -f "$JAR"

  fetch GET "$API/api/jwks"
  check "GET /api/jwks: 200 JSON, sig (ES256, P-256) and enc (ECDH-ES) keys, unique kids, nothing private" \
    eval 'is 200 && ctype_is application/json && jwks_ok'
  check "GET /api/jwks: Cache-Control public, max-age at most 3600" max_age_ok

  fetch GET "$API/api/userinfo"
  check "userinfo before login: 401" is 401

  par0=$(op_count par)
  tok0=$(op_count token)
  r0=$(redis_commands)
  fetch GET "$API/api/auth-url?icecream=Vanilla"
  check "auth-url: no Redis command (the attempt, its DPoP key too, is sealed in the cookie)" eval '(($(redis_commands) == r0))'
  check "auth-url: 200 JSON with a url" eval 'is 200 && ctype_is application/json && jq -e ".url | strings" "$T/b" >/dev/null'
  login_sid=$(cookie_value "$(set_cookie)")
  check "auth-url: sets the $COOKIE attempt cookie" test -n "$login_sid"
  url=$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)
  check "auth-url: the stand-in's authorize endpoint" eval '[[ $url == "$OP/auth?"* ]]'
  check "auth-url: the URL holds only client_id ($CLIENT_ID) and request_uri" \
    eval '[[ $(qparam "$url" client_id) == "$CLIENT_ID" && $(qparam "$url" request_uri) == urn:ietf:params:oauth:request_uri:* &&
      $(node -e "console.log([...new URL(process.argv[1]).searchParams.keys()].sort().join())" "$url") == client_id,request_uri ]]'
  check "auth-url: exactly one PAR reached the stand-in, no token call" \
    eval '(($(op_count par) == par0 + 1 && $(op_count token) == tok0))'

  authorize_to_callback "$url"
  check "the stand-in logs the persona in: back to $API/api/redirect with code, state and iss" \
    eval '[[ -n $CALLBACK && -n $(qparam "$CALLBACK" code) && -n $(qparam "$CALLBACK" state) && $(qparam "$CALLBACK" iss) == "$OP" ]]'
  code=$(qparam "$CALLBACK" code || true)
  navigate "$CALLBACK"
  check "callback: 302 to $ORIGIN/logged-in" eval 'is 302 && [[ $(hdr location) == "$ORIGIN/logged-in" ]]'
  session_sid=$(cookie_value "$(set_cookie)")
  check "callback: a new session id" eval '[[ -n $session_sid && $session_sid != "$login_sid" ]]'
  check "callback: exactly one token call (DPoP, client assertion) reached the stand-in" eval '(($(op_count token) == tok0 + 1))'

  fetch GET "$API/api/userinfo"
  check "userinfo: 200 JSON {sub, data}" eval 'is 200 && ctype_is application/json && jq -e "(.sub | strings) and (.data | objects)" "$T/b" >/dev/null'
  check "userinfo: sub is the stand-in's sub ($SP_SUB)" json_is .sub "$SP_SUB"
  check "userinfo: data has sub_attributes' members: name, account_type, identity_number, identity_coi" \
    eval 'json_is .data.name "$SP_NAME" && json_is .data.account_type standard && json_is .data.identity_number "$SP_NRIC" && json_is .data.identity_coi SG'
  check "userinfo: data.iceCream is Vanilla" json_is .data.iceCream Vanilla
  userinfo=$(jq -S -c . "$T/b" 2>/dev/null || echo none)

  stack_stop singpass-op
  fetch GET "$API/api/userinfo"
  check "userinfo with the stand-in stopped: the same JSON from the session" \
    eval 'is 200 && [[ $(jq -S -c . "$T/b" 2>/dev/null) == "$userinfo" ]]'
  fetch GET "$API/api/auth-url?icecream=Vanilla"
  check "auth-url with the stand-in stopped (PAR refused): an error with no url, no session" \
    eval '((CODE >= 500)) && ! jq -e ".url" "$T/b" >/dev/null 2>&1'
  fetch GET "$API/api/health"
  check "health with the stand-in stopped: 200 (Singpass is not Redis)" is 200
  setup "restart the stand-in" stack_start_singpass_op

  http GET "$CALLBACK" -H "Cookie: $COOKIE=$login_sid"
  check "callback replayed with the attempt cookie: the error page, no session" \
    eval 'is_error_page && [[ $(cookie_value "$(set_cookie)") != "$session_sid" ]]'
  check "callback replayed: no code in the error URL" eval '[[ $(hdr location) != *"$code"* ]]'

  # Discovery is cached, not fetched per login: two more logins.
  disc0=$(op_count discovery)
  login_ok "second login" Mango
  login_ok "third login" Durian
  n=$(op_count discovery)
  check "discovery is cached: two more logins fetched it $((n - disc0)) times (at most once per worker: $workers)" \
    eval '((n - disc0 <= workers))'

  fetch GET "$API/api/logout"
  check "logout: 200, the cookie cleared" eval 'is 200 && cleared'
  fetch GET "$API/api/userinfo"
  check "userinfo after logout: 401" is 401

  leaks=()
  for s in "$code" "$login_sid" "$session_sid" \
    "$(sed -n 2p "$KEYS/rp-signing-key.pem")" "$(sed -n 2p "$KEYS/rp-encryption-key.pem")" "$(jq -r .d "$KEYS/op-signing-key.jwk.json")"; do
    [[ -n $s ]] && grep -qF -- "$s" "${logs[@]}" && leaks+=("${s:0:6}...")
  done
  check "logs hold no code, session ids or private keys" eval '((${#leaks[@]} == 0))'
  ((${#leaks[@]} == 0)) || echo "#   found: ${leaks[*]}"
}

# One client address makes every request of the suite: the example's
# per-client limits raised out of the way (as tests/hostile/run.sh does).
RAISE_LIMITS=(
  -e '/^[[:space:]]*limit_req_zone[[:space:]]/s# rate=[0-9][0-9]*r/[sm];# rate=100000r/s;#'
  -e '/^[[:space:]]*limit_req[[:space:]]/s# burst=[0-9][0-9]*# burst=100000#'
)
STACK_NGINX_SED=("${RAISE_LIMITS[@]}")
TAP_TAG="[nginx] "
setup "start the Singpass stand-in" stack_start_singpass_op
setup "start $WORKERS sgid-fcgi workers (spawn-fcgi, LOGIN_PROVIDER=singpass)" stack_start_app "$WORKERS" "$STACK_RT"
setup "start nginx (nginx.conf.example)" stack_start_nginx
setup "API answers /api/health with 200 through nginx" stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up
workers=$WORKERS
logs=("$STACK_RT/app.log" "$STACK_RT/nginx/logs/access.log" "$STACK_RT/nginx/logs/error.log" "$STACK_RT/singpass-op.log")
flow nginx

# ---- [nginx] the stand-in's modes -----------------------------------------------

restart_op() {
  stack_stop singpass-op
  setup "restart the stand-in ($*)" stack_start_singpass_op "$@"
}
TAP_TAG="[nginx] MockPass deviations: "
restart_op SINGPASS_OP_ID_TOKEN_ENC=A256GCM SINGPASS_OP_FRACTIONAL_IAT=1
JAR=$T/jar-deviations
login_ok "A256GCM ID token with a fractional iat" Chocolate

TAP_TAG="[nginx] DPoP nonce: "
restart_op SINGPASS_OP_DPOP_NONCE=1
: >"$T/op-log-mark"
JAR=$T/jar-nonce
login_ok "every proof must carry the server's nonce" Vanilla
check "the stand-in asked for a nonce (use_dpop_nonce) and the app retried with it" \
  grep -q 'use_dpop_nonce' "$STACK_RT/singpass-op.log"

# Myinfo scopes, and SINGPASS_ACR_VALUES passed through: the stand-in logs
# in at the first level asked for, else loa:2, which loa:3 would refuse.
TAP_TAG="[nginx] Myinfo, acr loa:3: "
restart_op
stack_stop_app
SINGPASS_SCOPES="openid uinfin name" SINGPASS_ACR_VALUES=urn:singpass:authentication:loa:3 \
  setup "restart the workers with SINGPASS_SCOPES=\"openid uinfin name\", SINGPASS_ACR_VALUES loa:3" \
  stack_start_app "$WORKERS" "$STACK_RT"
setup "API answers again" stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up
JAR=$T/jar-myinfo
u0=$(op_count userinfo)
login_ok "login with Myinfo scopes, acr_values loa:3 sent and the ID token's acr loa:3 accepted" Mango
check "the callback called userinfo once (DPoP-bound token, ath)" eval '(($(op_count userinfo) == u0 + 1))'
check "/api/userinfo: data holds the Myinfo uinfin ($SP_NRIC) from the decrypted userinfo" \
  eval 'jq -e --arg n "$SP_NRIC" "[.data | .. | strings] | index(\$n) != null" "$T/b" >/dev/null'
stack_stop_app

# ---- [nginx] hostile Singpass ----------------------------------------------------

TAP_TAG="[nginx] hostile: "
stack_bg hostile-singpass "$STACK_RT/hostile-singpass.log" env -i PATH="$PATH" PORT="$HOSTILE_PORT" \
  CLIENT_ID="$CLIENT_ID" CLIENT_JWKS_URI="$API/api/jwks" CLIENT_SIGNING_KEY="$KEYS/rp-signing-key.pem" \
  node "$root/tests/hostile-idp/singpass.js"
setup "start the hostile Singpass" stack_wait_until 30 "hostile Singpass" "${STACK_PID[hostile-singpass]}" \
  stack_curl_loopbacks "$HOSTILE/fapi/.well-known/openid-configuration" -fsS --max-time 2 -o /dev/null
SINGPASS_ISSUER=$HOSTILE/fapi setup "start the workers against the hostile Singpass" stack_start_app "$WORKERS" "$STACK_RT"
setup "API answers again" stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up
scenario() {
  curl -fsS --max-time 5 -X POST --data-binary "$1" "$HOSTILE/__control/scenario" >/dev/null
}
no_session() {
  fetch GET "$API/api/userinfo"
  is 401
}

# hostile_login NAME SCENARIO: a login against that scenario ends on the
# error page with no session, played as the SPA's login (auth-url) and as a
# gateway's (a navigation to /api/login?rd=...).
hostile_login() {
  local name=$1 url
  JAR=$T/jar-hostile
  rm -f "$JAR"
  setup "scenario $1" scenario "$2"
  fetch GET "$API/api/auth-url?icecream=Vanilla"
  url=$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)
  if [[ $url != "$HOSTILE/fapi/auth?"* ]]; then
    not_ok "$name: auth-url gives the hostile authorize URL"
  else
    authorize_to_callback "$url"
    navigate "${CALLBACK:-$API/api/redirect}"
    check "$name: the error page, no session" eval 'is_error_page && no_session'
  fi
  rm -f "$JAR"
  navigate "$API/api/login?rd=%2Fprotected%2Fpage" -H 'Accept: text/html' -H 'Sec-Fetch-Mode: navigate'
  url=$(hdr location)
  if ! is 302 || [[ $url != "$HOSTILE/fapi/auth?"* ]]; then
    not_ok "$name (gateway): /api/login redirects to the hostile authorize URL"
    return 0
  fi
  authorize_to_callback "$url"
  navigate "${CALLBACK:-$API/api/redirect}" -H 'Accept: text/html' -H 'Sec-Fetch-Mode: navigate'
  check "$name (gateway): the error page, not rd, no session" eval 'is_error_page && no_session'
}

# The baseline (no attack) must log in, or the refusals below prove nothing.
JAR=$T/jar-hostile-baseline
setup "scenario baseline" scenario '{}'
login_ok "baseline (no attack)" Vanilla "$HOSTILE/fapi" 2f1b7a64-5b4a-4a52-9d0f-9a375c9e2f3c "HOSTILE SINGPASS PERSONA"

# Singpass's "try again" answers are retried (up to 3 times): two at PAR and
# one at token still log in; four at PAR give up with 502, no cookie.
hostile_count() { curl -fsS --max-time 5 "$HOSTILE/__control/log" | jq ".counters.$1"; }
JAR=$T/jar-hostile-transient
setup "scenario: 2 x 503 at PAR, 1 x 503 at token" scenario '{"par":{"transient":2},"token":{"transient":1}}'
par0=$(hostile_count par) tok0=$(hostile_count token)
login_ok "try again twice at PAR, once at token" Mango "$HOSTILE/fapi" 2f1b7a64-5b4a-4a52-9d0f-9a375c9e2f3c "HOSTILE SINGPASS PERSONA"
check "try again: 3 PARs and 2 token calls for that login, the retries logged" \
  eval '[[ $(($(hostile_count par) - par0)) == 3 && $(($(hostile_count token) - tok0)) == 2 ]] &&
    grep -q "singpass: par answered temporarily_unavailable (HTTP 503); trying again" "$STACK_RT/app.log" &&
    grep -q "singpass: token answered server_error (HTTP 503); trying again" "$STACK_RT/app.log"'
JAR=$T/jar-hostile-transient-4
setup "scenario: 4 x 503 at PAR" scenario '{"par":{"transient":4}}'
par0=$(hostile_count par)
fetch GET "$API/api/auth-url?icecream=Mango"
check "try again four times at PAR: auth-url 502 provider_unavailable, no cookie, 4 PARs" \
  eval 'is 502 && json_is .error provider_unavailable && [[ -z $(set_cookie) && $(($(hostile_count par) - par0)) == 4 ]]'

hostile_login "unsigned ID token (alg none)" '{"id_token":{"sign":"none"}}'
hostile_login "HS256 keyed with Singpass's public key" '{"id_token":{"sign":"hs256_pubkey"}}'
hostile_login "JWS by an unknown key under Singpass's kid" '{"id_token":{"sign":"foreign_same_kid"}}'
hostile_login "JWS by an unknown key and kid" '{"id_token":{"sign":"foreign_new_kid"}}'
hostile_login "JWS by the client's own signing key" '{"id_token":{"sign":"client_key"}}'
hostile_login "JWE epk not on P-256 (invalid curve)" '{"id_token":{"jwe":"epk_invalid_curve"}}'
hostile_login "JWE epk on P-384" '{"id_token":{"jwe":"epk_p384"}}'
hostile_login "a plain JWS, not encrypted" '{"id_token":{"jwe":"plain_jws"}}'
hostile_login "wrong iss" '{"id_token":{"claims_set":{"iss":"http://localhost:5158/fapi"}}}'
hostile_login "wrong aud" '{"id_token":{"claims_set":{"aud":"someone-else"}}}'
hostile_login "aud array with a foreign azp" '{"id_token":{"claims_set":{"aud":["sgidFcgiSingpassTestClient000001","other"],"azp":"other"}}}'
hostile_login "wrong nonce" '{"id_token":{"claims_set":{"nonce":"not-the-nonce-of-this-login-0123456789"}}}'
hostile_login "no nonce" '{"id_token":{"claims_remove":["nonce"]}}'
hostile_login "expired (exp 10 min ago)" '{"id_token":{"claims_relative":{"exp":-600,"iat":-1200}}}'
hostile_login "nbf 10 min in the future" '{"id_token":{"claims_relative":{"nbf":600}}}'
hostile_login "iat 10 min in the future" '{"id_token":{"claims_relative":{"iat":600}}}'
hostile_login "sub_attributes a string" '{"id_token":{"claims_set":{"sub_attributes":"S9812379B"}}}'
hostile_login "sub_attributes an array" '{"id_token":{"claims_set":{"sub_attributes":["S9812379B"]}}}'
hostile_login "empty sub" '{"id_token":{"claims_set":{"sub":""}}}'
hostile_login "token_type Bearer" '{"token":{"body_set":{"token_type":"Bearer"}}}'
hostile_login "no token_type" '{"token":{"body_remove":["token_type"]}}'
hostile_login "no id_token" '{"token":{"body_remove":["id_token"]}}'
hostile_login "oversized JWE (a 4 MiB ID token)" '{"id_token":{"padding_bytes":3000000}}'
# under SGID_HTTP_MAX_BODY (1 MiB) and JOSE_MAX_TOKEN_LEN (64 KiB): the ID token's own bound refuses it
hostile_login "oversized JWE (a 36 KiB ID token: over its 16 KiB bound, under every other)" '{"id_token":{"padding_bytes":20000}}'
check "the 36 KiB ID token: refused by the ID token's size bound (the log says too large)" \
  grep -q 'redirect: login failed: singpass: ID token rejected: id_token: .*too large' "$STACK_RT/app.log"
hostile_login "the callback names another issuer (iss, RFC 9207 mix-up)" '{"authorize":{"iss":"https://another.example/fapi"}}'
check "the callback naming another issuer: the reason in the log" \
  grep -qF "redirect: login failed: the callback's iss is not singpass's issuer" "$STACK_RT/app.log"
hostile_login "an error sent to the redirect URI (access_denied)" '{"authorize":{"error":"access_denied"}}'
check "an error sent to the redirect URI: the reason in the log (singpass returned error=access_denied), its description nowhere" \
  eval 'grep -qF "singpass returned error=access_denied" "$STACK_RT/app.log" && ! grep -qF "hostile <b>error" "${logs[@]}"'
# Two keys under one kid, in the first JWKS the workers ever fetch (with
# their caches warm from the cases above, the known key would be used).
stack_stop_app
SINGPASS_ISSUER=$HOSTILE/fapi setup "restart the workers (empty JWKS caches)" stack_start_app "$WORKERS" "$STACK_RT"
setup "API answers again" stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up
hostile_login "JWKS with two keys under one kid" '{"jwks":"duplicate_kids"}'

# A replayed code: the hostile Singpass serves any code again (as MockPass
# does); the app must not make a second session from one callback.
JAR=$T/jar-replay
rm -f "$JAR"
scenario '{}'
fetch GET "$API/api/auth-url?icecream=Vanilla"
pre=$(cookie_value "$(set_cookie)")
authorize_to_callback "$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)"
navigate "$CALLBACK"
check "replayed code: the first callback logs in" eval 'is 302 && [[ $(hdr location) == "$ORIGIN/logged-in" ]]'
JAR=$T/jar-replay2
http GET "$CALLBACK" -H "Cookie: $COOKIE=$pre" -c "$JAR"
check "replayed code: the same callback again (code accepted by the provider) ends on the error page, no session" \
  eval 'is_error_page && no_session'

# PAR refused or malformed: auth-url fails, no URL, no attempt cookie.
par_fails() {
  JAR=$T/jar-par
  rm -f "$JAR"
  setup "scenario $1" scenario "$2"
  fetch GET "$API/api/auth-url?icecream=Vanilla"
  check "$1: auth-url answers an error with no url, and no session" \
    eval '((CODE >= 400)) && ! jq -e ".url" "$T/b" >/dev/null 2>&1 && no_session'
}
par_fails "PAR answer without request_uri" '{"par":{"omit_request_uri":true}}'
par_fails "PAR answered 400 invalid_request" '{"par":{"status":400,"body_set":{"error":"invalid_request"}}}'
curl -fsS --max-time 5 "$HOSTILE/__control/log" >"$T/hostile-log.json" || true
check "the hostile Singpass saw on every PAR and token call a DPoP proof (htm, htu) and a client assertion (aud = issuer, exp - iat <= 120), each jti new, each PAR a new DPoP key" \
  eval '[[ $(jq ".violations | length" "$T/hostile-log.json") == 0 && $(jq ".counters.par + .counters.token" "$T/hostile-log.json") -gt 40 ]]'
jq -c '.violations[:5][]' "$T/hostile-log.json" 2>/dev/null | sed 's/^/#   /' || true
stack_stop_app
stack_stop nginx

# ---- [lighttpd+pool] ---------------------------------------------------------------

TAP_TAG="[lighttpd+pool] "
setup "start the pool (sgid-fcgi --listen, 2 workers)" stack_start_pool 2 "$STACK_RT"
setup "start lighttpd (lighttpd.conf.example)" stack_start_lighttpd pool
setup "API answers /api/health with 200 through lighttpd" stack_wait_until 15 "sgid-fcgi behind lighttpd" - stack_api_up
logs=("$STACK_RT/app.log" "$STACK_RT/lighttpd.log" "$STACK_RT/singpass-op.log")
workers=2
flow lighttpd
TAP_TAG="[lighttpd+pool] MockPass deviations: "
restart_op SINGPASS_OP_ID_TOKEN_ENC=A256GCM SINGPASS_OP_FRACTIONAL_IAT=1
JAR=$T/jar-deviations-lighttpd
login_ok "A256GCM ID token with a fractional iat" Chocolate
restart_op
stack_stop lighttpd

# ---- [gateway] ---------------------------------------------------------------------

# gw_login APP_LOG SUB_JQ: a navigation to a guarded path without a session,
# /api/login (one PAR), Singpass, the callback, back to exactly that path;
# the app (its request log APP_LOG) got the Singpass sub (at SUB_JQ).
gw_login() {
  local applog=$1 subjq=$2 loc authz
  JAR=$T/jar-gw
  rm -f "$JAR"
  navigate "$API$PROT" "${NAV[@]}"
  loc=$(hdr location)
  [[ $loc == /* ]] && loc=$API$loc
  check "a navigation without a session: 302 to /api/login" eval 'is 302 && [[ $loc == "$API/api/login?"* ]]'
  navigate "$loc" "${NAV[@]}"
  authz=$(hdr location)
  check "/api/login: 302 to the stand-in's authorize URL (one PAR)" eval 'is 302 && [[ $authz == "$OP/auth?"* ]]'
  authorize_to_callback "$authz"
  navigate "${CALLBACK:-$API/api/redirect}" "${NAV[@]}"
  check "callback: 302 back to exactly $API$PROT" eval 'is 302 && [[ $(hdr location) == "$API$PROT" ]]'
  navigate "$API$PROT" "${NAV[@]}"
  check "$PROT: 200 from the app" is 200
  check "the app got the Singpass sub as its identity" eval '[[ $(tail -n1 "$applog" | jq -r "$subjq") == "$SP_SUB" ]]'
  fetch GET "$API/api/userinfo"
  check "/api/userinfo on the gateway session: the Singpass profile" eval 'is 200 && json_is .sub "$SP_SUB" && json_is .data.name "$SP_NAME"'
}
# An access rule on Singpass fields (issue 23 on Singpass's sub_attributes):
# a Singapore account may enter, the stand-in's foreign account (account_type
# "foreign", identity_coi "MY") gets 403. Its location also hands the app
# the account_type (X-Sgid-Account-Type / SGID_ACCOUNT_TYPE).
SP_RULE_NAME=sp-standard
SP_RULE='account_type = "standard" and identity_coi in ["SG"]'
SP_RULE_PATH=/protected/rule-$SP_RULE_NAME/page
FOREIGN_SUB=0d6f3b2e-8a41-4c7d-9e55-6b1a2c3d4e5f # the stand-in's foreign persona
FOREIGN_NAME="NUR AISYAH BINTI RAHMAN"
sp_persona() { curl -fsS --max-time 5 -o /dev/null -X POST "http://localhost:$STACK_SINGPASS_PORT/persona?name=$1"; }
# denied_audits: the audit log's access_denied lines for the rule (app.log).
denied_audits() { grep -F '"event":"access_denied"' "$STACK_RT/app.log" | jq -c --arg r "$SP_RULE_NAME" 'select(.rule == $r)' 2>/dev/null || true; }

# gw_rule APP_LOG TYPE_JQ: each persona logs in by navigating to the rule's
# location; the Singapore account reaches the app (which gets its
# account_type at TYPE_JQ), the foreign one gets 403 (never 401: no login
# loop), the app never sees it, and the audit log says access_denied with
# the rule's name and nothing of the user's.
gw_rule() {
  local applog=$1 typejq=$2 who loc n0 lines
  for who in default foreign; do
    setup "the stand-in logs its $who persona in" sp_persona "$who"
    JAR=$T/jar-rule-$who
    rm -f "$JAR"
    n0=$(denied_audits | wc -l)
    navigate "$API$SP_RULE_PATH" "${NAV[@]}"
    loc=$(hdr location)
    [[ $loc == /* ]] && loc=$API$loc
    navigate "$loc" "${NAV[@]}"
    authorize_to_callback "$(hdr location)"
    navigate "${CALLBACK:-$API/api/redirect}" "${NAV[@]}"
    check "rule $SP_RULE_NAME, $who persona: logged in, back to $SP_RULE_PATH" \
      eval 'is 302 && [[ $(hdr location) == "$API$SP_RULE_PATH" ]]'
    lines=$(wc -l <"$applog")
    navigate "$API$SP_RULE_PATH" "${NAV[@]}"
    if [[ $who == default ]]; then
      check "rule $SP_RULE_NAME: the Singapore account (standard, SG) is let in: 200, the app got its sub and account_type" \
        eval 'is 200 && [[ $(tail -n1 "$applog" | jq -r ".identity.sub.value") == "$SP_SUB" &&
          $(tail -n1 "$applog" | jq -r "$typejq") == standard ]]'
    else
      check "rule $SP_RULE_NAME: the foreign account (foreign, MY) is refused: 403, not 401, the app not reached" \
        eval 'is 403 && (($(wc -l <"$applog") == lines))'
      check "rule $SP_RULE_NAME: one more audit access_denied line naming the rule, outcome denied, no sub or name" \
        eval '(($(denied_audits | wc -l) == n0 + 1)) &&
          [[ $(denied_audits | tail -n1 | jq -r "[.outcome, has(\"sub\")] | join(\" \")") == "denied false" ]] &&
          ! denied_audits | grep -qF -e "$FOREIGN_SUB" -e "$FOREIGN_NAME"'
      fetch GET "$API/api/userinfo"
      check "rule $SP_RULE_NAME: the refused user is still logged in (the foreign persona's session)" \
        eval 'is 200 && json_is .sub "$FOREIGN_SUB" && json_is .data.account_type foreign && json_is .data.identity_coi MY'
    fi
  done
  setup "the stand-in logs its default persona in again" sp_persona default
}
NAV=(-H 'Accept: text/html' -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Dest: document')
PROT="/protected/page?x=1"
STACK_WEB_PROBE_URL=$API/api/health

TAP_TAG="[gateway nginx] "
UPSTREAM_LOG=$STACK_RT/upstream-requests.log
: >"$UPSTREAM_LOG"
stack_bg upstream "$STACK_RT/upstream.log" env GATEWAY_APP_PORT="$APP_PORT" \
  GATEWAY_APP_LOG="$UPSTREAM_LOG" node "$root/tests/gateway/app.js"
setup "start the protected app (tests/gateway/app.js)" stack_wait_until 15 "app.js" "${STACK_PID[upstream]}" \
  curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$APP_PORT/__health"
STACK_NGINX_EXAMPLE=$root/deploy/gateway/nginx.conf.example
printf "        %s '%s';\n" "$SP_RULE_NAME" "$SP_RULE" >"$STACK_RT/nginx-sp-rules.conf"
cat >"$STACK_RT/nginx-sp-locations.conf" <<EOF
        location /protected/rule-$SP_RULE_NAME/ {
            auth_request /.sgid/auth/$SP_RULE_NAME;
            auth_request_set \$sgid_sub \$upstream_http_x_sgid_sub;
            auth_request_set \$sgid_account_type \$upstream_http_x_sgid_account_type;
            auth_request_set \$sgid_login \$upstream_http_x_sgid_login;
            error_page 401 = @sgid_login;
            error_page 403 @sgid_forbidden;
            proxy_set_header X-Sgid-Sub \$sgid_sub;
            proxy_set_header X-Sgid-Account-Type \$sgid_account_type;
            proxy_set_header Cookie "";
            proxy_pass http://127.0.0.1:$APP_PORT;
        }
EOF
STACK_NGINX_SED=(-e "s#127.0.0.1:8080#127.0.0.1:$APP_PORT#g" "${RAISE_LIMITS[@]}"
  -e "/^        admins  'sub in @admins';/r $STACK_RT/nginx-sp-rules.conf"
  -e "/^        # ---- Your app, with an access rule per location/r $STACK_RT/nginx-sp-locations.conf")
setup "start nginx (deploy/gateway/nginx.conf.example, plus a rule on Singpass fields)" stack_start_nginx
gw_login "$UPSTREAM_LOG" .identity.sub.value
gw_rule "$UPSTREAM_LOG" '.headers["x-sgid-account-type"][0]'
stack_stop nginx
stack_stop upstream

TAP_TAG="[gateway lighttpd] "
CGI_DIR=$STACK_RT/cgi-app
mkdir -p "$CGI_DIR"
install -m 0755 "$root/tests/gateway/app.cgi" "$CGI_DIR/app.cgi"
: >"$CGI_DIR/requests.log"
[[ -z $STACK_WEB_USER ]] || chown -R "$STACK_WEB_USER:" "$CGI_DIR"
ERRDOC=$(stack_web_path "$root/deploy/gateway/status-403.html")
STACK_LIGHTTPD_EXAMPLE=$root/deploy/gateway/lighttpd.conf.example
# the rule for lighttpd: a setenv block (inside its string, '"' is \")
printf '$HTTP["url"] =~ "^/protected/rule-%s/" {\n    setenv.add-environment = ( "SGID_REQUIRE" => "%s", "SGID_REQUIRE_NAME" => "%s" )\n}\n' \
  "$SP_RULE_NAME" "${SP_RULE//\"/\\\"}" "$SP_RULE_NAME" >"$STACK_RT/lighttpd-sp-rules.conf"
STACK_LIGHTTPD_SED=(-e "s#/usr/share/sgid-fcgi/gateway/status-#${ERRDOC%403.html}#g"
  -e "s#/usr/lib/sgid-gateway-app#$CGI_DIR#g"
  -e "s#/usr/share/sgid-fcgi/lighttpd-cookie.lua#$(stack_web_path "$root/deploy/gateway/lighttpd-cookie.lua")#g"
  -e "/^# ---- Who may enter which location/r $STACK_RT/lighttpd-sp-rules.conf")
setup "start lighttpd (deploy/gateway/lighttpd.conf.example, plus a rule on Singpass fields)" stack_start_lighttpd pool
setup "the API answers through lighttpd" stack_wait_until 15 "sgid-fcgi behind lighttpd" - stack_api_up
gw_login "$CGI_DIR/requests.log" .identity.sub.value
gw_rule "$CGI_DIR/requests.log" .env.SGID_ACCOUNT_TYPE
stack_stop lighttpd
STACK_LIGHTTPD_EXAMPLE=$root/lighttpd.conf.example
STACK_LIGHTTPD_SED=()

# ---- [browser] ---------------------------------------------------------------------

# browser_login: tests/browser/singpass.js against the web server running.
browser_login() {
  if [[ ! -x ${CHROMIUM:-/usr/bin/chromium} ]]; then
    not_ok "chromium is installed (make deps)"
    return 0
  fi
  mkdir -p "$STACK_RT/tmp"
  (cd "$root/tests/browser" && TMPDIR="$STACK_RT/tmp" timeout 180 node singpass.js) >"$STACK_RT/browser.out" 2>&1 || true
  tap_relay "$STACK_RT/browser.out"
  grep -q '^browser-singpass: ' "$STACK_RT/browser.out" || not_ok "tests/browser/singpass.js ended without its summary"
}
[[ ! -x ${CHROMIUM:-/usr/bin/chromium} ]] || "$root/deploy/deps.sh" --npm tests/browser >&2 || true
STACK_WEB_PROBE_URL=$ORIGIN/
TAP_TAG="[browser nginx] "
STACK_NGINX_EXAMPLE=$root/nginx.conf.example
STACK_NGINX_SED=("${RAISE_LIMITS[@]}")
setup "start nginx (nginx.conf.example)" stack_start_nginx
browser_login
stack_stop nginx
TAP_TAG="[browser lighttpd] "
setup "start lighttpd (lighttpd.conf.example)" stack_start_lighttpd pool
browser_login
stack_stop lighttpd

# ---- [two providers] deploy/nginx-two-providers.conf.example ----------------------

# sgID (MockPass) and Singpass (the stand-in) instances behind one nginx, a
# server block (host name) each: both logins in one cookie jar, each host's
# session its own provider's.
TAP_TAG="[two providers] "
# The example's two names, for this test: localhost and 127.0.0.1 (two
# hosts to a cookie jar, both on loopback as the providers require).
SG_HOST=http://localhost:$API_PORT
SP_HOST=http://127.0.0.1:$API_PORT
setup "start MockPass" stack_start_mockpass false "$SP_NRIC"
stack_stop pool
SINGPASS_REDIRECT_URI=$SP_HOST/api/redirect setup "start the Singpass pool (singpass.sock)" stack_start_pool 2 "$STACK_RT"
sg_env=(env -u LOGIN_PROVIDER -u SINGPASS_SIGNING_KEY_FILE -u SINGPASS_ENCRYPTION_KEY_FILE
  SGID_PRIVATE_KEY_FILE="$root/tests/fixtures/client-test-key.pem" SGID_REDIRECT_URI="$SG_HOST/api/redirect")
setup "sgID instance: --check-config" "${sg_env[@]}" "$root/build/sgid-fcgi" --env-file "$root/tests/fixtures/mockpass.env" --check-config
stack_bg_group sgid-pool "$STACK_RT/app-sgid.log" "$STACK_WEB_USER" "${sg_env[@]}" "$root/build/sgid-fcgi" \
  --env-file "$root/tests/fixtures/mockpass.env" --listen "unix:$STACK_RT/sgid.sock" --workers 1 --stop-timeout 4
setup "start the sgID pool (sgid.sock)" stack_wait_until 10 "sgID pool" "${STACK_PID[sgid-pool]}" test -S "$STACK_RT/sgid.sock"
STACK_NGINX_EXAMPLE=$root/deploy/nginx-two-providers.conf.example
STACK_NGINX_SED=(-e "s#/run/sgid-fcgi/sgid.sock#$STACK_RT/sgid.sock#g" -e "s#/run/sgid-fcgi/singpass.sock#$STACK_RT/app.sock#g"
  -e 's/server_name sgid.example.com;/server_name localhost;/' -e 's/server_name singpass.example.com;/server_name 127.0.0.1;/')
STACK_WEB_PROBE_URL=$SG_HOST/api/health
setup "start nginx (deploy/nginx-two-providers.conf.example)" stack_start_nginx
http GET "$SP_HOST/api/jwks"
check "the Singpass host's /api/jwks: the Singpass instance's JWKS" eval 'is 200 && jwks_ok'
http GET "$SG_HOST/api/jwks"
check "the sgID host's /api/jwks: 404 (sgID has no RP keys)" is 404
restart_op SINGPASS_OP_REDIRECT_URIS="$SP_HOST/api/redirect" SINGPASS_OP_CLIENT_JWKS_URI="$SP_HOST/api/jwks"
JAR=$T/jar-two
rm -f "$JAR"
API=$SP_HOST
login_ok "the Singpass host" Vanilla
API=$SG_HOST
fetch GET "$API/api/auth-url?icecream=Mango"
url=$(jq -r '.url // empty' "$T/b" 2>/dev/null || true)
check "the sgID host: auth-url gives MockPass's authorize URL" eval 'is 200 && [[ $url == "http://localhost:$MOCKPASS_PORT/v2/oauth/authorize?"* ]]'
navigate "$url"
cb=$(hdr location)
navigate "$cb"
check "the sgID host: MockPass, then the callback: 302 to $ORIGIN/logged-in" eval 'is 302 && [[ $cb == "$SG_HOST/api/redirect?"* && $(hdr location) == "$ORIGIN/logged-in" ]]'
fetch GET "$SG_HOST/api/userinfo"
check "the sgID host: /api/userinfo: an sgID sub (u=<uuid>), myinfo.name, iceCream Mango" \
  eval 'is 200 && [[ $(jq -r .sub "$T/b") =~ ^u=[0-9a-f-]{36}$ ]] && json_is ".data[\"myinfo.name\"]" "$SP_NAME" && json_is .data.iceCream Mango'
fetch GET "$SP_HOST/api/userinfo"
check "the Singpass host: its session is still the Singpass one (sub $SP_SUB, iceCream Vanilla)" \
  eval 'is 200 && json_is .sub "$SP_SUB" && json_is .data.iceCream Vanilla'
fetch GET "$SG_HOST/api/logout"
fetch GET "$SP_HOST/api/userinfo"
check "logging out of the sgID host leaves the Singpass host logged in" is 200
API=http://localhost:$API_PORT
