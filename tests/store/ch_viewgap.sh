#!/usr/bin/env bash
# ch_viewgap.sh: a measurement stored on a shard without its msm_key row is still deduplicated.
#
# On a cluster the INSERT into the Distributed measurements table can fail after a shard
# committed its measurements_local part but before the materialized view wrote msm_key_local
# (shard killed in between: store_clickhouse_cluster once stored 4 of 4,800 twice this way).
# Made deterministic here: shard 2's msm_key_local is swapped for a table the view cannot
# write into (measurement_uid UInt64), so every row that lands on shard 2 lands in
# measurements only. Checks:
#   - while the view is broken, no measurement is stored twice by the collector's own
#     retries (put_batch looks failed rows up in measurements too), and nothing is lost:
#     a 200 means the row is stored;
#   - run 1 with the entry node's msm_suspect renamed away, so the suspects stay pending in the
#     collector, written by its next batch (the burst re-sent, still nothing twice);
#   - the collector then restarts twice before the retry: with the view still broken (the
#     suspects it inherits in msm_suspect cannot be repaired: kept), and after msm_key_local is
#     restored (the open looks them up in measurements, rewrites their msm_key rows and empties
#     msm_suspect). Without msm_suspect the second process stored shard 2's rows twice;
#   - the whole burst re-sent is answered 200, each row once
#     (count() == uniqExact(content_hash) == the burst), and msm_key has a row for every
#     measurement again.
# Then migrations 5 and 6 on the same cluster: both shards are put back to schema 4 (the dedup
# index as v1 made it, msm_hash with the default index granularity, filled from measurements),
# serve is restarted, and must report schema v7 with msm_key (ordered by h64, granularity 1024,
# every h64 the prefix of its hash) holding every hash, msm_hash and msm_dedup gone, and the
# burst re-sent answered 200 without a row stored twice.
set -u
. "$(dirname "$0")/ch_lab.sh"
ch_need
BIN=${KP_BIN:?KP_BIN not set}
LOAD=${KP_BUILD:?KP_BUILD not set}/tests/server/kp_serve_load
[ -x "$LOAD" ] || { echo "skip: $LOAD not built"; exit 77; }
fail() { echo "FAIL: $*" >&2; tail -5 "$T/serve.log" >&2 2>/dev/null; exit 1; }
ch_two_shards ch-viewgap
ch_serve "$BIN" "$T/serve.log" "$URL" || fail "serve did not start"

# break shard 2's view target
ch_q "$H2" "RENAME TABLE kp.msm_key_local TO kp.msm_key_keep" || fail "rename"
ch_q "$H2" "CREATE TABLE kp.msm_key_local (h64 UInt64, content_hash String, measurement_uid UInt64) ENGINE = MergeTree ORDER BY content_hash" || fail "create"
# and the entry node's msm_suspect too, for run 1: the suspects wait in the collector
ch_q "$H1" "RENAME TABLE kp.msm_suspect TO kp.msm_suspect_keep" || fail "rename msm_suspect"
N=60
"$LOAD" 127.0.0.1:$PORT 1 $N vg "$T/run1.log" > "$T/run1.out" || fail "load 1: $(cat "$T/run1.out")"
ch_q "$H1" "RENAME TABLE kp.msm_suspect_keep TO kp.msm_suspect" || fail "restore msm_suspect"
ok1=$(grep -c ' 200$' "$T/run1.log")
on2=$(ch_q "$H2" "SELECT count() FROM kp.measurements_local")
echo "run 1 (view broken on shard 2): $(cat "$T/run1.out"); 200s=$ok1; rows on shard 2: $on2"
[ "$on2" -gt 0 ] || fail "no row reached shard 2: the test shows nothing"
rows=$(ch_q "$H1" "SELECT count(), uniqExact(content_hash) FROM kp.measurements")
read -r cnt uniq <<<"$rows"
[ "$cnt" = "$uniq" ] || fail "the collector's own retries stored rows twice: $cnt rows, $uniq distinct"
acked_missing=$(grep ' 200$' "$T/run1.log" | cut -d' ' -f1 | sort -u > "$T/acked"; \
  ch_q "$H1" "SELECT visitParamExtractString(raw, 'input') FROM kp.measurements" | sort -u | comm -23 "$T/acked" - | wc -l)
