/*
 * ch_schema.c: the ClickHouse schema and its versioned migrations.
 *
 * Tables (docs/store.md has the full description):
 *   measurements  shaped like OONI's fastpath table (same column names, ORDER BY OONI's
 *                 (measurement_start_time, report_id, input) + measurement_uid), keepon's
 *                 verdict/technique (DEFAULT from the raw JSON), the signed-path
 *                 columns, and `raw`, the measurement itself (compressed by the table, LZ4
 *                 in 18.16, which has no per-column codecs).
 *   msm_key       content_hash -> measurement_uid, the dedup index (migration 6; msm_dedup
 *                 in 5, msm_hash before), ordered by (h64, content_hash, measurement_uid),
 *                 h64 = the hash's first 8 bytes (KP_CH_KEY_OF). A batch's hashes are SHA-256,
 *                 spread over the whole key range, so a lookup of B of them reads about B
 *                 granules whatever the table's size: hence small granules (8192 rows a
 *                 granule read 8 M of 10 M rows for 2,000 hashes, ~200 ms; migration 5 went
 *                 to 256), and the lookup filters on h64 in PREWHERE, so of those granules it
 *                 reads 8 bytes a row, the hash and uid only where h64 matched (migration 6,
 *                 1,024 rows a granule: as fast as 256, a quarter of the marks in memory).
 *   chain         keepon's chains (migration 4, replacing msm_chain): one row per
 *                 (key_id, seq) -> content_hash, the stored uid, the signature and the stored
 *                 measurement's index columns. Dedup is per (key_id, hash): a record whose
 *                 bytes another key (or an unsigned upload) stored first is a new chain row
 *                 sharing those bytes, as in SQLite.
 *                 msm_key and a new signed measurement's chain row are filled by
 *                 materialized views from measurements, i.e. inside the same INSERT, so a
 *                 row never exists without its index entries unless that INSERT itself
 *                 failed (then the collector did not acknowledge it). A chain row for bytes
 *                 already stored is a second INSERT (ch_store.c); when it fails the batch is
 *                 not acknowledged and the retry writes it (its slot is still free).
 *   chain_heads   the highest signed head checkpoint per key, ReplacingMergeTree(seq).
 *   signals       signal points, ReplacingMergeTree(ver): a re-posted point replaces the old
 *                 one (reads take argMax by ver, so answers are right before a merge too).
 *                 value is DEFAULT from value_bits, the IEEE-754 bits keepon sends:
 *                 18.16's JSONEachRow float reader is not correctly rounded (20/7 came back
 *                 one ulp off), and the store promises the value it was given.
 *   incidents     detect's incidents, ReplacingMergeTree(ver) by incident_id.
 *   msm_suspect   hashes a failed batch may have stored without msm_key rows (migration 7,
 *                 local on every node, read and written on the entry node: ch_suspect.c).
 *   schema_version  one row per applied migration, on every node.
 *
 * One node: the tables carry these names. A cluster (URL ?cluster=NAME): every node gets
 * NAME_local MergeTree tables plus a Distributed table under the plain name, sharded by
 * cityHash64(measurement_uid) for measurements and its indexes (a row and its index
 * entries live on one shard; a chain row carries the stored uid, so it lives with its
 * bytes, and a re-written chain row meets its twin), by cityHash64(entity_type,
 * entity_code) for signals (all versions of a point meet on one shard, where
 * ReplacingMergeTree can collapse them) and by cityHash64(key_id) for chain_heads.
 * 18.16 has no ON CLUSTER without ZooKeeper, so the store runs the DDL on each node itself.
 *
 * Derived columns (test_start_time, verdict, technique, signals.value) are DEFAULT
 * expressions, not MATERIALIZED: an INSERT names its columns, ClickHouse computes the rest
 * (on the Distributed table too, which then forwards whole rows; 18.16 forwards a
 * MATERIALIZED column and the shard refuses it).
 *
 * Migrations: ClickHouse DDL is not transactional, so every statement is idempotent
 * (IF NOT EXISTS) and the version row is written after all of a migration's statements
 * succeeded: a crash mid-migration re-runs that migration whole on the next open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/clickhouse/ch_internal.h"

/* chain's columns from a measurements row (migration 4: chain_mv and its backfill) */
#define CHAIN_SEL                                                                                      \
  "key_id, seq, content_hash, measurement_uid, prev_hash, pubkey, sig, recv_time, ingest_seq,"         \
  " report_id, input, probe_cc, probe_asn, test_name, measurement_start_time, anomaly, confirmed,"      \
  " msm_failure, domain, blocking_type"

