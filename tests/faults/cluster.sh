#!/usr/bin/env bash
# (l) Redis Cluster (issue 15): six redis-servers on loopback (26400-26405,
#   bus 36400-36405), 3 primaries + 3 replicas, cluster-node-timeout 2 s,
#   cluster-require-full-coverage no (a lost shard must not stop the others);
#   the pool finds them through REDIS_CLUSTER.
#   - 300 logins as 30 MockPass personas (10 each): each user's sessions
#     on one primary (the design: they share their {tag}), users, and so
#     sessions, on all three primaries;
#   - a third of the slots resharded (redis-cli --cluster reshard) under mixed
#     load: no failed request, every session still valid, users moved;
#   - sessions --sub / revoke --sub for one user in cluster mode;
#   - from then on the pool logs in as an ACL user with the minimal rights
#     of OPERATIONS.md (logins work, every session still valid);
#   - kill -9 of a primary under load: its sessions get 503 (fast) until its
#     replica is promoted, then 200; sessions on the other primary never
#     fail; the killed primary's sessions, acknowledged by its replica before
#     the kill (WAIT 1 on a marker written after them), are all valid after;
#   - the promoted replica killed too (a shard lost: degraded cluster): the
#     pool restarted then starts, serves the other shard, 503s the lost one.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin cluster

N=${FAULTS_WORKERS:-4}
PORTS=(26400 26401 26402 26403 26404 26405)
LOGINS=300
if ((QUICK)); then KILL_SESS=60; else KILL_SESS=150; fi
setup "ports free" stack_ports_free "${PORTS[@]}" "$API_PORT" "$SPA_PORT"
T=$STACK_RT

addrs=()
for i in "${!PORTS[@]}"; do
  setup "cluster node c$i on ${PORTS[$i]}" f_redis_start "c$i" --port "${PORTS[$i]}" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --cluster-require-full-coverage no
  addrs+=("127.0.0.1:${PORTS[$i]}")
done
setup "redis-cli --cluster create (3 primaries, 3 replicas)" \
  timeout 60 redis-cli "${F_TLS_CLI[@]}" --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$T/create.log" 2>&1
# node_id NAME / node_of_port PORT: cluster ids and the name of a port's node.
node_id() { f_redis_cli "$1" cluster myid; }
cluster_ok() {
  local i
  for i in "${!PORTS[@]}"; do
    [[ $(f_redis_cli "c$i" cluster info | tr -d '\r' | grep cluster_state) == cluster_state:ok ]] || return 1
    [[ $(f_redis_cli "c$i" cluster nodes | grep -c master) == 3 ]] || return 1
  done
  # every replica has its initial sync done
  for i in 3 4 5; do
    f_redis_cli "c$i" info replication | tr -d '\r' | grep -q master_link_status:up || return 1
  done
}
setup "cluster state ok on every node, replicas in sync" f_wait 60 "cluster ok" cluster_ok
# replica_of NAME: the name of the node replicating NAME (its only replica).
replica_of() {
  local id i
  id=$(node_id "$1")
  for i in 3 4 5; do
    [[ $(f_redis_cli "c$i" cluster nodes | awk '$3 ~ /myself/ {print $4}') == "$id" ]] && { echo "c$i"; return; }
  done
  return 1
}
seeds="127.0.0.1:${PORTS[0]},127.0.0.1:${PORTS[1]}"

setup "start MockPass" f_mockpass_start
# The users of the 300 logins: every persona of MockPass's picker but its
# default one (S9812379B), whom the load's `login` operations use: their
# sessions stay out of these users' indexes, so none of ours is evicted.
f_mockpass_personas | grep -v '^S9812379B' >"$T/personas.tsv"
USERS=$(wc -l <"$T/personas.tsv")
PER_USER=$(((LOGINS + USERS - 1) / USERS))
# SESSION_MAX_PER_USER stays at its default (20): at most PER_USER sessions a
# user, so none is evicted.
setup "$USERS personas, $PER_USER logins each (<= SESSION_MAX_PER_USER 20)" test "$PER_USER" -le 20 -a "$USERS" -ge 15
# A fixed (test-only) session secret: a user's {tag}, so their primary, is a
# keyed hash of their sub, so with a fixed secret the layout is the same in
# every run (see the spread check for why it holds with any secret).
# REDIS_URL's host is a decoy: only REDIS_CLUSTER's seeds are used.
SECRET=faults-cluster-test-session-secret-not-a-real-one
f_app_env "$T/app.env" mockpass "REDIS_URL=redis://127.0.0.1:1/0" "REDIS_CLUSTER=$seeds" \
  REDIS_TIMEOUT_MS=1000 SESSION_SECRET=$SECRET
