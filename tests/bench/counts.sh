#!/usr/bin/env bash
# `make bench-counts`: the work sgid-fcgi does per request, endpoint by
# endpoint (issue 6, item 3). Starts a private stack (lib.sh) with ONE worker,
# so every request lands on the process being watched, drives BENCH_COUNT_N
# sequential requests per endpoint through nginx with curl, and prints:
#
#   redis    commands per request, from redis-cli MONITOR (command names only)
#   syscalls per request in the worker, from strace -c -f -p WORKER
#   sgID     TCP connections the worker opened to the stand-in, and its requests
#   then, with the worker restarted under valgrind --tool=callgrind:
#   allocs   malloc + calloc + realloc calls per request (callgrind call counts)
#   Ir       instructions per request, and the top functions by own instructions
#
# Endpoints: auth-url; redirect (the token exchange: each on a login attempt of
# its own); userinfo-fresh (the first userinfo of a session: sgID fetch and
# decryption); userinfo-session (later calls, from the session); logout; health.
#
# Environment: BENCH_COUNT_N=100, BENCH_CALLGRIND_N=20, BENCH_TOP=12,
# BENCH_PORT=18080 (the same ports as run.sh: the two cannot run at once).
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${BENCH_COUNT_N:-100}
NCG=${BENCH_CALLGRIND_N:-20}
TOP=${BENCH_TOP:-12}
API=http://127.0.0.1:$PORT_OURS

ENDPOINTS=(auth-url redirect userinfo-fresh userinfo-session logout health)

# callgrind dump of one endpoint: the file whose "desc: Trigger" names it
cg_file() { { grep -l "^desc: Trigger: dump $1\$" "$RT"/cg."$WORKER".* 2>/dev/null || true; } | head -n1; }