/* %D database, %L "_local" on a cluster ("" on one node), %C cluster name */
typedef struct mig {
  const char *local[8]; /* on every node */
  const char *dist[8];  /* on every node of a cluster only */
} mig_t;

static const mig_t migs[] = {
  {{"CREATE TABLE IF NOT EXISTS %D.measurements%L ("
    " measurement_uid String, report_id String, input String, probe_cc String, probe_asn UInt32,"
    " test_name String,"
    " test_start_time DateTime DEFAULT"
    "  parseDateTimeBestEffortOrZero(visitParamExtractString(raw, 'test_start_time')),"
    " measurement_start_time DateTime,"
    " anomaly UInt8, confirmed UInt8, msm_failure UInt8, domain String, blocking_type String,"
    " verdict String DEFAULT visitParamExtractString(raw, 'keepon_verdict'),"
    " technique String DEFAULT visitParamExtractString(raw, 'keepon_technique'),"
    " content_hash String, recv_time DateTime, ingest_seq UInt64,"
    " key_id String, pubkey String, sig String, prev_hash String, seq Int64, raw String)"
    " ENGINE = ReplacingMergeTree(ingest_seq)"
    " ORDER BY (measurement_start_time, report_id, input, measurement_uid)",
    "CREATE TABLE IF NOT EXISTS %D.msm_hash%L (content_hash String, measurement_uid String)"
    " ENGINE = ReplacingMergeTree ORDER BY (content_hash, measurement_uid)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS %D.msm_hash_mv%L TO %D.msm_hash%L AS"
    " SELECT content_hash, measurement_uid FROM %D.measurements%L",
    "CREATE TABLE IF NOT EXISTS %D.msm_chain%L (key_id String, seq Int64, content_hash String,"
    " measurement_uid String) ENGINE = ReplacingMergeTree ORDER BY (key_id, seq, content_hash)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS %D.msm_chain_mv%L TO %D.msm_chain%L AS"
    " SELECT key_id, seq, content_hash, measurement_uid FROM %D.measurements%L WHERE key_id != ''"},
   {"CREATE TABLE IF NOT EXISTS %D.measurements AS %D.measurements_local"
    " ENGINE = Distributed(%C, %D, measurements_local, cityHash64(measurement_uid))",
    "CREATE TABLE IF NOT EXISTS %D.msm_hash AS %D.msm_hash_local"
    " ENGINE = Distributed(%C, %D, msm_hash_local, cityHash64(measurement_uid))",
    "CREATE TABLE IF NOT EXISTS %D.msm_chain AS %D.msm_chain_local"
    " ENGINE = Distributed(%C, %D, msm_chain_local, cityHash64(measurement_uid))"}},
  {{"CREATE TABLE IF NOT EXISTS %D.signals%L (entity_type String, entity_code String,"
    " datasource String, t DateTime, step UInt32, value_bits UInt64,"
    " value Float64 DEFAULT reinterpretAsFloat64(reinterpretAsString(value_bits)),"
    " has_value UInt8, ver UInt64)"
    " ENGINE = ReplacingMergeTree(ver) ORDER BY (entity_type, entity_code, datasource, t)"},
   {"CREATE TABLE IF NOT EXISTS %D.signals AS %D.signals_local"
    " ENGINE = Distributed(%C, %D, signals_local, cityHash64(entity_type, entity_code))"}},
  {{"CREATE TABLE IF NOT EXISTS %D.incidents%L (incident_id String, probe_cc String,"
    " start_time DateTime, end_time DateTime, technique String, raw String, posted_at DateTime,"
    " ver UInt64) ENGINE = ReplacingMergeTree(ver) ORDER BY (probe_cc, start_time, incident_id)"},
   {"CREATE TABLE IF NOT EXISTS %D.incidents AS %D.incidents_local"
    " ENGINE = Distributed(%C, %D, incidents_local, cityHash64(incident_id))"}},
  /* 4: keepon chains apart from the measurement bytes (dedup per (key_id, hash), as SQLite's
   * migration 3) and signed head checkpoints. `chain` replaces msm_chain: one row per
   * (key_id, seq) carrying the stored measurement's index columns, so chain-order listings
   * filter and page on chain alone. A new signed measurement gets its row from chain_mv inside
   * the measurements INSERT; a signed record whose bytes are already stored gets one written
   * directly (ch_store.c). The backfill may run twice after a crash: identical rows, folded
   * by the engine and by LIMIT 1 BY (key_id, seq) on reads. */
  {{"CREATE TABLE IF NOT EXISTS %D.chain%L (key_id String, seq Int64, content_hash String,"
    " measurement_uid String, prev_hash String, pubkey String, sig String, recv_time DateTime,"
    " ingest_seq UInt64, report_id String, input String, probe_cc String, probe_asn UInt32,"
    " test_name String, measurement_start_time DateTime, anomaly UInt8, confirmed UInt8,"
    " msm_failure UInt8, domain String, blocking_type String)"
    " ENGINE = ReplacingMergeTree ORDER BY (key_id, seq, content_hash)",
    "DROP TABLE IF EXISTS %D.msm_chain_mv%L",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS %D.chain_mv%L TO %D.chain%L AS SELECT " CHAIN_SEL
    " FROM %D.measurements%L WHERE key_id != ''",
    "INSERT INTO %D.chain%L SELECT " CHAIN_SEL " FROM %D.measurements%L WHERE key_id != ''",
    "DROP TABLE IF EXISTS %D.msm_chain%L",
    "CREATE TABLE IF NOT EXISTS %D.chain_heads%L (key_id String, seq Int64, head_hash String,"
    " pubkey String, sig String, recv_time DateTime) ENGINE = ReplacingMergeTree(seq) ORDER BY key_id"},
   {"DROP TABLE IF EXISTS %D.msm_chain",
    "CREATE TABLE IF NOT EXISTS %D.chain AS %D.chain_local"
    " ENGINE = Distributed(%C, %D, chain_local, cityHash64(measurement_uid))",
    "CREATE TABLE IF NOT EXISTS %D.chain_heads AS %D.chain_heads_local"
    " ENGINE = Distributed(%C, %D, chain_heads_local, cityHash64(key_id))"}},
  /* 5: the dedup index again, as msm_dedup with index_granularity 256 (header). 18.16 cannot
   * change a table's granularity, and a RENAME has no IF EXISTS (a crash between two renames
   * could not be re-run), so the index gets a new name. Its view is created before the
   * backfill, so a measurement another collector inserts meanwhile is indexed by one of the two
   * views; the backfill reads measurements itself (the source of truth, which exists on every
   * re-run), and a row indexed twice is folded by the engine and ignored by the lookups (the
   * first row of a hash wins). A collector still running an older keepon fails its lookups once
   * msm_hash is gone: it answers 503 until it is upgraded, it stores nothing twice. */
  {{"CREATE TABLE IF NOT EXISTS %D.msm_dedup%L (content_hash String, measurement_uid String)"
    " ENGINE = ReplacingMergeTree ORDER BY (content_hash, measurement_uid) SETTINGS index_granularity = 256",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS %D.msm_dedup_mv%L TO %D.msm_dedup%L AS"
    " SELECT content_hash, measurement_uid FROM %D.measurements%L",
    "INSERT INTO %D.msm_dedup%L SELECT content_hash, measurement_uid FROM %D.measurements%L",
    "DROP TABLE IF EXISTS %D.msm_hash_mv%L",
    "DROP TABLE IF EXISTS %D.msm_hash%L"},
   {"CREATE TABLE IF NOT EXISTS %D.msm_dedup AS %D.msm_dedup_local"
    " ENGINE = Distributed(%C, %D, msm_dedup_local, cityHash64(measurement_uid))",
    "DROP TABLE IF EXISTS %D.msm_hash"}},
  /* 6: the dedup index as msm_key, ordered by h64, a 64-bit prefix of the hash, first (header).
   * A lookup of B hashes still reads ~B granules, but with PREWHERE on h64 it reads 8 bytes a
   * row of them, not the 64-byte hash and the uid: 1,000 absent hashes at 10 M stored took
   * 83-98 ms in msm_dedup and 24-66 ms here (2026-12-03), and a granule of 1,024 rows reads as
   * fast as one of 256 (45 vs 47 ms for 2,000) with a quarter of the marks in memory. Same
   * order as migration 5: view, backfill, then the old index goes (an older collector answers
   * 503 until it is upgraded). */
  {{"CREATE TABLE IF NOT EXISTS %D.msm_key%L (h64 UInt64 DEFAULT " KP_CH_KEY_OF("content_hash") ","
    " content_hash String, measurement_uid String) ENGINE = ReplacingMergeTree"
    " ORDER BY (h64, content_hash, measurement_uid) SETTINGS index_granularity = 1024",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS %D.msm_key_mv%L TO %D.msm_key%L AS"
    " SELECT " KP_CH_KEY_OF("content_hash") " AS h64, content_hash, measurement_uid FROM %D.measurements%L",
    "INSERT INTO %D.msm_key%L (content_hash, measurement_uid) SELECT content_hash, measurement_uid"
    " FROM %D.measurements%L",
    "DROP TABLE IF EXISTS %D.msm_dedup_mv%L",
    "DROP TABLE IF EXISTS %D.msm_dedup%L"},
   {"CREATE TABLE IF NOT EXISTS %D.msm_key AS %D.msm_key_local"
    " ENGINE = Distributed(%C, %D, msm_key_local, cityHash64(measurement_uid))",
    "DROP TABLE IF EXISTS %D.msm_dedup"}},
  /* 7: msm_suspect, the hashes of rows a failed batch may have stored without their msm_key
   * rows, kept across collector processes (ch_suspect.c). A plain local table on every node,
   * also on a cluster: only the entry node's is used, and it must be writable when a shard is
   * not. `t` is the row's measurement_start_time, the lookup key in measurements. */
  {{"CREATE TABLE IF NOT EXISTS %D.msm_suspect (id UInt64, content_hash String, t UInt32)"
    " ENGINE = MergeTree ORDER BY id"},
   {NULL}},
};
#define N_MIGS ((int)(sizeof migs / sizeof *migs))

