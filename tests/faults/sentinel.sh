#!/usr/bin/env bash
# (h) Redis high availability and authentication, with real servers on loopback.
#   Sentinel: redis-server master (26380) + replica (26381), three
#     redis-sentinels (26379, 26378, 26377, quorum 2, down-after 1 s); the
#     app finds the master through REDIS_SENTINELS. Under load the master is
#     killed (SIGKILL): how long requests fail (503 only) is measured, and the
#     sessions written before (replicated: WAIT) are valid after the
#     failover. The old master then comes back as a replica: no failure.
#   AUTH: requirepass, an ACL user with a database number over TCP, the same
#     over the unix socket (unix://user:pass@/path?db=N), Sentinel with an ACL
#     user and a database (also `sgid-fcgi sessions|revoke --sub` through it),
#     and a wrong password (503, password never logged).
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin sentinel

N=${FAULTS_WORKERS:-4}
M_PORT=26380
R_PORT=26381
S_PORTS=(26379 26378 26377)
P_PORT=26391
if ((QUICK)); then SESS=20; else SESS=60; fi
command -v redis-sentinel >/dev/null || setup "redis-sentinel is installed (make deps)" false
setup "ports free" stack_ports_free "$M_PORT" "$R_PORT" "${S_PORTS[@]}" "$P_PORT" "$API_PORT" "$SPA_PORT"
T=$STACK_RT

setup "master on $M_PORT" f_redis_start rm --port "$M_PORT"
setup "replica on $R_PORT" f_redis_start rr --port "$R_PORT" --replicaof 127.0.0.1 "$M_PORT"

sentinels=""
for i in "${!S_PORTS[@]}"; do
  p=${S_PORTS[$i]}
  mkdir -p "$T/s$i"
  {
    if ((F_TLS)); then printf 'port 0\ntls-port %s\n' "$p"; else echo "port $p"; fi
    f_tls_server_conf
  } >"$T/s$i/sentinel.conf"
  cat >>"$T/s$i/sentinel.conf" <<EOF
bind 127.0.0.1
daemonize no
dir $T/s$i
sentinel monitor mymaster 127.0.0.1 $M_PORT 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
EOF
  stack_bg "sentinel$i" "$T/sentinel$i.log" redis-sentinel "$T/s$i/sentinel.conf"
  sentinels+=${sentinels:+,}127.0.0.1:$p
done
scli() { timeout 5 redis-cli -h 127.0.0.1 -p "$1" "${F_TLS_CLI[@]}" "${@:2}"; }
# Every sentinel knows the replica and the two other sentinels.
sentinels_ready() {
  local p info
  for p in "${S_PORTS[@]}"; do
    info=$(scli "$p" sentinel master mymaster 2>/dev/null | paste -sd' ') || return 1
    [[ $info == *"num-slaves 1 "* && $info == *"num-other-sentinels 2 "* ]] || return 1
  done
}
setup "3 sentinels see the master, the replica and each other" f_wait 30 "sentinels" sentinels_ready
master_port() { scli "${S_PORTS[0]}" sentinel get-master-addr-by-name mymaster 2>/dev/null | sed -n 2p; }

setup "start MockPass" f_mockpass_start
NAME=$(f_mockpass_name)
# REDIS_URL's host is a decoy: the sentinels decide.
# Masters only on loopback (REDIS_SENTINEL_ALLOWED_HOSTS): the failover still works.
f_app_env "$T/app.env" mockpass "REDIS_URL=redis://127.0.0.1:1/0" "REDIS_SENTINELS=$sentinels" \
  REDIS_SENTINEL_MASTER=mymaster REDIS_SENTINEL_ALLOWED_HOSTS=127.0.0.0/8
setup "start the pool" f_pool_start pool "$T/app.env" "$N"
setup "start nginx" f_nginx_start nginx "$API_PORT" "$SPA_PORT" "$T/pool.sock"

f_load logins --api "$API" --count "$SESS" --concurrency 4 --prefix sen --userinfo --expect-name "$NAME" \
  --out "$T/sessions.tsv" >/dev/null
setup "$SESS sessions created" test "$(wc -l <"$T/sessions.tsv")" -eq "$SESS"
keys=$(f_redis_cli rm dbsize)
check "sessions are on the master found through the sentinels ($keys keys on :$M_PORT)" test "$keys" -ge "$SESS"
acked=$(printf 'SET faults:marker 1\nWAIT 1 5000\n' | f_redis_cli rm | tail -n1)
check "replicated before the failover (WAIT: $acked replica acknowledged)" test "$acked" == 1

