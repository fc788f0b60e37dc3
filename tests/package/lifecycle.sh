#!/usr/bin/env bash
# The package's life cycle on the root tests/package/run.sh prepared (R, with
# the package installed), run by it in a private network namespace: configure
# with a test key and MockPass, start the service as its unit says (no
# systemd in a chroot), log in end to end through nginx with the installed
# example, reload rotates the session secret, upgrade to NEXT_DEB keeps the
# changed conffile, remove stops the service and keeps the configuration,
# purge removes it and every file of the service's user. TAP lines for
# run.sh to count; logs in WORK.
# Checks pass their conditions as single-quoted strings for eval, on purpose
# (and the variables they read are set outside them).
# shellcheck disable=SC2016,SC2034
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
: "${R:?} ${WORK:?} ${NEXT_DEB:?} ${VERSION:?} ${NEXT_VERSION:?}"

# shellcheck source=tests/tap.sh
. tests/tap.sh
# shellcheck source=deploy/stack-lib.sh
. deploy/stack-lib.sh
# shellcheck source=tests/package/lib.sh
. tests/package/lib.sh

ORIGIN=http://localhost:$SPA_PORT
API=http://localhost:$API_PORT
COOKIE=exampleAppSession
NRIC=S9812379B
BUDGET=${PACKAGE_BUDGET:-300}
DEADLINE=$((SECONDS + BUDGET))
T=$WORK/t
mkdir -p "$T"
STACK_RT=$WORK/stack
mkdir -p "$STACK_RT/mockpass"
ENV=/etc/sgid-fcgi/sgid-fcgi.env

step_t0=$SECONDS
step() { echo "# step: $1 ($((SECONDS - step_t0))s)"; step_t0=$SECONDS; }

REDIS_PID="" FRONT_PID=""
# stop_pid PID: TERM, up to 5 s, then KILL; reaped.
stop_pid() {
  [[ -n $1 ]] || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait_for 5 gone "$1" || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  trap - EXIT
  service_stop
  instance_stop
  stop_pid "$FRONT_PID"
  stop_pid "$REDIS_PID"
  stack_stop mockpass
  cp "$STACK_RT/mockpass.log" "$WORK/" 2>/dev/null || true
}
trap cleanup EXIT

# ---- HTTP, as a browser (tests/http-lib.sh) --------------------------------

# shellcheck source=tests/http-lib.sh
. tests/http-lib.sh
JAR=$T/jar
fetch() { http "$1" "$2" -b "$JAR" -c "$JAR" -H "Origin: $ORIGIN" "${@:3}"; }
navigate() { http GET "$1" -b "$JAR" -c "$JAR" "${@:2}"; }
tap_detail() { last_response; }

NAME=$(stack_persona_name "$NRIC") || setup "MockPass is installed (make deps)" false
# login JAR: the SPA's login through nginx and MockPass into the cookie jar
# JAR; succeeds when /api/userinfo then shows the persona's name.
login() {
  local url redirect
  JAR=$1
  rm -f "$JAR"
  fetch GET "$API/api/auth-url?icecream=Vanilla"
  is 200 || return 1
  url=$(jq -r '.url // empty' "$T/b" 2>/dev/null) || return 1
  [[ $url == "http://localhost:$MOCKPASS_PORT/"* ]] || return 1
  navigate "$url"
  is 302 || return 1
  redirect=$(hdr location)
  [[ $redirect == "$API/api/redirect?"* ]] || return 1
  navigate "$redirect"
  is 302 && [[ $(hdr location) == "$ORIGIN/logged-in" ]] || return 1
  userinfo_is 200 && [[ $(jq -r '.data["myinfo.name"]' "$T/b") == "$NAME" ]]
}
userinfo_is() { fetch GET "$API/api/userinfo"; is "$1"; }
# userinfo_turns CODE SECS: until the jar's /api/userinfo answers CODE three
# times running (every worker of a reloaded pool says the same).
userinfo_turns() {
  local deadline=$((SECONDS + $2)) run=0
  while ((SECONDS < deadline)); do
    if userinfo_is "$1"; then
      run=$((run + 1))
      ((run >= 3)) && return 0
    else
      run=0
      sleep 0.2
    fi
  done
  return 1
}
health_ok() { fetch GET "$API/api/health" && is 200; }
sock_ready() { [[ -S $R/run/sgid-fcgi/sgid-fcgi.sock ]]; }
# The service started from the installed unit is serving through nginx.
service_up() {
  service_start && wait_for 20 sock_ready && wait_for 20 health_ok
}

