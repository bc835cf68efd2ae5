#!/usr/bin/env bash
# cli.sh: keepon census / watch from the command line, sim driver only (no packets):
# bad input exits 2 and writes nothing; census over a sim model finds E(b) and A; watch reads
# it; --dry-run prints probes and honours the blocklist; history import; signal points.
set -euo pipefail
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KP_BIN:?KP_BIN not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KEEPON_HOME=$tmp/home
fail() { echo "FAIL: $*"; exit 1; }
expect_rc() { local want=$1; shift; local rc=0; "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; [ "$rc" = "$want" ] || { cat "$tmp/err"; fail "rc $rc (want $want): $*"; }; }

cat > "$tmp/model.json" <<'JSON'
{"start": "2022-01-05T00:00:00Z", "seed": 5, "loss": 0.0,
 "blocks": [{"prefix": "198.18.0.0/23", "hosts": 100, "a": 0.9},
            {"prefix": "198.18.2.0/24", "hosts": 10, "a": 0.9},
            {"prefix": "198.18.3.0/24", "hosts": 100, "a": 0.01}],
 "outages": [{"prefixes": ["198.18.1.0/24"], "start": 600, "end": 1200}]}
JSON
# bad input: exit 2, nothing written
expect_rc 2 "$bin" watch --sim "$tmp/missing.json" --out "$tmp/w1.jsonl"
[ ! -e "$tmp/w1.jsonl" ] || fail "output written on bad input"
echo '{"blocks": 3}' > "$tmp/bad.json"
expect_rc 2 "$bin" watch --sim "$tmp/bad.json" --out "$tmp/w2.jsonl"
grep -q "blocks must be a non-empty array" "$tmp/err" || fail "no clear error for a bad model"
[ ! -e "$tmp/w2.jsonl" ] || fail "output written on a bad model"
expect_rc 2 "$bin" watch --driver icmp --out "$tmp/w3.jsonl"
expect_rc 2 "$bin" watch --sim "$tmp/model.json" --detail sometimes
expect_rc 2 "$bin" watch --sim "$tmp/model.json" --round 2 --timeout 3
printf '198.18.0.0/24\nnonsense\n' > "$tmp/bl-bad.conf"
expect_rc 2 "$bin" watch --sim "$tmp/model.json" --blocklist "$tmp/bl-bad.conf" --out "$tmp/w4.jsonl"
[ ! -e "$tmp/w4.jsonl" ] || fail "output written with a bad blocklist"
expect_rc 0 "$bin" watch --help

# census over the model: 3 passes; the 10-host block and the A = 0.01 block (about 3 hosts ever
# answer) are rejected
expect_rc 0 "$bin" census --sim "$tmp/model.json" --passes 3 --out "$tmp/census.jsonl"
n=$(wc -l < "$tmp/census.jsonl")
[ "$n" = 2 ] || fail "census kept $n blocks, want 2"
python3 - "$tmp/census.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["block"] in ("198.18.0.0/24", "198.18.1.0/24"), r["block"]
    assert 90 <= len(r["hosts"]) <= 100, len(r["hosts"])   # 1 - 0.1^3 of 100 answer at least once
    assert 0.85 <= r["a"] <= 0.95, r["a"]
PY
# watch reads the census; the outage (600-1200) is round 1 of 600-s rounds
expect_rc 0 "$bin" watch --sim "$tmp/model.json" --census "$tmp/census.jsonl" --round 600 --rounds 3 \
  --cc zz --no-geo-default --out "$tmp/blocks.jsonl" --signals "$tmp/sig.jsonl"
grep -Eq '"round":1,"t":1641341400,"t_ms":1641341400000,"block":"198.18.1.0/24","belief":0.0[0-9]+,"state":"down"' "$tmp/blocks.jsonl" \
  || fail "198.18.1.0/24 not down in round 1"
[ "$(grep -c '"state":"down"' "$tmp/blocks.jsonl")" = 1 ] || fail "unexpected down records"
grep -q '{"type":"signal","entity_type":"country","entity_code":"ZZ","datasource":"ping-slash24","t":1641341400,"step":600,"value":1,"down":1,"uncertain":0}' "$tmp/sig.jsonl" \
  || fail "country signal for round 1"
# the same signal points into keepon's store
if command -v sqlite3 >/dev/null; then
  expect_rc 0 "$bin" watch --sim "$tmp/model.json" --census "$tmp/census.jsonl" --round 600 --rounds 3 \
    --cc zz --no-geo-default --detail none --out /dev/null --store "$tmp/store.db"
  got=$(sqlite3 "$tmp/store.db" "select count(*) from signals where entity_code='ZZ' and datasource='ping-slash24'")
  [ "$got" = 3 ] || fail "store holds $got signal points, want 3"
fi
# reserved ranges (RFC 6890: the lab's 198.18.0.0/15 is one) are never listed without the opt-in
"$bin" watch --sim "$tmp/model.json" --dry-run --no-geo-default > "$tmp/out" 2>&1
grep -q 'would send icmp echo to 198\.18\.' "$tmp/out" && fail "dry run lists reserved space without --allow-reserved"
"$bin" census --sim "$tmp/model.json" --dry-run > "$tmp/out" 2>&1
grep -q 'would send.* 198\.18\.' "$tmp/out" && fail "census dry run lists reserved space without --allow-reserved"
expect_rc 2 "$bin" watch --sim "$tmp/model.json" --dry-run --allow-reserved 198.18.0.0/33 --no-geo-default
# dry run: one line per block, none inside the blocklist, nothing else written; the opt-in
# opens reserved space but never what the user's blocklist holds
printf '# keep out\n198.18.1.0/24\n' > "$tmp/bl.conf"
expect_rc 0 "$bin" watch --sim "$tmp/model.json" --dry-run --blocklist "$tmp/bl.conf" --no-geo-default --allow-reserved 198.18.0.0/15
[ "$(grep -c '^would send icmp echo to 198.18.0.' "$tmp/out")" = 1 ] || fail "dry run: block 0"
grep -q '198.18.1\.' "$tmp/out" && fail "dry run probes a blocklisted block"
expect_rc 0 "$bin" census --sim "$tmp/model.json" --dry-run --blocklist "$tmp/bl.conf" --allow-reserved 198.18.0.0/15
[ "$(wc -l < "$tmp/out")" = $((3 * 256)) ] || fail "census dry run: $(wc -l < "$tmp/out") lines"
grep -q '198.18.1\.' "$tmp/out" && fail "census dry run probes a blocklisted block"
# history import
for i in $(seq 1 20); do printf 'c61205%02x 198.18.5.%d f 9\n' "$i" "$i"; done > "$tmp/hist.txt"
expect_rc 0 "$bin" census --history "$tmp/hist.txt" --out "$tmp/h.jsonl"
grep -q '"block":"198.18.5.0/24","a":1.0000' "$tmp/h.jsonl" || fail "history import"
echo "cli: ok"
