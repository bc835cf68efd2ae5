#!/usr/bin/env bash
# vantages.sh: three `keepon watch --vantage` runs over sim models (no packets) post their rounds
# to one `keepon serve` on loopback. Vantage c loses its uplink for 2 h (in its model every block
# is silent then); later the country really goes down for 1 h for everyone. Asserts: the write
# route needs the admin token and rejects bad bodies; the vantage fault is listed for c (paged),
# and only for c's rounds; the merged ping-slash24 never drops while c is blind; `detect
# --server` finds exactly the real outage, starting in its first round. Control: c's own signal
# points, read alone, do show the false outage (so the merge is what prevents it). Also: a dead
# collector (16 rounds kept) and a slow one with a backlog (the upload budget per round).
set -euo pipefail
bin=${KP_BIN:?KP_BIN not set}
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
T=${KPV_DIR:-$(mktemp -d /tmp/kpt-vantages-XXXXXX)}
SPID= SLOW=
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  [ -n "$SLOW" ] && kill "$SLOW" 2>/dev/null || true
  [ -n "${KPV_DIR:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_HOME=$T/home
T0=1641340800               # 2022-01-05 00:00 UTC
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token"; chmod 600 "$T/token"
"$bin" serve --admin-token-file "$T/token" --db "$T/db" --listen 127.0.0.1:0 2> "$T/serve.err" &
SPID=$!
PORT=
for _ in $(seq 100); do PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/serve.err"); [ -n "$PORT" ] && break; sleep 0.1; done
[ -n "$PORT" ] || { cat "$T/serve.err"; fail "serve did not start"; }
U=http://127.0.0.1:$PORT

# ---- usage: exit 2, nothing sent ----
usage() { local rc=0; "$bin" watch "$@" -o /dev/null 2> "$T/usage.err" || rc=$?; [ "$rc" = 2 ] || fail "rc $rc, want 2: watch $*"; }
echo '{"blocks":[{"prefix":"198.18.0.0/24"}]}' > "$T/one-model.json"
usage --sim "$T/one-model.json" --collector "$U" --token-file "$T/token"
grep -q 'needs --vantage' "$T/usage.err" || fail "no reason for --collector without --vantage"
usage --sim "$T/one-model.json" --vantage 'a b'
usage --sim "$T/one-model.json" --vantage "$(printf 'v%.0s' $(seq 33))"
usage --sim "$T/one-model.json" --vantage a --collector "ftp://x" --token-file "$T/token"
usage --sim "$T/one-model.json" --align
echo short > "$T/short.token"
rc=0; "$bin" watch --sim "$T/one-model.json" --vantage a --collector "$U" --token-file "$T/short.token" -o /dev/null 2> "$T/usage.err" || rc=$?
[ "$rc" != 0 ] && grep -q 'shorter than 16' "$T/usage.err" || fail "a short token was accepted (rc $rc)"
# a collector that does not answer: the rounds are kept (at most 16), tried again after every
# round, and the run still ends well, saying how many were not delivered
rc=0; "$bin" watch --sim "$T/one-model.json" --rounds 20 --round 600 --cc LB --vantage a --collector "http://127.0.0.1:9" \
  --token-file "$T/token" -o /dev/null 2> "$T/down.err" || rc=$?
[ "$rc" = 0 ] || { cat "$T/down.err"; fail "watch failed because the collector was down (rc $rc)"; }
grep -q '16 round(s) not delivered' "$T/down.err" || fail "queue: $(grep -m2 'collector\|deliver' "$T/down.err")"
[ "$(grep -c 'kept for the next try' "$T/down.err")" = 1 ] || fail "the failure was not logged once"
echo "ok   watch: --collector needs --vantage, ids checked, http(s) only, --align needs a real clock, short tokens refused"
# a slow collector with a backlog: it refuses (503) the first 4 posts, then answers each after
# 0.3 s. With 3-s rounds the sending after a round has one budget of 1 s, so a queue of 5 is
# sent over several rounds (never more than 1 s of sending after any round), and every round
# still arrives. Control: the same with an instant collector never spends the budget.
slow() { # slow DELAY REFUSE -> port in $T/slow.port, arrival log in $T/slow.log
  python3 - "$1" "$2" "$T/slow.port" "$T/slow.log" <<'PY' &
import http.server, json, os, sys, time
delay, refuse, portf, logf = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n[0] += 1
        if n[0] <= refuse:
            code, out = 503, b"busy"
        else:
            time.sleep(delay)
            code, out = 200, b'{"ok":true}'
            with open(logf, "a") as f: f.write("%d\n" % json.loads(body.split(b"\n")[0])["t"])
        self.send_response(code); self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)  # a post cut short must not hold up the next
open(portf + ".tmp", "w").write(str(s.server_address[1])); os.rename(portf + ".tmp", portf)
s.serve_forever()
PY
  SLOW=$!
  for _ in $(seq 100); do [ -s "$T/slow.port" ] && break; sleep 0.05; done
}
# "cut": answers after 0.6 s, so the second post after a round is cut short by what is left of the
# budget: that round waits like a budget-held one, and only the first refusal is warned about.
for mode in slow cut fast; do
  rm -f "$T/slow.port" "$T/slow.log"
  case $mode in slow) slow 0.3 4 ;; cut) slow 0.6 2 ;; fast) slow 0 0 ;; esac
  rc=0; "$bin" -vv watch --sim "$T/one-model.json" --rounds 8 --round 3 --timeout 1 --cc LB --vantage a --collector "http://127.0.0.1:$(cat "$T/slow.port")" \
    --token-file "$T/token" -o /dev/null 2> "$T/slow.err" || rc=$?
  kill "$SLOW"; wait "$SLOW" 2>/dev/null || true; SLOW=
  [ "$rc" = 0 ] || { tail -5 "$T/slow.err"; fail "watch with a $mode collector (rc $rc)"; }
  spent=$(grep -c 'upload budget of 1000 ms spent' "$T/slow.err" || true)
  got=$(sort -u "$T/slow.log" | wc -l)
  [ "$got" = 8 ] || fail "$mode collector got $got of 8 rounds"
  grep -q 'not delivered' "$T/slow.err" && fail "$mode collector: rounds not delivered"
  warned=$(grep -c 'kept for the next try' "$T/slow.err" || true)
  if [ $mode = fast ]; then [ "$spent" = 0 ] || fail "a fast collector spent the budget"
  else
    [ "$spent" -ge 1 ] || fail "$mode collector: the budget never held a backlog back"
    [ "$warned" = 1 ] || fail "$mode collector: $warned warnings, want 1 (the refusals; a post the budget cut is no failure)"
  fi
  echo "ok   watch: $mode collector: 8 of 8 rounds, budget spent after $spent round(s)"
