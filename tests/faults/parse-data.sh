#!/usr/bin/env bash
# (m) SGID_PARSE_DATA=1 end to end (issue 14 item 6): the hostile IdP sends
#   MyInfo-like stringified JSON (children's birth records, vehicles) and
#   hostile values through the real JWE path, nginx and Redis; /api/userinfo
#   gives the first as JSON and keeps every hostile one a string, the same
#   from sgID and from the cached profile. MockPass's sgID sends no such
#   value worth the name (vehicles is "[]" or not a string), hence the IdP.
set -euo pipefail
# shellcheck source=tests/faults/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f_begin parse-data

f_stack idp 2 SGID_PARSE_DATA=1
T=$STACK_RT

deep=$(printf '%.0s[' {1..20})$(printf '%.0s]' {1..20})
scenario=$(jq -nc --arg deep "$deep" '{userinfo: {data_plain: {
  "myinfo.children_birth_records": "[{\"birth_cert_number\":\"T1234567A\",\"name\":\"TAN AH KOW\",\"date_of_birth\":\"2018-05-05\"}]",
  "myinfo.vehicles": "[ {\"vehicle_number\": \"SBA1234A\", \"n\": 1e999} ]",
  "hostile.deep": $deep,
  "hostile.dup": "{\"a\":1,\"a\":2}",
  "hostile.big": "[18446744073709551617]",
  "hostile.nul": "[\"a\\u0000b\"]",
  "hostile.trailing": "[1] x]",
  "hostile.padded": " [1]"
}}}')
f_idp_scenario "$scenario"
f_load logins --api "$API" --count 1 --prefix pd --out "$T/s.tsv" >/dev/null
setup "one session" test "$(wc -l <"$T/s.tsv")" -eq 1
cookie=$(cut -f1 "$T/s.tsv")
get() { curl -fsS --max-time 10 -H "Cookie: $COOKIE=$cookie" "$API/api/userinfo"; }
get >"$T/first.json"
get >"$T/second.json"
d() { jq -c ".data[\"$1\"]" "$T/first.json"; }

note "data: $(jq -c .data "$T/first.json" | cut -c1-600)"
check "children's birth records are JSON" \
  test "$(d myinfo.children_birth_records)" == '[{"birth_cert_number":"T1234567A","name":"TAN AH KOW","date_of_birth":"2018-05-05"}]'
check "vehicles are JSON, compact, 1e999 as sent" \
  grep -qF '"myinfo.vehicles":[{"vehicle_number":"SBA1234A","n":1e999}]' "$T/first.json"
check "20 levels deep stays a string" test "$(jq -r '.data["hostile.deep"] | type' "$T/first.json")" == string
for k in dup big nul trailing padded; do
  check "hostile.$k stays the string sent" test "$(jq -r ".data[\"hostile.$k\"] | type" "$T/first.json")" == string
done
check "hostile.dup unchanged" test "$(jq -r '.data["hostile.dup"]' "$T/first.json")" == '{"a":1,"a":2}'
check "the cached profile gives the same body" cmp -s "$T/first.json" "$T/second.json"
check "the name is still a plain string" test "$(jq -r '.data["myinfo.name"]' "$T/first.json")" == "HOSTILE TEST PERSONA"
