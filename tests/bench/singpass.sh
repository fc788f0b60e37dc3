#!/usr/bin/env bash
# The Singpass rows of `make bench` (also alone: `make bench-singpass`):
# sgID and Singpass side by side, one nginx in front of both
# (deploy/nginx-two-providers.conf.example, its per-client limits off: one
# client address makes all the load), each provider next door, 50 ms and
# 250 ms away:
#
#   sgid-*      a pool with LOGIN_PROVIDER=sgid (2 workers) against the bench's
#               sgID stand-in (fake-sgid: token and userinfo wait the delay)
#   singpass-*  a pool with LOGIN_PROVIDER=singpass (2 workers) against the
#               Singpass stand-in (tests/singpass-op: PAR, token and userinfo
#               wait the delay)
#   *-auth-url  GET /api/auth-url: sgID seals an attempt (no provider call);
#               Singpass also makes one PAR round trip
#   *-login     complete logins: auth-url, the provider's authorize step, the
#               callback (token call, ID token checks), the first userinfo
#
# Each row: BENCH_SP_SECONDS (8) of tests/bench/singpass-load.mjs with
# CONNS browsers (16 next door, 64 at 50 ms, 256 at 250 ms), the rate, p50,
# p99, failed operations, and the CPU per operation of the pool and of the
# provider's stand-in (from /proc, their process groups). Then the slow
# Singpass: 2 s away, 300 browsers at auth-url (every PAR held 2 s; a
# browser refused with 503 waits its Retry-After, as a person would) while
# 4 others ask /api/health of the same pool and log in with sgID: the PAR
# counts against the bulkhead (SGID_MAX_INFLIGHT), so what is over it is
# refused at once (503) and the rest is served as before.
#
# Both pools have make bench's shape: one worker per core (2) x 160 threads,
# so the bulkhead (4/5: 256) holds the 256 browsers of the far-away rows.
#
# Fails when any operation of the rows failed (the row says where) or the
# slow Singpass stalled something. BENCH_SP_ROWS (a regex) runs only the rows
# it matches; BENCH_SP_KEEP=1 keeps the run's directory and logs.
#
# Runs in a network namespace (make does it); ports 5001, 5158, 18090/18091.
# The report also goes to build/bench/singpass-last-run.txt.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$root/deploy/stack-lib.sh"

SECS=${BENCH_SP_SECONDS:-8}
ROWS=${BENCH_SP_ROWS:-.}   # a regex: only the rows whose names match (the slow Singpass always runs)
FAKE_PORT=18090
FAKE_STATS=18091
SG=http://localhost:$API_PORT     # the example's sgid.example.com
SP=http://127.0.0.1:$API_PORT     # and singpass.example.com
BIN=${STACK_APP_BIN:-$root/build/sgid-fcgi}
OUT=$root/build/bench/singpass-last-run.txt
LOAD=$root/tests/bench/singpass-load.mjs

stack_ports_free "$API_PORT" "$STACK_SINGPASS_PORT" "$FAKE_PORT" "$FAKE_STATS" || exit 1
[[ -x $BIN ]] || { stack_say "bench-singpass: $BIN is missing: run make"; exit 1; }
stack_init sgid-bench-singpass
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stack_cleanup
  if ((rc == 0)) && [[ -z ${BENCH_SP_KEEP:-} ]]; then rm -rf "$STACK_RT"; else stack_say "bench-singpass: logs kept in $STACK_RT"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { stack_say "bench-singpass: $*"; exit 1; }

unset "${!SGID_@}" "${!SINGPASS_@}" REDIS_URL SESSION_SECRET LOGIN_PROVIDER
export REDIS_URL="unix://$STACK_RT/redis.sock" LOG_LEVEL=warn
stack_start_redis || fail "redis-server did not start"

# sgID: the bench's fast stand-in and a pool of its own.
stack_bg fake-sgid "$STACK_RT/fake-sgid.log" env PORT=$FAKE_PORT STATS_PORT=$FAKE_STATS PROCS=1 \
  CLIENT_ID=bench-client CLIENT_SECRET=bench-secret-not-a-real-credential \
  CLIENT_PUBLIC_KEY="$root/tests/fixtures/client-test-pub.pem" ISSUER="http://127.0.0.1:$FAKE_PORT/v2" \
  node "$root/tests/bench/fake-sgid/server.js"
