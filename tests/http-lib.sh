# shellcheck shell=bash
# tests/http-lib.sh: curl as a browser for the shell suites
# (tests/integration/run.sh, tests/gateway/run.sh). Source it after setting:
#   T         a scratch dir: the last response's headers ($T/h), body ($T/b)
#             and curl's stderr ($T/curl.err)
#   DEADLINE  $SECONDS past which every request fails at once (CODE 000),
#             BUDGET the seconds that stands for (for the message)
#   COOKIE    the session cookie's name (set_cookie, cookie_value, cleared)
# Never prints a cookie's value: last_response shows status and body only.

CODE=000
# http METHOD URL [curl args...]: one request; status in CODE, headers in
# $T/h, body in $T/b. No redirects followed. A POST or PUT carries an empty
# body with Content-Length: 0, as a browser's fetch sends it (curl -X alone
# sends no length, which lighttpd answers with 411).
# Past the run's time budget every request fails at once (CODE 000), so a
# front end that hangs costs one budget, not 15 s per check.
http() {
  local method=$1 url=$2 len=() left=$((DEADLINE - SECONDS))
  shift 2
  [[ $method == POST || $method == PUT ]] && len=(-H 'Content-Length: 0')
  : >"$T/h"
  : >"$T/b"
  LAST="$method $url"
  if ((left <= 0)); then
    CODE=000
    echo "time budget of ${BUDGET}s used up" >"$T/curl.err"
    return 0
  fi
  ((left < 15)) || left=15
  CODE=$(curl -sS --max-time "$left" -X "$method" -D "$T/h" -o "$T/b" -w '%{http_code}' "${len[@]}" "$@" "$url" 2>"$T/curl.err") || CODE=000
}

last_response() {
  printf '%s -> %s %s' "${LAST:-}" "$CODE" "$(head -c 300 "$T/b" 2>/dev/null | tr -d '\r' | tr '\n' ' ')"
  [[ $CODE != 000 ]] || printf '(%s)' "$(head -c 200 "$T/curl.err" 2>/dev/null | tr '\n' ' ')"
}

# hdr NAME: the last value of a response header (case-insensitive).
hdr() {
  awk -v n="$1" '{ sub(/\r$/, ""); i = index($0, ":");
    if (i > 1 && tolower(substr($0, 1, i - 1)) == tolower(n)) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); out = v } }
    END { printf "%s", out }' "$T/h"
}
# The Set-Cookie line for our session cookie, if any.
set_cookie() { hdr_all set-cookie | grep -E "^$COOKIE=" | tail -n1 || true; }
hdr_all() {
  awk -v n="$1" '{ sub(/\r$/, ""); i = index($0, ":");
    if (i > 1 && tolower(substr($0, 1, i - 1)) == tolower(n)) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v } }' "$T/h"
}
cookie_value() { sed -E "s/^$COOKIE=([^;]*).*/\\1/" <<<"$1"; }
# Does the last response clear our cookie (Max-Age=0 or a past Expires)?
cleared() {
  local c
  c=$(set_cookie)
  [[ ${c,,} == *"max-age=0"* || ${c,,} == *"expires=thu, 01 jan 1970"* ]]
}

# qparam URL NAME: a decoded query parameter (fails when absent).
qparam() {
  node -e 'let v = null;
    try { v = new URL(process.argv[1]).searchParams.get(process.argv[2]) } catch (e) {}
    if (v === null) process.exit(1); process.stdout.write(v)' "$1" "$2"
}

is() { [[ $CODE == "$1" ]]; }

# ---- bursts from one client address ----------------------------------------

# burst FILE SRC N URL [curl args...]: N requests to URL from the local address
# SRC (a client of its own to the server's limits), all at once (N parallel
# connections, so they reach the server within a few ms, however slow the app
# is, e.g. under valgrind). One line per response in FILE: the status code
# and the Access-Control-Allow-Origin header; prints the milliseconds it took.
burst() {
  local file=$1 src=$2 n=$3 url=$4 i t0 urls=()
  shift 4
  for ((i = 0; i < n; i++)); do urls+=(-o /dev/null "$url"); done
  t0=$(date +%s%3N)
  curl -s --max-time 30 --parallel --parallel-immediate --parallel-max "$n" --interface "$src" \
    -w '%{http_code} %header{access-control-allow-origin}\n' "$@" "${urls[@]}" >"$file" 2>"$T/curl.err" || true
  echo $(($(date +%s%3N) - t0))
}
# count FILE CODE: how many responses in FILE have status CODE.
count() { awk -v c="$2" '$1 == c { n++ } END { print n + 0 }' "$1"; }
# only FILE CODE...: every response in FILE has one of the CODEs (and there is one).
only() {
  local f=$1 c _
  shift
  [[ -s $f ]] || return 1
  while read -r c _; do [[ " $* " == *" $c "* ]] || return 1; done <"$f"
}
# no_cors_on_429 FILE: no 429 response in FILE allows an origin, while the
