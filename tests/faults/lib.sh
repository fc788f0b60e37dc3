# shellcheck shell=bash
# Shared by the fault tests (tests/faults/*.sh). Source it; it builds on
# deploy/stack-lib.sh (process groups, waits, MockPass) and adds what the
# fault tests need on top:
#
#   - ports of our own (nginx API 25001.., SPA 25173.., MockPass 25156,
#     hostile IdP 25157), so other stacks on 5001/5156/5157/5173 are left alone
#   - private redis-servers by name (unix socket, optional TCP port, any options)
#   - sgid-fcgi pools in supervisor mode (--listen/--workers), by name
#   - nginx instances from nginx.conf.example with the ports substituted and
#     its per-client rate limits raised out of the way (all our load comes
#     from 127.0.0.1; tests/integration/run.sh tests the limits themselves)
#   - the hostile IdP (tests/hostile-idp) and its control API
#   - test points: "ok - ..." / "not ok - ...", a closing "# NAME: N passed, N failed"
#
# Everything listens on loopback only (localhost: 127.0.0.1 and [::1]). Load
# goes through tests/faults/load.mjs, which refuses any URL that is not
# loopback and is bounded in time and count.

FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$FAULTS_DIR/../../deploy/stack-lib.sh"
ROOT=$STACK_ROOT

# stack-lib's globals, pointed at our ports (stack_start_mockpass, stack_api_up).
MOCKPASS_PORT=${FAULTS_MOCKPASS_PORT:-25156}
API_PORT=${FAULTS_API_PORT:-25001}
SPA_PORT=${FAULTS_SPA_PORT:-25173}
IDP_PORT=${FAULTS_IDP_PORT:-25157}
API=http://localhost:$API_PORT
FRONTEND=http://localhost:$SPA_PORT
IDP=http://127.0.0.1:$IDP_PORT
# shellcheck disable=SC2034 # read by the tests
COOKIE=exampleAppSession
# shellcheck disable=SC2034 # read by the tests
QUICK=${FAULTS_QUICK:-0}

F_NAME=""
F_KEEP=${FAULTS_KEEP:-0}

# ---- reporting --------------------------------------------------------------

# shellcheck source=tests/tap.sh
. "$ROOT/tests/tap.sh"
note() { printf '# %s\n' "$*"; }

# Setup failures end the test: nothing after them can pass.
setup() {
  local what=$1
  shift
  if "$@"; then return 0; fi
  not_ok "setup: $what"
  exit 1
}

f_dump_logs() {
  local f logs=()
  for f in "$STACK_RT"/*.log "$STACK_RT"/*/logs/error.log; do
    # MockPass logs every token request in full: kept in the dir, not shown.
    [[ $f != */mockpass.log ]] && logs+=("${f#"$STACK_RT"/}")
  done
  stack_dump_logs 40 "${logs[@]}"
}

f_finish() {
  local rc=$? svc
  trap - EXIT INT TERM
  trap '' PIPE
  if [[ -n $STACK_RT ]]; then
    # Front to back: web servers, pools, then the rest.
    for svc in "${!STACK_PID[@]}"; do [[ $svc == nginx* ]] && stack_stop "$svc"; done
    for svc in "${!STACK_PID[@]}"; do [[ $svc == pool* ]] && stack_stop "$svc"; done
    stack_cleanup
  fi
  ((rc == 0 || TAP_FAIL > 0)) || not_ok "$F_NAME: test script aborted (exit $rc)"
  if [[ -n $STACK_RT && -d $STACK_RT ]]; then
    if ((TAP_FAIL > 0)) || [[ $F_KEEP == 1 ]]; then
      ((TAP_FAIL == 0)) || f_dump_logs
      echo "# runtime dir kept: $STACK_RT"
    else
      rm -rf "$STACK_RT"
    fi
  fi
  echo "# $F_NAME: $TAP_PASS passed, $TAP_FAIL failed"
  ((TAP_FAIL == 0)) || exit 1
  exit 0
}

