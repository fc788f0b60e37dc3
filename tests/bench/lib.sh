# Shared by tests/bench/run.sh and tests/bench/counts.sh: a private stack on
# loopback and unix sockets -- redis-server, the sgID stand-in, the sgid-fcgi
# pool, the trivial FastCGI responders (bare, and with one Redis SET per
# request), the peer (official Express example)
# and nginx in front of them -- started in a temporary directory and torn
# down on exit. Only the processes started here are ever signalled, by pid.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

BENCH_PORT=${BENCH_PORT:-18080}        # nginx, ours (peer = +1, one peer process = +2, alt pool = +3, stand-in = +10/+11, peer processes = +21/+22)
PORT_OURS=$BENCH_PORT
PORT_PEER=$((BENCH_PORT + 1))
PORT_PEER1=$((BENCH_PORT + 2))
PORT_ALT=$((BENCH_PORT + 3))
PORT_CLUSTER=$((BENCH_PORT + 30))      # BENCH_CLUSTER: 3 nodes, +30..+32 (cluster bus +10000)
PORT_REDIS=$((BENCH_PORT + 33))        # BENCH_REDIS_TCP=1: the one Redis on loopback TCP too
PORT_REDIS_TLS=$((BENCH_PORT + 34))    # BENCH_REDIS_TLS=1: and on TLS (the alt pool's)
PORT_SGID=$((BENCH_PORT + 10))
PORT_SGID_STATS=$((BENCH_PORT + 11))
PORT_PEER_A=$((BENCH_PORT + 21))
PORT_PEER_B=$((BENCH_PORT + 22))

CLIENT_ID=bench-client
CLIENT_SECRET=bench-secret-not-a-real-credential
KEY_PEM=$ROOT/tests/fixtures/client-test-key.pem
PUB_PEM=$ROOT/tests/fixtures/client-test-pub.pem

RT=
STARTED=()          # "name:pid", in start order
POOL_PID=
ALT_PID=
PEER_PIDS=()
SGID_PID=
NGINX_PID=
REDIS_PID=
TRIVIAL_PID=
TRIVIAL_REDIS_PID=

say() { printf '%s\n' "$*" >&2; }
die() {
  say "bench: $*"
  exit 1
}

bench_need_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || die "$t is not installed (Debian: apt-get install wrk nginx redis-server nodejs npm)"
  done
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