[ "$acked_missing" = 0 ] || fail "$acked_missing acknowledged measurements are not stored"

# the burst again, the view still broken: the same process stores nothing twice (its set), and
# its first batch writes the suspects run 1 left pending
"$LOAD" 127.0.0.1:$PORT 1 $N vg "$T/run1b.log" > "$T/run1b.out" || fail "load 1b: $(cat "$T/run1b.out")"
read -r cnt uniq <<<"$(ch_q "$H1" "SELECT count(), uniqExact(content_hash) FROM kp.measurements")"
echo "run 1b (view still broken, burst re-sent): 200s=$(grep -c ' 200$' "$T/run1b.log"); $cnt rows, $uniq distinct"
[ "$cnt" = "$uniq" ] || fail "re-sent while the view is broken: $cnt rows, $uniq distinct"
# The collector restarts between the failed batches and the retry (the gap the in-process set
# alone left open: the retry reached a process that looked it up in msm_key only, and stored
# the shard-2 rows twice). The suspects are in the entry node's msm_suspect.
sus=$(ch_q "$H1" "SELECT uniqExact(content_hash) FROM kp.msm_suspect")
[ "$sus" -ge "$on2" ] || fail "msm_suspect holds $sus hashes, fewer than the $on2 rows on shard 2"
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
# first restart while the view is still broken: the repair fails, the suspects are kept
ch_serve "$BIN" "$T/serve2.log" "$URL" || fail "serve did not restart"
grep -q "suspect hash(es) left by an earlier run could not be checked now" "$T/serve2.log" \
  || fail "restart with the view broken: suspects not reported kept: $(cat "$T/serve2.log")"
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
[ "$(ch_q "$H1" "SELECT uniqExact(content_hash) FROM kp.msm_suspect")" = "$sus" ] || fail "suspects lost by a failed repair"
# restore the view's table; the next process resolves the suspects at open
ch_q "$H2" "DROP TABLE kp.msm_key_local" || fail "drop"
ch_q "$H2" "RENAME TABLE kp.msm_key_keep TO kp.msm_key_local" || fail "restore"
ch_serve "$BIN" "$T/serve.log" "$URL" || fail "serve did not restart"
grep -q "suspect hash(es) left by an earlier run checked: [0-9]* stored" "$T/serve.log" \
  || fail "restart: suspects not resolved: $(cat "$T/serve.log")"
echo "restart: $(grep -o '[0-9]* suspect hash(es) left by an earlier run checked: [0-9]* stored' "$T/serve.log")"
for _ in $(seq 50); do [ "$(ch_q "$H1" "SELECT count() FROM kp.msm_suspect")" = 0 ] && break; sleep 0.1; done
[ "$(ch_q "$H1" "SELECT count() FROM kp.msm_suspect")" = 0 ] || fail "msm_suspect not emptied after the repair"
# and re-send the whole burst
"$LOAD" 127.0.0.1:$PORT 1 $N vg "$T/run2.log" > "$T/run2.out" || fail "load 2"
ok2=$(grep -c ' 200$' "$T/run2.log")
read -r cnt uniq <<<"$(ch_q "$H1" "SELECT count(), uniqExact(content_hash) FROM kp.measurements")"
hashes=$(ch_q "$H1" "SELECT uniqExact(content_hash) FROM kp.msm_key")
echo "run 2 (view restored, burst re-sent): 200s=$ok2; measurements $cnt rows, $uniq distinct; msm_key $hashes hashes"
[ "$ok2" = "$N" ] || fail "re-sent burst: $ok2 of $N answered 200"
[ "$cnt" = "$N" ] && [ "$uniq" = "$N" ] || fail "after the re-send: $cnt rows, $uniq distinct, want $N once each"
[ "$hashes" = "$N" ] || fail "msm_key not repaired: $hashes of $N hashes"
echo "PASS: rows stored without their msm_key row are found, answered once and repaired"

