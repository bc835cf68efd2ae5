#!/usr/bin/env bash
# evidence_bundle.sh: `keepon evidence bundle` and `keepon verify bundle` end to end, offline.
#   a collector (loopback) holds signed records from two probe keys (one measured outside the
#   incident's country) and signal points; a local RFC 3161 TSA made here with `openssl ts`;
#   the bundle verifies with keepon and with independent tools (tar, sha256sum -c,
#   openssl ts -verify); then each alteration must fail: a byte of a file, a record (even with
#   the manifest re-hashed and re-time-stamped), a deleted record, the custody log, the token,
#   a token from another TSA, a file added outside the manifest.
set -u
BIN=${KP_BIN:?KP_BIN not set}
SRC=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
for t in openssl python3 tar sha256sum curl; do command -v $t >/dev/null || { echo "skip: $t missing"; exit 77; }; done
T=$(mktemp -d /tmp/kpt-evbundle-XXXXXX)
SRV= TSA=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  [ -n "$TSA" ] && kill "$TSA" 2>/dev/null && wait "$TSA" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_DATA=$SRC/data
. "$SRC/lab/evidence/tsa.sh"

tsa_make "$T/tsa" "keepon-test" || fail "making the test TSA"
tsa_make "$T/other" "other" || fail "making a second TSA"
python3 "$SRC/lab/evidence/tsa_server.py" "$T/tsa/tsa.cnf" "$T/tsa.port" 2> "$T/tsa.log" &
TSA=$!
for _ in $(seq 300); do [ -s "$T/tsa.port" ] && break; sleep 0.1; done # python under load starts slowly
[ -s "$T/tsa.port" ] || fail "TSA did not start: $(cat "$T/tsa.log")"
TSAURL=http://127.0.0.1:$(cat "$T/tsa.port")/tsr

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token"; chmod 600 "$T/token" # signals ingest is an admin write
"$BIN" serve --admin-token-file "$T/token" --db "$T/c.db" --listen 127.0.0.1:0 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
U=http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
m() { printf '{"probe_cc":"%s","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"%s","test_keys":{"i":%d}}\n' "$1" "$2" "$3"; }
{ m KZ "2022-01-04 10:00:00" 1; m KZ "2022-01-05 12:00:00" 2; m KZ "2022-01-05 16:00:00" 3; m KZ "2022-01-07 10:00:00" 4; } > "$T/a.jsonl"
{ m KG "2022-01-05 12:00:00" 5; } > "$T/b.jsonl"
KEEPON_HOME=$T/A "$BIN" outbox add "$T/a.jsonl" 2>/dev/null && KEEPON_HOME=$T/A "$BIN" upload --collector "$U" 2>/dev/null || fail "upload A"
KEEPON_HOME=$T/B "$BIN" outbox add "$T/b.jsonl" 2>/dev/null && KEEPON_HOME=$T/B "$BIN" upload --collector "$U" 2>/dev/null || fail "upload B"
: > "$T/sig.jsonl"
for i in $(seq 0 11); do
  printf '{"type":"signal","entity_type":"country","entity_code":"KZ","datasource":"ping-slash24","t":%d,"step":3600,"value":%d}\n' $((1641373200 + i * 3600)) $((9000 - i * 700)) >> "$T/sig.jsonl"
done
printf '{"type":"signal","entity_type":"country","entity_code":"KG","datasource":"ping-slash24","t":1641380400,"step":3600,"value":5}\n' >> "$T/sig.jsonl"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/token")" -H 'Content-Type: application/x-ndjson' --data-binary @"$T/sig.jsonl" "$U/api/v1/signals")
[ "$code" = 200 ] || fail "signals: $code $(cat "$T/out")"
kill "$SRV"; wait "$SRV"; SRV=
# the incident as keepon detect writes it (fields the bundle reads: id, cc, start_ts, end_ts, events)
cat > "$T/inc.json" <<'JSON'
[{"id":"KZ-2022-01-05","cc":"KZ","type":"shutdown","level":"critical","start":"2022-01-05T11:00:00Z","end":"2022-01-05T17:00:00Z","start_ts":1641380400,"end_ts":1641402000,"ongoing":false,"findings":["ping-slash24 fell to 17% of its baseline"],"events":[{"detector":"ioda","entity_type":"country","entity_code":"KZ","datasource":"ping-slash24","start":"2022-01-05T11:00:00Z","end":"2022-01-05T17:00:00Z","level":"critical","score":0.83}],"evidence":[]}]
JSON

