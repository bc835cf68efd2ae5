# shellcheck shell=bash
# common.sh: shared setup of the lab script tests. Sourced by each test with NAME set.
# Gives: P (unique prefix), S (state folder), lab (keepon lab with them), cl (run in the client),
# check/expect helpers and a trap that tears the lab down on every exit path.
set -euo pipefail
KP_BIN=${KP_BIN:?KP_BIN must point at the keepon binary}
[ "$(id -u)" = 0 ] || { echo "skip: the lab needs root"; exit 77; }
for t in ip dnsmasq nginx openssl iptables ip6tables tc conntrack dig curl python3; do
  command -v "$t" >/dev/null || { echo "skip: $t not installed (scripts/deps.sh)"; exit 77; }
done
P=kpt-${NAME}-$$
S=$(mktemp -d "/tmp/kpt-${NAME}-$$.XXXXXX")
CA=$S/state/pki/ca.crt
pass=0
fail=0
cleanup() {
  local rc=$?
  "$KP_BIN" lab --prefix "$P" --state "$S/state" down >/dev/null 2>&1 || true
  rm -rf "$S"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab() { "$KP_BIN" lab --prefix "$P" --state "$S/state" "$@"; }
cl() { ip netns exec "$P-client" "$@"; }
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# expect DESC WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1 ($3)"; else bad "$1: want '$2', got '$3'"; fi; }
# curl_rc URL [curl options]: "CODE rc=RC" as the client sees it (2 s timeout)
curl_rc() {
  local url=$1 code rc=0
  shift
  code=$(cl curl -s -o /dev/null -w '%{http_code}' --max-time 2 --connect-timeout 1 --cacert "$CA" "$@" "$url") || rc=$?
  echo "$code rc=$rc"
}
# dig_a NAME [dig options]: the A answers (or the status when there is none)
dig_a() {
  local out
  out=$(cl dig +time=1 +tries=1 "$@" | awk '$4 == "A" || $4 == "AAAA" { print $5 }' | sort | tr '\n' ' ')
  if [ -n "$out" ]; then echo "${out% }"; else cl dig +time=1 +tries=1 "$@" | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; fi
}
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
