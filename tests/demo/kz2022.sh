#!/usr/bin/env bash
# kz2022.sh (test): `keepon demo kz2022` at a test speed (Jan 4-6, 1 s per simulated hour,
# about 2 min in all) and the match between what it injected and what was detected:
#   - every injected down window is found, both boundaries within one probing round
#     (keepon demo check, tolerance = one watch round in simulated seconds);
#   - the blocked apps are named with their techniques (incl. the throttled one);
#   - BGP stays unchanged while active probing (ping-slash24) drops;
#   - a report is written; no namespace of the run is left behind.
# Skips (77) without root or when a component the demo needs is not built.
set -euo pipefail
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KP_BIN:?KP_BIN not set}
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
for c in lab probe census watch detect report; do
  "$bin" "$c" --help >/dev/null 2>&1 || skip "keepon $c is not built yet"
done
"$bin" bgp visibility --help >/dev/null 2>&1 || skip "keepon bgp visibility is not built yet"
[ -e "$src/lab/bgp" ] || skip "lab/bgp (the BIRD pair) is not built yet"

P=kt$(($$ % 100000))
tmp=$(mktemp -d /tmp/kpt-demo-$$.XXXX)
dpid=
cleanup() {
  if [ -n "$dpid" ]; then kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; fi
  # the demo tears its labs down itself; this is the safety net when it was killed
  KEEPON_LAB_DIR=$src/lab "$bin" lab down --prefix "$P" --state "$tmp/out/lab" >/dev/null 2>&1 || true
  bash "$src/lab/watch/lab.sh" --prefix "${P}w" down >/dev/null 2>&1 || true
  [ -e "$src/lab/bgp/lab.sh" ] && bash "$src/lab/bgp/lab.sh" --prefix "${P}b" down >/dev/null 2>&1 || true
  if [ -n "${KP_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

# the ASan+UBSan Debug build runs every action several times slower: give its replay twice the
# real time per simulated hour so actions land inside one watch round (the check is the same)
default_speed=1
[ "${KP_SANITIZE:-0}" = 1 ] && default_speed=2
speed=${KP_DEMO_SPEED:-$default_speed}
t0=$(date +%s)
rc=0
KEEPON_LAB_DIR=$src/lab "$bin" demo kz2022 --days 4-6 --speed "$speed" --out "$tmp/out" --prefix "$P" &
dpid=$!
wait "$dpid" || rc=$?
dpid=
echo "demo exited $rc after $(($(date +%s) - t0)) s"
out=$tmp/out
fail() { echo "FAIL: $*"; [ -e "$out/check.txt" ] && cat "$out/check.txt"; exit 1; }

[ -s "$out/truth.json" ] || fail "no truth.json"
[ -s "$out/incidents.json" ] || fail "no incidents.json"
[ -s "$out/check.txt" ] || fail "no check output"
# every truth window has its own ok line (the check prints one line per expectation)
nwin=$(grep -o '"start":[0-9]*,"end":[0-9]*,"clipped_start"' "$out/truth.json" | wc -l)
nok=$(grep -c '^ok   outage ' "$out/check.txt" || true)
[ "$nwin" -ge 3 ] || fail "the Jan 4-6 truth should hold 3 down windows, has $nwin"
[ "$nok" = "$nwin" ] || fail "$nok of $nwin down windows found within one round"
for app in whatsapp telegram signal facebook_messenger; do
  grep -q "^ok   $app blocked, named with its technique" "$out/check.txt" || fail "$app not named with its technique"
done
grep -q '^ok   bgp unchanged' "$out/check.txt" || fail "BGP not shown unchanged"
grep -q '^ok   bgp update spike seen' "$out/check.txt" || fail "the BGP update burst was not seen"
grep -q '^ok   active probing dropped' "$out/check.txt" || fail "active probing did not drop"
grep -q '^MATCH' "$out/check.txt" || fail "check reports a mismatch"
[ "$rc" = 0 ] || fail "keepon demo exited $rc"
[ -s "$out/report.html" ] && grep -q KZ "$out/report.html" || fail "no report naming KZ"
for l in en ru kk; do [ -s "$out/report.$l.md" ] && [ -s "$out/report.$l-01.svg" ] || fail "no $l report with its plots"; done
grep -q '^# Отчёт об отключении интернета: Казахстан' "$out/report.ru.md" && grep -q '^# Интернетті өшіру туралы есеп: Қазақстан' "$out/report.kk.md" \
  && grep -q 'UTC+6)' "$out/report.kk.md" || fail "the ru/kk reports lack their title or Almaty time"
left=$(ip netns list | grep -c "^$P" || true)
[ "$left" = 0 ] || fail "$left namespaces of $P left behind"
cat "$out/check.txt"
echo "ok: kz2022 at $speed s/hour matches the injected truth"
