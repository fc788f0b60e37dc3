# shellcheck shell=bash
# tests/tap.sh: the TAP lines of the shell suites, sourced by them.
# `ok - NAME` / `not ok - NAME`, counted in TAP_PASS and TAP_FAIL; TAP_TAG is
# put before every name ("[nginx] "); a suite that defines tap_detail gets
# its output under a failed check (integration: the last response).
TAP_PASS=0
TAP_FAIL=0
TAP_TAG=""

ok() { TAP_PASS=$((TAP_PASS + 1)); echo "ok - $TAP_TAG$1"; }
not_ok() {
  TAP_FAIL=$((TAP_FAIL + 1))
  echo "not ok - $TAP_TAG$1"
  [[ -z ${2:-} ]] || printf '#   %s\n' "$2"
}
# check NAME CMD...: one test point from a command's status.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name" "$(tap_detail)"; fi
}
tap_detail() { :; }
# setup WHAT CMD...: a step the suite cannot go on without (starting a
# server...): when CMD fails, one "not ok - setup: WHAT" and exit 1, since
# nothing after it can pass (the suite's EXIT trap prints the summary).
setup() {
  local what=$1
  shift
  "$@" && return 0
  not_ok "setup: $what"
  exit 1
}
# tap_relay FILE: a child's TAP lines counted as this suite's: "ok"/"not ok"
# lines become test points, "# ..." lines pass through, SKIPs are shown but
# not counted, anything else is shown as a comment.
tap_relay() {
  local line
  while IFS= read -r line; do
    case $line in
      "ok - "*" # SKIP "*) echo "$line" ;;
      "ok - "*) ok "${line#ok - }" ;;
      "not ok - "*) not_ok "${line#not ok - }" ;;
      "#"*) echo "$line" ;;
      *) echo "# $line" ;;
    esac
  done <"$1"
}
