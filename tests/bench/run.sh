#!/usr/bin/env bash
# `make bench`: sgid-fcgi against the transport's limit and the official
# Express example, side by side, in one run (issue 6). See README.md here.
#
# Starts its own stack (lib.sh): redis-server on a unix socket, the sgID
# stand-in (fake-sgid, Node), the sgid-fcgi pool (--listen unix: --workers N
# --threads T; with BENCH_ALT a second pool of another shape),
# trivial_fcgi twice (the second with one Redis SET per request,
# on the same Redis), the peer (2 Node processes) and nginx in front
# of all of them, on 127.0.0.1 ports BENCH_PORT.. and unix sockets in a temp
# dir. Then loads each row with wrk for BENCH_DURATION seconds, BENCH_REPS
# times (rows interleaved, so slow phases of a shared machine hit every row),
# and prints one table: median requests/s, median p50 and p99 latency, ratios,
# CPU per request of each process group, RSS, and the RSA ceiling. The
# login rows with sgID far away (-250ms, -2s) also give the stand-in's
# in-flight high-water mark and the pool's PSS per in-flight call.
#
# Environment (defaults): BENCH_DURATION=10 BENCH_FRESH_DURATION=5 BENCH_REPS=3 BENCH_CONNS=64
# BENCH_WRK_THREADS=2 BENCH_WORKERS=16 BENCH_THREADS=1 BENCH_TRIVIAL_WORKERS=16
# BENCH_DELAY_CONNS=256 BENCH_MAX_INFLIGHT (SGID_MAX_INFLIGHT; default sgid-fcgi's)
# BENCH_ALT=WxT (e.g. 16x1: a second pool, rows alt-*) BENCH_PORT=18080 BENCH_SGID_PROCS=2
# BENCH_CLUSTER=1 (the alt pool: ours' shape on a 3-primary Redis Cluster)
# BENCH_REDIS_TLS=1 (the alt pool: ours' shape on the same Redis over rediss://,
# ours on loopback TCP)
# BENCH_NGINX_WORKERS=2 BENCH_ROWS (space-separated subset of the row names)
# BENCH_RULE_ROUNDS=10 BENCH_RULE_SIDE_ROUNDS=6 BENCH_RULE_SECS=5 (ours-auth-check
# and ours-auth-rule in rounds of their own when both are selected:
# tests/bench/README.md)
# BENCH_KEEP=1 (keep the temp dir). Needs: wrk nginx redis-server node npm
# curl jq; build/sgid-fcgi and build/bench/* (make bench builds them).
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D=${BENCH_DURATION:-10}
REPS=${BENCH_REPS:-3}
CONNS=${BENCH_CONNS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
CORES=$(nproc)
# The pool: one worker per core (2 here) x 160 threads, so its bulkhead (4/5:
# 256) holds the 256 browsers of the far-away rows; the old shape, 16
# single-threaded workers, runs beside it on the existing rows (BENCH_ALT,
# rows alt-*) for issue 11's "no regression" comparison. With 2 x 64 and a
# shared private key an earlier run measured 34% lower uncached userinfo; a
# key copy per thread removed that.
WORKERS=${BENCH_WORKERS:-2}
POOL_THREADS=${BENCH_THREADS:-160}
# trivial_fcgi's workers are single-threaded libfcgi loops, one connection at
# a time: they keep the 16 processes that were their best on this machine.
TRIVIAL_WORKERS=${BENCH_TRIVIAL_WORKERS:-16}
# sgid-fcgi's bulkhead: at most this many of its threads inside sgID calls
MAX_INFLIGHT=${BENCH_MAX_INFLIGHT:-$((WORKERS * POOL_THREADS * 4 / 5))}
((MAX_INFLIGHT > 0)) || MAX_INFLIGHT=1
DELAY_CONNS=${BENCH_DELAY_CONNS:-256}
SGID_PROCS=${BENCH_SGID_PROCS:-2}
CACHED_POOL=256
ALT=${BENCH_ALT-16x1}
# BENCH_CLUSTER=1: the alt pool has ours' shape and a 3-primary Redis Cluster
# for its store (issue 15: alt-* against ours-* is cluster against one Redis).
CLUSTER=${BENCH_CLUSTER:-0}
[[ $CLUSTER == 1 ]] && ALT=${WORKERS}x$POOL_THREADS
# BENCH_REDIS_TLS=1: alt is ours' shape over TLS to the one Redis, ours over
# plain TCP to it (issue 24: cached userinfo over TLS >= 90% of TCP).
REDIS_TLS=${BENCH_REDIS_TLS:-0}
if [[ $REDIS_TLS == 1 ]]; then
  [[ $CLUSTER == 1 ]] && die "BENCH_REDIS_TLS and BENCH_CLUSTER: one at a time"
  ALT=${WORKERS}x$POOL_THREADS
  export BENCH_REDIS_TCP=1
fi
ALT_WORKERS= ALT_THREADS=
if [[ -n $ALT ]]; then
  [[ $ALT =~ ^([0-9]+)x([0-9]+)$ ]] || die "BENCH_ALT must be WORKERSxTHREADS, e.g. 16x1"
  ALT_WORKERS=${BASH_REMATCH[1]} ALT_THREADS=${BASH_REMATCH[2]}
fi
ALL_ROWS="ceiling transport transport-redis ours-auth-url ours-userinfo-session ours-auth-check ours-auth-rule ours-userinfo-fresh ours-login"
[[ -n $ALT ]] && ALL_ROWS+=" alt-auth-url alt-userinfo-session alt-auth-check alt-auth-rule alt-userinfo-fresh alt-login"
ALL_ROWS+=" peer-auth-url peer-userinfo-session peer-userinfo-fresh peer-login"
ALL_ROWS+=" ours-login-250ms peer1-login-250ms ours-login-2s peer1-login-2s"
# the ours pool with its /metrics scraped every second (issue 13)
ALL_ROWS+=" scraped-auth-url scraped-userinfo-session"
ROWS=${BENCH_ROWS:-$ALL_ROWS}
OUT_DIR=$BUILD/bench

bench_need_tools wrk nginx redis-server redis-cli node npm curl jq /usr/bin/time
[[ -x $BUILD/sgid-fcgi ]] || die "$BUILD/sgid-fcgi is missing (make)"
[[ -x $BUILD/bench/trivial_fcgi && -x $BUILD/bench/rsa_speed ]] || die "$BUILD/bench tools are missing (make bench-tools)"

# The auth-check rows measure the gateway's auth location as deployed: its
# directives in nginx.conf.in must be those of the example (sockets aside).
auth_location() {
  awk '/location ~ \^\/\\\.sgid\// { on = 1; next } on && /^ *\}/ { exit }
    on { sub(/#.*/, ""); gsub(/^ +| +$/, ""); if ($0 != "") print }' "$1" | sed -E 's|unix:[^;]*;|unix:SOCK;|'
}
[[ -n $(auth_location "$ROOT/deploy/gateway/nginx.conf.example") ]] || die "no /.sgid/ auth location in deploy/gateway/nginx.conf.example"
diff <(auth_location "$ROOT/deploy/gateway/nginx.conf.example") <(auth_location "$BENCH_DIR/nginx.conf.in") >&2 ||
  die "tests/bench/nginx.conf.in: /.sgid/auth differs from deploy/gateway/nginx.conf.example's (above)"

t_start=$(date +%s)
bench_init
mkdir -p "$OUT_DIR"
RES=$RT/results.tsv
: >"$RES"

say "bench: starting the stack in $RT (workers=$WORKERS x threads=$POOL_THREADS${ALT:+, alt pool $ALT}, stand-in processes=$SGID_PROCS, cores=$CORES)"
peer_install
start_redis
[[ $CLUSTER == 1 ]] && start_cluster
start_fake_sgid "$SGID_PROCS"
start_trivial "$TRIVIAL_WORKERS"
start_trivial_redis "$TRIVIAL_WORKERS"
start_pool "$WORKERS" "$POOL_THREADS"
[[ -n $ALT ]] && start_alt_pool "$ALT_WORKERS" "$ALT_THREADS"
start_peers
start_nginx
curl -sf "http://127.0.0.1:$PORT_OURS/api/health" >/dev/null || die "sgid-fcgi /api/health failed through nginx"

# ---- the CPU cost of RSA, before any load ----------------------------------
# Once on one core alone (the cost of one operation), then on every core at
# once (what the machine's cores together allow: on a VM they do not scale
# perfectly, so the ceiling is measured, not multiplied).
say "bench: RSA-2048 speed (rsa_speed, 2 s per operation): one core alone, then $CORES at once"
"$BUILD/bench/rsa_speed" "$KEY_PEM" 2 >"$RT/rsa.txt"
rsa_pids=()
for ((i = 0; i < CORES; i++)); do
  "$BUILD/bench/rsa_speed" "$KEY_PEM" 2 >"$RT/rsa-all.$i.txt" &
  rsa_pids+=($!)
done
wait "${rsa_pids[@]}"
rsa() { awk -v op="$1" '$1 == "op=" op { sub("per_cpu_s=", "", $5); print $5 }' "$RT/rsa.txt"; }
# operations per wall-clock second, summed over the processes that ran at once
rsa_all() {
  cat "$RT"/rsa-all.*.txt | awk -v op="$1" '$1 == "op=" op {
    sub("ops=", "", $2); sub("wall_s=", "", $3); s += $2 / $3 } END { printf "%d", s }'
}
RSA_DEC=$(rsa oaep_sha1_decrypt)
RSA_DEC256=$(rsa oaep_sha256_decrypt)
RSA_SIGN=$(rsa rs256_sign)
RSA_VERIFY=$(rsa rs256_verify)
RSA_DEC_ALL=$(rsa_all oaep_sha1_decrypt)
RSA_SIGN_ALL=$(rsa_all rs256_sign)
RSA_VERIFY_ALL=$(rsa_all rs256_verify)

# ---- helpers ---------------------------------------------------------------

url_of() { # ENGINE -> base URL
  case $1 in
    peer) echo "http://127.0.0.1:$PORT_PEER" ;;
    peer1) echo "http://127.0.0.1:$PORT_PEER1" ;;
    alt) echo "http://127.0.0.1:$PORT_ALT" ;;
    *) echo "http://127.0.0.1:$PORT_OURS" ;;
  esac
}

