#!/usr/bin/env bash
# Install what sgid-fcgi needs to build, test and run its demo on Debian 12.
# Idempotent and quiet when everything is present (one dpkg-query call), so
# `make check` can call it every time. As root it installs what is missing;
# otherwise it prints the apt-get command to run and exits 1.
# Then the Node side: the system's npm installs the pinned Node runtime
# (tests/node-runtime: Node 20 from the npm registry, checked against its
# lockfile's integrity hashes), and that Node's npm runs `npm ci` in each npm
# project whose node_modules is missing or was installed from a different
# package-lock.json or Node. Engine mismatches stop it (--engine-strict).
#   deploy/deps.sh              all of the above
#   deploy/deps.sh --npm DIR... only `npm ci` in these projects (repo-relative)
#   deploy/deps.sh --packaging  only the tools of `make deb` and
#                               `make package-check` (debhelper, lintian,
#                               mmdebstrap), so `make run` never needs them
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=all
if [[ ${1:-} == --npm ]]; then
  mode=npm
  shift
elif [[ ${1:-} == --packaging ]]; then
  mode=packaging
fi

# PATH without the pinned runtime (the Makefile puts it first): the system's
# npm installs and replaces that runtime, which cannot replace itself.
pinned_bin=$root/tests/node-runtime/node_modules/.bin
sys_path=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$pinned_bin" | paste -sd:)

# apt_deps: the Debian packages, installed when missing.
apt_deps() {
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
  pkgs=(
    libfcgi-dev libcurl4-openssl-dev libssl-dev libjson-c-dev libhiredis-dev pkg-config
    spawn-fcgi nginx lighttpd lighttpd-modules-lua lua5.4 redis-server redis-sentinel libfcgi-bin curl jq python3
    clang libclang-rt-14-dev valgrind chromium wrk iproute2 openssl prometheus
  )
  # The system's npm (and its Node) only installs the pinned runtime. It may
  # come from elsewhere (e.g. NodeSource, which bundles npm and conflicts with
  # Debian's npm): only ask apt for it when there is no npm at all.
  PATH=$sys_path command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
  [[ $mode != packaging ]] || pkgs=(debhelper lintian mmdebstrap)

  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: this script supports Debian/Ubuntu (dpkg) only; install by hand: ${pkgs[*]}" >&2
    exit 1
  fi

  # "ii" = installed and configured; anything else (absent, half-removed) is missing.
  local -A have=()
  while read -r name status; do
    [[ $status == ii ]] && have[$name]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)

  local missing=() p name status
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
}
[[ $mode == npm ]] || apt_deps
[[ $mode != packaging ]] || exit 0

# node_ci DIR: `npm ci` in DIR unless its node_modules came from the same
# lockfile with the same Node. The stamp records both. Output stays visible;
# a failure (an engine mismatch included) ends deps.sh, naming the project.
node_ci() {
  local dir=$root/$1 want stamp
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1) $(node --version)"
  stamp=$dir/node_modules/.sgid-lock-sha256
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  echo "deps.sh: npm ci in $1 (node $(node --version), npm $(npm --version))"
  if ! (cd "$dir" && npm ci --engine-strict --no-audit --no-fund </dev/null); then
    echo "deps.sh: npm ci in $1 failed with node $(node --version) (above). An EBADENGINE error names" >&2
    echo "deps.sh: the package and the Node it requires; tests/node-runtime/package.json pins ours." >&2
    exit 1
  fi
  echo "$want" >"$stamp"
}

# The pinned Node trusts the system's CA certificates too (as Debian's own
# node does), for an npm registry reached through a local proxy or mirror.
if [[ -z ${NODE_EXTRA_CA_CERTS:-} && -r /etc/ssl/certs/ca-certificates.crt ]]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

if [[ $mode == all ]]; then
  # The runtime itself, with the system's npm and Node (any version that
  # reads lockfile v3: Debian 12's npm 9 and Node 18 do).
  PATH=$sys_path node_ci tests/node-runtime
fi
# shellcheck source=tests/node-runtime/env.sh
. "$root/tests/node-runtime/env.sh"

if [[ $mode == npm ]]; then
  for proj in "$@"; do node_ci "$proj"; done
  exit 0
fi

# npm projects, with the pinned Node and npm: MockPass (demo and
# integration), the hostile provider, the browser test, the benchmark's peer,
# the Singpass stand-in (tests/singpass-op).
for proj in tests/mockpass tests/hostile-idp tests/browser tests/bench/peer tests/singpass-op; do
  node_ci "$proj"
done
