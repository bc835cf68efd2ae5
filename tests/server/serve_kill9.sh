#!/usr/bin/env bash
# serve_kill9.sh: kill -9 of `keepon serve` in the middle of a burst of uploads from 32
# concurrent clients (loopback). After a restart: every measurement that got a 2xx is stored,
# none twice; clients retrying everything complete (the retries of stored ones are deduplicated).
set -u
BIN=${KP_BIN:?KP_BIN not set}
LOAD=${KP_BUILD:?KP_BUILD not set}/tests/server/kp_serve_load
[ -x "$LOAD" ] || { echo "skip: $LOAD not built"; exit 77; }
command -v sqlite3 > /dev/null || { echo "skip: sqlite3 CLI absent"; exit 77; }
T=$(mktemp -d /tmp/kpt-serve-kill9-XXXXXX)
SRV=
cleanup() {
  [ -n "$SRV" ] && kill -9 "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export KEEPON_DATA=${KP_SRC:-.}/data

start() {
  : > "$T/serve.log"
  "$BIN" serve --db "$T/c.db" --listen 127.0.0.1:0 2> "$T/serve.log" &
  SRV=$!
  for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
  PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
  [ -n "$PORT" ] || fail "server did not start"
}

CLIENTS=32 PER=400 TOTAL=$((32 * 400))
start
"$LOAD" 127.0.0.1:$PORT $CLIENTS $PER k9 "$T/run1.log" > "$T/run1.out" &
LG=$!
# kill once a good part of the burst is acknowledged
for _ in $(seq 200); do [ "$(grep -c ' 200$' "$T/run1.log" 2>/dev/null)" -ge 1500 ] && break; sleep 0.02; done
kill -9 "$SRV"; wait "$SRV" 2>/dev/null; SRV=
wait $LG
acked=$(grep -c ' 200$' "$T/run1.log")
echo "run 1: $(cat "$T/run1.out") acked=$acked of $TOTAL"
[ "$acked" -gt 0 ] && [ "$acked" -lt "$TOTAL" ] || fail "the kill did not land mid-burst (acked $acked)"

start
grep ' 200$' "$T/run1.log" | cut -d' ' -f1 | sort > "$T/acked"
sqlite3 "$T/c.db" "SELECT input FROM measurements" | sort > "$T/stored"
missing=$(comm -23 "$T/acked" "$T/stored" | wc -l)
[ "$missing" = 0 ] || fail "$missing acknowledged measurements lost after kill -9"
dups=$(sqlite3 "$T/c.db" "SELECT COUNT(*) FROM (SELECT input FROM measurements GROUP BY input HAVING COUNT(*) > 1)")
[ "$dups" = 0 ] || fail "$dups measurements stored twice"
echo "ok   after restart all $acked acknowledged measurements are stored once ($(wc -l < "$T/stored") rows)"

# clients retry the whole burst: everything completes, nothing doubles
"$LOAD" 127.0.0.1:$PORT $CLIENTS $PER k9 "$T/run2.log" > "$T/run2.out"
echo "run 2: $(cat "$T/run2.out")"
grep -q "ok=$TOTAL err=0" "$T/run2.out" || fail "retries did not all complete"
rows=$(sqlite3 "$T/c.db" "SELECT COUNT(*) FROM measurements")
distinct=$(sqlite3 "$T/c.db" "SELECT COUNT(DISTINCT input) FROM measurements")
[ "$rows" = "$TOTAL" ] && [ "$distinct" = "$TOTAL" ] || fail "expected $TOTAL rows once each, got $rows rows / $distinct distinct"
echo "ok   retries complete: $TOTAL measurements, each exactly once"
kill -TERM "$SRV"; wait "$SRV"; SRV=
