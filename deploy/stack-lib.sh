# shellcheck shell=bash
# Shared by deploy/run.sh (`make run`), tests/integration/run.sh and
# tests/browser/stack-run.sh: start and stop a private sgid-fcgi stack on
# localhost. Source it; it defines functions and a few globals, and starts
# nothing by itself.
#
#   redis-server  unix socket $STACK_RT/redis.sock, no TCP, no persistence
#   MockPass      localhost:$MOCKPASS_PORT (tests/mockpass/server.js)
#   sgid-fcgi     on $STACK_RT/app.sock: the supervised pool
#                 (stack_start_pool: sgid-fcgi --listen) or spawn-fcgi workers
#                 (stack_start_app); or started by lighttpd itself
#   nginx         nginx.conf.example: API on localhost:5001, demo SPA on :5173
#                 (localhost: 127.0.0.1 and [::1], see STACK_LOOPBACKS)
#   lighttpd      lighttpd.conf.example, same ports (instead of nginx)
#
# Every service but the spawn-fcgi workers is a child of the calling script,
# started with setsid so it leads its own process group: stopping it kills the
# group (the pool's and lighttpd's workers are in it). spawn-fcgi daemonizes
# its workers (new sessions, reparented to init), so they are stopped by the
# pids it writes.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The pinned Node first in PATH (as under make), also for a script run alone.
# shellcheck source=tests/node-runtime/env.sh
. "$STACK_ROOT/tests/node-runtime/env.sh" || return 1
STACK_RT=""                  # runtime dir, set by stack_init
MOCKPASS_PORT=5156
STACK_SINGPASS_PORT=5158        # the Singpass stand-in (tests/singpass-op)
API_PORT=5001
SPA_PORT=5173
declare -A STACK_PID=()      # service name -> pid (= process group id)
STACK_WEB_USER=""            # nginx/lighttpd worker user when we run as root
# Set to $STACK_WEB_USER before stack_start_redis when processes running as
# that user (lighttpd's own workers) must reach Redis.
STACK_REDIS_GROUP=""
# Extra sed arguments for the nginx.conf stack_start_nginx writes from
# nginx.conf.example (tests/hostile/run.sh raises the rate limits with them).
STACK_NGINX_SED=()
# The example files stack_start_nginx and stack_start_lighttpd start from,
# extra sed arguments for the latter (after the placeholders' own: the
# FastCGI socket, the SPA and the rate-limit script), and the URL both wait
# for (any answer will do). tests/gateway/run.sh points them at deploy/gateway/.
STACK_NGINX_EXAMPLE=$STACK_ROOT/nginx.conf.example
STACK_LIGHTTPD_EXAMPLE=$STACK_ROOT/lighttpd.conf.example
STACK_LIGHTTPD_SED=()
STACK_WEB_PROBE_URL=http://localhost:$SPA_PORT/

# Where the servers that clients call `localhost` must answer: 127.0.0.1, and
# [::1] when the machine has it (Debian's stock /etc/hosts resolves localhost
# to ::1 first). Without ::1 (IPv6 off) the examples' [::1] listen lines are
# dropped (STACK_NO_IPV6_SED, sed arguments for the config files).
STACK_LOOPBACKS=(127.0.0.1)
STACK_NO_IPV6_SED=()
if grep -qs '^0\{31\}1 .* lo$' /proc/net/if_inet6; then
  STACK_LOOPBACKS+=('[::1]')
else
  STACK_NO_IPV6_SED=(-e '/^[[:space:]]*listen \[::1\]:/d' -e '/^\$SERVER\["socket"\] == "\[::1\]:[0-9]*" { }/d')
fi

# stack_curl_loopbacks URL CURL_ARG...: curl URL (http://localhost:PORT/...)
# at each of STACK_LOOPBACKS in turn; fails if any fails.
stack_curl_loopbacks() {
  local url=$1 a
  shift
  for a in "${STACK_LOOPBACKS[@]}"; do
    curl -g "$@" "${url/\/\/localhost:/\/\/$a:}" || return 1
  done
}

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

# stack_web_path PATH: PATH if the web server's user can read it, else a copy
# in the runtime dir that (only) its group can (e.g. the checkout is under a
# 0700 home directory).
stack_web_path() {
  local src=$1 dst
  if [[ -z $STACK_WEB_USER ]] || runuser -u "$STACK_WEB_USER" -- test -r "$src" 2>/dev/null; then
    printf '%s\n' "$src"
    return 0
  fi
  dst=$STACK_RT/www/$(basename "$src")
  mkdir -p "$STACK_RT/www"
  rm -rf "$dst"
  cp -r "$src" "$dst"
  chgrp -R "$STACK_WEB_USER" "$STACK_RT/www"
  chmod -R g+rX,o-rwx "$STACK_RT/www"
  printf '%s\n' "$dst"
}

