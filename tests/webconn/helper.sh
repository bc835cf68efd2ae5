#!/usr/bin/env bash
# helper.sh: `keepon helper` in two namespaces (helper H, web W, a veth between):
#  1. answers a request shaped like OONI's, with ip_info.asn from a geo table fixture;
#  2. SSRF: never reaches loopback, link-local (metadata), private, its own addresses, in any
#     literal form, by name, by redirect, nor in the TCP step: a server listening on every
#     address of H counts each accept, and the count must stay 0 (failure dns_bogon_error);
#  3. limits on kp_srv: 413 over 16 MiB, 400 on junk, idle sockets hold no measurement slot,
#     one client's slow requests (per-client cap) do not lock out another client;
#  4. `probe web` gives OONI's verdicts against it. Namespaces kpt-wch{h,w}-<pid>.
set -u
[ -n "${KP_DEBUG:-}" ] && set -x
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
H=kpt-wchh-$$
W=kpt-wchw-$$
D=$(mktemp -d /tmp/kp-wch.XXXXXX)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; ip netns del "$H" 2>/dev/null; ip netns del "$W" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; for f in "$D"/th.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }
HITSRV=$KP_SRC/tests/webconn/hitserver.py
ip netns add "$H"; ip netns add "$W"
ip -n "$H" link set lo up; ip -n "$W" link set lo up
ip link add "wch$$h" netns "$H" type veth peer name "wch$$w" netns "$W"
ip -n "$H" addr add 198.19.11.14/24 dev "wch$$h"; ip -n "$H" link set "wch$$h" up
ip -n "$W" addr add 198.19.11.13/24 dev "wch$$w"; ip -n "$W" link set "wch$$w" up
for a in 21 22; do ip -n "$W" addr add 198.19.11.$a/24 dev "wch$$w"; done   # two clients
# H's private/link-local/metadata addresses: the internal server answers on every one of them
ip -n "$H" addr add 10.0.0.1/32 dev lo; ip -n "$H" addr add 169.254.169.254/32 dev lo
ip -n "$H" addr add 192.168.7.1/32 dev lo
ip -n "$H" route add 198.19.99.0/24 via 198.19.11.13
ip netns exec "$W" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 2>/dev/null
PI=8081   # the internal server, on [::]:8081 of H (dual-stack: 127.0.0.1, ::1, 10.0.0.1, 198.19.11.14, ...)
ip netns exec "$H" python3 "$HITSRV" :: $PI "$D/hits" >"$D/int.log" 2>&1 & PIDS="$PIDS $!"
mkdir -p "$D/www"; printf '<html><head><title>Default Web Page</title></head><body>hello</body></html>' >"$D/www/index.html"
ip netns exec "$W" python3 -m http.server 80 --bind 198.19.11.13 --directory "$D/www" >"$D/http.log" 2>&1 & PIDS="$PIDS $!"
# permitted lab servers that redirect inside H: to its loopback, to its own address, to a name
ip netns exec "$W" python3 "$HITSRV" 198.19.11.13 8080 "$D/r1" "http://127.0.0.1:$PI/admin" >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec "$W" python3 "$HITSRV" 198.19.11.13 8082 "$D/r2" "http://198.19.11.14:$PI/" >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec "$W" python3 "$HITSRV" 198.19.11.13 8083 "$D/r3" "//localhost:$PI/x" >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec "$W" python3 "$HITSRV" 198.19.11.13 8084 "$D/r4" "http://169.254.169.254:$PI/latest/meta-data/" >/dev/null 2>&1 & PIDS="$PIDS $!"
printf 'prefix,cc,region,asn,as_name\n198.19.11.0/24,KZ,Almaty,9198,"JSC Kazakhtelecom"\n' >"$D/geo.csv"
ip netns exec "$H" "$KP_BIN" helper --listen 198.19.11.14:9000 --lab --allow-net 198.18.0.0/15 --geo-table "$D/geo.csv" \
  --step-timeout 3 --max-inflight 4 --max-per-client 2 >"$D/th.log" 2>&1 & TH=$!; PIDS="$PIDS $TH"
for hp in 198.19.11.14/9000 198.19.11.13/80 198.19.11.13/8080 198.19.11.13/8084; do
  for i in $(seq 50); do ip netns exec "$W" bash -c "echo > /dev/tcp/$hp" 2>/dev/null && break; sleep 0.1; done
