#!/bin/sh
# Browser end-to-end test: the demo SPA driven by Debian's chromium (headless)
# through playwright-core. See e2e.js for the steps.
#
# This script starts nothing. The stack must already be running, with these
# addresses: stack-run.sh (`make browser`, in `make check`) starts one, runs
# this script and stops it; by hand, `make run` in another terminal is one:
#
#   Redis      any; the app's REDIS_URL
#   MockPass   http://localhost:5156, started with SHOW_LOGIN_PAGE=true
#              (sgID v2 under /v2; the persona picker must be shown)
#   sgid-fcgi  workers behind nginx, configured with
#                SGID_HOSTNAME=http://localhost:5156
#                SGID_REDIRECT_URI=http://localhost:5001/api/redirect
#                SGID_FRONTEND_HOST=http://localhost:5173
#   nginx      the API on 127.0.0.1:5001 (/api/*) and deploy/demo-spa on
#              127.0.0.1:5173 (try_files $uri /index.html)
#
# The browser opens http://localhost:5173 by name: the SPA and the API must be
# same-site (localhost:5173 and localhost:5001) for the session cookie to ride
# on the SPA's credentialed fetches.
#
# Needs: the pinned Node (deploy/deps.sh; it runs npm ci here when
# package-lock.json changed), chromium at /usr/bin/chromium.
#
# Optional environment, passed to e2e.js:
#   SPA_URL (http://localhost:5173)  API_URL (http://localhost:5001)
#   MOCKPASS_URL (http://localhost:5156)  CHROMIUM (/usr/bin/chromium)
#   ARTIFACTS_DIR (tests/artifacts/browser)  PERSONA_NRIC (second persona)
#   MOCKPASS_DIR (the @opengovsg/mockpass package the stack runs, whose persona
#                 data gives the expected name; default: the one installed
#                 under tests/mockpass)
#   STEP_TIMEOUT_MS (15000)  TOTAL_TIMEOUT_MS (240000)
#
# Output: "ok - STEP" / "not ok - STEP" lines, then
# "browser: N passed, N failed". Screenshots and the browser's console log go
# to tests/artifacts/browser/ (not committed). Exit status 0 only if all passed.

set -eu
cd "$(dirname "$0")"

fail() {
	echo "not ok - $1"
	echo "browser: 0 passed, 1 failed"
	exit 1
}

chromium_bin=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium_bin" ] || fail "chromium not found at $chromium_bin (apt-get install chromium)"

# Install the locked dependencies when missing or not the locked version.
../../deploy/deps.sh --npm tests/browser >&2 || fail "npm ci in tests/browser"

total_ms=${TOTAL_TIMEOUT_MS:-240000}
exec timeout --kill-after=10 $((total_ms / 1000 + 60)) node e2e.js
