#!/usr/bin/env bash
# Fault tests (issue 5): every test of tests/faults/, each against its own
# private stack on loopback (ports 25001-25002, 25156-25157, 25173-25174,
# 26377-26391, 26400-26405 and their cluster bus ports) in a network
# namespace of its own, so several run at once (FAULTS_JOBS, below).
#
#   tests/faults/run.sh [NAME...]     all tests, or only the ones named
#
#   slow-sgid      (a) a 5 s sgID: auth-url and health stay fast (p50/p99)
#   kill-worker    (b) kill -9 of workers mid-request under load
#   redis-restart  (c) Redis restarted / crashed under load, AOF persistence
#   redis-full-ro  (d) Redis full (maxmemory) and read-only (replica)
#   sgid-faults    (e) sgID 500s, resets, stalls, garbage: /error and 502
#   signals        (f) SIGHUP and SIGTERM under load, --stop-timeout
#   scaleout       (g) two hosts on one Redis; one dies mid-traffic
#   sentinel       (h) Sentinel failover under load; AUTH, ACL user, db
#   cluster        (o) Redis Cluster: spread, resharding and a primary killed
#                      under load, a host restarted with a shard lost
#   soak           (i) mixed traffic with worker RSS sampled
#   anon-flood     (j) 100 000 anonymous auth-url calls write nothing to Redis;
#                      auth-url with Redis down
#   forged-ids     (r) 100 000 forged session cookies (wrk): all 401, not one
#                      Redis command, not one audit line
#   concurrency    (k) request threads: 200 logins held in sgID at once, fast
#                      probes meanwhile, PSS; the bulkhead; hung sgID; kill -9
#   rotation       (l) session secret, client key and client secret rotated
#                      with one SIGHUP under load: 0 failed, no one logged out
#   parse-data     (m) SGID_PARSE_DATA=1: stringified JSON from the IdP as JSON,
#                      hostile values kept strings
#   audit          (n) the audit log: each event once, no secrets, mv + SIGHUP
#   revoke         (p) revoke / sessions --sub: 3 sessions of one user ended,
#                      another user's kept; SESSION_MAX_PER_USER eviction
#   redis-tls      (r) redis-restart (and sentinel, cluster when not quick)
#                      again with Redis over TLS only (FAULTS_REDIS_TLS=1)
#   metrics        (q) --metrics-listen: counters against real traffic, kept
#                      across kill -9 and reload; promtool; --status; hostile
#                      clients on the metrics port; a real Prometheus
#
# FAULTS_QUICK=1: shorter loads and fewer cases, soak of 20 s (for make check).
# Otherwise the soak runs SOAK_SECONDS (default 60 here; `make soak` runs
# tests/faults/soak.sh alone, 180 s by default). FAULTS_KEEP=1 keeps every
# runtime dir (kept anyway for a failing test). FAULTS_REDIS_TLS=1 runs any
# test with every Redis on TLS (tests/faults/lib.sh; redis-tls does it for three,
# one when quick).
# Prints every test's "ok - ..." / "not ok - ..." lines prefixed with its name
# and ends with "faults: N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The longest first (side by side), then the ones that run alone (below).
all=(cluster anon-flood soak sentinel redis-tls metrics forged-ids sgid-faults redis-full-ro redis-restart scaleout rotation
  kill-worker revoke parse-data audit signals slow-sgid concurrency)
