#!/usr/bin/env bash
# `make package-check`: the Debian package (issue 25) checked, then installed
# on a clean Debian 12 root and taken through its life (tests/package/README.md).
#
#   run.sh DEB   DEB: build/deb/sgid-fcgi_VERSION_ARCH.deb (`make deb`)
#
# Here: the version (VERSION, debian/changelog, the .deb), lintian on the
# .deb and the .changes, the man page against the sources, the next version
# built for the upgrade; then the root (tests/package/root.sh, cached
# outside the clone) unpacked into a scratch dir, `apt-get install ./DEB`
# in it (its dependencies from Debian's archive), the installed layout and
# the units (systemd-analyze verify and security). What needs no network
# then runs in a private network namespace (tests/package/lifecycle.sh):
# configure, start, log in through nginx, reload, upgrade, remove, purge.
#
# Needs root (chroot, mounts). Prints "ok - ..." / "not ok - ..." per check,
# the time of each phase and "package: N passed, N failed".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

# A mount namespace of our own: the root's /proc mount ends with us, however
# we end.
if [[ ${SGID_PKG_MNTNS:-} != 1 ]] && ((EUID == 0)); then
  exec env SGID_PKG_MNTNS=1 unshare --mount --propagation private "$0" "$@"
fi

DEB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
VERSION=$(cat VERSION)
NEXT_VERSION=$VERSION+pkgtest1
ARCH=$(dpkg --print-architecture)
CHANGES=${DEB%.deb}.changes
NEXT_DIR=$root/build/deb-next
NEXT_DEB=$NEXT_DIR/sgid-fcgi_${NEXT_VERSION}_$ARCH.deb

# shellcheck source=tests/tap.sh
. tests/tap.sh
# shellcheck source=deploy/stack-lib.sh
. deploy/stack-lib.sh
# shellcheck source=tests/package/root.sh
. tests/package/root.sh
# shellcheck source=tests/package/lib.sh
. tests/package/lib.sh

T0=$SECONDS
PHASES=()
phase_done() { PHASES+=("$1 $((SECONDS - PHASE_T0))s"); PHASE_T0=$SECONDS; }
PHASE_T0=$SECONDS
WORK=""
R=""
finish() {
  local rc=$?
  trap - EXIT
  ((rc == 0 || TAP_FAIL > 0)) || not_ok "test script aborted (exit $rc)"
  if ((TAP_FAIL > 0)) && [[ -n $WORK ]]; then
    local f
    for f in apt.log lintian.log service.log nginx.log lighttpd.log redis.log mockpass.log; do
      [[ -s $WORK/$f ]] || continue
      echo "# ---- $f (last 40 lines) ----"
      tail -n 40 "$WORK/$f" | sed 's/^/# /'
    done
  fi
  if [[ -n $R ]]; then
    umount "$R/var/cache/apt/archives" 2>/dev/null || true
    umount -R "$R/proc" 2>/dev/null || true
  fi
  [[ -z $WORK ]] || rm -rf --one-file-system "$WORK"
  echo "# time: ${PHASES[*]:-}; total $((SECONDS - T0))s"
  echo "package: $TAP_PASS passed, $TAP_FAIL failed"
  ((TAP_FAIL == 0))
}
trap finish EXIT

setup "running as root (chroot, mounts)" test "$EUID" = 0
for tool in dpkg-deb lintian mmdebstrap chroot unshare setpriv prlimit curl jq node; do
  setup "$tool is installed (make deps)" command -v "$tool" >/dev/null
done
setup "$DEB exists (make deb)" test -f "$DEB"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sgid-fcgi-package.XXXXXX")
chmod 0755 "$WORK"

# ---- the package as built ---------------------------------------------------

check "version: VERSION ($VERSION) = debian/changelog = the .deb's" eval \
  '[[ $(dpkg-parsechangelog -S Version) == "$VERSION" && $(dpkg-deb -f "$DEB" Version) == "$VERSION" ]]'
