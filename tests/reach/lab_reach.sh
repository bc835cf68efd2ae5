#!/usr/bin/env bash
# lab_reach.sh: `keepon probe reach` names each class of a cut correctly in the lab: open (no
# censorship), full_cut (network_down; also with only the port holes let through, which decide
# nothing), whitelist (network_down --allow two domestic services, the resolver and the holes),
# national_only (--allow the whole domestic block and the resolver); off again: open, and the
# censor holds no rule. Uses data/domestic/lab.tsv (docs/probe.md, docs/lab.md).
NAME=reach
. "$(dirname "$0")/../lab/common.sh"
LIST=${KP_SRC:-.}/data/domestic/lab.tsv
rules() { { ip netns exec "$P-censor" iptables-save; ip netns exec "$P-censor" ip6tables-save; } | grep -c -- '^-A FORWARD' || true; }
# reach: one run; prints "CLASS | worked names"
reach() {
  rm -f "$S/r.jsonl"
  local line
  line=$(cl "$KP_BIN" probe reach --list "$LIST" --resolver 198.19.10.53 --ca-file "$CA" --timeout 3 \
    --probe-cc KZ --access-type fixed --no-outbox -o "$S/r.jsonl" 2>>"$S/err") || { echo "probe failed: $(tail -2 "$S/err")"; return; }
  echo "${line%%:*} |${line#*worked:}"
}

lab up >/dev/null 2>&1 || { echo "lab up failed"; exit 1; }
base=$(rules)

r=$(reach)
expect "no censorship: open" "open" "${r%% |*}"

lab censor network_down on 2>/dev/null
r=$(reach)
expect "network_down: full_cut" "full_cut" "${r%% |*}"
expect "network_down: nothing worked" "full_cut |" "$r"
grep -q '"test_name":"keepon_reach"' "$S/r.jsonl" && ok "measurement written (keepon_reach)" || bad "no keepon_reach measurement"
grep -q '"keepon_access_type":"fixed"' "$S/r.jsonl" && ok "access type annotated" || bad "no keepon_access_type"
lab censor network_down off 2>/dev/null

lab censor network_down on --allow "tcp:179 tcp:3785" 2>/dev/null
r=$(reach)
expect "port holes only: still full_cut" "full_cut" "${r%% |*}"
expect "port holes only: the holes worked" "full_cut | tcp/179 tcp/3785" "$r"
lab censor network_down off 2>/dev/null

lab censor network_down on --allow "198.19.9.1 198.19.9.2 198.19.10.53 tcp:179 tcp:3785 udp:53" 2>/dev/null
r=$(reach)
expect "allow kaspi, egov, resolver: whitelist" "whitelist" "${r%% |*}"
expect "whitelist: what worked" "whitelist | kaspi.kz egov.kz resolver tcp/179 tcp/3785" "$r"
grep -q '"name":"homebank.kz","scope":"domestic","kind":"https","target":"homebank.kz:443","ok":false' "$S/r.jsonl" &&
  ok "whitelist: homebank.kz recorded as failed" || bad "homebank.kz not recorded as failed"
lab censor network_down off 2>/dev/null

lab censor network_down on --allow "198.19.9.0/24 2001:db8:19::/48 198.19.10.53" 2>/dev/null
r=$(reach)
expect "allow the domestic block: national_only" "national_only" "${r%% |*}"
expect "national_only: every domestic entry, no hole" "national_only | kaspi.kz egov.kz homebank.kz kazpost.kz resolver" "$r"
lab censor network_down off 2>/dev/null

r=$(reach)
expect "off again: open" "open" "${r%% |*}"
expect "off again: no rule left" "$base" "$(rules)"
if lab censor network_down on --allow "1.2.3.4;rm" 2>/dev/null; then bad "bad --allow accepted"; else ok "bad --allow refused"; fi
finish
