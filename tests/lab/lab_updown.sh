#!/usr/bin/env bash
# lab_updown.sh: up and down are idempotent, status reports both states, down leaves nothing
# behind (namespaces, processes, /etc/netns, state), a failing script's trap still cleans up,
# and bad input exits 2 without touching anything.
NAME=updown
. "$(dirname "$0")/common.sh"

t0=$(date +%s%N)
lab up >/dev/null 2>&1
expect "first up" 0 $?
echo "up took $((($(date +%s%N) - t0) / 1000000)) ms"
pids=$(cat "$S"/state/pid/*.pid | awk '{ print $1 }' | sort -n | tr '\n' ' ')
lab up >/dev/null 2>&1
expect "second up is a no-op (same daemons)" "$pids" "$(cat "$S"/state/pid/*.pid | awk '{ print $1 }' | sort -n | tr '\n' ' ')"
rc=0; lab status >/dev/null || rc=$?
expect "status when up" 0 $rc
expect "three namespaces" 3 "$(ip netns list | grep -c "^$P-")"
expect "client resolv.conf" 1 "$(grep -c "nameserver 198.19.10.53" "/etc/netns/$P-client/resolv.conf")"
expect "https with the lab CA, v4" "200 rc=0" "$(curl_rc https://web.whatsapp.com/)"
expect "https with the lab CA, v6" "200 rc=0" "$(curl_rc https://web.whatsapp.com/ -6)"
expect "https without the CA fails verification" "000 rc=60" "$(cl curl -s -o /dev/null -w '%{http_code}' --max-time 2 https://example.org/ || echo " rc=$?")" 
expect "v.whatsapp.net /v2/register" "200 rc=0" "$(curl_rc https://v.whatsapp.net/v2/register -X POST)"
expect "telegram DC plain HTTP POST on 443" "200 rc=0" "$(curl_rc http://198.19.13.2:443/api -X POST --data x)"
expect "e5.whatsapp.net port 5222 answers" "200 rc=0" "$(curl_rc http://e5.whatsapp.net:5222/)"
expect "every name has a leaf signed by the lab CA" 0 "$(for c in "$S"/state/pki/*.*.crt; do openssl verify -CAfile "$CA" "$c" >/dev/null || echo x; done | wc -l)"
expect "unknown name is NXDOMAIN" NXDOMAIN "$(dig_a nothere.example)"
expect "no route out of the lab" unreachable "$(ip netns exec "$P-censor" ip route get 8.8.8.8 >/dev/null 2>&1 && echo routed || echo unreachable)"

daemon_pids=$(cat "$S"/state/pid/*.pid | awk '{ print $1 }')
lab down >/dev/null 2>&1
expect "first down" 0 $?
lab down >/dev/null 2>&1
expect "second down" 0 $?
expect "no namespace left" 0 "$(ip netns list | grep -c "^$P-" || true)"
expect "no /etc/netns left" 0 "$(ls -d /etc/netns/"$P"-* 2>/dev/null | wc -l)"
expect "no state left" no "$([ -e "$S/state" ] && echo yes || echo no)"
alive=0
for pid in $daemon_pids; do
  st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
  [ -n "$st" ] && [ "$st" != Z ] && alive=$((alive + 1))
done
expect "no daemon left running" 0 "$alive"
rc=0; lab status >/dev/null || rc=$?
expect "status when down" 3 "$rc"

# a test that fails half-way still cleans up through its trap
rc=0
bash -c '
  set -e
  trap "\"$KP_BIN\" lab --prefix \"$1\"-f --state \"$2\"/f down >/dev/null 2>&1" EXIT
  "$KP_BIN" lab --prefix "$1"-f --state "$2"/f up >/dev/null 2>&1
  "$KP_BIN" lab --prefix "$1"-f --state "$2"/f censor network_down on >/dev/null 2>&1
  false
' _ "$P" "$S" || rc=$?
expect "failing script exits non-zero" 1 "$rc"
expect "failing script left no namespace" 0 "$(ip netns list | grep -c "^$P-f-" || true)"
expect "failing script left no state" no "$([ -e "$S/f" ] && echo yes || echo no)"

# bad input: exit 2, nothing created
for args in "censor bogus on --target whatsapp" "censor ip_blackhole on" "censor network_down on --target x" \
  "censor throttled on --target whatsapp --rate fast" "fly" "--prefix BAD up" "censor tls_mitm on" "censor ip_blackhole on --target nosuch.example"; do
  rc=0
  # shellcheck disable=SC2086
  lab $args >/dev/null 2>&1 || rc=$?
  expect "bad input '$args' exits 2" 2 "$rc"
done
expect "bad input created nothing" 0 "$(ip netns list | grep -c "^$P-" || true)"
finish
