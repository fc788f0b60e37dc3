# shellcheck shell=bash
# Shared by deploy/run.sh (`make run`) and tests/integration/run.sh: start and
# stop a private sgid-fcgi stack on localhost. Source it; it defines functions
# and a few globals, and starts nothing by itself.
#
#   redis-server  unix socket $STACK_RT/redis.sock, no TCP, no persistence
#   MockPass      127.0.0.1:$MOCKPASS_PORT (tests/mockpass/server.js)
#   sgid-fcgi     spawn-fcgi workers on $STACK_RT/app.sock
#   nginx         nginx.conf.example: API on 127.0.0.1:5001, demo SPA on :5173
#
# Every service but the app workers is a child of the calling script, started
# with setsid so it leads its own process group: stopping it kills the group.
# spawn-fcgi daemonizes the workers (new sessions, reparented to init), so they
# are stopped by the pids it writes.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_RT=""                  # runtime dir, set by stack_init
MOCKPASS_PORT=5156
API_PORT=5001
SPA_PORT=5173
declare -A STACK_PID=()      # service name -> pid (= process group id)
STACK_WEB_USER=""            # nginx worker user when we run as root

# Never fails: cleanup must go on when stderr is a closed pipe (`| tee` + Ctrl-C).
stack_say() { printf '%s\n' "$*" >&2 2>/dev/null || true; }

# stack_init PREFIX: make the private runtime dir.
stack_init() {
  STACK_RT=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  mkdir -p "$STACK_RT/nginx/logs" "$STACK_RT/mockpass"
  if ((EUID == 0)); then
    # nginx (nginx.conf.example: `user www-data`) drops its workers to this
    # user, which must reach the FastCGI socket inside the runtime dir.
    STACK_WEB_USER=www-data
    chmod 0711 "$STACK_RT"
  fi
}