# ---- failover under load ----------------------------------------------------------
f_load run --base "$API" --mix health=1,auth-url=1,userinfo=2 --sessions "$T/sessions.tsv" \
  --concurrency 6 --seconds 60 --max 2000000 --timeout 20000 --frontend "$FRONTEND" \
  --stop-file "$T/stop" --records "$T/load.ndjson" --json "$T/load.json" >/dev/null &
load=$!
sleep 2
t_kill=$(f_now_ms)
f_redis_kill rm KILL
promoted() { [[ $(master_port) == "$R_PORT" ]]; }
f_wait 30 "failover to :$R_PORT" promoted || true
t_fo=$(f_now_ms)
sleep 3
t_mid=$(f_now_ms)
# The old master comes back: the sentinels make it a replica of the new one.
f_redis_start rm --port "$M_PORT"
demoted() { [[ $(f_redis_cli rm role 2>/dev/null | head -n1) == slave ]]; }
# The sentinels notice it within their 10 s INFO period; the quick run does
# not wait for that, only runs 3 s of load past the restart.
if ((QUICK)); then sleep 3; else f_wait 30 "old master demoted" demoted || true; fi
t_dem=$(f_now_ms)
sleep 2
touch "$T/stop"
wait "$load" || true

f_load stats --records "$T/load.ndjson" --to "$t_mid" --event "$t_kill" --json "$T/fo.json" >/dev/null
f_load stats --records "$T/load.ndjson" --from "$t_mid" --json "$T/back.json" >/dev/null
note "failover: master killed; sentinels named :$R_PORT after $((t_fo - t_kill)) ms (polled)"
note "load until 3 s after the failover: $(jq -c '{total, by_status, unexpected, wrong, fail_lat}' "$T/fo.json")"
fail_ms=$(jqv "$T/fo.json" '.fail_window_ms // 0')
fo_fast() { ((fail_ms < 10000 && $(jqv "$T/fo.json" '.fail_lat.max // 0') < 2000)); }
if (($(jqv "$T/fo.json" .unexpected) > 0)); then
  note "requests failed from +$(($(jqv "$T/fo.json" .fail_first_start) - t_kill)) ms to +$(jqv "$T/fo.json" .fail_last_after_event_ms) ms after the kill: failing for $fail_ms ms"
fi
check "failover promoted the replica" test "$(master_port)" == "$R_PORT"
check "during the failover every failure is a 503: $(jq -c .by_status "$T/fo.json")" statuses_within "$T/fo.json" 200 503
check "requests failed for $fail_ms ms (< 10 s), fast (max $(jqv "$T/fo.json" '.fail_lat.max // 0') ms each)" \
  fo_fast
check "no 200 with wrong data" test "$(jqv "$T/load.json" .wrong)" -eq 0
check_sessions "after the failover all $SESS sessions are valid" "$T/sessions.tsv"
note "old master back ($(f_redis_cli rm role 2>/dev/null | head -n1) after $((t_dem - t_mid)) ms); load from then on: $(jq -c '{total, by_status, unexpected}' "$T/back.json")"
check "old master returns as a replica: zero failures ($(jqv "$T/back.json" .total) requests)" \
  test "$(jqv "$T/back.json" .unexpected)" -eq 0
check "no worker died" test "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0

# ---- AUTH, ACL users, database numbers -------------------------------------------
PW=faults-pw-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
UPW=faults-upw-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
F_REDIS_AUTH[rp]="-a $PW"
setup "redis with requirepass on $P_PORT" f_redis_start rp --port "$P_PORT" --requirepass "$PW"
# Least privilege: the commands the app sends, on its own keys only.
# The session index's scripts: EVAL, and the commands they call.
ACL=(on ">$UPW" resetkeys '~sgid:*' resetchannels -@all +get +set +getex +getdel +del +ping +select
  +eval +exists +ttl +expire +zadd +zrem +zrange +zcard +zremrangebyscore +zremrangebyrank)
f_redis_cli rp acl setuser faults "${ACL[@]}" >/dev/null
# Sentinel mode also confirms the master with ROLE (an @admin command).
for s in rm rr; do
  f_redis_cli "$s" acl setuser faults "${ACL[@]}" >/dev/null
  f_redis_cli "$s" acl setuser faults-norole "${ACL[@]}" >/dev/null
  f_redis_cli "$s" acl setuser faults +role >/dev/null
done