done

# ---- the route: token, body ----
printf '{"type":"vantage","vantage":"x","t":%d,"step":600}\n{"block":"198.18.0.0/24","state":"up"}\n' $T0 > "$T/one.jsonl"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' --data-binary @"$T/one.jsonl" "$U/api/v1/watch/blocks")
[ "$code" = 401 ] || fail "post without the token: $code"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer wrongwrongwrongwrong" -H 'Content-Type: application/x-ndjson' \
  --data-binary @"$T/one.jsonl" "$U/api/v1/watch/blocks")
[ "$code" = 401 ] || fail "post with a wrong token: $code"
printf '{"type":"vantage","vantage":"x","t":%d,"step":600}\n{"block":"198.18.0.7/24","state":"up"}\n' $T0 > "$T/bad.jsonl"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/token")" -H 'Content-Type: application/x-ndjson' \
  --data-binary @"$T/bad.jsonl" "$U/api/v1/watch/blocks")
[ "$code" = 400 ] && grep -q 'line 2: block' "$T/out" || fail "bad block line: $code $(cat "$T/out")"
ok "POST /api/v1/watch/blocks: 401 without the admin token, 400 naming the bad line"

# ---- three vantages ----
model() { # FILE EXTRA_OUTAGES
  cat > "$1" <<JSON
{"start": $T0, "seed": $3, "loss": 0.01, "rtt_ms": 30,
 "blocks": [{"prefix": "198.18.0.0/18", "hosts": 64, "a_min": 0.5, "a_max": 0.95}],
 "outages": [{"prefixes": ["198.18.0.0/18"], "start": 36000, "end": 39600}$2]}
JSON
}
model "$T/a.json" "" 1
model "$T/b.json" "" 2
model "$T/c.json" ', {"prefixes": ["198.18.0.0/18"], "start": 21600, "end": 28800}' 3
for v in a b c; do
  "$bin" watch --sim "$T/$v.json" --round 600 --rounds 72 --cc LB --vantage "$v" --collector "$U" \
    --token-file "$T/token" --detail none --signals "$T/$v.signals.jsonl" -o /dev/null 2> "$T/$v.err" \
    || { cat "$T/$v.err"; fail "watch $v"; }
  grep -q 'not delivered' "$T/$v.err" && fail "$v: rounds not delivered"
done
grep -q '"vantage":"c"' "$T/c.signals.jsonl" || fail "--vantage not on the signal points"
ok "3 vantages x 72 rounds posted"