# stack_ports_free PORT...: fail, naming the port, if anything answers on it.
stack_ports_free() {
  local port busy=()
  for port in "$@"; do
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
      busy+=("$port")
    fi
  done
  if ((${#busy[@]})); then
    stack_say "error: port(s) ${busy[*]} on 127.0.0.1 already in use (another \`make run\` or \`make check\`?)."
    stack_say "       \`make run\` and \`make check\` use the same ports (5001, 5173, 5156) and cannot run at once."
    return 1
  fi
}

# Is PID a live process (not gone, not a zombie)? Init here may not reap the
# daemonized workers, so a zombie counts as dead.
stack_alive() {
  local state
  [[ -r /proc/$1/stat ]] || return 1
  state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# stack_wait_until SECONDS WHAT GUARD_PID CMD...: poll CMD every 0.1 s until it
# succeeds; fail after SECONDS or as soon as GUARD_PID ("-" for none) dies.
stack_wait_until() {
  local secs=$1 what=$2 guard=$3
  shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [[ $guard != - ]] && ! stack_alive "$guard"; then
      stack_say "error: $what: the process exited"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      stack_say "error: $what: not ready after ${secs}s"
      return 1
    fi
    sleep 0.1
  done
}

# stack_bg NAME LOGFILE CMD...: start CMD as its own process group, output to LOGFILE.
stack_bg() {
  local name=$1 logfile=$2
  shift 2
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  STACK_PID[$name]=$!
}

# stack_stop NAME: TERM the service's group, wait up to 5 s, then KILL; reap it.
stack_stop() {
  local name=$1 pid=${STACK_PID[$1]:-}
  [[ -n $pid ]] || return 0
  unset "STACK_PID[$name]"
  kill -TERM -- "-$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 5))
  while stack_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  # The unreaped leader still holds the group id, so this cannot hit a stranger.
  # Shell stderr muted: bash would report the job killed by a signal.
  exec 3>&2 2>/dev/null
  kill -KILL -- "-$pid" || true
  wait "$pid" || true
  exec 2>&3 3>&-
}

# ---- redis ---------------------------------------------------------------

stack_redis_ping() { [[ $(redis-cli -s "$STACK_RT/redis.sock" ping 2>/dev/null) == PONG ]]; }

stack_start_redis() {
  # No TCP port, no RDB/AOF: a throwaway store on a unix socket only we reach.
  stack_bg redis "$STACK_RT/redis.log" \
    redis-server --port 0 --unixsocket "$STACK_RT/redis.sock" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$STACK_RT" --daemonize no --loglevel warning
  stack_wait_until 10 "redis-server (log: $STACK_RT/redis.log)" "${STACK_PID[redis]}" stack_redis_ping
}

# ---- MockPass -------------------------------------------------------------

stack_mockpass_up() {
  curl -fsS --max-time 2 -o /dev/null "http://localhost:$MOCKPASS_PORT/v2/.well-known/openid-configuration"
}

# stack_start_mockpass SHOW_LOGIN_PAGE(true|false) [NRIC]
stack_start_mockpass() {
  if [[ ! -d $STACK_ROOT/tests/mockpass/node_modules/@opengovsg/mockpass ]]; then
    stack_say "error: MockPass is not installed: run deploy/deps.sh (make deps)"
    return 1
  fi
  # Run from an empty dir with only the variables MockPass needs: it loads a
  # .env from its cwd and reads several other variables.
  stack_bg mockpass "$STACK_RT/mockpass.log" env -i -C "$STACK_RT/mockpass" \
    PATH="$PATH" \
    MOCKPASS_PORT="$MOCKPASS_PORT" \
    MOCKPASS_NRIC="${2:-S9812379B}" \
    SHOW_LOGIN_PAGE="$1" \
    SERVICE_PROVIDER_PUB_KEY="$STACK_ROOT/tests/fixtures/client-test-pub.pem" \
    node "$STACK_ROOT/tests/mockpass/server.js"
  stack_wait_until 20 "MockPass (log: $STACK_RT/mockpass.log)" "${STACK_PID[mockpass]}" stack_mockpass_up
}

# ---- sgid-fcgi workers ----------------------------------------------------

STACK_APP_ARGS=()   # set by the caller: e.g. (--env-file FILE)

# stack_start_app WORKERS CWD: check the config, then spawn the workers.
stack_start_app() {
  local n=$1 cwd=$2 bin=$STACK_ROOT/build/sgid-fcgi
  if [[ ! -x $bin ]]; then
    stack_say "error: $bin is missing: run make"
    return 1
  fi
  # Bad configuration fails here with a message naming the variable, instead
  # of N workers dying silently.
  if ! (cd "$cwd" && "$bin" "${STACK_APP_ARGS[@]}" --check-config) >>"$STACK_RT/app.log" 2>&1; then
    stack_say "error: sgid-fcgi --check-config failed:"
    tail -n 20 "$STACK_RT/app.log" >&2
    return 1
  fi
  local owner=()
  [[ -n $STACK_WEB_USER ]] && owner=(-U "$STACK_WEB_USER" -G "$STACK_WEB_USER")
  # spawn-fcgi points the workers' stdout/stderr at /dev/null; a shell in
  # between sends them to app.log ($0 of the inline script) before exec.
  # shellcheck disable=SC2016 # expanded by that inner shell
  spawn-fcgi -s "$STACK_RT/app.sock" -M 0660 "${owner[@]}" -F "$n" \
    -P "$STACK_RT/app.pids" -d "$cwd" -- \
    /bin/sh -c 'exec "$@" >>"$0" 2>&1' "$STACK_RT/app.log" "$bin" "${STACK_APP_ARGS[@]}" \
    >>"$STACK_RT/spawn-fcgi.log" 2>&1 || {
    stack_say "error: spawn-fcgi failed:"
    cat "$STACK_RT/spawn-fcgi.log" >&2
    return 1
  }
}

stack_app_pids() {
  local pids=()
  [[ -f $STACK_RT/app.pids ]] && mapfile -t pids <"$STACK_RT/app.pids"
  printf '%s\n' "${pids[@]}" | grep -E '^[0-9]+$' || true
}

# How many workers are still alive.
stack_app_alive() {
  local p n=0
  for p in $(stack_app_pids); do stack_alive "$p" && n=$((n + 1)); done
  echo "$n"
}

stack_stop_app() {
  local p pids
  pids=$(stack_app_pids)
  [[ -n $pids ]] || return 0
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  local deadline=$((SECONDS + 5))
  while (($(stack_app_alive) > 0)) && ((SECONDS < deadline)); do sleep 0.1; done
  for p in $pids; do stack_alive "$p" && kill -KILL "$p" 2>/dev/null; done
  rm -f "$STACK_RT/app.pids"
}

# ---- nginx ----------------------------------------------------------------

stack_api_up() {
  local code
  code=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://localhost:$API_PORT/api/health") || true
  [[ $code == 200 ]]
}

stack_start_nginx() {
  local spa=$STACK_ROOT/deploy/demo-spa conf=$STACK_RT/nginx/nginx.conf
  # nginx's workers run as www-data when we are root: serve a copy of the SPA
  # if they cannot read the checkout (e.g. under a 0700 home directory).
  if [[ -n $STACK_WEB_USER ]] && ! runuser -u "$STACK_WEB_USER" -- test -r "$spa/index.html" 2>/dev/null; then
    cp -r "$spa" "$STACK_RT/demo-spa"
    chmod -R a+rX "$STACK_RT/demo-spa"
    spa=$STACK_RT/demo-spa
  fi
  sed -e "s#/run/sgid-fcgi/sgid-fcgi.sock#$STACK_RT/app.sock#g" \
    -e "s#/usr/share/sgid-fcgi/demo-spa#$spa#g" \
    "$STACK_ROOT/nginx.conf.example" >"$conf"
  if ! nginx -t -q -p "$STACK_RT/nginx/" -c "$conf" >>"$STACK_RT/nginx.log" 2>&1; then
    stack_say "error: nginx -t failed:"
    cat "$STACK_RT/nginx.log" >&2
    return 1
  fi
  stack_bg nginx "$STACK_RT/nginx.log" nginx -p "$STACK_RT/nginx/" -c "$conf"
  stack_wait_until 10 "nginx (log: $STACK_RT/nginx/logs/error.log)" "${STACK_PID[nginx]}" \
    curl -s --max-time 2 -o /dev/null "http://localhost:$SPA_PORT/"
}

# ---- all ------------------------------------------------------------------

# Stop everything that is still running, front to back.
stack_cleanup() {
  local svc
  stack_stop nginx
  stack_stop_app
  stack_stop mockpass
  stack_stop redis
  # Anything else a caller started with stack_bg (e.g. lighttpd).
  for svc in "${!STACK_PID[@]}"; do stack_stop "$svc"; done
}