bench_init() {
  local p
  for p in "$PORT_OURS" "$PORT_PEER" "$PORT_PEER1" "$PORT_ALT" "$PORT_SGID" "$PORT_SGID_STATS" "$PORT_PEER_A" "$PORT_PEER_B"; do
    port_free "$p" || die "port $p is in use (set BENCH_PORT to move the whole set)"
  done
  RT=$(mktemp -d "${TMPDIR:-/tmp}/sgid-bench.XXXXXX")
  mkdir -p "$RT/nginx/logs" "$RT/work"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_cleanup() {
  local rc=$? i entry pid n
  trap - EXIT INT TERM
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    entry=${STARTED[i]}
    pid=${entry##*:}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for entry in "${STARTED[@]}"; do
    pid=${entry##*:}
    for ((n = 0; n < 50; n++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $RT && -d $RT ]]; then
    if ((rc != 0)) && [[ -z ${BENCH_KEEP:-} ]]; then
      say "bench: failed (exit $rc); logs:"
      for f in "$RT"/*.log "$RT"/nginx/logs/error.log; do
        [[ -s $f ]] || continue
        say "---- ${f#"$RT"/} (last 20 lines)"
        tail -n 20 "$f" >&2
      done
    fi
    if [[ -n ${BENCH_KEEP:-} ]]; then say "bench: runtime dir kept: $RT"; else rm -rf "$RT"; fi
  fi
  exit "$rc"
}

started() { STARTED+=("$1:$2"); }
# stopped PID: forget a process that was stopped and reaped (its pid may be reused)
stopped() {
  local i
  for i in "${!STARTED[@]}"; do
    [[ ${STARTED[i]##*:} == "$1" ]] && unset 'STARTED[i]'
  done
  STARTED=("${STARTED[@]}")
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s.
wait_for() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not come up within ${secs}s"
}

# BENCH_REDIS_TCP=1: it also listens on 127.0.0.1:PORT_REDIS and the ours
# pool talks TCP to it, as the cluster's nodes can only be reached: the
# cluster rows then differ from one Redis by the cluster alone.
start_redis() {
  local tcp=0 tls=()
  [[ ${BENCH_REDIS_TCP:-0} == 1 ]] && tcp=$PORT_REDIS
  if [[ ${BENCH_REDIS_TLS:-0} == 1 ]]; then
    sh "$BENCH_DIR/../tls/make-certs.sh" "$RT/tls" || die "cannot make the test certificates"
    tls=(--tls-port "$PORT_REDIS_TLS" --tls-cert-file "$RT/tls/server.pem" --tls-key-file "$RT/tls/server.key"
      --tls-ca-cert-file "$RT/tls/ca.pem" --tls-auth-clients no)
  fi
  redis-server --port "$tcp" --bind 127.0.0.1 --unixsocket "$RT/redis.sock" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$RT" --logfile "$RT/redis.log" "${tls[@]}" &
  REDIS_PID=$!
  started redis "$REDIS_PID"
  wait_for 10 redis-server redis-cli -s "$RT/redis.sock" ping
}

# start_fake_sgid PROCS
start_fake_sgid() {
  PORT=$PORT_SGID STATS_PORT=$PORT_SGID_STATS PROCS=$1 CLIENT_ID=$CLIENT_ID CLIENT_SECRET=$CLIENT_SECRET \
    CLIENT_PUBLIC_KEY=$PUB_PEM ISSUER="http://127.0.0.1:$PORT_SGID/v2" \
    node "$BENCH_DIR/fake-sgid/server.js" >"$RT/fake-sgid.log" 2>&1 &
  SGID_PID=$!
  started fake-sgid "$SGID_PID"
  wait_for 20 "the sgID stand-in" grep -q listening "$RT/fake-sgid.log"
}

sgid_stats() { curl -sS --max-time 5 "http://127.0.0.1:$PORT_SGID_STATS/stats"; }

# Environment of the sgid-fcgi pool: only ours, nothing from the caller.
# ours_env [PORT]: the nginx port its redirect URI names (default PORT_OURS).
# BENCH_MAX_INFLIGHT, when set, is passed on as SGID_MAX_INFLIGHT.
ours_env() {
  OURS_ENV=(env -i PATH="$PATH" HOME="${HOME:-/}"
    SGID_CLIENT_ID="$CLIENT_ID" SGID_CLIENT_SECRET="$CLIENT_SECRET" SGID_PRIVATE_KEY_FILE="$KEY_PEM"
    SGID_HOSTNAME="http://127.0.0.1:$PORT_SGID"
    SGID_REDIRECT_URI="http://127.0.0.1:${1:-$PORT_OURS}/api/redirect"
    SGID_FRONTEND_HOST="http://localhost:5173"
    REDIS_URL="unix://$RT/redis.sock" LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}")
  [[ ${BENCH_REDIS_TCP:-0} == 1 ]] && OURS_ENV+=(REDIS_URL="redis://127.0.0.1:$PORT_REDIS/0")
  [[ -n ${BENCH_MAX_INFLIGHT:-} ]] && OURS_ENV+=(SGID_MAX_INFLIGHT="$BENCH_MAX_INFLIGHT")
  return 0
}

# start_cluster: BENCH_CLUSTER=1: a Redis Cluster of 3 primaries (no
# replicas) on PORT_CLUSTER..+2; sets CLUSTER_SEEDS for the alt pool.
cluster_ok() { [[ $(redis-cli -p "$PORT_CLUSTER" cluster info | tr -d '\r' | grep cluster_state) == cluster_state:ok ]]; }
start_cluster() {
  local i p addrs=()
  for i in 0 1 2; do
    p=$((PORT_CLUSTER + i))
    mkdir -p "$RT/cl$i"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
      --save '' --appendonly no --dir "$RT/cl$i" --logfile "$RT/cl$i.log" &
    started "redis-cluster-$i" $!
    wait_for 10 "cluster node $p" redis-cli -p "$p" ping
    addrs+=("127.0.0.1:$p")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-yes >"$RT/cluster-create.log" 2>&1 ||
    die "redis-cli --cluster create failed (see $RT/cluster-create.log)"
  wait_for 20 "cluster state ok" cluster_ok
  CLUSTER_SEEDS=$(IFS=,; echo "${addrs[*]}")
}

# start_pool WORKERS [THREADS]: sgid-fcgi --listen (supervisor mode), cwd
# without a .env; THREADS request threads per worker (default: sgid-fcgi's)
start_pool() {
  ours_env
  # the metrics listener, when the build has one (an older build, run for
  # a comparison, has not)
  local metrics=()
  "$BUILD/sgid-fcgi" --help | grep -q -- --metrics-listen && metrics=(--metrics-listen "unix:$RT/metrics.sock")
  (cd "$RT/work" && exec "${OURS_ENV[@]}" "$BUILD/sgid-fcgi" --listen "unix:$RT/ours.sock" --workers "$1" \
    ${2:+--threads "$2"} "${metrics[@]}") >"$RT/ours.log" 2>&1 &
  POOL_PID=$!
  started sgid-fcgi "$POOL_PID"
  wait_for 20 "the sgid-fcgi pool" test -S "$RT/ours.sock"
  wait_for 20 "$1 sgid-fcgi workers" pool_has "$1"
}
pool_has() { [[ $(pool_workers | wc -w) -ge $1 ]]; }
pool_workers() { pgrep -P "$POOL_PID" 2>/dev/null | tr '\n' ' '; }

# start_alt_pool WORKERS THREADS: a second sgid-fcgi pool (BENCH_ALT), on
# alt.sock behind nginx's PORT_ALT, same Redis and stand-in: the comparison
# of two pool shapes in one run. BENCH_ALT_BIN: another build for it (say,
# one without a change, to measure the change's cost in the same run).
start_alt_pool() {
  ours_env "$PORT_ALT"
  # BENCH_CLUSTER: the alt pool's store is the cluster (REDIS_URL: credentials only)
  [[ -n ${CLUSTER_SEEDS:-} ]] && OURS_ENV+=(REDIS_CLUSTER="$CLUSTER_SEEDS" REDIS_URL="redis://127.0.0.1:1/0")
  # BENCH_REDIS_TLS: the alt pool's store is the same Redis over TLS
  [[ ${BENCH_REDIS_TLS:-0} == 1 ]] &&
    OURS_ENV+=(REDIS_URL="rediss://localhost:$PORT_REDIS_TLS/0" REDIS_TLS_CA_FILE="$RT/tls/ca.pem")
  (cd "$RT/work" && exec "${OURS_ENV[@]}" "${BENCH_ALT_BIN:-$BUILD/sgid-fcgi}" --listen "unix:$RT/alt.sock" --workers "$1" \
    --threads "$2") >"$RT/alt.log" 2>&1 &
  ALT_PID=$!
  started sgid-fcgi-alt "$ALT_PID"
  wait_for 20 "the alt sgid-fcgi pool" test -S "$RT/alt.sock"
  wait_for 20 "$1 alt sgid-fcgi workers" alt_has "$1"
}
# scrape_every_second SECONDS: the ours pool's /metrics once a second, as a
# Prometheus with a 1 s scrape interval would (the scraped-* rows).
# One curl process for all the scrapes (--rate), as a Prometheus elsewhere is
# one long-lived process: a curl and a sleep started every second cost the 2
# shared cores ~4% of auth-url's rate by themselves (measured with a scraper
# pointed at no socket).
scrape_every_second() {
  local urls=() i
  for ((i = 0; i <= $1; i++)); do urls+=("http://metrics/metrics?n=$i"); done
  curl -sf --max-time 2 --rate 1/s --unix-socket "$RT/metrics.sock" "${urls[@]}" >/dev/null || true
}

alt_has() { [[ $(alt_workers | wc -w) -ge $1 ]]; }
alt_workers() { [[ -n $ALT_PID ]] && pgrep -P "$ALT_PID" 2>/dev/null | tr '\n' ' '; return 0; }

# start_trivial WORKERS
start_trivial() {
  "$BUILD/bench/trivial_fcgi" "unix:$RT/trivial.sock" "$1" >"$RT/trivial.log" 2>&1 &
  TRIVIAL_PID=$!
  started trivial_fcgi "$TRIVIAL_PID"
  wait_for 10 trivial_fcgi test -S "$RT/trivial.sock"
}

# start_trivial_redis WORKERS: trivial_fcgi plus one SET ... EX per request on
# the same Redis as the pool (start_redis first)
start_trivial_redis() {
  "$BUILD/bench/trivial_fcgi" "unix:$RT/trivial-redis.sock" "$1" "$RT/redis.sock" \
    >"$RT/trivial-redis.log" 2>&1 &
  TRIVIAL_REDIS_PID=$!
  started trivial_fcgi-redis "$TRIVIAL_REDIS_PID"
  wait_for 10 "trivial_fcgi with Redis" test -S "$RT/trivial-redis.sock"
}

# npm ci when node_modules is missing or was installed from another lock.
peer_install() {
  "$ROOT/deploy/deps.sh" --npm tests/bench/peer >&2 || die "npm ci failed in tests/bench/peer"
}

start_peers() {
  local port pid key
  key=$(cat "$KEY_PEM")
  for port in "$PORT_PEER_A" "$PORT_PEER_B"; do
    (cd "$RT/work" && exec env -i PATH="$PATH" HOME="${HOME:-/}" NODE_ENV=production PORT="$port" \
      SGID_CLIENT_ID=$CLIENT_ID SGID_CLIENT_SECRET=$CLIENT_SECRET SGID_PRIVATE_KEY="$key" \
      SGID_HOSTNAME="http://127.0.0.1:$PORT_SGID" \
      SGID_REDIRECT_URI="http://127.0.0.1:$PORT_PEER/api/redirect" \
      SGID_FRONTEND_HOST="http://localhost:5173" \
      node "$BENCH_DIR/peer/index.js") >"$RT/peer-$port.log" 2>&1 &
    pid=$!
    PEER_PIDS+=("$pid")
    started "peer-$port" "$pid"
  done
  for port in "$PORT_PEER_A" "$PORT_PEER_B"; do
    wait_for 20 "peer on port $port" grep -q listening "$RT/peer-$port.log"
  done
}

start_nginx() {
  local user_line=""
  [[ $(id -u) -eq 0 ]] && user_line="user root;"   # the app sockets are 0660 root
  sed -e "s|@RT@|$RT|g" -e "s|@USER_LINE@|$user_line|" -e "s|@NGINX_WORKERS@|${BENCH_NGINX_WORKERS:-2}|" \
    -e "s|@PORT_OURS@|$PORT_OURS|g" -e "s|@PORT_PEER@|$PORT_PEER|g" -e "s|@PORT_PEER1@|$PORT_PEER1|g" \
    -e "s|@PORT_ALT@|$PORT_ALT|g" -e "s|@PORT_SGID@|$PORT_SGID|g" \
    -e "s|@PORT_PEER_A@|$PORT_PEER_A|g" -e "s|@PORT_PEER_B@|$PORT_PEER_B|g" \
    "$BENCH_DIR/nginx.conf.in" >"$RT/nginx/nginx.conf"
  nginx -t -q -p "$RT/nginx" -c "$RT/nginx/nginx.conf" 2>"$RT/nginx-t.log" || { cat "$RT/nginx-t.log" >&2; die "nginx -t failed"; }
  nginx -p "$RT/nginx" -c "$RT/nginx/nginx.conf" >"$RT/nginx.log" 2>&1 &
  NGINX_PID=$!
  started nginx "$NGINX_PID"
  wait_for 10 nginx curl -sf "http://127.0.0.1:$PORT_OURS/ceiling"
}

# ---- measurement helpers -------------------------------------------------

# cpu_ticks PID...: utime+stime of those processes, in clock ticks.
cpu_ticks() {
  local pid total=0 stat rest
  local -a fields
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${stat##*) }
    # fields after "pid (comm) ": state=1 ... utime=12 stime=13
    read -r -a fields <<<"$rest"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# pss_kb PID...: the sum of their proportional set sizes (smaps_rollup), KB
pss_kb() {
  local pid t=0 v
  for pid in "$@"; do
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

nginx_pids() { echo "$NGINX_PID $(pgrep -P "$NGINX_PID" 2>/dev/null | tr '\n' ' ')"; }
sgid_pids() { echo "$SGID_PID $(pgrep -P "$SGID_PID" 2>/dev/null | tr '\n' ' ')"; }