setup "start the pool" f_pool_start pool "$T/app.env" "$N"
setup "start nginx" f_nginx_start nginx "$API_PORT" "$SPA_PORT" "$T/pool.sock"

# ---- spread ---------------------------------------------------------------------
for i in 0 1 2; do f_redis_cli "c$i" config resetstat >/dev/null; done
t0=$(f_now_ms)
# In batches: `logins` finishes each batch at once, and a burst of 300 would
# meet the bulkhead (SGID_MAX_INFLIGHT), which is not what this test is about.
: >"$T/sessions.tsv"
: >"$T/problems.txt"
# Login n (over all batches) is persona n mod USERS.
for ((b = 0; b < LOGINS / 50; b++)); do
  f_load logins --api "$API" --count 50 --concurrency 8 --prefix "cl$b" --userinfo \
    --personas "$T/personas.tsv" --persona-offset $((b * 50)) --out "$T/batch.tsv" |
    jq -r '.problems[]' >>"$T/problems.txt"
  cat "$T/batch.tsv" >>"$T/sessions.tsv"
done
setup "$LOGINS sessions created" test "$(wc -l <"$T/sessions.tsv")" -eq "$LOGINS"
note "$LOGINS logins in $(($(f_now_ms) - t0)) ms"
check "each login got its persona's profile ($(cut -f3 "$T/sessions.tsv" | sort -u | wc -l) subs, problems: $(head -c 200 "$T/problems.txt"))" \
  eval '[[ ! -s $T/problems.txt && $(cut -f3 "$T/sessions.tsv" | sort -u | grep -c .) == "$USERS" ]]'
# node_tags NAME: the {tag} (one per user) of each session on the node, one a line.
node_tags() { f_redis_cli "$1" --scan --pattern 'sgid:s:*' | sed -n 's/^sgid:s:{\([^}]*\)}.*/\1/p'; }
counts=() users=()
for i in 0 1 2; do
  node_tags "c$i" >"$T/tags.c$i"
  counts+=("$(wc -l <"$T/tags.c$i")")
  users+=("$(sort -u "$T/tags.c$i" | wc -l)")
done
# Every session key has its user's {tag}; a tag on one primary only: the
# USERS distinct tags, none counted on two nodes.
one_primary_each() {
  (($(cat "$T"/tags.c[012] | wc -l) == LOGINS)) &&
    (($(cat "$T"/tags.c[012] | sort -u | wc -l) == USERS)) &&
    ((users[0] + users[1] + users[2] == USERS))
}
# Sessions go where their user's tag hashes: a primary holds PER_USER
# sessions per user it got, so the per-node counts move in steps of PER_USER
# and a bound of LOGINS / 5 sessions would not be sound (a random secret
# gives a primary Binomial(USERS, 1/3) users: some primary gets fewer than 6
# of 30 for about one secret in ten). What holds for any secret: every primary has at least one
# user (its PER_USER sessions); none does with probability 3 * (2/3)^USERS,
# 1.6e-5 for 30 users. With the fixed secret above the layout never changes.
spread_ok() {
  local i sum=0
  for i in 0 1 2; do
    ((users[i] >= 1 && counts[i] >= PER_USER)) || return 1
    sum=$((sum + counts[i]))
  done
  ((sum == LOGINS))
}
# Sizing: commands per login (INFO commandstats of the primaries, summed) and
# the memory of one session record.
for i in 0 1 2; do f_redis_cli "c$i" info commandstats; done | tr -d '\r' |
  sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p' |
  awk -v n="$LOGINS" '{c[$1] += $2} END {for (k in c) printf "%s=%.2f ", k, c[k] / n; print ""}' >"$T/ops.txt"
