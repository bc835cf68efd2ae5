/*
 * test_store.c: the SQLite backend behind store.h: migrations recorded and
 * idempotent, dedup by content hash, chain-slot conflicts, filters, OONI's
 * aggregation counts, signals.
 */
#include <string.h>

#include "kp_test.h"
#include "store/store.h"

static kp_store_t *open_tmp(void) {
  char p[4096];
  snprintf(p, sizeof p, "%s/t.db", kp_test_tmpdir());
  kp_store_t *s = NULL;
  KP_ASSERT_OK(kp_store_open(p, &s));
  return s;
}

static kp_store_msm_t mk(const char *uid, const char *hash, const char *cc, bool anomaly, bool confirmed,
                         bool failure, int64_t t) {
  kp_store_msm_t m = {.uid = uid, .content_hash = hash, .report_id = "r", .probe_cc = cc,
                      .probe_asn = "AS1", .test_name = "web_connectivity", .input = "https://a.example/",
                      .domain = "a.example", .start_time = t, .recv_time = t, .anomaly = anomaly,
                      .confirmed = confirmed, .failure = failure, .blocking_type = "", .seq = -1,
                      .body = "{}", .body_len = 2};
  return m;
}

static int count_cb(void *ctx, const kp_store_msm_t *m) {
  (void)m;
  (*(int *)ctx)++;
  return 0;
}

KP_TEST(migrations_and_reopen) {
  char p[4096];
  snprintf(p, sizeof p, "%s/m.db", kp_test_tmpdir());
  kp_store_t *s = NULL;
  KP_ASSERT_OK(kp_store_open(p, &s));
  int v = kp_store_schema_version(s);
  KP_ASSERT(v >= 2);
  kp_store_close(s);
  KP_ASSERT_OK(kp_store_open(p, &s)); /* re-running migrations is a no-op */
  KP_ASSERT_EQ(kp_store_schema_version(s), v);
  kp_store_close(s);
}

KP_TEST(dedup_by_content_hash) {
  kp_store_t *s = open_tmp();
  kp_store_msm_t m[3] = {mk("u1", "h1", "IT", 0, 0, 0, 1000), mk("u2", "h2", "IT", 1, 0, 0, 1000),
                         mk("u3", "h1", "IT", 0, 0, 0, 1000)};
  kp_store_put_result_t r[3];
  KP_ASSERT_OK(kp_store_put_batch(s, m, 3, r));
  KP_ASSERT(r[0].inserted && r[1].inserted && !r[2].inserted);
  KP_ASSERT_STREQ(r[2].uid, "u1");
  kp_store_msm_t again = mk("u9", "h2", "IT", 0, 0, 0, 1000);
  KP_ASSERT_OK(kp_store_put_batch(s, &again, 1, r));
  KP_ASSERT(!r[0].inserted);
  KP_ASSERT_STREQ(r[0].uid, "u2");
  int64_t n = 0;
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  KP_ASSERT_OK(kp_store_count(s, &f, &n));
  KP_ASSERT_EQ(n, 2);
  kp_store_close(s);
}

KP_TEST(chain_slot_conflict) {
  kp_store_t *s = open_tmp();
  kp_store_msm_t a = mk("u1", "h1", "IT", 0, 0, 0, 1000), b = mk("u2", "h2", "IT", 0, 0, 0, 1000);
  a.key_id = b.key_id = "k";
  a.seq = b.seq = 7;
  kp_store_put_result_t r;
  KP_ASSERT_OK(kp_store_put_batch(s, &a, 1, &r));
  KP_ASSERT(r.inserted);
  KP_ASSERT_OK(kp_store_put_batch(s, &b, 1, &r));
  KP_ASSERT(!r.inserted);
  KP_ASSERT_EQ(r.status, KP_ERR_EXISTS);
  kp_store_close(s);
}

typedef struct agg_acc {
  int rows;
  int64_t a, c, f, o, n;
} agg_acc_t;
static int agg_cb(void *ctx, const kp_store_agg_row_t *r) {
  agg_acc_t *x = ctx;
  x->rows++;
  x->a += r->anomaly_count, x->c += r->confirmed_count, x->f += r->failure_count, x->o += r->ok_count;
  x->n += r->measurement_count;
  return 0;
}

