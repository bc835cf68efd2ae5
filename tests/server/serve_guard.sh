#!/usr/bin/env bash
# serve_guard.sh: who may write to `keepon serve`, and what every answer carries (issue 13
# items 3 and 6). On loopback, an ephemeral port, started and stopped here by PID:
#  - POST /api/v1/signals, /api/v1/incidents, /api/v1/entities: 401 without or with a wrong
#    Bearer token, 415 for text/plain even with it, 403 with a foreign Origin or
#    Sec-Fetch-Site: cross-site, 200 with the token; the OONI upload routes and keepon's signed
#    submit stay open; a server started without a token refuses those writes (403);
#  - Host: a rebound name is 421 on every route, loopback names are answered;
#  - security headers (CSP, nosniff, frame-ancestors, X-Frame-Options, Referrer-Policy) on
#    200, 4xx and the dashboard page; HEAD sends no body (a following request on the same
#    connection is parsed right);
#  - signals/raw with from/until near INT64_MAX is 400 (was an UBSan abort);
#  - a 70-deep measurement is a client error (400, or 200 once the writer takes it), never 500;
#  - listings page: limit + offset + next_offset / X-Next-Offset, records paged.
set -u
BIN=${KP_BIN:?KP_BIN not set}
T=$(mktemp -d /tmp/kpt-serve-guard-XXXXXX)
SRV= SRV2=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  [ -n "$SRV2" ] && kill "$SRV2" 2>/dev/null && wait "$SRV2" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/serve.log" ] && tail -5 "$T/serve.log" >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_HOME=$T/home KEEPON_DATA=${KP_SRC:-.}/data
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token"; chmod 600 "$T/token"
TOK=$(cat "$T/token")
start() { # LOG ARGS... -> sets PORT
  local log=$1; shift
  "$BIN" serve --db "$T/$log.db" --listen 127.0.0.1:0 "$@" 2> "$T/$log.log" &
  LAST=$!
  for _ in $(seq 50); do grep -q 'port [0-9]' "$T/$log.log" 2>/dev/null && break; sleep 0.1; done
  PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/$log.log")
  [ -n "$PORT" ] || fail "server did not start: $(cat "$T/$log.log")"
}
start serve --admin-token-file "$T/token"
SRV=$LAST
U=http://127.0.0.1:$PORT
# code METHOD PATH [curl args...] -> status; body in $T/out, headers in $T/hdr
code() { local m=$1 p=$2; shift 2; curl -s -m 10 -o "$T/out" -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$U$p"; }
AUTH=(-H "Authorization: Bearer $TOK")
JSON=(-H "Content-Type: application/json")
printf '{"type":"signal","entity_type":"country","entity_code":"KZ","datasource":"d","t":600,"step":600,"value":5}\n' > "$T/sig"
printf '[{"id":"i1","cc":"KZ","start":600,"end":1200}]' > "$T/inc"
printf '[{"type":"asn","code":"AS9198","cc":"KZ"}]' > "$T/ent"

# ---- A: credentials on writes ----
for r in "/api/v1/signals sig" "/api/v1/incidents inc" "/api/v1/entities ent"; do
  set -- $r
  [ "$(code POST "$1" "${JSON[@]}" --data-binary @"$T/$2")" = 401 ] || fail "$1 without token: $(cat "$T/out")"
  grep -qi '^WWW-Authenticate: Bearer' "$T/hdr" || fail "$1: no WWW-Authenticate"
  [ "$(code POST "$1" "${JSON[@]}" -H "Authorization: Bearer ${TOK}x" --data-binary @"$T/$2")" = 401 ] || fail "$1 wrong token"
  [ "$(code POST "$1" "${JSON[@]}" -H "Authorization: Bearer ${TOK%?}" --data-binary @"$T/$2")" = 401 ] || fail "$1 token prefix"
  [ "$(code POST "$1" -H 'Content-Type: text/plain' "${AUTH[@]}" --data-binary @"$T/$2")" = 415 ] || fail "$1 text/plain with token"
  [ "$(code POST "$1" "${JSON[@]}" "${AUTH[@]}" -H 'Origin: http://evil.example' --data-binary @"$T/$2")" = 403 ] || fail "$1 foreign Origin"
  [ "$(code POST "$1" "${JSON[@]}" "${AUTH[@]}" -H 'Sec-Fetch-Site: cross-site' --data-binary @"$T/$2")" = 403 ] || fail "$1 cross-site"
  [ "$(code POST "$1" "${JSON[@]}" "${AUTH[@]}" -H "Origin: http://127.0.0.1:$PORT" --data-binary @"$T/$2")" = 200 ] || fail "$1 with token: $(cat "$T/out")"
done
[ "$(code PUT /api/v1/incidents "${JSON[@]}" --data-binary '[]')" = 401 ] || fail "PUT without token"
# the issue's attack: text/plain [] with a foreign Origin, no token; the incidents stay
code POST /api/v1/incidents -H 'Content-Type: text/plain' -H 'Origin: http://evil.example' --data-binary '[]' > /dev/null
[ "$(code GET /api/v1/incidents)" = 200 ] && grep -q '"i1"' "$T/out" || fail "incidents emptied by a cross-origin text/plain post"
ok "signals, incidents, entities: 401 without/wrong token, 415 text/plain, 403 foreign Origin, 200 with token"

# uploads stay open: OONI open/submit/close and the keepon signed path (no token)
printf '{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"web_connectivity","software_name":"t","software_version":"1","format":"json"}' > "$T/open"
[ "$(code POST /report "${JSON[@]}" --data-binary @"$T/open")" = 200 ] || fail "OONI open needs a token: $(cat "$T/out")"
RID=$(sed -n 's/.*"report_id":"\([^"]*\)".*/\1/p' "$T/out")
mk() { # depth -> a measurement nested DEPTH deep in test_keys
  python3 -c "import sys; d=int(sys.argv[1]); print('{\"format\":\"json\",\"content\":{\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\",\"test_name\":\"web_connectivity\",\"input\":\"http://x%d.example/\",\"measurement_start_time\":\"2022-01-05 10:00:00\",\"test_keys\":' % d + '['*d + ']'*d + '}}')" "$1"
}
mk 3 > "$T/m3"
[ "$(code POST "/report/$RID" "${JSON[@]}" --data-binary @"$T/m3")" = 200 ] || fail "OONI submit needs a token: $(cat "$T/out")"
[ "$(code POST "/report/$RID/close" "${JSON[@]}" --data-binary '{}')" = 200 ] || fail "OONI close needs a token"
[ "$(code POST /api/v1/keepon/submit "${JSON[@]}" --data-binary '{"seq":1}')" = 400 ] || fail "keepon submit not open (got $(cat "$T/out"))"
ok "OONI open/submit/close and keepon submit need no token"

# ---- C: a 70-deep measurement is the client's fault ----
mk 70 > "$T/m70"
st=$(code POST "/report/$RID" "${JSON[@]}" --data-binary @"$T/m70")
[ "$st" = 400 ] || [ "$st" = 200 ] || fail "70-deep measurement: $st $(cat "$T/out")"
mk 200 > "$T/m200"
[ "$(code POST "/report/$RID" "${JSON[@]}" --data-binary @"$T/m200")" = 400 ] || fail "200-deep measurement not 400"
ok "70-deep measurement $st (not 500), 200-deep 400"

# ---- Host (DNS rebinding) ----
[ "$(code GET /api/v1/measurements -H 'Host: evil.example')" = 421 ] || fail "rebound Host answered"
[ "$(code GET / -H "Host: evil.example:$PORT")" = 421 ] || fail "rebound Host with port answered"
[ "$(code POST /report "${JSON[@]}" -H 'Host: evil.example' --data-binary @"$T/open")" = 421 ] || fail "rebound Host on upload"
[ "$(code GET /api/v1/health -H "Host: localhost:$PORT")" = 200 ] || fail "localhost refused"
[ "$(code GET /api/v1/health -H "Host: [::1]:$PORT")" = 200 ] || fail "[::1] refused"
start hosts --allowed-hosts "collector.example"
SRV2=$LAST
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: collector.example' "http://127.0.0.1:$PORT/api/v1/health")" = 200 ] || fail "--allowed-hosts name refused"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/health")" = 421 ] || fail "--allowed-hosts: other name answered"
# a server without a token: writes other than uploads are refused
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: collector.example' "${JSON[@]}" -H "Authorization: Bearer $TOK" --data-binary @"$T/sig" "http://127.0.0.1:$PORT/api/v1/signals")" = 403 ] || fail "tokenless server took a write"
kill "$SRV2"; wait "$SRV2" 2>/dev/null; SRV2=
PORT=${U##*:}
ok "Host: rebound names 421, loopback names and --allowed-hosts answered; no token = no writes"

# ---- security headers on every response ----
for p in /api/v1/health /nope / /api/v1/measurements?limit=0; do
  code GET "$p" > /dev/null
  for h in "Content-Security-Policy: .*frame-ancestors 'none'" "X-Content-Type-Options: nosniff" "X-Frame-Options: DENY" "Referrer-Policy: no-referrer"; do
    grep -qi "^$h" "$T/hdr" || fail "$p lacks $h"
  done
done
code POST /api/v1/signals --data-binary x > /dev/null; grep -qi '^X-Content-Type-Options: nosniff' "$T/hdr" || fail "401 lacks nosniff"
ok "security headers on 200, 400, 401, 404 and the page"

# ---- HEAD: no body, keep-alive framing intact ----
python3 - "$PORT" <<'PY' || fail "HEAD framing"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"HEAD /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\nGET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d: break
    data += d
first, rest = data.split(b"\r\n\r\n", 1)
assert b"Content-Length: 16" in first, first          # the GET's length, announced
assert rest.startswith(b"HTTP/1.1 200"), rest[:40]     # no body bytes before the next response
assert rest.endswith(b'{"status":"ok"}\n'), rest[-40:]
PY
ok "HEAD: Content-Length announced, no body; the next response on the connection is intact"

# ---- signals/raw near INT64_MAX ----
[ "$(code GET '/api/v1/signals/raw/country/KZ?from=9223372036854775000&until=9223372036854775807')" = 400 ] || fail "from/until near INT64_MAX: $(head -c 200 "$T/out")"
[ "$(code GET '/api/v1/signals/raw/country/KZ?from=0&until=9223372036854775807')" = 400 ] || fail "until = INT64_MAX"
[ "$(code GET '/api/v1/signals/raw/country/KZ?from=0&until=1200')" = 200 ] && grep -q '"values":\[null,5\]' "$T/out" || fail "signals raw: $(cat "$T/out")"
printf '{"type":"signal","entity_type":"country","entity_code":"KZ","datasource":"d","t":9223372036854775000,"step":600,"value":5}\n' > "$T/sigbig"
[ "$(code POST /api/v1/signals -H 'Content-Type: application/x-ndjson' "${AUTH[@]}" --data-binary @"$T/sigbig")" = 400 ] || fail "t near INT64_MAX stored"
ok "signals: from/until/t near INT64_MAX are 400"

# ---- pagination ----
mk 4 > "$T/m4"; mk 5 > "$T/m5"
code POST "/report/$RID" "${JSON[@]}" --data-binary @"$T/m4" > /dev/null
code POST "/report/$RID" "${JSON[@]}" --data-binary @"$T/m5" > /dev/null
[ "$(code GET '/api/v1/measurements?limit=1')" = 200 ] || fail "measurements page"
grep -q '"next_offset":1' "$T/out" || fail "no next_offset: $(cat "$T/out")"
grep -qi '^X-Next-Offset: 1' "$T/hdr" || fail "no X-Next-Offset"
code GET '/api/v1/measurements?limit=10000' > /dev/null; grep -q 'next_offset' "$T/out" && fail "next_offset on the last page"
[ "$(code GET '/api/v1/measurements?limit=10001')" = 400 ] || fail "limit above the max"
[ "$(code GET '/api/v1/aggregation?axis_x=input&limit=1')" = 200 ] && grep -q '"next_offset":1' "$T/out" || fail "aggregation paging: $(cat "$T/out")"
[ "$(code GET '/api/v1/keepon/records?limit=10001')" = 400 ] || fail "records limit above the max"
# one paging rule and one refusal on every listing: present but bad is a 400 naming it
for path in '/api/v1/measurements?' '/api/v1/aggregation?axis_x=input&' '/api/v1/keepon/records?' \
            '/api/v1/keepon/heads?' '/api/v1/watch/faults?'; do
  for bad in 'limit=' 'limit=%2B5' "limit=$(printf '1%.0s' $(seq 30))"; do
    [ "$(code GET "${path}${bad}")" = 400 ] && grep -q "parameter 'limit (1..10000)'" "$T/out" ||
      fail "${path}${bad}: $(cat "$T/out")"
  done
  [ "$(code GET "${path}offset=-1")" = 400 ] && grep -q "parameter 'offset" "$T/out" || fail "${path}offset=-1: $(cat "$T/out")"
done
ok "listings paged: next_offset / X-Next-Offset, max page enforced"
echo "PASS"