check "the build made a -dbgsym package with the binary's debug symbols" eval \
  '[[ $(dpkg-deb -c "${DEB/sgid-fcgi_/sgid-fcgi-dbgsym_}") =~ /usr/lib/debug/.build-id/[0-9a-f/]+\.debug ]]'
# Every level: errors, warnings, info, pedantic, experimental; what is
# accepted is overridden in debian/sgid-fcgi.lintian-overrides, with a reason.
lintian_clean() {
  echo "# lintian $1" >>"$WORK/lintian.log"
  lintian --display-level '>=pedantic' --display-experimental \
    --fail-on error,warning,info,pedantic,experimental "$1" >>"$WORK/lintian.log" 2>&1 &&
    ! grep -E '^[EWIPX]: ' "$WORK/lintian.log"
}
tap_detail() { grep -E '^[EWIPX]: ' "$WORK/lintian.log" | head -n 20 | tr '\n' ';'; }
check "lintian on the .deb: no tag at any level (pedantic, experimental)" lintian_clean "$DEB"
check "lintian on the .changes (.deb and -dbgsym): no tag at any level" lintian_clean "$CHANGES"
tap_detail() { :; }

# The man page names every option and command of src/main.c, src/admin.c and
# src/keycmd.c and every variable of src/cfg*.c (and the FastCGI parameters
# server.c reads).
man_missing() {
  local text name missing=()
  text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' deploy/sgid-fcgi.8)
  for name in $(grep -ohE '\{ "[a-z-]+", ' src/main.c src/admin.c src/keycmd.c | sed -E 's/\{ "([a-z-]+)", /\1/' | sort -u); do
    grep -qE -- "(^|[^a-z-])--$name([^a-z-]|$)" <<<"$text" || missing+=("--$name")
  done
  for name in $(grep -ohE 'strcmp\(arg, "[a-z]+"\)' src/admin.c src/keycmd.c | sed -E 's/.*"([a-z]+)".*/\1/'); do
    grep -qE "^\.B[I]? \"?$name " <<<"$text" || missing+=("$name")
  done
  for name in $(grep -ohE '"[A-Z][A-Z0-9_]{2,}"' src/cfg*.c | tr -d '"' | sort -u) \
    $(grep -ohE 'param\(r, "[A-Z_]+"\)' src/server.c | sed -E 's/.*"([A-Z_]+)".*/\1/' | grep '^SGID_'); do
    grep -qE "(^|[^A-Z0-9_])$name([^A-Z0-9_]|$)" <<<"$text" || missing+=("$name")
  done
  printf '%s\n' "${missing[@]}"
}
MAN_MISSING=$(man_missing)
tap_detail() { echo "not in deploy/sgid-fcgi.8: $MAN_MISSING"; }
check "sgid-fcgi(8) covers every option, command and variable in the sources" test -z "$MAN_MISSING"
tap_detail() { :; }

# The upgrade's next version: this tree as $NEXT_VERSION, rebuilt when the
# current .deb is newer.
if [[ ! -f $NEXT_DEB || $DEB -nt $NEXT_DEB ]]; then
  setup "build the next version ($NEXT_VERSION) for the upgrade" \
    tests/package/build-deb.sh "$NEXT_DIR" "$NEXT_VERSION" >/dev/null
fi
phase_done "static+next-build"

# ---- a clean Debian 12 root ------------------------------------------------

TARBALL=$(pkg_root_tarball) || setup "make the Debian 12 root (mmdebstrap)" false
R=$WORK/root
mkdir "$R"
setup "unpack the Debian 12 root" tar -x -C "$R" -f "$TARBALL"
mount -t proc proc "$R/proc"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# apt's downloads kept between runs (outside the clone); no service of a
# package starts by itself here (no init).
mount --bind "$(pkg_apt_cache)" "$R/var/cache/apt/archives"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
mkdir -p "$R/tmp/pkg"
cp "$DEB" "$NEXT_DEB" "$R/tmp/pkg/"
phase_done "root"

