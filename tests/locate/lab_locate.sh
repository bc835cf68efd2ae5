#!/usr/bin/env bash
# lab_locate.sh: the probe knows where it is with no --probe-cc/--probe-asn (docs/probe.md,
# "Where the probe is"). In the lab's servers namespace this test starts
#   - Debian's coturn as a STUN-only server (no TURN relay, no auth) on 198.19.10.53:3478/udp;
#   - a second dnsmasq on 198.19.10.54 that answers the whoami name with its own address and
#     forwards everything else to the lab resolver (what a recursive resolver + whoami authority do);
# both stopped by PID. A geo table maps the client's outside address (as the STUN server sees it)
# to KZ / AS9198 and the resolver's to NL / AS64512. Then `keepon probe im --apps signal` must
# record KZ / AS9198 / the network name, resolver_ip/asn from whoami, probe_ip 127.0.0.1, and
# the client's real address must appear nowhere in the output, the outbox or the terminal.
NAME=locate
. "$(dirname "$0")/../lab/common.sh"
command -v turnserver >/dev/null || { echo "skip: coturn (turnserver) not installed"; exit 77; }
. "$KP_SRC/lab/hosts.sh"
CLIENT=$LAB_CL4 # the censor routes, it does not NAT: the STUN server sees the client's own address
STUN_IP=198.19.10.53 WHO_IP=198.19.10.54 WHO=whoami.lab.example
pids=()
stop_all() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$KP_BIN" lab --prefix "$P" --state "$S/state" down >/dev/null 2>&1 || true
  rm -rf "$S"
  exit "$rc"
}
trap stop_all EXIT

lab up >/dev/null 2>&1 || { echo "lab up failed"; exit 1; }
sv() { ip netns exec "$P-servers" "$@"; }

: >"$S/turn.conf"
# started directly (not through the sv function, which would fork a subshell): $! is the
# server itself, since `ip netns exec` execs it
ip netns exec "$P-servers" turnserver -c "$S/turn.conf" --userdb "$S/turndb" --stun-only --no-auth --no-cli --no-tls --no-dtls \
  --listening-ip "$STUN_IP" --listening-port 3478 --pidfile "$S/turn.pid" \
  --log-file "$S/turn.log" --simple-log --no-stdout-log >/dev/null 2>&1 &
pids+=($!)
ip -n "$P-servers" addr add "$WHO_IP/32" dev lo
ip netns exec "$P-servers" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address="$WHO_IP" \
  --bind-interfaces --user=root --group=root --pid-file="$S/who.pid" --log-facility="$S/who.log" \
  --server="$LAB_RESOLVER4" --host-record="$WHO,$WHO_IP" &
pids+=($!)
for _ in $(seq 50); do
  sv ss -lun | grep "$STUN_IP:3478" >/dev/null && sv ss -lun | grep "$WHO_IP:53" >/dev/null && break
  sleep 0.1
done

expect "coturn's pid file names the process we stop" "${pids[0]}" "$(cat "$S/turn.pid" 2>/dev/null)"
expect "dnsmasq's pid file names the process we stop" "${pids[1]}" "$(cat "$S/who.pid" 2>/dev/null)"
cat >"$S/geo.csv" <<GEO
prefix,cc,region,asn,as_name
$CLIENT/32,KZ,,9198,JSC Kazakhtelecom
$WHO_IP/32,NL,,64512,Lab Resolver Net
GEO
LOC=(--stun "$STUN_IP:3478" --ip-lookup none --whoami "$WHO" --geo "$S/geo.csv")
mkdir -p "$S/home"
export KEEPON_HOME=$S/home