# stack_bg NAME LOGFILE CMD...: start CMD as its own process group, output to LOGFILE.
stack_bg() {
  local name=$1 logfile=$2
  shift 2
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  STACK_PID[$name]=$!
}

# stack_bg_group NAME LOGFILE GROUP CMD...: stack_bg, with GROUP (if not
# empty) as CMD's only group, same user: the files and sockets it creates
# belong to GROUP from the start, with no window before a chgrp.
stack_bg_group() {
  local name=$1 logfile=$2 group=$3
  shift 3
  [[ -z $group ]] || set -- setpriv --regid "$group" --clear-groups -- "$@"
  stack_bg "$name" "$logfile" "$@"
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
  # No TCP port, no RDB/AOF: a throwaway store on a unix socket only we (and
  # STACK_REDIS_GROUP, if set) reach. STACK_REDIS_TLS="PORT DIR": also a TLS
  # port on loopback with DIR's server.pem/server.key (tests/tls/make-certs.sh).
  local perm=700 tls=() port dir
  [[ -n $STACK_REDIS_GROUP ]] && perm=770
  if [[ -n ${STACK_REDIS_TLS:-} ]]; then
    read -r port dir <<<"$STACK_REDIS_TLS"
    tls=(--bind 127.0.0.1 --tls-port "$port" --tls-cert-file "$dir/server.pem"
      --tls-key-file "$dir/server.key" --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no)
  fi
  stack_bg_group redis "$STACK_RT/redis.log" "$STACK_REDIS_GROUP" \
    redis-server --port 0 --unixsocket "$STACK_RT/redis.sock" --unixsocketperm "$perm" \
    --save '' --appendonly no --dir "$STACK_RT" --daemonize no --loglevel warning "${tls[@]}"
  stack_wait_until 10 "redis-server (log: $STACK_RT/redis.log)" "${STACK_PID[redis]}" stack_redis_ping
}

# ---- MockPass -------------------------------------------------------------

stack_mockpass_up() {
  stack_curl_loopbacks "http://localhost:$MOCKPASS_PORT/v2/.well-known/openid-configuration" -fsS --max-time 2 -o /dev/null
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
  stack_wait_until 60 "MockPass (log: $STACK_RT/mockpass.log)" "${STACK_PID[mockpass]}" stack_mockpass_up ||
    { stack_not_ready_report mockpass.log; return 1; }
}

# ---- the Singpass stand-in (tests/singpass-op) ------------------------------

stack_singpass_op_up() {
  stack_curl_loopbacks "http://localhost:$STACK_SINGPASS_PORT/healthz" -fsS --max-time 2 -o /dev/null
}

# stack_start_singpass_op [VAR=VALUE...]: oidc-provider as a local Singpass
# on localhost:$STACK_SINGPASS_PORT, issuer http://localhost:PORT/fapi (service
# "singpass-op", log singpass-op.log); it fetches the client's JWKS from the
# app's GET /api/jwks on $API_PORT. VAR=VALUE: its modes
# (tests/singpass-op/README.md), e.g. SINGPASS_OP_DPOP_NONCE=1.
stack_start_singpass_op() {
  if [[ ! -d $STACK_ROOT/tests/singpass-op/node_modules/oidc-provider ]]; then
    stack_say "error: the Singpass stand-in is not installed: run deploy/deps.sh (make deps)"
    return 1
  fi
  stack_bg singpass-op "$STACK_RT/singpass-op.log" env -i PATH="$PATH" \
    SINGPASS_OP_PORT="$STACK_SINGPASS_PORT" \
    SINGPASS_OP_ISSUER="http://localhost:$STACK_SINGPASS_PORT/fapi" \
    SINGPASS_OP_CLIENT_JWKS_URI="http://localhost:$API_PORT/api/jwks" \
    "$@" node "$STACK_ROOT/tests/singpass-op/server.mjs"
  stack_wait_until 60 "Singpass stand-in (log: $STACK_RT/singpass-op.log)" "${STACK_PID[singpass-op]}" \
    stack_singpass_op_up || { stack_not_ready_report singpass-op.log; return 1; }
}

# ---- sgid-fcgi workers ----------------------------------------------------

STACK_APP_ARGS=()   # set by the caller: e.g. (--env-file FILE)