# wrk_run OUTFILE SECONDS MODE URL [VAR=VALUE...]: one bounded wrk run; its
# BENCH line goes to OUTFILE, its user+sys CPU seconds to OUTFILE.time.
wrk_run() {
  local out=$1 secs=$2 mode=$3 url=$4
  shift 4
  env BENCH_MODE="$mode" BENCH_WRK_THREADS="$WRK_THREADS" "$@" \
    /usr/bin/time -f '%U %S' -o "$out.time" \
    timeout $((secs + 30)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${secs}s" --timeout 10s \
    -s "$BENCH_DIR/bench.lua" "$url" >"$out.wrk" 2>"$out.err" || true
  grep '^BENCH ' "$out.wrk" >"$out" || { cat "$out.wrk" "$out.err" >&2; die "wrk produced no result for $url"; }
}
field() { sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" "$1"; }

# (pid lists are split into words on purpose)
# shellcheck disable=SC2046
group_ticks() { # prints "ours nginx sgid redis peer trivial" ticks (ours = both pools, trivial = both trivial responders)
  echo "$(cpu_ticks "$POOL_PID" $(pool_workers) $ALT_PID $(alt_workers)) $(cpu_ticks $(nginx_pids)) $(cpu_ticks $(sgid_pids))" \
    "$(cpu_ticks "$REDIS_PID") $(cpu_ticks "${PEER_PIDS[@]}") $(cpu_ticks "$TRIVIAL_PID" $(pgrep -P "$TRIVIAL_PID" | tr '\n' ' ') "$TRIVIAL_REDIS_PID" $(pgrep -P "$TRIVIAL_REDIS_PID" | tr '\n' ' '))"
}

# mint ENGINE SECONDS FILE CONNS: logged-in sessions whose profile was never fetched
mint() {
  local engine=$1 secs=$2 file=$3 conns=$4 saved=$CONNS
  CONNS=$conns
  wrk_run "$RT/mint.out" "$secs" mint "$(url_of "$engine")/api/auth-url?icecream=Vanilla" BENCH_OUT="$file"
  CONNS=$saved
  MINT_RATE=$(field "$RT/mint.out" logins_per_s)
}

OURS_REQS=0
RSS_TRACK=""
# The uncached rows spend one minted session per request, and minting costs a
# whole login: they run BENCH_FRESH_DURATION (default D/2) seconds, and each
# is preceded by a mint sized from the previous rep's rates.
DF=${BENCH_FRESH_DURATION:-$(((D + 1) / 2))}
declare -A MINT_SECS=([ours]=$((DF * 3 / 2 + 1)) [alt]=$((DF * 3 / 2 + 1)) [peer]=$((DF * 3 / 2 + 1)))

# sgID far away: the stand-in's token and userinfo answers wait on a timer.
sgid_delay() { curl -sS --max-time 5 -X POST "http://127.0.0.1:$PORT_SGID_STATS/delay?ms=$1" >/dev/null; }
# pss_sampler FILE SECONDS PID...: "epoch_ms pss_kb" every 0.5 s
pss_sampler() {
  local f=$1 secs=$2 end t
  shift 2
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    sleep 0.5
    t=${EPOCHREALTIME/[.,]/}
    echo "${t:0:13} $(pss_kb "$@")" >>"$f"
  done
}

# run_row NAME REP
run_row() {
  local name=$1 rep=$2 engine mode path="" pool="" out=$RT/row.out t0 t1 ops wrk_cpu delay=0 conns=$CONNS scraper=""
  engine=${name%%-*}
  case $name in
    *-login-*ms) delay=${name##*-login-} delay=${delay%ms} ;;
    *-login-*s) delay=${name##*-login-} delay=$((${delay%s} * 1000)) ;;
  esac
  case $name in
    ceiling) mode=plain path=/ceiling engine=nginx ;;
    scraped-auth-url) mode=plain path="/api/auth-url?icecream=Vanilla" ;;
    scraped-userinfo-session) mode=cached pool=$RT/cached-ours.txt path=/api/userinfo ;;
    transport) mode=plain path=/trivial/health engine=nginx ;;
    transport-redis) mode=plain path=/trivial-redis/health engine=nginx ;;
    *-auth-url) mode=plain path="/api/auth-url?icecream=Vanilla" ;;
    *-userinfo-session) mode=cached pool=$RT/cached-$engine.txt path=/api/userinfo ;;
    # gateway mode: nginx auth_request -> /api/auth over the same sessions
    ours-auth-check | alt-auth-check) mode=cached pool=$RT/cached-$engine.txt path=/gw/check ;;
    # ... and with the location's access rule (the map's "bench")
    ours-auth-rule | alt-auth-rule) mode=cached pool=$RT/cached-$engine.txt path=/gw/rule ;;
    *-userinfo-fresh) mode=fresh pool=$RT/fresh-$engine.txt ;;
    *-login | *-login-*) mode=login path="/api/auth-url?icecream=Vanilla" ;;
    *) die "unknown row $name" ;;
  esac
  if [[ $mode == fresh ]]; then
    mint "$engine" "${MINT_SECS[$engine]}" "$pool" "$CONNS"
  fi
  local base
  base=$(url_of "$engine")
  [[ $engine == nginx ]] && base=http://127.0.0.1:$PORT_OURS
  [[ $mode == fresh ]] && path=/api/userinfo
  local secs=$D
  [[ $mode == fresh ]] && secs=$DF
  local sampler="" pss_file=$RT/pss.txt
  if ((delay > 0)); then
    # sgID far away: more browsers, and runs long enough for a dozen logins
    # each way (a login waits for two delayed calls)
    conns=$DELAY_CONNS
    ((secs < delay * 12 / 1000)) && secs=$((delay * 12 / 1000))
    sgid_delay "$delay"
  fi
  sleep 1
  if ((delay > 0)); then
    : >"$pss_file"
    # shellcheck disable=SC2046
    if [[ $engine == peer1 ]]; then pss_sampler "$pss_file" "$secs" "${PEER_PIDS[0]}" &
    else pss_sampler "$pss_file" "$secs" "$POOL_PID" $(pool_workers) & fi
    sampler=$!
  fi
  [[ $engine == scraped ]] && { scrape_every_second "$secs" & scraper=$!; }
  t0=$(group_ticks)
  local saved=$CONNS
  CONNS=$conns
  wrk_run "$out" "$secs" "$mode" "$base$path" BENCH_POOL="$pool"
  CONNS=$saved
  t1=$(group_ticks)
  [[ -z $scraper ]] || wait "$scraper" 2>/dev/null || true
  local extra=""
  if ((delay > 0)); then
    wait "$sampler" 2>/dev/null || true
    local at inf
    at=$(cut -d' ' -f1 "$pss_file" | paste -sd, -)
    inf=$(curl -sS --max-time 10 "http://127.0.0.1:$PORT_SGID_STATS/inflight?at=$at") || die "the stand-in's /inflight failed"
    # the sample with the most calls open: PSS there, per open call
    extra=$(jq -r --rawfile pss "$pss_file" '
      ($pss | split("\n") | map(select(. != "") | split(" ") | .[1] | tonumber)) as $p
      | (.at | to_entries | max_by(.value)) as $pk
      | "hw=\(.max) calls=\(.calls) peak_open=\($pk.value // 0) peak_pss_kb=\($p[$pk.key // 0] // 0)"' <<<"$inf")
    # back to an sgID next door; let the calls still waiting finish
    sgid_delay 0
    sleep $((delay / 1000 + 1))
  fi
  ops=$(field "$out" requests)
  [[ $mode == login ]] && ops=$(($(field "$out" logins) > 0 ? $(field "$out" logins) : 1))
  [[ $mode == fresh ]] && ops=$(($(field "$out" fresh) > 0 ? $(field "$out" fresh) : 1))
  wrk_cpu=$(awk '{ printf "%d", ($1 + $2) * 100 }' "$out.time")
  # CPU ms per operation (request, or login) of each group
  local cpu
  cpu=$(awk -v a="$t0" -v b="$t1" -v w="$wrk_cpu" -v n="$ops" 'BEGIN {
    split(a, x, " "); split(b, y, " "); s = "";
    for (i = 1; i <= 6; i++) s = s sprintf("%.3f ", (y[i] - x[i]) * 10 / (n > 0 ? n : 1));
    printf "%s%.3f", s, w * 10 / (n > 0 ? n : 1) }')
  local rate p50 p99
  rate=$(field "$out" rps) p50=$(field "$out" p50_ms) p99=$(field "$out" p99_ms)
  case $mode in
    login) rate=$(field "$out" logins_per_s) p50=$(field "$out" login_p50_ms) p99=$(field "$out" login_p99_ms) ;;
    fresh) rate=$(field "$out" fresh_per_s) ;;
  esac
  local bad=$(($(field "$out" bad_status) + $(field "$out" sock_errors)))
  local note=""
  [[ $mode == login ]] && note="failed=$(field "$out" failed)"
  if [[ $mode == fresh ]]; then
    note="pool=$(wc -l <"$pool") window=$(field "$out" window_s)s"
    # size the next pool from what this run used (25% margin)
    MINT_SECS[$engine]=$(awk -v r="$rate" -v m="$MINT_RATE" -v d="$DF" 'BEGIN {
      s = (m > 0) ? 1.25 * d * r / m : 2 * d; if (s < 3) s = 3; if (s > 4 * d) s = 4 * d; printf "%d", s + 0.999 }')
  fi
  # column 10: the duration of the run and, with sgID far away, the in-flight record
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rep" "$rate" "$p50" "$p99" "$(field "$out" requests)" \
    "$bad" "$cpu" "$note" "secs=$secs $extra" >>"$RES"
  say "$(printf 'bench: rep %s %-22s %9s/s  p50 %7s ms  p99 %8s ms  errors %s %s %s' "$rep" "$name" "$rate" "$p50" "$p99" "$bad" "$note" "$extra")"
  if [[ $engine == ours ]]; then
    OURS_REQS=$((OURS_REQS + $(field "$out" requests)))
    local w maxrss=0 r
    for w in $(pool_workers); do
      r=$(rss_kb "$w")
      ((r > maxrss)) && maxrss=$r
    done
    RSS_TRACK+="$((OURS_REQS / WORKERS)):$maxrss "
  fi
}