int kp_ch_schema_newest(void) { return N_MIGS; }

static kp_status_t expand(kp_buf_t *out, const char *t, const kp_ch_url_t *u) {
  kp_buf_reset(out);
  kp_status_t st = KP_OK;
  for (const char *p = t; *p && st == KP_OK; p++) {
    if (p[0] == '%' && p[1] == 'D') st = kp_buf_puts(out, u->db), p++;
    else if (p[0] == '%' && p[1] == 'L') st = kp_buf_puts(out, u->cluster[0] ? "_local" : ""), p++;
    else if (p[0] == '%' && p[1] == 'C') st = kp_buf_puts(out, u->cluster), p++;
    else st = kp_buf_putc(out, *p);
  }
  return st;
}

static kp_status_t run(kp_ch_http_t *h, kp_buf_t *sql, kp_buf_t *ans) {
  return kp_ch_http_post(h, "", sql->data, sql->len, ans);
}

static kp_status_t node_version(kp_ch_http_t *h, const kp_ch_url_t *u, kp_buf_t *sql, kp_buf_t *ans, int *v) {
  kp_status_t st = expand(sql, "SELECT max(version) FROM %D.schema_version", u);
  if (st == KP_OK) st = run(h, sql, ans);
  if (st != KP_OK) return st;
  char *end = NULL;
  long x = strtol(kp_buf_str(ans), &end, 10);
  if (end == kp_buf_str(ans) || x < 0 || x > 100000) return KP_ERR_INVAL;
  *v = (int)x;
  return KP_OK;
}

