#!/usr/bin/env bash
# mkroot.sh TARGET [PACKAGE...]: a minimal Debian 12 (bookworm, amd64) root
# at TARGET (which must not exist or be empty), as a newcomer's machine: the
# minbase variant of debootstrap plus git, make and ca-certificates, plus any
# PACKAGEs (installed with apt-get inside the root), all from Debian's archive
# at the mirror the host's own apt sources name. Run as root.
#
# The root is cached as a tarball under SGID_ROOT_CACHE
# (default /var/cache/sgid-fcgi/debian12-root), keyed by a hash of the
# mirror and the package list: a second call with the same list unpacks it.
# Then, every time (they belong to this host, not to the cache):
#   /etc/hosts        Debian's stock one (127.0.0.1 localhost, then
#                     ::1 localhost ip6-localhost ip6-loopback)
#   /etc/resolv.conf  the host's
#   apt               the host's Debian sources and its Acquire::Check-*
#                     settings (a mirror serving an archive snapshot)
#   CA certificates   those the host's bundle has and Debian's lacks (e.g. a
#                     local proxy's), added to the root's store (not cached)
# Nothing is mounted: callers mount proc, sys, dev as they need.
set -euo pipefail

die() { echo "mkroot: $*" >&2; exit 1; }
((EUID == 0)) || die "run as root"
target=${1:?usage: mkroot.sh TARGET [PACKAGE...]}
shift
extra=("$@")
[[ ! -e $target || -z $(ls -A "$target") ]] || die "$target exists and is not empty"
cache=${SGID_ROOT_CACHE:-/var/cache/sgid-fcgi/debian12-root}
suite=bookworm

# The host's Debian sources: deb822 .sources or one-line .list files that
# name Debian's archive (other vendors' lists stay on the host).
host_sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] && grep -Eqs '^[^#]*(URIs:|deb )[^#]*/debian/?( |$)' "$f" && host_sources+=("$f")
done
mirror=$(sed -n -E 's@^[^#]*(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)([a-z]+://[^[:space:]]*/debian)/?([[:space:]].*)?$@\3@p' \
  "${host_sources[@]}" /dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

base=(git make ca-certificates)
key=$(printf '%s\n' mkroot-1 "$suite" "$mirror" "${base[@]}" "${extra[@]}" | sha256sum | cut -c1-16)
tarball=$cache/$suite-$key.tar.zst

in_root() { chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# Host-specific settings, applied after every unpack.
configure() {
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' \
    >"$target/etc/hosts"
  cp -L /etc/resolv.conf "$target/etc/resolv.conf"
  if ((${#host_sources[@]})); then
    rm -f "$target/etc/apt/sources.list"
    cp "${host_sources[@]}" "$target/etc/apt/sources.list.d/"
  fi
  apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) ' >"$target/etc/apt/apt.conf.d/99host-archive" || true
}

# add_host_cas: the CA certificates in the host's bundle and not in the
# root's (Debian's, as cached), one per file in the root's local store.
add_host_cas() {
  local host_bundle=/etc/ssl/certs/ca-certificates.crt root_bundle=$target/etc/ssl/certs/ca-certificates.crt
  local n=0 pem
  if [[ -r $host_bundle ]]; then
    while IFS= read -r pem; do
      n=$((n + 1))
      printf '%s\n' "$pem" | tr '|' '\n' >"$target/usr/local/share/ca-certificates/sgid-host-$n.crt"
    done < <(comm -23 <(pem_lines "$host_bundle" | sort -u) <(pem_lines "$root_bundle" | sort -u))
    in_root update-ca-certificates >/dev/null 2>&1
  fi
  echo "mkroot: $target: Debian $(cat "$target/etc/debian_version"), mirror $mirror, $n CA certificate(s) from the host"
}
# pem_lines FILE: each certificate of a PEM bundle on one line ('|' for newlines).
pem_lines() {
  [[ -r $1 ]] || return 0
  awk '/-----BEGIN CERTIFICATE-----/{c=""; on=1} on{c = c (c=="" ? "" : "|") $0}
       /-----END CERTIFICATE-----/{if (on) print c; on=0}' "$1"
}

mkdir -p "$target"
if [[ -f $tarball ]]; then
  echo "mkroot: unpacking the cached root $tarball"
  tar -C "$target" --zstd -xpf "$tarball"
else
  tools=()
  command -v debootstrap >/dev/null || tools+=(debootstrap)
  command -v zstd >/dev/null || tools+=(zstd)
  if ((${#tools[@]})); then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${tools[@]}" </dev/null
  fi
  echo "mkroot: debootstrap $suite from $mirror (minbase + ${base[*]})"
  debootstrap --variant=minbase --arch=amd64 --include="$(IFS=,; echo "${base[*]}")" \
    "$suite" "$target" "$mirror" >"$target.debootstrap.log" 2>&1 ||
    { tail -n 30 "$target.debootstrap.log" >&2; die "debootstrap failed (log: $target.debootstrap.log)"; }
  rm -f "$target.debootstrap.log"
  configure
  if ((${#extra[@]})); then
    echo "mkroot: apt-get install ${extra[*]}"
    mount -t proc proc "$target/proc"
    trap 'umount "$target/proc" 2>/dev/null || true' EXIT
    in_root apt-get update -q
    in_root apt-get install -y -q "${extra[@]}" </dev/null
    umount "$target/proc"
    trap - EXIT
  fi
  in_root apt-get clean
  mkdir -p "$cache"
  tar -C "$target" --zstd -cpf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  echo "mkroot: cached as $tarball ($(du -h "$tarball" | cut -f1))"
fi
configure
add_host_cas
