#!/usr/bin/env bash
# bench/store.sh: SQLite vs ClickHouse (1 shard, 2 shards), side by side in one run.
#
#   bench/store.sh [BUILD_DIR] [ROWS] [ENTITIES]   (defaults: build, 10000000, 100000)
#
# Needs clickhouse-server (tests/store/ch_lab.sh starts throw-away servers in a temp folder),
# sqlite3, and keepon, kp_serve_load, kp_store_bench built.
# 1. ingest through `keepon serve` (the OONI collector path, group commit, 2xx after the
#    store acknowledged): kp_serve_load at 8/32/128/1024/4096/8192 clients (INGEST_CLIENTS),
#    fresh store per run; INGEST_TOTAL submissions a run (default 8192), at least 20 a client.
#    Each client waits for its answer before the next submission (closed loop), so the rate
#    is at most clients / latency: 1024 to 8192 stand for many probes, each with one
#    submission outstanding, which is what fills the collector's batches.
# 2. ingest through the store API with big batches (4 writer processes x batch 5000): what
#    the backend takes when batches are large.
# 3. queries over ROWS stored measurements (the same rows in every store, generated inside the
#    store: numbers() in ClickHouse, a recursive CTE in sqlite3): OONI's aggregation
#    (axis_x=measurement_start_day, axis_y=probe_cc, test_name=web_connectivity) and a
#    filtered listing (probe_cc, test_name, anomaly, one month, 50 rows); p50/p99 of the store
#    call kp_store_aggregate / kp_store_query.
# 5. ingest through keepon serve (as 1, at SCALE_CLIENTS) into a store already holding PREFILL
#    measurements (default 10 M) whose content hashes are spread like real SHA-256 ones: what
#    the dedup lookup costs when the table is big (SCALE_KINDS, default "sqlite ch1").
#    With CH_LOG_QUERIES=1 each ClickHouse row also prints its commits' time inside ClickHouse
#    (dedup lookup vs INSERT, from system.query_log).
# SECTIONS="1 2 3 4 5" (default all) picks sections.
# 4. signals: ENTITIES entities x 30 days of 5-minute points generated in ClickHouse (1 shard);
#    one random entity's month read through kp_store_query_signals, p50/p99.
set -euo pipefail
B=${1:-build}
ROWS=${2:-10000000}
ENTS=${3:-100000}
PREFILL=${PREFILL:-10000000}
K=$B/src/cli/keepon L=$B/tests/server/kp_serve_load SB=$B/tests/store/kp_store_bench
[ -x "$K" ] && [ -x "$L" ] && [ -x "$SB" ] || { echo "build first: ninja -C $B keepon kp_serve_load kp_store_bench" >&2; exit 2; }
. "$(dirname "$0")/../tests/store/ch_lab.sh"
ch_need
T=$(mktemp -d /var/tmp/kp-bench-store.XXXXXX) # big: 10 M rows x 3 stores, signals
# ClickHouse deletes merged-away parts after old_parts_lifetime (480 s). On a journal-less ext4
# (this machine's root) the kernel's inode allocator then skips the recently deleted inodes for
# minutes, and every small INSERT after a mass deletion took ~40 ms instead of ~7 (perf: 60% of
# ClickHouse's CPU in find_inode_bit). The bench keeps old parts for the whole run, so a row
# measures the store, not the previous row's clean-up (docs/store.md, "the disk").
export CH_KEEP_PARTS=${CH_KEEP_PARTS:-86400}
SRV= PIDS=()
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; for p in "${PIDS[@]}"; do ch_stop "$p"; done; rm -rf "$T"; }
trap cleanup EXIT
trap "exit 1" INT TERM
export KEEPON_DATA=$(cd "$(dirname "$0")/.." && pwd)/data KEEPON_HOME=$T/home

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GB, $(uname -r); clickhouse $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share these cores)"
echo "store folder $T on $(findmnt -no FSTYPE,SOURCE -T "$T" 2>/dev/null | tr -s ' ')$(d=$(findmnt -no SOURCE -T "$T" 2>/dev/null); [ "$(findmnt -no FSTYPE -T "$T")" != ext4 ] || ls -d /proc/fs/jbd2/"${d##*/}"-* >/dev/null 2>&1 || echo ' (no journal)'); ClickHouse keeps merged parts $CH_KEEP_PARTS s"
ch_start "$T/one" && PIDS+=("$CH_PID") && ONE=$CH_HTTP
P1=($(ch_free_ports 3)) P2=($(ch_free_ports 3))
SPEC=$(ch_cluster "127.0.0.1:${P1[1]} 127.0.0.1:${P2[1]}")
CH_PORTS="${P1[*]}" ch_start "$T/s1" "$SPEC" && PIDS+=("$CH_PID")
CH_PORTS="${P2[*]}" ch_start "$T/s2" "$SPEC" && PIDS+=("$CH_PID")
cpu_ticks() { # PID... -> utime+stime in clock ticks (1/100 s), summed
  local t=0 p
  for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) )); done
  echo "$t"
}
want() { [[ " ${SECTIONS:-1 2 3 4 5} " == *" $1 "* ]]; }
url() { # KIND DBNAME
  case $1 in
    sqlite) echo "sqlite:$T/$2.db" ;;
    ch1) echo "clickhouse://127.0.0.1:$ONE/$2" ;;
    ch2) echo "clickhouse://127.0.0.1:${P1[0]},127.0.0.1:${P2[0]}/$2?cluster=kp" ;;
  esac
}