# ---- sessions for the "from the session" rows ------------------------------
# (cached userinfo, and the gateway's auth check over the same sessions)
for engine in ours alt peer; do
  case " $ROWS " in
    *" $engine-userinfo-session "* | *" $engine-auth-check "* | *" $engine-auth-rule "*) ;;
    *" scraped-userinfo-session "*) [[ $engine == ours ]] || continue ;;
    *) continue ;;
  esac
  say "bench: $engine: $CACHED_POOL logged-in sessions for the cached userinfo and auth-check rows"
  mint "$engine" 3 "$RT/minted-$engine.txt" 16
  head -n "$CACHED_POOL" "$RT/minted-$engine.txt" >"$RT/cached-$engine.txt"
  [[ $(wc -l <"$RT/cached-$engine.txt") -ge 16 ]] || die "$engine: could not log in (see logs)"
  # first userinfo of each: sgid-fcgi fetches, decrypts and keeps the profile
  while IFS=$'\t' read -r cookie route; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" ${route:+-H "X-Bench-Route: $route"} \
      "$(url_of "$engine")/api/userinfo")
    [[ $code == 200 ]] || die "$engine: warm-up userinfo returned $code"
  done <"$RT/cached-$engine.txt"
  # The auth-check row counts only 2xx as success: a session must pass the
  # check with its sub, and a cookie that is no session must get 401 (an
  # error in wrk's count), not a 200 that nginx answered without asking.
  for gw in check rule; do
    case " $ROWS " in *" $engine-auth-$gw "*) ;; *) continue ;; esac
    IFS=$'\t' read -r cookie _ <"$RT/cached-$engine.txt"
    hdrs=$(curl -s --max-time 5 -o /dev/null -D - -H "Cookie: $cookie" "$(url_of "$engine")/gw/$gw") || true
    sub=$(tr -d '\r' <<<"$hdrs" | awk 'tolower($1) == "x-bench-sub:" { print $2 }')
    [[ $hdrs == HTTP/1.1\ 200* && -n $sub ]] || die "$engine: the auth $gw of a logged-in session: ${hdrs%%$'\r'*}, sub '$sub'"
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "Cookie: ${cookie%%=*}=not-a-session" \
      "$(url_of "$engine")/gw/$gw") || true
    [[ $code == 401 ]] || die "$engine: the auth $gw of a cookie that is no session returned $code, not 401"
  done