# f_begin NAME: runtime dir, traps, tool checks.
f_begin() {
  F_NAME=$1
  trap f_finish EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local tool
  for tool in curl jq node redis-server redis-cli nginx; do
    setup "$tool is installed (make deps)" command -v "$tool" >/dev/null
  done
  setup "build/sgid-fcgi exists (make)" test -x "$ROOT/build/sgid-fcgi"
  stack_init "sgid-faults-$1"
  f_tls_init
  ((!F_TLS)) || note "Redis over TLS (FAULTS_REDIS_TLS=1): tls-ports only, rediss:// verified against a CA made for the run"
  mkdir -p "$STACK_RT/spa"
  echo '<!doctype html><title>faults</title>' >"$STACK_RT/spa/index.html"
  ((EUID != 0)) || chmod -R a+rX "$STACK_RT/spa"
}

f_now_ms() { date +%s%3N; }

# f_sleep_ms MS
f_sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# f_wait SECS WHAT CMD...: poll CMD until it succeeds, at most SECS.
f_wait() {
  local secs=$1 what=$2
  shift 2
  stack_wait_until "$secs" "$what" - "$@"
}

# jqv FILE EXPR: one value from a JSON file ("null" when absent).
jqv() { jq -r "$2" "$1" 2>/dev/null || echo null; }

# f_load ARGS...: the driver, killed if it outlives its own bounds.
f_load() { timeout 1900 node "$FAULTS_DIR/load.mjs" "$@"; }

# ---- redis ------------------------------------------------------------------

declare -A F_REDIS_AUTH=()   # name -> extra redis-cli args (space separated)

# f_redis_cli NAME ARGS...: redis-cli on NAME's unix socket.
f_redis_cli() {
  local name=$1 auth=()
  shift
  [[ -z ${F_REDIS_AUTH[$name]:-} ]] || read -ra auth <<<"${F_REDIS_AUTH[$name]}"
  timeout 10 redis-cli -s "$STACK_RT/$name.sock" --no-auth-warning "${auth[@]}" "$@"
}
f_redis_ping() { [[ $(f_redis_cli "$1" ping 2>/dev/null) == PONG ]]; }