note "commands per login (with one userinfo each), summed over the primaries: $(cat "$T/ops.txt")"
one=$(f_redis_cli c1 --scan --pattern 'sgid:s:*' | awk 'NR == 1')
[[ -z $one ]] || note "one session: $(f_redis_cli c1 memory usage "$one") bytes (MEMORY USAGE), value $(f_redis_cli c1 strlen "$one") bytes"
check "one user's sessions all on one primary, by design ($USERS users: c0 c1 c2 hold ${users[*]})" one_primary_each
check "sessions on every primary (c0 c1 c2: ${counts[*]} of $LOGINS; each >= one user's $PER_USER)" spread_ok

# ---- resharding under load --------------------------------------------------------
f_load run --base "$API" --mix health=2,auth-url=2,userinfo=3,login=1,noise=1 --sessions "$T/sessions.tsv" \
  --concurrency 6 --seconds 170 --max 2000000 --timeout 20000 --frontend "$FRONTEND" \
  --stop-file "$T/stop-rs" --json "$T/rs.json" >/dev/null &
load=$!
sleep 1
t_rs=$(f_now_ms)
rs_ok=0
# A third of the slots, from c0 and c1 (half each) to c2. Emptying a primary
# instead would leave two primaries with slots: a failover needs a majority
# of those, so one of two dying could never be replaced.
timeout 150 redis-cli "${F_TLS_CLI[@]}" --cluster reshard "127.0.0.1:${PORTS[0]}" --cluster-from "$(node_id c0),$(node_id c1)" \
  --cluster-to "$(node_id c2)" --cluster-slots 5461 --cluster-yes >"$T/reshard.log" 2>&1 || rs_ok=$?
t_rs_end=$(f_now_ms)
sleep 1
touch "$T/stop-rs"
wait "$load" || true
# node_slots NAME: how many slots the node serves.
node_slots() {
  f_redis_cli "$1" cluster nodes | awk '$3 ~ /myself/ {for (i = 9; i <= NF; i++) print $i}' |
    awk -F- '$1 ~ /^[0-9]+$/ {n += (NF > 1 ? $2 : $1) - $1 + 1} END {print n + 0}'
}
c2_slots=$(node_slots c2)
# Users whose slots moved: their tags on c2 now, not before.
node_tags c2 | sort -u | comm -13 <(sort -u "$T/tags.c2") - | grep -Fxf <(sort -u "$T"/tags.c[01]) >"$T/moved.txt" || true
note "reshard: 5461 slots c0,c1 -> c2 in $((t_rs_end - t_rs)) ms (exit $rs_ok); slots now c0 $(node_slots c0), c1 $(node_slots c1), c2 $c2_slots"
note "load during the reshard: $(jq -c '{total, by_status, unexpected, wrong}' "$T/rs.json")"
check "reshard of 5461 slots completed (exit $rs_ok)" test "$rs_ok" -eq 0 -a "$c2_slots" -eq $((5461 + 5461))
check "no failed request during the reshard ($(jqv "$T/rs.json" .total) requests)" \
  test "$(jqv "$T/rs.json" .unexpected)" -eq 0 -a "$(jqv "$T/rs.json" .total)" -gt 0
check "no 200 with wrong data" test "$(jqv "$T/rs.json" .wrong)" -eq 0
# A third of c0's and c1's slots moved: a user there stays with probability
# 2/3, so no user moving has probability (2/3)^USERS.
check "the reshard moved users' sessions to c2 ($(wc -l <"$T/moved.txt") users)" test -s "$T/moved.txt"
check_sessions "after the reshard all $LOGINS sessions are valid" "$T/sessions.tsv"

# ---- the minimal ACL (OPERATIONS.md) on every node; the pool uses it from here on --------
UPW=faults-upw-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
for i in "${!PORTS[@]}"; do
  f_redis_cli "c$i" acl setuser sgid on ">$UPW" resetkeys '~sgid:*' resetchannels -@all \
    +get +set +getex +getdel +del +ping '+cluster|slots' +asking \
    +eval +exists +ttl +expire +zadd +zrem +zrange +zcard +zremrangebyscore +zremrangebyrank >/dev/null
done
stack_stop pool
f_app_env "$T/app.env" mockpass "REDIS_URL=redis://sgid:$UPW@127.0.0.1:1/0" "REDIS_CLUSTER=$seeds" \
  REDIS_TIMEOUT_MS=1000 SESSION_SECRET=$SECRET
