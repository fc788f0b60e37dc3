#!/usr/bin/env bash
# (k) Concurrency of the threaded workers (issue 11): `--workers 4` with the
# default 64 request threads each, against the hostile IdP, which counts the
# token/userinfo requests it has in flight at the same moment (its high-water
# mark, /__control/inflight).
#
#   1. token endpoint held 5 s, 200 logins at once: >= 150 token calls in
#      flight at the IdP; health, auth-url and a cached userinfo answer 200
#      within 300 ms meanwhile (30 probes each); the logins end on /logged-in
#      and the new sessions work. The default bulkhead is 4/5 of workers x
#      threads = 204: all 200 fit (logins past it would end on /error within
#      the bulkhead's wait, SGID_INFLIGHT_WAIT_MS 250, plus 1 s).
#   5. memory at that moment: summed PSS of the supervisor and workers < 96 MiB.
#   4. kill -9 of a worker with 100 logins in flight over all workers: only
#      that worker's fail (nginx 502 or /error), the worker is replaced, the
#      sessions made before still work, then full concurrency again (the dead
#      worker's bulkhead places released).
#   2. sgID hung past SGID_HTTP_TIMEOUT_MS=4000: every login ends on /error at
#      about the timeout; no place leaks: 200 logins at once again reach >= 150
#      in flight and log in.
#   3. SGID_MAX_INFLIGHT=20: 60 logins at once on a slow token endpoint: at
#      most 20 in flight at the IdP, 40 on /error within the wait + 1 s,
#      "over capacity" logged, the probes unaffected; 60 first userinfo calls
#      on a slow userinfo endpoint: 20 answered 200, 40 get 503 text with
#      Retry-After: 1, quickly; later they all get their profile.
#
# Each request in flight holds two nginx connections; the test sets
# worker_connections explicitly (FAULTS_CONC_NGINX_CONNS, 4096 as the
# example ships) so a smaller example would not hide here.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin concurrency

N=4
THREADS=64                       # sgid-fcgi's default, not passed
CAP=$((N * THREADS * 4 / 5))     # the default SGID_MAX_INFLIGHT
WAIT_MS=250                      # the default SGID_INFLIGHT_WAIT_MS
COUNT=${FAULTS_CONC_LOGINS:-200}
WANT_INFLIGHT=150
PROBE_MS=300
PSS_LIMIT_KB=$((96 * 1024))
HOLD_MS=5000
NGINX_CONNS=${FAULTS_CONC_NGINX_CONNS:-4096}
T=$STACK_RT
ok_of() { echo $(($1 < CAP ? $1 : CAP)); }

f_stack idp "$N" SGID_HTTP_TIMEOUT_MS=10000

# ---- nginx with room for the load ---------------------------------------------
nginx_wide() {
  local dir=$T/nginx
  stack_stop nginx
  sed -i -E "s/^([[:space:]]*worker_connections)[[:space:]]+[0-9]+;/\\1 $NGINX_CONNS;/" "$dir/nginx.conf"
  grep -qE "^[[:space:]]*worker_connections $NGINX_CONNS;" "$dir/nginx.conf" || return 1
  rm -f "$dir/nginx.pid"
  stack_bg nginx "$T/nginx.log" nginx -p "$dir/" -c "$dir/nginx.conf"
  stack_wait_until 10 "nginx" "${STACK_PID[nginx]}" test -s "$dir/nginx.pid" || return 1
  stack_wait_until 15 "API through nginx" "${STACK_PID[nginx]}" \
    curl -fsS --max-time 2 -o /dev/null "$API/api/health"
}
setup "nginx restarted with worker_connections $NGINX_CONNS" nginx_wide
note "nginx: worker_connections raised from nginx.conf.example's $(grep -oE 'worker_connections [0-9]+' "$ROOT/nginx.conf.example") to $NGINX_CONNS"

# ---- helpers --------------------------------------------------------------------
inflight() { curl -fsS --max-time 5 "$IDP/__control/inflight"; }
inflight_reset() { curl -fsS --max-time 5 -o /dev/null -X POST "$IDP/__control/inflight/reset"; }
idp_now() { inflight | jq -r ".$1.now"; }
idp_max() { inflight | jq -r ".$1.max"; }
idp_at_least() { (($(idp_now "$1") >= $2)); }
idp_at_most() { (($(idp_now "$1") <= $2)); }

