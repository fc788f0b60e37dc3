# shellcheck shell=bash
# tests/package/lib.sh: the Debian root of tests/package/run.sh and the
# service in it without systemd. Sourced after tests/tap.sh; needs R (the
# root) and WORK (a scratch dir outside it).

# in_root CMD...: CMD in the root, as root, with a plain environment.
in_root() {
  chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# apt_root ARGS...: apt-get in the root, quiet, its output in $WORK/apt.log.
apt_root() {
  echo "# apt-get $*" >>"$WORK/apt.log"
  in_root apt-get -q -y -o APT::Color=0 "$@" </dev/null >>"$WORK/apt.log" 2>&1
}

# ---- the unit, run as systemd would run it ---------------------------------

# unit_value FILE KEY [SECTION]: KEY's last value in FILE's [SECTION]
# (Service) section (for a single-valued setting systemd takes the last one
# too).
unit_value() {
  unit_values "$@" | tail -n 1
}
# unit_values FILE KEY [SECTION]: every value of KEY, in order.
unit_values() {
  awk -v k="$2" -v sec="[${3:-Service}]" '/^\[/ { s = ($0 == sec) }
    s && index($0, k "=") == 1 { print substr($0, length(k) + 2) }' "$1"
}

# unit_groups USER GROUP SUPPLEMENTARY: the groups systemd gives the service:
# initgroups(USER, GROUP) (GROUP and every group that lists USER as a
# member; not USER's primary group by itself), plus SupplementaryGroups=.
unit_groups() {
  {
    echo "$2"
    in_root getent group | awk -F: -v u="$1" '{ n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) print $1 }'
    local g
    for g in $3; do echo "$g"; done
  } | sort -u | paste -sd, -
}

# unit_command UNIT SPECIFIERS ENV...: fill UNIT_CMD with the unit's
# ExecStart as systemd runs it in the root: the environment ENV only; User=
# with Group= and SupplementaryGroups= (unit_groups), NoNewPrivileges=yes
# (required), no capabilities, LimitNOFILE=, UMask=, WorkingDirectory=; its
# directories RuntimeDirectory= and LogsDirectory= made with their modes
# and owners. SPECIFIERS: sed expressions for the specifiers (%t...). A
# prefix, quotes, a second ExecStart or a specifier left over are refused
# rather than run differently.
UNIT_CMD=()
unit_command() {
  local unit=$1 spec=$2 user group exec nofile pair dir mode umask wd argv=()
  shift 2
  user=$(unit_value "$unit" User)
  group=$(unit_value "$unit" Group)
  exec=$(unit_value "$unit" ExecStart | sed "$spec")
  nofile=$(unit_value "$unit" LimitNOFILE)
  umask=$(unit_value "$unit" UMask)
  wd=$(unit_value "$unit" WorkingDirectory)
  if [[ -z $user || -z $group || -z $exec || $exec == [-@+!:]* || $exec =~ [\"\'\\%] ||
    $(grep -c '^ExecStart=' "$unit") != 1 || $(unit_value "$unit" NoNewPrivileges) != yes ]]; then
    echo "# ${unit##*/}: not understood: User=$user Group=$group ExecStart=$exec" >&2
    return 1
  fi
  read -ra argv <<<"$exec"
  for pair in RuntimeDirectory:/run LogsDirectory:/var/log; do
    dir=$(unit_value "$unit" "${pair%%:*}")
    [[ -n $dir ]] || continue
    mode=$(unit_value "$unit" "${pair%%:*}Mode")
    in_root install -d -m "${mode:-0755}" -o "$user" -g "$group" "${pair#*:}/$dir" || return 1
  done
  UNIT_CMD=(chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@")
  [[ -z $nofile ]] || UNIT_CMD+=(prlimit --nofile="$nofile:$nofile" --)
  UNIT_CMD+=(setpriv --reuid "$user" --regid "$group" --no-new-privs --inh-caps=-all
    --groups "$(unit_groups "$user" "$group" "$(unit_value "$unit" SupplementaryGroups)")" --
    /bin/sh -c 'umask "$0"; cd "$1" && shift && exec "$@"'
    "${umask:-0022}" "${wd:-/}" "${argv[@]}")
  echo "# start ${unit##*/}: ${UNIT_CMD[*]}" >&2
}

SERVICE_PID=""
SERVICE_TIMEOUT=90
SERVICE_UNIT=/lib/systemd/system/sgid-fcgi.service

# service_start: what `systemctl start sgid-fcgi` does, read from the
# installed unit (unit_command, %t = /run). Its output goes to
# $WORK/service.log (the journal).
service_start() {
  SERVICE_TIMEOUT=$(unit_value "$R$SERVICE_UNIT" TimeoutStopSec)
  unit_command "$R$SERVICE_UNIT" 's#%t#/run#g' 2>>"$WORK/service.log" || return 1
  setsid "${UNIT_CMD[@]}" >>"$WORK/service.log" 2>&1 </dev/null &
  SERVICE_PID=$!
}

# service_reload: the unit's ExecReload with $MAINPID, run in the root.
service_reload() {
  local reload argv=()
  reload=$(unit_value "$R$SERVICE_UNIT" ExecReload)
  [[ -n $reload && -n $SERVICE_PID ]] || return 1
  read -ra argv <<<"${reload//\$MAINPID/$SERVICE_PID}"
  in_root "${argv[@]}"
}

# root_pids: processes running the root's sgid-fcgi (deleted or not).
root_pids() {
  local d exe
  for d in /proc/[0-9]*; do
    exe=$(readlink "$d/exe" 2>/dev/null) || continue
    [[ $exe == "$R/usr/sbin/sgid-fcgi" || $exe == "$R/usr/sbin/sgid-fcgi (deleted)" ]] && echo "${d#/proc/}"
  done
  return 0
}

# wait_for SECS CMD...: poll CMD every 0.1 s for up to SECS seconds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
alive() { [[ -n $1 ]] && stack_alive "$1"; }
gone() { ! alive "$1"; }
no_root_pids() { [[ -z $(root_pids) ]]; }

# service_stop: systemctl stop: SIGTERM to the main process (KillMode=mixed),
# TimeoutStopSec= (as the unit said at start) for it and its workers, then
# SIGKILL; the runtime directory removed.
service_stop() {
  local pid=$SERVICE_PID
  SERVICE_PID=""
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_for "${SERVICE_TIMEOUT:-90}" no_root_pids || true
    local p
    for p in $(root_pids); do kill -KILL "$p" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf --one-file-system "$R/run/sgid-fcgi"
}

# ---- the socket-activated alternative ---------------------------------------

INSTANCE_PID=""
# instance_start N: `systemctl start sgid-fcgi.socket sgid-fcgi@N`, read from
# the installed units: the socket's ListenStream= made with SocketUser=,
# SocketGroup=, SocketMode= in a DirectoryMode= directory; the credentials of
# LoadCredential= copied for the service user (0400 in a 0500 directory);
# Environment= (with %d, %i), overridden by EnvironmentFile= (as systemd
# does); ExecStart as User=/Group= with the socket on fd 0
# (StandardInput=socket). Output in $WORK/instance.log.
instance_start() {
  local n=$1 sock=$R/lib/systemd/system/sgid-fcgi.socket unit=$R/lib/systemd/system/sgid-fcgi@.service
  local listen user group creds line file key val envs=()
  listen=$(unit_value "$sock" ListenStream Socket)
  listen=${listen//%t//run}
  user=$(unit_value "$unit" User)
  group=$(unit_value "$unit" Group)
  [[ $(unit_value "$unit" StandardInput) == socket && $listen == /run/* ]] || return 1
  in_root install -d -m "$(unit_value "$sock" DirectoryMode Socket)" "$(dirname "$listen")" || return 1
  creds=/run/credentials/sgid-fcgi@$n.service
  in_root install -d -m 0500 -o "$user" -g "$group" "$creds" || return 1
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    in_root install -m 0400 -o "$user" -g "$group" "${line#*:}" "$creds/${line%%:*}" || return 1
  done < <(unit_values "$unit" LoadCredential)
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    line=${line//%d/$creds}
    envs+=("${line//%i/$n}")
  done < <(unit_values "$unit" Environment)
  for file in $(unit_values "$unit" EnvironmentFile); do
    while IFS= read -r line; do
      [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
      key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
      [[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]] && val=${BASH_REMATCH[1]}
      envs+=("$key=$val")
    done <"$R$file"
  done
  unit_command "$unit" "s#%i#$n#g" "${envs[@]}" 2>>"$WORK/instance.log" || return 1
  setsid python3 -c '
import os, socket, sys
path, uid, gid, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 8)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chown(path, uid, gid)
os.chmod(path, mode)
s.listen(128)
os.dup2(s.fileno(), 0)
os.execvp(sys.argv[5], sys.argv[5:])' "$R$listen" \
    "$(in_root id -u "$(unit_value "$sock" SocketUser Socket)")" \
    "$(in_root getent group "$(unit_value "$sock" SocketGroup Socket)" | cut -d: -f3)" \
    "$(unit_value "$sock" SocketMode Socket)" "${UNIT_CMD[@]}" >>"$WORK/instance.log" 2>&1 &
  INSTANCE_PID=$!
  INSTANCE_SOCK=$R$listen INSTANCE_CREDS=$R$creds
}
instance_stop() {
  [[ -n $INSTANCE_PID ]] || return 0
  kill -TERM "$INSTANCE_PID" 2>/dev/null || true
  wait_for 30 gone "$INSTANCE_PID" || kill -KILL "$INSTANCE_PID" 2>/dev/null || true
  wait "$INSTANCE_PID" 2>/dev/null || true
  INSTANCE_PID=""
  rm -rf --one-file-system "$INSTANCE_SOCK" "$INSTANCE_CREDS"
}
