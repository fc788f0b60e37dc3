#!/usr/bin/env bash
# (l) Revocation (issue 14): user A logs in from 3 cookie jars, user B once
# (MockPass's persona picker chooses the user); `sgid-fcgi sessions --sub`
# counts them, `sgid-fcgi revoke --sub A` ends A's 3 sessions on every worker
# (userinfo 401) and leaves B's; past SESSION_MAX_PER_USER the oldest of a
# user's sessions ends; Redis never holds a sub in clear; exit statuses for
# a configuration error and for Redis down. Then SESSION_SECRET rotated
# (the old one as SESSION_SECRET_PREVIOUS): B's session still works, is
# still counted and revocable.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin revoke

MAX=4
setup "ports $API_PORT $SPA_PORT $MOCKPASS_PORT free" stack_ports_free "$API_PORT" "$SPA_PORT" "$MOCKPASS_PORT"
setup "start redis-server" f_redis_start redis
setup "start MockPass with its persona picker" stack_start_mockpass true
OLD_SECRET=faults-old-session-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
NEW_SECRET=faults-new-session-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
f_app_env "$STACK_RT/app.env" mockpass SESSION_MAX_PER_USER=$MAX SESSION_SECRET="$OLD_SECRET"
setup "start the pool (2 workers)" f_pool_start pool "$STACK_RT/app.env" 2
setup "start nginx on $API_PORT" f_nginx_start nginx "$API_PORT" "$SPA_PORT" "$STACK_RT/pool.sock"
T=$STACK_RT/t
mkdir -p "$T"