# ingest_row KIND DB CLIENTS PER: keepon serve on the store, kp_serve_load CLIENTS x PER against
# it, one line: rate, latency, CPU per acknowledged measurement of serve and of ClickHouse
ingest_row() {
  local kind=$1 db=$2 c=$3 per=$4 out ok c0 c1 h0 h1 rc
  # every client is on 127.0.0.1: without --max-conns-per-addr the default 32 per address
  # (the hostile-Internet cap) lets only 32 in at once, and the others wait in their report
  # open loop, so a "128 clients" row measured 32 (the first figures in docs/store.md did)
  ch_serve "$K" "$T/serve.log" "$(url "$kind" "$db")" --max-conns 8192 --max-conns-per-addr 8192 || true
  printf '%-6s %4d clients x %4d: ' "$kind" "$c" "$per"
  if [ -z "$PORT" ]; then
    kill "$SRV" 2>/dev/null; rc=0; wait "$SRV" 2>/dev/null || rc=$?; SRV=
    echo "keepon serve did not start (exit $rc): $(tail -c 300 "$T/serve.log")"; return
  fi
  c0=$(cpu_ticks "$SRV") h0=$(cpu_ticks "${PIDS[@]}")
  out=$("$L" 127.0.0.1:$PORT "$c" "$per" "b$c") || true
  c1=$(cpu_ticks "$SRV") h1=$(cpu_ticks "${PIDS[@]}")
  # CPU per acknowledged measurement, to see which process holds the cores
  ok=$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$out")
  echo "$out cpu_us/msm: serve=$(( (c1 - c0) * 10000 / (ok ? ok : 1) )) clickhouse=$(( (h1 - h0) * 10000 / (ok ? ok : 1) )) load=$(cut -d' ' -f1 /proc/loadavg)"
  kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=
}

