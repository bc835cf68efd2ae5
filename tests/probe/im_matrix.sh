#!/usr/bin/env bash
# im_matrix.sh [TECH...]: `keepon probe im` against the netns lab (docs/lab.md), table-driven.
# The techniques to cover are the arguments (default: all); CTest splits them over several
# instances (each with its own lab prefix) so that each stays well under 90 s.
#   1. no censorship: every app OK;
#   2. for each technique x app: only that app is BLOCKED, with exactly that technique
#      (terminal line and the keepon_technique key of its measurement);
#   3. network_down: every app BLOCKED (network_down) within the --timeout budget;
#   3b. with tcp_reset: one WhatsApp endpoint reset (--target whatsapp:e3.whatsapp.net) is
#      DEGRADED, never BLOCKED (OONI: endpoints ok, e3 in whatsapp_endpoints_blocked); every
#      endpoint reset one by one (registration and web untouched) is BLOCKED (tcp_reset);
#   4. tls_mitm (not a lab technique): the probe run without the lab CA sees certificates it
#      cannot verify on every TLS flow, so every app is BLOCKED (tls_mitm).
# Each measurement must parse back through the reader (tests/probe: the JSONL is
# also checked for OONI's required envelope fields here with grep).
# Own lab instance with a unique prefix; trap tears it down on every exit path.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
command -v ip >/dev/null || { echo "skip: no iproute2"; exit 77; }
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
K=${KP_BIN:?KP_BIN must point at the keepon binary}
export KP_BIN=$K
P=kpt-im-$$
S=$(mktemp -d /tmp/kpt-im-state.XXXXXX)
export KEEPON_HOME=$S/home  # outbox and state of this run stay in the temp folder
out=$S/out
mkdir -p "$out"
lab() { "$K" lab "$@" --prefix "$P" --state "$S/lab"; }
cleanup() {
  lab down >/dev/null 2>&1 || true
  rm -rf "$S"
}
trap cleanup EXIT INT TERM
TIMEOUT=${KP_IM_TIMEOUT:-8}
APPS="whatsapp telegram signal facebook_messenger"
ALL="dns_forged dns_nxdomain dns_injected ip_blackhole tcp_reset tls_sni_reset tls_sni_drop http_blockpage throttled network_down tls_mitm"
TECHS=${*:-$ALL}
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

probe() { # NAME [CA-FILE] -> $out/NAME.txt (terminal) and $out/NAME.jsonl; prints wall seconds
  # --no-locate: the matrix times techniques and expects ZZ/AS0; tests/locate covers the lookup
  local t0 t1 ca=${2-$S/lab/pki/ca.crt}
  t0=$(date +%s.%N)
  ip netns exec "$P-client" "$K" probe im --targets "$src/data/targets/lab-im.json" --resolver 198.19.10.53 \
    ${ca:+--ca-file "$ca"} --output "$out/$1.jsonl" --timeout "$TIMEOUT" --parallel 64 --no-locate \
    >"$out/$1.txt" 2>"$out/$1.err" || { bad "$1: probe exited $?"; cat "$out/$1.err"; }
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}'
}
line() { grep -E "^$2 " "$out/$1.txt" || true; }
CHECK=${KP_BUILD:+$KP_BUILD/tests/probe/msmt_check}
check_jsonl() { # NAME: 4 measurements with the required envelope fields, read back by the reader
  local f=$out/$1.jsonl n k
  if [ -n "$CHECK" ] && [ -x "$CHECK" ]; then
    if "$CHECK" "$f" 4; then ok; else bad "$1: the reader rejected the measurements"; fi
  fi
  n=$(wc -l <"$f" 2>/dev/null || echo 0)
  [ "$n" = 4 ] || { bad "$1: $n measurements, want 4"; return; }
  for k in '"report_id":"[0-9]{8}T[0-9]{6}Z_[a-z]+_ZZ_0_n1_[A-Za-z0-9]{16}"' '"probe_cc":"ZZ"' '"probe_asn":"AS0"' \
    '"probe_ip":"127.0.0.1"' '"test_version":"' '"measurement_start_time":"' '"test_start_time":"' '"data_format_version":"0.2.0"'; do
    [ "$(grep -cE "$k" "$f")" = 4 ] || bad "$1: not every measurement has $k"
  done
}

lab up >/dev/null 2>&1 || { echo "lab up failed"; exit 1; }
w=$(probe baseline)
for app in $APPS; do
  if line baseline "$app" | grep -q " OK "; then ok; else bad "baseline $app: $(line baseline "$app")"; fi
done
check_jsonl baseline
echo "baseline: ${w}s"

