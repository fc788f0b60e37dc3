#!/usr/bin/env bash
# Hostile-provider suite (issue 3, item 2): the real stack with a hostile sgID.
#
#   redis-server   private, unix socket only
#   hostile-idp    tests/hostile-idp/server.js on 127.0.0.1:5157 (issuer
#                  http://localhost:5157/v2), checking every request we send
#   sgid-fcgi      spawn-fcgi workers, SGID_HOSTNAME=http://localhost:5157
#   nginx          nginx.conf.example, API on :5001, its per-client rate
#                  limits raised to 100000 r/s, burst 100000: every case is a
#                  login from 127.0.0.1, one after another, and the shipped
#                  limits would answer most with 429 (tests/integration/run.sh
#                  tests the limits themselves)
#
# then tests/hostile/runner.js plays every case of tests/hostile/cases.js as a
# browser would, twice: as the SPA logs in (/api/auth-url) and as a gateway's
# login (/api/login?rd=/protected/x; a refused case must end on the error
# page, never the rd, with /api/auth 401, and the next gateway login land on
# the rd). At the end the app's log is searched for every secret the run
# used. Last line: "hostile: N passed, N failed".
#
# Environment: HOSTILE_WORKERS (2), HOSTILE_ONLY (regex on case names; the
# gateway pass's are "gateway: <name>"), HOSTILE_MODES ("spa gateway"),
# HOSTILE_JWKS_REFETCH_S (2: SGID_JWKS_MIN_REFETCH_SECONDS, short so rotation
# cases need not wait a minute), HOSTILE_LOGIN_TTL_S (4: LOGIN_TTL_SECONDS, short
# so the expired-attempt case is quick). Logs are copied to HOSTILE_ARTIFACTS
# (tests/artifacts/hostile/; the ASan and TSan runs, which may run beside
# this one, name their own) when something fails (or HOSTILE_KEEP=1).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$here/../../deploy/stack-lib.sh"
root=$STACK_ROOT
IDP_PORT=5157
workers=${HOSTILE_WORKERS:-2}
refetch_s=${HOSTILE_JWKS_REFETCH_S:-2}
login_ttl_s=${HOSTILE_LOGIN_TTL_S:-4}
client_id=hostile-client
client_secret=hostile-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

# HOSTILE_METRICS_OUT=FILE: the app runs as a supervised pool (--listen,
# --metrics-listen on a unix socket) instead of spawn-fcgi workers, and a
# scrape of /metrics taken after every case is saved to FILE (for promtool).
metrics_out=${HOSTILE_METRICS_OUT:-}

