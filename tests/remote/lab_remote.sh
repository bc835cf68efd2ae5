#!/usr/bin/env bash
# lab_remote.sh: keepon remote dns / http from outside a lab "country" (lab/remote/world.sh):
# a clean run names nothing; with the censor on, each technique on a remote path is named.
set -euo pipefail
KP_BIN=${KP_BIN:?KP_BIN must point at the keepon binary}
[ "$(id -u)" = 0 ] || { echo "skip: the lab needs root"; exit 77; }
for t in ip dnsmasq nginx iptables python3; do command -v "$t" >/dev/null || { echo "skip: $t missing"; exit 77; }; done
P=kr$$
S=$(mktemp -d "/tmp/kpt-remote-$$.XXXXXX")
SRC=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../../lab/remote/world.sh
. "$SRC/lab/remote/world.sh"
pass=0 fail=0
cleanup() { local rc=$?; remote_world_down; rm -rf "$S"; exit "$rc"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
expect() { if [ "$2" = "$3" ]; then ok "$1 ($3)"; else bad "$1: want '$2', got '$3'"; fi; }

remote_world_up
printf '198.18.200.10 resolver asn=64510 cc=KZ\n198.18.200.11 resolver asn=64511 cc=KZ\n198.18.200.12 resolver asn=64512 cc=KZ\n198.18.200.13 resolver asn=64513 cc=KZ\n198.18.200.14 resolver asn=64514 cc=KZ\n198.18.200.77 resolver\n8.8.8.8 resolver\n' >"$S/resolvers"
printf 'blocked.test\nopen.test\ninj.test\n' >"$S/names"
printf '198.18.100.10\n' >"$S/ctlres"
printf '198.18.200.20 web asn=64520 cc=KZ\n198.18.200.21 echo asn=64521 cc=KZ\n' >"$S/servers"
printf 'rst.test\ndrop.test\nsni-rst.test\nsni-drop.test\nopen.test\n' >"$S/hnames"
printf 'control.test\n' >"$S/hctl"
printf '198.18.200.77\n' >"$S/optout"

# verdict of (server, input[, protocol]) from a measurements file (indexed once per file: python
# per check cost ~2 s each on a loaded 2-core machine)
v() {
  [ -e "$1.tsv" ] || python3 - "$1" >"$1.tsv" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    m = json.loads(l); k = m["test_keys"]
    s = k.get("resolver", "").split(":")[0] or k.get("server")
    print(s, m["input"], k.get("protocol") or "-", k["keepon_technique"] or k["keepon_verdict"])
PY
  awk -v s="$2" -v n="$3" -v p="${4:-}" '$1 == s && $2 == n && (p == "" || $3 == p) { print $4; f = 1; exit }
    END { if (!f) print "absent" }' "$1.tsv"
}

rdns() { ino "$KP_BIN" remote dns --lab --targets "$S/resolvers" --names "$S/names" --control-resolvers "$S/ctlres" \
  --opt-out "$S/optout" --window 0.5 --timeout 1.5 --rate 50 "$@"; }
rhttp() { ino "$KP_BIN" remote http --lab --targets "$S/servers" --names "${HN:-$S/hnames}" --controls "$S/hctl" \
  --ca-file "$S/ca.pem" --timeout 1.5 --retries 2 --rate 50 "$@"; }

# ---- clean: no censor, honest resolvers name nothing --------------------------------------
rdns -o "$S/clean-dns.jsonl" --signals "$S/clean-sig.jsonl" >"$S/clean-sum.jsonl" 2>"$S/clean.err"
for r in 10 13 14; do for n in blocked.test open.test inj.test; do expect "clean dns $r $n" ok "$(v "$S/clean-dns.jsonl" 198.18.200.$r $n)"; done; done
expect "opt-out resolver never asked" absent "$(v "$S/clean-dns.jsonl" 198.18.200.77 open.test)"
expect "non-lab resolver never asked" absent "$(v "$S/clean-dns.jsonl" 8.8.8.8 open.test)"
grep -q "2 target(s) refused by policy" "$S/clean.err" && ok "refusals counted" || bad "refusals: $(cat "$S/clean.err")"
rhttp -o "$S/clean-http.jsonl" >/dev/null 2>&1
for n in rst.test drop.test sni-rst.test sni-drop.test open.test; do
  expect "clean http $n" ok "$(v "$S/clean-http.jsonl" 198.18.200.20 $n http)"
  expect "clean https $n" ok "$(v "$S/clean-http.jsonl" 198.18.200.20 $n https)"
  expect "clean echo $n" ok "$(v "$S/clean-http.jsonl" 198.18.200.21 $n echo)"
done

# ---- scan: reverse DNS first, only name servers asked; control answer and NXDOMAIN decide ----
printf '198.18.200.8/29\n' >"$S/cidrs"
printf '198.18.200.14\n' >"$S/scan-optout"
inc iptables -A FORWARD -d 198.18.200.13 -p udp --dport 53   # a counter: nothing may reach .13
ino "$KP_BIN" remote scan --lab --cidrs "$S/cidrs" --ptr-resolver 198.18.100.10 --control-name blocked.test \
  --control-answer 198.18.100.50 --nx-name none.scan.test --opt-out "$S/scan-optout" --timeout 1 --rate 50 \
  -o "$S/scanned" 2>"$S/scan.err" || bad "scan: $(cat "$S/scan.err")"
expect "scan keeps the honest name server" "198.18.200.10 resolver # ptr=ns1.isp.test" "$(cat "$S/scanned")"
grep -q "6 addresses, 1 refused by policy, 1 without PTR, 1 not named as name servers (never sent anything), 3 asked: 0 silent, 0 wildcard, 2 wrong, 1 kept" "$S/scan.err" \
  && ok "scan counts (forger and NXDOMAIN resolver dropped)" || bad "scan counts: $(cat "$S/scan.err")"
expect "scan sent nothing to the end-user-named address" 0 "$(inc iptables -nvxL FORWARD | awk '$0 ~ /198.18.200.13/ && $0 ~ /dpt:53/ {print $1; exit}')"
inc iptables -D FORWARD -d 198.18.200.13 -p udp --dport 53

# ---- resolver-side censorship (no on-path censor yet) --------------------------------------
expect "forging resolver" dns-forged "$(v "$S/clean-dns.jsonl" 198.18.200.11 blocked.test)"
expect "forging resolver, other name" ok "$(v "$S/clean-dns.jsonl" 198.18.200.11 open.test)"
expect "nxdomain resolver" dns-nxdomain "$(v "$S/clean-dns.jsonl" 198.18.200.12 blocked.test)"

# ---- on-path censor ---------------------------------------------------------------------------
remote_censor_on
rdns -o "$S/cen-dns.jsonl" --signals "$S/cen-sig.jsonl" >"$S/cen-sum.jsonl" 2>"$S/cen.err"
expect "dns drop on path" dns-timeout "$(v "$S/cen-dns.jsonl" 198.18.200.13 blocked.test)"
expect "dns drop: other name" ok "$(v "$S/cen-dns.jsonl" 198.18.200.13 open.test)"
expect "dns injection racing" dns-injected "$(v "$S/cen-dns.jsonl" 198.18.200.14 inj.test)"
expect "dns injection: other name" ok "$(v "$S/cen-dns.jsonl" 198.18.200.14 open.test)"
rhttp -o "$S/cen-http.jsonl" --signals "$S/cen-hsig.jsonl" >/dev/null 2>&1
expect "http Host reset" http-reset "$(v "$S/cen-http.jsonl" 198.18.200.20 rst.test http)"
expect "http Host drop" http-timeout "$(v "$S/cen-http.jsonl" 198.18.200.20 drop.test http)"
expect "http open" ok "$(v "$S/cen-http.jsonl" 198.18.200.20 open.test http)"
expect "tls SNI reset" tls-reset "$(v "$S/cen-http.jsonl" 198.18.200.20 sni-rst.test https)"
expect "tls SNI drop" tls-timeout "$(v "$S/cen-http.jsonl" 198.18.200.20 sni-drop.test https)"
expect "tls SNI reset: plain http of the name" ok "$(v "$S/cen-http.jsonl" 198.18.200.20 sni-rst.test http)"
expect "tls: Host rules do not see inside TLS" ok "$(v "$S/cen-http.jsonl" 198.18.200.20 rst.test https)"
expect "https open" ok "$(v "$S/cen-http.jsonl" 198.18.200.20 open.test https)"
expect "echo Host reset" echo-reset "$(v "$S/cen-http.jsonl" 198.18.200.21 rst.test echo)"
expect "echo Host drop" echo-timeout "$(v "$S/cen-http.jsonl" 198.18.200.21 drop.test echo)"
expect "echo open" ok "$(v "$S/cen-http.jsonl" 198.18.200.21 open.test echo)"
# ---- a transparent proxy answering one Host with its own page ---------------------------------
remote_blockpage_on
printf 'bp.test\nopen.test\n' >"$S/bpnames"
HN=$S/bpnames rhttp -o "$S/bp-http.jsonl" >/dev/null 2>&1
expect "http blockpage" http-blockpage "$(v "$S/bp-http.jsonl" 198.18.200.20 bp.test http)"
expect "blockpage proxy: other Host passes" ok "$(v "$S/bp-http.jsonl" 198.18.200.20 open.test http)"
expect "blockpage proxy: https untouched" ok "$(v "$S/bp-http.jsonl" 198.18.200.20 bp.test https)"
# summaries per AS and signals with the datasource
grep -q '"scope":"asn","code":"AS64513".*"dns-timeout":1' "$S/cen-sum.jsonl" && ok "per-AS summary" || bad "per-AS summary: $(grep AS64513 "$S/cen-sum.jsonl")"
grep -q '"entity_type":"country","entity_code":"KZ","datasource":"remote-dns"' "$S/cen-sig.jsonl" && ok "remote-dns signal" || bad "signals: $(head -3 "$S/cen-sig.jsonl")"
grep -q '"datasource":"remote-http"' "$S/cen-hsig.jsonl" && ok "remote-http signal" || bad "http signals"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