# migrations 5 and 6 over a schema-4 cluster holding these N measurements
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
for H in $H1 $H2; do
  for q in "DROP TABLE kp.msm_key" "DROP TABLE kp.msm_key_mv_local" "DROP TABLE kp.msm_key_local" \
    "CREATE TABLE kp.msm_hash_local (content_hash String, measurement_uid String) ENGINE = ReplacingMergeTree ORDER BY (content_hash, measurement_uid)" \
    "CREATE MATERIALIZED VIEW kp.msm_hash_mv_local TO kp.msm_hash_local AS SELECT content_hash, measurement_uid FROM kp.measurements_local" \
    "INSERT INTO kp.msm_hash_local SELECT content_hash, measurement_uid FROM kp.measurements_local" \
    "CREATE TABLE kp.msm_hash AS kp.msm_hash_local ENGINE = Distributed(kp, kp, msm_hash_local, cityHash64(measurement_uid))" \
    "DROP TABLE kp.schema_version" \
    "CREATE TABLE kp.schema_version (version UInt32, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY version" \
    "INSERT INTO kp.schema_version VALUES (1, now()), (2, now()), (3, now()), (4, now())"; do
    ch_q "$H" "$q" || fail "back to schema 4 on $H: $q"
  done
done
ch_serve "$BIN" "$T/serve.log" "$URL" || fail "serve did not start on the schema-4 cluster"
grep -q 'schema v7' "$T/serve.log" || fail "not migrated to schema 7: $(cat "$T/serve.log")"
for H in $H1 $H2; do
  [ "$(ch_q "$H" "SELECT count() FROM system.tables WHERE database = 'kp' AND (name LIKE 'msm_hash%' OR name LIKE 'msm_dedup%')")" = 0 ] || fail "msm_hash or msm_dedup left on $H"
  ch_q "$H" "SELECT engine_full FROM system.tables WHERE database = 'kp' AND name = 'msm_key_local'" \
    | grep -q 'ORDER BY (h64, content_hash, measurement_uid) SETTINGS index_granularity = 1024' \
    || fail "msm_key_local on $H: $(ch_q "$H" "SELECT engine_full FROM system.tables WHERE database = 'kp' AND name = 'msm_key_local'")"
  bad=$(ch_q "$H" "SELECT countIf(h64 != reinterpretAsUInt64(reverse(unhex(substring(content_hash, 1, 16))))) FROM kp.msm_key_local")
  [ "$bad" = 0 ] || fail "msm_key_local on $H: $bad rows whose h64 is not their hash's prefix"
done
hashes=$(ch_q "$H1" "SELECT uniqExact(content_hash) FROM kp.msm_key")
[ "$hashes" = "$N" ] || fail "migrations 5 and 6: msm_key holds $hashes of $N hashes"
"$LOAD" 127.0.0.1:$PORT 1 $N vg "$T/run3.log" > "$T/run3.out" || fail "load 3"
ok3=$(grep -c ' 200$' "$T/run3.log")
read -r cnt uniq <<<"$(ch_q "$H1" "SELECT count(), uniqExact(content_hash) FROM kp.measurements")"
echo "run 3 (after migrations 5 and 6, burst re-sent): 200s=$ok3; measurements $cnt rows, $uniq distinct; msm_key $hashes hashes"
[ "$ok3" = "$N" ] && [ "$cnt" = "$N" ] && [ "$uniq" = "$N" ] || fail "after migrations 5 and 6: $ok3 answered 200, $cnt rows, $uniq distinct, want $N"
echo "PASS: migrations 5 and 6 moved the dedup index to msm_key, and the old rows are still found"
