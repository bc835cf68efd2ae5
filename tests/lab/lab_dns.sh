#!/usr/bin/env bash
# lab_dns.sh: the DNS techniques as the client sees them: dns_forged (A and AAAA, UDP and TCP,
# to the v4 and v6 resolver), dns_nxdomain, dns_injected (two answers, forged first), other
# names unaffected, several at once, and off restoring the true answers.
NAME=dns
. "$(dirname "$0")/common.sh"
answers() { cl python3 "$KP_SRC/tests/lab/dns_answers.py" "$@" | awk '{ print $3 }' | tr '\n' ' ' | sed 's/ $//'; }

lab up >/dev/null 2>&1 || { echo "lab up failed"; exit 1; }
expect "baseline web.whatsapp.com" 198.19.12.101 "$(dig_a web.whatsapp.com)"

lab censor dns_forged on --target whatsapp 2>/dev/null
expect "forged: A" 198.19.66.66 "$(dig_a web.whatsapp.com)"
expect "forged: AAAA over TCP to the v6 resolver" 2001:db8:66::66 "$(dig_a @2001:db8:10::53 +tcp e7.whatsapp.net AAAA)"
expect "forged: any resolver the client asks" 198.19.66.66 "$(dig_a @198.19.10.53 v.whatsapp.net)"
expect "forged: other app untouched" 198.19.14.1 "$(dig_a chat.signal.org)"
expect "forged: control untouched" 198.19.11.13 "$(dig_a example.org)"
expect "forged: curl cannot connect" "000 rc=7" "$(curl_rc https://web.whatsapp.com/)"
expect "forged: curl with the true address works" "200 rc=0" "$(curl_rc https://web.whatsapp.com/ --resolve web.whatsapp.com:443:198.19.12.101)"

lab censor dns_nxdomain on --target chat.signal.org 2>/dev/null
expect "nxdomain: single host" NXDOMAIN "$(dig_a chat.signal.org)"
expect "nxdomain: sibling host untouched" 198.19.14.2 "$(dig_a cdsi.signal.org)"
expect "nxdomain: forged still on" 198.19.66.66 "$(dig_a web.whatsapp.com)"
expect "nxdomain: curl rc 6" "000 rc=6" "$(curl_rc https://chat.signal.org/)"

lab censor dns_forged off --target whatsapp 2>/dev/null
expect "forged off: true answer" 198.19.12.101 "$(dig_a web.whatsapp.com)"
expect "forged off: nxdomain still on" NXDOMAIN "$(dig_a chat.signal.org)"
lab censor dns_nxdomain off --target chat.signal.org 2>/dev/null
expect "nxdomain off: true answer" 198.19.14.1 "$(dig_a chat.signal.org)"
expect "no DNAT left" 0 "$(ip netns exec "$P-censor" iptables-save -t nat | grep -c -- '-A' || true)"

lab censor dns_injected on --target telegram 2>/dev/null
expect "injected: forged first, true second (A)" "198.19.66.66 198.19.13.100" "$(answers 198.19.10.53 web.telegram.org A)"
expect "injected: forged first, true second (AAAA, v6 resolver)" "2001:db8:66::66 2001:db8:13::100" \
  "$(answers 2001:db8:10::53 web.telegram.org AAAA)"
expect "injected: a subdomain too (true answer NXDOMAIN)" "198.19.66.66 -" "$(answers 198.19.10.53 x.web.telegram.org A)"
expect "injected: other names get one true answer" 198.19.11.13 "$(answers 198.19.10.53 example.org A)"
expect "injected: dig takes the first (forged) answer" 198.19.66.66 "$(dig_a web.telegram.org)"
t=$(cl python3 "$KP_SRC/tests/lab/dns_answers.py" 198.19.10.53 web.telegram.org A | awk 'NR == 2 { print ($1 >= 100 && $1 < 900) ? "late" : "early:" $1 }')
expect "injected: the true answer arrives later (>= 100 ms)" late "$t"
lab censor dns_injected off --target telegram 2>/dev/null
expect "injected off: one true answer" 198.19.13.100 "$(answers 198.19.10.53 web.telegram.org A)"
expect "injected off: injector stopped" 0 "$(ls "$S"/state/pid/inject-* 2>/dev/null | wc -l)"
expect "no rule left" 0 "$({ ip netns exec "$P-censor" iptables-save; ip netns exec "$P-censor" ip6tables-save; } | grep -c -- '^-A' || true)"
finish