done

stats0=$(sgid_stats)

# ---- the access rule's cost: A/B rounds (issue 23) -------------------------
# With both ours-auth-check (A) and ours-auth-rule (B) selected, they do not
# run in the reps below but in BENCH_RULE_ROUNDS rounds of their own, each
# row BENCH_RULE_SECS seconds, the two back to back in every round (A B, then
# B A in the next: a machine getting busier or quieter favours neither). A
# round's ratio B/A compares two runs a few seconds apart; a pair of rounds
# (A B, B A) cancels the place in the round; the verdict is on the median
# of the pairs' ratios, which one noisy round cannot move.
RULE_ROUNDS=${BENCH_RULE_ROUNDS:-10}
RULE_SECS=${BENCH_RULE_SECS:-5}
RULE_AB=0
[[ " $ROWS " == *" ours-auth-check "* && " $ROWS " == *" ours-auth-rule "* ]] && RULE_AB=1
((RULE_AB == 0)) || [[ -x $BUILD/bench/authz_speed ]] || die "$BUILD/bench/authz_speed is missing (make bench builds it)"
RULE_RES=$RT/rule-rounds.tsv
: >"$RULE_RES"
# rule_row_of NAME ROUND: "ops/s cpu-ms-per-request errors" of that run
rule_row_of() { awk -F'\t' -v n="$1" -v r="$2" '$1 == n && $2 == r { split($8, c, " "); print $3, c[1], $7 }' "$RES"; }
# The same two checks side by side: each round is one wrk run (BENCH_MODE=ab)
# whose requests alternate between /gw/check and /gw/rule on the same
# connections, each timed from its sending to its answer. Every moment's
# load on the machine, the load generator's own CPU included, then falls on
# both alike, and the CPU, shared among the requests in flight, gives each
# a time in proportion to its own cost: the ratio of their mean latencies
# (check over rule) is the ratio of the rates each would reach alone, as
# measured in the back-to-back rounds, without the seconds between them.
# BENCH_RULE_SIDE_ROUNDS rounds (6) of BENCH_RULE_SECS.
RULE_SIDE_ROUNDS=${BENCH_RULE_SIDE_ROUNDS:-6}
RULE_SIDE_RES=$RT/rule-side.tsv
: >"$RULE_SIDE_RES"
rule_side_by_side() {
  local round out=$RT/side.out
  for ((round = 1; round <= RULE_SIDE_ROUNDS; round++)); do
    sleep 1
    wrk_run "$out" "$RULE_SECS" ab "$(url_of ours)/gw/check" BENCH_POOL="$RT/cached-ours.txt" \
      BENCH_AB_A=/gw/check BENCH_AB_B=/gw/rule
    # round, check answers, check mean ms, check errors, rule answers, rule mean ms, rule errors
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$(field "$out" ab_a_n)" "$(field "$out" ab_a_mean_ms)" \
      "$(($(field "$out" ab_a_bad) + $(field "$out" sock_errors)))" "$(field "$out" ab_b_n)" \
      "$(field "$out" ab_b_mean_ms)" "$(field "$out" ab_b_bad)" >>"$RULE_SIDE_RES"
    say "$(tail -n1 "$RULE_SIDE_RES" | awk -F'\t' '{ printf "bench: side by side round %s: check %s x %s ms, rule %s x %s ms, errors %s/%s", $1, $2, $3, $5, $6, $4, $7 }')"
  done
}

# The rule's own CPU, measured apart from any load (authz_speed: the cache
# lookup and evaluation api.c runs on each check with a rule), for the
# report to hold against the check's pool CPU per request.
rule_speed() {
  local rule
  rule=$(sed -n "s/^ *bench *'\(.*\)';\$/\1/p" "$BENCH_DIR/nginx.conf.in")
  [[ -n $rule ]] || die "no rule \"bench\" in $BENCH_DIR/nginx.conf.in's map"
  "$BUILD/bench/authz_speed" "$rule" 1 >"$RT/authz-speed.txt" || die "authz_speed failed"
}
rule_rounds() {
  local round a b saved_d=$D first second
  D=$RULE_SECS
  for ((round = 1; round <= RULE_ROUNDS; round++)); do
    first=ours-auth-check second=ours-auth-rule
    ((round % 2 == 0)) && first=ours-auth-rule second=ours-auth-check
    run_row "$first" "$round"
    run_row "$second" "$round"
    a=$(rule_row_of ours-auth-check "$round") b=$(rule_row_of ours-auth-rule "$round")
    # round, order, check ops/s, check CPU ms, check errors, rule ops/s, rule CPU ms, rule errors
    printf '%s\t%s\t%s\t%s\n' "$round" "${first#ours-auth-}-first" "${a// /$'\t'}" "${b// /$'\t'}" >>"$RULE_RES"
  done
  D=$saved_d
}

# ---- the runs --------------------------------------------------------------
for ((rep = 1; rep <= REPS; rep++)); do
  for row in $ROWS; do
    ((RULE_AB)) && [[ $row == ours-auth-check || $row == ours-auth-rule ]] && continue
    run_row "$row" "$rep"
  done
done
((RULE_AB)) && rule_rounds
((RULE_AB)) && rule_side_by_side
((RULE_AB)) && rule_speed

stats1=$(sgid_stats)
sleep 1
RSS_OURS=""
for w in $(pool_workers); do RSS_OURS+="$(rss_kb "$w") "; done
RSS_PEER=""
for p in "${PEER_PIDS[@]}"; do RSS_PEER+="$(rss_kb "$p") "; done
RSS_SGID_SUP=$(rss_kb "$POOL_PID")