# login_as PERSONA JAR: the whole login in a fresh cookie jar, as persona
# number PERSONA of MockPass's picker (its options carry the assert URLs).
login_as() {
  local jar=$T/$2 url assert
  rm -f "$jar"
  url=$(curl -fsS --max-time 10 -c "$jar" -H "Origin: $FRONTEND" "$API/api/auth-url?icecream=Mango" | jq -r .url) || return 1
  assert=$(curl -fsS --max-time 10 "$url" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const urls = [...s.matchAll(/data-asserturl="([^"]*)"/g)].map((m) => m[1]
        .replace(/&#x2F;/g, "/").replace(/&#x3D;/g, "=").replace(/&quot;/g, "\"")
        .replace(/&#39;/g, "'"'"'").replace(/&#x60;/g, "`").replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">").replace(/&amp;/g, "&"));
      const u = urls[Number(process.argv[1])];
      if (!u) process.exit(1);
      console.log(u);
    });' "$1") || return 1
  [[ $(curl -s -o /dev/null --max-time 10 -b "$jar" -c "$jar" -w '%{http_code}' "$assert") == 302 ]]
}

# userinfo JAR: the status of /api/userinfo with that jar's cookie.
userinfo() { f_status "$API/api/userinfo" -b "$T/$1" -H "Origin: $FRONTEND"; }
sub_of() { curl -fsS --max-time 10 -b "$T/$1" -H "Origin: $FRONTEND" "$API/api/userinfo" | jq -r .sub; }
admin() { env -i -C "$STACK_RT" PATH="$PATH" "$ROOT/build/sgid-fcgi" "$@" --env-file "$STACK_RT/app.env" 2>>"$T/admin.err"; }

for j in a1 a2 a3; do setup "user A logs in ($j)" login_as 0 "$j"; done
setup "user B logs in" login_as 1 b1
A=$(sub_of a1)
B=$(sub_of b1)
check "A's three sessions are one user, B another ($A, $B)" \
  eval '[[ -n $A && $A != null && $(sub_of a2) == "$A" && $(sub_of a3) == "$A" && -n $B && $B != "$A" ]]'
check "every session answers userinfo 200" \
  eval '[[ $(userinfo a1)$(userinfo a2)$(userinfo a3)$(userinfo b1) == 200200200200 ]]'
check "sessions --sub A: 3" eval '[[ $(admin sessions --sub "$A") == 3 ]]'
check "sessions --sub B: 1" eval '[[ $(admin sessions --sub "$B") == 1 ]]'
check "no Redis key holds a sub in clear (values are sealed)" \
  eval '! f_redis_cli redis --scan | grep -qF -- "${A#u=}" && ! f_redis_cli redis --scan | grep -qF -- "${B#u=}"'
check "revoke --sub A: ends 3" eval '[[ $(admin revoke --sub "$A") == 3 ]]'
check "A's three cookies now get 401" \
  eval '[[ $(userinfo a1)$(userinfo a2)$(userinfo a3) == 401401401 ]]'
check "B's session is untouched (200)" eval '[[ $(userinfo b1) == 200 ]]'
check "sessions --sub A: 0, --sub B: 1" \
  eval '[[ $(admin sessions --sub "$A") == 0 && $(admin sessions --sub "$B") == 1 ]]'

# Past SESSION_MAX_PER_USER=$MAX: the oldest session ends, the others stay.
for i in 1 2 3 4 5; do
  setup "user A logs in again (e$i)" login_as 0 "e$i"
  sleep 1.1   # creation times one second apart: "oldest" is unambiguous
done
check "the $((MAX + 1))th login ended the oldest session (e1: 401)" eval '[[ $(userinfo e1) == 401 ]]'
check "the $MAX newest still answer 200" \
  eval '[[ $(userinfo e2)$(userinfo e3)$(userinfo e4)$(userinfo e5) == 200200200200 ]]'
check "sessions --sub A: $MAX" eval '[[ $(admin sessions --sub "$A") == $MAX ]]'
# Logout takes the session out of the count.
curl -fsS --max-time 10 -o /dev/null -b "$T/e5" -H "Origin: $FRONTEND" "$API/api/logout" || true
check "after one logout, sessions --sub A: $((MAX - 1))" eval '[[ $(admin sessions --sub "$A") == $((MAX - 1)) ]]'

# Rotation: the pool restarted with a new secret, the old one as previous.
stack_stop pool
f_app_env "$STACK_RT/app.env" mockpass SESSION_MAX_PER_USER=$MAX SESSION_SECRET="$NEW_SECRET" \
  SESSION_SECRET_PREVIOUS="$OLD_SECRET"
setup "restart the pool with the rotated secret" f_pool_start pool "$STACK_RT/app.env" 2
check "after the rotation B's session still answers 200" eval '[[ $(userinfo b1) == 200 ]]'
check "after the rotation sessions --sub B: 1" eval '[[ $(admin sessions --sub "$B") == 1 ]]'
setup "user B logs in under the new secret" login_as 1 b2
check "sessions --sub B: 2 (one of each secret)" eval '[[ $(admin sessions --sub "$B") == 2 ]]'
check "revoke --sub B ends both" eval '[[ $(admin revoke --sub "$B") == 2 ]]'
check "B's two cookies now get 401" eval '[[ $(userinfo b1)$(userinfo b2) == 401401 ]]'

# Exit statuses: usage 64, configuration 2, Redis down 1.
rc=0; admin sessions >/dev/null || rc=$?
check "sessions without --sub: exit 64 ($rc)" test "$rc" -eq 64
rc=0; env -i -C "$STACK_RT" PATH="$PATH" SESSION_SECRET=short "$ROOT/build/sgid-fcgi" sessions --sub "$A" \
  --env-file "$STACK_RT/app.env" >/dev/null 2>&1 || rc=$?
check "a configuration error: exit 2 ($rc)" test "$rc" -eq 2
f_redis_kill redis KILL
rc=0; out=$(admin sessions --sub "$B") || rc=$?
check "Redis down: exit 1, nothing printed ($rc)" eval '((rc == 1)) && [[ -z $out ]]'
check "the admin commands never print a sub or a secret on stderr" \
  eval '! grep -qF -- "${A#u=}" "$T/admin.err" && ! grep -qiF -- "$(sed -n "s/^SGID_CLIENT_SECRET=//p" "$STACK_RT/app.env")" "$T/admin.err"'
