#!/usr/bin/env bash
# upload_https.sh: `keepon upload` to an HTTPS collector by name (nginx TLS front with a test CA,
# neutral route prefix /v1) in batches over one connection; verify --server over https; a rerun
# sends nothing; a lost ack (acked.log removed) re-sends everything and stores nothing twice; a
# collector without the batch route is served one request per record; a batch with a tampered
# line acks the good one and refuses the bad one individually; the system store does not trust
# the test CA (nothing delivered, nothing lost).
set -euo pipefail
BIN=${KP_BIN:-build/src/cli/keepon}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tls_front.sh"
T=$(mktemp -d /tmp/kp-upload-https.XXXXXX)
SRV=
cleanup() {
  front_stop
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_HOME=$T/home KEEPON_DATA=${KP_SRC:-.}/data

"$BIN" serve --db "$T/c.db" --listen 127.0.0.1:0 --allowed-hosts collector,127.0.0.1 2> "$T/serve.log" & # nginx sends Host: <upstream name>
SRV=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
[ -n "$PORT" ] || fail "server did not start"
FP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
front_pki "$T/pki" localhost collector.test
front_conf "$T/pki" "127.0.0.1:$FP" "127.0.0.1:$PORT" /v1
# a collector without the batch route, for the fallback
sed -i 's|    location / {|    location = /old/batch { return 404; }\n    location /old/ { proxy_pass http://collector/api/v1/keepon/; }\n    location / {|' "$T/pki/front.conf"
front_start "$T/pki"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$FP) 2>/dev/null && break; sleep 0.1; done
U=https://localhost:$FP

N=600
python3 - "$T/m.jsonl" "$N" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write('{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"2022-01-05 10:00:00","report_id":"r","input":null,"i":%d,"test_keys":{"signal_backend_status":"ok","failure":null,"failed_operation":null}}\n' % i)
PY
"$BIN" outbox add "$T/m.jsonl" 2>/dev/null || fail "outbox add"

# the system store does not know the test CA: nothing is delivered, nothing lost
if "$BIN" upload --collector "$U" --path-prefix /v1 --max-attempts 1 2> "$T/up0.log"; then fail "untrusted CA accepted"; fi
grep -q "0 delivered.*$N pending" "$T/up0.log" || fail "untrusted: $(cat "$T/up0.log")"
ok "an untrusted certificate delivers nothing and keeps all $N records"

"$BIN" upload --collector "$U" --path-prefix /v1 --ca-file "$T/pki/ca.crt" 2> "$T/up1.log" || fail "upload: $(cat "$T/up1.log")"
grep -q "$N delivered (0 already there), 0 refused, 0 pending, 3 attempts" "$T/up1.log" || fail "batch upload: $(cat "$T/up1.log")"
ok "https upload by name: $N records in 3 batch requests"

"$BIN" verify --server "$U" --ca-file "$T/pki/ca.crt" > "$T/v.out" || fail "verify --server: $(cat "$T/v.out")"
grep -q "ok: $N records" "$T/v.out" || fail "verify count: $(cat "$T/v.out")"
"$BIN" verify "$KEEPON_HOME/outbox" > "$T/vl.out" || fail "local verify"
ok "verify passes on both sides over https"

"$BIN" upload --collector "$U" --path-prefix /v1 --ca-file "$T/pki/ca.crt" 2> "$T/up2.log" || fail "rerun"
grep -q "0 delivered (0 already there), 0 refused, 0 pending, 0 attempts" "$T/up2.log" || fail "rerun: $(cat "$T/up2.log")"
rm "$KEEPON_HOME/outbox/acked.log"
"$BIN" upload --collector "$U" --path-prefix /v1 --ca-file "$T/pki/ca.crt" 2> "$T/up3.log" || fail "resend"
grep -q "$N delivered ($N already there)" "$T/up3.log" || fail "resend: $(cat "$T/up3.log")"
n=$(curl -s "http://127.0.0.1:$PORT/api/v1/measurements?probe_cc=KZ&limit=1" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
[ "$n" = "$N" ] || fail "stored $n, want $N"
ok "lost acks: everything re-sent, stored once ($n)"

rm "$KEEPON_HOME/outbox/acked.log"
"$BIN" upload --collector "$U" --path-prefix /old --ca-file "$T/pki/ca.crt" 2> "$T/up4.log" || fail "fallback: $(cat "$T/up4.log")"
grep -q "$N delivered ($N already there), 0 refused, 0 pending, $((N + 1)) attempts" "$T/up4.log" || fail "fallback: $(cat "$T/up4.log")"
ok "no batch route: one request per record"

# per-record acks: a good line and a tampered one in one batch
sed -n 1p "$KEEPON_HOME/outbox/chain.log" > "$T/b.ndjson"
sed -n 2p "$KEEPON_HOME/outbox/chain.log" | sed 's/AS9198/AS9199/' >> "$T/b.ndjson"
code=$(curl -s -o "$T/b.out" -w '%{http_code}' --cacert "$T/pki/ca.crt" -H 'Content-Type: application/x-ndjson' \
  --data-binary "@$T/b.ndjson" "$U/v1/batch")
[ "$code" = 200 ] || fail "batch HTTP $code"
grep -q '^{"results":\[{"status":200,"measurement_uid":"[^"]*","duplicate":true},{"status":403,"error":"rejected: [^"]*"}\]}' "$T/b.out" ||
  fail "batch results: $(cat "$T/b.out")"
code=$(curl -s -o "$T/b.out" -w '%{http_code}' --cacert "$T/pki/ca.crt" -H 'Content-Type: application/json' \
  --data-binary "@$T/b.ndjson" "$U/v1/batch")
[ "$code" = 415 ] || fail "batch with wrong type: HTTP $code"
ok "batch route: each record acked or refused on its own; NDJSON only"