# ---- Redis over TLS (FAULTS_REDIS_TLS=1) ------------------------------------
# Every redis-server and sentinel serves TLS only (a CA made for the run),
# every TCP port of the test becomes a tls-port, and the app reaches Redis
# with rediss:// verified against that CA: the same faults, over TLS.
F_TLS=${FAULTS_REDIS_TLS:-0}
F_TLS_CLI=()                  # redis-cli's TLS options (empty without TLS)
F_REDIS_TLS_PORT=26390        # the plain "redis" server's tls-port
f_tls_init() {
  ((F_TLS)) || return 0
  setup "make a throw-away CA and Redis certificates" sh "$ROOT/tests/tls/make-certs.sh" "$STACK_RT/tls"
  chmod 755 "$STACK_RT/tls" && chmod 644 "$STACK_RT/tls/ca.pem"
  F_TLS_CLI=(--tls --cacert "$STACK_RT/tls/ca.pem" --cert "$STACK_RT/tls/server.pem"
    --key "$STACK_RT/tls/server.key")
}
# f_tls_server_conf: the TLS lines of a redis.conf / sentinel.conf.
f_tls_server_conf() {
  ((F_TLS)) || return 0
  printf '%s\n' "tls-cert-file $STACK_RT/tls/server.pem" "tls-key-file $STACK_RT/tls/server.key" \
    "tls-ca-cert-file $STACK_RT/tls/ca.pem" "tls-auth-clients no" "tls-replication yes"
}
# f_tls_args ARGS...: redis-server ARGS with each --port P a --tls-port P
# (and the cluster bus on TLS); the plain "redis" gets F_REDIS_TLS_PORT.
f_tls_args() {
  local out=() port=0 a
  if ((!F_TLS)); then
    (($# == 0)) || printf '%s\0' "$@"
    return 0
  fi
  while (($#)); do
    a=$1
    shift
    case $a in
      --port) out+=(--port 0 --tls-port "$1"); port=1; shift ;;
      --cluster-enabled) out+=(--tls-cluster yes "$a") ;;
      *) out+=("$a") ;;
    esac
  done
  ((port)) || out+=(--tls-port "$F_REDIS_TLS_PORT")
  out+=(--tls-cert-file "$STACK_RT/tls/server.pem" --tls-key-file "$STACK_RT/tls/server.key"
    --tls-ca-cert-file "$STACK_RT/tls/ca.pem" --tls-auth-clients no --tls-replication yes)
  printf '%s\0' "${out[@]}"
}

# f_redis_start NAME [redis-server options...]: a private redis-server on
# STACK_RT/NAME.sock (no TCP unless the options give --port), data in
# STACK_RT/NAME/, no persistence unless the options turn it on.
f_redis_start() {
  local name=$1 args=()
  shift
  mapfile -d '' args < <(f_tls_args "$@")
  set -- "${args[@]}"
  mkdir -p "$STACK_RT/$name"
  stack_bg "$name" "$STACK_RT/$name.log" \
    redis-server --port 0 --bind 127.0.0.1 --unixsocket "$STACK_RT/$name.sock" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$STACK_RT/$name" --daemonize no --loglevel notice "$@"
  stack_wait_until 10 "redis-server $name (log: $STACK_RT/$name.log)" "${STACK_PID[$name]}" f_redis_ping "$name"
}

# f_redis_kill NAME SIGNAL: signal the server and reap it (a crash with KILL).
f_redis_kill() {
  local name=$1 sig=$2 pid=${STACK_PID[$1]:-}
  [[ -n $pid ]] || return 0
  exec 3>&2 2>/dev/null
  kill "-$sig" "$pid" || true
  local deadline=$((SECONDS + 10))
  while stack_alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
  wait "$pid" || true
  exec 2>&3 3>&-
  unset "STACK_PID[$name]"
}

# ---- identity providers -----------------------------------------------------

f_mockpass_start() {
  stack_ports_free "$MOCKPASS_PORT" || return 1
  stack_start_mockpass false "${1:-S9812379B}"
}

# The persona name MockPass serves (stack_start_mockpass's default NRIC).
f_mockpass_name() {
  jq -r --arg n S9812379B '.personas[$n].name.value' \
    "$ROOT/tests/mockpass/node_modules/@opengovsg/mockpass/static/myinfo/v3.json"
}

# f_mockpass_personas: "NRIC<TAB>name" of each persona MockPass's sgID
# persona picker offers (those with MyInfo data), in its order: the users of
# load.mjs --personas.
f_mockpass_personas() {
  (cd "$ROOT/tests/mockpass" && node -e '
    const a = require("@opengovsg/mockpass/lib/assertions");
    for (const p of a.oidc.singPass) {
      const m = a.myinfo.v3.personas[p.nric];
      if (m) console.log(`${p.nric}\t${m.name.value}`);
    }')
}

IDP_CLIENT_ID=faults-client
IDP_CLIENT_SECRET=""

# f_idp_start [REDIRECT_URIS]: the hostile IdP on IDP_PORT.
f_idp_start() {
  IDP_CLIENT_SECRET=faults-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  stack_start_hostile_idp "$IDP_PORT" "$IDP_CLIENT_ID" "$IDP_CLIENT_SECRET" "${1:-$API/api/redirect}"
}

# f_idp_scenario JSON: replace the provider's scenario ({} = happy path).
f_idp_scenario() {
  curl -fsS --max-time 5 -o /dev/null -X POST -H 'content-type: application/json' \
    --data "$1" "$IDP/__control/scenario"
}

# ---- the app ----------------------------------------------------------------

# f_app_env FILE mockpass|idp [VAR=VALUE...]: write an --env-file for a pool.
# Defaults: the chosen provider, STACK_RT/redis.sock, our ports, LOG_LEVEL=info.
f_app_env() {
  local file=$1 idp=$2 kv
  shift 2
  declare -A env=(
    [SGID_PRIVATE_KEY_FILE]=$ROOT/tests/fixtures/client-test-key.pem
    [SGID_REDIRECT_URI]=$API/api/redirect
    [SGID_FRONTEND_HOST]=$FRONTEND
    [SGID_SCOPES]='"openid myinfo.name"'
    [REDIS_URL]=unix://$STACK_RT/redis.sock
    [LOG_LEVEL]=info
    # Most tests log one MockPass persona in many times; a real user keeps a
    # few sessions. revoke.sh sets its own limit to test it.
    [SESSION_MAX_PER_USER]=1000
  )
  if [[ $idp == mockpass ]]; then
    env[SGID_CLIENT_ID]=$(sed -n 's/^SGID_CLIENT_ID=//p' "$ROOT/tests/fixtures/mockpass.env")
    env[SGID_CLIENT_SECRET]=$(sed -n 's/^SGID_CLIENT_SECRET=//p' "$ROOT/tests/fixtures/mockpass.env")
    env[SGID_HOSTNAME]=http://localhost:$MOCKPASS_PORT
  else
    env[SGID_CLIENT_ID]=$IDP_CLIENT_ID
    env[SGID_CLIENT_SECRET]=$IDP_CLIENT_SECRET
    env[SGID_HOSTNAME]=http://localhost:$IDP_PORT
  fi
  ((!F_TLS)) || env[REDIS_URL]=rediss://127.0.0.1:$F_REDIS_TLS_PORT/0
  for kv in "$@"; do env[${kv%%=*}]=${kv#*=}; done
  if ((F_TLS)) && [[ ${env[REDIS_URL]} == redis://* ]]; then
    env[REDIS_URL]=rediss://${env[REDIS_URL]#redis://}
  fi
  [[ ${env[REDIS_URL]} != rediss://* ]] || env[REDIS_TLS_CA_FILE]=$STACK_RT/tls/ca.pem
  : >"$file"
  for kv in "${!env[@]}"; do printf '%s=%s\n' "$kv" "${env[$kv]}" >>"$file"; done
  chmod 0600 "$file"
}

# Live worker pids of pool NAME (children of its supervisor).
f_pool_workers() {
  local sup=${STACK_PID[$1]:-} p
  [[ -n $sup ]] || return 0
  for p in $(pgrep -P "$sup" 2>/dev/null); do stack_alive "$p" && echo "$p"; done
  return 0
}
f_pool_count() { f_pool_workers "$1" | wc -l; }
f_pool_has() { (($(f_pool_count "$1") == $2)); }

# f_pool_replaced NAME N "OLD PIDS": N workers, none of them one of OLD
# (after a SIGHUP: the whole pool replaced).
f_pool_replaced() {
  local p
  f_pool_has "$1" "$2" || return 1
  for p in $(f_pool_workers "$1"); do [[ " $3 " != *" $p "* ]] || return 1; done
}

# f_pool_start NAME ENVFILE WORKERS [sgid-fcgi options...]: the supervisor on
# unix:STACK_RT/NAME.sock, log STACK_RT/NAME.log, in its own process group.
f_pool_start() {
  local name=$1 envfile=$2 n=$3 bin=$ROOT/build/sgid-fcgi
  shift 3
  if ! env -i -C "$STACK_RT" PATH="$PATH" "$bin" --env-file "$envfile" --check-config \
    >>"$STACK_RT/$name.log" 2>&1; then
    stack_say "error: sgid-fcgi --check-config failed (log: $STACK_RT/$name.log)"
    return 1
  fi
  stack_bg "$name" "$STACK_RT/$name.log" env -i -C "$STACK_RT" PATH="$PATH" \
    "$bin" --listen "unix:$STACK_RT/$name.sock" --workers "$n" --env-file "$envfile" "$@"
  stack_wait_until 10 "pool $name socket" "${STACK_PID[$name]}" test -S "$STACK_RT/$name.sock" || return 1
  stack_wait_until 10 "pool $name: $n workers" "${STACK_PID[$name]}" f_pool_has "$name" "$n" || return 1
  # nginx's workers run as www-data when we are root (nginx.conf.example's
  # `user`); the supervisor makes the socket 0660: give the group access.
  [[ -z $STACK_WEB_USER ]] || chgrp "$STACK_WEB_USER" "$STACK_RT/$name.sock"
}

# The system call a process or thread is blocked in (x86-64: 43 accept, 288
# accept4, 232 epoll_wait / 281 epoll_pwait (a request thread waiting for a
# connection), 7 poll / 271 ppoll (libcurl waiting for sgID), 128
# rt_sigtimedwait (a worker's main thread; the supervisor polls: 7)).
# f_syscall PID [TID]: of the process's main thread, or of thread TID.
f_syscall() {
  local f=/proc/$1/syscall sc
  [[ -z ${2:-} ]] || f=/proc/$1/task/$2/syscall
  { read -r sc _ <"$f"; } 2>/dev/null || sc=gone
  echo "${sc:-gone}"
}

# Request threads of worker PID: every thread but the main one, which only
# waits for stop signals (rt_sigtimedwait) while the threads serve requests.
f_worker_threads() {
  local t
  for t in /proc/"$1"/task/*; do
    t=${t##*/}
    [[ $t == "*" || $t == "$1" ]] || echo "$t"
  done
  return 0
}

# f_thread_syscalls PID: the system call of each request thread of worker
# PID, one a line (builtins only: cheap enough to sample 64 threads x N
# workers several times a second under load).
# A poll with a 2000 ms timeout (0x7d0) is libfcgi's lingering close after
# a response (the request is done): "linger", never mistaken for a thread
# waiting on sgID.
f_thread_syscalls() {
  local d sc a3
  for d in /proc/"$1"/task/*; do
    [[ ${d##*/} != "$1" && ${d##*/} != "*" ]] || continue
    { read -r sc _ _ a3 _ <"$d/syscall"; } 2>/dev/null || sc=gone
    [[ $sc == 7 && $a3 == 0x7d0 ]] && sc=linger
    echo "${sc:-gone}"
  done
  return 0
}

# How many request threads of worker PID are in one of the given system
# calls (f_worker_in PID 7 271: waiting in poll, i.e. on sgID).
f_worker_in() {
  local pid=$1 sc n=0
  shift
  while read -r sc; do
    [[ " $* " != *" $sc "* ]] || n=$((n + 1))
  done < <(f_thread_syscalls "$pid")
  echo "$n"
}

# Requests in progress on pool NAME: one line per busy request thread (a
# thread not waiting for a connection, in epoll_wait/accept, nor standing by
# for one, in futex: src/server.c's free threads), the line being its
# worker's pid. So
# `f_pool_busy pool | wc -l` counts requests in flight, and `| sort -u` the
# workers serving any (with one thread per worker, as before threads, the
# two are the same).
f_pool_busy() {
  local p sc
  for p in $(f_pool_workers "$1"); do
    while read -r sc; do
      [[ $sc == 43 || $sc == 288 || $sc == 232 || $sc == 281 || $sc == 202 || $sc == linger || $sc == gone ]] || echo "$p"
    done < <(f_thread_syscalls "$p")
  done
}

# Summed PSS of pool NAME (the supervisor and its workers), in KiB, from
# /proc/PID/smaps_rollup.
f_pool_pss_kb() {
  local p sum=0 kb
  for p in ${STACK_PID[$1]:-} $(f_pool_workers "$1"); do
    kb=$(awk '$1 == "Pss:" { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    sum=$((sum + ${kb:-0}))
  done
  echo "$sum"
}

# How many lines of pool NAME's log match a regex.
f_log_count() { grep -cE -- "$2" "$STACK_RT/$1.log" 2>/dev/null || true; }

# ---- nginx ------------------------------------------------------------------

# The example's per-client rate limits (limit_req_zone rate=, limit_req
# burst=) are replaced by these: the load here is thousands of logins from one
# address, 127.0.0.1, which the shipped limits would mostly answer with 429.
F_NGINX_RATE=100000   # r/s per zone
F_NGINX_BURST=100000

# f_nginx_start NAME API_PORT SPA_PORT SOCKET: nginx.conf.example with our
# socket and ports and the rate limits raised (above), prefix STACK_RT/NAME/.
f_nginx_start() {
  local name=$1 api=$2 spa=$3 sock=$4 dir=$STACK_RT/$1 zones limits
  mkdir -p "$dir/logs"
  sed -e "s#/run/sgid-fcgi/sgid-fcgi.sock#$sock#g" \
    -e "s#/usr/share/sgid-fcgi/demo-spa#$STACK_RT/spa#g" \
    -e "s#listen \(127.0.0.1\|\[::1\]\):5001;#listen \1:$api;#" \
    -e "s#listen \(127.0.0.1\|\[::1\]\):5173;#listen \1:$spa;#" "${STACK_NO_IPV6_SED[@]}" \
    -e "/^[[:space:]]*limit_req_zone[[:space:]]/s# rate=[0-9][0-9]*r/[sm];# rate=${F_NGINX_RATE}r/s;#" \
    -e "/^[[:space:]]*limit_req[[:space:]]/s# burst=[0-9][0-9]*# burst=$F_NGINX_BURST#" \
    "$ROOT/nginx.conf.example" >"$dir/nginx.conf"
  if ! grep -q "listen 127.0.0.1:$api;" "$dir/nginx.conf" || ! grep -q "listen 127.0.0.1:$spa;" "$dir/nginx.conf"; then
    stack_say "error: nginx.conf.example has no 'listen 127.0.0.1:5001;' / ':5173;' to substitute"
    return 1
  fi
  # Every zone and every limit_req raised, and there are some: a limit this
  # did not catch would throttle the load and fail the tests for no reason.
  zones=$(grep -cE '^[[:space:]]*limit_req_zone[[:space:]]' "$dir/nginx.conf" || true)
  limits=$(grep -cE '^[[:space:]]*limit_req[[:space:]]' "$dir/nginx.conf" || true)
  if ((zones == 0 || limits == 0)) ||
    (($(grep -cE "^[[:space:]]*limit_req_zone[[:space:]].* rate=${F_NGINX_RATE}r/s;" "$dir/nginx.conf") != zones)) ||
    (($(grep -cE "^[[:space:]]*limit_req[[:space:]].* burst=$F_NGINX_BURST( |;)" "$dir/nginx.conf") != limits)); then
    stack_say "error: nginx.conf.example: its limit_req_zone rate= / limit_req burst= lines are not all where the fault tests raise them"
    return 1
  fi
  note "nginx $name: the example's rate limits raised to ${F_NGINX_RATE}r/s burst=$F_NGINX_BURST ($zones zones, $limits limit_req): all load comes from 127.0.0.1"
  stack_ports_free "$api" "$spa" || return 1
  nginx -t -q -p "$dir/" -c "$dir/nginx.conf" >>"$STACK_RT/$name.log" 2>&1 || {
    stack_say "error: nginx -t failed (log: $STACK_RT/$name.log)"
    return 1
  }
  stack_bg "$name" "$STACK_RT/$name.log" nginx -p "$dir/" -c "$dir/nginx.conf"
  stack_wait_until 10 "nginx $name" "${STACK_PID[$name]}" test -s "$dir/nginx.pid" || return 1
  stack_wait_until 15 "API through nginx $name" "${STACK_PID[$name]}" \
    curl -fsS --max-time 2 -o /dev/null "http://localhost:$api/api/health"
}

# ---- the usual single-host stack -------------------------------------------

# f_stack IDP WORKERS [VAR=VALUE...] [-- sgid-fcgi options...]: redis (unix
# socket, no persistence), the provider, pool "pool", nginx "nginx" on API_PORT.
f_stack() {
  local idp=$1 n=$2 vars=() opts=()
  shift 2
  while (($#)); do
    if [[ $1 == -- ]]; then
      shift
      opts=("$@")
      break
    fi
    vars+=("$1")
    shift
  done
  setup "ports $API_PORT $SPA_PORT free" stack_ports_free "$API_PORT" "$SPA_PORT"
  [[ -n ${STACK_PID[redis]:-} ]] || setup "start redis-server" f_redis_start redis
  if [[ $idp == mockpass ]]; then
    setup "start MockPass on $MOCKPASS_PORT" f_mockpass_start
  else
    setup "start the hostile IdP on $IDP_PORT" f_idp_start
  fi
  f_app_env "$STACK_RT/app.env" "$idp" "${vars[@]}"
  setup "start the pool ($n workers)" f_pool_start pool "$STACK_RT/app.env" "$n" "${opts[@]}"
  setup "start nginx on $API_PORT" f_nginx_start nginx "$API_PORT" "$SPA_PORT" "$STACK_RT/pool.sock"
}

# statuses_within FILE CODE...: every status in a load.mjs summary is a CODE.
statuses_within() {
  local f=$1 k
  shift
  for k in $(jq -r '.by_status | keys[]' "$f"); do
    [[ " $* " == *" $k "* ]] || return 1
  done
}

# f_status URL [curl args]: the HTTP status of one request ("000" on none).
f_status() {
  local url=$1
  shift
  curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@" "$url" || true
}

# f_sessions_ok FILE [BASE]: how many sessions of FILE (load.mjs logins
# --out) still answer /api/userinfo 200 with their own data (iceCream, and
# the sub when FILE has one). Prints "good/total".
f_sessions_ok() {
  f_load sessions --base "${2:-$API}" --sessions "$1" | jq -r '"\(.good)/\(.total)"'
}

# check_sessions NAME FILE [BASE]: a test point: every session of FILE still
# gets its own profile ("good/total" appended to NAME).
check_sessions() {
  local name=$1 file=$2 got want
  want=$(wc -l <"$file")
  got=$(f_sessions_ok "$file" "${3:-$API}")
  check "$name: $got" test "$got" == "$want/$want"
}
