#!/usr/bin/env bash
# helper.sh: `keepon helper` answers a request shaped like OONI's, enforces its limits
# (413 over 16 MiB, 503 over the in-flight cap, 400 on junk, no crash) and `probe web`
# gives OONI's verdicts against it for an open and a blocked site. Namespace kpt-wch-<pid>.
set -u
[ -n "${KP_DEBUG:-}" ] && set -x
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
NS=kpt-wch-$$
D=$(mktemp -d /tmp/kp-wch.XXXXXX)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }
ip netns add "$NS"; ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.19.11.13/32 dev lo; ip -n "$NS" addr add 198.19.11.14/32 dev lo
mkdir -p "$D/www"; printf '<html><head><title>Default Web Page</title></head><body>hello</body></html>' >"$D/www/index.html"
ip netns exec "$NS" python3 -m http.server 80 --bind 198.19.11.13 --directory "$D/www" >"$D/http.log" 2>&1 & PIDS="$PIDS $!"
ip netns exec "$NS" "$KP_BIN" helper --listen 198.19.11.14:9000 --lab --step-timeout 1 --max-inflight 2 >"$D/th.log" 2>&1 & TH=$!; PIDS="$PIDS $TH"
for hp in 198.19.11.14/9000 198.19.11.13/80; do
  for i in $(seq 50); do ip netns exec "$NS" bash -c "echo > /dev/tcp/$hp" 2>/dev/null && break; sleep 0.1; done
done
post() { ip netns exec "$NS" curl -s -m 20 -o "$D/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary "$1" http://198.19.11.14:9000/; }
# 1. OONI's request shape (ts-017): every response key, the facts right
code=$(post '{"http_request":"http://198.19.11.13/","http_request_headers":{"Accept":["text/html"],"User-Agent":["ooniprobe-cli/3.22"]},"tcp_connect":["198.19.11.13:80","198.19.11.13:443"],"x_quic_enabled":false}')
[ "$code" = 200 ] || fail "OONI-shaped request got $code"
python3 - "$D/body" <<'PY' || fail "response shape: $(cat $D/body)"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("dns", "tcp_connect", "tls_handshake", "quic_handshake", "http_request", "ip_info"):
    assert k in r, k
assert r["dns"]["addrs"] == ["198.19.11.13"], r["dns"]
assert r["tcp_connect"]["198.19.11.13:80"]["status"] is True
assert r["tcp_connect"]["198.19.11.13:443"]["failure"] == "connection_refused"
h = r["http_request"]
assert h["status_code"] == 200 and h["title"] == "Default Web Page" and h["body_length"] == 75, h
assert r["ip_info"]["198.19.11.13"]["flags"] & 3 == 3
PY
# 2. limits and junk
[ "$(post 'not json')" = 400 ] || fail "junk not 400"
head -c $((17 << 20)) /dev/zero >"$D/big"
code=$(ip netns exec "$NS" curl -s -m 20 -o /dev/null -w '%{http_code}' -X POST --data-binary @"$D/big" http://198.19.11.14:9000/)
[ "$code" = 413 ] || fail "17 MiB body got $code"
# in-flight cap 2: three slow requests (to an address that drops) -> one 503
ip -n "$NS" addr add 198.19.99.1/32 dev lo   # an address whose SYNs vanish: connects time out
ip netns exec "$NS" iptables -w -A INPUT -d 198.19.99.1 -p tcp --syn -j DROP
SLOW=""
for i in 1 2 3; do
  ( post '{"http_request":"http://198.19.99.1/","tcp_connect":["198.19.99.1:80"]}' >"$D/slow$i" ) &
  SLOW="$SLOW $!"
  sleep 0.2
done
wait $SLOW
grep -q 503 "$D"/slow* || fail "no 503 over the in-flight cap"
kill -0 "$TH" || fail "helper died"
# 3. the probe against it: open site accessible, closed port = website down, blackholed = tcp_ip? (TH also fails: down)
KEEPON_HOME=$D/home ip netns exec "$NS" "$KP_BIN" probe web http://198.19.11.13/ http://198.19.11.13:81/ \
  --helper http://198.19.11.14:9000/ --resolver 127.0.0.1 --lab --timeout 1 -o "$D/out.jsonl" >"$D/probe.txt" 2>&1 || fail "probe web rc $?"
python3 - "$D/out.jsonl" <<'PY' || fail "probe verdicts"
import json, sys
ms = {m["input"]: m for m in map(json.loads, open(sys.argv[1]))}
a = ms["http://198.19.11.13/"]["test_keys"]
assert a["blocking"] is False and a["accessible"] is True and a["dns_consistency"] == "consistent", a
assert a["status_code_match"] and a["title_match"] and a["body_length_match"], a
b = ms["http://198.19.11.13:81/"]["test_keys"]
assert b["blocking"] is False and b["accessible"] is False, b
for m in ms.values():
    tk = m["test_keys"]
    for k in ("queries", "tcp_connect", "requests", "control", "x_control_request", "control_failure",
              "dns_experiment_failure", "http_experiment_failure", "body_proportion", "headers_match",
              "x_blocking_flags", "x_dns_flags", "x_null_null_flags", "keepon_technique"):
        assert k in tk, k
    assert m["test_name"] == "web_connectivity" and m["probe_ip"] == "127.0.0.1"
PY
grep -q "false (accessible)" "$D/probe.txt" || fail "no summary table"
# 4. OONI's formats: the backend's required fields (report id, cc, asn, ...) and fastpath scoring
"$KP_BUILD/tests/webconn/wc_cli" check "$D/out.jsonl" || fail "measurements rejected by the reader / fastpath"
echo "ok"