# variant LABEL REDIS_URL [VAR=VALUE...]: the pool restarted with that store;
# logins (auth-url, provider, redirect, userinfo twice, logout), then one
# auth-url left pending so its key can be found.
variant() {
  local label=$1 url=$2
  shift 2
  stack_stop pool
  f_app_env "$T/app.env" mockpass "REDIS_URL=$url" "$@"
  if ! f_pool_start pool "$T/app.env" "$N"; then
    not_ok "$label: pool start"
    return
  fi
  f_load run --base "$API" --mix login=1 --concurrency 2 --max 6 --seconds 30 --frontend "$FRONTEND" \
    --json "$T/v.json" >/dev/null
  check "$label: login, profile, logout work: $(jq -c '.by_ep | map_values(.by_status)' "$T/v.json")" \
    v_ok
}
v_ok() { (($(jqv "$T/v.json" .unexpected) == 0 && $(jqv "$T/v.json" .total) >= 6)); }
# dbkeys NAME DB: how many spent login attempts (single-use markers, kept
# for the attempt's lifetime) that database holds: one per login made.
dbkeys() { f_redis_cli "$1" -n "$2" --scan --pattern 'sgid:u:*' | wc -l; }

variant "requirepass" "redis://:$PW@127.0.0.1:$P_PORT/0"
db0=$(dbkeys rp 0)
check "requirepass: the logins' markers are in db 0 ($db0)" test "$db0" -ge 1
db3_ok() { (($(dbkeys rp 3) >= 1 && $(dbkeys rp 0) == db0)); }
variant "ACL user (least privilege) + db 3 over TCP" "redis://faults:$UPW@127.0.0.1:$P_PORT/3"
check "ACL user: the logins' markers are in db 3 ($(dbkeys rp 3)), db 0 unchanged ($(dbkeys rp 0))" \
  db3_ok
variant "ACL user + db 5 over the unix socket" "unix://faults:$UPW@$T/rp.sock?db=5"
check "unix socket: the logins' markers are in db 5 ($(dbkeys rp 5))" test "$(dbkeys rp 5)" -ge 1
newm="rr"
[[ $(master_port) == "$R_PORT" ]] || newm="rm"
variant "Sentinel + ACL user (+role) + db 4" "redis://faults:$UPW@127.0.0.1:1/4" "REDIS_SENTINELS=$sentinels"
check "Sentinel + ACL: the logins' markers are in db 4 of the current master ($(dbkeys "$newm" 4))" \
  test "$(dbkeys "$newm" 4)" -ge 1

# Revocation through the sentinels as the ACL user (issue 14): two sessions
# of the persona, counted and revoked by `sgid-fcgi sessions|revoke --sub`.
f_load logins --api "$API" --count 2 --concurrency 2 --prefix rv --userinfo --out "$T/rv.tsv" >/dev/null || true
rv_sub=$(cut -f3 "$T/rv.tsv" | head -n1)
rv_admin() { env -i -C "$T" PATH="$PATH" "$ROOT/build/sgid-fcgi" "$@" --env-file "$T/app.env" 2>/dev/null; }
check "Sentinel + ACL: sessions --sub counts the 2 new sessions" eval '[[ -n $rv_sub && $(rv_admin sessions --sub "$rv_sub") == 2 ]]'
check "Sentinel + ACL: revoke --sub ends 2" eval '[[ $(rv_admin revoke --sub "$rv_sub") == 2 ]]'
check "Sentinel + ACL: the revoked sessions get no profile ($(f_sessions_ok "$T/rv.tsv"))" \
  test "$(f_sessions_ok "$T/rv.tsv")" == 0/2

stack_stop pool
f_app_env "$T/app.env" mockpass "REDIS_URL=redis://faults-norole:$UPW@127.0.0.1:1/4" "REDIS_SENTINELS=$sentinels"
setup "pool with an ACL user without +role, through the sentinels" f_pool_start pool "$T/app.env" "$N"
code=$(f_status "$API/api/health")
norole_ok() { [[ $code == 503 ]] && grep -q "ROLE 127.0.0.1:[0-9]*: NOPERM" "$T/pool.log"; }
check "Sentinel + ACL user without +role: 503 ($code), the log names ROLE NOPERM" norole_ok

stack_stop pool
f_app_env "$T/app.env" mockpass "REDIS_URL=redis://faults:wrong-$UPW@127.0.0.1:$P_PORT/3"
setup "pool with a wrong password" f_pool_start pool "$T/app.env" "$N"
code=$(f_status "$API/api/health")
check "wrong password: health 503 ($code)" test "$code" == 503
code=$(f_status "$API/api/auth-url?icecream=x")
check "wrong password: auth-url still 200 ($code): starting a login needs no Redis" test "$code" == 200
check "wrong password: the log says WRONGPASS" grep -q "AUTH 127.0.0.1:$P_PORT: WRONGPASS" "$T/pool.log"
no_pw() { ! grep -qF -e "$PW" -e "$UPW" "$T/pool.log"; }
check "no password appears in any app log" no_pw