# ---- one worker's memory over 100 000 requests -----------------------------
# The rows spread their requests over WORKERS workers; the memory target is
# about one worker, so the pool is restarted with a single worker, which is
# loaded in 2-second runs (complete logins, auth-url, cached userinfo, in
# turn: every path is warm before the first reading past 10 000) until it has served BENCH_MEM_REQUESTS requests; its RSS is read
# after each run.
MEM_REQS=${BENCH_MEM_REQUESTS:-100000}
MEM_TRACK=""
if ((MEM_REQS > 0)); then
  say "bench: memory: one worker, until it has served $MEM_REQS requests"
  kill -TERM "$POOL_PID" 2>/dev/null || true
  wait "$POOL_PID" 2>/dev/null || true
  stopped "$POOL_PID"
  start_pool 1 "$POOL_THREADS"
  mem_worker=$(pool_workers | tr -d ' ')
  base=http://127.0.0.1:$PORT_OURS
  served=0 phase=0
  while ((served < MEM_REQS)); do
    case $((phase % 3)) in
      # a login is 4 requests, one of them (authorize) served by the stand-in
      0) wrk_run "$RT/mem.out" 2 login "$base/api/auth-url?icecream=Vanilla" ;;
      1) wrk_run "$RT/mem.out" 2 plain "$base/api/auth-url?icecream=Vanilla" ;;
      2) if [[ -s $RT/cached-ours.txt ]]; then
           wrk_run "$RT/mem.out" 2 cached "$base/api/userinfo" BENCH_POOL="$RT/cached-ours.txt"
         else
           wrk_run "$RT/mem.out" 2 plain "$base/api/auth-url?icecream=Chocolate"
         fi ;;
    esac
    n=$(field "$RT/mem.out" requests)
    (((phase % 3) == 0)) && n=$((n * 3 / 4))
    bad=$(($(field "$RT/mem.out" bad_status) + $(field "$RT/mem.out" sock_errors)))
    ((bad == 0)) || die "memory phase: $bad errors"
    served=$((served + n))
    phase=$((phase + 1))
    MEM_TRACK+="$served:$(rss_kb "$mem_worker") "
  done
  [[ $(pool_workers | tr -d ' ') == "$mem_worker" ]] || die "memory phase: the worker was replaced (crash?)"
fi