KP_TEST(filters_and_aggregation) {
  kp_store_t *s = open_tmp();
  kp_store_msm_t m[5] = {
    mk("u1", "h1", "IT", 0, 0, 0, 86400 * 10), mk("u2", "h2", "IT", 1, 0, 0, 86400 * 10),
    mk("u3", "h3", "IT", 1, 1, 0, 86400 * 11), mk("u4", "h4", "KZ", 1, 0, 1, 86400 * 11),
    mk("u5", "h5", "KZ", 0, 0, 0, 86400 * 12)};
  kp_store_put_result_t r[5];
  KP_ASSERT_OK(kp_store_put_batch(s, m, 5, r));
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  f.probe_cc = "IT";
  int n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 3);
  f.anomaly = 1;
  n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 2);
  kp_store_filter_init(&f);
  f.since = 86400 * 11;
  f.until = 86400 * 12;
  n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 2);

  kp_store_filter_init(&f);
  kp_store_agg_t a = {.axis_x = "measurement_start_day", .axis_y = "probe_cc", .time_grain = "day"};
  agg_acc_t acc = {0};
  KP_ASSERT_OK(kp_store_aggregate(s, &f, &a, agg_cb, &acc));
  KP_ASSERT_EQ(acc.rows, 4); /* (10,IT) (11,IT) (11,KZ) (12,KZ) */
  KP_ASSERT_EQ(acc.n, 5);
  KP_ASSERT_EQ(acc.a, 1); /* u2 only: u3 is confirmed, u4 failed */
  KP_ASSERT_EQ(acc.c, 1);
  KP_ASSERT_EQ(acc.f, 1);
  KP_ASSERT_EQ(acc.o, 2);
  kp_store_agg_t bad = {.axis_x = "probe_cc; DROP TABLE measurements"};
  KP_ASSERT_EQ(kp_store_aggregate(s, &f, &bad, agg_cb, &acc), KP_ERR_INVAL);
  kp_store_close(s);
}

static int sig_cb(void *ctx, const kp_store_signal_t *g) {
  double *sum = ctx;
  if (g->has_value) *sum += g->value;
  return 0;
}

KP_TEST(signals_upsert_and_range) {
  kp_store_t *s = open_tmp();
  kp_store_signal_t g[3] = {
    {"country", "KZ", "ping-slash24", 600, 600, 10, true},
    {"country", "KZ", "ping-slash24", 1200, 600, 20, true},
    {"country", "KZ", "ping-slash24", 600, 600, 15, true}, /* replaces the first */
  };
  KP_ASSERT_OK(kp_store_put_signals(s, g, 3));
  double sum = 0;
  KP_ASSERT_OK(kp_store_query_signals(s, "country", "KZ", NULL, 0, 10000, sig_cb, &sum));
  KP_ASSERT_NEAR(sum, 35, 1e-9);
  sum = 0;
  KP_ASSERT_OK(kp_store_query_signals(s, "country", "KZ", "bgp", 0, 10000, sig_cb, &sum));
  KP_ASSERT_NEAR(sum, 0, 1e-9);
  kp_store_close(s);
}

typedef struct ent_seen {
  int n;
  int64_t kz_min, kz_max;
  bool asn;
} ent_seen_t;

static int ent_cb(void *ctx, const kp_store_entity_t *e) {
  ent_seen_t *x = ctx;
  x->n++;
  if (strcmp(e->entity_type, "country") == 0 && strcmp(e->entity_code, "KZ") == 0) {
    x->kz_min = e->t_min;
    x->kz_max = e->t_max;
  }
  if (strcmp(e->entity_type, "asn") == 0 && strcmp(e->entity_code, "AS9198") == 0) x->asn = true;
  return 0;
}

KP_TEST(entities_listed_with_range) {
  kp_store_t *s = open_tmp();
  ent_seen_t x = {0};
  KP_ASSERT_OK(kp_store_list_entities(s, ent_cb, &x));
  KP_ASSERT_EQ(x.n, 0);
  kp_store_signal_t g[4] = {
    {"country", "KZ", "ping-slash24", 600, 600, 10, true},
    {"country", "KZ", "bgp", 3000, 300, 20, true},
    {"asn", "AS9198", "bgp", 900, 300, 5, true},
    {"country", "KZ", "ping-slash24", 1200, 600, 0, false},
  };
  KP_ASSERT_OK(kp_store_put_signals(s, g, 4));
  KP_ASSERT_OK(kp_store_list_entities(s, ent_cb, &x));
  KP_ASSERT_EQ(x.n, 2); /* one row per entity, whatever its datasources */
  KP_ASSERT_EQ(x.kz_min, 600);
  KP_ASSERT_EQ(x.kz_max, 3300); /* the last bin's end, across datasources */
  KP_ASSERT(x.asn);
  kp_store_close(s);
}

/* keepon chains: dedup per (key_id, hash), heads only over complete prefixes */
static kp_store_msm_t mkrec(const char *uid, const char *hash, const char *key, int64_t seq) {
  kp_store_msm_t m = mk(uid, hash, "KZ", 0, 0, 0, 1000 + seq);
  m.key_id = key, m.seq = seq, m.pubkey = "pk", m.sig = "sg", m.prev_hash = "p";
  return m;
}

typedef struct chain_seen {
  int n;
  int64_t seq[8];
  char uid[8][96];
} chain_seen_t;
static int chain_cb(void *ctx, const kp_store_msm_t *m) {
  chain_seen_t *x = ctx;
  if (x->n < 8) {
    x->seq[x->n] = m->seq;
    snprintf(x->uid[x->n], 96, "%s", m->uid);
  }
  x->n++;
  return 0;
}