# 1. keepon locate: what it prints, the address only when asked
cl "$KP_BIN" locate "${LOC[@]}" --resolver "$WHO_IP" >"$S/locate.txt" 2>&1 || bad "locate exited $?"
expect "locate: cc" KZ "$(sed -n 's/^probe_cc: //p' "$S/locate.txt")"
expect "locate: asn" AS9198 "$(sed -n 's/^probe_asn: //p' "$S/locate.txt")"
expect "locate: resolver_ip (whoami)" "$WHO_IP" "$(sed -n 's/^resolver_ip: //p' "$S/locate.txt")"
expect "locate: resolver_asn" AS64512 "$(sed -n 's/^resolver_asn: //p' "$S/locate.txt")"
expect "locate: no address without --with-probe-ip" 0 "$(grep -c "$CLIENT" "$S/locate.txt" || true)"
cl "$KP_BIN" locate "${LOC[@]}" --resolver "$WHO_IP" --with-probe-ip >"$S/locate-ip.txt" 2>&1 || true
expect "locate --with-probe-ip: STUN saw the client" "$CLIENT" "$(sed -n 's/^probe_ip: //p' "$S/locate-ip.txt")"

# 2. probe im with no --probe-cc/--probe-asn
cl "$KP_BIN" probe im --targets "$KP_SRC/data/targets/lab-im.json" --resolver "$WHO_IP" --ca-file "$CA" \
  --apps signal --timeout 8 --output "$S/im.jsonl" --outbox "$S/outbox" "${LOC[@]}" \
  >"$S/im.txt" 2>&1 || bad "probe im exited $?"
f=$S/im.jsonl
expect "im: one measurement" 1 "$(wc -l <"$f" 2>/dev/null || echo 0)"
expect "im: probe_cc" 1 "$(grep -c '"probe_cc":"KZ"' "$f" || true)"
expect "im: probe_asn" 1 "$(grep -c '"probe_asn":"AS9198"' "$f" || true)"
expect "im: probe_network_name" 1 "$(grep -c '"probe_network_name":"JSC Kazakhtelecom"' "$f" || true)"
expect "im: probe_ip stays 127.0.0.1" 1 "$(grep -c '"probe_ip":"127.0.0.1"' "$f" || true)"
expect "im: resolver_ip from whoami" 1 "$(grep -c "\"resolver_ip\":\"$WHO_IP\"" "$f" || true)"
expect "im: resolver_asn" 1 "$(grep -c '"resolver_asn":"AS64512"' "$f" || true)"
expect "im: report_id names the network" 1 "$(grep -cE '"report_id":"[0-9]{8}T[0-9]{6}Z_[a-z_]+_KZ_9198_' "$f" || true)"
[ -d "$S/outbox" ] && [ -n "$(ls -A "$S/outbox")" ] && ok "im: outbox written" || bad "im: outbox empty"
leaks=$( (grep -rlaF "$CLIENT" "$f" "$S/outbox" "$S/im.txt" "$S/home" 2>/dev/null || true) | tr "\n" " ")
expect "im: the client's address appears nowhere (output, outbox, terminal, state)" "" "$leaks"
expect "coturn answered the binding requests" 1 "$([ -s "$S/turn.log" ] && echo 1 || echo 0)"

# 3. the flags still win
cl "$KP_BIN" probe im --targets "$KP_SRC/data/targets/lab-im.json" --resolver "$WHO_IP" --ca-file "$CA" \
  --apps signal --timeout 8 --output "$S/im2.jsonl" --no-outbox --probe-cc DE --probe-asn AS3320 "${LOC[@]}" \
  >/dev/null 2>&1 || bad "probe im (flags) exited $?"
expect "override: probe_cc" 1 "$(grep -c '"probe_cc":"DE"' "$S/im2.jsonl" || true)"
expect "override: probe_asn" 1 "$(grep -c '"probe_asn":"AS3320"' "$S/im2.jsonl" || true)"

# 4. STUN server gone: nothing found, ZZ / AS0 (a failure is a result, not a crash)
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
cl "$KP_BIN" probe im --targets "$KP_SRC/data/targets/lab-im.json" --resolver "$WHO_IP" --ca-file "$CA" \
  --apps signal --timeout 8 --output "$S/im3.jsonl" --no-outbox "${LOC[@]}" >"$S/im3.err" 2>&1 || bad "probe im (no stun) exited $?"
sv ss -lunp | grep ":3478 " >/dev/null && bad "coturn still listening after kill"
grep -q '"probe_cc":"ZZ"' "$S/im3.jsonl" || { grep -o '"probe_cc":"[A-Z]*"' "$S/im3.jsonl"; cat "$S/im3.err" 2>/dev/null | tail -5; }
expect "no STUN: probe_cc ZZ" 1 "$(grep -c '"probe_cc":"ZZ"' "$S/im3.jsonl" || true)"
expect "no STUN: probe_asn AS0" 1 "$(grep -c '"probe_asn":"AS0"' "$S/im3.jsonl" || true)"