# ---- the report ------------------------------------------------------------
report() {
  awk -F'\t' -v rows="$ROWS" -v workers="$WORKERS" -v threads="$POOL_THREADS" -v maxin="$MAX_INFLIGHT" \
    -v alt="$ALT" -v cluster="$CLUSTER" -v redis_tls="$REDIS_TLS" -v dconns="$DELAY_CONNS" -v twork="$TRIVIAL_WORKERS" -v cores="$CORES" -v conns="$CONNS" -v d="$D" -v reps="$REPS" \
    -v dec="$RSA_DEC" -v dec256="$RSA_DEC256" -v sign="$RSA_SIGN" -v verify="$RSA_VERIFY" \
    -v dec_all="$RSA_DEC_ALL" -v sign_all="$RSA_SIGN_ALL" -v verify_all="$RSA_VERIFY_ALL" \
    -v rss_ours="$RSS_OURS" -v rss_peer="$RSS_PEER" -v rss_sup="$RSS_SGID_SUP" -v track="$RSS_TRACK" \
    -v sgidprocs="$SGID_PROCS" -v memtrack="$MEM_TRACK" -v rule_ab="$RULE_AB" '
  function med(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    if (n == 0) return 0
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function ratio(a, b) { return (b > 0 && a > 0) ? sprintf("%.2f", a / b) : "-" }
  # the peer row an ours row is held against: the sgID-far-away rows against ONE peer process
  function peer_of(r,   p) { p = r; if (r ~ /^ours-login-/) sub(/^ours-/, "peer1-", p); else sub(/^ours-/, "peer-", p); return p }
  function kv(s, k,   a, i, n) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
  {
    if ($10 != "") {
      rsecs[$1] = kv($10, "secs")
      if (kv($10, "hw") != "") { hw[$1] = hw[$1] " " kv($10, "hw"); pko[$1] = pko[$1] " " kv($10, "peak_open"); pkp[$1] = pkp[$1] " " kv($10, "peak_pss_kb")
        if (kv($10, "peak_open") > 0) ppi[$1] = ppi[$1] " " kv($10, "peak_pss_kb") / kv($10, "peak_open") }
    }
    rate[$1] = rate[$1] " " $3; p50[$1] = p50[$1] " " $4; p99[$1] = p99[$1] " " $5
    bad[$1] += $7; split($8, c, " ")
    for (i = 1; i <= 7; i++) cpu[$1, i] = cpu[$1, i] " " c[i]
    if ($9 != "") note[$1] = note[$1] (note[$1] == "" ? "" : "; ") $9
  }
  END {
    n = split(rows, R, " ")
    for (i = 1; i <= n; i++) { r = R[i]; mr[r] = med(rate[r]); m50[r] = med(p50[r]); m99[r] = med(p99[r]) }
    printf "\nsgid-fcgi benchmark: %d reps x %d s per row, %d connections, sgid-fcgi %d workers x %d threads (SGID_MAX_INFLIGHT %d), %d cores\n", reps, d, conns, workers, threads, maxin, cores
    printf "(medians over the reps; logins: per complete login, 4 HTTP requests; p50/p99 in ms;\n"
    printf " trivial_fcgi: %d single-threaded processes; -250ms/-2s rows: sgID that far away, %d connections, against ONE peer process%s)\n\n", twork, dconns, (alt != "" ? "; alt-*: a second pool, " alt : "")
    printf "%-24s %10s %9s %9s %10s %10s %10s %8s\n", "row", "ops/s", "p50", "p99", "x transp.", "x 1 RT", "x peer", "errors"
    for (i = 1; i <= n; i++) {
      r = R[i]; unit = (r ~ /login/) ? "logins" : "req"
      peer = peer_of(r)
      xp = (r ~ /^ours-/ && (peer in mr)) ? ratio(mr[r], mr[peer]) : "-"
      xt = ((r ~ /^ours-/ || r == "transport-redis") && ("transport" in mr)) ? ratio(mr[r], mr["transport"]) : "-"
      x1 = (r ~ /^ours-/ && ("transport-redis" in mr)) ? ratio(mr[r], mr["transport-redis"]) : "-"
      printf "%-24s %10.1f %9.2f %9.2f %10s %10s %10s %8d\n", r, mr[r], m50[r], m99[r], xt, x1, xp, bad[r]
    }
    printf "(x 1 RT: against transport-redis, the transport row plus one Redis SET per request)\n"
    if (("transport" in mr) && ("transport-redis" in mr) && mr["transport"] > 0) {
      printf "\none Redis round trip alone (transport-redis) reaches %.0f%% of transport: the 75%% target for\n", 100 * mr["transport-redis"] / mr["transport"]
      printf "auth-url and cached userinfo is %s here for any worker that makes one Redis round trip\n", (mr["transport-redis"] >= 0.75 * mr["transport"]) ? "within reach" : "OUT OF REACH"
      for (i = 1; i <= n; i++) { r = R[i]; if (r !~ /^ours-(auth-url|userinfo-session|auth-check|auth-rule)$/) continue
        printf "  %-22s %.0f%% of that bound, %.0f%% of transport\n", r, 100 * mr[r] / mr["transport-redis"], 100 * mr[r] / mr["transport"] }
      # a refused check (401) is a fast answer: with errors the rate means nothing
      if ("ours-auth-check" in mr) printf "  target auth-check (gateway: auth_request -> /api/auth, one GETEX): >= 90%% of the bound: %.0f%% %s\n", 100 * mr["ours-auth-check"] / mr["transport-redis"], (bad["ours-auth-check"] > 0 ? "NOT MET: " bad["ours-auth-check"] " errors (refused checks)" : mr["ours-auth-check"] >= 0.9 * mr["transport-redis"] ? "met" : "MISSED")
    }
    # the rule row is held against the same check without a rule (issue 23);
    # with both rows selected, rule_report below holds them round by round
    if (!rule_ab && ("ours-auth-rule" in mr) && ("ours-auth-check" in mr) && mr["ours-auth-check"] > 0) printf "\ntarget auth-rule (the same check with an access rule): >= 95%% of auth-check: %.1f%% %s\n", 100 * mr["ours-auth-rule"] / mr["ours-auth-check"], (bad["ours-auth-rule"] > 0 ? "NOT MET: " bad["ours-auth-rule"] " errors (refused checks)" : mr["ours-auth-rule"] >= 0.95 * mr["ours-auth-check"] ? "met" : "MISSED")
    printf "\np99 ours vs peer (target: below):"
    for (i = 1; i <= n; i++) { r = R[i]; if (r !~ /^ours-/) continue; peer = peer_of(r)
      if (peer in m99) printf "  %s %.1f/%.1f %s", substr(r, 6), m99[r], m99[peer], (m99[r] < m99[peer] ? "ok" : "MISS") }
    printf "\n\nCPU ms per operation, by process group (medians; ours = pool workers, sgid = stand-in, trivial = both trivial responders):\n"
    printf "%-24s %8s %8s %8s %8s %8s %8s %8s\n", "row", "ours", "nginx", "sgid", "redis", "peer", "trivial", "wrk"
    for (i = 1; i <= n; i++) { r = R[i]; printf "%-24s", r; for (k = 1; k <= 7; k++) printf " %8.3f", med(cpu[r, k]); printf "\n" }
    # RSA ceiling
    d1 = 1 / dec; v1 = 1 / verify; s1 = 1 / sign
    used = (workers < cores) ? workers : cores
    # what the ratios would be without the processes the rows share
    for (i = 1; i <= n; i++) for (k = 1; k <= 7; k++) mc[R[i], k] = med(cpu[R[i], k])
    for (i = 1; i <= n; i++) { r = R[i]; tot[r] = 0; for (k = 1; k <= 7; k++) tot[r] += mc[r, k] }
    printf "\nwhat the shared cores hide (from the CPU table):\n"
    for (i = 1; i <= n; i++) {
      r = R[i]; if (r !~ /^ours-/ || r ~ /-login-[0-9]/) continue
      peer = peer_of(r)
      if ((peer in mr) && mc[r, 1] > 0) printf "  %-22s sgid-fcgi CPU per op %.3f ms, peer %.3f ms: %.1fx less\n", r, mc[r, 1], mc[peer, 5], mc[peer, 5] / mc[r, 1]
    }
    if (("transport" in mr) && tot["transport"] > 0) for (i = 1; i <= n; i++) {
      r = R[i]; if (r !~ /^ours-(auth-url|userinfo-session|auth-check)/) continue
      b = tot[r] - mc[r, 1] + mc["transport", 6]
      if (b > 0) printf "  %-22s even with a worker as cheap as trivial_fcgi: at most %.0f%% of transport (the rest of its CPU: nginx %.3f, redis %.3f, wrk %.3f ms)\n", r, 100 * tot["transport"] / b, mc[r, 2], mc[r, 4], mc[r, 7]
    }
    if (("ours-login" in mr) && ("peer-login" in mr) && tot["ours-login"] > mc["ours-login", 3] && tot["peer-login"] > mc["peer-login", 3]) {
      ol = mr["ours-login"] * tot["ours-login"] / (tot["ours-login"] - mc["ours-login", 3])
      pl = mr["peer-login"] * tot["peer-login"] / (tot["peer-login"] - mc["peer-login", 3])
      printf "  logins with the stand-in'"'"'s CPU given back (a remote sgID): ours %.0f/s, peer %.0f/s, %.2fx\n", ol, pl, ol / pl
    }
    # ---- two pool shapes in one run (BENCH_ALT)
    na = 0
    for (i = 1; i <= n; i++) { r = R[i]; if (r !~ /^alt-/) continue; o = r; sub(/^alt-/, "ours-", o); if (o in mr) na++ }
    if (na > 0) {
      printf "\npool shapes in this run: ours %dx%d against alt %s (issue 11: ops/s no more than 5%% lower, worker CPU per op within 10%%):\n", workers, threads, alt
      printf "  %-22s %10s %10s %7s %9s %9s %7s %9s %9s\n", "row", "ours/s", "alt/s", "ratio", "ours p99", "alt p99", "", "ours CPU", "alt CPU"
      for (i = 1; i <= n; i++) {
        r = R[i]; if (r !~ /^alt-/) continue; o = r; sub(/^alt-/, "ours-", o); if (!(o in mr)) continue
        qr = (mr[r] > 0) ? mr[o] / mr[r] : 0; cr = (mc[r, 1] > 0) ? mc[o, 1] / mc[r, 1] : 0
        printf "  %-22s %10.1f %10.1f %7.3f %9.2f %9.2f %7s %9.3f %9.3f  cpu %+.0f%%  %s\n", substr(o, 6), mr[o], mr[r], qr, m99[o], m99[r], (qr >= 0.95 ? "ok" : "REGRESS"), mc[o, 1], mc[r, 1], 100 * (cr - 1), (cr <= 1.10 ? "ok" : "OVER")
      }
      if (redis_tls == 1) {
        printf "\nBENCH_REDIS_TLS: alt is the same pool on the same Redis over rediss://, ours over TCP (issue 24: >= 90%% of TCP):\n"
        for (i = 1; i <= n; i++) {
          r = R[i]; if (r !~ /^alt-/) continue; o = r; sub(/^alt-/, "ours-", o); if (!(o in mr) || mr[o] <= 0) continue
          printf "  %-22s TLS %10.1f/s, TCP %10.1f/s: %.0f%% %s\n", substr(o, 6), mr[r], mr[o], 100 * mr[r] / mr[o], (mr[r] >= 0.90 * mr[o] ? "met" : "MISSED")
        }
      }
      if (cluster == 1) {
        printf "\nBENCH_CLUSTER: alt is the same pool on a 3-primary Redis Cluster (issue 15: >= 95%% of one Redis):\n"
        for (i = 1; i <= n; i++) {
          r = R[i]; if (r !~ /^alt-/) continue; o = r; sub(/^alt-/, "ours-", o); if (!(o in mr) || mr[o] <= 0) continue
          printf "  %-22s cluster %10.1f/s, one Redis %10.1f/s: %.0f%% %s\n", substr(o, 6), mr[r], mr[o], 100 * mr[r] / mr[o], (mr[r] >= 0.95 * mr[o] ? "met" : "MISSED")
        }
      }
    }
    # ---- the same pool with /metrics scraped every second (issue 13)
    ns = 0
    for (i = 1; i <= n; i++) { r = R[i]; if (r !~ /^scraped-/) continue; o = r; sub(/^scraped-/, "ours-", o); if (o in mr) ns++ }
    if (ns > 0) {
      printf "\nmetrics: the ours pool with /metrics scraped every 1 s against unscraped (issue 13: under 3%% cost):\n"
      printf "  %-22s %10s %10s %7s %9s %9s\n", "row", "ours/s", "scraped/s", "ratio", "ours CPU", "scr. CPU"
      for (i = 1; i <= n; i++) {
        r = R[i]; if (r !~ /^scraped-/) continue; o = r; sub(/^scraped-/, "ours-", o); if (!(o in mr)) continue
        qr = (mr[o] > 0) ? mr[r] / mr[o] : 0
        printf "  %-22s %10.1f %10.1f %7.3f %9.3f %9.3f  %s\n", substr(o, 6), mr[o], mr[r], qr, mc[o, 1], mc[r, 1], (qr >= 0.97 ? "ok" : "OVER 3%")
      }
    }
    # ---- sgID far away
    nd = 0
    for (i = 1; i <= n; i++) if (R[i] ~ /-login-[0-9]/) nd++
    if (nd > 0) {
      printf "\nlogins with sgID far away (the stand-in waits on a timer before each token and userinfo answer;\n"
      printf "%d browsers; ours against ONE peer process; in-flight = token+userinfo calls open at the stand-in at once):\n", dconns
      printf "  %-18s %9s %9s %9s %7s %6s %6s %6s %9s %9s %9s  %s\n", "row", "logins/s", "p50 ms", "p99 ms", "x peer", "failed", "in-fl", "slots", "CPU cores", "all cores", "PSS/call", "bound by"
      for (i = 1; i <= n; i++) {
        r = R[i]; if (r !~ /-login-[0-9]/) continue
        grp = (r ~ /^peer1-/) ? 5 : 1
        busy = mc[r, grp] * mr[r] / 1000; all = tot[r] * mr[r] / 1000
        h = med(hw[r]); lim = (r ~ /^ours-/) ? maxin : 0
        fl = 0; m = split(note[r], a1, "; "); for (j = 1; j <= m; j++) { sub(/^failed=/, "", a1[j]); fl += a1[j] }
        # what holds the rate: the cores, the bulkhead slots, or the browsers (a closed loop: each always has one login going)
        why = "browsers (" dconns " at once)"
        if (all >= 0.9 * cores) why = "CPU (machine)"
        else if (grp == 5 && busy >= 0.9) why = "CPU (its one core)"
        else if (lim > 0 && h >= 0.95 * lim) why = "slots (SGID_MAX_INFLIGHT " lim ")"
        else if (h < 0.8 * dconns) why = "neither CPU nor slots: " (h < lim ? "below the slots" : "?")
        pp = (ppi[r] != "") ? sprintf("%.0f KB", med(ppi[r])) : "-"
        xp = (r ~ /^ours-/ && (peer_of(r) in mr)) ? ratio(mr[r], mr[peer_of(r)]) : "-"
        printf "  %-18s %9.1f %9.1f %9.1f %7s %6d %6d %6s %9.2f %9.2f %9s  %s\n", r, mr[r], m50[r], m99[r], xp, fl, h, (lim > 0 ? lim : "-"), busy, all, pp, why
      }
      printf "  (in-fl: the high-water mark, median over the reps; CPU cores: ours = the pool, peer = its process; all cores: every process of the stack;\n"
      printf "   PSS/call: PSS of the pool (supervisor + workers; the peer process for peer1) at the sample with the most calls open, divided by them)\n"
      for (i = 1; i <= n; i++) {
        r = R[i]; if (r !~ /^ours-login-[0-9]/) continue; p = peer_of(r); if (!(p in mr)) continue
        tgt = (r ~ /-250ms$/) ? 2 : 1
        printf "  target %s: ours >= %dx the peer: %.2fx %s\n", substr(r, 12), tgt, (mr[p] > 0 ? mr[r] / mr[p] : 0), ((mr[p] > 0 && mr[r] >= tgt * mr[p]) ? "met" : "MISSED")
      }
      for (i = 1; i <= n; i++) {
        r = R[i]; if (pkp[r] == "") continue
        printf "  %-18s peak samples (open calls:PSS KB):", r; m = split(pko[r], a1, " "); split(pkp[r], a2, " ")
        for (j = 1; j <= m; j++) printf " %d:%d", a1[j], a2[j]; printf "\n"
      }
    }
    printf "\nRSA-2048 on one core (ops per CPU-second, EVP as src/crypto.c): OAEP-SHA1 decrypt %d, OAEP-256 decrypt %d, RS256 verify %d, RS256 sign %d\n", dec, dec256, verify, sign
    printf "RSA-2048 on all %d cores at once (ops per second, summed): OAEP-SHA1 decrypt %d, RS256 verify %d, RS256 sign %d\n", cores, dec_all, verify_all, sign_all
    # the ceiling: the cores sgid-fcgi can use doing nothing but its RSA work
    if (used >= cores && dec_all > 0 && verify_all > 0 && sign_all > 0) {
      ceil_u = dec_all; ceil_l = 1 / (1 / dec_all + 1 / verify_all); ceil_lc = 1 / (1 / dec_all + 1 / verify_all + 1 / sign_all)
    } else {
      ceil_u = used / d1; ceil_l = used / (d1 + v1); ceil_lc = cores / (d1 + v1 + s1)
    }
    printf "ceiling from RSA alone, %d core(s) of sgid-fcgi: uncached userinfo %d/s (1 decrypt), logins %d/s (1 decrypt + 1 verify)\n", used, ceil_u, ceil_l
    printf "  with the stand-in'"'"'s RS256 signature on the same %d cores: logins %d/s\n", cores, ceil_lc
    if ("ours-userinfo-fresh" in mr) printf "  uncached userinfo: %.0f%% of the RSA ceiling (target 70%%)\n", 100 * mr["ours-userinfo-fresh"] / ceil_u
    if ("ours-login" in mr) printf "  logins: %.0f%% of the RSA ceiling, %.0f%% of the co-located one (target 70%%)\n", 100 * mr["ours-login"] / ceil_l, 100 * mr["ours-login"] / ceil_lc
    if (("ours-userinfo-fresh", 1) in cpu) {
      w = med(cpu["ours-userinfo-fresh", 1]); if (w > 0) printf "  sgid-fcgi CPU per uncached userinfo %.3f ms, of which the RSA decryption is %.3f ms (%.0f%%): with %d cores to itself %.0f/s\n", w, 1000 * d1, 100000 * d1 / w, used, 1000 * used / w
    }
    if (("ours-login", 1) in cpu) {
      w = med(cpu["ours-login", 1]); if (w > 0) printf "  sgid-fcgi CPU per login %.3f ms, of which RSA (decrypt + verify) is %.3f ms (%.0f%%): with %d cores to itself %.0f/s\n", w, 1000 * (d1 + v1), 100000 * (d1 + v1) / w, used, 1000 * used / w
      s = med(cpu["ours-login", 3]); printf "  stand-in CPU per login %.3f ms on %d process(es): capacity about %d logins/s if it had its cores to itself\n", s, sgidprocs, (s > 0 ? 1000 * sgidprocs / s : 0)
    }
    printf "\nRSS after the load: sgid-fcgi workers (KB): %s; supervisor %s KB; peer processes (KB): %s\n", rss_ours, rss_sup, rss_peer
    printf "sgid-fcgi worker RSS along the run (requests per worker:max RSS KB): %s\n", track
    if (memtrack != "") {
      m = split(memtrack, mt, " "); base_n = 0; base_kb = 0
      for (i = 1; i <= m; i++) { split(mt[i], q, ":"); if (!base_n && q[1] >= 10000) { base_n = q[1]; base_kb = q[2] } }
      split(mt[m], q, ":")
      printf "one worker alone (requests served:RSS KB): %s\n", memtrack
      printf "  RSS after %d requests: %d KB (target < 8192 KB, %s); from %d to %d requests: %+d KB\n", q[1], q[2], (q[2] > 0 && q[2] < 8192 ? "met" : "MISSED"), base_n, q[1], q[2] - base_kb
    }
    for (i = 1; i <= n; i++) if (note[R[i]] != "") printf "note %s: %s\n", R[i], note[R[i]]
    printf "note: the peer has no profile cache (as the official example): its userinfo-session row fetches from sgID and decrypts on every call\n"
  }' "$RES"
}

# rule_report: the A/B rounds, each round's ratio, their median; the side
# by side rounds, likewise; the rule alone (authz_speed) against the
# check's pool CPU per request; and the verdict (issue 23: the check with a
# rule within 5 % of the same check without one), on the side by side
# median when those rounds ran, else on the back-to-back pairs' median.
rule_report() {
  local speed=""
  [[ -s $RT/authz-speed.txt ]] && speed=$(awk '{ sub("op=", "", $1); sub("ns_per_op=", "", $4); printf "%s=%s ", $1, $4 }' "$RT/authz-speed.txt")
  awk -F'\t' -v secs="$RULE_SECS" -v conns="$CONNS" -v speed="$speed" -v side_file="$RULE_SIDE_RES" '
  function med(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  FILENAME == side_file { ns2++; san[ns2] = $2; sam[ns2] = $3; sbn[ns2] = $5; sbm[ns2] = $6
    sq[ns2] = ($6 > 0) ? $3 / $6 : 0; sbad += $4 + $7; next }
  { n++; rd[n] = $1; ord[n] = $2; ca[n] = $3; cc[n] = $4; ce[n] = $5; ra[n] = $6; rc[n] = $7; re[n] = $8
    q[n] = (ca[n] > 0) ? ra[n] / ca[n] : 0; cq[n] = (cc[n] > 0) ? rc[n] / cc[n] : 0; bad += ce[n] + re[n] }
  END {
    if (n == 0) exit
    printf "\naccess rule cost (issue 23): ours-auth-rule (the check with the nginx map'"'"'s rule \"bench\") against\n"
    printf "ours-auth-check (the same check, no rule)\n"
    printf "back to back: %d rounds of %d s per row, %d connections\n", n, secs, conns
    printf "  %5s %12s %12s %12s %8s %12s %12s %8s\n", "round", "order", "check/s", "rule/s", "ratio", "check CPU", "rule CPU", "CPU +"
    for (i = 1; i <= n; i++) {
      printf "  %5d %12s %12.1f %12.1f %7.1f%% %9.3f ms %9.3f ms %+7.1f%%\n", rd[i], ord[i], ca[i], ra[i], 100 * q[i], cc[i], rc[i], 100 * (cq[i] - 1)
      tq[i] = q[i]; tcq[i] = cq[i]; ta[i] = ca[i]; tr[i] = ra[i]; tcc[i] = cc[i]
    }
    m = med(tq, n); mc = med(tcq, n)
    printf "  median of the rounds'"'"' ratios: %.1f%% (check %.1f/s, rule %.1f/s medians); pool CPU per request %+.1f%%\n", 100 * m, med(ta, n), med(tr, n), 100 * (mc - 1)
    # a row may gain from its place in a round (first or second): a pair of
    # rounds (A B, then B A) holds each row once in each place, and the
    # geometric mean of its two ratios cancels that
    np = 0; line = ""
    for (i = 1; i + 1 <= n; i += 2) { np++; pq[np] = sqrt(q[i] * q[i + 1]); line = line sprintf(" %.1f%%", 100 * pq[np]) }
    mp = (np > 0) ? med(pq, np) : m
    if (np > 0) printf "  pairs of rounds (A B, B A: the place in the round cancelled):%s; median %.1f%%\n", line, 100 * mp
    verdict = mp; basis = "back to back, the pairs'"'"' median"; vbad = bad
    if (ns2 > 0) {
      printf "side by side: %d rounds of %d s, %d connections, each alternating check and rule request by request;\n", ns2, secs, conns
      printf "ratio = check'"'"'s mean latency / rule'"'"'s (the rule'"'"'s rate against the check'"'"'s, at the same load)\n"
      printf "  %5s %10s %12s %10s %12s %8s\n", "round", "checks", "check mean", "rules", "rule mean", "ratio"
      for (i = 1; i <= ns2; i++) printf "  %5d %10d %9.3f ms %10d %9.3f ms %7.1f%%\n", i, san[i], sam[i], sbn[i], sbm[i], 100 * sq[i]
      for (i = 1; i <= ns2; i++) tsq[i] = sq[i]
      ms = med(tsq, ns2)
      printf "  median of the rounds'"'"' ratios: %.1f%%\n", 100 * ms
      if (sbad > 0) printf "  (errors: %d non-200 answers or socket errors)\n", sbad
      verdict = ms; basis = "side by side, the rounds'"'"' median"; vbad = sbad
    }
    # the rule alone, timed apart (authz_speed), against the check'"'"'s pool CPU
    split(speed, sp, " "); for (k in sp) { split(sp[k], kv, "="); nsop[kv[1]] = kv[2] }
    cpu_us = 1000 * med(tcc, n)
    if (("bench_rule" in nsop) && cpu_us > 0) {
      printf "the rule alone (authz_speed, CPU time): %.0f ns per check, cached (%.2f%% of the check'"'"'s %.1f us of pool CPU);\n", nsop["bench_rule"], nsop["bench_rule"] / (10 * cpu_us), cpu_us
      printf "  the example'"'"'s agency rule (a JSON path into a stringified pocdex) %.0f ns (%.2f%%); compiled anew (a cache miss) %.0f ns\n", nsop["agency_path"], nsop["agency_path"] / (10 * cpu_us), nsop["compile"]
    }
    if (vbad > 0) printf "target auth-rule within 5%% of auth-check: NOT MET: %d errors (refused checks)\n", vbad
    else printf "target auth-rule within 5%% of auth-check (%s >= 95%%): %.1f%% %s\n", basis, 100 * verdict, (verdict >= 0.95 ? "met" : "MISSED")
  }' "$RULE_RES" "$RULE_SIDE_RES"
}

{
  report
  rule_report
  printf '\nsgID stand-in during the timed rows (connections opened / requests served), from its counters:\n'
  jq -n --argjson a "$stats0" --argjson b "$stats1" -r '
    def d(k): (($b | getpath(k)) // 0) - (($a | getpath(k)) // 0);
    "  connections: sgid-fcgi \(d(["connections","by_client","sgid-fcgi"])), openid-client (peer) \(d(["connections","by_client","openid-client"])), nginx (authorize) \(d(["connections","by_client","other"]))",
    "  requests: authorize \(d(["requests","authorize"])), token \(d(["requests","token"])), userinfo \(d(["requests","userinfo"])), jwks \(d(["requests","jwks"]))",
    "  requests by client: sgid-fcgi \(d(["requests_by_client","sgid-fcgi"])), openid-client (peer) \(d(["requests_by_client","openid-client"]))"'
  printf 'total time %d s\n' $(($(date +%s) - t_start))
} | tee "$OUT_DIR/last-run.txt"
say "bench: report also in ${OUT_DIR#"$ROOT"/}/last-run.txt"