static kp_status_t migrate_node(kp_ch_http_t *h, const kp_ch_url_t *u, kp_buf_t *sql, kp_buf_t *ans, int *ver) {
  kp_status_t st = expand(sql, "CREATE DATABASE IF NOT EXISTS %D", u);
  if (st == KP_OK) st = run(h, sql, ans);
  if (st == KP_OK)
    st = expand(sql, "CREATE TABLE IF NOT EXISTS %D.schema_version (version UInt32, applied_at DateTime)"
                     " ENGINE = ReplacingMergeTree ORDER BY version", u);
  if (st == KP_OK) st = run(h, sql, ans);
  int v = 0;
  if (st == KP_OK) st = node_version(h, u, sql, ans, &v);
  if (st != KP_OK) return st;
  if (v > N_MIGS) {
    kp_log_warnx("store", "clickhouse schema %d is newer than this keepon (%d)", v, N_MIGS);
    return KP_ERR_UNSUPPORTED;
  }
  for (int i = v; i < N_MIGS && st == KP_OK; i++) {
    for (size_t k = 0; k < 8 && migs[i].local[k] && st == KP_OK; k++)
      if ((st = expand(sql, migs[i].local[k], u)) == KP_OK) st = run(h, sql, ans);
    for (size_t k = 0; u->cluster[0] && k < 8 && migs[i].dist[k] && st == KP_OK; k++)
      if ((st = expand(sql, migs[i].dist[k], u)) == KP_OK) st = run(h, sql, ans);
    if (st == KP_OK && (st = expand(sql, "INSERT INTO %D.schema_version VALUES (", u)) == KP_OK &&
        (st = kp_buf_printf(sql, "%d, now())", i + 1)) == KP_OK)
      st = run(h, sql, ans);
  }
  if (st == KP_OK) st = node_version(h, u, sql, ans, ver);
  return st;
}