# restart_pool VAR=VALUE...: the pool again with another environment.
restart_pool() {
  stack_stop pool
  f_app_env "$T/app.env" idp "$@"
  f_pool_start pool "$T/app.env" "$N"
}

# warm: a few happy logins, so the workers have the JWKS.
warm() {
  f_idp_scenario '{}'
  f_load logins --api "$API" --count 8 --concurrency 8 --prefix "warm$1" --userinfo >/dev/null
}

# burst LABEL COUNT [finish options]: COUNT logins prepared (auth-url and the
# IdP's authorize), then every callback at once, in the background ($BURST).
burst_prepare() {
  f_load prepare --api "$API" --count "$2" --concurrency 64 --prefix "$1" --out "$T/$1.tsv" >/dev/null
}
burst_go() {
  local label=$1
  shift
  f_load finish --in "$T/$label.tsv" --api "$API" --frontend "$FRONTEND" --timeout 30000 \
    --out "$T/$label-sessions.tsv" --json "$T/$label.json" "$@" >/dev/null &
  BURST=$!
}
outcome() { jqv "$T/$1.json" ".outcomes[\"$2\"] // 0"; }
out_ms() { jq -c ".ms_by_outcome[\"$2\"] // [] | {n: length, min: .[0], p50: .[(length / 2 | floor)], max: .[-1]}" "$T/$1.json"; }
# n_ms LABEL OUTCOME FILTER: how many durations of OUTCOME pass a jq filter
n_ms() { jq "[.ms_by_outcome[\"$2\"] // [] | .[] | select($3)] | length" "$T/$1.json"; }

# probes_ready LABEL: 30 of each of health, auth-url, a cached userinfo, one
# at a time per endpoint, 50 ms apart, the three side by side, started ahead
# and waiting for T/LABEL.go; probes_go LABEL sends them and waits.
probes_ready() {
  local ep
  PROBES=()
  rm -f "$T/$1.go"
  for ep in health auth-url userinfo; do
    f_load run --base "$API" --mix "$ep=1" --sessions "$T/cached.tsv" --concurrency 1 --max 30 \
      --pace 50 --seconds 30 --timeout 5000 --start-file "$T/$1.go" --json "$T/$1-$ep.json" >/dev/null &
    PROBES+=($!)
  done
}
probes_go() {
  touch "$T/$1.go"
  wait "${PROBES[@]}" || true
}

# app_ms LINE0 TEXT: "n min max" of the app's own durations (its access
# line's ms=) of the requests whose log has TEXT, after line LINE0 of the
# pool's log: what the app did, without the client's and nginx's scheduling
# (the machine may be busy with other suites).
log_lines() { wc -l <"$T/pool.log"; }
app_ms() {
  tail -n +$(($1 + 1)) "$T/pool.log" | awk -v pat="$2" '
    { id = ""; for (i = 1; i <= NF; i++) if ($i ~ /^req=/) id = $i }
    index($0, pat) { hit[id] = 1 }
    $NF ~ /^ms=[0-9]+$/ && (id in hit) {
      v = substr($NF, 4) + 0; n++
      if (n == 1 || v < min) min = v
      if (v > max) max = v
    }
    END { printf "%d %d %d\n", n, min, max }'
}
# within N MIN MAX "n lo hi": exactly N durations, all in [MIN, MAX]
within() {
  local n lo hi
  read -r n lo hi <<<"$4"
  ((n == $1)) && { ((n == 0)) || ((lo >= $2 && hi <= $3)); }
}
CLIENT_SLACK_MS=3000   # what a client may see on top, on a loaded machine
probe_lat() { jq -r '"p50 \(.lat.p50) ms, p99 \(.lat.p99) ms, max \(.lat.max) ms"' "$T/$1.json"; }
probe_ok() {
  [[ $(jqv "$T/$1.json" '.by_status["200"] // 0') == 30 && $(jqv "$T/$1.json" .total) == 30 &&
    $(jqv "$T/$1.json" .unexpected) == 0 ]] && (($(jqv "$T/$1.json" .lat.max) < PROBE_MS))
}
check_probes() {
  local ep
  for ep in health auth-url userinfo; do
    note "$2: $ep probes: $(jq -c '{total, by_status, lat}' "$T/$1-$ep.json")"
    check "$2: $ep: 30/30 answered 200 within $PROBE_MS ms ($(probe_lat "$1-$ep"))" probe_ok "$1-$ep"
  done
}

