#!/usr/bin/env bash
# lab_block.sh: the packet techniques as the client sees them (curl exit codes as in
# lab-notes): ip_blackhole, tcp_reset, tls_sni_reset, tls_sni_drop, tls_mitm, http_blockpage, network_down;
# other targets unaffected while on, everything back after off, several at once, reset.
NAME=block
. "$(dirname "$0")/common.sh"
censor_rules() { { ip netns exec "$P-censor" iptables-save; ip netns exec "$P-censor" ip6tables-save; } | grep -c -- '^-A' || true; }

lab up >/dev/null 2>&1 || { echo "lab up failed"; exit 1; }

lab censor ip_blackhole on --target signal 2>/dev/null
expect "blackhole: v4 times out" "000 rc=28" "$(curl_rc https://chat.signal.org/)"
expect "blackhole: v6 times out" "000 rc=28" "$(curl_rc https://storage.signal.org/ -6)"
expect "blackhole: other app fine" "200 rc=0" "$(curl_rc https://web.whatsapp.com/)"
lab censor ip_blackhole off --target signal 2>/dev/null
expect "blackhole off" "200 rc=0" "$(curl_rc https://chat.signal.org/)"

lab censor tcp_reset on --target 198.19.13.3 2>/dev/null
expect "tcp_reset: telegram DC refused" "000 rc=7" "$(curl_rc http://198.19.13.3/api -X POST)"
expect "tcp_reset: next DC fine" "200 rc=0" "$(curl_rc http://198.19.13.4/api -X POST)"
lab censor tcp_reset off --target 198.19.13.3 2>/dev/null
expect "tcp_reset off" "200 rc=0" "$(curl_rc http://198.19.13.3/api -X POST)"

lab censor tls_sni_reset on --target whatsapp 2>/dev/null
expect "sni_reset: ClientHello reset" "000 rc=35" "$(curl_rc https://web.whatsapp.com/)"
expect "sni_reset: v6 too" "000 rc=35" "$(curl_rc https://e2.whatsapp.net/ -6)"
expect "sni_reset: same address, no SNI, passes" "200 rc=0" "$(curl_rc https://198.19.12.101/ -k)"
expect "sni_reset: plain HTTP passes" "200 rc=0" "$(curl_rc http://web.whatsapp.com/)"
expect "sni_reset: other SNI passes" "200 rc=0" "$(curl_rc https://web.telegram.org/)"

lab censor tls_sni_drop on --target web.telegram.org 2>/dev/null
expect "sni_drop: handshake times out" "000 rc=28" "$(curl_rc https://web.telegram.org/)"
expect "sni_drop: sni_reset still on" "000 rc=35" "$(curl_rc https://web.whatsapp.com/)"
lab censor tls_sni_reset off --target whatsapp 2>/dev/null
expect "sni_reset off" "200 rc=0" "$(curl_rc https://web.whatsapp.com/)"
expect "sni_drop still on" "000 rc=28" "$(curl_rc https://web.telegram.org/ -6)"
lab censor tls_sni_drop off --target web.telegram.org 2>/dev/null
expect "sni_drop off" "200 rc=0" "$(curl_rc https://web.telegram.org/)"

lab censor tls_mitm on --target signal 2>/dev/null
expect "mitm: certificate fails verification" "000 rc=60" "$(curl_rc https://chat.signal.org/)"
expect "mitm: v6 too" "000 rc=60" "$(curl_rc https://uptime.signal.org/ -6)"
expect "mitm: the censor's CA validates it (right name)" 1 \
  "$(cl curl -s --max-time 2 --cacert "$S/state/pki/mitm/ca.crt" https://sfu.voip.signal.org/ | grep -c 'sfu.voip.signal.org (intercepted')"
expect "mitm: other app untouched" "200 rc=0" "$(curl_rc https://web.telegram.org/)"
expect "mitm: plain HTTP untouched" "200 rc=0" "$(curl_rc http://chat.signal.org/)"
lab censor tls_mitm off --target signal 2>/dev/null
expect "mitm off" "200 rc=0" "$(curl_rc https://chat.signal.org/)"
expect "mitm off: interception server stopped" 0 "$(ls "$S"/state/pid/mitm.pid 2>/dev/null | wc -l)"

lab censor http_blockpage on --target facebook_messenger 2>/dev/null
expect "blockpage: 451 over v4" "451 rc=0" "$(curl_rc http://b-api.facebook.com/)"
expect "blockpage: 451 over v6" "451 rc=0" "$(curl_rc http://stun.fbsbx.com/ -6)"
expect "blockpage: the page names the ministry" 1 "$(cl curl -s --max-time 2 http://b-graph.facebook.com/ | grep -c 'Lab Ministry')"
expect "blockpage: HTTPS unaffected" "200 rc=0" "$(curl_rc https://b-api.facebook.com/)"
expect "blockpage: other site unaffected" "200 rc=0" "$(curl_rc http://example.org/)"
lab censor http_blockpage off --target facebook_messenger 2>/dev/null
expect "blockpage off" "200 rc=0" "$(curl_rc http://b-api.facebook.com/)"

lab censor network_down on 2>/dev/null
expect "shutdown: v4 silent" "000 rc=28" "$(curl_rc https://example.org/)"
expect "shutdown: v6 silent" "000 rc=28" "$(curl_rc https://example.org/ -6)"
expect "shutdown: DNS times out" 9 "$(cl dig +time=1 +tries=1 example.org >/dev/null 2>&1; echo $?)"
lab censor network_down off 2>/dev/null
expect "shutdown off" "200 rc=0" "$(curl_rc https://example.org/ -6)"
expect "all off: no rule left" 0 "$(censor_rules)"

lab censor ip_blackhole on --target telegram 2>/dev/null
lab censor tcp_reset on --target signal 2>/dev/null
lab censor dns_forged on --target whatsapp 2>/dev/null
lab censor ip_blackhole on --target telegram 2>/dev/null
expect "on twice is a no-op" 1 "$(lab censor status | grep -c 'ip_blackhole telegram')"
lab censor reset 2>/dev/null
expect "reset: nothing active" "" "$(lab censor status)"
expect "reset: no rule left" 0 "$(censor_rules)"
expect "reset: true DNS back" 198.19.12.101 "$(dig_a web.whatsapp.com)"
expect "reset: all reachable" "200 200 200" "$(for u in https://chat.signal.org/ https://web.telegram.org/ https://web.whatsapp.com/; do curl_rc "$u" | cut -d' ' -f1; done | tr '\n' ' ' | sed 's/ $//')"
finish
