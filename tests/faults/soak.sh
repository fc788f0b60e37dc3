#!/usr/bin/env bash
# (i) Soak: mixed traffic across every endpoint for SOAK_SECONDS (default 180;
# tests/faults/run.sh uses 20 with FAULTS_QUICK=1), with each worker's VmRSS
# sampled every SOAK_SAMPLE_S seconds from /proc/PID/status. Traffic: health,
# auth-url, userinfo of existing sessions, whole logins through MockPass
# (auth-url, authorize, redirect, userinfo from sgID, userinfo from the
# session, logout, userinfo 401) and refused requests (400, 401, 404, 405,
# preflight, redirect without a login). Asserts zero errors, no 200 with
# wrong data, the same workers throughout, and no RSS growth after warm-up
# (the first SOAK_WARMUP_PCT % of the run) beyond SOAK_TOLERANCE_KB per worker.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin soak

DURATION=${SOAK_SECONDS:-180}
SAMPLE_S=${SOAK_SAMPLE_S:-2}
WARMUP_PCT=${SOAK_WARMUP_PCT:-30}
TOLERANCE_KB=${SOAK_TOLERANCE_KB:-256}
N=${SOAK_WORKERS:-4}
CONC=${SOAK_CONCURRENCY:-6}
for v in DURATION SAMPLE_S WARMUP_PCT TOLERANCE_KB N CONC; do
  [[ ${!v} =~ ^[0-9]+$ ]] || setup "$v is a number (${!v})" false
done
((DURATION >= 10 && DURATION <= 3600)) || setup "SOAK_SECONDS between 10 and 3600" false

# warn: one line per request at info would be the bulk of the disk I/O.
f_stack mockpass "$N" LOG_LEVEL=warn
T=$STACK_RT
# The sessions' users: MockPass's picker personas but its default one, whom
# the soak's whole logins use; 48 logins over 30 users stay far below
# SESSION_MAX_PER_USER (20), past which a user's oldest session would end.
f_mockpass_personas | grep -v '^S9812379B' >"$T/personas.tsv"
# The sessions come from a burst 4 x as wide as the soak's clients: a
# worker's request threads pay their first sgID call (their own curl
# buffers, connection, stack pages) once, when a new peak of calls at once
# calls a thread from standby that never ran one; a peak first reached
# inside the measured span would read as growth (a record can fall late
# in any run), so the warm-up reaches a peak the soak never passes.
f_load logins --api "$API" --count 48 --concurrency $((CONC * 4)) --prefix soak --userinfo --personas "$T/personas.tsv" \
  --out "$T/sessions.tsv" >/dev/null
setup "48 sessions created" test "$(wc -l <"$T/sessions.tsv")" -eq 48

mapfile -t workers < <(f_pool_workers pool)
sup=${STACK_PID[pool]}
note "soak: $DURATION s, $CONC clients, $N workers (${workers[*]}), RSS every $SAMPLE_S s, warm-up $WARMUP_PCT %, tolerance $TOLERANCE_KB KiB"

f_load run --base "$API" --mix health=2,auth-url=2,userinfo=3,login=1,noise=1 --sessions "$T/sessions.tsv" \
  --concurrency "$CONC" --seconds "$DURATION" --max 10000000 --timeout 20000 --frontend "$FRONTEND" \
  --json "$T/load.json" >/dev/null &
load=$!

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
t0=$(f_now_ms)
: >"$T/rss.tsv"
while stack_alive "$load"; do
  t=$(($(f_now_ms) - t0))
  for p in "${workers[@]}" "$sup"; do printf '%s\t%s\t%s\n' "$t" "$p" "$(rss_kb "$p")" >>"$T/rss.tsv"; done
  # Sleep in small steps so the loop ends with the load.
  for ((k = 0; k < SAMPLE_S * 10 && $(kill -0 "$load" 2>/dev/null && echo 1 || echo 0); k++)); do sleep 0.1; done
