#!/usr/bin/env bash
# The Singpass key commands and --check-config, run as an operator runs
# them (part of `make unit` and `make unit-asan`, on that tree's binary):
#
#   keygen DIR     two 0600 P-256 PEM files, nothing secret printed, never
#                  an existing file overwritten (and nothing left behind)
#   jwks           the public JWKS of the configured keys: sig + enc, current
#                  and previous, only kty crv x y use alg kid (never "d")
#   --check-config with LOGIN_PROVIDER=singpass: loads the keys and names
#                  the variable of a wrong one; exit 2
#
# No Redis, no network. SGID_FCGI is the binary (default build/sgid-fcgi).
# Prints "ok - NAME" / "not ok - NAME" and ends with "cli: N passed, N failed".

# Checks pass their conditions as single-quoted strings that `check ... eval`
# expands later, on purpose.
# shellcheck disable=SC2016
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${SGID_FCGI:-$root/build/sgid-fcgi}
[[ $BIN == /* ]] || BIN=$root/$BIN
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/sgid-cli.XXXXXX")
finish() {
  rm -rf "$T"
  echo "cli: $TAP_PASS passed, $TAP_FAIL failed"
  ((TAP_FAIL == 0))
}
trap finish EXIT
tap_detail() { printf '%s\n' "--- stdout" "$(head -c 2000 "$T/out" 2>/dev/null)" \
  "--- stderr" "$(head -c 2000 "$T/err" 2>/dev/null)" | sed 's/^/#   /'; }

V=$root/tests/vectors
SECRET=cli-session-secret-DO-NOT-PRINT-0123456789
# run ARGS...: the binary in a clean environment (only what run_env holds),
# in $T/cwd (no stray .env), its status in RC, output in $T/out and $T/err
run_env=()
run() {
  env -i PATH="$PATH" "${run_env[@]}" sh -c 'cd "$1" && shift && exec "$@"' sh "$T/cwd" \
    "$BIN" "$@" >"$T/out" 2>"$T/err"
  RC=$?
}
mkdir -p "$T/cwd"
setup "the binary is built ($BIN)" test -x "$BIN"

# ---- keygen ----
K=$T/keys
mkdir "$K"
run keygen "$K"
check "keygen: exit 0" test "$RC" = 0
check "keygen: both files written" test -s "$K/singpass-signing.pem" -a -s "$K/singpass-encryption.pem"
check "keygen: files are mode 0600" eval '[[ $(stat -c %a "$K/singpass-signing.pem" "$K/singpass-encryption.pem" | sort -u) == 600 ]]'
# p256_keys FILE...: each a P-256 private key as openssl reads it
p256_keys() {
  local f
  for f; do openssl pkey -in "$f" -noout -text 2>/dev/null | grep -q "NIST CURVE: P-256" || return 1; done
}
check "keygen: two P-256 private keys (openssl reads them)" p256_keys "$K/singpass-signing.pem" "$K/singpass-encryption.pem"
check "keygen: the signing and encryption keys differ" eval \
  '! cmp -s <(openssl pkey -in "$K/singpass-signing.pem" -pubout) <(openssl pkey -in "$K/singpass-encryption.pem" -pubout)'
check "keygen: prints the env lines with absolute paths" eval \
  'grep -qx "SINGPASS_SIGNING_KEY_FILE=$K/singpass-signing.pem" "$T/out" &&
   grep -qx "SINGPASS_ENCRYPTION_KEY_FILE=$K/singpass-encryption.pem" "$T/out"'
check "keygen: prints nothing of the keys (no PEM, no base64 line of a file)" eval \
  '! grep -q -- "-----" "$T/out" "$T/err" && ! grep -qxF -f <(grep -vh -- "-----" "$K"/singpass-*.pem) "$T/out" "$T/err"'
SIG_KID=$(sed -n 's/.*singpass-signing.pem: signing key, kid \([^,]*\),.*/\1/p' "$T/out")
ENC_KID=$(sed -n 's/.*singpass-encryption.pem: encryption key, kid \([^,]*\),.*/\1/p' "$T/out")
check "keygen: prints both kids (43-character thumbprints)" eval '[[ ${#SIG_KID} == 43 && ${#ENC_KID} == 43 ]]'
sums=$(sha256sum "$K"/singpass-*.pem)
run keygen "$K"
check "keygen: an existing file is refused (exit 1, says why)" eval '[[ $RC == 1 ]] && grep -q "never overwrites" "$T/err"'
check "keygen: the existing files are unchanged" eval '[[ $(sha256sum "$K"/singpass-*.pem) == "$sums" ]]'
K2=$T/keys2
mkdir "$K2"
echo "not mine" >"$K2/singpass-encryption.pem"
run keygen "$K2"
check "keygen: only the second file exists: refused, and no signing key left behind" eval \
  '[[ $RC == 1 && ! -e $K2/singpass-signing.pem && $(cat "$K2/singpass-encryption.pem") == "not mine" ]]'
rm "$K2/singpass-encryption.pem"
ln -s "$T/elsewhere" "$K2/singpass-signing.pem"
run keygen "$K2"
check "keygen: a symlink in the way is not followed" eval '[[ $RC == 1 && ! -e $T/elsewhere ]]'
rm "$K2/singpass-signing.pem"
(umask 000 && run keygen "$K2" && [[ $RC == 0 ]])
check "keygen: 0600 under umask 000" eval '[[ $(stat -c %a "$K2/singpass-signing.pem" "$K2/singpass-encryption.pem" | sort -u) == 600 ]]'
run keygen "$T/no-such-dir"
check "keygen: a missing DIR: exit 1" test "$RC" = 1
run keygen
check "keygen without DIR: usage, exit 64" test "$RC" = 64
run keygen "$K" extra
check "keygen with two DIRs: usage, exit 64" test "$RC" = 64

# ---- jwks ----
KEYS_ENV=(SINGPASS_SIGNING_KEY_FILE="$K/singpass-signing.pem"
  SINGPASS_ENCRYPTION_KEY_FILE="$K/singpass-encryption.pem")
run_env=("${KEYS_ENV[@]}")
run jwks
check "jwks: exit 0, nothing else configured (no LOGIN_PROVIDER, no Redis)" test "$RC" = 0
check "jwks: one sig key and one enc key" eval \
  '[[ $(jq -c "[.keys[] | [.use, .alg, .kty, .crv]]" "$T/out") == "[[\"sig\",\"ES256\",\"EC\",\"P-256\"],[\"enc\",\"ECDH-ES+A256KW\",\"EC\",\"P-256\"]]" ]]'
check "jwks: only public members (kty crv x y use alg kid), never d" eval \
  '[[ $(jq -c "[.keys[] | keys]|unique" "$T/out") == "[[\"alg\",\"crv\",\"kid\",\"kty\",\"use\",\"x\",\"y\"]]" ]] && ! grep -q "\"d\"" "$T/out"'
check "jwks: the kids keygen printed" eval \
  '[[ $(jq -r ".keys[0].kid, .keys[1].kid" "$T/out" | tr "\n" " ") == "$SIG_KID $ENC_KID " ]]'
# b64url_coord FILE N: coordinate N (0 x, 1 y) of the key's public point
b64url_coord() {
  openssl pkey -in "$1" -pubout -outform DER | tail -c 64 | tail -c $((64 - 32 * $2)) | head -c 32 |
    base64 -w0 | tr '+/' '-_' | tr -d '='
}
jwks_points_match() {
  local want got
  want="$(b64url_coord "$K/singpass-signing.pem" 0) $(b64url_coord "$K/singpass-signing.pem" 1)"
  want+=" $(b64url_coord "$K/singpass-encryption.pem" 0) $(b64url_coord "$K/singpass-encryption.pem" 1)"
  got=$(jq -r '[.keys[] | .x, .y] | join(" ")' "$T/out")
  [[ -n $got && $got == "$want" ]]
}
check "jwks: x and y are the key files' public points" jwks_points_match
run_env=("${KEYS_ENV[@]}" SINGPASS_SIGNING_KEY_PREVIOUS_FILE="$V/test-ec-p256-key.pem"
  SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE="$V/test-ec-p256-sec1-key.pem"
  SINGPASS_ENCRYPTION_KEY_ID=enc-2026)
run jwks
jwks_uses() { jq -r '[.keys[].use] | join(" ")' "$T/out"; }
check "jwks: current and previous keys, in order sig sig enc enc" eval \
  '[[ $RC == 0 && $(jwks_uses) == "sig sig enc enc" ]]'
check "jwks: a configured kid is used" eval '[[ $(jq -r ".keys[2].kid" "$T/out") == enc-2026 ]]'
check "jwks: still no private member" eval '! grep -q "\"d\"" "$T/out"'
run_env=()
printf 'SINGPASS_SIGNING_KEY_FILE=%s\nSINGPASS_ENCRYPTION_KEY_FILE=%s\n' \
  "$K/singpass-signing.pem" "$K/singpass-encryption.pem" >"$T/keys.env"
run jwks --env-file "$T/keys.env"
check "jwks --env-file: the same JWKS" eval '[[ $RC == 0 && $(jq -r ".keys[1].kid" "$T/out") == "$ENC_KID" ]]'
run jwks --env-file "$T/nothing.env"
check "jwks --env-file missing: exit 2" test "$RC" = 2
run_env=(SINGPASS_SIGNING_KEY_FILE="$K/singpass-signing.pem" SINGPASS_ENCRYPTION_KEY_FILE="$V/test-signing-key.pem")
run jwks
check "jwks: an RSA encryption key: exit 2 naming SINGPASS_ENCRYPTION_KEY_FILE, nothing on stdout" eval \
  '[[ $RC == 2 && ! -s $T/out ]] && grep -q "SINGPASS_ENCRYPTION_KEY_FILE: private key is RSA" "$T/err"'
run_env=(SINGPASS_SIGNING_KEY_FILE="$K/singpass-signing.pem")
run jwks
check "jwks: no encryption key: exit 2 naming SINGPASS_ENCRYPTION_KEY_FILE" eval \
  '[[ $RC == 2 ]] && grep -q "SINGPASS_ENCRYPTION_KEY_FILE" "$T/err"'
run_env=("${KEYS_ENV[@]}")
run jwks extra
check "jwks with an argument: usage, exit 64" test "$RC" = 64

# ---- --check-config with LOGIN_PROVIDER=singpass ----
SP_ENV=(LOGIN_PROVIDER=singpass SINGPASS_CLIENT_ID=cli-test-client
  SINGPASS_REDIRECT_URI=https://app.example.sg/api/redirect SESSION_SECRET="$SECRET" "${KEYS_ENV[@]}")
run_env=("${SP_ENV[@]}")
run --check-config
check "check-config singpass: OK, exit 0" eval '[[ $RC == 0 ]] && grep -q "^configuration OK: Singpass issuer https://id.singpass.gov.sg/fapi" "$T/out"'
check "check-config singpass: lists both kids" eval \
  'grep -q "signing key: kid $SIG_KID" "$T/out" && grep -q "encryption key: kid $ENC_KID" "$T/out"'
check "check-config singpass: no secret printed" eval '! grep -q "$SECRET" "$T/out" "$T/err"'
check "check-config singpass: no warning for 0600 keys" eval '! grep -q "open to other users" "$T/err"'
# check_refused NAME VAR=VALUE... -- WANT: exit 2 and WANT on stderr
check_refused() {
  local name=$1 want=${*: -1}
  run_env=("${SP_ENV[@]}" "${@:2:$#-3}")
  run --check-config
  check "check-config singpass refuses $name: exit 2 naming it" eval \
    '[[ $RC == 2 && ! -s $T/out ]] && grep -qF -- "$want" "$T/err"'
}
check_refused "a P-384 signing key" SINGPASS_SIGNING_KEY_FILE="$V/test-ec-p384-key.pem" -- \
  "SINGPASS_SIGNING_KEY_FILE: EC private key is not on curve P-256"
check_refused "a secp256k1 previous encryption key" SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE="$V/test-ec-secp256k1-key.pem" -- \
  "SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE: EC private key is not on curve P-256"
check_refused "an Ed25519 previous signing key" SINGPASS_SIGNING_KEY_PREVIOUS_FILE="$V/test-ed25519-key.pem" -- \
  "SINGPASS_SIGNING_KEY_PREVIOUS_FILE: private key is not an EC key"
check_refused "an RSA encryption key" SINGPASS_ENCRYPTION_KEY_FILE="$V/test-rsa1024-key.pem" -- \
  "SINGPASS_ENCRYPTION_KEY_FILE: private key is RSA"
check_refused "duplicate kids" SINGPASS_SIGNING_KEY_ID=one SINGPASS_ENCRYPTION_KEY_ID=one -- \
  "SINGPASS_ENCRYPTION_KEY_ID: kid already used by SINGPASS_SIGNING_KEY_FILE"
check_refused "the same key for signing and encryption" SINGPASS_ENCRYPTION_KEY_FILE="$K/singpass-signing.pem" -- \
  "SINGPASS_ENCRYPTION_KEY_FILE: the same key pair as SINGPASS_SIGNING_KEY_FILE"
check_refused "a missing key file" SINGPASS_ENCRYPTION_KEY_FILE="$T/gone.pem" -- \
  "SINGPASS_ENCRYPTION_KEY_FILE: cannot read the file"
check_refused "an unset encryption key" SINGPASS_ENCRYPTION_KEY_FILE= -- \
  "SINGPASS_ENCRYPTION_KEY_FILE: is required"
check_refused "no SESSION_SECRET" SESSION_SECRET= -- "SESSION_SECRET: is required with LOGIN_PROVIDER=singpass"
check_refused "an unknown LOGIN_PROVIDER" LOGIN_PROVIDER=singpas -- "LOGIN_PROVIDER: must be sgid or singpass"
check_refused "an http issuer off loopback" SINGPASS_ISSUER=http://id.singpass.gov.sg/fapi -- "SINGPASS_ISSUER: must use https://"
cp "$K/singpass-signing.pem" "$T/open.pem"
chmod 0644 "$T/open.pem"
run_env=("${SP_ENV[@]}" SINGPASS_SIGNING_KEY_FILE="$T/open.pem")
run --check-config
check "check-config singpass: a key file open to others loads, with a warning naming it" eval \
  '[[ $RC == 0 ]] && grep -q "SINGPASS_SIGNING_KEY_FILE: the key file is open to other users (mode 0644)" "$T/err"'
chmod 0640 "$T/open.pem"
run --check-config
check "check-config singpass: a 0640 key file (the service's group) loads without a warning" eval \
  '[[ $RC == 0 ]] && ! grep -q "open to other users" "$T/err"'

# ---- sgID unchanged ----
run_env=(SGID_CLIENT_ID=cli-sgid SGID_CLIENT_SECRET="$SECRET" SGID_PRIVATE_KEY_FILE="$root/tests/fixtures/client-test-key.pem")
run --check-config
check "check-config sgid (the default): OK as before" eval \
  '[[ $RC == 0 ]] && grep -q "^configuration OK: issuer https://api.id.gov.sg/v2, client cli-sgid" "$T/out"'