# commit_profile PORT DB SINCE (CH_LOG_QUERIES=1): where the group commits of the last row spent
# their time inside ClickHouse: the dedup lookup and the INSERT, count, mean and p99 ms, rows
commit_profile() {
  ch_q "$1" "SYSTEM FLUSH LOGS" >/dev/null
  ch_q "$1" "SELECT if(query LIKE 'INSERT%', 'insert', 'lookup') AS q, count() AS n,
      round(avg(query_duration_ms), 1) AS avg_ms, round(quantile(0.99)(query_duration_ms)) AS p99_ms,
      round(avg(if(q = 'insert', written_rows, read_rows))) AS rows, round(avg(read_bytes) / 1048576, 1) AS read_mib
    FROM system.query_log WHERE type = 2 AND event_time >= toDateTime($3)
      AND (query LIKE 'INSERT INTO $2.measurements %' OR query LIKE 'SELECT % FROM $2.msm_%') AND query NOT LIKE '%numbers(%'
    GROUP BY q ORDER BY q FORMAT TSV" | sed 's/^/    in clickhouse: /;s/\t/ /g'
  echo "    (columns: kind, commits, mean ms, p99 ms, rows written/read, MiB read)"
}

if want 1; then
echo "== 1. ingest through keepon serve (OONI collector protocol, loopback; msm/s, latency of one submission)"
for kind in sqlite ch1 ch2; do
  for c in ${INGEST_CLIENTS:-8 32 128 1024 4096 8192}; do
    per=$(( ${INGEST_TOTAL:-8192} / c )); [ "$per" -ge 20 ] || per=20
    ingest_row "$kind" "ing$c" "$c" "$per"
  done
done

fi
if want 2; then
echo "== 2. ingest through the store API (batch 5000, 200000 measurements; SQLite has one writer, so 1 process; ClickHouse 4)"
printf '%-6s ' sqlite; "$SB" ingest "$(url sqlite api)" 1 200000 5000 || true
for kind in ch1 ch2; do printf '%-6s ' "$kind"; "$SB" ingest "$(url $kind api)" 4 200000 5000 || true; done

fi
# the generation of sections 3 and 4 runs inside the servers for minutes: be nice to the other
# jobs then (not before: sections 1 and 2 time ClickHouse itself, at the priority SQLite gets)
if want 3 || want 4; then renice -n 5 -p "${PIDS[@]}" >/dev/null; fi
if want 3; then
echo "== 3. queries over $ROWS measurements (load: $(cut -d' ' -f1 /proc/loadavg))"
SEL_CH="concat('b', toString(number)), hex(number), concat('r', toString(intDiv(number, 100))),
 substring('ITKZIRRUMMCNINUSBRTR', 1 + 2 * (intDiv(number, 3) % 10), 2), 1000 + number % 50,
 arrayElement(['web_connectivity','web_connectivity','web_connectivity','signal','telegram','whatsapp'], number % 6 + 1),
 concat('https://d', toString(number % 5000), '.example/'), concat('d', toString(number % 5000), '.example'),
 toDateTime(1640995200 + (number * 2654435761) % 31536000), toDateTime(1640995200 + (number * 2654435761) % 31536000),
 (number * 40503) % 100 < 15, (number * 40503) % 100 < 3, (number * 9973) % 100 < 4, '', '{}', number, -1
 FROM numbers($ROWS)"
COLS_CH="measurement_uid, content_hash, report_id, probe_cc, probe_asn, test_name, input, domain, measurement_start_time, recv_time, anomaly, confirmed, msm_failure, blocking_type, raw, ingest_seq, seq"
for kind in ch1 ch2; do
  "$SB" agg "$(url $kind q)" 1 >/dev/null # schema
  port=$ONE; [ $kind = ch2 ] && port=${P1[0]}
  t0=$(date +%s.%N)
  curl -fsS --data-binary "INSERT INTO q.measurements ($COLS_CH) SELECT $SEL_CH" "http://127.0.0.1:$port/?insert_distributed_sync=1"
  echo "$kind: generated $ROWS rows in $(echo "$t0 $(date +%s.%N)" | awk '{printf "%.0f", $2-$1}') s"
