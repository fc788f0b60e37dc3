#!/usr/bin/env bash
# (l) Metrics (issue 13): a pool with --metrics-listen. Real logins through
# MockPass and some failures move the counters they should, by exactly what
# was done; promtool accepts the scrape; a worker killed with -9 and a
# SIGHUP reload keep every counter (a dead worker's counts are folded into
# the retired block) and count a respawn and a reload; sgid-fcgi --status
# prints the workers; silent and oversized clients on the metrics port
# neither stall the supervisor (respawns go on) nor other scrapes; a real
# Prometheus scrapes the pool every 1 s and answers a query for a counter.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin metrics

N=2
MPORT=${FAULTS_METRICS_PORT:-25464}
PROM_PORT=${FAULTS_PROMETHEUS_PORT:-25490}
MADDR=127.0.0.1:$MPORT
for tool in promtool prometheus; do
  setup "$tool is installed (make deps: package prometheus)" command -v "$tool" >/dev/null
done
setup "port $MPORT free" stack_ports_free "$MPORT" "$PROM_PORT"
f_stack mockpass "$N" -- --threads 8 --metrics-listen "$MADDR"
T=$STACK_RT
BIN=$ROOT/build/sgid-fcgi

scrape() { curl -fsS --max-time 5 "http://$MADDR/metrics" >"$1"; }
# m FILE SERIES: the value of one series (exact name and labels), 0 when absent.
m() { awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }' "$1"; }
# sum FILE NAME: every series of a metric added up.
msum() { awk -v n="$1" 'index($1, n "{") == 1 || $1 == n { v += $2 } END { print v + 0 }' "$2"; }
# delta NAME SERIES: its change from before.m to after.m.
delta() { echo $(($(m "$T/after.m" "$1") - $(m "$T/before.m" "$1"))); }
check_delta() { local got; got=$(delta "$1"); check "$1 moved by $2 (got $got)" test "$got" -eq "$2"; }

setup "first scrape" scrape "$T/before.m"
check "build_info carries the version" grep -qx "sgid_fcgi_build_info{version=\"$(cat "$ROOT/VERSION")\"} 1" "$T/before.m"
check "workers_alive is $N" test "$(m "$T/before.m" sgid_fcgi_workers_alive)" -eq "$N"

# ---- traffic: 4 logins, 3 failed callbacks, a 404 --------------------------
LOGINS=4
f_load logins --api "$API" --count "$LOGINS" --concurrency 2 --prefix mt --userinfo \
  --out "$T/sessions.tsv" >/dev/null
setup "$LOGINS sessions" test "$(wc -l <"$T/sessions.tsv")" -eq "$LOGINS"
# a callback without any attempt cookie: attempt expired
f_status "$API/api/redirect?code=abc&state=def" >/dev/null
# an attempt whose state does not match, twice
jar=$T/jar
curl -s -c "$jar" -o /dev/null --max-time 5 "$API/api/auth-url"
for _ in 1 2; do f_status "$API/api/redirect?code=abc&state=not-the-state" -b "$jar" >/dev/null; done
f_status "$API/api/nowhere" >/dev/null
setup "second scrape" scrape "$T/after.m"

check_delta 'sgid_fcgi_logins_total{outcome="ok"}' "$LOGINS"
check_delta 'sgid_fcgi_logins_total{outcome="attempt_expired"}' 1
check_delta 'sgid_fcgi_logins_total{outcome="state_mismatch"}' 2
check_delta 'sgid_fcgi_requests_total{route="redirect",status="302"}' $((LOGINS + 3))
check_delta 'sgid_fcgi_requests_total{route="none",status="404"}' 1
check_delta 'sgid_fcgi_request_duration_seconds_count{route="redirect"}' $((LOGINS + 3))
check_delta 'sgid_fcgi_sgid_call_duration_seconds_count{call="token"}' "$LOGINS"
check_delta 'sgid_fcgi_sgid_call_duration_seconds_count{call="userinfo"}' "$LOGINS"
check_delta 'sgid_fcgi_sgid_call_errors_total{call="token"}' 0
check "the request histogram's +Inf bucket equals its count" test \
  "$(m "$T/after.m" 'sgid_fcgi_request_duration_seconds_bucket{route="redirect",le="+Inf"}')" -eq \
  "$(m "$T/after.m" 'sgid_fcgi_request_duration_seconds_count{route="redirect"}')"
check "no request in flight once the traffic is done" test "$(m "$T/after.m" sgid_fcgi_requests_in_flight)" -eq 0
if promtool check metrics <"$T/after.m" >"$T/promtool.out" 2>&1; then
  ok "promtool check metrics accepts the scrape"
else
  not_ok "promtool check metrics accepts the scrape" "$(head -c 600 "$T/promtool.out")"
fi

# ---- kill -9 and reload: the counters stay -----------------------------------
requests_before=$(msum sgid_fcgi_requests_total "$T/after.m")
victim=$(f_pool_workers pool | sed -n 1p)
kill -KILL "$victim"
replaced() { f_pool_has pool "$N" && ! f_pool_workers pool | grep -qx "$victim"; }
f_wait 10 "a replacement worker" replaced || true
scrape "$T/killed.m" || true
check "a killed worker's requests are kept: $requests_before before, $(msum sgid_fcgi_requests_total "$T/killed.m") after" \
  test "$(msum sgid_fcgi_requests_total "$T/killed.m")" -eq "$requests_before"