# The sessions the probes read (their profile cached), and the ones that
# must survive the kill.
f_idp_scenario '{}'
f_load logins --api "$API" --count 4 --concurrency 4 --prefix cached --userinfo --out "$T/cached.tsv" >/dev/null
setup "4 cached sessions" test "$(wc -l <"$T/cached.tsv")" -eq 4
warm 1

# ==== 1 + 5: 200 logins held 5 s at the token endpoint ============================
burst_prepare c1 "$COUNT"
f_idp_scenario "{\"token\":{\"delay_ms\":$HOLD_MS}}"
inflight_reset
log_over0=$(f_log_count pool 'redirect: login failed: over capacity')
line0=$(log_lines)
probes_ready c1
t0=$(f_now_ms)
burst_go c1
f_wait 4 "$WANT_INFLIGHT token calls in flight at the IdP" idp_at_least token "$WANT_INFLIGHT" || true
t_reach=$(f_now_ms)
sleep 0.3   # the rest of the burst lands (or is turned away)
now1=$(idp_now token)
pss1=$(f_pool_pss_kb pool)
busy1=$(f_pool_busy pool | wc -l)
probes_go c1
now1b=$(idp_now token)
t_probes=$(f_now_ms)
wait "$BURST" || true
hw1=$(idp_max token)
note "case 1: $COUNT logins at once, token held $HOLD_MS ms: $WANT_INFLIGHT in flight after $((t_reach - t0)) ms; in flight at the IdP when the probes began/ended: $now1/$now1b (probes done $((t_probes - t0)) ms after the burst); high-water $hw1; busy request threads $busy1"
note "case 1: outcomes $(jq -c .outcomes "$T/c1.json"); logged-in ms $(out_ms c1 logged-in); error ms $(out_ms c1 error)"
check "1: token calls in flight at the IdP at the same moment: high-water $hw1 >= $WANT_INFLIGHT" \
  test "$hw1" -ge "$WANT_INFLIGHT"
check "1: the default bulkhead holds: high-water $hw1 <= $CAP (4/5 of $N x $THREADS)" test "$hw1" -le "$CAP"
check "1: the probes ran while the logins were held ($now1b token calls still in flight at their end)" \
  test "$now1b" -ge "$WANT_INFLIGHT"
check_probes c1 "1 ($now1 held)"
want_ok=$(ok_of "$COUNT")
want_over=$((COUNT - want_ok))
check "1: $want_ok of $COUNT logins end 302 /logged-in after the hold: $(jq -c .outcomes "$T/c1.json")" \
  test "$(outcome c1 logged-in)" -eq "$want_ok"
over1=$(app_ms "$line0" 'login failed: over capacity')
check "1: the $want_over past the bulkhead ($CAP) end 302 /error after the wait, within $WAIT_MS-$((WAIT_MS + 1000)) ms: in the app (n min max) $over1; at the client $(out_ms c1 error)" \
  within "$want_over" "$WAIT_MS" $((WAIT_MS + 1000)) "$over1"
check "1: ... and the client got them within $((WAIT_MS + 1000 + CLIENT_SLACK_MS)) ms" \
  test "$(outcome c1 error)" -eq "$want_over" -a "$(n_ms c1 error ". <= $((WAIT_MS + 1000 + CLIENT_SLACK_MS))")" -eq "$want_over"
log_over1=$(($(f_log_count pool 'redirect: login failed: over capacity') - log_over0))
check "1: the log says \"over capacity\" $want_over times ($log_over1)" test "$log_over1" -eq "$want_over"
f_idp_scenario '{}'
check_sessions "1: the $want_ok new sessions work (userinfo 200 with their data)" "$T/c1-sessions.tsv"

