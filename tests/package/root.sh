# shellcheck shell=bash
# tests/package/root.sh: the clean Debian 12 root the package test installs
# into. One function, so a shared root builder can take its place.
#
# pkg_root_tarball: print the path of a tarball of a clean Debian 12
# (bookworm, what debootstrap installs by default: the required and important
# packages, systemd among them; from Debian's archive with its updates and
# security suites), made with mmdebstrap on first use and cached under
# SGID_PKG_CACHE (default /var/cache/sgid-fcgi/package), outside the clone.
# Remade when older than SGID_PKG_ROOT_DAYS (7) days, so the security
# updates stay recent. The package lists are kept in it, so an install
# from the cached .debs (pkg_apt_cache) needs no network.
SGID_PKG_CACHE=${SGID_PKG_CACHE:-/var/cache/sgid-fcgi/package}
pkg_root_tarball() {
  local tar=$SGID_PKG_CACHE/bookworm.tar tmp=$SGID_PKG_CACHE/bookworm.new.tar mirror=http://deb.debian.org
  mkdir -p "$SGID_PKG_CACHE"
  if [[ -s $tar ]] && [[ -z $(find "$tar" -mtime +"${SGID_PKG_ROOT_DAYS:-7}") ]]; then
    printf '%s\n' "$tar"
    return 0
  fi
  mmdebstrap --quiet --variant=important --skip=cleanup/apt/lists bookworm "$tmp" \
    "deb $mirror/debian bookworm main" \
    "deb $mirror/debian bookworm-updates main" \
    "deb $mirror/debian-security bookworm-security main" >&2 || { rm -f "$tmp"; return 1; }
  mv "$tmp" "$tar"
  printf '%s\n' "$tar"
}
# The .debs apt downloads inside the root, kept between runs.
pkg_apt_cache() { mkdir -p "$SGID_PKG_CACHE/apt-archives/partial" && printf '%s\n' "$SGID_PKG_CACHE/apt-archives"; }