done
wait "$load" || true

note "traffic: $(jq -c '{total, rps, unexpected, wrong, lat}' "$T/load.json")"
note "by endpoint: $(jq -c '.by_ep | map_values(.by_status)' "$T/load.json")"
check "soak: zero errors ($(jqv "$T/load.json" .unexpected) unexpected answers of $(jqv "$T/load.json" .total))" \
  test "$(jqv "$T/load.json" .unexpected)" -eq 0
check "soak: no 200 with wrong data" test "$(jqv "$T/load.json" .wrong)" -eq 0
check "soak: whole logins ran ($(jqv "$T/load.json" '.by_ep["login.redirect"].total // 0'))" \
  test "$(jqv "$T/load.json" '.by_ep["login.redirect"].total // 0')" -gt 0
now=$(f_pool_workers pool | sort | tr '\n' ' ')
check "soak: the same $N workers from start to end" test "$now" == "$(printf '%s\n' "${workers[@]}" | sort | tr '\n' ' ')"
check "soak: no error lines in the app log ($(f_log_count pool 'level=error'))" test "$(f_log_count pool 'level=error')" -eq 0

# Per process: samples after the warm-up; growth = last third's mean minus the
# first third's, and the least-squares slope over the whole post-warm-up span.
# The largest single rise between two samples is forgiven once: a worker's
# request thread pays its first use (stack pages, buffers, a connection)
# once, as one step (a CI run: 8020 KiB flat, one step of 476 KiB at 12.8 s,
# flat again); a leak rises again and again, and fails all the same.
warm_ms=$((DURATION * 10 * WARMUP_PCT))
awk -F'\t' -v w="$warm_ms" '
  $1 >= w && $3 > 0 { n[$2]++; t[$2, n[$2]] = $1; r[$2, n[$2]] = $3 }
  END {
    for (p in n) {
      k = n[p]; if (k < 3) { printf "%s\t%d\tNA\tNA\tNA\tNA\n", p, k; continue }
      third = int(k / 3); a = 0; b = 0
      for (i = 1; i <= third; i++) a += r[p, i]
      for (i = k - third + 1; i <= k; i++) b += r[p, i]
      st = 0; sr = 0; for (i = 1; i <= k; i++) { st += t[p, i]; sr += r[p, i] }
      mt = st / k; mr = sr / k; num = 0; den = 0
      for (i = 1; i <= k; i++) { num += (t[p, i] - mt) * (r[p, i] - mr); den += (t[p, i] - mt) ^ 2 }
      slope = den > 0 ? num / den * 60000 : 0
      step = 0; for (i = 2; i <= k; i++) if (r[p, i] - r[p, i - 1] > step) step = r[p, i] - r[p, i - 1]
      g = b / third - a / third
      printf "%s\t%d\t%d\t%d\t%.0f\t%.1f\t%d\t%.0f\n", p, k, r[p, 1], r[p, k], g, slope, step, (g > step ? g - step : 0)
    }
  }' "$T/rss.tsv" | sort >"$T/rss-summary.tsv"
# columns: pid samples first_kb last_kb growth_kb slope_kb_per_min largest_step_kb growth_past_it_kb
while IFS=$'\t' read -r p k first last growth slope step net; do
  role=worker
  [[ $p == "$sup" ]] && role=supervisor
  note "RSS $role $p: $k samples after warm-up, $first -> $last KiB, growth ${growth} KiB (last third - first third), trend ${slope} KiB/min, largest step ${step:-NA} KiB"
  if [[ $growth == NA ]]; then
    not_ok "soak: $role $p has too few RSS samples after warm-up ($k)"
    continue
  fi
  check "soak: $role $p RSS growth past its largest single step ${net} KiB <= $TOLERANCE_KB KiB (growth ${growth}, step ${step})" \
    test "${net%.*}" -le "$TOLERANCE_KB"
done <"$T/rss-summary.tsv"
