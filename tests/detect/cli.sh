#!/usr/bin/env bash
# cli.sh: keepon detect / keepon report end to end on generated Kazakhstan-like files:
# exit codes, nothing written on bad input, outputs and formats, --follow with appended
# lines and alerts, reproducible reports. No network (the webhook has its own C test).
set -euo pipefail
BIN=${KP_BIN:?KP_BIN must point at the keepon binary}
T=$(mktemp -d /tmp/kpt-detect-cli-XXXXXX)
FPID=
SPID=
cleanup() {
  if [ -n "$FPID" ]; then kill "$FPID" 2>/dev/null || true; wait "$FPID" 2>/dev/null || true; fi
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/err "$T"/serve.err "$T"/live-alerts.jsonl; do [ -s "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done
  exit 1
}

# 10-minute bins, Jan 3 .. Jan 12 2022; blackout Jan 5 11:00 .. Jan 11 02:15 with the
# published restoration windows; BGP flat; messaging apps fail from Jan 4 14:30.
gen() { # $1 = first day, $2 = last day (exclusive)
  awk -v d0="$1" -v d1="$2" 'function ts(d,h,m){return 1640995200+(d-1)*86400+h*3600+m*60}
  function down(t,  i){ if (t<ts(5,11,0)||t>=ts(11,2,15)) return 0
    for(i=1;i<=5;i++) if (t>=U0[i]&&t<U1[i]) return 0; return 1 }
  BEGIN{ U0[1]=ts(5,17,30);U1[1]=ts(5,22,0); U0[2]=ts(6,10,30);U1[2]=ts(6,14,0); U0[3]=ts(7,2,30);U1[3]=ts(7,6,0)
         U0[4]=ts(8,2,30);U1[4]=ts(8,10,0); U0[5]=ts(9,2,30);U1[5]=ts(9,6,0)
    for (t=ts(d0,0,0); t<ts(d1,0,0); t+=600) { i=t/600
      v = down(t) ? 300+i%7 : 9000+(i*37)%200
      printf "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"ping-slash24\",\"t\":%d,\"step\":600,\"value\":%d}\n", t, v
      printf "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"bgp\",\"t\":%d,\"step\":600,\"value\":%d}\n", t, 12400+i%3 } }'
}
genm() {
  awk 'function ts(d,h,m){return 1640995200+(d-1)*86400+h*3600+m*60}
  BEGIN{ for (t=ts(3,0,0); t<ts(5,10,0); t+=900) { b = t>=ts(4,14,30) ? "blocked" : "ok"; k++
    printf "{\"test_name\":\"whatsapp\",\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\",\"measurement_start_time\":\"%s\",\"measurement_uid\":\"u%d\",\"input\":null,\"test_keys\":{\"whatsapp_endpoints_status\":\"%s\"}}\n", strftime("%Y-%m-%d %H:%M:%S", t, 1), k, b } }'
}
gen 3 12 > "$T/sig.jsonl"
genm > "$T/msm.jsonl"
echo 'not json at all' >> "$T/msm.jsonl"

"$BIN" detect --help | grep -q -- '--follow' || fail "help"
"$BIN" report --help | grep -q -- '--format' || fail "report help"

# bad input: exit 2, nothing written
set +e
"$BIN" detect -s "$T/missing.jsonl" -o "$T/o1.json" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "missing input exit $rc"
"$BIN" detect -s "$T/sig.jsonl" --active-history 7x -o "$T/o1.json" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad span exit $rc"
"$BIN" detect -s "$T/sig.jsonl" --tune nonsense=1 -o "$T/o1.json" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad tune exit $rc"
"$BIN" report --format pdf -s "$T/sig.jsonl" -o "$T/o1.html" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad format exit $rc"
"$BIN" detect 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "no input exit $rc"
set -e
[ ! -e "$T/o1.json" ] && [ ! -e "$T/o1.html" ] || fail "output written on bad input"

# once
"$BIN" detect -s "$T/sig.jsonl" -m "$T/msm.jsonl" -o "$T/inc.json" --stop "$T/stop.csv" --codf "$T/codf.json" --risk "$T/risk.json" \
  --emit-signals "$T/probe.jsonl" --alerts "$T/alerts.jsonl" 2> "$T/err"
grep -q 'bad line(s) skipped (first at line 2' "$T/err" || { cat "$T/err"; fail "bad line not reported"; }
grep -q '"type":"full shutdown"' "$T/inc.json" || fail "no full shutdown"
grep -q '"curfew":true' "$T/inc.json" || fail "no curfew"
grep -q '"type":"service blocking"' "$T/inc.json" || fail "no service blocking"
grep -q 'BGP visible, traffic down' "$T/inc.json" || fail "no BGP finding"
head -1 "$T/stop.csv" | grep -q '^start_date_type,start_date,end_date,duration,shutdown_status,country' || fail "stop header"
grep -q 'Curfew Style' "$T/stop.csv" || fail "stop curfew"
grep -q '"location":"country/KZ"' "$T/codf.json" || fail "codf"
# WhatsApp blocked Jan 4 14:30, the cut Jan 5 11:00: one early warning, naming its precursor and the cut
grep -q '^\[{"id":"KZ-risk-20220104T1400Z","type":"shutdown risk","level":"shutdown risk","cc":"KZ",' "$T/risk.json" \
  && grep -q '"precursors":\["messaging apps blocked"\],"first":"messaging apps blocked","services":\["whatsapp"\]' "$T/risk.json" \
  && grep -q '"followed_by":"KZ-net-20220105T1100Z","lead_s":75600}\]$' "$T/risk.json" || fail "risk: $(cat "$T/risk.json")"
grep -q '"datasource":"probe-whatsapp"' "$T/probe.jsonl" || fail "converted probe points"
[ "$(grep -c '"alert":"open"' "$T/alerts.jsonl")" -eq 2 ] || fail "open alerts"

# converted probe points read back give the same incidents
"$BIN" detect -s "$T/sig.jsonl,$T/probe.jsonl" -o "$T/inc2.json" 2>/dev/null
grep -q '"type":"service blocking"' "$T/inc2.json" || fail "probe points round trip"

# reports: self-contained, reproducible
"$BIN" report --cc KZ -s "$T/sig.jsonl" -m "$T/msm.jsonl" -o "$T/r1.html" 2>/dev/null
"$BIN" report --cc KZ -s "$T/sig.jsonl" -m "$T/msm.jsonl" -o "$T/r2.html" 2>/dev/null
cmp -s "$T/r1.html" "$T/r2.html" || fail "report not reproducible"
grep -q '<svg' "$T/r1.html" || fail "no svg"
! grep -q -e '<script' -e ' src=' -e ' href=' "$T/r1.html" || fail "external resource"
"$BIN" report --cc KZ --from 2022-01-04 --to 2022-01-12 --format md -s "$T/sig.jsonl" -o "$T/r.md" 2>/dev/null
grep -q '^# Internet shutdown report: Kazakhstan (KZ)' "$T/r.md" || fail "md"
"$BIN" report --cc UZ --format json -s "$T/sig.jsonl" -o "$T/none.json" 2>/dev/null
[ "$(cat "$T/none.json")" = "[]" ] || fail "cc filter"

# --follow: data arrives in two parts; the blackout opens, then closes
gen 3 8 > "$T/live.jsonl"
"$BIN" detect --follow --interval 1 -s "$T/live.jsonl" -o "$T/live.json" --alerts "$T/live-alerts.jsonl" 2>"$T/err" &
FPID=$!
for _ in $(seq 1 300); do grep -q '"alert":"open"' "$T/live-alerts.jsonl" 2>/dev/null && break; sleep 0.1; done
grep -q '"alert":"open","level":"critical"' "$T/live-alerts.jsonl" || fail "follow: no open alert"
grep -q '"ongoing":true' "$T/live.json" || fail "follow: not ongoing"
gen 8 12 > "$T/rest.jsonl"
head -c 100 "$T/rest.jsonl" > "$T/part"; tail -c +101 "$T/rest.jsonl" > "$T/part2"
cat "$T/part" >> "$T/live.jsonl"   # a partial line (no newline) must wait for its end: no round
sleep 1.5
cat "$T/part2" >> "$T/live.jsonl"
# the rest may arrive over more than one round; wait for the blackout's close alert
for _ in $(seq 1 300); do grep -q '"alert":"close"' "$T/live-alerts.jsonl" && break; sleep 0.1; done
grep -q '"alert":"close"' "$T/live-alerts.jsonl" || fail "follow: no close alert"
sleep 0.3
kill -TERM "$FPID"            # stops after the current round, exit 0
wait "$FPID" || fail "follow exit"
FPID=
grep -q '"ongoing":false' "$T/live.json" || fail "follow: still ongoing"

# --server: the same signals stored by `keepon serve` (loopback, any port) and read back
if command -v curl >/dev/null; then
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token"
  "$BIN" serve --admin-token-file "$T/token" --db "$T/db" --listen 127.0.0.1:0 > "$T/serve.out" 2> "$T/serve.err" &
  SPID=$!
  PORT=
  for _ in $(seq 1 100); do PORT=$(cat "$T/serve.out" "$T/serve.err" | sed -n 's/.* port \([0-9]*\).*/\1/p'); [ -n "$PORT" ] && break; sleep 0.1; done
  [ -n "$PORT" ] || { cat "$T/serve.err"; fail "serve did not start"; }
  split -l 100 "$T/sig.jsonl" "$T/chunk."   # small POSTs, as watch/bgp send them per round
  for c in "$T"/chunk.*; do
    curl -sS -o /dev/null -w '%{http_code}' --data-binary @"$c" -H 'Content-Type: application/x-ndjson' -H "Authorization: Bearer $(cat "$T/token")" \
      "http://127.0.0.1:$PORT/api/v1/signals" | grep -q '^20' || fail "signals POST"
  done
  "$BIN" detect --server "http://127.0.0.1:$PORT" --cc KZ --from 2022-01-03 --to 2022-01-12 -o "$T/srv.json" 2>/dev/null
  grep -q '"type":"full shutdown"' "$T/srv.json" || fail "--server: no full shutdown"
  grep -q '"curfew":true' "$T/srv.json" || fail "--server: no curfew"
  grep -q 'BGP visible, traffic down' "$T/srv.json" || fail "--server: no BGP finding"
  "$BIN" report --server "http://127.0.0.1:$PORT" --cc KZ --from 2022-01-03 --to 2022-01-12 --format md \
    -o "$T/srv.md" 2>/dev/null
  grep -q '\*\*Full shutdown\*\*' "$T/srv.md" || fail "report --server"
  kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
fi
echo "ok: detect/report CLI"