# ---- configure ------------------------------------------------------------

# As installed, before anyone configured it: a start stops at once, naming
# what is missing (exit 2: RestartPreventExitStatus=, no restart loop).
tap_detail() { cat "$T/cc" 2>/dev/null; }
check "unconfigured: --check-config as the service user exits 2 naming the missing secret file" eval \
  'in_root runuser -u sgid-fcgi -- sgid-fcgi --env-file $ENV --check-config >"$T/cc" 2>&1; [[ $? == 2 ]] &&
   grep -q "configuration error: SGID_CLIENT_SECRET_FILE: cannot read the file" "$T/cc"'

# What OPERATIONS.md tells the administrator to do: the key and the secrets
# as root:sgid-fcgi 0640 files, the client id and sgID's address in the env
# file. Test values only: the MockPass test key, its fake client secret and
# a session secret made for this run.
secret=$(sed -n 's/^SGID_CLIENT_SECRET=//p' tests/fixtures/mockpass.env)
install_secret() { # SRC DEST
  install -m 0640 "$1" "$R/tmp/secret" && in_root install -m 0640 -o root -g sgid-fcgi /tmp/secret "$2" &&
    rm -f "$R/tmp/secret"
}
configure() {
  install_secret tests/fixtures/client-test-key.pem /etc/sgid-fcgi/private-key.pem &&
    printf '%s\n' "$secret" >"$T/secret" && install_secret "$T/secret" /etc/sgid-fcgi/client-secret &&
    head -c 48 /dev/urandom | base64 -w0 >"$T/session1" && install_secret "$T/session1" /etc/sgid-fcgi/session-secret &&
    sed -i -e 's#^SGID_CLIENT_ID=replace-me$#SGID_CLIENT_ID=sgid-fcgi-demo#' \
      -e "s#^\#SGID_HOSTNAME=.*#SGID_HOSTNAME=http://localhost:$MOCKPASS_PORT#" \
      -e 's#^\#SESSION_SECRET_FILE=$#SESSION_SECRET_FILE=/etc/sgid-fcgi/session-secret#' \
      -e 's#^\#AUDIT_LOG=/var/log/sgid-fcgi/audit.log$#AUDIT_LOG=/var/log/sgid-fcgi/audit.log#' \
      "$R$ENV" &&
    grep -qx SGID_CLIENT_ID=sgid-fcgi-demo "$R$ENV" && grep -qx SESSION_SECRET_FILE=/etc/sgid-fcgi/session-secret "$R$ENV" &&
    grep -qx AUDIT_LOG=/var/log/sgid-fcgi/audit.log "$R$ENV"
}
check "configure: key, client secret, session secret (root:sgid-fcgi 0640), env file edited" configure
check "the edit kept the env file root:sgid-fcgi 0640" eval '[[ $(in_root stat -c "%U:%G %a" $ENV) == "root:sgid-fcgi 640" ]]'
tap_detail() { cat "$T/cc" 2>/dev/null; }
# LogsDirectory= first, as systemd makes it, for AUDIT_LOG.
check "sgid-fcgi --check-config as the service user: configuration OK" eval \
  'in_root install -d -m 0750 -o sgid-fcgi -g sgid-fcgi /var/log/sgid-fcgi &&
   in_root runuser -u sgid-fcgi -- sgid-fcgi --env-file $ENV --check-config >"$T/cc" 2>&1 &&
   grep -q "^configuration OK: issuer http://localhost:$MOCKPASS_PORT/v2, client sgid-fcgi-demo" "$T/cc"'
tap_detail() { last_response; }
step configure

# ---- start ------------------------------------------------------------------

# Redis from the package's Recommends, on the env file's default REDIS_URL.
setsid chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin setpriv --reuid redis --regid redis --init-groups -- \
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --dir /tmp --daemonize no \
  >>"$WORK/redis.log" 2>&1 </dev/null &