stack_wait_until 20 "fake-sgid" "${STACK_PID[fake-sgid]}" grep -q listening "$STACK_RT/fake-sgid.log" || fail "fake-sgid did not start"
stack_bg_group sgid-pool "$STACK_RT/app-sgid.log" "$STACK_WEB_USER" env SGID_CLIENT_ID=bench-client \
  SGID_CLIENT_SECRET=bench-secret-not-a-real-credential SGID_PRIVATE_KEY_FILE="$root/tests/fixtures/client-test-key.pem" \
  SGID_HOSTNAME="http://127.0.0.1:$FAKE_PORT" SGID_REDIRECT_URI="$SG/api/redirect" SGID_FRONTEND_HOST=http://localhost:5173 \
  SGID_SCOPES="openid myinfo.name" "$BIN" --listen "unix:$STACK_RT/sgid.sock" --workers 2 --threads 160 --stop-timeout 4
stack_wait_until 10 "sgID pool" "${STACK_PID[sgid-pool]}" test -S "$STACK_RT/sgid.sock" || fail "the sgID pool did not start"

# Singpass: the pool (app.sock) and the stand-in.
export SINGPASS_SIGNING_KEY_FILE=$root/tests/vectors/singpass/op/rp-signing-key.pem
export SINGPASS_ENCRYPTION_KEY_FILE=$root/tests/vectors/singpass/op/rp-encryption-key.pem
export SINGPASS_REDIRECT_URI=$SP/api/redirect
STACK_APP_ARGS=(--env-file "$root/tests/fixtures/singpass.env" --threads 160)
stack_start_pool 2 "$STACK_RT" || fail "the Singpass pool did not start"
STACK_NGINX_EXAMPLE=$root/deploy/nginx-two-providers.conf.example
STACK_NGINX_SED=(-e "s#/run/sgid-fcgi/sgid.sock#$STACK_RT/sgid.sock#g" -e "s#/run/sgid-fcgi/singpass.sock#$STACK_RT/app.sock#g"
  -e 's/server_name sgid.example.com;/server_name localhost;/' -e 's/server_name singpass.example.com;/server_name 127.0.0.1;/'
  -e '/limit_req zone=/d')
STACK_WEB_PROBE_URL=$SG/api/health
stack_start_nginx || fail "nginx did not start"
stack_start_singpass_op SINGPASS_OP_QUIET=1 SINGPASS_OP_USERS=1024 SINGPASS_OP_REDIRECT_URIS="$SP/api/redirect" \
  SINGPASS_OP_CLIENT_JWKS_URI="$SP/api/jwks" || fail "the Singpass stand-in did not start"

# ticks PGID: user+system clock ticks of a process group so far, with those
# of its reaped children (a worker the pool replaced). The fields are counted
# after the ")" that ends the command name, which may hold spaces.
ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v g="$1" '{ sub(/^.*\) /, "") }
    $3 == g { t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}
hz=$(getconf CLK_TCK)
set_delay() {
  curl -fsS --max-time 5 -X POST -o /dev/null "http://127.0.0.1:$FAKE_STATS/delay?ms=$1"
  curl -fsS --max-time 5 -X POST -o /dev/null "http://localhost:$STACK_SINGPASS_PORT/delay?ms=$1"
}

for p in "$SG" "$SP"; do
  node "$LOAD" login "$p" 1 1 >"$STACK_RT/warm.json"
  (($(jq .ops "$STACK_RT/warm.json") > 0)) || fail "no login through $p: $(cat "$STACK_RT/warm.json")"
done

mkdir -p "$(dirname "$OUT")"
{
  printf 'Singpass beside sgID (make bench-singpass): %s s per row, 2 workers per pool, %s\n' "$SECS" "$(nproc) cores"
  printf '%-24s %9s %9s %9s %7s %13s %15s\n' row 'ops/s' 'p50 ms' 'p99 ms' failed 'pool CPU/op' 'provider CPU/op'
} | tee "$OUT"