"$BIN" evidence bundle KZ-2022-01-05 --incidents "$T/inc.json" --db "$T/c.db" --collector "test collector" \
  --tsa "$TSAURL" --tsa-ca "$T/tsa/ca.pem" --margin 7200 -o "$T/b.tar" > "$T/bundle.out" 2>&1 || fail "bundle: $(cat "$T/bundle.out")"
grep -q '4 records of 1 key(s) (2 in the window), 10 signal points' "$T/bundle.out" || fail "bundle selection: $(cat "$T/bundle.out")"
"$BIN" verify bundle "$T/b.tar" --tsa-ca "$T/tsa/ca.pem" > "$T/v" || fail "verify: $(cat "$T/v")"
grep -q 'ok: 9 files, 4 records of 1 key(s), 10 signal points; timestamp 20' "$T/v" || fail "verify summary: $(cat "$T/v")"
ok "bundle: 4 records (whole chain of the one KZ key, 2 in the window), 10 signal points (KG and out-of-window ones left out); verifies"

# independent tools read and check it the same way
mkdir "$T/x" && tar -xf "$T/b.tar" -C "$T/x" || fail "GNU tar cannot read the bundle"
D=$T/x/KZ-2022-01-05
(cd "$D" && sha256sum -c --quiet manifest.sha256) || fail "sha256sum -c"
openssl ts -verify -data "$D/manifest.sha256" -in "$D/manifest.tsr" -CAfile "$T/tsa/ca.pem" >/dev/null 2>&1 || fail "openssl ts -verify"
"$BIN" verify bundle "$D" --tsa-ca "$T/tsa/ca.pem" > /dev/null || fail "verify of the unpacked folder"
grep -q '"event":"record".*"delivered":"20.*"collector":"test collector"' "$D/custody.jsonl" || fail "custody: $(head -3 "$D/custody.jsonl")"
grep -q 'keepon verify bundle' "$D/README.txt" || fail "README says how to check"
ok "tar -x, sha256sum -c, openssl ts -verify agree; custody names the collector and delivery time"

# from files instead of a store: the probe's own chain.log and head, and a signals file
cat "$T/A/outbox/chain.log" "$T/A/outbox/head" > "$T/rec.jsonl"
"$BIN" evidence bundle KZ-2022-01-05 --incidents "$T/inc.json" --records "$T/rec.jsonl" --signals "$T/sig.jsonl" \
  --tsa "$TSAURL" --tsa-ca "$T/tsa/ca.pem" --margin 7200 -o "$T/f.tar" > "$T/bundle.out" 2>&1 || fail "bundle from files: $(cat "$T/bundle.out")"
grep -q '4 records of 1 key(s) (2 in the window), 10 signal points' "$T/bundle.out" || fail "file selection: $(cat "$T/bundle.out")"
"$BIN" verify bundle "$T/f.tar" --tsa-ca "$T/tsa/ca.pem" > "$T/v" || fail "verify files bundle: $(cat "$T/v")"
tar -xOf "$T/f.tar" KZ-2022-01-05/records.jsonl | grep -q '"type":"head"' || fail "the probe's signed head not carried"
tar -xOf "$T/f.tar" KZ-2022-01-05/custody.jsonl | grep -q '"delivered":null' || fail "custody from files claims a delivery"
ok "bundle from files (chain.log + head + signals): verifies; custody says delivery unknown"
# no record behind the incident: refused, nothing written
sed 's/"cc":"KZ"/"cc":"UZ"/' "$T/inc.json" > "$T/uz.json"
if "$BIN" evidence bundle KZ-2022-01-05 --incidents "$T/uz.json" --db "$T/c.db" --tsa "$TSAURL" --tsa-ca "$T/tsa/ca.pem" \
  -o "$T/uz.tar" > "$T/bundle.out" 2>&1; then fail "bundle without records"; fi
[ ! -e "$T/uz.tar" ] && grep -q 'no signed record of UZ' "$T/bundle.out" || fail "empty bundle: $(cat "$T/bundle.out")"
ok "an incident with no signed record behind it gets no bundle"

expect_fail() { # WHAT PATTERN TARGET [ca]
  if "$BIN" verify bundle "$3" --tsa-ca "${4:-$T/tsa/ca.pem}" > "$T/v" 2>&1; then fail "$1 not detected"; fi
  grep -q "$2" "$T/v" || fail "$1: expected '$2' in: $(cat "$T/v")"
  ok "$1 -> $(grep -m1 "$2" "$T/v" | cut -c1-150)"
}
fresh() { rm -rf "$T/y"; mkdir "$T/y"; tar -xf "$T/b.tar" -C "$T/y"; Y=$T/y/KZ-2022-01-05; }
restamp() { # re-hash and re-time-stamp as a forger with access to some TSA would
  (cd "$Y" && for f in README.txt incident.json records.jsonl signals.jsonl custody.jsonl method.txt; do sha256sum "$f"; done > manifest.sha256)
  openssl ts -query -data "$Y/manifest.sha256" -sha256 -cert -out "$T/q.tsq" 2>/dev/null
  openssl ts -reply -config "$T/tsa/tsa.cnf" -queryfile "$T/q.tsq" -out "$Y/manifest.tsr" 2>/dev/null
}

