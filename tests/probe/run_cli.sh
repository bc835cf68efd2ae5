#!/usr/bin/env bash
# run_cli.sh: `keepon probe run` (two scheduled runs, both in the outbox), the privacy notice
# when the state folder cannot record it, `probe web` into the outbox, and `keepon analyze`'s
# bad-line accounting and exit codes. Loopback only: every target is 127.0.0.1 on a closed port.
set -euo pipefail
K=${KP_BIN:?KP_BIN must point at the keepon binary}
T=$(mktemp -d /tmp/kpt-proberun.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
cat >"$T/t.json" <<'J'
{"format":"keepon-im-targets/1","control":{"url":"tcpconnect://127.0.0.1:9"},
 "apps":{"signal":{"targets":[{"url":"tcpconnect://127.0.0.1:9","role":"backend"}]}}}
J
export KEEPON_HOME=$T/home
# 1. two runs, 2 s apart (jitter < 0.5 s): both in the outbox, the loop's summary on stderr
t0=$(date +%s.%N)
rc=0
"$K" probe run --every 2s --jitter 0.4s --runs 2 --apps signal --targets "$T/t.json" --resolver 127.0.0.1:9 \
  --timeout 2 --outbox "$T/ob" --no-locate >"$T/run.out" 2>"$T/run.err" || rc=$?  # times the schedule, not the lookup
t1=$(date +%s.%N)
[ "$rc" = 0 ] && ok || { bad "probe run rc=$rc"; cat "$T/run.err"; }
grep -q "2 run(s), 0 with errors" "$T/run.err" && ok || { bad "probe run summary"; cat "$T/run.err"; }
n=$(grep -c '^signal ' "$T/run.out" || true)
[ "$n" = 2 ] && ok || bad "probe run: $n result lines, want 2"
el=$(echo "$t1 - $t0" | bc)
# the lower bound is the schedule (2 s between the runs); the upper one only catches a loop that
# waits a whole extra interval or more: the ASan+UBSan Debug build runs each probe run 3-5x slower
# (the schedule itself is timed exactly with an injected clock in test_probe_schedule)
hi=8; [ "${KP_SANITIZE:-0}" = 1 ] && hi=20
(($(echo "$el >= 2 && $el < $hi" | bc))) && ok || bad "probe run took $el s (want 2 s between the runs, < $hi s in all)"
recs=$("$K" outbox list --outbox "$T/ob" | grep -c signal || true)
[ "$recs" = 2 ] && ok || { bad "outbox has $recs signal records, want 2"; "$K" outbox list --outbox "$T/ob"; }
# privacy notice: shown once when the state folder records it ...
grep -q "privacy notice (shown once)" "$T/run.err" && ok || bad "privacy notice not shown on the first run"
[ "$(grep -c 'privacy notice' "$T/run.err")" = 1 ] && ok || bad "privacy notice shown twice with a writable state folder"
# ... and on every run when it cannot (the state folder is under a regular file)
touch "$T/file"
for i in 1 2; do
  KEEPON_HOME=$T/file/home "$K" probe im --apps signal --targets "$T/t.json" --resolver 127.0.0.1:9 --timeout 2 \
    --no-outbox --output "$T/p$i.jsonl" >/dev/null 2>>"$T/run2.err" || true
done
[ "$(grep -c 'privacy notice (shown every run' "$T/run2.err")" = 2 ] && ok || { bad "privacy notice not shown on every run"; cat "$T/run2.err"; }
# bad options
"$K" probe run --every 1x >/dev/null 2>&1 && bad "--every 1x accepted" || ok
"$K" probe run --every 1h --jitter 2h >/dev/null 2>&1 && bad "--jitter >= --every accepted" || ok
# 2. probe web appends to the outbox too
rc=0
"$K" probe web http://127.0.0.1:9/ --resolver 127.0.0.1:9 --timeout 1 --url-timeout 3 --outbox "$T/obw" \
  --output "$T/web.jsonl" >/dev/null 2>"$T/web.err" || rc=$?
[ -s "$T/web.jsonl" ] && ok || { bad "probe web wrote no output (rc $rc)"; cat "$T/web.err"; }
w=$("$K" outbox list --outbox "$T/obw" | grep -c web_connectivity || true)
[ "$w" = 1 ] && ok || { bad "probe web: $w outbox records, want 1"; "$K" outbox list --outbox "$T/obw"; }
# 3. analyze: good + bad lines, all bad, unreadable
head -n 1 "$T/web.jsonl" >"$T/mix.jsonl"
echo 'not json' >>"$T/mix.jsonl"
echo '{"test_name":"whatsapp"}' >>"$T/mix.jsonl"
rc=0
"$K" analyze "$T/mix.jsonl" >"$T/an.out" 2>"$T/an.err" || rc=$?
[ "$rc" = 0 ] && ok || bad "analyze rc=$rc"
grep -q "1 measurement(s) analyzed, 2 bad line(s) skipped" "$T/an.err" && ok || { bad "analyze summary"; cat "$T/an.err"; }
grep -q "line 2" "$T/an.err" && ok || bad "analyze does not name the first bad line"
[ "$(wc -l <"$T/an.out")" = 1 ] && grep -q '"keepon_verdict"' "$T/an.out" && ok || bad "analyze output"
echo 'junk' >"$T/junk.jsonl"
rc=0; "$K" analyze "$T/junk.jsonl" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] && ok || bad "analyze of junk rc=$rc, want 1"
rc=0; "$K" analyze "$T/none.json" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] && ok || bad "analyze of a missing file rc=$rc, want 2"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