KP_TEST(chain_dedup_per_key) {
  kp_store_t *s = open_tmp();
  kp_store_msm_t a = mkrec("uA1", "h1", "keyA", 1), b = mkrec("uB1", "h1", "keyB", 1);
  kp_store_put_result_t r;
  KP_ASSERT_OK(kp_store_put_batch(s, &a, 1, &r));
  KP_ASSERT(r.inserted);
  /* the same bytes signed by another key: a new chain position for that key, shared bytes */
  KP_ASSERT_OK(kp_store_put_batch(s, &b, 1, &r));
  KP_ASSERT_EQ(r.status, KP_OK);
  KP_ASSERT(r.inserted);
  KP_ASSERT_STREQ(r.uid, "uA1");
  /* a retry of B's record is the duplicate */
  KP_ASSERT_OK(kp_store_put_batch(s, &b, 1, &r));
  KP_ASSERT(!r.inserted);
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  f.order_seq = true;
  f.key_id = "keyB";
  chain_seen_t x = {0};
  KP_ASSERT_OK(kp_store_query(s, &f, chain_cb, &x));
  KP_ASSERT_EQ(x.n, 1);
  KP_ASSERT_EQ(x.seq[0], 1);
  int64_t n = 0;
  kp_store_filter_init(&f);
  KP_ASSERT_OK(kp_store_count(s, &f, &n));
  KP_ASSERT_EQ(n, 1); /* the measurement itself is stored once */
  kp_store_close(s);
}

static int head_cb(void *ctx, const kp_store_head_t *h) {
  *(int64_t *)ctx = h->seq;
  return 0;
}

KP_TEST(chain_heads_need_every_record) {
  kp_store_t *s = open_tmp();
  kp_store_msm_t m[3] = {mkrec("u1", "h1", "k", 1), mkrec("u2", "h2", "k", 2), mkrec("u4", "h4", "k", 4)};
  kp_store_put_result_t r[3];
  KP_ASSERT_OK(kp_store_put_batch(s, m, 3, r));
  kp_store_head_t h = {.key_id = "k", .head_hash = "h2", .pubkey = "pk", .sig = "sg", .seq = 2, .recv_time = 5};
  KP_ASSERT_OK(kp_store_put_head(s, &h));
  h.seq = 4, h.head_hash = "h4";
  KP_ASSERT_EQ(kp_store_put_head(s, &h), KP_ERR_NOTFOUND); /* seq 3 is not here */
  h.seq = 2, h.head_hash = "hX";
  KP_ASSERT_EQ(kp_store_put_head(s, &h), KP_ERR_EXISTS); /* record 2 is another one */
  h.seq = 1, h.head_hash = "h1";
  KP_ASSERT_OK(kp_store_put_head(s, &h)); /* lower: accepted, the kept head stays at 2 */
  int64_t kept = -1;
  KP_ASSERT_OK(kp_store_query_heads(s, "k", head_cb, &kept));
  KP_ASSERT_EQ(kept, 2);
  kp_store_close(s);
}

/* migration 3 on a v2 database: the chain rows come from the measurements' chain columns */
#include <sqlite3.h>
KP_TEST(chain_migration_copies_v2_rows) {
  char p[4096];
  snprintf(p, sizeof p, "%s/v2.db", kp_test_tmpdir());
  kp_store_t *s = NULL;
  KP_ASSERT_OK(kp_store_open(p, &s));
  kp_store_msm_t a = mkrec("u1", "h1", "k", 1), b = mkrec("u2", "h2", "k", 2);
  kp_store_put_result_t r;
  KP_ASSERT_OK(kp_store_put_batch(s, &a, 1, &r));
  KP_ASSERT_OK(kp_store_put_batch(s, &b, 1, &r));
  kp_store_close(s);
  sqlite3 *db = NULL; /* back to schema 2: no chain tables, chain data only in measurements */
  KP_ASSERT_EQ(sqlite3_open(p, &db), SQLITE_OK);
  KP_ASSERT_EQ(sqlite3_exec(db, "DROP TABLE chain; DROP TABLE chain_heads; DELETE FROM schema_migrations WHERE version=3;",
                            NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  KP_ASSERT_OK(kp_store_open(p, &s));
  KP_ASSERT_EQ(kp_store_schema_version(s), 3);
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  f.order_seq = true;
  f.key_id = "k";
  chain_seen_t x = {0};
  KP_ASSERT_OK(kp_store_query(s, &f, chain_cb, &x));
  KP_ASSERT_EQ(x.n, 2);
  KP_ASSERT_EQ(x.seq[1], 2);
  KP_ASSERT_STREQ(x.uid[1], "u2");
  kp_store_close(s);
}
