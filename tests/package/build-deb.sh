#!/usr/bin/env bash
# tests/package/build-deb.sh OUTDIR [NEXT_VERSION]: build the Debian package
# of this tree with `dpkg-buildpackage -us -uc -b` in a copy (the tree, its
# build/ and its debian/ stay untouched), leaving the .deb, the -dbgsym
# .deb, .buildinfo and .changes in OUTDIR. `make deb` runs it.
#
# The version is the VERSION file's; debian/changelog must say the same, or
# this stops before building. NEXT_VERSION (the package test's upgrade)
# builds the copy as that version instead: its VERSION file and a new
# changelog entry say so.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$1 next=${2:-}
cd "$root"

version=$(cat VERSION)
changelog=$(dpkg-parsechangelog -S Version)
if [[ $version != "$changelog" ]]; then
  echo "build-deb: VERSION says $version but debian/changelog $changelog: add a changelog entry for $version" >&2
  exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sgid-fcgi-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/sgid-fcgi
mkdir "$src"
# The tree's files as git sees them (tracked, and new ones not ignored), or,
# outside a git checkout, everything but build output and node_modules.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar -c --null -T - | tar -x -C "$src"
else
  tar -c --exclude=./build --exclude=node_modules --exclude=./debian/build . | tar -x -C "$src"
fi

if [[ -n $next ]]; then
  echo "$next" >"$src/VERSION"
  {
    printf 'sgid-fcgi (%s) unstable; urgency=medium\n\n  * Test build for the upgrade check of tests/package/run.sh.\n\n' "$next"
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -S Maintainer)" "$(date -R)"
    cat debian/changelog
  } >"$src/debian/changelog"
fi

(cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed (last lines above)" >&2
  exit 1
}
find "$work" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' -o -name '*.changes' -o -name '*.buildinfo' \) \
  -exec mv -f {} "$out"/ \;
cp "$work/build.log" "$out/build-${next:-$version}.log"
ls "$out"/sgid-fcgi_"${next:-$version}"_*.deb