setup "the pool restarted as ACL user sgid" f_pool_start pool "$T/app.env" "$N"
f_load run --base "$API" --mix login=1 --concurrency 2 --max 6 --seconds 30 --frontend "$FRONTEND" \
  --json "$T/acl.json" >/dev/null
acl_ok() { (($(jqv "$T/acl.json" .unexpected) == 0 && $(jqv "$T/acl.json" .total) >= 6)); }
check "minimal ACL: login, profile, logout work: $(jq -c '.by_ep | map_values(.by_status)' "$T/acl.json")" acl_ok
check_sessions "minimal ACL: all $LOGINS sessions are valid" "$T/sessions.tsv"
no_pw() { ! grep -qF -e "$UPW" "$T/pool.log"; }
check "the password appears in no log" no_pw

# ---- sessions --sub / revoke --sub in cluster mode (as the ACL user) -----------------
admin() { env -i -C "$T" PATH="$PATH" "$ROOT/build/sgid-fcgi" "$@" --env-file "$T/app.env" 2>>"$T/admin.err"; }
gone_sub=$(awk -F'\t' 'NR == 1 {print $3}' "$T/sessions.tsv")
awk -F'\t' -v s="$gone_sub" '$3 == s' "$T/sessions.tsv" >"$T/revoked.tsv"
awk -F'\t' -v s="$gone_sub" '$3 != s' "$T/sessions.tsv" >"$T/kept.tsv"
nrev=$(wc -l <"$T/revoked.tsv")
check "sessions --sub (one user): $nrev" eval '[[ $(admin sessions --sub "$gone_sub") == "$nrev" ]]'
check "revoke --sub: ends $nrev" eval '[[ $(admin revoke --sub "$gone_sub") == "$nrev" ]]'
all_401() {
  local c rest
  while IFS=$'\t' read -r c rest; do
    [[ $(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$c") == 401 ]] || return 1
  done <"$T/revoked.tsv"
}
check "the revoked user's $nrev cookies get 401" all_401
check "sessions --sub: 0 after the revoke" eval '[[ $(admin sessions --sub "$gone_sub") == 0 ]]'
check_sessions "the other users' sessions are untouched" "$T/kept.tsv"

# ---- kill -9 of a primary under load -------------------------------------------------
# c2 now has two thirds of the slots, c0 and c1 a sixth each. Which sessions live on c2
# is found by asking: with c2 paused, its sessions time out (503), the others
# answer 200.
victim=c2
heir=$(replica_of "$victim")
vport=$(f_redis_cli "$victim" config get port | tail -n1)
head -n "$KILL_SESS" "$T/kept.tsv" >"$T/kill.tsv"
classify() {
  local c rest pids=()
  while IFS=$'\t' read -r c rest; do
    { printf '%s\t%s\t%s\n' "$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$c")" "$c" "$rest" \
      >>"$T/classified.tsv"; } &
    pids+=($!)
  done <"$T/kill.tsv"
  wait "${pids[@]}" # not a bare wait: the servers are children too
}
f_redis_cli "$victim" client pause 8000 ALL >/dev/null
classify
f_redis_cli "$victim" client unpause >/dev/null
awk -F'\t' '$1 == 503' "$T/classified.tsv" | cut -f2- >"$T/on-victim.tsv"
awk -F'\t' '$1 == 200' "$T/classified.tsv" | cut -f2- >"$T/elsewhere.tsv"
nv=$(wc -l <"$T/on-victim.tsv")
ne=$(wc -l <"$T/elsewhere.tsv")
setup "sessions sorted by node: $nv on $victim (:$vport), $ne elsewhere, of $KILL_SESS" \
  test "$nv" -gt 0 -a "$ne" -gt 0 -a $((nv + ne)) -eq "$KILL_SESS"
# WAIT acknowledges the connection's own writes; the replication stream is in
# order, so a marker written on the victim after its sessions, once acked by
# its replica, proves the sessions are there too.
# victim_has SLOT: the slot is in one of the victim's ranges ("lo-hi" or "n").
victim_has() {
  f_redis_cli "$victim" cluster nodes | awk '$3 ~ /myself/ {for (i = 9; i <= NF; i++) print $i}' |
    awk -F- -v s="$1" '{hi = NF > 1 ? $2 : $1; if (s >= $1 + 0 && s <= hi + 0) f = 1} END {exit !f}'
}
for ((k = 0; k < 100; k++)); do
  marker="faults:marker:$k"
  victim_has "$(f_redis_cli "$victim" cluster keyslot "$marker")" && break
done
acked=$(printf 'SET %s 1\nWAIT 1 5000\n' "$marker" | f_redis_cli "$victim" | tail -n1)
check "sessions replicated before the kill (WAIT 1 after a marker on $victim: $acked)" test "$acked" == 1

f_load run --base "$API" --mix health=1,userinfo=2 --sessions "$T/elsewhere.tsv" --concurrency 4 \
  --seconds 90 --max 2000000 --timeout 20000 --frontend "$FRONTEND" --stop-file "$T/stop-k" \
  --records "$T/other.ndjson" --json "$T/other.json" >/dev/null &
loadA=$!
f_load run --base "$API" --mix userinfo=1 --sessions "$T/on-victim.tsv" --concurrency 2 \
  --seconds 90 --max 2000000 --timeout 20000 --frontend "$FRONTEND" --stop-file "$T/stop-k" \
  --records "$T/victim.ndjson" --json "$T/victim.json" >/dev/null &
loadB=$!
sleep 2
t_kill=$(f_now_ms)
f_redis_kill "$victim" KILL
promoted() { [[ $(f_redis_cli "$heir" role 2>/dev/null | head -n1) == master ]]; }
f_wait 30 "$heir promoted" promoted || true
t_fo=$(f_now_ms)
sleep 3
t_after=$(f_now_ms)
sleep 2
touch "$T/stop-k"
wait "$loadA" "$loadB" || true
f_load stats --records "$T/victim.ndjson" --to "$t_after" --event "$t_kill" --json "$T/fo.json" >/dev/null
f_load stats --records "$T/victim.ndjson" --from "$t_after" --json "$T/back.json" >/dev/null
note "$victim killed; $heir promoted after $((t_fo - t_kill)) ms (polled)"
note "its sessions until 3 s after: $(jq -c '{total, by_status, unexpected, fail_lat}' "$T/fo.json")"
fail_ms=$(jqv "$T/fo.json" '.fail_window_ms // 0')
note "recovery: its sessions failed from +$(($(jqv "$T/fo.json" '.fail_first_start // 0') - t_kill)) ms to +$(jqv "$T/fo.json" '.fail_last_after_event_ms // 0') ms after the kill ($fail_ms ms)"
check "$heir was promoted" promoted
check "its sessions: every failure a 503: $(jq -c .by_status "$T/fo.json")" statuses_within "$T/fo.json" 200 503
fo_fast() { ((fail_ms < 15000 && $(jqv "$T/fo.json" '.fail_lat.max // 0') < 2500)); }
check "its sessions failed for $fail_ms ms (< 15 s), each fast (max $(jqv "$T/fo.json" '.fail_lat.max // 0') ms)" fo_fast
check "its sessions after the promotion: zero failures ($(jqv "$T/back.json" .total) requests)" \
  test "$(jqv "$T/back.json" .unexpected)" -eq 0 -a "$(jqv "$T/back.json" .total)" -gt 0
check "the other primaries' sessions never failed: $(jq -c '{total, by_status}' "$T/other.json")" \
  test "$(jqv "$T/other.json" .unexpected)" -eq 0 -a "$(jqv "$T/other.json" .total)" -gt 0
check_sessions "the killed primary's $nv sessions (replicated) are valid" "$T/on-victim.tsv"
check "no worker died" test "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0

# ---- a host restarted while the cluster is degraded -----------------------------------
f_redis_kill "$heir" KILL
stack_stop pool
setup "the pool restarts with one shard gone" f_pool_start pool "$T/app.env" "$N"
check_sessions "the restarted host serves the other shard's $ne sessions" "$T/elsewhere.tsv"
read -r lost _ < <(head -n1 "$T/on-victim.tsv")
code=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$lost")
check "a session of the lost shard: 503 ($code)" test "$code" == 503
code=$(f_status "$API/api/health")
check "health 200 ($code): it pings a primary that answers" test "$code" == 200