done
"$SB" agg "$(url sqlite q)" 1 >/dev/null
DB=$T/q.db
sqlite3 "$DB" "SELECT sql || ';' FROM sqlite_master WHERE type='index' AND tbl_name='measurements' AND sql IS NOT NULL" > "$T/idx.sql"
t0=$(date +%s.%N)
nice sqlite3 "$DB" "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;
 $(sed -n 's/^CREATE \(UNIQUE \)\?INDEX \([a-z_]*\) .*/DROP INDEX \2;/p' "$T/idx.sql")
 INSERT INTO measurements(uid,content_hash,report_id,probe_cc,probe_asn,test_name,input,domain,start_time,recv_time,anomaly,confirmed,failure,blocking_type,body)
 WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM c WHERE n < $ROWS - 1)
 SELECT printf('b%010d', n), printf('%016x', n), 'r' || (n / 100), substr('ITKZIRRUMMCNINUSBRTR', 1 + 2 * ((n / 3) % 10), 2),
  'AS' || (1000 + n % 50), CASE n % 6 WHEN 3 THEN 'signal' WHEN 4 THEN 'telegram' WHEN 5 THEN 'whatsapp' ELSE 'web_connectivity' END,
  'https://d' || (n % 5000) || '.example/', 'd' || (n % 5000) || '.example',
  1640995200 + (n * 2654435761) % 31536000, 1640995200 + (n * 2654435761) % 31536000,
  (n * 40503) % 100 < 15, (n * 40503) % 100 < 3, (n * 9973) % 100 < 4, '', '{}' FROM c;
 PRAGMA cache_size=-1000000; $(cat "$T/idx.sql") ANALYZE;" >/dev/null
echo "sqlite: generated $ROWS rows (indexes rebuilt) in $(echo "$t0 $(date +%s.%N)" | awk '{printf "%.0f", $2-$1}') s"
for kind in sqlite ch1 ch2; do
  runs=20; [ $kind = sqlite ] && runs=5
  printf '%-6s ' "$kind"; "$SB" agg "$(url $kind q)" $runs
  printf '%-6s ' "$kind"; "$SB" list "$(url $kind q)" 20
done
echo "(load: $(cut -d' ' -f1 /proc/loadavg))"

fi
if want 4; then
echo "== 4. signals: $ENTS entities x 30 days of 5-minute points, ClickHouse 1 shard (load: $(cut -d' ' -f1 /proc/loadavg))"
"$SB" agg "$(url ch1 sig)" 1 >/dev/null
# in chunks of CHUNK entities, so a time budget (SIG_BUDGET seconds, default 2400) can stop the
# generation between chunks; the read then covers the entities actually stored (said below)
CHUNK=${CHUNK:-5000} done_e=0
t0=$(date +%s.%N)
while [ $done_e -lt $ENTS ]; do
  n=$(( ENTS - done_e < CHUNK ? ENTS - done_e : CHUNK ))
  curl -fsS --data-binary "INSERT INTO sig.signals (entity_type, entity_code, datasource, t, step, value_bits, has_value, ver)
 SELECT 'asn', concat('E', toString(1000000 + $done_e + intDiv(number, 8640))), 'ping', toDateTime(1640995200 + (number % 8640) * 300), 300,
 reinterpretAsUInt64(reinterpretAsString(toFloat64(number % 1000))), 1, 1 FROM numbers($((n * 8640)))" "http://127.0.0.1:$ONE/"
  done_e=$((done_e + n))
  el=$(echo "$t0 $(date +%s.%N)" | awk '{printf "%.0f", $2-$1}')
  echo "  $done_e entities ($((done_e * 8640)) points) after $el s, load $(cut -d' ' -f1 /proc/loadavg)"
  [ "$el" -lt "${SIG_BUDGET:-2400}" ] || { echo "  time budget reached: $done_e of $ENTS entities stored"; break; }
