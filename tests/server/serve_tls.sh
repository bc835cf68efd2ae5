#!/usr/bin/env bash
# serve_tls.sh: HTTPS in `keepon serve` itself and behind nginx (issue 12 item 2). On loopback,
# every process started here and stopped by PID (also on failure):
#  - --tls-cert/--tls-key: curl with the test CA gets 200 on GET and on an OONI upload; plain
#    HTTP to the TLS port gets no HTTP answer; a TLS connection carries keep-alive requests;
#  - SIGHUP swaps in a new certificate without dropping the listener (same PID, same port, a
#    connection opened before the reload still answers) and a broken certificate on reload
#    leaves the previous one serving;
#  - nginx terminating TLS in front of a plain `keepon serve` (docs/serve.md's configuration):
#    an OONI report opened and a measurement submitted through it are stored.
set -u
BIN=${KP_BIN:?KP_BIN not set}
T=$(mktemp -d /tmp/kpt-serve-tls-XXXXXX)
chmod 755 "$T"
SRV= NGX= SRV2=
cleanup() {
  for p in $SRV $NGX $SRV2; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done; exit 1; }
ok() { echo "ok   $*"; }
command -v openssl >/dev/null || { echo "skip: openssl absent"; exit 77; }
export KEEPON_HOME=$T/home KEEPON_DATA=${KP_SRC:-.}/data

# a test CA and two server certificates for localhost / 127.0.0.1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kpt-ca \
  -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null || fail "CA"
mkcert() { # NAME CN
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null &&
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$T/ext" &&
  openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 -extfile "$T/ext" \
    -out "$T/$1.pem" 2>/dev/null || fail "cert $1"
}
mkcert one kpt-one
mkcert two kpt-two
cp "$T/one.pem" "$T/cert.pem"; cp "$T/one.key" "$T/key.pem"

"$BIN" serve --db "$T/c.db" --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
[ -n "$PORT" ] || fail "TLS server did not start"
U=https://localhost:$PORT
C=(curl -s -m 10 --cacert "$T/ca.pem")
[ "$("${C[@]}" -o "$T/out" -w '%{http_code}' "$U/api/v1/health")" = 200 ] || fail "GET over TLS"
printf '{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"web_connectivity","software_name":"t","software_version":"1","format":"json"}' > "$T/open"
[ "$("${C[@]}" -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/open" "$U/report")" = 200 ] || fail "OONI open over TLS"
# two requests on one TLS connection (curl reuses it within one invocation)
n=$("${C[@]}" -v "$U/api/v1/health" "$U/api/v1/health" 2>&1 | grep -c 'Re-using existing connection')
[ "$n" -ge 1 ] || fail "TLS keep-alive not reused"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/health")
[ "$code" = 000 ] || fail "plain HTTP on the TLS port answered $code"
ok "HTTPS: GET and OONI open 200, keep-alive over TLS, plain HTTP gets no answer"

subject() { echo | openssl s_client -connect "127.0.0.1:$PORT" -servername localhost 2>/dev/null | sed -n 's/^subject=.*CN *= *\(.*\)$/\1/p'; }
[ "$(subject)" = kpt-one ] || fail "first certificate: $(subject)"
# a connection opened before the reload, kept alive across it
python3 - "$PORT" "$T/ca.pem" > "$T/held.out" 2>&1 <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
def get():
    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    d = b""
    while not d.endswith(b'{"status":"ok"}\n'):
        d += s.recv(4096)
    return d.split(b" ")[1]
print("before", get().decode(), flush=True)
time.sleep(2)
print("after", get().decode(), flush=True)
PY
HELD=$!
sleep 0.7
cp "$T/two.pem" "$T/cert.pem"; cp "$T/two.key" "$T/key.pem"
kill -HUP "$SRV"; sleep 0.5
kill -0 "$SRV" 2>/dev/null || fail "SIGHUP stopped the server"
[ "$(subject)" = kpt-two ] || fail "after SIGHUP: $(subject)"
wait "$HELD"
grep -q '^after 200' "$T/held.out" || fail "connection held across the reload: $(cat "$T/held.out")"
printf 'not a certificate\n' > "$T/cert.pem"
kill -HUP "$SRV"; sleep 0.5
[ "$(subject)" = kpt-two ] || fail "a broken certificate replaced the good one"
grep -q 'TLS reload failed' "$T/serve.log" || fail "failed reload not logged"
ok "SIGHUP: new certificate served, same listener, held connection still answered; a broken file keeps the old one"

# ---- nginx in front (docs/serve.md) ----
if ! command -v nginx >/dev/null; then echo "skip nginx part: nginx absent"; echo PASS; exit 0; fi
"$BIN" serve --db "$T/n.db" --listen 127.0.0.1:0 --max-conns-per-addr 512 2> "$T/plain.log" &
SRV2=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$T/plain.log" 2>/dev/null && break; sleep 0.1; done
BPORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/plain.log")
[ -n "$BPORT" ] || fail "backend did not start"
NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/ngx"
sed -e "s|@T@|$T|g" -e "s|@NPORT@|$NPORT|g" -e "s|@BPORT@|$BPORT|g" "${KP_SRC:-.}/docs/nginx-keepon.conf" > "$T/nginx.conf"
cp "$T/two.pem" "$T/cert.pem"
nginx -p "$T/ngx" -c "$T/nginx.conf" -e "$T/nginx.log" 2> "$T/nginx.log" &
NGX=$!
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$T/ca.pem" "https://localhost:$NPORT/api/v1/health" && break; sleep 0.1; done
V=https://localhost:$NPORT
[ "$("${C[@]}" -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/open" "$V/report")" = 200 ] || fail "open through nginx: $(cat "$T/out")"
RID=$(sed -n 's/.*"report_id":"\([^"]*\)".*/\1/p' "$T/out")
printf '{"format":"json","content":{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"web_connectivity","input":"https://a.example/","measurement_start_time":"2022-01-05 10:00:00","test_keys":{}}}' > "$T/m"
[ "$("${C[@]}" -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/m" "$V/report/$RID")" = 200 ] || fail "submit through nginx: $(cat "$T/out")"
grep -q measurement_uid "$T/out" || fail "no uid through nginx"
[ "$(curl -s "http://127.0.0.1:$BPORT/api/v1/measurements" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')" = 1 ] || fail "not stored behind nginx"
ok "nginx TLS front: OONI open + submit through https://localhost:$NPORT stored by the plain backend"
echo PASS