if (($#)); then tests=("$@"); else tests=("${all[@]}"); fi

quick=${FAULTS_QUICK:-0}
if [[ $quick == 1 ]]; then
  export SOAK_SECONDS=20
  limit=300
else
  export SOAK_SECONDS=${SOAK_SECONDS:-60}
  limit=900
fi
export FAULTS_QUICK=$quick

# Side by side: FAULTS_JOBS tests at a time (3; 1 where this user cannot
# make network namespaces, as the tests share their ports), each in a
# network namespace of its own (tests/in-netns.sh). The FAULTS_ALONE ones
# (sentinel signals slow-sgid concurrency: they time the app's answers, send
# a signal while a request is on its way, or count on Sentinel's 1 s
# down-after to fail over on time) run last, in their order, with no other fault test
# beside them, and under `make check` with no other suite beside them either
# (they take tests/run-check.sh's CHECK_QUIET_LOCK exclusive). A test's
# output is printed whole when it ends.
netns=$here/../in-netns.sh
jobs=${FAULTS_JOBS:-3}
if [[ ${SGID_NO_NETNS:-} == 1 ]] || ! unshare -n true 2>/dev/null; then jobs=1; fi
alone=" ${FAULTS_ALONE:-sentinel signals slow-sgid concurrency} "

passed=0
failed=0
declare -A pid_of=() t0_of=()
interrupted() {
  local t
  trap - INT TERM
  for t in "${!pid_of[@]}"; do kill -TERM "${pid_of[$t]}" 2>/dev/null; done
  wait
  echo "not ok - interrupted (running: ${!pid_of[*]})"
  echo "faults: $passed passed, $((failed + 1)) failed"
  exit 130
}
trap interrupted INT TERM

logs=$(mktemp -d "${TMPDIR:-/tmp}/sgid-faults-run.XXXXXX")
trap 'rm -rf "$logs"' EXIT
start=$SECONDS

# start T [flock -x LOCK]: the test in its own namespace, bounded by
# timeout (TERM at the limit, the test's trap cleans up; KILL 30 s later).
start_test() {
  local t=$1 secs=$limit
  shift
  [[ $t != soak ]] || secs=$((SOAK_SECONDS + 300))
  echo "# ==== $t (started at +$((SECONDS - start)) s) ===="
  "$@" timeout -k 30 "$secs" "$netns" "$here/$t.sh" >"$logs/$t.log" 2>&1 &
  pid_of[$t]=$!
  t0_of[$t]=$SECONDS
  echo "$secs" >"$logs/$t.limit"
}

# reap: wait for any running test to end, print its output, count it.
reap() {
  local t done_pid rc p f secs
  wait -n -p done_pid
  rc=$?
  for t in "${!pid_of[@]}"; do [[ ${pid_of[$t]} != "$done_pid" ]] || break; done
  [[ ${pid_of[$t]:-} == "$done_pid" ]] || return 0
  unset "pid_of[$t]"
  secs=$(<"$logs/$t.limit")
  echo "# ==== $t ===="
  sed -E "s/^(not )?ok - /&$t: /" "$logs/$t.log"
  p=$(grep -c '^ok - ' "$logs/$t.log")
  f=$(grep -c '^not ok - ' "$logs/$t.log")
  if ((rc == 124 || rc == 137)); then
    echo "not ok - $t: timed out after $secs s"
    f=$((f + 1))
  elif ((rc != 0 && f == 0)); then
    echo "not ok - $t: exited $rc without a failed test point"
    f=$((f + 1))
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  echo "# $t: $p passed, $f failed in $((SECONDS - t0_of[$t])) s"
}

# the others first, in order, then the ones that run alone
ordered=()
for t in "${tests[@]}"; do [[ $alone == *" $t "* ]] || ordered+=("$t"); done
for t in "${tests[@]}"; do [[ $alone != *" $t "* ]] || ordered+=("$t"); done
for t in "${ordered[@]}"; do
  if [[ ! -x $here/$t.sh ]]; then
    echo "not ok - $t: no such test"
    failed=$((failed + 1))
    continue
  fi
  if [[ $alone == *" $t "* ]]; then
    while ((${#pid_of[@]})); do reap; done
    if [[ -n ${CHECK_QUIET_LOCK:-} ]]; then
      echo "# $t: waits for the other suites of make check to end (+$((SECONDS - start)) s)"
      # bounded: a suite that never lets go fails this test instead of hanging check
      start_test "$t" flock -o -w 1200 -x "$CHECK_QUIET_LOCK"
    else
      start_test "$t"
    fi
    reap
  else
    while ((${#pid_of[@]} >= jobs)); do reap; done
    start_test "$t"
  fi
done
while ((${#pid_of[@]})); do reap; done
echo "# all fault tests: $((SECONDS - start)) s"
echo "faults: $passed passed, $failed failed"
((failed == 0))