# case 5: memory at the case 1 moment
pss_mib=$(awk -v k="$pss1" 'BEGIN { printf "%.1f", k / 1024 }')
per_req=$(awk -v k="$pss1" -v n="$now1" 'BEGIN { printf "%.0f", (n > 0 ? k / n : 0) }')
note "case 5: summed PSS of the supervisor + $N workers with $now1 logins held in sgID calls ($busy1 busy request threads): $pss1 KiB = $pss_mib MiB, $per_req KiB per in-flight request"
check "5: PSS of the pool with $now1 requests in flight: $pss_mib MiB < 96 MiB ($per_req KiB per request)" \
  test "$pss1" -gt 0 -a "$pss1" -lt "$PSS_LIMIT_KB"

# ==== 4: kill -9 of a worker with 100 requests in flight =========================
cat "$T/cached.tsv" "$T/c1-sessions.tsv" >"$T/before-kill.tsv"
K=100
burst_prepare k4 "$K"
f_idp_scenario '{"token":{"delay_ms":6000}}'
inflight_reset
burst_go k4
f_wait 4 "$K token calls in flight" idp_at_least token "$K" || true
sleep 0.2
# Per worker: request threads in poll (waiting on sgID), three samples.
declare -A held=()
for ((i = 0; i < 3; i++)); do
  for p in $(f_pool_workers pool); do
    held[$p]=${held[$p]:-0}
    c=$(f_worker_in "$p" 7 271)
    ((c <= ${held[$p]:-0})) || held[$p]=$c
  done
  sleep 0.1
done
dist=""
victim=""
spread=0
for p in "${!held[@]}"; do
  dist+="$p:${held[$p]} "
  ((held[$p] == 0)) || spread=$((spread + 1))
  [[ -n $victim ]] && ((held[$p] <= held[$victim])) || victim=$p
done
kvict=${held[$victim]:-0}
note "case 4: $(idp_now token) token calls in flight; threads waiting on sgID per worker: $dist"
check "4: the $K logins are spread over the workers ($spread of $N hold some)" test "$spread" -ge 2
setup "a worker holding logins to kill" test "$kvict" -gt 0
t_kill=$(f_now_ms)
kill -KILL "$victim"
replaced() { f_pool_has pool "$N" && ! f_pool_workers pool | grep -qx "$victim"; }
f_wait 10 "a replacement worker" replaced || true
t_back=$(f_now_ms)
sleep 0.3
now4=$(idp_now token)
check "4: worker $victim (holding $kvict) killed, replaced: $N workers again after $((t_back - t_kill)) ms" replaced
check "4: its $kvict sgID calls ended at the IdP ($now4 of $K still in flight)" test "$now4" -eq $((K - kvict))
wait "$BURST" || true
note "case 4: outcomes $(jq -c .outcomes "$T/k4.json"); logged-in ms $(out_ms k4 logged-in)"
k4_fail=$((K - $(outcome k4 logged-in)))
k4_clean=$(($(outcome k4 'status 502') + $(outcome k4 error)))
check "4: only the killed worker's $kvict logins failed ($k4_fail failed: $(jq -c .outcomes "$T/k4.json"))" \
  test "$k4_fail" -eq "$kvict"
check "4: they failed cleanly (nginx 502 or /error: $k4_clean of $k4_fail)" test "$k4_clean" -eq "$k4_fail"
check "4: the supervisor logged worker $victim killed by signal 9" \
  test "$(f_log_count pool "worker $victim killed by signal 9")" -eq 1
check "4: pool has $N workers" f_pool_has pool "$N"
check_sessions "4: every session made before the kill still works" "$T/before-kill.tsv"