# row NAME PROVIDER(sgid|singpass) MODE DELAY_MS CONNS
row() {
  local name=$1 prov=$2 mode=$3 delay=$4 conns=$5 base pool op a0 a1 b0 b1 j
  [[ $name =~ $ROWS ]] || return 0
  if [[ $prov == sgid ]]; then base=$SG pool=${STACK_PID[sgid-pool]} op=${STACK_PID[fake-sgid]}
  else base=$SP pool=${STACK_PID[pool]} op=${STACK_PID[singpass-op]}; fi
  set_delay "$delay"
  a0=$(ticks "$pool") b0=$(ticks "$op")
  j=$(node "$LOAD" "$mode" "$base" "$SECS" "$conns")
  a1=$(ticks "$pool") b1=$(ticks "$op")
  jq -r --arg n "$name" --argjson a "$((a1 - a0))" --argjson b "$((b1 - b0))" --argjson hz "$hz" '
    def per(t): if .ops > 0 then (t * 1000 / $hz / .ops * 100 | round / 100 | tostring) + " ms" else "-" end;
    "\($n | .[0:24] | . + " " * (24 - length)) \(.ops_per_s | tostring | " " * (9 - length) + .) \(.p50_ms | tostring | " " * (9 - length) + .) \(.p99_ms | tostring | " " * (9 - length) + .) \(.errors | tostring | " " * (7 - length) + .) \(per($a) | " " * (13 - length) + .) \(per($b) | " " * (15 - length) + .)",
    # a row with failures says where they failed (answers seen, by step)
    (select(.errors > 0) | "  (failed: \(.statuses | to_entries | map(select(.key | test("^(200|userinfo-200)$") | not)) | map("\(.key) x\(.value)") | join(", ")))")' <<<"$j" | tee -a "$OUT"
  FAILED_OPS=$((FAILED_OPS + $(jq .errors <<<"$j")))
}
FAILED_OPS=0

row sgid-auth-url sgid auth-url 0 16
row singpass-auth-url singpass auth-url 0 16
row singpass-auth-url-50ms singpass auth-url 50 64
row singpass-auth-url-250ms singpass auth-url 250 256
row sgid-login sgid login 0 16
row singpass-login singpass login 0 16
row sgid-login-50ms sgid login 50 64
row singpass-login-50ms singpass login 50 64
row sgid-login-250ms sgid login 250 256
row singpass-login-250ms singpass login 250 256

# ---- a slow Singpass stalls nothing ----------------------------------------------
set_delay 0
node "$LOAD" health "$SP" 4 4 >"$STACK_RT/health-before.json"
curl -fsS --max-time 5 -X POST -o /dev/null "http://localhost:$STACK_SINGPASS_PORT/delay?ms=2000"
node "$LOAD" auth-url "$SP" "$SECS" 300 >"$STACK_RT/slow-auth.json" &
flood=$!
sleep 2
node "$LOAD" health "$SP" $((SECS - 3)) 4 >"$STACK_RT/health-during.json"
node "$LOAD" login "$SG" 3 4 >"$STACK_RT/sgid-during.json"
wait "$flood"
set_delay 0
{
  echo
  echo "A slow Singpass (every PAR held 2 s, 300 browsers at auth-url):"
  jq -r '"  singpass auth-url: \(.ops) served (p50 \(.p50_ms) ms), statuses \(.statuses | tostring)"' "$STACK_RT/slow-auth.json"
  jq -r '"  singpass pool /api/health before: p50 \(.p50_ms) ms, p99 \(.p99_ms) ms"' "$STACK_RT/health-before.json"
  jq -r '"  singpass pool /api/health during: p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, \(.errors) failed"' "$STACK_RT/health-during.json"
  jq -r '"  sgid logins during (same nginx): \(.ops_per_s)/s, p99 \(.p99_ms) ms, \(.errors) failed"' "$STACK_RT/sgid-during.json"
} | tee -a "$OUT"
# The bulkhead held: part of the flood was refused at once, health stayed up.
jq -e '.errors == 0' "$STACK_RT/health-during.json" >/dev/null || fail "/api/health failed while Singpass was slow"
jq -e '(.statuses["503"] // 0) > 0' "$STACK_RT/slow-auth.json" >/dev/null ||
  fail "no auth-url was refused (503) with 300 PARs held: the PAR does not count against the bulkhead"
# A row whose operations failed measured something else than logins.
((FAILED_OPS == 0)) || fail "$FAILED_OPS operations failed in the rows above (the cause is on each row)"
