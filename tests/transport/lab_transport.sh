#!/usr/bin/env bash
# lab_transport.sh (label lab): uploads from a censored network, as in issue 12 item 5.
#
#   client ns ── censor ns ── servers ns
#   keepon upload            collector.example.net (lab DNS, lab CA): nginx TLS 1.3 front
#                            -> keepon serve on the servers' loopback; public prefix /v1
#                            SOCKS5 proxy (microsocks) at 198.19.11.201:1080
#
# 1. direct upload by name over HTTPS: every record delivered;
# 2. the censor resets the collector's SNI: direct uploads fail, nothing is lost (pending kept);
#    through the SOCKS5 proxy (port 1080, not inspected) the same records are delivered;
# 3. more records while blocked, then the censor lifts the block: delivered directly;
# 4. exactly once: the collector stores each record once; `keepon verify` passes on the probe's
#    outbox and on the collector's export (over HTTPS);
# 5. a capture on the censor (tcpdump in the censor ns, both links, stopped by PID) saw the TLS
#    traffic (the SNI name is in it) but no API path, no "keepon", no probe key, no measurement
#    JSON (country/network).
NAME=transport
. "$(dirname "$0")/../lab/common.sh"
. "$(dirname "$0")/../httpc/tls_front.sh"
for t in microsocks tcpdump; do command -v "$t" >/dev/null || { echo "skip: $t not installed"; exit 77; }; done
SRV= SOCKS= DUMP=
FRONT_PID=
stop_pid() { # PID: TERM it and reap it (never fails: the cleanup must run to its end)
  if [ -n "$1" ]; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup_transport() {
  local rc=$?
  set +e
  stop_pid "$DUMP"; stop_pid "$SOCKS"; front_stop; stop_pid "$SRV"
  "$KP_BIN" lab --prefix "$P" --state "$S/state" down >/dev/null 2>&1 || true
  rm -rf "$S"
  exit "$rc"
}
trap cleanup_transport EXIT

lab up >/dev/null 2>&1 || { echo "lab up failed"; exit 1; }
SV=$P-servers CEN=$P-censor
NAME_C=collector.example.net
PROXY4=198.19.11.201
sv() { ip netns exec "$SV" "$@"; }
export KEEPON_DATA=${KP_SRC:-.}/data

# ---- servers: collector on the servers' loopback, TLS front on the collector's addresses ----
mkdir -p "$S/srv" "$S/front"
KEEPON_HOME=$S/srv ip netns exec "$SV" "$KP_BIN" serve --db "$S/srv/c.db" --listen 127.0.0.1:0 \
  > /dev/null 2> "$S/srv/serve.log" &
SRV=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$S/srv/serve.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$S/srv/serve.log")
[ -n "$PORT" ] || { echo "collector did not start"; exit 1; }
cp "$S/state/pki/$NAME_C.crt" "$S/front/front.crt"
cp "$S/state/pki/leaf.key" "$S/front/front.key"
front_conf "$S/front" "198.19.11.80:443" "127.0.0.1:$PORT" /v1
sed -i 's|    listen 198.19.11.80:443 ssl;|    listen 198.19.11.80:443 ssl; listen [2001:db8:11::80]:443 ssl;|' "$S/front/front.conf"
front_start "$S/front" "$SV"
sv ip addr add "$PROXY4/32" dev lo
ip netns exec "$SV" microsocks -i "$PROXY4" -p 1080 > "$S/socks.log" 2>&1 &
SOCKS=$!
for _ in $(seq 50); do
  cl bash -c "exec 3<>/dev/tcp/198.19.11.80/443" 2>/dev/null && cl bash -c "exec 3<>/dev/tcp/$PROXY4/1080" 2>/dev/null && break
  sleep 0.1
done

# ---- the capture on the censor: both links, everything ----
ip netns exec "$CEN" tcpdump -i any -U -s 0 -w "$S/censor.pcap" not arp > "$S/tcpdump.log" 2>&1 &
DUMP=$!
for _ in $(seq 50); do grep -q listening "$S/tcpdump.log" 2>/dev/null && break; sleep 0.1; done

# ---- the probe ----
export KEEPON_HOME=$S/probe
mk() { # FILE FROM COUNT: measurements with distinct inputs
  python3 - "$1" "$2" "$3" <<'PY'
import sys
f, a, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(f, "w") as o:
    for i in range(a, a + n):
        o.write('{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"web_connectivity","measurement_start_time":"2022-01-05 10:00:00","report_id":"r","input":"https://site%d.kz/","test_keys":{"blocking":"dns","accessible":false}}\n' % i)
PY
}
up() { cl env KEEPON_HOME="$KEEPON_HOME" KEEPON_DATA="$KEEPON_DATA" "$KP_BIN" upload \
  --collector "https://$NAME_C" --path-prefix /v1 --ca-file "$CA" --timeout-ms 3000 "$@"; }

mk "$S/a.jsonl" 0 120
"$KP_BIN" outbox add "$S/a.jsonl" 2>/dev/null
up 2> "$S/up1.log" && grep -q "120 delivered (0 already there), 0 refused, 0 pending, 1 attempts" "$S/up1.log" &&
  ok "direct HTTPS upload by name: 120 records in one batch" || bad "direct upload: $(cat "$S/up1.log")"

lab censor tls_sni_reset on --target collector 2>/dev/null
code=$(curl_rc "https://$NAME_C/api/v1/health")
case $code in *rc=35*|*rc=56*|*rc=7*) ok "the censor resets TLS to $NAME_C ($code)";; *) bad "SNI reset not in force: $code";; esac
mk "$S/b.jsonl" 120 80
"$KP_BIN" outbox add "$S/b.jsonl" 2>/dev/null
if up --max-attempts 2 --base-delay-ms 50 2> "$S/up2.log"; then bad "upload through the SNI reset succeeded"; fi
grep -q "0 delivered (0 already there), 0 refused, 80 pending" "$S/up2.log" &&
  ok "blocked: nothing delivered, all 80 kept" || bad "blocked upload: $(cat "$S/up2.log")"