# full concurrency after the kill: the dead worker's bulkhead places are free
# again (a leak would cap the logins below $CAP).
after_burst() {
  local label=$1 what=$2 delay=$3 hw
  burst_prepare "$label" "$COUNT"
  f_idp_scenario "{\"token\":{\"delay_ms\":$delay}}"
  inflight_reset
  burst_go "$label"
  wait "$BURST" || true
  hw=$(idp_max token)
  note "$what: $COUNT logins at once, token $delay ms: high-water $hw, outcomes $(jq -c .outcomes "$T/$label.json")"
  check "$what: token calls in flight again reach $WANT_INFLIGHT (high-water $hw)" test "$hw" -ge "$WANT_INFLIGHT"
  check "$what: $(ok_of "$COUNT") of $COUNT log in (the whole bulkhead, $CAP, usable): $(jq -c .outcomes "$T/$label.json")" \
    test "$(outcome "$label" logged-in)" -eq "$(ok_of "$COUNT")"
  f_idp_scenario '{}'
}
after_burst k4b "4: after the kill" 2500

# ==== 2: sgID hung past the timeout ==============================================
TIMEOUT_MS=4000
setup "pool restarted with SGID_HTTP_TIMEOUT_MS=$TIMEOUT_MS" restart_pool SGID_HTTP_TIMEOUT_MS=$TIMEOUT_MS
warm 2
burst_prepare h2 "$COUNT"
f_idp_scenario '{"token":{"delay_ms":20000}}'
inflight_reset
line0=$(log_lines)
t0=$(f_now_ms)
burst_go h2
wait "$BURST" || true
t1=$(f_now_ms)
hw2=$(idp_max token)
f_wait 3 "no token call left in flight at the IdP" idp_at_most token 0 || true
now2=$(idp_now token)
note "case 2: $COUNT logins, sgID hung 20 s, timeout $TIMEOUT_MS ms: all answered in $((t1 - t0)) ms; high-water $hw2; outcomes $(jq -c .outcomes "$T/h2.json"); error ms $(out_ms h2 error)"
want_to=$(ok_of "$COUNT")
at_timeout=$(n_ms h2 error ". >= $((TIMEOUT_MS - 100)) and . <= $((TIMEOUT_MS + 1000 + CLIENT_SLACK_MS))")
to_app=$(app_ms "$line0" 'token: timed out')
over2=$(app_ms "$line0" 'login failed: over capacity')
check "2: every login ends 302 /error: $(jq -c .outcomes "$T/h2.json")" test "$(outcome h2 error)" -eq "$COUNT"
check "2: $want_to (the bulkhead's worth) timed out at about the timeout, $TIMEOUT_MS-$((TIMEOUT_MS + 1000)) ms in the app (n min max): $to_app" \
  within "$want_to" "$TIMEOUT_MS" $((TIMEOUT_MS + 1000)) "$to_app"
check "2: ... and the clients got them after $((TIMEOUT_MS - 100))-$((TIMEOUT_MS + 1000 + CLIENT_SLACK_MS)) ms: $at_timeout ($(out_ms h2 error))" \
  test "$at_timeout" -eq "$want_to"
check "2: the other $((COUNT - want_to)) over capacity after the wait, $WAIT_MS-$((WAIT_MS + 1000)) ms in the app: $over2" \
  within $((COUNT - want_to)) "$WAIT_MS" $((WAIT_MS + 1000)) "$over2"
check "2: the app hung up on every hung call ($now2 left in flight at the IdP)" test "$now2" -eq 0
after_burst h2b "2: after the timeouts, no leaked place" 2000