kp_status_t kp_ch_migrate(kp_ch_http_t **nodes, const kp_ch_url_t *u, int *version) {
  kp_buf_t sql, ans;
  kp_buf_init(&sql, 1 << 20);
  kp_buf_init(&ans, 1 << 20);
  kp_status_t st = KP_OK;
  if (u->cluster[0]) { /* the cluster must be configured on the entry node with one shard per node */
    if ((st = kp_buf_printf(&sql, "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = '%s'",
                            u->cluster)) == KP_OK &&
        (st = run(nodes[0], &sql, &ans)) == KP_OK && strtol(kp_buf_str(&ans), NULL, 10) != (long)u->nnodes) {
      kp_log_warnx("store", "cluster '%s' has %ld shards in remote_servers, the store URL names %zu nodes",
                   u->cluster, strtol(kp_buf_str(&ans), NULL, 10), u->nnodes);
      st = KP_ERR_INVAL;
    }
  }
  int v0 = 0;
  for (size_t i = 0; i < u->nnodes && st == KP_OK; i++) {
    int v = 0;
    st = migrate_node(nodes[i], u, &sql, &ans, &v);
    if (i == 0) v0 = v;
  }
  if (st == KP_OK) *version = v0;
  kp_buf_free(&sql);
  kp_buf_free(&ans);
  return st;
}
