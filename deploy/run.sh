#!/usr/bin/env bash
# `make run`: the whole demo stack on localhost, in the foreground, until
# Ctrl-C or SIGTERM. Everything lives in a private runtime dir under /tmp:
#
#   redis-server   private, unix socket only, no persistence
#   MockPass       http://localhost:5156 with the persona picker, unless the
#                  repo's .env has SGID_CLIENT_ID (then the real sgID is used
#                  with that .env, and no MockPass runs)
#   or, with PROVIDER=singpass (`make run PROVIDER=singpass`), the Singpass
#                  stand-in (tests/singpass-op) on http://localhost:5158/fapi
#                  instead, and sgid-fcgi with LOGIN_PROVIDER=singpass
#                  (tests/fixtures/singpass.env, TEST keys)
#   sgid-fcgi      the supervised pool, as in production:
#                  sgid-fcgi --listen unix:RUNTIME/app.sock --workers $WORKERS
#   nginx          nginx.conf.example: API http://localhost:5001,
#                  demo SPA http://localhost:5173
#
# Uses ports 5001, 5173 and 5156 (5158 for Singpass), like `make check`: the
# two cannot run at once.
# Environment: WORKERS (default 4), LOG_LEVEL (default info), PROVIDER
# (sgid, the default, or singpass).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$here/stack-lib.sh"
root=$STACK_ROOT
workers=${WORKERS:-4}

mode=mockpass
case ${PROVIDER:-sgid} in
  sgid) ;;
  singpass) mode=singpass ;;
  *) stack_say "error: PROVIDER=${PROVIDER} (sgid or singpass)"; exit 2 ;;
esac
if [[ $mode == mockpass && -f $root/.env ]] && grep -Eq '^[[:space:]]*(export[[:space:]]+)?SGID_CLIENT_ID[[:space:]]*=[[:space:]]*[^[:space:]]' "$root/.env"; then
  mode=sgid
fi

ports=("$API_PORT" "$SPA_PORT")
[[ $mode == mockpass ]] && ports+=("$MOCKPASS_PORT")
[[ $mode == singpass ]] && ports+=("$STACK_SINGPASS_PORT")
stack_ports_free "${ports[@]}" || exit 1
[[ -x $root/build/sgid-fcgi ]] || { stack_say "error: build/sgid-fcgi is missing: run make"; exit 1; }

stack_init sgid-fcgi-run
sleeper=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  # Keep going if whatever reads our output is gone already.
  trap '' PIPE
  [[ -n $sleeper ]] && kill "$sleeper" 2>/dev/null
  stack_say ""
  stack_say "stopping..."
  stack_cleanup
  # Keep the logs; drop what is useless once stopped.
  rm -rf "$STACK_RT/redis.sock" "$STACK_RT/app.sock" "$STACK_RT/nginx/"*_temp
  stack_say "stopped. Logs kept in $STACK_RT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

stack_say "runtime dir: $STACK_RT"
stack_start_redis

export REDIS_URL="unix://$STACK_RT/redis.sock"
export LOG_LEVEL=${LOG_LEVEL:-info}
if [[ $mode == mockpass ]]; then
  stack_start_mockpass true
  # The fixture env uses repo-relative paths; the process environment wins.
  export SGID_PRIVATE_KEY_FILE=$root/tests/fixtures/client-test-key.pem
  STACK_APP_ARGS=(--env-file "$root/tests/fixtures/mockpass.env")
  app_cwd=$STACK_RT
elif [[ $mode == singpass ]]; then
  # It fetches the app's JWKS (GET /api/jwks) at the first login, not now.
  # shellcheck disable=SC2119 # no modes: the stand-in as Singpass behaves
  stack_start_singpass_op
  export SINGPASS_SIGNING_KEY_FILE=$root/tests/vectors/singpass/op/rp-signing-key.pem
  export SINGPASS_ENCRYPTION_KEY_FILE=$root/tests/vectors/singpass/op/rp-encryption-key.pem
  STACK_APP_ARGS=(--env-file "$root/tests/fixtures/singpass.env")
  app_cwd=$STACK_RT
else
  # Real sgID: the app reads the repo's .env (relative paths in it are
  # relative to the repo root). Sessions still go to the private Redis.
  STACK_APP_ARGS=(--env-file "$root/.env")
  app_cwd=$root
fi
stack_start_pool "$workers" "$app_cwd"
stack_start_nginx
stack_wait_until 15 "sgid-fcgi behind nginx (log: $STACK_RT/app.log)" - stack_api_up

cat >&2 <<EOF

  sgid-fcgi demo is up.  Open  http://localhost:$SPA_PORT

  API        http://localhost:$API_PORT/api/  (sgid-fcgi --listen, $workers workers, LOG_LEVEL=$LOG_LEVEL)
  identity   $(case $mode in
    mockpass) echo "MockPass http://localhost:$MOCKPASS_PORT (pick any persona)" ;;
    singpass) echo "Singpass stand-in http://localhost:$STACK_SINGPASS_PORT/fapi (logs LIM YONG XIANG in, no login page)" ;;
    *) echo "sgID, configured by $root/.env" ;;
  esac)
  logs       $STACK_RT/app.log  (sgid-fcgi)
             $STACK_RT/nginx/logs/access.log, error.log
             $STACK_RT/$([[ $mode == singpass ]] && echo singpass-op.log || echo mockpass.log), redis.log

  Ctrl-C stops everything.
EOF

# Foreground until a signal, or until a service dies (the pool's supervisor
# restarts workers itself). `sleep & wait` rather than a bare sleep so a
# signal runs the trap at once.
while :; do
  for svc in "${!STACK_PID[@]}"; do
    if ! stack_alive "${STACK_PID[$svc]}"; then
      stack_say "error: $svc exited; see $STACK_RT"
      exit 1
    fi
  done
  sleep 1 &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=""
done