# 5. STUN gone, the HTTPS IP-lookup fallback: an nginx in the servers namespace answers a
# Cloudflare-style trace (ip=ADDR) for collector.example.net (lab DNS, lab CA), by name over TLS
LOOKUP=https://collector.example.net/cdn-cgi/trace
mkdir -p "$S/look/tmp"
cat >"$S/look/nginx.conf" <<CONF
daemon off; master_process off; pid $S/look/nginx.pid; error_log $S/look/error.log;
events { worker_connections 64; }
http {
  access_log $S/look/access.log; client_body_temp_path $S/look/tmp; proxy_temp_path $S/look/tmp;
  fastcgi_temp_path $S/look/tmp; uwsgi_temp_path $S/look/tmp; scgi_temp_path $S/look/tmp;
  server {
    listen 198.19.11.80:443 ssl; server_name _; server_tokens off;
    ssl_certificate $S/state/pki/collector.example.net.crt; ssl_certificate_key $S/state/pki/leaf.key;
    location = /cdn-cgi/trace { default_type text/plain; return 200 "fl=1\\nh=collector.example.net\\nip=\$remote_addr\\nts=1\\n"; }
  }
}
CONF
ip netns exec "$P-servers" nginx -e "$S/look/error.log" -p "$S/look" -c "$S/look/nginx.conf" </dev/null >"$S/look/out.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do cl bash -c "exec 3<>/dev/tcp/198.19.11.80/443" 2>/dev/null && break; sleep 0.1; done
HL=(--stun "$STUN_IP:3478" --ip-lookup "$LOOKUP" --ip-lookup-ca "$CA" --whoami "$WHO" --geo "$S/geo.csv")
cl "$KP_BIN" locate "${HL[@]}" --resolver "$WHO_IP" >"$S/locate-https.txt" 2>&1 || bad "locate (https) exited $?"
expect "https lookup: found by the fallback" "https $LOOKUP" "$(sed -n 's/^found_by: //p' "$S/locate-https.txt")"
expect "https lookup: cc" KZ "$(sed -n 's/^probe_cc: //p' "$S/locate-https.txt")"
expect "https lookup: asn" AS9198 "$(sed -n 's/^probe_asn: //p' "$S/locate-https.txt")"
cl "$KP_BIN" probe im --targets "$KP_SRC/data/targets/lab-im.json" --resolver "$WHO_IP" --ca-file "$CA" \
  --apps signal --timeout 8 --output "$S/im4.jsonl" --no-outbox "${HL[@]}" >"$S/im4.txt" 2>&1 || bad "probe im (https lookup) exited $?"
expect "https lookup: probe_cc in the measurement" 1 "$(grep -c '"probe_cc":"KZ"' "$S/im4.jsonl" || true)"
expect "https lookup: probe_asn in the measurement" 1 "$(grep -c '"probe_asn":"AS9198"' "$S/im4.jsonl" || true)"
grep -q ' "GET /cdn-cgi/trace HTTP/1.1" 200 ' "$S/look/access.log" && ok "the lookup server answered over HTTPS" ||
  bad "lookup server log: $(tail -2 "$S/look/access.log" 2>/dev/null)"
expect "https lookup: no keepon in the User-Agent" 0 "$(grep -ci keepon "$S/look/access.log" || true)"
leaks=$( (grep -rlaF "$CLIENT" "$S/im4.jsonl" "$S/im4.txt" "$S/locate-https.txt" 2>/dev/null || true) | tr "\n" " ")
expect "https lookup: the client's address appears nowhere" "" "$leaks"
cl "$KP_BIN" locate --stun none --ip-lookup "$LOOKUP" --whoami "" --geo "$S/geo.csv" >"$S/locate-noca.txt" 2>&1 || true
expect "https lookup: the lab CA is not trusted without --ip-lookup-ca" "(nothing answered)" \
  "$(sed -n 's/^found_by: //p' "$S/locate-noca.txt")"
finish