REDIS_PID=$!
setup "start the root's redis-server" wait_for 20 eval '[[ $(in_root redis-cli ping) == PONG ]]'
setup "start MockPass (tests/mockpass) on :$MOCKPASS_PORT" stack_start_mockpass false "$NRIC"
# front_start nginx|lighttpd: the web server in the root with the installed
# example (SPA) as it is; nginx's relative paths under a prefix of its own.
EXAMPLES=/usr/share/doc/sgid-fcgi/examples
front_start() {
  local cmd
  case $1 in
    nginx) mkdir -p "$R/tmp/nginx/logs"
      cmd=(nginx -p /tmp/nginx/ -c "$EXAMPLES/nginx.conf.example") ;;
    lighttpd) cmd=(lighttpd -D -f "$EXAMPLES/lighttpd.conf.example") ;;
  esac
  setsid chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/bin "${cmd[@]}" >>"$WORK/$1.log" 2>&1 </dev/null &
  FRONT_PID=$!
  wait_for 20 curl -s --max-time 2 -o /dev/null "$ORIGIN/"
}
front_stop() { stop_pid "$FRONT_PID"; FRONT_PID=""; }
setup "start nginx with $EXAMPLES/nginx.conf.example" front_start nginx

check "start: the unit's ExecStart as User=/Group= serves /api/health through nginx" service_up
MAIN=$SERVICE_PID
tap_detail() { for p in $(root_pids); do echo "$p uid $(stat -c %u "/proc/$p")"; done | tr '\n' ' '; }
check "the pool runs as sgid-fcgi (uid $(in_root id -u sgid-fcgi)), supervisor and 2 workers" eval \
  'pids=$(root_pids); [[ $(wc -w <<<"$pids") -eq 3 ]] &&
   [[ $(for p in $pids; do stat -c %u "/proc/$p"; done | sort -u) == "$(in_root id -u sgid-fcgi)" ]]'
tap_detail() { last_response; }
check "FastCGI socket sgid-fcgi:www-data 0660 in /run/sgid-fcgi" eval \
  '[[ $(in_root stat -c "%U:%G %a" /run/sgid-fcgi/sgid-fcgi.sock) == "sgid-fcgi:www-data 660" ]]'
step start

# ---- log in -----------------------------------------------------------------

http GET "$ORIGIN/"
check "demo SPA served by nginx from /usr/share/sgid-fcgi/demo-spa" eval 'is 200 && grep -q "sgID demo" "$T/b"'
check "log in end to end through nginx and MockPass: userinfo shows $NAME" login "$T/jar-a"
check "audit log /var/log/sgid-fcgi/audit.log has the login_success" \
  grep -q '"event":"login_success"' "$R/var/log/sgid-fcgi/audit.log"
SUB=$(jq -r '.sub // empty' "$T/b" 2>/dev/null || true)
check "sgid-fcgi sessions --sub (as the service user) counts the session" eval \
  '[[ -n $SUB && $(in_root runuser -u sgid-fcgi -- sgid-fcgi sessions --sub "$SUB" --env-file $ENV) -ge 1 ]]'
# The lighttpd example in front of the same pool, the rate-limit script
# where it says (/usr/share/sgid-fcgi/lighttpd-ratelimit.lua).
front_stop
check "lighttpd with $EXAMPLES/lighttpd.conf.example: log in end to end" eval \
  'front_start lighttpd && login "$T/jar-l"'
front_stop
setup "start nginx again" front_start nginx
step login

# ---- reload rotates -------------------------------------------------------

head -c 48 /dev/urandom | base64 -w0 >"$T/session2"
check "a new session secret in its file: no effect before the reload" eval \
  'install_secret "$T/session2" /etc/sgid-fcgi/session-secret && JAR=$T/jar-a && userinfo_is 200'
check "reload (the unit's ExecReload, SIGHUP): the new secret ends the old session" eval \
  'service_reload && JAR=$T/jar-a && userinfo_turns 401 30'
check "reload kept the supervisor (same pid) and the socket" eval 'alive "$MAIN" && sock_ready'
check "after the reload a new login works (sessions under the new secret)" login "$T/jar-b"
step reload

# ---- the socket-activated alternative ---------------------------------------

# sgid-fcgi.socket + sgid-fcgi@1 instead of the pool (they conflict), with
# the same env file: EnvironmentFile= and LoadCredential=.
service_stop
tap_detail() { last_response; tail -n 5 "$WORK/instance.log" | tr '\n' ' '; }
check "socket alternative: sgid-fcgi.socket + sgid-fcgi@1 (socket on fd 0) serve a login through nginx" eval \
  'instance_start 1 && wait_for 20 health_ok && login "$T/jar-s"'