# Calls to the allocator in a callgrind dump (names may be compressed).
cg_allocs() {
  awk '
    /^c?fn=\(/ {
      id = $0; sub(/^c?fn=/, "", id); name = id
      if (match(id, /^\([0-9]+\) /)) { key = substr(id, 1, RLENGTH - 1); name = substr(id, RLENGTH + 1); names[key] = name }
      else { key = id; name = names[key] }
      if ($0 ~ /^cfn=/) callee = name
      next
    }
    /^calls=/ { split($0, c, /[= ]/); if (callee == "malloc" || callee == "calloc" || callee == "realloc") n[callee] += c[2]; callee = ""; next }
    END { printf "%d %d %d", n["malloc"], n["calloc"], n["realloc"] }' "$1"
}

# ======================= report =============================================
report() {
  printf '\nsgid-fcgi: work per request (%d requests per endpoint in phase A, %d under callgrind)\n\n' "$N" "$NCG"
  printf '%-18s %12s %-34s %10s %12s %10s %12s\n' endpoint "redis/req" "redis commands (count)" "sys/req" "sgID conn/req" "allocs/req" "Ir/req"
  for e in "${ENDPOINTS[@]}"; do
    # MONITOR lines: 1700000000.123456 [0 unix:/...] "GETEX" "sgid:s:..." ...
    cmds=$(awk -F'"' 'NF > 2 { print toupper($2) }' "$RT/$e.monitor" | sort | uniq -c | awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $2, $1 }')
    ncmd=$(awk -F'"' 'NF > 2' "$RT/$e.monitor" | wc -l)
    nsys=$(awk '$NF == "total" { print $4 }' "$RT/$e.strace")
    read -r conns sreqs <"$RT/$e.sgid"
    f=$(cg_file "$e")
    allocs="-" ir="-"
    if [[ -n $f ]]; then
      read -r m c r <<<"$(cg_allocs "$f")"
      allocs=$(awk -v a="$m" -v b="$c" -v d="$r" -v n="$NCG" 'BEGIN { printf "%.1f", (a + b + d) / n }')
      ir=$(awk '/^summary:/ { print $2 }' "$f" | awk -v n="$NCG" '{ printf "%.0f", $1 / n }')
    fi
    printf '%-18s %12s %-34s %10s %12s %10s %12s\n' "$e" \
      "$(awk -v a="$ncmd" -v n="$N" 'BEGIN { printf "%.2f", a / n }')" "${cmds:-none}" \
      "$(awk -v a="${nsys:-0}" -v n="$N" 'BEGIN { printf "%.1f", a / n }')" \
      "$(awk -v a="$conns" -v b="$sreqs" -v n="$N" 'BEGIN { printf "%.2f (%d req)", a / n, b }')" "$allocs" "$ir"
  done
  printf '\nsyscalls per request in the worker (strace -c), top 8 per endpoint:\n'
  for e in "${ENDPOINTS[@]}"; do
    printf '  %-17s' "$e"
    awk -v n="$N" '/^[ ]*[0-9.]+[ ]+[0-9.]+[ ]+[0-9]+[ ]+[0-9]+/ && $NF != "total" {
      calls = $4; name = $NF; printf "%s %.1f\n", name, calls / n }' "$RT/$e.strace" |
      sort -k2 -n -r | head -n 8 | awk '{ printf " %s %s", $1, $2 } END { printf "\n" }'
  done
  # (frames that were on the stack at the dump show 100%: skipped)
  annotate() { # FILE inclusive(yes|no) TOP FILTER
    callgrind_annotate --inclusive="$2" --threshold=100 "$1" 2>/dev/null |
      awk -v top="$3" -v filt="$4" '/^ *[0-9,]+ +\( *[0-9.]+%\) / && !/PROGRAM TOTALS/ && !/\(100\.0%\)/ && $0 ~ filt && n < top {
        pct = $0; sub(/^[^(]*\( */, "", pct); sub(/\).*$/, "", pct)
        fn = $0; sub(/^[^)]*\) +/, "", fn); sub(/ \[.*$/, "", fn); sub(/^.*\/src\//, "src/", fn)
        if (seen[fn]++) next
        printf "     %6s  %s\n", pct, fn; n++ }'
  }
  printf '\ntop functions (callgrind; %% of the endpoint'"'"'s instructions):\n'
  for e in "${ENDPOINTS[@]}"; do
    f=$(cg_file "$e")
    [[ -n $f ]] || continue
    printf '  -- %s: own instructions\n' "$e"
    annotate "$f" no "$TOP" .
    printf '  -- %s: inclusive, sgid-fcgi functions below handle_one\n' "$e"
    annotate "$f" yes "$TOP" 'src/' | grep -v -E 'src/(server\.c:server_run|supervisor\.c|main\.c)' || true
  done
}

# counts.sh --report DIR: print the report again from a runtime dir kept
# with BENCH_KEEP=1.
if [[ ${1:-} == --report ]]; then
  RT=${2:?usage: counts.sh --report DIR}
  read -r N NCG WORKER <"$RT/params"
  report
  exit 0
fi

bench_need_tools nginx redis-server redis-cli node curl jq strace valgrind callgrind_annotate callgrind_control
[[ -x $BUILD/sgid-fcgi ]] || die "$BUILD/sgid-fcgi is missing (make)"

bench_init
start_redis
start_fake_sgid 1
start_pool 1
start_nginx
curl -sf "$API/api/health" >/dev/null || die "/api/health failed"