# one byte of the archive (inside signals.jsonl's data)
off=$(grep -abo '"value":9000' "$T/b.tar" | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "signal value not found in the archive"
cp "$T/b.tar" "$T/byte.tar"; printf '8' | dd of="$T/byte.tar" bs=1 seek=$((off + 8)) conv=notrunc 2>/dev/null
expect_fail "one altered byte" "signals.jsonl: SHA-256 differs from the manifest" "$T/byte.tar"
# a record altered, manifest re-hashed and re-time-stamped: the signature still catches it
fresh; sed -i '2s/\\"i\\":2/\\"i\\":7/' "$Y/records.jsonl"; restamp
expect_fail "altered record (re-stamped)" "records.jsonl: content hash does not match" "$Y"
# a record deleted, re-stamped
fresh; sed -i '3d' "$Y/records.jsonl"; restamp
expect_fail "deleted record (re-stamped)" "records.jsonl: record seq 3 is missing" "$Y"
# custody rewritten (delivery claimed for another record hash), re-stamped
fresh; sed -i '2s/"hash":"[0-9a-f]\{8\}/"hash":"00000000/' "$Y/custody.jsonl"; restamp
expect_fail "altered custody (re-stamped)" "custody.jsonl: the hash differs" "$Y"
# the token: one flipped byte; a token over other data; a token from another TSA
fresh; printf 'X' | dd of="$Y/manifest.tsr" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_fail "altered time-stamp" "manifest.tsr" "$Y"
fresh; echo "other" > "$T/other.txt"
openssl ts -query -data "$T/other.txt" -sha256 -cert -out "$T/q.tsq" 2>/dev/null
openssl ts -reply -config "$T/tsa/tsa.cnf" -queryfile "$T/q.tsq" -out "$Y/manifest.tsr" 2>/dev/null
expect_fail "time-stamp of other data" "manifest.tsr: the timestamp does not verify" "$Y"
fresh; restamp; expect_fail "token from an unpinned TSA" "manifest.tsr" "$Y" "$T/other/ca.pem"
# the manifest edited without a new token
fresh; c=$(head -c1 "$Y/manifest.sha256"); [ "$c" = f ] && r=e || r=f; sed -i "1s/^./$r/" "$Y/manifest.sha256"
expect_fail "manifest edited" "manifest.tsr: the timestamp does not verify" "$Y"
# a file slipped in
fresh; echo "extra" > "$Y/note.txt"
expect_fail "file outside the manifest" "note.txt is in the bundle but not in the manifest" "$Y"
# a token whose imprint is SHA-1 (a TSA that still accepts it): refused, SHA-256/384/512 only
fresh; (cd "$Y" && for f in README.txt incident.json records.jsonl signals.jsonl custody.jsonl method.txt; do sha256sum "$f"; done > manifest.sha256)
sed 's/^digests = .*/digests = sha1, sha256/' "$T/tsa/tsa.cnf" > "$T/tsa/tsa-sha1.cnf"
openssl ts -query -data "$Y/manifest.sha256" -sha1 -cert -out "$T/q.tsq" 2>/dev/null
openssl ts -reply -config "$T/tsa/tsa-sha1.cnf" -queryfile "$T/q.tsq" -out "$Y/manifest.tsr" 2>/dev/null || fail "sha1 token"
expect_fail "SHA-1 imprint" "imprint uses SHA1" "$Y"
# a granted token whose status was rewritten to "rejection" (2), the token still inside: refused
# (OpenSSL's decoder already refuses a token beside a non-granted status, so tsp.c's own status
# check only ever sees a missing token; this pins the refusal, wherever it happens)
fresh; restamp
python3 - "$Y/manifest.tsr" <<'PY' || fail "no PKIStatusInfo 'granted' at the start of the token"
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
k = b.find(b'\x30\x03\x02\x01\x00', 0, 16)  # TimeStampResp { status PKIStatusInfo { INTEGER 0 } ...
if k < 0: sys.exit(1)
b[k + 4] = 2
open(p, 'wb').write(b)
PY
expect_fail "status rejection" "manifest.tsr: the timestamp" "$Y"