tap_detail() { last_response; }
check "socket alternative: socket root:www-data 0660, the worker runs as sgid-fcgi" eval \
  '[[ $(in_root stat -c "%U:%G %a" /run/sgid-fcgi/sgid-fcgi.sock) == "root:www-data 660" &&
     $(stat -c %u "/proc/$INSTANCE_PID") == "$(in_root id -u sgid-fcgi)" ]]'
instance_stop
setup "sgid-fcgi.service started again" service_up
step socket-alternative

# ---- upgrade ------------------------------------------------------------------

env_sum=$(sha256sum <"$R$ENV")
check "upgrade: apt-get install ./$(basename "$NEXT_DEB")" apt_root install "./tmp/pkg/$(basename "$NEXT_DEB")"
check "upgrade: version $NEXT_VERSION installed and printed by --version" eval \
  '[[ $(in_root dpkg-query -W -f="\${Version}" sgid-fcgi) == "$NEXT_VERSION" &&
     $(in_root sgid-fcgi --version) == "sgid-fcgi $NEXT_VERSION" ]]'
check "upgrade: the changed conffile kept as it was, no .dpkg-dist or .dpkg-new" eval \
  '[[ $(sha256sum <"$R$ENV") == "$env_sum" ]] && ! ls "$R"/etc/sgid-fcgi/*.dpkg-* >/dev/null 2>&1'
check "upgrade: permissions kept (dir 0750, env file 0640, root:sgid-fcgi), key and secrets still there" eval \
  '[[ $(in_root stat -c "%U:%G %a" /etc/sgid-fcgi) == "root:sgid-fcgi 750" &&
     $(in_root stat -c "%U:%G %a" $ENV) == "root:sgid-fcgi 640" ]] &&
   [[ $(cd "$R/etc/sgid-fcgi" && stat -c "%a" private-key.pem client-secret session-secret | sort -u) == 640 &&
      $(in_root stat -c "%U:%G" /etc/sgid-fcgi/private-key.pem /etc/sgid-fcgi/client-secret /etc/sgid-fcgi/session-secret | sort -u) == root:sgid-fcgi ]]'
check "upgrade: sgid-fcgi.service still enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/sgid-fcgi.service"
# systemd would restart it (dh_installsystemd --restart-after-upgrade).
service_stop
check "upgrade: restarted, the new binary serves and the session made before it is still valid" eval \
  'service_up && [[ $(readlink /proc/$SERVICE_PID/exe) == "$R/usr/sbin/sgid-fcgi" ]] && JAR=$T/jar-b && userinfo_is 200'
step upgrade

# ---- remove -------------------------------------------------------------------

MAIN=$SERVICE_PID
check "remove: apt-get remove sgid-fcgi" apt_root remove sgid-fcgi
check "remove: prerm stopped the service (supervisor and workers gone)" eval 'gone "$MAIN" && no_root_pids'
service_stop   # reaps the supervisor, drops /run/sgid-fcgi as systemd does
check "remove: binary and units gone" eval \
  '[[ ! -e $R/usr/sbin/sgid-fcgi && ! -e $R$SERVICE_UNIT ]]'
check "remove: configuration, key and secrets kept; package in state config-files" eval \
  '[[ $(sha256sum <"$R$ENV") == "$env_sum" && -f $R/etc/sgid-fcgi/private-key.pem && -f $R/etc/sgid-fcgi/client-secret ]] &&
   [[ $(in_root dpkg-query -W -f="\${db:Status-Abbrev}" sgid-fcgi) == "rc " ]]'
step remove

# ---- purge ----------------------------------------------------------------------

uid=$(in_root id -u sgid-fcgi)
check "purge: apt-get purge sgid-fcgi" apt_root purge sgid-fcgi
check "purge: /etc/sgid-fcgi (with the key and secrets) and /var/log/sgid-fcgi gone" eval \
  '[[ ! -e $R/etc/sgid-fcgi && ! -e $R/var/log/sgid-fcgi ]]'
check "purge: no statoverride and no unit symlink left" eval \
  '! in_root dpkg-statoverride --list | grep -q sgid-fcgi && [[ -z $(find "$R/etc/systemd" -name "sgid-fcgi*") ]]'
check "purge: no file of the sgid-fcgi user left in the root" eval \
  '[[ -n $uid && -z $(find "$R" -xdev -uid "$uid" -print -quit) ]]'
check "purge: the package is gone from dpkg's database" eval \
  '! in_root dpkg-query -W -f="\${db:Status-Abbrev}" sgid-fcgi 2>/dev/null | grep -q "^[a-z]"'
step purge
