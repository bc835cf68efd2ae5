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
KEEPON_LAB_DIR=$src/lab "$bin" demo kz2022 --days 4-6 --speed "$speed" --out "$tmp/out" --prefix "$P" >"$tmp/demo.log" 2>&1 &
dpid=$!
wait "$dpid" || rc=$?
dpid=
cat "$tmp/demo.log"
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
# mobile and fixed apart: mobile's network went down first, fixed with the cut, the shutdown hit both
grep -q '^ok   access mobile: network down from 2022-01-04T' "$out/check.txt" || fail "mobile not found down on Jan 4"
grep -q '^ok   access fixed: network down from 2022-01-05T' "$out/check.txt" || fail "fixed not found down on Jan 5"
grep -q '^ok   access: mobile went down [0-9]* h before fixed' "$out/check.txt" || fail "mobile not before fixed"
grep -q '^- mobile data: network down from 2022-01-04 ' "$out/report.en.md" &&
  grep -q '^- fixed lines: network down from 2022-01-05 ' "$out/report.en.md" &&
  grep -q '^mobile data went down .* before fixed lines' "$out/report.en.md" || fail "the report's Mobile and fixed section"
grep -q 'мобильный интернет: сети нет с 2022-01-04' "$out/report.ru.md" &&
  grep -q 'мобильді интернет: желі 2022-01-04' "$out/report.kk.md" || fail "the ru/kk Mobile and fixed sections"
# what stayed reachable: the whitelist night (Jan 5 22:00 - Jan 6 10:30) in the report, with the
# domestic services that answered, in the three languages
grep -q 'whitelist (only some domestic services reachable); reachable: .*kaspi\.kz' "$out/report.en.md" ||
  fail "the report's What stayed reachable section lacks the whitelist window"
grep -q 'белый список (доступны лишь некоторые внутренние сервисы).*kaspi\.kz' "$out/report.ru.md" &&
  grep -q 'ақ тізім (тек кейбір ішкі қызметтер қолжетімді).*kaspi\.kz' "$out/report.kk.md" ||
  fail "the ru/kk What stayed reachable sections lack the whitelist window"
[ "$rc" = 0 ] || fail "keepon demo exited $rc"
# nothing went wrong on the way (a refused signal batch, a failed lab action, a failed upload)
! grep -q ' WARN ' "$tmp/demo.log" || fail "the demo warned: $(grep ' WARN ' "$tmp/demo.log" | head -3)"
grep -q 'signal batches (0 failed)' "$tmp/demo.log" || fail "not every signal batch reached serve"
[ -s "$out/report.html" ] && grep -q KZ "$out/report.html" || fail "no report naming KZ"
# the court file of the cut: bundled, verified offline, and refused once one byte of a record changes
b=$(ls "$out"/evidence-KZ-net-*.tar 2>/dev/null | head -1)
[ -n "$b" ] || fail "no evidence bundle of the nationwide cut"
"$bin" verify bundle "$b" >"$tmp/vb.txt" 2>&1 || fail "the demo's bundle does not verify: $(tail -3 "$tmp/vb.txt")"
python3 - "$b" "$tmp/altered.tar" <<'PY' || fail "no signed record in the bundle to alter"
import sys
d = bytearray(open(sys.argv[1], "rb").read())
k = b'probe_cc\\":\\"KZ'  # inside a record line the measurement is an escaped JSON string
i = d.find(k)
if i < 0: sys.exit(1)
d[i + len(k) - 2] = ord("Q")  # KZ -> QZ inside one signed measurement
open(sys.argv[2], "wb").write(d)
PY
if "$bin" verify bundle "$tmp/altered.tar" >"$tmp/vb2.txt" 2>&1; then fail "a bundle with one altered byte verifies"; fi
echo "ok   evidence bundle $(basename "$b"): verifies offline; one altered byte is refused"
for l in en ru kk; do [ -s "$out/report.$l.md" ] && [ -s "$out/report.$l-01.svg" ] || fail "no $l report with its plots"; done
grep -q '^# Отчёт об отключении интернета: Казахстан' "$out/report.ru.md" && grep -q '^# Интернетті өшіру туралы есеп: Қазақстан' "$out/report.kk.md" \
  && grep -q 'UTC+6)' "$out/report.kk.md" || fail "the ru/kk reports lack their title or Almaty time"
left=$(ip netns list | grep -c "^$P" || true)
[ "$left" = 0 ] || fail "$left namespaces of $P left behind"
cat "$out/check.txt"
echo "ok: kz2022 at $speed s/hour matches the injected truth"