passed=0
failed=0
finish() {
  local rc=$?
  trap - EXIT INT TERM
  stack_stop nginx
  stack_stop pool
  stack_stop_app
  stack_stop idp
  stack_cleanup
  if [[ -n $STACK_RT && -d $STACK_RT ]]; then
    if ((failed > 0)) || [[ ${HOSTILE_KEEP:-} == 1 ]]; then
      local art=${HOSTILE_ARTIFACTS:-$root/tests/artifacts/hostile}
      rm -rf "$art" && mkdir -p "$art"
      cp -f "$STACK_RT"/{app.log,idp.log,redis.log,spawn-fcgi.log,results.json} "$art/" 2>/dev/null || true
      cp -f "$STACK_RT"/nginx/logs/*.log "$art/" 2>/dev/null || true
      stack_say "hostile: logs kept in $art/"
    fi
    rm -rf "$STACK_RT"
  fi
  echo "hostile: $passed passed, $failed failed"
  ((failed == 0 && rc == 0)) || exit 1
  exit 0
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Something the suite cannot run without: one failure, then stop.
die() { stack_say "hostile: $*"; failed=$((failed + 1)); exit 1; }

for tool in node npm redis-server redis-cli spawn-fcgi nginx curl; do
  command -v "$tool" >/dev/null 2>&1 || die "missing $tool (run deploy/deps.sh)"
done
[[ -x ${STACK_APP_BIN:-$root/build/sgid-fcgi} ]] || die "the sgid-fcgi binary is missing: run make"


stack_ports_free "$API_PORT" "$SPA_PORT" "$IDP_PORT" || die "ports busy"
stack_init sgid-hostile
stack_say "hostile: runtime dir $STACK_RT"

stack_start_redis || die "redis did not start"

stack_start_hostile_idp "$IDP_PORT" "$client_id" "$client_secret" \
  "http://localhost:$API_PORT/api/redirect" || die "hostile-idp did not start"

export SGID_CLIENT_ID=$client_id
export SGID_CLIENT_SECRET=$client_secret
export SGID_PRIVATE_KEY_FILE=$root/tests/fixtures/client-test-key.pem
export SGID_HOSTNAME=http://localhost:$IDP_PORT
export SGID_REDIRECT_URI=http://localhost:$API_PORT/api/redirect
export SGID_FRONTEND_HOST=http://localhost:$SPA_PORT
export REDIS_URL=unix://$STACK_RT/redis.sock
export LOG_LEVEL=debug
export SGID_HTTP_TIMEOUT_MS=2000
export SGID_JWKS_MIN_REFETCH_SECONDS=$refetch_s
export LOGIN_TTL_SECONDS=$login_ttl_s
unset SGID_PRIVATE_KEY SESSION_SECRET SGID_SCOPES SESSION_COOKIE_NAME 2>/dev/null || true
STACK_APP_ARGS=()
if [[ -n $metrics_out ]]; then
  STACK_APP_ARGS=(--metrics-listen "unix:$STACK_RT/metrics.sock")
  stack_start_pool "$workers" "$STACK_RT" || die "sgid-fcgi --listen did not start"
  pool_has_workers() { (($(pgrep -c -P "${STACK_PID[pool]}") == workers)); }
  stack_wait_until 10 "$workers workers" "${STACK_PID[pool]}" pool_has_workers || die "the pool's workers did not start"
  # the workers' pids, as spawn-fcgi would write them: the cases check they live
  pgrep -P "${STACK_PID[pool]}" >"$STACK_RT/app.pids"
else
  stack_start_app "$workers" "$STACK_RT" || die "sgid-fcgi did not start"
fi
# The rate limits raised (header), every zone and every limit_req of them.
STACK_NGINX_SED=(
  -e '/^[[:space:]]*limit_req_zone[[:space:]]/s# rate=[0-9][0-9]*r/[sm];# rate=100000r/s;#'
  -e '/^[[:space:]]*limit_req[[:space:]]/s# burst=[0-9][0-9]*# burst=100000#'
)
stack_start_nginx || die "nginx did not start"
conf=$STACK_RT/nginx/nginx.conf
zones=$(grep -cE '^[[:space:]]*limit_req_zone[[:space:]]' "$conf" || true)
limits=$(grep -cE '^[[:space:]]*limit_req[[:space:]]' "$conf" || true)
((zones > 0 && limits > 0)) &&
  (($(grep -cE '^[[:space:]]*limit_req_zone[[:space:]].* rate=100000r/s;' "$conf") == zones)) &&
  (($(grep -cE '^[[:space:]]*limit_req[[:space:]].* burst=100000( |;)' "$conf") == limits)) ||
  die "nginx.conf.example: its limit_req_zone rate= / limit_req burst= lines are not all where this suite raises them"
stack_say "hostile: nginx rate limits raised to 100000r/s burst=100000 ($zones zones, $limits limit_req): every case logs in from 127.0.0.1"
# nginx writes its pid file only once it holds its ports: another server that
# took :5001 between the check above and now must not stand in for ours.
stack_wait_until 10 "nginx (log: $STACK_RT/nginx/logs/error.log)" "${STACK_PID[nginx]}" \
  test -s "$STACK_RT/nginx/nginx.pid" || die "nginx did not bind its ports"
stack_wait_until 15 "sgid-fcgi behind nginx (log: $STACK_RT/app.log)" - stack_api_up ||
  die "the API did not come up"

# ---- the cases --------------------------------------------------------------
set +e
HOSTILE_APP_URL=http://localhost:$API_PORT \
HOSTILE_IDP_URL=http://127.0.0.1:$IDP_PORT \
HOSTILE_FRONTEND=http://localhost:$SPA_PORT \
HOSTILE_ISSUER=http://localhost:$IDP_PORT/v2 \
HOSTILE_CLIENT_ID=$client_id \
HOSTILE_WORKERS=$workers \
HOSTILE_JWKS_REFETCH_S=$refetch_s \
HOSTILE_LOGIN_TTL_S=$login_ttl_s \
HOSTILE_APP_PIDS="$(stack_app_pids | tr '\n' ' ')" \
HOSTILE_SECRETS_FILE=$STACK_RT/secrets.txt \
HOSTILE_RESULTS_FILE=$STACK_RT/results.json \
HOSTILE_APP_LOG=$STACK_RT/app.log \
  timeout 1800 node "$here/runner.js"
runner_rc=$?
set -e
if [[ -f $STACK_RT/results.json ]]; then
  counts=$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = r.filter((x) => x.problems.length).length;
    console.log(r.length - f, f);' "$STACK_RT/results.json")
  read -r p f <<<"$counts"
  passed=$((passed + p))
  failed=$((failed + f))
else
  stack_say "hostile: the runner wrote no results (exit $runner_rc)"
  failed=$((failed + 1))
fi

# ---- no secret in the app's log ----------------------------------------------
# Everything the run used: the client secret, the private key's base64 lines,
# and what the runner collected (codes, access tokens, code verifiers, ID-token
# signatures, block keys the provider issued; every cookie value the app set).
secrets=$STACK_RT/all-secrets.txt
{
  echo "$client_secret"
  grep -v -- '-----' "$SGID_PRIVATE_KEY_FILE" | tr -d '\r' | awk 'length($0) >= 16'
  [[ -f $STACK_RT/secrets.txt ]] && awk 'length($0) >= 8' "$STACK_RT/secrets.txt"
} >"$secrets"
n_secrets=$(wc -l <"$secrets")
if [[ ! -s $STACK_RT/app.log ]]; then
  stack_say "FAIL  log check: the app's log is empty (LOG_LEVEL=debug should log every request)"
  failed=$((failed + 1))
elif hits=$(grep -n -F -f "$secrets" "$STACK_RT/app.log"); then
  stack_say "FAIL  log check: $(wc -l <<<"$hits") line(s) of the app's log contain a secret, e.g.:"
  head -n 5 <<<"$hits" | cut -c1-300 >&2
  failed=$((failed + 1))
else
  echo "PASS  log check: none of $n_secrets secrets appears in the app's log ($(wc -l <"$STACK_RT/app.log") lines)"
  passed=$((passed + 1))
fi

# ---- a scrape after every case ------------------------------------------------
if [[ -n $metrics_out ]]; then
  if curl -fsS --max-time 5 --unix-socket "$STACK_RT/metrics.sock" http://metrics/metrics >"$metrics_out"; then
    echo "PASS  metrics: scraped after the cases ($(wc -l <"$metrics_out") lines) into $metrics_out"
    passed=$((passed + 1))
  else
    stack_say "FAIL  metrics: no scrape from $STACK_RT/metrics.sock"
    failed=$((failed + 1))
  fi
fi

# ---- every worker still alive -------------------------------------------------
alive=$(stack_app_alive)
if ((alive == workers)); then
  echo "PASS  workers: all $workers alive at the end"
  passed=$((passed + 1))
else
  stack_say "FAIL  workers: $alive of $workers alive at the end"
  failed=$((failed + 1))
fi
