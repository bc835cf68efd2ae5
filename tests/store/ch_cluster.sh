#!/usr/bin/env bash
# ch_cluster.sh: `keepon serve --store clickhouse://A,B/DB?cluster=kp` over two ClickHouse
# shards (two clickhouse-server processes this script starts from temp folders, free ports,
# a remote_servers cluster it writes). 32 clients upload; shard 2 is killed (-9) mid-burst
# and restarted after the burst. Checks:
#   - while a shard is down the collector refuses (503), it does not acknowledge;
#   - every measurement that got a 200 is stored once (through the Distributed table);
#   - both shards hold data;
#   - clients retrying the whole burst complete, and the retries are deduplicated: every
#     measurement exactly once, across both shards;
#   - fastpath-shaped columns: test_start_time, verdict derived from the raw measurement;
#   - the evidence chain (issue 13 item 5) through serve on the cluster: dedup per (key id,
#     hash), head checkpoints kept and listed, a tail dropped on a shard found by verify.
set -u
. "$(dirname "$0")/ch_lab.sh"
ch_need
BIN=${KP_BIN:?KP_BIN not set}
LOAD=${KP_BUILD:?KP_BUILD not set}/tests/server/kp_serve_load
[ -x "$LOAD" ] || { echo "skip: $LOAD not built"; exit 77; }
fail() { echo "FAIL: $*" >&2; tail -3 "$T/serve.log" >&2 2>/dev/null; exit 1; }
ch_two_shards ch-cluster

ch_serve "$BIN" "$T/serve.log" "$URL" || fail "serve did not start"
grep -q 'schema v7' "$T/serve.log" || fail "schema version not reported: $(cat "$T/serve.log")"

CLIENTS=32 PER=150 TOTAL=$((32 * 150))
"$LOAD" 127.0.0.1:$PORT $CLIENTS $PER cl "$T/run1.log" > "$T/run1.out" &
LG=$!
for _ in $(seq 500); do [ "$(grep -c ' 200$' "$T/run1.log" 2>/dev/null)" -ge 1000 ] && break; sleep 0.02; done
kill -9 "$S2"; wait "$S2" 2>/dev/null; S2=
wait $LG
acked=$(grep -c ' 200$' "$T/run1.log")
refused=$(grep -c ' 503$' "$T/run1.log")
echo "run 1: $(cat "$T/run1.out") acked=$acked refused(503)=$refused of $TOTAL"
[ "$acked" -gt 0 ] && [ "$acked" -lt "$TOTAL" ] || fail "the kill did not land mid-burst (acked $acked)"
[ "$refused" -gt 0 ] || fail "no 503 while a shard was down"
others=$(grep -vc ' \(200\|503\|0\)$' "$T/run1.log")
[ "$others" = 0 ] || fail "$others answers other than 200/503/transport error"

ch_restart "$T/s2" || fail "shard 2 did not restart"
S2=$CH_PID
grep ' 200$' "$T/run1.log" | cut -d' ' -f1 | sort > "$T/acked"
ch_q "$H1" "SELECT input FROM kp.measurements" | sort > "$T/stored"
missing=$(comm -23 "$T/acked" "$T/stored" | wc -l)
[ "$missing" = 0 ] || fail "$missing acknowledged measurements lost"
dups=$(uniq -d "$T/stored" | wc -l)
[ "$dups" = 0 ] || fail "$dups measurements stored twice"
echo "ok   all $acked acknowledged measurements are stored once ($(wc -l < "$T/stored") rows)"

