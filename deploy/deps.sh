#!/usr/bin/env bash
# Install what sgid-fcgi needs to build, test and run its demo on Debian 12.
# Idempotent and quiet when everything is present (one dpkg-query call), so
# `make check` can call it every time. As root it installs what is missing;
# otherwise it prints the apt-get command to run and exits 1.
# Then it runs `npm ci` in tests/mockpass when node_modules is missing or was
# installed from a different package-lock.json.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Build: headers + pkg-config. Run/test: FastCGI spawner, web servers
# (lighttpd with mod_magnet for deploy/lighttpd-ratelimit.lua; lua5.4 tests
# that script's logic on its own), Redis, cgi-fcgi, curl, jq (JSON checks in
# tests), python3 (the CGI app behind lighttpd in tests/gateway). Tooling:
# clang + its sanitizer
# runtime, valgrind, chromium (screenshots of the demo SPA), wrk (load tests),
# iproute2 (tests run in a private network namespace), openssl (TLS test
# server and certificates in test_httpc), prometheus (promtool checks the
# metrics text; tests/faults/metrics.sh starts a private Prometheus on
# loopback: the package's own service is kept from starting below).
# Packaging: debhelper (make deb), lintian and mmdebstrap (make package-check).
pkgs=(
  libfcgi-dev libcurl4-openssl-dev libssl-dev libjson-c-dev libhiredis-dev pkg-config
  spawn-fcgi nginx lighttpd lighttpd-modules-lua lua5.4 redis-server redis-sentinel libfcgi-bin curl jq python3
  clang libclang-rt-14-dev valgrind chromium wrk iproute2 openssl prometheus
  debhelper lintian mmdebstrap
)
# Node may come from elsewhere (e.g. NodeSource, which bundles npm and
# conflicts with Debian's npm): only ask apt for what is really absent.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: this script supports Debian/Ubuntu (dpkg) only; install by hand: ${pkgs[*]}" >&2
  exit 1
fi

# "ii" = installed and configured; anything else (absent, half-removed) is missing.
declare -A have=()
while read -r name status; do
  [[ $status == ii ]] && have[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)

missing=()
for p in "${pkgs[@]}"; do
  [[ -n ${have[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  if ((EUID != 0)); then
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps.sh: installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' init scripts from starting system-wide nginx (:80) and
  # redis (:6379) in containers without systemd: our scripts run private
  # instances. Only when no policy is in place already; removed afterwards.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -q
  apt-get install -y -q "${missing[@]}" </dev/null
fi

# npm projects: MockPass (demo and integration), the hostile provider and
# the browser test. The stamp records which lockfile node_modules was
# installed from, so an edited lockfile reinstalls.
for proj in tests/mockpass tests/hostile-idp tests/browser; do
  dir=$root/$proj
  [[ -f $dir/package-lock.json ]] || continue
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  stamp=$dir/node_modules/.sgid-lock-sha256
  if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
    echo "deps.sh: npm ci in $proj"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    echo "$want" >"$stamp"
  fi
done
