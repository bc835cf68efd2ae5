/*
 * test_ch_repair.c: a measurement that landed in measurements but not in msm_key is still
 * found by the dedup (ch_store.c, check_landed, ch_suspect.c) and its msm_key row is written again.
 * Needs a 2-shard cluster (KP_STORE_URL=clickhouse://N1,N2/PREFIX?cluster=..., set by
 * tests/store/ch_suite.sh); skips without one.
 *
 * The gap is made deterministic: shard 2's msm_key_local is swapped for a table whose
 * content_hash is UInt64, so an INSERT through the Distributed measurements commits shard 2's
 * measurements_local part and then fails in the view msm_key_mv_local (what a kill -9 between
 * the two does at random). put_batch fails, or answers the rows stored once after finding
 * them in measurements; the real table comes back; the same measurements
 * (new uids, as a probe's retry may carry) are put again: none may be stored twice.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "kp_test.h"
#include "store/clickhouse/ch_internal.h"
#include "store/store.h"

/* one SQL statement on node @p i; the answer's first number (or -1) */
__attribute__((format(printf, 3, 4))) static long long sql(kp_ch_store_t *s, size_t i, const char *fmt, ...) {
  char q[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(q, sizeof q, fmt, ap);
  va_end(ap);
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  kp_status_t st = kp_ch_http_post(s->node[i], "", q, strlen(q), &out);
  long long v = st == KP_OK && out.len ? strtoll(kp_buf_str(&out), NULL, 10) : -1;
  if (st != KP_OK) fprintf(stderr, "  sql on node %zu failed: %s: %s\n", i, q, kp_buf_str(&out));
  kp_buf_free(&out);
  KP_ASSERT_OK(st);
  return v;
}

KP_TEST(view_gap_retry_stores_once) {
  enum { N = 400 };
  const char *base = getenv("KP_STORE_URL");
  if (!base || !strchr(base, ',') || !strchr(base, '?')) KP_SKIP("needs KP_STORE_URL of a 2-shard cluster\n");
  const char *qm = strchr(base, '?');
  char url[512];
  snprintf(url, sizeof url, "%.*s_rep_%d%s", (int)(qm - base), base, (int)getpid(), qm);
  kp_store_t *st = NULL;
  KP_ASSERT_OK(kp_store_open(url, &st));
  kp_ch_store_t *s = (kp_ch_store_t *)st;
  const char *db = s->u.db;

  kp_store_msm_t *m = calloc(N, sizeof *m);
  kp_store_put_result_t *r = calloc(N, sizeof *r);
  char(*uid)[24] = calloc(N, sizeof *uid), (*uid2)[24] = calloc(N, sizeof *uid2), (*hash)[72] = calloc(N, sizeof *hash);
  KP_ASSERT(m && r && uid && uid2 && hash);
  for (int i = 0; i < N; i++) {
    snprintf(uid[i], sizeof uid[i], "gu%05d", i);
    snprintf(uid2[i], sizeof uid2[i], "gv%05d", i);
    snprintf(hash[i], sizeof hash[i], "%064x", (unsigned)(i * 2654435761u + 7));
    m[i] = (kp_store_msm_t){.uid = uid[i], .content_hash = hash[i], .report_id = "r", .probe_cc = "IT",
                            .probe_asn = "AS1", .test_name = "web_connectivity", .input = "https://a.example/",
                            .domain = "a.example", .start_time = 1000 + i % 37, .recv_time = 2000,
                            .blocking_type = "", .seq = -1, .body = "{}", .body_len = 2};
  }

  /* shard 2's view target can no longer take rows */
  sql(s, 1, "RENAME TABLE %s.msm_key_local TO %s.msm_key_keep", db, db);
  sql(s, 1, "CREATE TABLE %s.msm_key_local (h64 UInt64, content_hash UInt64, measurement_uid String) ENGINE = MergeTree ORDER BY content_hash", db);
  /* either answer is right: it fails (503), or its own retry finds the rows that landed on
   * shard 2 in measurements and answers them stored (ch_store.c, check_landed); then each row
   * must be stored under its own uid */
  if (kp_store_put_batch(st, m, N, r) == KP_OK)
    for (int i = 0; i < N; i++) {
      KP_ASSERT_MSG(r[i].inserted && r[i].status == KP_OK, "row %d: acknowledged but not stored as new", i);
      KP_ASSERT_STREQ(r[i].uid, uid[i]);
    }
  KP_ASSERT_EQ(sql(s, 0, "SELECT uniqExact(content_hash) FROM %s.measurements", db),
               sql(s, 0, "SELECT count() FROM %s.measurements", db)); /* its retries stored none twice */
  long long landed = sql(s, 0, "SELECT count() FROM %s.measurements", db);
  long long hashed = sql(s, 0, "SELECT count() FROM %s.msm_key_local", db); /* shard 1's */
  KP_ASSERT_MSG(landed > hashed && hashed > 0, "set-up: %lld rows landed, shard 1 hashed %lld", landed, hashed);
  sql(s, 1, "DROP TABLE %s.msm_key_local", db);
  sql(s, 1, "RENAME TABLE %s.msm_key_keep TO %s.msm_key_local", db, db);

  /* the retry: every row is stored already, under its first uid */
  for (int i = 0; i < N; i++) m[i].uid = uid2[i];
  KP_ASSERT_OK(kp_store_put_batch(st, m, N, r));
  for (int i = 0; i < N; i++) {
    KP_ASSERT_MSG(!r[i].inserted && r[i].status == KP_OK, "row %d: not a duplicate", i);
    KP_ASSERT_STREQ(r[i].uid, uid[i]);
  }
  KP_ASSERT_EQ(sql(s, 0, "SELECT count() FROM %s.measurements", db), N);
  KP_ASSERT_EQ(sql(s, 0, "SELECT uniqExact(content_hash) FROM %s.measurements", db), N);
  /* msm_key repaired: a later lookup (another process) finds every row by hash */
  KP_ASSERT_EQ(sql(s, 0, "SELECT uniqExact(content_hash) FROM %s.msm_key", db), N);
  KP_ASSERT_EQ(sql(s, 0, "SELECT count() FROM %s.msm_key", db), N);
  sql(s, 0, "DROP DATABASE IF EXISTS %s", db);
  sql(s, 1, "DROP DATABASE IF EXISTS %s", db);
  kp_store_close(st);
  free(m), free(r), free(uid), free(uid2), free(hash);
}