installed() { [[ $(in_root dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == "ii " ]]; }
check "apt-get install ./$(basename "$DEB") on the clean root" apt_root install "./tmp/pkg/$(basename "$DEB")"
check "its dependencies came from the archive (libfcgi0ldbl, libhiredis0.14, libjson-c5, libcurl4)" eval \
  'installed libfcgi0ldbl && installed libhiredis0.14 && installed libjson-c5 && installed libcurl4'
check "redis-server (Recommends) installed with it" installed redis-server
phase_done "install"

# The test's tools, not dependencies of the package: nginx and lighttpd (with
# mod_magnet) in front for the login, man-db for systemd-analyze verify's
# check of Documentation=man:.
setup "apt-get install nginx lighttpd man-db (the test's tools)" \
  apt_root install --no-install-recommends nginx lighttpd lighttpd-modules-lua man-db
phase_done "tools"

# ---- what was installed ---------------------------------------------------

check "/usr/sbin/sgid-fcgi --version prints sgid-fcgi $VERSION" eval \
  '[[ $(in_root /usr/sbin/sgid-fcgi --version) == "sgid-fcgi $VERSION" ]]'
check "sgid-fcgi --help runs (libraries resolved)" eval 'in_root sgid-fcgi --help | grep -q -- --check-config'
check "units: sgid-fcgi.service, sgid-fcgi.socket, sgid-fcgi@.service in /lib/systemd/system" eval \
  '[[ -f $R/lib/systemd/system/sgid-fcgi.service && -f $R/lib/systemd/system/sgid-fcgi.socket &&
     -f $R/lib/systemd/system/sgid-fcgi@.service ]]'
check "units run /usr/sbin/sgid-fcgi (nothing under /usr/local)" eval \
  'grep -q "^ExecStart=/usr/sbin/sgid-fcgi " "$R$SERVICE_UNIT" && ! grep -l /usr/local "$R"/lib/systemd/system/sgid-fcgi*'
check "sgid-fcgi.service enabled, the socket alternative not" eval \
  '[[ -L $R/etc/systemd/system/multi-user.target.wants/sgid-fcgi.service && ! -e $R/etc/systemd/system/sockets.target.wants/sgid-fcgi.socket ]]'
check "system user sgid-fcgi: system uid, no shell, no home; its group" eval \
  'IFS=: read -r _ _ uid gid _ home shell <<<"$(in_root getent passwd sgid-fcgi)";
   ((uid > 0 && uid < 1000)) && [[ $shell == /usr/sbin/nologin && $home == /nonexistent && ! -e $R/nonexistent ]] &&
   [[ $(in_root getent group sgid-fcgi | cut -d: -f3) == "$gid" ]]'
perm() { in_root stat -c '%U:%G %a' "$1"; }
check "/etc/sgid-fcgi root:sgid-fcgi 0750" eval '[[ $(perm /etc/sgid-fcgi) == "root:sgid-fcgi 750" ]]'
check "/etc/sgid-fcgi/sgid-fcgi.env: a conffile, root:sgid-fcgi 0640" eval \
  '[[ $(perm /etc/sgid-fcgi/sgid-fcgi.env) == "root:sgid-fcgi 640" ]] &&
   in_root dpkg-query -W -f="\${Conffiles}\n" sgid-fcgi | grep -q "^ /etc/sgid-fcgi/sgid-fcgi.env "'
# A PEM private key block: a line of its own (the env example's placeholder
# is inside a quoted value).
pem_in_package() {
  rm -rf "$WORK/deb" && dpkg-deb -x "$DEB" "$WORK/deb" &&
    { grep -rlE '^-----BEGIN [A-Z ]*PRIVATE KEY-----$' "$WORK/deb" ||
      find "$WORK/deb" -name '*.gz' -exec zgrep -lE '^-----BEGIN [A-Z ]*PRIVATE KEY-----$' {} +; }
}
check "the package ships and makes no key or secret (/etc/sgid-fcgi holds the env file alone)" eval \
  '[[ $(ls -A "$R/etc/sgid-fcgi") == sgid-fcgi.env && -z $(pem_in_package) ]]'