# ==== 3: a bulkhead of 20 =========================================================
MAX=20
setup "pool restarted with SGID_MAX_INFLIGHT=$MAX" restart_pool SGID_HTTP_TIMEOUT_MS=10000 SGID_MAX_INFLIGHT=$MAX
warm 3
f_load logins --api "$API" --count 60 --concurrency 16 --prefix first --out "$T/first.tsv" >/dev/null
setup "60 sessions whose first userinfo is still to come" test "$(wc -l <"$T/first.tsv")" -eq 60
burst_prepare b3 60
f_idp_scenario '{"token":{"delay_ms":4000}}'
inflight_reset
log_over0=$(f_log_count pool 'redirect: login failed: over capacity')
line0=$(log_lines)
probes_ready b3
burst_go b3
f_wait 3 "$MAX token calls in flight" idp_at_least token "$MAX" || true
probes_go b3
now3=$(idp_now token)
wait "$BURST" || true
hw3=$(idp_max token)
log_over3=$(($(f_log_count pool 'redirect: login failed: over capacity') - log_over0))
note "case 3: 60 logins, SGID_MAX_INFLIGHT=$MAX, token 4 s: high-water $hw3 ($now3 in flight after the probes); outcomes $(jq -c .outcomes "$T/b3.json"); logged-in ms $(out_ms b3 logged-in); error ms $(out_ms b3 error)"
check "3: at most $MAX token calls in flight at the IdP (high-water $hw3), and the $MAX places used" test "$hw3" -eq "$MAX"
check "3: $MAX logged in, after the hold: $(jq -c .outcomes "$T/b3.json")" test "$(outcome b3 logged-in)" -eq "$MAX"
over3=$(app_ms "$line0" 'login failed: over capacity')
check "3: the other 40 end 302 /error after the wait, within $WAIT_MS-$((WAIT_MS + 1000)) ms: in the app (n min max) $over3; at the client $(out_ms b3 error)" \
  within 40 "$WAIT_MS" $((WAIT_MS + 1000)) "$over3"
check "3: ... and the client got them within $((WAIT_MS + 1000 + CLIENT_SLACK_MS)) ms" \
  test "$(outcome b3 error)" -eq 40 -a "$(n_ms b3 error ". <= $((WAIT_MS + 1000 + CLIENT_SLACK_MS))")" -eq 40
check "3: the log says \"over capacity\" for those 40 ($log_over3)" test "$log_over3" -eq 40
check "3: the probes ran while $MAX were held ($now3 in flight at their end)" test "$now3" -eq "$MAX"
check_probes b3 "3 ($MAX held)"

f_idp_scenario '{"userinfo":{"delay_ms":4000}}'
inflight_reset
log_ui0=$(f_log_count pool 'userinfo: over capacity')
line0=$(log_lines)
f_load userinfos --base "$API" --sessions "$T/first.tsv" --timeout 30000 --json "$T/u3.json" >/dev/null
hwu=$(idp_max userinfo)
log_ui=$(($(f_log_count pool 'userinfo: over capacity') - log_ui0))
note "case 3: 60 first userinfo calls at once, userinfo 4 s: high-water $hwu; $(jq -c . "$T/u3.json")"
u3() { jqv "$T/u3.json" "$1"; }
check "3: at most $MAX userinfo calls in flight at the IdP (high-water $hwu)" test "$hwu" -le "$MAX"
check "3: $MAX first userinfo calls answered 200 with the right data: $(jq -c .by_status "$T/u3.json")" \
  test "$(u3 '.by_status["200"] // 0')" -eq "$MAX" -a "$(u3 '.problems | length')" -eq 0
u503_ok() {
  [[ $(u3 '.by_status["503"] // 0') == 40 && $(u3 '.retry_after["503"]["1"] // 0') == 40 &&
    $(u3 '.content_type["503"]["text/plain"] // 0') == 40 ]] && (($(u3 '.ms["503"].max') <= WAIT_MS + 1000 + CLIENT_SLACK_MS))
}
over3u=$(app_ms "$line0" 'userinfo: over capacity')
check "3: the other 40 get 503 text/plain with Retry-After: 1: $(jq -c '{r: .retry_after["503"], t: .content_type["503"], client_ms: .ms["503"].max}' "$T/u3.json")" u503_ok
check "3: ... after the wait, $WAIT_MS-$((WAIT_MS + 1000)) ms in the app (n min max): $over3u" within 40 "$WAIT_MS" $((WAIT_MS + 1000)) "$over3u"
check "3: the log says \"userinfo: over capacity\" for those 40 ($log_ui)" test "$log_ui" -eq 40
f_idp_scenario '{}'
check_sessions "3: retried, all 60 get their profile" "$T/first.tsv"
check "no worker crashed (only the one killed)" \
  test "$(f_log_count pool 'killed by signal [0-8]|killed by signal 1[0-9]|exited with status [1-9]')" -eq 0