# ---- faults: c, and only during its blind 2 h (rounds 36..47) ----
curl -s -D "$T/h" -o "$T/f1" "$U/api/v1/watch/faults?limit=5"
grep -qi '^X-Next-Offset: 5' "$T/h" || fail "faults not paged: $(cat "$T/h")"
curl -s -o "$T/faults" "$U/api/v1/watch/faults?limit=1000"
python3 - "$T/faults" "$T0" <<'PY' || fail "fault list"
import json, sys
d = json.load(open(sys.argv[1])); t0 = int(sys.argv[2])
r = d["results"]
assert d["metadata"]["total"] == len(r), d["metadata"]
vs = {f["vantage"] for f in r}
ts = sorted((f["t"] - t0) // 600 for f in r)
assert vs == {"c"}, vs
# c is blind for [21600, 28800) = rounds 36..47; every one of them a fault, no other
assert ts == list(range(36, 48)), ts
assert all(f["reach"] == 0 for f in r), r
print("faults:", len(r), "rounds of vantage c, rounds", ts[0], "-", ts[-1])
PY
ok "vantage fault reported for c in each of its 12 blind rounds, for no one else"

# ---- per block: who reported, who was healthy, who agrees (round 40: c blind) ----
curl -s -D "$T/h" -o "$T/blk" "$U/api/v1/watch/blocks?t=$((T0 + 40 * 600))&limit=10"
grep -qi '^X-Next-Offset: 10' "$T/h" || fail "blocks not paged"
python3 - "$T/blk" <<'PY' || fail "merged blocks"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["metadata"]["total"] == 64 and len(d["results"]) == 10, d["metadata"]
assert all(b["state"] == "up" and b["reported"] == 3 and b["healthy"] == 2 and b["agree"] == 2 for b in d["results"]), d["results"][:3]
PY
[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/v1/watch/blocks?t=1000")" = 404 ] || fail "unknown round not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/v1/watch/blocks")" = 400 ] || fail "no t not 400"
ok "GET /api/v1/watch/blocks: per block 3 reported, 2 healthy, 2 agree while c is blind; paged; 404/400"

# ---- the merged signal ----
curl -s -o "$T/sig" "$U/api/v1/signals/raw/country/LB?from=$T0&until=$((T0 + 43200))"
python3 - "$T/sig" <<'PY' || fail "merged signal"
import json, sys
d = json.load(open(sys.argv[1]))
ser = {s["datasource"]: s["values"] for s in d["data"][0]}
up, agree = ser["ping-slash24"], ser["vantage-agreement"]
n = max(v for v in up if v is not None)
assert n == 64, up
blind = up[36:48]
assert min(blind) == n, ("merged signal dropped while c was blind", blind)
assert up[60] == 0 and up[59] == n, ("real outage not in its first round", up[58:62])
assert max(up[60:66]) <= 2, up[60:66]
# a block near its threshold may read uncertain at one healthy vantage for a round (1 % loss)
assert min(agree[36:48]) >= 75 and sum(agree[:36]) / 36 >= 95, ("the healthy vantages disagree", agree)
print("merged up blocks: rounds 36-47", blind, "outage rounds 60-65", up[60:66])
PY
ok "merged ping-slash24 stays at 64 while c is blind and is 0 from the outage's first round"

# ---- detect: the merged signal has one outage; c's own signal alone has two ----
"$bin" detect --server "$U" --cc LB --from 2022-01-05 --to 2022-01-05T12:00:00Z -o "$T/inc.json" 2> "$T/detect.err" \
  || { cat "$T/detect.err"; fail "detect --server"; }
"$bin" detect --cc LB -o "$T/inc_c.json" "$T/c.signals.jsonl" 2> /dev/null || fail "detect on c alone"
python3 - "$T/inc.json" "$T/inc_c.json" "$T0" <<'PY' || fail "detect"
import json, sys
def incs(p):
    d = json.load(open(p))
    return d["incidents"] if isinstance(d, dict) else d
t0 = int(sys.argv[3])
def starts(l):
    out = []
    for i in l:
        s = i.get("start")
        if isinstance(s, str):
            import datetime
            s = int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
        out.append(s - t0)
    return sorted(out)
m, c = starts(incs(sys.argv[1])), starts(incs(sys.argv[2]))
print("incident starts (s after 00:00): merged", m, "vantage c alone", c)
assert len(m) == 1 and 36000 <= m[0] <= 36000 + 600, m
assert any(21600 <= s <= 22200 for s in c), ("control: c alone should show the false outage", c)
PY
ok "detect --server: one incident (the real outage, in its first round); c alone would have had a false one"