"$KP_BIN" verify "$KEEPON_HOME/outbox" > "$S/v0.out" && ok "outbox intact while blocked" || bad "outbox: $(cat "$S/v0.out")"

up --proxy "socks5://$PROXY4:1080" 2> "$S/up3.log" &&
  grep -q "80 delivered (0 already there), 0 refused, 0 pending" "$S/up3.log" &&
  ok "through the SOCKS5 proxy while blocked: 80 delivered" || bad "proxy upload: $(cat "$S/up3.log")"
grep -Eq "connected to (198.19.11.80|2001:db8:11::80):443" "$S/socks.log" && ok "the proxy carried the tunnel" || bad "proxy log: $(cat "$S/socks.log")"

mk "$S/c.jsonl" 200 50
"$KP_BIN" outbox add "$S/c.jsonl" 2>/dev/null
if up --max-attempts 1 2> "$S/up4.log"; then bad "upload through the SNI reset succeeded"; fi
lab censor tls_sni_reset off --target collector 2>/dev/null
up 2> "$S/up5.log" && grep -q "50 delivered (0 already there), 0 refused, 0 pending" "$S/up5.log" &&
  ok "after unblocking: the 50 held back are delivered directly" || bad "after unblocking: $(cat "$S/up5.log")"

# ---- exactly once, verified on both sides ----
n=$(cl curl -s --cacert "$CA" "https://$NAME_C/api/v1/measurements?probe_cc=KZ&limit=1" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
expect "the collector stores each record once" 250 "$n"
"$KP_BIN" verify "$KEEPON_HOME/outbox" > "$S/v1.out" && grep -q "ok: 250 records" "$S/v1.out" &&
  ok "keepon verify: probe outbox" || bad "probe verify: $(cat "$S/v1.out")"
cl env KEEPON_HOME="$KEEPON_HOME" "$KP_BIN" verify --server "https://$NAME_C" --ca-file "$CA" > "$S/v2.out" &&
  grep -q "ok: 250 records" "$S/v2.out" && ok "keepon verify --server over HTTPS: collector" || bad "server verify: $(cat "$S/v2.out")"

# ---- what the censor saw ----
stop_pid "$DUMP"
DUMP=
sz=$(stat -c %s "$S/censor.pcap")
[ "$sz" -gt 100000 ] && ok "the censor captured the uploads ($sz bytes)" || bad "capture too small: $sz"
grep -qa "$NAME_C" "$S/censor.pcap" && ok "the capture shows the SNI (it saw the TLS handshakes)" || bad "no SNI in the capture"
key_b64=$(sed -n '1s/.*"pubkey":"\([^"]*\)".*/\1/p' "$KEEPON_HOME/outbox/chain.log")
key_id=$(sed -n '1s/.*"key_id":"\([^"]*\)".*/\1/p' "$KEEPON_HOME/outbox/chain.log")
[ -n "$key_b64" ] && [ -n "$key_id" ] || bad "no key in the outbox"
for s in /v1/ /api/v1 keepon Keepon KEEPON "$key_b64" "$key_id" '"probe_cc"' 'AS9198' 'site12.kz' 'web_connectivity'; do
  if grep -qaF -- "$s" "$S/censor.pcap"; then bad "the censor's capture contains '$s'"; else ok "not on the wire: $s"; fi
done
finish