# stack_app_check CWD: the binary exists and its configuration (as the
# workers will see it from CWD) is valid. A bad configuration fails here with
# a message naming the variable, instead of N workers dying silently.
stack_app_check() {
  local cwd=$1 bin=${STACK_APP_BIN:-$STACK_ROOT/build/sgid-fcgi}
  if [[ ! -x $bin ]]; then
    stack_say "error: $bin is missing: run make"
    return 1
  fi
  if ! (cd "$cwd" && "$bin" "${STACK_APP_ARGS[@]}" --check-config) >>"$STACK_RT/app.log" 2>&1; then
    stack_say "error: sgid-fcgi --check-config failed:"
    tail -n 20 "$STACK_RT/app.log" >&2
    return 1
  fi
}

# stack_start_pool WORKERS CWD: the supervised pool, as in production:
# `sgid-fcgi --listen unix:$STACK_RT/app.sock --workers N`, its own process
# group (service "pool"); output to app.log. As root it runs with the web
# server's group, so the socket (0660) is the web server's to connect to.
stack_start_pool() {
  local n=$1 cwd=$2 bin=${STACK_APP_BIN:-$STACK_ROOT/build/sgid-fcgi}
  stack_app_check "$cwd" || return 1
  rm -f "$STACK_RT/app.sock"
  # --stop-timeout below stack_stop's 5 s grace: a clean stop, not a KILL.
  stack_bg_group pool "$STACK_RT/app.log" "$STACK_WEB_USER" env -C "$cwd" \
    "$bin" "${STACK_APP_ARGS[@]}" --listen "unix:$STACK_RT/app.sock" --workers "$n" --stop-timeout 4
  stack_wait_until 10 "sgid-fcgi --listen (log: $STACK_RT/app.log)" "${STACK_PID[pool]}" \
    test -S "$STACK_RT/app.sock"
}

# stack_start_app WORKERS CWD: check the config, then spawn the workers.
stack_start_app() {
  local n=$1 cwd=$2 bin=${STACK_APP_BIN:-$STACK_ROOT/build/sgid-fcgi}
  stack_app_check "$cwd" || return 1
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
  local codes
  codes=$(stack_curl_loopbacks "http://localhost:$API_PORT/api/health" -s --max-time 2 -o /dev/null -w '%{http_code} ') || true
  [[ $codes == "${STACK_LOOPBACKS[*]/*/200} " ]]
}

stack_start_nginx() {
  local spa conf=$STACK_RT/nginx/nginx.conf
  # nginx's workers run as www-data when we are root: serve a copy of the SPA
  # if they cannot read the checkout (e.g. under a 0700 home directory).
  spa=$(stack_web_path "$STACK_ROOT/deploy/demo-spa")
  sed -e "s#/run/sgid-fcgi/sgid-fcgi.sock#$STACK_RT/app.sock#g" \
    -e "s#/usr/share/sgid-fcgi/demo-spa#$spa#g" "${STACK_NGINX_SED[@]}" "${STACK_NO_IPV6_SED[@]}" \
    "$STACK_NGINX_EXAMPLE" >"$conf"
  if ! nginx -t -q -p "$STACK_RT/nginx/" -c "$conf" >>"$STACK_RT/nginx.log" 2>&1; then
    stack_say "error: nginx -t failed:"
    cat "$STACK_RT/nginx.log" >&2
    return 1
  fi
  stack_bg nginx "$STACK_RT/nginx.log" nginx -p "$STACK_RT/nginx/" -c "$conf"
  stack_wait_until 10 "nginx (log: $STACK_RT/nginx/logs/error.log)" "${STACK_PID[nginx]}" \
    stack_curl_loopbacks "$STACK_WEB_PROBE_URL" -s --max-time 2 -o /dev/null
}

# ---- lighttpd -------------------------------------------------------------

STACK_LIGHTTPD_PROCS=0   # spawn mode: how many workers lighttpd starts (max-procs)