check "the env file reads the key and the secret from /etc/sgid-fcgi/private-key.pem and client-secret" eval \
  'grep -qx SGID_PRIVATE_KEY_FILE=/etc/sgid-fcgi/private-key.pem "$R/etc/sgid-fcgi/sgid-fcgi.env" &&
   grep -qx SGID_CLIENT_SECRET_FILE=/etc/sgid-fcgi/client-secret "$R/etc/sgid-fcgi/sgid-fcgi.env"'
check "man page sgid-fcgi(8) installed" test -s "$R/usr/share/man/man8/sgid-fcgi.8.gz"
check "examples: nginx and lighttpd, SPA and gateway, under /usr/share/doc/sgid-fcgi/examples" eval \
  'e=$R/usr/share/doc/sgid-fcgi/examples; [[ -s $e/nginx.conf.example && -s $e/lighttpd.conf.example &&
   -s $e/gateway/nginx.conf.example && -s $e/gateway/lighttpd.conf.example ]]'
check "the examples name /usr/sbin/sgid-fcgi (nothing under /usr/local)" eval \
  'grep -q "\"/usr/sbin/sgid-fcgi --env-file /etc/sgid-fcgi/sgid-fcgi.env\"" "$R/usr/share/doc/sgid-fcgi/examples/lighttpd.conf.example" &&
   ! grep -rl /usr/local "$R/usr/share/doc/sgid-fcgi/examples"'
# Every file of the package the examples name (the demo SPA, the mod_magnet
# scripts, the binary) is where they say.
example_paths_missing() {
  local p
  for p in $(grep -rhoE '/usr/(share/sgid-fcgi|sbin)/[A-Za-z0-9._/-]*[A-Za-z0-9]' "$R/usr/share/doc/sgid-fcgi/examples" | sort -u); do
    # a prefix (lighttpd's errorfile-prefix ".../status-") names the files it starts
    [[ -e $R$p ]] || compgen -G "$R$p-*" >/dev/null || echo "$p"
  done
}
tap_detail() { example_paths_missing | tr '\n' ' '; }
check "every /usr/share/sgid-fcgi and /usr/sbin path the examples name is installed" eval \
  '[[ -s $R/usr/share/sgid-fcgi/demo-spa/index.html && -s $R/usr/share/sgid-fcgi/lighttpd-ratelimit.lua &&
     -z $(example_paths_missing) ]]'
tap_detail() { :; }

# The units against the root's own systemd (252, offline).
verify_out=""
tap_detail() { printf '%s' "$verify_out" | head -n 10 | tr '\n' ';'; }
check "systemd-analyze verify: the three units clean" eval \
  'verify_out=$(in_root systemd-analyze verify /lib/systemd/system/sgid-fcgi.service \
     /lib/systemd/system/sgid-fcgi.socket /lib/systemd/system/sgid-fcgi@.service 2>&1) && [[ -z $verify_out ]]'
exposure() {
  in_root systemd-analyze security --offline=true "/lib/systemd/system/$1" 2>&1 |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}
for unit in sgid-fcgi.service sgid-fcgi@.service; do
  level=$(exposure "$unit")
  echo "# systemd-analyze security --offline=true $unit: exposure ${level:-?}"
  check "systemd-analyze security $unit: exposure ${level:-?} <= 2.0" eval \
    '[[ -n $level ]] && awk -v l="$level" "BEGIN { exit !(l <= 2.0) }"'
done
tap_detail() { :; }
phase_done "layout+units"


# ---- the life cycle, offline, in a network namespace of its own ----------

export R WORK DEB NEXT_DEB VERSION NEXT_VERSION
tests/in-netns.sh tests/package/lifecycle.sh >"$WORK/lifecycle.tap" 2>&1 || true
tap_relay "$WORK/lifecycle.tap"
phase_done "lifecycle"
