#!/usr/bin/env bash
# `make browser` (part of `make check`): start the demo stack the way
# `make run` does (private Redis, MockPass with its persona page, the
# supervised pool `sgid-fcgi --listen`, nginx with nginx.conf.example), run
# the browser test (run.sh, e2e.js) against it, stop everything.
#
# Uses ports 5001, 5173 and 5156 like `make run` and `make integration`: one
# at a time. Output: run.sh's "ok - STEP" / "not ok - STEP" lines, then, last,
# "browser: N passed, N failed"; exit status 0 only if all passed. A stack
# that does not start counts as one failure. Screenshots go to
# tests/artifacts/browser/. On failure the stack's logs are printed and its
# runtime dir is kept.
#
# Environment: as run.sh (STEP_TIMEOUT_MS, TOTAL_TIMEOUT_MS, CHROMIUM, ...),
# plus WORKERS (default 4).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$root/deploy/stack-lib.sh"

SUMMARY_RE='^browser: [0-9]+ passed, [0-9]+ failed'
summary=""       # run.sh's last line, printed after the cleanup
relay=""         # pid of the output relay
out=""           # run.sh's output


finish() {
  local rc=$?
  trap - EXIT INT TERM HUP
  trap '' PIPE
  [[ -n $STACK_RT ]] && stack_cleanup
  if [[ -n $relay ]]; then
    # It ends by itself once run.sh is gone, after relaying its last lines.
    local i
    for i in {1..20}; do
      kill -0 "$relay" 2>/dev/null || break
      sleep 0.1
    done
    ((i < 20)) || kill "$relay" 2>/dev/null || true
    wait "$relay" 2>/dev/null || true
  fi
  if [[ -z $summary ]]; then
    # Interrupted, or run.sh died: count what it reported, plus this.
    local passed=0 failed=0
    if [[ -n ${out:-} && -f $out ]]; then
      passed=$(grep -E '^ok - ' "$out" | grep -cv ' # SKIP ' || true)
      failed=$(grep -c '^not ok - ' "$out" || true)
    fi
    echo "not ok - browser test ended without a summary (exit $rc)"
    summary="browser: $passed passed, $((failed + 1)) failed"
    ((rc != 0)) || rc=1
  fi
  if ((rc != 0)) && [[ -n $STACK_RT ]]; then
    stack_dump_logs 60 app.log nginx.log nginx/logs/error.log nginx/logs/access.log mockpass.log redis.log
    echo "# runtime dir kept: $STACK_RT"
  elif [[ -n $STACK_RT ]]; then
    rm -rf "$STACK_RT"
  fi
  echo "$summary"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A stack that does not come up: one failed step, and stop.
setup() {
  local what=$1
  shift
  "$@" && return 0
  echo "not ok - setup: $what"
  summary="browser: 0 passed, 1 failed"
  exit 1
}

setup "ports $API_PORT, $SPA_PORT, $MOCKPASS_PORT are free" \
  stack_ports_free "$API_PORT" "$SPA_PORT" "$MOCKPASS_PORT"
stack_init sgid-fcgi-browser

# Only our configuration: nothing from the caller's environment.
unset "${!SGID_@}" REDIS_URL SESSION_COOKIE_NAME COOKIE_SAMESITE COOKIE_SECURE \
  LOGIN_TTL_SECONDS SESSION_TTL_SECONDS SESSION_SECRET
export REDIS_URL="unix://$STACK_RT/redis.sock"
export SGID_PRIVATE_KEY_FILE=$root/tests/fixtures/client-test-key.pem
export LOG_LEVEL=info
STACK_APP_ARGS=(--env-file "$root/tests/fixtures/mockpass.env")

setup "start redis-server" stack_start_redis
setup "start MockPass (persona page on)" stack_start_mockpass true
setup "start the pool (sgid-fcgi --listen)" stack_start_pool "${WORKERS:-4}" "$STACK_RT"
setup "start nginx" stack_start_nginx
setup "API answers /api/health with 200 through nginx" \
  stack_wait_until 15 "sgid-fcgi behind nginx" - stack_api_up

# run.sh in its own process group (stack_stop ends it on an interrupt), its
# output relayed as it comes except the summary, which is printed last.
# Chromium's profile and Playwright's temp files go to the runtime dir, so an
# interrupted run leaves nothing in /tmp.
out=$STACK_RT/browser.out
: >"$out"
mkdir -p "$STACK_RT/tmp"
stack_bg browser "$out" env TMPDIR="$STACK_RT/tmp" "$here/run.sh"
browser=${STACK_PID[browser]}
tail -n +1 -s 0.2 -f --pid="$browser" "$out" | grep --line-buffered -Ev "$SUMMARY_RE" &
relay=$!
# `wait` returns early on a trapped signal, so an interrupt is handled at once.
rc=0
wait "$browser" || rc=$?
unset "STACK_PID[browser]"
wait "$relay" || true
relay=""
summary=$(grep -E "$SUMMARY_RE" "$out" | tail -n1 || true)
((rc == 0)) || exit "$rc"
