#!/usr/bin/env bash
# lab_throttle.sh: throttled limits the target's downloads to --rate (measured over 2 s of a
# 1 MB file), each target in its own class at its own rate, leaves other sites at full speed,
# and off restores full speed. (Each measurement uses a fresh class: an aborted download leaves
# ~200 KB queued in its class, which would slow the next one on that class.)
NAME=thr
. "$(dirname "$0")/common.sh"
# speed URL [opts]: bytes per second the client gets within 2 s
speed() { cl curl -s -o /dev/null --max-time 2 --cacert "$CA" -w '%{speed_download}' "$@" || true; }
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { print (v >= lo && v <= hi) ? "yes" : "no:" v }'; }

lab up >/dev/null 2>&1 || { echo "lab up failed"; exit 1; }
lab censor throttled on --target whatsapp --rate 1mbit 2>/dev/null
lab censor throttled on --target signal --rate 2mbit 2>/dev/null
v4=$(speed https://web.whatsapp.com/1mb.bin)
echo "throttled v4: $v4 B/s"
# 1 mbit/s = 125000 B/s on the wire; goodput is ~92-95 % of it (the TLS handshake and a loaded
# machine only lower it, hence the wide lower bound; the upper bound is the limit)
expect "throttled v4 near 1 mbit/s" yes "$(in_range "$v4" 50000 130000)"
fast=$(speed https://example.org/1mb.bin)
echo "unthrottled: $fast B/s"
expect "other site fast (> 1 MB/s)" yes "$(in_range "$fast" 1000000 1e12)"
v6=$(speed https://cdsi.signal.org/1mb.bin -6)
echo "throttled v6 (2mbit): $v6 B/s"
expect "throttled v6 near 2 mbit/s" yes "$(in_range "$v6" 100000 260000)"
lab censor throttled off --target whatsapp 2>/dev/null
expect "off for one target keeps the other" 1 "$(ip netns exec "$P-censor" tc class show dev cen-cl | grep -c '2Mbit')"
lab censor throttled off --target signal 2>/dev/null
after=$(speed https://web.whatsapp.com/1mb.bin)
echo "after off: $after B/s"
expect "off: full speed again" yes "$(in_range "$after" 1000000 1e12)"
expect "off: no qdisc left" 0 "$(ip netns exec "$P-censor" tc qdisc show dev cen-cl | grep -c htb || true)"
finish
