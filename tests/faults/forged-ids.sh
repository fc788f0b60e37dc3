#!/usr/bin/env bash
# (r) Forged session ids cost nothing (issue 21 item 4): 100 000 requests to
# /api/userinfo and the gateway check, each with a session cookie this
# deployment never issued (random ids of the current and the earlier forms,
# a real id with its MAC changed), through nginx with wrk: every answer
# 401, and neither Redis's command counter nor the audit file moves (the
# MAC is checked before any Redis command). Real events are still written:
# the logged-out cookie gives its session_expired line before and after the
# flood, and the sessions from before still work.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin forged-ids

N=${FAULTS_WORKERS:-4}
CALLS=${FLOOD_CALLS:-100000}
setup "wrk is installed (make deps)" command -v wrk >/dev/null
AUDIT=$STACK_RT/audit.log
f_stack mockpass "$N" "AUDIT_LOG=$AUDIT"
T=$STACK_RT
NAME=$(f_mockpass_name)

lines() { wc -l <"$AUDIT"; }
expired_events() { grep -c '"event":"session_expired"' "$AUDIT" || true; }
# Commands Redis ran, INFO itself left out (each sample is one INFO).
commands() {
  f_redis_cli redis info commandstats |
    awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { n += $3 } END { print n + 0 }'
}
processed() { f_redis_cli redis info stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'; }

f_load logins --api "$API" --count 3 --concurrency 3 --prefix forged --userinfo --expect-name "$NAME" \
  --out "$T/sessions.tsv" >/dev/null
setup "3 sessions before the flood" test "$(wc -l <"$T/sessions.tsv")" -eq 3
gone=$(sed -n 3p "$T/sessions.tsv" | cut -f1)
head -n 2 "$T/sessions.tsv" >"$T/live.tsv"
setup "an id of the current form (80 characters)" test "${#gone}" -eq 80
setup "logout of the third session" test "$(f_status "$API/api/logout" -X POST -H "Cookie: $COOKIE=$gone")" == 200
e0=$(expired_events)
code=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$gone")
check "the logged-out cookie: 401 ($code), one session_expired line" \
  test "$code" == 401 -a "$(expired_events)" -eq $((e0 + 1))
# the real id with its last character (6 bits of its MAC) changed
last=${gone: -1}
if [[ $last == A ]]; then forged_real=${gone:0:79}B; else forged_real=${gone:0:79}A; fi

lines0=$(lines)
cmds0=$(commands)
proc0=$(processed)
mkdir -p "$T/wrk-done"
FORGED_REAL=$forged_real FORGED_CALLS=$CALLS FORGED_THREADS=2 COOKIE=$COOKIE FORGED_DONE_DIR=$T/wrk-done \
  timeout 330 wrk -t 2 -c 16 -d 300s --timeout 10s -s "$FAULTS_DIR/forged-ids.lua" "$API" >"$T/wrk.out" 2>&1 &
wrk_pid=$!
t0=$(f_now_ms)
# each thread stops after its share; wrk waits out -d, so it is told to end
wrk_done() { (($(find "$T/wrk-done" -type f | wc -l) >= 2)); }
deadline=$((SECONDS + 300))
while ! wrk_done && kill -0 "$wrk_pid" 2>/dev/null && ((SECONDS < deadline)); do f_sleep_ms 200; done
kill -INT "$wrk_pid" 2>/dev/null || true
wait "$wrk_pid" || true
t1=$(f_now_ms)
summary=$(grep '^answered=' "$T/wrk.out" || true)
proc1=$(processed)
cmds1=$(commands)
lines1=$(lines)
note "wrk, $((t1 - t0)) ms: $summary"
answered=$(sed -n 's/^answered=\([0-9]*\).*/\1/p' <<<"$summary")
check "$CALLS forged cookies sent and answered (${answered:-none})" test "${answered:-0}" -ge "$CALLS"
check "every answer 401: $(grep -o 'not401=[0-9]*' <<<"$summary") $(grep -o 'connect=.*timeout=[0-9]*' <<<"$summary")" \
  grep -q 'not401=0 connect=0 read=0 write=0 timeout=0' <<<"$summary"
check "not one Redis command (INFO aside) during the flood ($cmds0 → $cmds1)" test "$cmds1" -eq "$cmds0"
check "total_commands_processed moved by the one INFO that read it ($proc0 → $proc1)" \
  test "$proc1" -eq $((proc0 + 1))
check "the audit file did not move by one line ($lines0 → $lines1)" test "$lines1" -eq "$lines0"
e1=$(expired_events)
code=$(f_status "$API/api/userinfo" -H "Cookie: $COOKIE=$gone")
check "after the flood the logged-out cookie still gets its line: 401 ($code), session_expired $e1 → $(expired_events)" \
  test "$code" == 401 -a "$(expired_events)" -eq $((e1 + 1))
check_sessions "the sessions from before still work" "$T/live.tsv"
check "no worker crashed" test "$(f_log_count pool 'killed by signal|exited with status [1-9]')" -eq 0