# stack_start_lighttpd pool|spawn [ENV_FILE]: lighttpd.conf.example on the API
# and SPA ports, instead of nginx (service "lighttpd", log lighttpd.log).
#   pool   the file as shipped: FastCGI to the pool on $STACK_RT/app.sock
#          (stack_start_pool or stack_start_app first)
#   spawn  the file's "#spawn:" switch on: lighttpd starts max-procs workers,
#          `build/sgid-fcgi --env-file ENV_FILE` with LOG_LEVEL (default
#          info), on $STACK_RT/lighttpd/app.sock-N. They run as the web user
#          when we are root: ENV_FILE, and the key and Redis socket it names,
#          must be readable by that user (see stack_web_path, STACK_REDIS_GROUP).
#          Their stderr goes to lighttpd.log.
stack_start_lighttpd() {
  local mode=$1 env_file=${2:-} conf=$STACK_RT/lighttpd.conf
  local spa sock=$STACK_RT/app.sock bin=${STACK_APP_BIN:-$STACK_ROOT/build/sgid-fcgi}
  local subst=() ratelimit
  spa=$(stack_web_path "$STACK_ROOT/deploy/demo-spa")
  # The example's rate-limit script (mod_magnet), read by the web user.
  ratelimit=$(stack_web_path "$STACK_ROOT/deploy/lighttpd-ratelimit.lua")
  if [[ $mode == spawn ]]; then
    if [[ ! -x $bin ]]; then
      stack_say "error: $bin is missing: run make"
      return 1
    fi
    # lighttpd creates the workers' sockets after dropping to the web user.
    mkdir -p "$STACK_RT/lighttpd"
    [[ -z $STACK_WEB_USER ]] || chown "$STACK_WEB_USER:" "$STACK_RT/lighttpd"
    sock=$STACK_RT/lighttpd/app.sock
    bin=$(stack_web_path "$bin")
    env_file=$(stack_web_path "$env_file")
    if [[ "$bin$env_file" == *[[:space:]]* ]]; then
      stack_say "error: lighttpd splits bin-path on spaces: $bin --env-file $env_file"
      return 1
    fi
    subst=(-e 's/^#spawn:/       /'
      -e "s#/usr/local/bin/sgid-fcgi#$bin#g"
      -e "s#/etc/sgid-fcgi/sgid-fcgi.env#$env_file#g"
      -e "s#\"LOG_LEVEL\" => \"info\"#\"LOG_LEVEL\" => \"${LOG_LEVEL:-info}\"#")
  fi
  sed -e "s#/run/sgid-fcgi/sgid-fcgi.sock#$sock#g" \
    -e "s#/usr/share/sgid-fcgi/demo-spa#$spa#g" \
    -e "s#/usr/share/sgid-fcgi/lighttpd-ratelimit.lua#$ratelimit#g" \
    "${subst[@]}" "${STACK_LIGHTTPD_SED[@]}" "${STACK_NO_IPV6_SED[@]}" \
    "$STACK_LIGHTTPD_EXAMPLE" >"$conf"
  if [[ $mode == spawn ]]; then
    STACK_LIGHTTPD_PROCS=$(sed -n 's/^[[:space:]]*"max-procs"[[:space:]]*=>[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$conf")
    if [[ -z $STACK_LIGHTTPD_PROCS ]] || ! grep -q '^[[:space:]]*"bin-path"' "$conf"; then
      stack_say "error: lighttpd.conf.example: no \"#spawn:\" bin-path and max-procs lines to enable"
      return 1
    fi
  fi
  if ! lighttpd -tt -f "$conf" >>"$STACK_RT/lighttpd.log" 2>&1; then
    stack_say "error: lighttpd -tt failed:"
    cat "$STACK_RT/lighttpd.log" >&2
    return 1
  fi
  stack_bg lighttpd "$STACK_RT/lighttpd.log" lighttpd -D -f "$conf"
  stack_wait_until 10 "lighttpd (log: $STACK_RT/lighttpd.log)" "${STACK_PID[lighttpd]}" \
    stack_curl_loopbacks "$STACK_WEB_PROBE_URL" -s --max-time 2 -o /dev/null
}

# How many workers lighttpd started are alive (spawn mode).
stack_lighttpd_workers() {
  local pid=${STACK_PID[lighttpd]:-} p n=0
  if [[ -n $pid ]]; then
    for p in $(pgrep -P "$pid" -x sgid-fcgi); do stack_alive "$p" && n=$((n + 1)); done
  fi
  echo "$n"
}

# ---- all ------------------------------------------------------------------

# stack_start_hostile_idp PORT CLIENT_ID CLIENT_SECRET REDIRECT_URIS: the
# scriptable hostile sgID look-alike (tests/hostile-idp) on localhost:PORT,
# its one npm dependency (jose) reinstalled first when its lockfile changes.
stack_start_hostile_idp() {
  local port=$1 idp=$STACK_ROOT/tests/hostile-idp
  "$STACK_ROOT/deploy/deps.sh" --npm tests/hostile-idp >&2 || {
    stack_say "error: npm ci in tests/hostile-idp failed"
    return 1
  }
  stack_ports_free "$port" || return 1
  stack_bg idp "$STACK_RT/idp.log" env -i PATH="$PATH" \
    PORT="$port" CLIENT_ID="$2" CLIENT_SECRET="$3" \
    CLIENT_PUBLIC_KEY="$STACK_ROOT/tests/fixtures/client-test-pub.pem" \
    REDIRECT_URIS="$4" node "$idp/server.js"
  # It makes six RSA keys before it listens: seconds on a loaded machine.
  stack_wait_until 60 "hostile-idp (log: $STACK_RT/idp.log)" "${STACK_PID[idp]}" \
    stack_curl_loopbacks "http://localhost:$port/v2/.well-known/openid-configuration" -fsS --max-time 2 -o /dev/null ||
    { stack_not_ready_report idp.log; return 1; }
}

# stack_not_ready_report LOG: what a service that did not come up left in
# its log, and what else was using the CPU meanwhile (as TAP comments).
stack_not_ready_report() {
  echo "# ---- $1 ----"
  tail -n 20 "$STACK_RT/$1" 2>/dev/null | sed 's/^/# /'
  echo "# ---- busiest processes ----"
  ps -eo pid,pcpu,etimes,stat,wchan:24,args --sort=-pcpu 2>/dev/null | head -n 12 | cut -c1-180 | sed 's/^/# /'
}

# stack_dump_logs LINES FILE...: the last LINES lines of each non-empty log
# (paths relative to STACK_RT) as TAP comments, for a run that failed.
stack_dump_logs() {
  local n=$1 f
  shift
  for f in "$@"; do
    [[ -s $STACK_RT/$f ]] || continue
    echo "# ---- $f (last $n lines) ----"
    tail -n "$n" "$STACK_RT/$f" | sed 's/^/# /'
  done
}

# stack_tap_preflight "TOOL..." PORT...: what a TAP suite (tests/tap.sh)
# checks before it starts anything: the tools are installed, the binary is
# built, the ports are free (each a setup step: a failure ends the run).
stack_tap_preflight() {
  local tool
  for tool in $1; do
    setup "$tool is installed (make deps)" command -v "$tool" >/dev/null
  done
  shift
  setup "${STACK_APP_BIN:-build/sgid-fcgi} exists (make)" test -x "${STACK_APP_BIN:-$STACK_ROOT/build/sgid-fcgi}"
  setup "ports $* are free" stack_ports_free "$@"
}

# stack_persona_name NRIC: the name MockPass serves for the persona NRIC.
stack_persona_name() {
  local personas=$STACK_ROOT/tests/mockpass/node_modules/@opengovsg/mockpass/static/myinfo/v3.json
  [[ -f $personas ]] || { stack_say "error: MockPass is not installed: run deploy/deps.sh (make deps)"; return 1; }
  jq -er --arg n "$1" '.personas[$n].name.value' "$personas"
}

# stack_tap_finish SUITE RC LINES LOG...: the end of a TAP suite
# (tests/tap.sh) that ran a stack, for its EXIT trap with the exit status
# RC: stop the stack; an abort with nothing failed counts as a failure; on a
# failure the last LINES lines of each LOG (relative to STACK_RT) and the
# runtime dir kept, else the dir removed; the closing "SUITE: N passed, N
# failed"; exit 1 on a failure, else RC.
stack_tap_finish() {
  local suite=$1 rc=$2 lines=$3
  shift 3
  trap - EXIT INT TERM
  trap '' PIPE
  [[ -n $STACK_RT ]] && stack_cleanup
  ((rc == 0 || TAP_FAIL > 0)) || not_ok "test script aborted (exit $rc)"
  if ((TAP_FAIL > 0)); then
    [[ -n $STACK_RT ]] && stack_dump_logs "$lines" "$@"
    [[ -n $STACK_RT ]] && echo "# runtime dir kept: $STACK_RT"
  elif [[ -n $STACK_RT ]]; then
    rm -rf "$STACK_RT"
  fi
  echo "$suite: $TAP_PASS passed, $TAP_FAIL failed"
  ((TAP_FAIL == 0)) || exit 1
  exit "$rc"
}

# Stop everything that is still running, front to back.
stack_cleanup() {
  local svc
  stack_stop nginx
  stack_stop lighttpd
  stack_stop pool
  stack_stop_app
  stack_stop mockpass
  stack_stop redis
  # Anything else a caller started with stack_bg.
  for svc in "${!STACK_PID[@]}"; do stack_stop "$svc"; done
}