check "the kill is counted as a respawn" test "$(m "$T/killed.m" sgid_fcgi_worker_respawns_total)" -eq 1
check "logins ok kept across the kill" test \
  "$(m "$T/killed.m" 'sgid_fcgi_logins_total{outcome="ok"}')" -eq "$(m "$T/after.m" 'sgid_fcgi_logins_total{outcome="ok"}')"
kill -HUP "${STACK_PID[pool]}"
reloaded() { scrape "$T/reload.m" && (($(m "$T/reload.m" sgid_fcgi_reloads_total) == 1)) && f_pool_has pool "$N"; }
f_wait 15 "the reload" reloaded || true
check "a reload is counted, workers_alive $N again" reloaded
check "requests kept across the reload" test "$(msum sgid_fcgi_requests_total "$T/reload.m")" -eq "$requests_before"

# ---- sgid-fcgi --status ------------------------------------------------------
"$BIN" --status --metrics-listen "$MADDR" >"$T/status.out" 2>&1 || true
want=$(f_pool_workers pool | sort | tr '\n' ' ')
got=$(awk '$NF == "active" { print $1 }' "$T/status.out" | sort | tr '\n' ' ')
check "--status lists the $N workers ($got)" test "$got" == "$want"
check "--status shows requests served and sgID calls in flight" \
  grep -q "^requests served: *$requests_before " "$T/status.out"
grep -q "sgID calls in flight" "$T/status.out" || not_ok "--status: no sgID line"
rc=0
"$BIN" --status --metrics-listen 127.0.0.1:1 >"$T/status-none.out" 2>&1 || rc=$?
check "--status with nothing listening: exit $rc and a clear message" \
  eval '((rc != 0)) && grep -q "no pool answers at 127.0.0.1:1" "$T/status-none.out"'

# ---- hostile clients on the metrics port --------------------------------------
# 10 connections that send nothing, one that sends a 100 KiB head: scrapes
# still answer, and a killed worker is still replaced.
silent=()
for _ in $(seq 10); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$MPORT"
  silent+=("$fd")
done
curl -s -o "$T/huge.out" -w '%{http_code}' --max-time 10 \
  -H "X-Big: $(head -c 60000 /dev/zero | tr '\0' 'b')" "http://$MADDR/metrics" >"$T/huge.code" || true
# 431, or a reset when the close overtakes the answer: never a wait
check "a 60 KiB request head is refused (431 or reset): $(cat "$T/huge.code")" grep -qxE '431|000' "$T/huge.code"
t0=$(f_now_ms)
scrape "$T/busy.m" || true
t1=$(f_now_ms)
check "a scrape beside 10 silent connections answers in $((t1 - t0)) ms" \
  eval '(($(m "$T/busy.m" sgid_fcgi_workers_alive) == N && t1 - t0 < 2000))'
victim=$(f_pool_workers pool | sed -n 1p)
kill -KILL "$victim"
f_wait 10 "a replacement worker" replaced || true
check "a worker killed meanwhile is replaced" replaced
# past the connection limit (16): an immediate 503, never a wait
for _ in $(seq 20); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$MPORT"
  silent+=("$fd")
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$MADDR/metrics" || true)
check "with 20 more silent connections held, a scrape gets 503 at once ($code)" test "$code" == 503
for fd in "${silent[@]}"; do exec {fd}>&-; done
f_sleep_ms 5500
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$MADDR/metrics" || true)
check "after their 5 s deadline, scrapes answer 200 ($code)" test "$code" == 200
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X POST "http://$MADDR/metrics" || true)
check "POST /metrics is 405 ($code)" test "$code" == 405
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$MADDR/api/health" || true)
check "only /metrics and /status are served there: /api/health is 404 ($code)" test "$code" == 404
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$API/metrics" || true)
check "the public API does not serve /metrics ($code)" test "$code" == 404

# ---- a real Prometheus ---------------------------------------------------------
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sgid-fcgi
    static_configs:
      - targets: ['$MADDR']
EOF
stack_bg prometheus "$T/prometheus.log" prometheus --config.file="$T/prom/prometheus.yml" \
  --storage.tsdb.path="$T/prom/data" --web.listen-address="127.0.0.1:$PROM_PORT"
want=$(m "$T/reload.m" 'sgid_fcgi_logins_total{outcome="ok"}')
prom_has() {
  curl -fsS --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
    --data-urlencode 'query=sum(sgid_fcgi_logins_total{outcome="ok"})' >"$T/prom.json" 2>/dev/null &&
    [[ $(jq -r '.data.result[0].value[1] // empty' "$T/prom.json") == "$want" ]]
}
f_wait 40 "Prometheus to scrape the pool" prom_has || true
check "Prometheus scraped the pool: sum(sgid_fcgi_logins_total{outcome=\"ok\"}) = $want ($(jq -c '.data.result[0].value // .error // empty' "$T/prom.json" 2>/dev/null))" prom_has
stack_stop prometheus