done
for i in $(seq 50); do ip netns exec "$H" bash -c "echo > /dev/tcp/127.0.0.1/$PI" 2>/dev/null && break; sleep 0.1; done
for i in $(seq 50); do [ -s "$D/hits" ] && break; sleep 0.1; done   # the readiness probe's own hit, logged
: >"$D/hits"   # count from here
post() { ip netns exec "$W" curl -s -m 20 -o "$D/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "${@:2}" --data-binary "$1" http://198.19.11.14:9000/; }
# 1. OONI's request shape (ts-017): every response key, the facts right, ip_info.asn from the geo table
code=$(post '{"http_request":"http://198.19.11.13/","http_request_headers":{"Accept":["text/html"],"User-Agent":["ooniprobe-cli/3.22"]},"tcp_connect":["198.19.11.13:80","198.19.11.13:443","198.19.11.22:80"],"x_quic_enabled":false}')
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
ii = r["ip_info"]
assert ii["198.19.11.13"]["flags"] & 3 == 3 and ii["198.19.11.13"]["asn"] == 9198, ii
assert ii["198.19.11.22"]["flags"] == 1 and ii["198.19.11.22"]["asn"] == 9198, ii   # the probe's address too
PY
echo "ok   OONI-shaped request, ip_info.asn 9198 from the geo table"
# 2. SSRF: every form refused with dns_bogon_error, the internal server never reached
nref=0
for u in "http://127.0.0.1:$PI/admin" "http://localhost:$PI/admin" "http://[::1]:$PI/" "http://0.0.0.0:$PI/" \
         "http://[::]:$PI/" "http://[::ffff:127.0.0.1]:$PI/" "http://[::ffff:7f00:1]:$PI/" "http://2130706433:$PI/" \
         "http://0177.0.0.1:$PI/" "http://0x7f.1:$PI/" "http://127.1:$PI/" "http://user@127.0.0.1:$PI/" \
         "http://user:pw@localhost:$PI/" "http://10.0.0.1:$PI/" "http://192.168.7.1:$PI/" \
         "http://169.254.169.254:$PI/latest/meta-data/" "http://198.19.11.14:$PI/" "http://[2002:7f00:1::1]:$PI/" \
         "http://[64:ff9b::7f00:1]:$PI/" "https://127.0.0.1:$PI/" \
         "http://198.19.11.13:8080/" "http://198.19.11.13:8082/" "http://198.19.11.13:8083/" "http://198.19.11.13:8084/"; do
  code=$(post "{\"http_request\":\"$u\",\"tcp_connect\":[\"127.0.0.1:$PI\",\"[::1]:$PI\",\"198.19.11.14:$PI\",\"10.0.0.1:$PI\",\"169.254.169.254:$PI\",\"0.0.0.0:$PI\"]}")
  [ "$code" = 200 ] || fail "$u: helper answered $code"
  [ "$(wc -l <"$D/hits")" = 0 ] || fail "$u: the internal server was reached: $(sort "$D/hits" | uniq -c | tr '\n' ' ')"
  nref=$((nref + 1))
  printf '%s\n' "$u" >"$D/ssrf.$nref.url"; mv "$D/body" "$D/ssrf.$nref.json"
done
python3 - "$D" "$nref" <<'PY' || fail "not refused"
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    u = open("%s/ssrf.%d.url" % (d, i)).read().strip()
    r = json.load(open("%s/ssrf.%d.json" % (d, i)))
    h = r["http_request"]
    assert h["failure"] == "dns_bogon_error", (u, h)
    assert h["status_code"] == -1 and h["title"] == "" and h["headers"] == {}, (u, h)
    for ep in r["tcp_connect"]:   # no refused endpoint was dialled
        assert not ep.startswith(("127.", "[::1]", "10.", "169.254.", "0.0.0.0", "198.19.11.14")), (u, ep)
PY
[ "$(wc -l <"$D/hits")" = 0 ] || fail "the internal server was reached $(wc -l <"$D/hits") times"
# each redirecting lab server was asked (r1, r4 also logged their readiness probe), so each refusal was of the 302
for r in r1:2 r2:1 r3:1 r4:2; do
  [ "$(wc -l <"$D/${r%:*}")" -ge "${r#*:}" ] || fail "redirecting lab server ${r%:*} never asked (test is void)"
done
echo "ok   $nref SSRF forms refused (dns_bogon_error), internal server hits: 0"
# the internal server is reachable to anyone else in H: the 0 above is the helper's refusal
ip netns exec "$H" curl -s -m 3 -o /dev/null "http://127.0.0.1:$PI/" || fail "internal server not answering"
[ "$(wc -l <"$D/hits")" = 1 ] || fail "hit counter does not count"
# 3. limits and junk, on kp_srv
[ "$(post 'not json')" = 400 ] || fail "junk not 400"
head -c $((17 << 20)) /dev/zero >"$D/big"
code=$(ip netns exec "$W" curl -s -m 20 -o /dev/null -w '%{http_code}' -X POST --data-binary @"$D/big" http://198.19.11.14:9000/)
[ "$code" = 413 ] || fail "17 MiB body got $code"
# idle sockets hold no measurement slot: 40 idle connections from .21 (cap is 4), then .22 is served at once
ip netns exec "$W" python3 - <<'PY' >"$D/idle.txt" 2>&1 &
import socket, time
ss = []
for i in range(40):
    s = socket.socket(); s.bind(("198.19.11.21", 0)); s.connect(("198.19.11.14", 9000)); ss.append(s)
print("open", len(ss), flush=True)
time.sleep(6)
PY
IDLE=$!; PIDS="$PIDS $IDLE"
for i in $(seq 50); do grep -q open "$D/idle.txt" && break; sleep 0.1; done
# the health check measures nothing: its time (curl's, without process start-up) is the wait for a slot
read -r code secs < <(ip netns exec "$W" curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' --interface 198.19.11.22 http://198.19.11.14:9000/)
ms=$(python3 -c "print(int(float('$secs') * 1000))")
[ "$code" = 200 ] || fail "40 idle sockets from one client locked another out ($code)"
[ "$ms" -lt 1000 ] || fail "the other client waited ${ms} ms behind idle sockets"
code=$(post '{"http_request":"http://198.19.11.13/","tcp_connect":["198.19.11.13:80"]}' --interface 198.19.11.22)
[ "$code" = 200 ] || fail "a measurement from another client behind 40 idle sockets got $code"
echo "ok   40 idle sockets from one address: another client answered in ${ms} ms, and measured"
# close them before the next phase: kp_srv caps connections per address (32), so .21's idle
# sockets would otherwise refuse its own slow requests below at the door
kill "$IDLE" 2>/dev/null || true; wait "$IDLE" 2>/dev/null || true
# slow requests (to an address whose SYNs vanish): client .21 gets its 2 (per-client cap), the rest 503;
# client .22 is still served
ip netns exec "$W" ip addr add 198.19.99.1/32 dev lo
ip netns exec "$W" iptables -w -A INPUT -d 198.19.99.1 -p tcp --syn -j DROP
SLOW=""
for i in 1 2 3 4; do
  ( ip netns exec "$W" curl -s -m 20 -o /dev/null -w '%{http_code}' --interface 198.19.11.21 -X POST -A ooniprobe-cli/3.22 \
      --data-binary '{"http_request":"http://198.19.99.1/","tcp_connect":["198.19.99.1:80"]}' http://198.19.11.14:9000/ >"$D/slow$i" ) &
  SLOW="$SLOW $!"
done
sleep 0.5
# 2 of 4 slots taken: a client that is not a probe (curl's User-Agent) is over its half (oohelperd's rule)
ua=$(post '{"http_request":"http://198.19.11.13/","tcp_connect":["198.19.11.13:80"]}' --interface 198.19.11.22)
t0=$(date +%s%N)
code=$(post '{"http_request":"http://198.19.11.13/","tcp_connect":["198.19.11.13:80"]}' --interface 198.19.11.22 -A ooniprobe-cli/3.22)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait $SLOW
[ "$code" = 200 ] || fail "client .22 got $code while .21 had slow requests in flight"
n503=$(cat "$D"/slow? | grep -o 503 | wc -l); n200=$(cat "$D"/slow? | grep -o 200 | wc -l)
[ "$n503" = 2 ] && [ "$n200" = 2 ] || fail "per-client cap 2: .21 got $(cat "$D"/slow? | tr '\n' ' ')"
[ "$ua" = 503 ] || fail "a non-probe User-Agent over half the budget got $ua, want 503"
echo "ok   per-client cap: .21 got 2x200 2x503; .22 served in ${ms} ms meanwhile (non-probe UA: 503)"
kill -0 "$TH" || fail "helper died"
# 4. the probe against it: open site accessible, closed port = website down
KEEPON_HOME=$D/home ip netns exec "$W" "$KP_BIN" probe web http://198.19.11.13/ http://198.19.11.13:81/ \
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
    assert tk["client_resolver"] == m["resolver_ip"], (tk["client_resolver"], m["resolver_ip"])  # OONI: sess.ResolverIP()
PY
grep -q "false (accessible)" "$D/probe.txt" || fail "no summary table"
# OONI's formats: the backend's required fields (report id, cc, asn, ...) and fastpath scoring
"$KP_BUILD/tests/webconn/wc_cli" check "$D/out.jsonl" || fail "measurements rejected by the reader / fastpath"
# a clean stop: SIGTERM ends it with 0
kill -TERM "$TH"; wait "$TH"; rc=$?
[ "$rc" = 0 ] || fail "helper exit $rc on SIGTERM"
echo "ok"