"$LOAD" 127.0.0.1:$PORT $CLIENTS $PER cl "$T/run2.log" > "$T/run2.out"
echo "run 2 (retry all): $(cat "$T/run2.out")"
grep -q "ok=$TOTAL err=0" "$T/run2.out" || fail "retries did not all complete"
rows=$(ch_q "$H1" "SELECT count() FROM kp.measurements")
distinct=$(ch_q "$H1" "SELECT uniqExact(input) FROM kp.measurements")
[ "$rows" = "$TOTAL" ] && [ "$distinct" = "$TOTAL" ] || fail "expected $TOTAL rows once each, got $rows rows / $distinct distinct"
n1=$(ch_q "$H1" "SELECT count() FROM kp.measurements_local")
n2=$(ch_q "$H2" "SELECT count() FROM kp.measurements_local")
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ $((n1 + n2)) = "$TOTAL" ] || fail "shards hold $n1 + $n2"
echo "ok   $TOTAL measurements exactly once: shard 1 holds $n1, shard 2 holds $n2"
bad=$(ch_q "$H1" "SELECT count() FROM kp.measurements WHERE test_start_time = toDateTime(0) OR probe_asn = 0")
[ "$bad" = 0 ] || fail "$bad rows without test_start_time/probe_asn"
echo "ok   fastpath columns derived (test_start_time, probe_asn as UInt32)"

# ---- the evidence chain through the cluster: dedup per (key id, hash) and head checkpoints ----
U=http://127.0.0.1:$PORT
m() { printf '{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"2022-01-05 10:%02d:00","test_keys":{"i":%d}}\n' "$1" "$1"; }
ob() { KEEPON_HOME=$T/$1 "$BIN" "${@:2}"; }
keyid() { ob "$1" outbox list | sed -n 's/.* key \([0-9a-f]*\)$/\1/p'; }
{ m 1; m 2; } > "$T/a.jsonl"
{ m 1; m 3; } > "$T/b.jsonl"
ob A outbox add "$T/a.jsonl" 2>/dev/null && ob B outbox add "$T/b.jsonl" 2>/dev/null || fail "outbox add"
ob A upload --collector "$U" 2> "$T/upA" || fail "upload A: $(cat "$T/upA")"
ob B upload --collector "$U" 2> "$T/upB" || fail "upload B: $(cat "$T/upB")"
! grep -q 'refused the head' "$T/upA" "$T/upB" || fail "head checkpoint refused: $(cat "$T/upA" "$T/upB")"
KA=$(keyid A) KB=$(keyid B)
"$BIN" verify --server "$U" --key-id "$KB" > "$T/v" || fail "verify B's chain: $(cat "$T/v")"
grep -q 'ok: 2 records' "$T/v" || fail "B's chain on the cluster: $(cat "$T/v")"
shared=$(ch_q "$H1" "SELECT count() FROM kp.measurements WHERE probe_cc = 'KZ' AND test_name = 'signal'")
[ "$shared" = 3 ] || fail "A's and B's 4 records should be 3 stored measurements, got $shared"
curl -fsS "$U/api/v1/keepon/heads" > "$T/heads" || fail "GET heads"
[ "$(wc -l < "$T/heads")" = 2 ] && grep -q "\"$KA\"" "$T/heads" && grep -q "\"$KB\"" "$T/heads" ||
  fail "heads listing: $(cat "$T/heads")"
echo "ok   evidence: B's record over A's bytes is in B's chain (3 measurements for 4 records), 2 heads kept"
# drop A's tail on its shard: the kept head names it, so verify finds it
for port in "$H1" "$H2"; do ch_q "$port" "ALTER TABLE kp.chain_local DELETE WHERE key_id = '$KA' AND seq = 2" || fail "delete"; done
for _ in $(seq 100); do
  [ "$(ch_q "$H1" "SELECT count() FROM kp.chain WHERE key_id = '$KA' AND seq = 2")" = 0 ] && break; sleep 0.1
done
if "$BIN" verify --server "$U" --allow-gaps --key-id "$KA" > "$T/v"; then fail "dropped tail not detected: $(cat "$T/v")"; fi
grep -q 'tail was dropped' "$T/v" || fail "tail drop reason: $(cat "$T/v")"
sed 's/"seq":2/"seq":3/' "$T/B/outbox/head" > "$T/forged"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/forged" "$U/api/v1/keepon/head")
[ "$code" = 403 ] || fail "forged head got $code: $(cat "$T/out")"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/A/outbox/head" "$U/api/v1/keepon/head")
[ "$code" = 409 ] || fail "a head over a dropped record got $code: $(cat "$T/out")"
echo "ok   tail dropped on a shard: found from the kept head; a forged head 403, a head over a missing record 409"
kill -TERM "$SRV"; wait "$SRV"; SRV=