done
echo "ch1: generated $((done_e * 8640)) points ($done_e entities) in $(echo "$t0 $(date +%s.%N)" | awk '{printf "%.0f", $2-$1}') s; rows $(ch_q $ONE "SELECT count() FROM sig.signals"); on disk $(ch_q $ONE "SELECT formatReadableSize(sum(bytes_on_disk)) FROM system.parts WHERE database = 'sig' AND active"), $(ch_q $ONE "SELECT count() FROM system.parts WHERE database = 'sig' AND active") parts"
ENTS=$done_e
printf 'ch1    '; "$SB" signals "$(url ch1 sig)" 200 "$ENTS" 30
echo "(load: $(cut -d' ' -f1 /proc/loadavg))"
fi
if want 5; then
renice -n 0 -p "${PIDS[@]}" >/dev/null # sections 3 and 4 may have reniced them
echo "== 5. ingest through keepon serve into stores already holding $PREFILL measurements (content hashes as real ones: SHA-256, spread over the key range)"
for kind in ${SCALE_KINDS:-sqlite ch1}; do
  "$SB" agg "$(url "$kind" big)" 1 >/dev/null # schema
  t0=$(date +%s.%N)
  if [ "$kind" = sqlite ]; then
    sqlite3 "$T/big.db" "PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;
     INSERT INTO measurements(uid,content_hash,report_id,probe_cc,probe_asn,test_name,input,domain,start_time,recv_time,anomaly,confirmed,failure,blocking_type,body)
     WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM c WHERE n < $PREFILL - 1)
     SELECT printf('p%010d', n), lower(hex(randomblob(32))), 'r' || (n / 100), 'IT', 'AS1000', 'web_connectivity',
      'https://d' || (n % 5000) || '.example/', 'd' || (n % 5000) || '.example', 1640995200 + n % 31536000, 1640995200 + n % 31536000,
      0, 0, 0, '', '{}' FROM c;" >/dev/null
  else
    curl -fsS --data-binary "INSERT INTO big.measurements (measurement_uid, content_hash, report_id, probe_cc, probe_asn, test_name, input, domain, measurement_start_time, recv_time, raw, ingest_seq, seq)
     SELECT concat('p', toString(number)), lower(hex(SHA256(toString(number)))), concat('r', toString(intDiv(number, 100))), 'IT', 1000, 'web_connectivity',
      concat('https://d', toString(number % 5000), '.example/'), concat('d', toString(number % 5000), '.example'),
      toDateTime(1640995200 + number % 31536000), toDateTime(1640995200 + number % 31536000), '{}', number, -1 FROM numbers($PREFILL)" "http://127.0.0.1:$ONE/"
  fi
  echo "$kind: $PREFILL rows stored in $(echo "$t0 $(date +%s.%N)" | awk '{printf "%.0f", $2-$1}') s"
  if [ "$kind" = ch1 ]; then
    # merge the prefill into one part a table first: otherwise its own vertical merge of 10 M
    # rows runs under the ingest and the row measures that (docs/store.md, section 5)
    t0=$(date +%s.%N)
    for tb in $(ch_q "$ONE" "SELECT DISTINCT table FROM system.parts WHERE active AND database = 'big' AND rows > 0"); do
      ch_q "$ONE" "OPTIMIZE TABLE big.$tb FINAL" >/dev/null
    done
    echo "ch1: prefill merged (OPTIMIZE FINAL) in $(echo "$t0 $(date +%s.%N)" | awk '{printf "%.0f", $2-$1}') s"
  fi
  for c in ${SCALE_CLIENTS:-128 4096}; do
    per=$(( ${INGEST_TOTAL:-8192} / c )); [ "$per" -ge 20 ] || per=20
    since=$([ "$kind" = ch1 ] && ch_q "$ONE" "SELECT toUnixTimestamp(now())" || echo 0)
    ingest_row "$kind" big "$c" "$per"
    [ "$kind" = ch1 ] && [ "${CH_LOG_QUERIES:-}" = 1 ] && commit_profile "$ONE" big "$since"
  done
done
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