for tech in $TECHS; do
  case $tech in network_down | tls_mitm) continue ;; esac
  for app in $APPS; do
    lab censor "$tech" on --target "$app" >/dev/null 2>&1 || bad "$tech on $app: censor failed"
    name=$tech-$app
    w=$(probe "$name")
    lab censor "$tech" off --target "$app" >/dev/null 2>&1 || bad "$tech off $app: censor failed"
    for other in $APPS; do
      l=$(line "$name" "$other")
      if [ "$other" = "$app" ]; then
        if echo "$l" | grep -qE " BLOCKED \($tech, [0-9]+/[0-9]+ endpoints\)"; then ok; else bad "$name: $l"; fi
        if grep "\"test_name\":\"$app\"" "$out/$name.jsonl" | grep -q "\"keepon_technique\":\"$tech\""; then ok; else bad "$name: keepon_technique"; fi
      else
        if echo "$l" | grep -q " OK "; then ok; else bad "$name (bystander): $l"; fi
      fi
    done
    [ -z "$CHECK" ] || [ ! -x "$CHECK" ] || "$CHECK" "$out/$name.jsonl" 4 || bad "$name: the reader rejected the measurements"
    echo "$name: ${w}s"
  done
done

if [[ " $TECHS " == *" tcp_reset "* ]]; then
  # the agreement rule (src/analysis/classify.c): scattered failures name no technique
  lab censor tcp_reset on --target whatsapp:e3.whatsapp.net >/dev/null 2>&1 || bad "tcp_reset on whatsapp:e3: censor failed"
  w=$(probe one-endpoint)
  lab censor tcp_reset off --target whatsapp:e3.whatsapp.net >/dev/null 2>&1 || bad "tcp_reset off whatsapp:e3: censor failed"
  l=$(line one-endpoint whatsapp)
  if echo "$l" | grep -qE " DEGRADED \(3[0-9]/3[0-9] reachable\).*e3\.whatsapp\.net.*tcp_reset"; then ok; else bad "one endpoint reset: $l"; fi
  wa=$(grep '"test_name":"whatsapp"' "$out/one-endpoint.jsonl")
  echo "$wa" | grep -q '"keepon_verdict":"degraded"' && echo "$wa" | grep -q '"keepon_technique":null' && ok ||
    bad "one endpoint reset: keepon_verdict/technique"
  echo "$wa" | grep -q '"whatsapp_endpoints_blocked":\["e3.whatsapp.net"\]' && echo "$wa" | grep -q '"whatsapp_endpoints_status":"ok"' &&
    ok || bad "one endpoint reset: OONI's keys"
  for other in telegram signal facebook_messenger; do
    line one-endpoint "$other" | grep -q " OK " && ok || bad "one endpoint reset (bystander $other): $(line one-endpoint "$other")"
  done
  echo "one-endpoint (whatsapp:e3 tcp_reset): ${w}s"
  for i in $(seq 1 16); do lab censor tcp_reset on --target "whatsapp:e$i.whatsapp.net" >/dev/null 2>&1 || bad "tcp_reset on e$i"; done
  w=$(probe all-endpoints)
  for i in $(seq 1 16); do lab censor tcp_reset off --target "whatsapp:e$i.whatsapp.net" >/dev/null 2>&1 || bad "tcp_reset off e$i"; done
  l=$(line all-endpoints whatsapp)
  if echo "$l" | grep -qE " BLOCKED \(tcp_reset, 32/3[0-9] endpoints\)"; then ok; else bad "all endpoints reset: $l"; fi
  grep '"test_name":"whatsapp"' "$out/all-endpoints.jsonl" | grep -q '"whatsapp_endpoints_status":"blocked"' && ok ||
    bad "all endpoints reset: whatsapp_endpoints_status"
  echo "all-endpoints (16 x whatsapp:eN tcp_reset): ${w}s"
fi
if [[ " $TECHS " == *" network_down "* ]]; then
  lab censor network_down on >/dev/null 2>&1
  w=$(probe network_down)
  lab censor network_down off >/dev/null 2>&1
  for app in $APPS; do
    if line network_down "$app" | grep -q " BLOCKED (network_down,"; then ok; else bad "network_down $app: $(line network_down "$app")"; fi
  done
  check_jsonl network_down
  # the budget bounds waiting (a run that waited out each app's timeouts in turn would take
  # 4 x TIMEOUT); the ASan+UBSan build also spends several times the CPU on the same run (its
  # baseline takes ~8 s on a loaded 2-core machine, 0.9 s in release), so it gets 2 x TIMEOUT
  lim=$((TIMEOUT + 1))
  [ "${KP_SANITIZE:-0}" = 1 ] && lim=$((2 * TIMEOUT))
  if awk -v w="$w" -v b="$lim" 'BEGIN { exit !(w <= b) }'; then ok; else bad "network_down took ${w}s, budget ${lim}s (--timeout ${TIMEOUT})"; fi
  echo "network_down: ${w}s"
fi
if [[ " $TECHS " == *" tls_mitm "* ]]; then
  w=$(probe tls_mitm "")
  for app in $APPS; do
    if line tls_mitm "$app" | grep -q " BLOCKED (tls_mitm,"; then ok; else bad "tls_mitm $app: $(line tls_mitm "$app")"; fi
  done
  check_jsonl tls_mitm
  grep -q '"failure":"ssl_unknown_authority"' "$out/tls_mitm.jsonl" && ok || bad "tls_mitm: no ssl_unknown_authority"
  echo "tls_mitm (lab CA withheld): ${w}s"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