# batch NAME FILE: one curl process, sequential requests on one keep-alive
# connection. FILE lines: "PATH<TAB>COOKIE". Writes $RT/NAME.res lines:
# "status<TAB>set-cookie<TAB>location" and bodies to $RT/NAME.body.<i>.
batch() {
  local name=$1 file=$2 i=0 path cookie
  : >"$RT/$name.cfg"
  while IFS=$'\t' read -r path cookie; do
    i=$((i + 1))
    {
      [[ $i -gt 1 ]] && echo next
      printf 'url = "%s%s"\n' "$API" "$path"
      [[ -n $cookie ]] && printf 'header = "Cookie: %s"\n' "$cookie"
      printf 'output = "%s/%s.body.%d"\n' "$RT" "$name" "$i"
      printf 'write-out = "%%{http_code}\\t%%header{set-cookie}\\t%%header{location}\\n"\n'
      printf 'silent\nmax-time = 30\n'
    } >>"$RT/$name.cfg"
  done <"$file"
  curl -K "$RT/$name.cfg" >"$RT/$name.res" 2>"$RT/$name.err" || true
}
first_cookie() { sed -E 's/^([^;]*).*/\1/'; }

# The login steps before each measured endpoint, collected as request lists.
prepare_logins() { # COUNT PREFIX: PREFIX.auth (auth-url list), then .redirect, .fresh, .session, .logout
  local n=$1 p=$2 i
  for ((i = 0; i < n; i++)); do printf '/api/auth-url?icecream=Vanilla\t\n'; done >"$p.auth"
}
after_auth() { # PREFIX: reads PREFIX-auth results, drives authorize, writes PREFIX.redirect
  local p=$1 i=0 code sc loc url cookie
  : >"$p.redirect"
  while IFS=$'\t' read -r code sc loc; do
    i=$((i + 1))
    [[ $code == 200 ]] || die "auth-url returned $code"
    cookie=$(first_cookie <<<"$sc")
    url=$(jq -r .url "$RT/$(basename "$p")-auth.body.$i")
    loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$API${url#http://127.0.0.1:"$PORT_SGID"}")
    printf '%s\t%s\n' "${loc#"$API"}" "$cookie" >>"$p.redirect"
  done <"$RT/$(basename "$p")-auth.res"
}
after_redirect() { # PREFIX: writes PREFIX.userinfo and PREFIX.logout from the new session cookies
  local p=$1 code sc loc
  : >"$p.userinfo"
  : >"$p.logout"
  while IFS=$'\t' read -r code sc loc; do
    [[ $code == 302 && $loc == */logged-in ]] || die "redirect returned $code $loc"
    printf '/api/userinfo\t%s\n' "$(first_cookie <<<"$sc")" >>"$p.userinfo"
    printf '/api/logout\t%s\n' "$(first_cookie <<<"$sc")" >>"$p.logout"
  done <"$RT/$(basename "$p")-redirect.res"
}
check_all() { # NAME STATUS
  local bad
  bad=$(awk -F'\t' -v s="$2" '$1 != s' "$RT/$1.res" | wc -l)
  ((bad == 0)) || die "$1: $bad responses were not $2 (first: $(awk -F'\t' -v s="$2" '$1 != s { print; exit }' "$RT/$1.res"))"
}

# run_phase NAME LISTFILE EXPECTED_STATUS HOOK: the measured batch, with

# ======================= phase A: Redis, syscalls, sgID =====================
WORKER=$(pool_workers | awk '{ print $1 }')
[[ -n $WORKER ]] || die "no worker"
say "counts: worker pid $WORKER, $N requests per endpoint"
P=$RT/a
prepare_logins "$N" "$P"
for ((i = 0; i < N; i++)); do printf '/api/health\t\n'; done >"$P.health"

watch_start() { # NAME
  stats_before=$(sgid_stats)
  redis-cli -s "$RT/redis.sock" MONITOR >"$RT/$1.monitor" 2>/dev/null &
  MON_PID=$!
  started monitor "$MON_PID"
  strace -c -f -p "$WORKER" -o "$RT/$1.strace" 2>/dev/null &
  STRACE_PID=$!
  started strace "$STRACE_PID"
  sleep 0.5
}
watch_stop() { # NAME
  sleep 0.3
  kill -INT "$STRACE_PID" 2>/dev/null || true
  wait "$STRACE_PID" 2>/dev/null || true
  stopped "$STRACE_PID"
  kill -TERM "$MON_PID" 2>/dev/null || true
  wait "$MON_PID" 2>/dev/null || true
  stopped "$MON_PID"
  jq -n --argjson a "$stats_before" --argjson b "$(sgid_stats)" -r '
    def d(k): (($b | getpath(k)) // 0) - (($a | getpath(k)) // 0);
    "\(d(["connections","by_client","sgid-fcgi"])) \(d(["requests_by_client","sgid-fcgi"]))"' >"$RT/$1.sgid"
}

measure() { # NAME LIST STATUS
  watch_start "$1"
  batch "$1" "$2"
  watch_stop "$1"
  check_all "$1" "$3"
}

measure auth-url "$P.auth" 200
mv "$RT/auth-url.res" "$RT/a-auth.res"
for ((i = 1; i <= N; i++)); do mv "$RT/auth-url.body.$i" "$RT/a-auth.body.$i"; done
after_auth "$P"
measure redirect "$P.redirect" 302
cp "$RT/redirect.res" "$RT/a-redirect.res"
after_redirect "$P"
measure userinfo-fresh "$P.userinfo" 200
measure userinfo-session "$P.userinfo" 200
measure logout "$P.logout" 200
measure health "$P.health" 200

# ======================= phase B: callgrind =================================
say "counts: restarting the worker under callgrind ($NCG requests per endpoint)"
kill -TERM "$POOL_PID"
wait "$POOL_PID" 2>/dev/null || true
stopped "$POOL_PID"
ours_env
(cd "$RT/work" && exec "${OURS_ENV[@]}" valgrind --tool=callgrind --trace-children=yes \
  --callgrind-out-file="$RT/cg.%p" "$BUILD/sgid-fcgi" --listen "unix:$RT/ours.sock" --workers 1) \
  >"$RT/ours-cg.log" 2>&1 &
POOL_PID=$!
started sgid-fcgi-callgrind "$POOL_PID"
wait_for 60 "the pool under callgrind" pool_has 1
WORKER=$(pool_workers | awk '{ print $1 }')
wait_for 60 "the worker under callgrind" curl -sf --max-time 20 "$API/api/health"
# warm: the first token exchange fetches the JWKS; not part of the counts
Q=$RT/b
prepare_logins 2 "$Q"
batch b-auth "$Q.auth"
after_auth "$Q"
batch b-redirect "$Q.redirect"
after_redirect "$Q"
batch b-warm "$Q.userinfo"

prepare_logins "$NCG" "$Q"
for ((i = 0; i < NCG; i++)); do printf '/api/health\t\n'; done >"$Q.health"
cg_measure() { # NAME LIST STATUS
  callgrind_control -z "$WORKER" >/dev/null
  batch "cg-$1" "$2"
  callgrind_control -d "$1" "$WORKER" >/dev/null
  check_all "cg-$1" "$3"
}
cg_measure auth-url "$Q.auth" 200
cp "$RT/cg-auth-url.res" "$RT/b-auth.res"
for ((i = 1; i <= NCG; i++)); do cp "$RT/cg-auth-url.body.$i" "$RT/b-auth.body.$i"; done
after_auth "$Q"
cg_measure redirect "$Q.redirect" 302
cp "$RT/cg-redirect.res" "$RT/b-redirect.res"
after_redirect "$Q"
cg_measure userinfo-fresh "$Q.userinfo" 200
cg_measure userinfo-session "$Q.userinfo" 200
cg_measure logout "$Q.logout" 200
cg_measure health "$Q.health" 200

echo "$N $NCG $WORKER" >"$RT/params"
report | tee "$BUILD/bench/counts-last-run.txt"
mkdir -p "$BUILD/bench/callgrind"
cp "$RT"/cg."$WORKER".* "$BUILD/bench/callgrind/" 2>/dev/null || true
say "counts: report also in ${BUILD#"$ROOT"/}/bench/counts-last-run.txt; callgrind dumps in ${BUILD#"$ROOT"/}/bench/callgrind/"
