#!/usr/bin/env bash
# ooni_upload.sh: `keepon upload --protocol ooni` (and an ooni+http:// URL) against a live
# `keepon serve`, which speaks OONI's collector protocol (POST /report, /report/{id}, close):
# every attributable record stored once; ZZ/AS0 never sent (stays pending); a rerun sends
# nothing; a lost ack (acked.log removed) re-sends byte-identical bodies (report ids kept in
# <outbox>/ooni-reports) and the collector still holds each measurement once.
set -euo pipefail
BIN=${KP_BIN:-build/src/cli/keepon}
T=$(mktemp -d /tmp/kp-ooni-upload.XXXXXX)
SRV=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_HOME=$T/home KEEPON_DATA=${KP_SRC:-.}/data
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 missing"; exit 77; }

"$BIN" serve --db "$T/c.db" --listen 127.0.0.1:0 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
[ -n "$PORT" ] || fail "server did not start"

python3 - "$T/m.jsonl" <<'PY'
import sys
env = ('"data_format_version":"0.2.0","software_name":"keepon","software_version":"0.1.0","test_version":"0.2.0",'
       '"probe_ip":"127.0.0.1","test_start_time":"2022-01-05 10:00:%02d","measurement_start_time":"2022-01-05 10:00:%02d"')
with open(sys.argv[1], "w") as f:
    for i in range(5):  # two templates (test_start_time 00 and 01) -> two reports
        f.write('{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal",%s,"report_id":"x","input":null,"i":%d,'
                '"test_keys":{"signal_backend_status":"ok","failure":null}}\n' % (env % (i % 2, i), i))
    f.write('{"probe_cc":"ZZ","probe_asn":"AS0","test_name":"signal",%s,"report_id":"x","input":null,'
            '"test_keys":{"failure":null}}\n' % (env % (0, 0)))
PY
"$BIN" outbox add "$T/m.jsonl" 2>/dev/null || fail "outbox add"
stored() { sqlite3 "$T/c.db" 'SELECT count(*) FROM measurements'; }

if "$BIN" upload --collector "http://127.0.0.1:$PORT" --protocol ooni 2> "$T/up1.log"; then
  fail "exit 0 with a ZZ record pending"
fi
grep -q "5 delivered (0 already there), 1 refused, 1 pending" "$T/up1.log" || fail "first run: $(cat "$T/up1.log")"
[ "$(stored)" = 5 ] || fail "stored $(stored), want 5"
[ "$(wc -l < "$KEEPON_HOME/outbox/ooni-reports")" = 2 ] || fail "want 2 reports: $(cat "$KEEPON_HOME/outbox/ooni-reports")"
sqlite3 "$T/c.db" 'SELECT report_id FROM measurements' | grep -qv '_signal_KZ_9198_n1_' && fail "report id not the collector's"
ok "OONI protocol: 5 measurements in 2 reports stored, the ZZ/AS0 one not sent"

"$BIN" upload --collector "ooni+http://127.0.0.1:$PORT" 2> "$T/up2.log" || true
grep -q "0 delivered (0 already there), 1 refused, 1 pending" "$T/up2.log" || fail "rerun: $(cat "$T/up2.log")"
ok "ooni+http:// rerun sends nothing delivered again"

mv "$KEEPON_HOME/outbox/acked.log" "$T/acked.bak"   # the acks were lost
"$BIN" upload --collector "ooni+http://127.0.0.1:$PORT" 2> "$T/up3.log" || true
grep -q "5 delivered" "$T/up3.log" || fail "resend: $(cat "$T/up3.log")"
[ "$(stored)" = 5 ] || fail "a lost ack duplicated: stored $(stored)"
[ "$(wc -l < "$KEEPON_HOME/outbox/ooni-reports")" = 2 ] || fail "reports reopened"
ok "a re-send after lost acks reuses the report ids and stores nothing twice"
