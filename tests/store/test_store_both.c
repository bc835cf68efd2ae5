/*
 * test_store_both.c: one suite over the kp_store_ops_t contract, run against SQLite (no
 * environment) and against ClickHouse (KP_STORE_URL=clickhouse://HOST:PORT/PREFIX[?cluster=..],
 * set by tests/store/ch_suite.sh, which starts the servers). Every test opens a fresh store:
 * a new SQLite file, or a new ClickHouse database PREFIX_<pid>_<n>.
 * answers_identical loads the same data into SQLite and into ClickHouse (KP_STORE_URL, required)
 * and compares every answer (listing, counts, aggregation over every axis pair and time grain,
 * chain-order listings, head checkpoints, signals, entities) byte for byte.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "kp_test.h"
#include "store/store.h"

static int g_n;

/* a fresh store of the backend under test (@p url gets its URL, for reopening) */
static kp_store_t *open_fresh(bool sqlite, char url[512]) {
  const char *base = getenv("KP_STORE_URL");
  if (sqlite || !base || !*base) {
    snprintf(url, 512, "sqlite:%s/s%d.db", kp_test_tmpdir(), g_n++);
  } else {
    const char *slash = strchr(base + 13, '/'), *qm = strchr(base, '?');
    KP_ASSERT(slash);
    int pre = (int)(qm ? qm - base : (long)strlen(base));
    snprintf(url, 512, "%.*s_%d_%d%s", pre, base, (int)getpid(), g_n++, qm ? qm : "");
  }
  kp_store_t *s = NULL;
  kp_status_t st = kp_store_open(url, &s);
  KP_ASSERT_MSG(st == KP_OK, "open %s: %s", url, kp_strstatus(st));
  return s;
}
static kp_store_t *fresh(void) {
  char url[512];
  return open_fresh(false, url);
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

KP_TEST(migrations_versioned_and_reopen) {
  char url[512];
  kp_store_t *s = open_fresh(false, url);
  int v = kp_store_schema_version(s);
  KP_ASSERT(v >= 2);
  kp_store_close(s);
  KP_ASSERT_OK(kp_store_open(url, &s)); /* re-running migrations is a no-op */
  KP_ASSERT_EQ(kp_store_schema_version(s), v);
  kp_store_close(s);
}

KP_TEST(dedup_by_content_hash) {
  kp_store_t *s = fresh();
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
  char uid[96];
  KP_ASSERT_OK(kp_store_find_hash(s, "h2", uid));
  KP_ASSERT_STREQ(uid, "u2");
  KP_ASSERT_EQ(kp_store_find_hash(s, "nope", uid), KP_ERR_NOTFOUND);
  int64_t n = 0;
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  KP_ASSERT_OK(kp_store_count(s, &f, &n));
  KP_ASSERT_EQ(n, 2);
  kp_store_close(s);
}

KP_TEST(chain_slot_conflict) {
  kp_store_t *s = fresh();
  kp_store_msm_t a = mk("u1", "h1", "IT", 0, 0, 0, 1000), b = mk("u2", "h2", "IT", 0, 0, 0, 1000),
                 c = mk("u3", "h3", "IT", 0, 0, 0, 1000);
  a.key_id = b.key_id = c.key_id = "k";
  a.pubkey = b.pubkey = c.pubkey = "pk", a.sig = b.sig = c.sig = "sg", a.prev_hash = b.prev_hash = c.prev_hash = "ph";
  a.seq = b.seq = 7;
  c.seq = 8;
  kp_store_put_result_t r[2];
  KP_ASSERT_OK(kp_store_put_batch(s, &a, 1, r));
  KP_ASSERT(r[0].inserted);
  KP_ASSERT_OK(kp_store_put_batch(s, &b, 1, r));
  KP_ASSERT(!r[0].inserted);
  KP_ASSERT_EQ(r[0].status, KP_ERR_EXISTS);
  kp_store_msm_t pair[2] = {c, c}; /* same slot twice in one batch, different content */
  pair[1].uid = "u4", pair[1].content_hash = "h4";
  KP_ASSERT_OK(kp_store_put_batch(s, pair, 2, r));
  KP_ASSERT(r[0].inserted);
  KP_ASSERT_EQ(r[1].status, KP_ERR_EXISTS);
  KP_ASSERT_OK(kp_store_put_batch(s, &a, 1, r)); /* the same content again: a duplicate, not a conflict */
  KP_ASSERT(!r[0].inserted);
  KP_ASSERT_EQ(r[0].status, KP_OK);
  KP_ASSERT_STREQ(r[0].uid, "u1");
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  f.key_id = "k";
  f.order_seq = true;
  int n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 2);
  kp_store_close(s);
}

/* one group commit as big as the collector's --batch default (8192): 8,192 distinct
 * measurements, half of them signed (one key, seq 1..4096), then the same batch again with new
 * uids -> all duplicates answering the first uids, count unchanged. On ClickHouse the dedup
 * lookups (content hashes, (key_id, seq)) once were SQL literal lists, which 18.16's
 * max_query_size (256 KiB) refused above ~3,900 hashes: every such batch failed (503). */
KP_TEST(big_batch_dedup) {
  enum { N = 8192 };
  kp_store_t *s = fresh();
  kp_store_msm_t *m = calloc(N, sizeof *m);
  kp_store_put_result_t *r = calloc(N, sizeof *r);
  char(*uid)[24] = calloc(N, sizeof *uid), (*uid2)[24] = calloc(N, sizeof *uid2), (*hash)[72] = calloc(N, sizeof *hash);
  KP_ASSERT(m && r && uid && uid2 && hash);
  for (int i = 0; i < N; i++) {
    snprintf(uid[i], sizeof uid[i], "bu%05d", i);
    snprintf(uid2[i], sizeof uid2[i], "bv%05d", i);
    snprintf(hash[i], sizeof hash[i], "%064x", (unsigned)(i * 2654435761u)); /* distinct: odd multiplier */
    m[i] = mk(uid[i], hash[i], "IT", i % 3 == 0, 0, 0, 1000 + i);
    if (i % 2) m[i].key_id = "0123456789abcdef0123456789abcdef", m[i].pubkey = "pk", m[i].sig = "sg",
               m[i].prev_hash = "ph", m[i].seq = i / 2 + 1;
  }
  KP_ASSERT_OK(kp_store_put_batch(s, m, N, r));
  for (int i = 0; i < N; i++) KP_ASSERT_MSG(r[i].inserted && r[i].status == KP_OK, "row %d not inserted", i);
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  int64_t c0 = 0, c1 = 0;
  KP_ASSERT_OK(kp_store_count(s, &f, &c0));
  KP_ASSERT_EQ(c0, N);
  for (int i = 0; i < N; i++) m[i].uid = uid2[i];
  KP_ASSERT_OK(kp_store_put_batch(s, m, N, r));
  for (int i = 0; i < N; i++) {
    KP_ASSERT_MSG(!r[i].inserted && r[i].status == KP_OK, "row %d: not a duplicate", i);
    KP_ASSERT_STREQ(r[i].uid, uid[i]);
  }
  KP_ASSERT_OK(kp_store_count(s, &f, &c1));
  KP_ASSERT_EQ(c1, c0);
  kp_store_close(s);
  free(m), free(r), free(uid), free(uid2), free(hash);
}

static int head_seq_cb(void *ctx, const kp_store_head_t *h) {
  *(int64_t *)ctx = h->seq;
  return 0;
}
static int head_dump_cb(void *ctx, const kp_store_head_t *h) {
  kp_buf_printf(ctx, "%s@%lld=%s/%s/%s/%lld;", h->key_id, (long long)h->seq, h->head_hash, h->pubkey, h->sig,
                (long long)h->recv_time);
  return 0;
}

static kp_store_msm_t signed_mk(const char *uid, const char *hash, const char *key, int64_t seq) {
  kp_store_msm_t m = mk(uid, hash, "IT", 0, 0, 0, 1000);
  m.key_id = key, m.pubkey = "pk", m.sig = "sg", m.prev_hash = "ph", m.seq = seq;
  return m;
}

/* head checkpoints (evidence, docs/evidence.md), the same on both backends: a head is kept
 * only over records 1..seq all stored with record seq hashing to it; heads only move forward */
KP_TEST(chain_heads) {
  kp_store_t *s = fresh();
  kp_store_msm_t ab[3] = {signed_mk("u1", "h1", "k", 1), signed_mk("u2", "h2", "k", 2), signed_mk("u3", "h3", "k", 4)};
  kp_store_put_result_t r[3];
  KP_ASSERT_OK(kp_store_put_batch(s, ab, 3, r));
  int64_t kept = -1;
  KP_ASSERT_OK(kp_store_query_heads(s, "k", head_seq_cb, &kept));
  KP_ASSERT_EQ(kept, -1); /* none yet */
  kp_store_head_t h = {.key_id = "k", .head_hash = "h2", .pubkey = "pk", .sig = "sg", .seq = 2, .recv_time = 5};
  KP_ASSERT_OK(kp_store_put_head(s, &h));
  h.seq = 3, h.head_hash = "h3"; /* seq 3 is missing */
  KP_ASSERT_EQ(kp_store_put_head(s, &h), KP_ERR_NOTFOUND);
  h.seq = 4, h.head_hash = "h3"; /* 1..4 are not all there either */
  KP_ASSERT_EQ(kp_store_put_head(s, &h), KP_ERR_NOTFOUND);
  h.seq = 2, h.head_hash = "h9"; /* record 2 is another one */
  KP_ASSERT_EQ(kp_store_put_head(s, &h), KP_ERR_EXISTS);
  h.seq = 1, h.head_hash = "h1", h.sig = "older"; /* lower than the kept head: accepted, no change */
  KP_ASSERT_OK(kp_store_put_head(s, &h));
  kp_store_msm_t third = signed_mk("u5", "h5", "k", 3);
  KP_ASSERT_OK(kp_store_put_batch(s, &third, 1, r));
  h.seq = 4, h.head_hash = "h3", h.sig = "s4", h.recv_time = 9; /* now 1..4 are stored */
  KP_ASSERT_OK(kp_store_put_head(s, &h));
  kp_store_msm_t other = signed_mk("u6", "h6", "k2", 1);
  KP_ASSERT_OK(kp_store_put_batch(s, &other, 1, r));
  kp_store_head_t h2 = {.key_id = "k2", .head_hash = "h6", .pubkey = "pk2", .sig = "sg2", .seq = 1, .recv_time = 7};
  KP_ASSERT_OK(kp_store_put_head(s, &h2));
  KP_ASSERT_OK(kp_store_query_heads(s, "k", head_seq_cb, &kept));
  KP_ASSERT_EQ(kept, 4);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  KP_ASSERT_OK(kp_store_query_heads(s, NULL, head_dump_cb, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "k@4=h3/pk/s4/9;k2@1=h6/pk2/sg2/7;");
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_store_query_heads(s, "nokey", head_dump_cb, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "");
  kp_buf_free(&b);
  kp_store_close(s);
}

static int chain_dump(void *ctx, const kp_store_msm_t *m) {
  kp_buf_printf(ctx, "%s/%lld:%s:%s:%.*s;", m->key_id ? m->key_id : "-", (long long)m->seq, m->uid, m->content_hash,
                (int)m->body_len, m->body ? m->body : "");
  return 0;
}
static void chain_of(kp_store_t *s, const char *key, kp_buf_t *b) {
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  f.key_id = key;
  f.order_seq = f.keyed_only = f.with_body = true;
  kp_buf_reset(b);
  KP_ASSERT_OK(kp_store_query(s, &f, chain_dump, b));
}

/* the same bytes signed by two keys: each key keeps its chain position (dedup per
 * (key_id, hash)), the bytes are stored once, under the uid stored first */
KP_TEST(chain_dedup_per_key) {
  kp_store_t *s = fresh();
  kp_store_msm_t a = signed_mk("u1", "h1", "ka", 1), b = signed_mk("u2", "h1", "kb", 1);
  a.body = "{\"x\":1}", a.body_len = 7, b.body = a.body, b.body_len = 7;
  kp_store_put_result_t r[3];
  KP_ASSERT_OK(kp_store_put_batch(s, &a, 1, r));
  KP_ASSERT_OK(kp_store_put_batch(s, &b, 1, r));
  KP_ASSERT(r[0].inserted);        /* kb's chain got its row */
  KP_ASSERT_EQ(r[0].status, KP_OK);
  KP_ASSERT_STREQ(r[0].uid, "u1"); /* the bytes are the ones stored first */
  KP_ASSERT_OK(kp_store_put_batch(s, &b, 1, r)); /* kb's retry: a duplicate */
  KP_ASSERT(!r[0].inserted);
  KP_ASSERT_EQ(r[0].status, KP_OK);
  KP_ASSERT_STREQ(r[0].uid, "u1");
  kp_store_msm_t b2 = signed_mk("u3", "h2", "kb", 1); /* other bytes at kb's seq 1 */
  KP_ASSERT_OK(kp_store_put_batch(s, &b2, 1, r));
  KP_ASSERT_EQ(r[0].status, KP_ERR_EXISTS);
  kp_buf_t l;
  kp_buf_init(&l, 1 << 16);
  chain_of(s, "kb", &l);
  KP_ASSERT_STREQ(kp_buf_str(&l), "kb/1:u1:h1:{\"x\":1};");
  chain_of(s, "ka", &l);
  KP_ASSERT_STREQ(kp_buf_str(&l), "ka/1:u1:h1:{\"x\":1};");

  /* bytes an unsigned (OONI) upload stored first, then signed; and within one batch: new
   * bytes under kc, the same bytes under kd, kd again (a duplicate), other bytes at kd/1 */
  kp_store_msm_t o = mk("u10", "h10", "KZ", 1, 0, 0, 2000), c = signed_mk("u11", "h10", "kc", 1);
  o.body = "{\"o\":1}", o.body_len = 7;
  KP_ASSERT_OK(kp_store_put_batch(s, &o, 1, r));
  KP_ASSERT_OK(kp_store_put_batch(s, &c, 1, r));
  KP_ASSERT(r[0].inserted);
  KP_ASSERT_STREQ(r[0].uid, "u10");
  chain_of(s, "kc", &l);
  KP_ASSERT_STREQ(kp_buf_str(&l), "kc/1:u10:h10:{\"o\":1};");
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  f.order_seq = true, f.probe_cc = "KZ"; /* chain rows carry the stored bytes' columns */
  int n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 1);
  kp_store_msm_t batch[4] = {signed_mk("u20", "h20", "kc", 2), signed_mk("u21", "h20", "kd", 1),
                             signed_mk("u22", "h20", "kd", 1), signed_mk("u23", "h23", "kd", 1)};
  batch[0].body = "{\"b\":2}", batch[0].body_len = 7;
  kp_store_put_result_t rb[4];
  KP_ASSERT_OK(kp_store_put_batch(s, batch, 4, rb));
  KP_ASSERT(rb[0].inserted && rb[1].inserted && !rb[2].inserted && !rb[3].inserted);
  KP_ASSERT_STREQ(rb[1].uid, "u20");
  KP_ASSERT_STREQ(rb[2].uid, "u20");
  KP_ASSERT_EQ(rb[2].status, KP_OK);
  KP_ASSERT_EQ(rb[3].status, KP_ERR_EXISTS);
  chain_of(s, "kd", &l);
  KP_ASSERT_STREQ(kp_buf_str(&l), "kd/1:u20:h20:{\"b\":2};");
  chain_of(s, NULL, &l); /* every chain, in (key_id, seq) order */
  KP_ASSERT_STREQ(kp_buf_str(&l), "ka/1:u1:h1:{\"x\":1};kb/1:u1:h1:{\"x\":1};kc/1:u10:h10:{\"o\":1};"
                                  "kc/2:u20:h20:{\"b\":2};kd/1:u20:h20:{\"b\":2};");
  int64_t cnt = 0;
  kp_store_filter_init(&f);
  KP_ASSERT_OK(kp_store_count(s, &f, &cnt));
  KP_ASSERT_EQ(cnt, 3); /* the bytes once each: h1, h10, h20 */
  kp_store_head_t h = {.key_id = "kb", .head_hash = "h1", .pubkey = "pk", .sig = "sg", .seq = 1, .recv_time = 5};
  KP_ASSERT_OK(kp_store_put_head(s, &h)); /* kb's chain has no hole */
  kp_buf_free(&l);
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
  kp_store_t *s = fresh();
  kp_store_msm_t m[5] = {
    mk("u1", "h1", "IT", 0, 0, 0, 86400 * 10), mk("u2", "h2", "IT", 1, 0, 0, 86400 * 10),
    mk("u3", "h3", "IT", 1, 1, 0, 86400 * 11), mk("u4", "h4", "KZ", 1, 0, 1, 86400 * 11),
    mk("u5", "h5", "KZ", 0, 0, 0, 86400 * 12)};
  m[4].probe_asn = "AS9198";
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
  f.probe_asn = "AS9198";
  n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 1);
  f.probe_asn = "AS9198' OR 1=1 --";
  n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 0);
  kp_store_filter_init(&f);
  f.probe_cc = "I'T\\";
  n = 0;
  KP_ASSERT_OK(kp_store_query(s, &f, count_cb, &n));
  KP_ASSERT_EQ(n, 0);

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

typedef struct lst {
  kp_buf_t b;
} lst_t;
static int list_cb(void *ctx, const kp_store_msm_t *m) {
  lst_t *l = ctx;
  kp_buf_printf(&l->b, "%s|", m->uid);
  return 0;
}

typedef struct got {
  char body[256];
  size_t n;
  bool null_input, null_rid;
} got_t;
static int body_cb(void *ctx, const kp_store_msm_t *m) {
  got_t *g = ctx;
  g->n = m->body_len < sizeof g->body ? m->body_len : sizeof g->body;
  memcpy(g->body, m->body, g->n);
  g->null_input = m->input == NULL;
  g->null_rid = m->report_id == NULL;
  return 0;
}

KP_TEST(listing_order_pages_and_body) {
  kp_store_t *s = fresh();
  static const char body[] = "{\"a\":\"tab\\there\",\"nl\":\"x\ny\",\"bs\":\"\\\\\",\"q\":\"'\",\"u\":\"\xc3\xa9\xe2\x82\xac\"}\t\n";
  kp_store_msm_t m[4] = {mk("u1", "h1", "IT", 0, 0, 0, 500), mk("u2", "h2", "IT", 0, 0, 0, 700),
                         mk("u3", "h3", "IT", 0, 0, 0, 500), mk("u4", "h4", "IT", 0, 0, 0, 600)};
  m[2].body = body, m[2].body_len = sizeof body - 1;
  m[2].input = NULL, m[2].domain = NULL, m[2].report_id = NULL;
  kp_store_put_result_t r[4];
  KP_ASSERT_OK(kp_store_put_batch(s, m, 2, r));
  KP_ASSERT_OK(kp_store_put_batch(s, m + 2, 2, r));
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  lst_t l;
  kp_buf_init(&l.b, 1 << 20);
  KP_ASSERT_OK(kp_store_query(s, &f, list_cb, &l));
  KP_ASSERT_STREQ(kp_buf_str(&l.b), "u2|u4|u3|u1|"); /* newest first; a tie: the later insert first */
  kp_buf_reset(&l.b);
  f.limit = 2, f.offset = 1;
  KP_ASSERT_OK(kp_store_query(s, &f, list_cb, &l));
  KP_ASSERT_STREQ(kp_buf_str(&l.b), "u4|u3|");
  kp_buf_free(&l.b);
  kp_store_filter_init(&f);
  f.with_body = true;
  f.since = 500, f.until = 501;
  f.limit = 1;
  got_t g = {0};
  KP_ASSERT_OK(kp_store_query(s, &f, body_cb, &g));
  KP_ASSERT_EQ(g.n, sizeof body - 1);
  KP_ASSERT(memcmp(g.body, body, g.n) == 0);
  KP_ASSERT(g.null_input && g.null_rid);
  kp_store_close(s);
}

/* Bodies travel to ClickHouse as RowBinary (a LEB128 length, then the bytes): lengths on
 * either side of the 1-, 2- and 3-byte length boundaries, every byte value but NUL (the
 * collector takes JSON only; the listing answers C strings), read back byte for byte. */
typedef struct bodies {
  const char *want[8];
  size_t len[8], n, bad;
} bodies_t;
static int bodies_cb(void *ctx, const kp_store_msm_t *m) {
  bodies_t *b = ctx;
  int i = m->uid[1] - '0'; /* uid "bI" */
  if (i < 0 || i >= 8 || m->body_len != b->len[i] ||
      (b->len[i] && memcmp(m->body, b->want[i], b->len[i]) != 0)) /* an empty body may be NULL */
    b->bad++;
  b->n++;
  return 0;
}

KP_TEST(body_bytes_and_lengths) {
  kp_store_t *s = fresh();
  static const size_t lens[] = {0, 1, 127, 128, 16383, 16384, 70001};
  enum { N = sizeof lens / sizeof lens[0] };
  static char uid[N][4], hash[N][4];
  char *buf[N];
  kp_store_msm_t m[N];
  bodies_t b = {.n = 0};
  for (size_t i = 0; i < N; i++) {
    buf[i] = malloc(lens[i] + 1);
    KP_ASSERT(buf[i]);
    for (size_t j = 0; j < lens[i]; j++) buf[i][j] = (char)(1 + (j * 7 + i) % 255);
    buf[i][lens[i]] = 0;
    snprintf(uid[i], sizeof uid[i], "b%zu", i);
    snprintf(hash[i], sizeof hash[i], "h%zu", i);
    m[i] = mk(uid[i], hash[i], "IT", 0, 0, 0, 1000 + (int64_t)i);
    m[i].body = buf[i], m[i].body_len = lens[i];
    b.want[i] = buf[i], b.len[i] = lens[i];
  }
  kp_store_put_result_t r[N];
  KP_ASSERT_OK(kp_store_put_batch(s, m, N, r));
  for (size_t i = 0; i < N; i++) KP_ASSERT(r[i].inserted);
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  f.with_body = true;
  KP_ASSERT_OK(kp_store_query(s, &f, bodies_cb, &b));
  KP_ASSERT_EQ(b.n, (size_t)N);
  KP_ASSERT_EQ(b.bad, (size_t)0);
  for (size_t i = 0; i < N; i++) free(buf[i]);
  kp_store_close(s);
}

static int sig_cb(void *ctx, const kp_store_signal_t *g) {
  kp_buf_t *b = ctx;
  if (g->has_value) kp_buf_printf(b, "%s/%s/%s@%lld+%lld=%.17g;", g->entity_type, g->entity_code, g->datasource,
                                  (long long)g->t, (long long)g->step, g->value);
  else kp_buf_printf(b, "%s/%s/%s@%lld+%lld=null;", g->entity_type, g->entity_code, g->datasource, (long long)g->t,
                     (long long)g->step);
  return 0;
}
static int ent_cb(void *ctx, const kp_store_entity_t *e) {
  kp_buf_printf(ctx, "%s/%s[%lld,%lld);", e->entity_type, e->entity_code, (long long)e->t_min, (long long)e->t_max);
  return 0;
}

KP_TEST(signals_upsert_range_and_entities) {
  kp_store_t *s = fresh();
  kp_store_signal_t g[4] = {
    {"country", "KZ", "ping-slash24", 600, 600, 10, true},
    {"country", "KZ", "ping-slash24", 1200, 600, 20, true},
    {"country", "KZ", "ping-slash24", 600, 600, 15, true}, /* replaces the first */
    {"asn", "AS9198", "bgp", 600, 300, 0, false},
  };
  KP_ASSERT_OK(kp_store_put_signals(s, g, 4));
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT_OK(kp_store_query_signals(s, "country", "KZ", NULL, 0, 10000, sig_cb, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "country/KZ/ping-slash24@600+600=15;country/KZ/ping-slash24@1200+600=20;");
  kp_store_signal_t later = {"country", "KZ", "ping-slash24", 1200, 600, 0.1, true}; /* a later batch wins too */
  KP_ASSERT_OK(kp_store_put_signals(s, &later, 1));
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_store_query_signals(s, "country", "KZ", "ping-slash24", 1000, 1300, sig_cb, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "country/KZ/ping-slash24@1200+600=0.10000000000000001;");
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_store_query_signals(s, "country", "KZ", "bgp", 0, 10000, sig_cb, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "");
  KP_ASSERT_OK(kp_store_query_signals(s, "asn", "AS9198", NULL, 0, 10000, sig_cb, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "asn/AS9198/bgp@600+300=null;");
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_store_list_entities(s, ent_cb, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "asn/AS9198[600,900);country/KZ[600,1800);");
  kp_buf_free(&b);
  kp_store_close(s);
}

/* ---- the same data in both backends, every answer compared ---- */

static int dump_msm(void *ctx, const kp_store_msm_t *m) {
  kp_buf_printf(ctx, "%s|%s|%s|%s|%s|%s|%s|%s|%lld|%lld|%d%d%d|%s|%s|%s|%s|%s|%lld|%.*s\n", m->uid, m->content_hash,
                m->report_id ? m->report_id : "(null)", m->probe_cc, m->probe_asn, m->test_name,
                m->input ? m->input : "(null)", m->domain ? m->domain : "(null)", (long long)m->start_time,
                (long long)m->recv_time, m->anomaly, m->confirmed, m->failure, m->blocking_type,
                m->key_id ? m->key_id : "(null)", m->pubkey ? m->pubkey : "(null)", m->sig ? m->sig : "(null)",
                m->prev_hash ? m->prev_hash : "(null)", (long long)m->seq, (int)m->body_len,
                m->body ? m->body : "");
  return 0;
}
static int dump_agg(void *ctx, const kp_store_agg_row_t *r) {
  kp_buf_printf(ctx, "%s|%s|%lld %lld %lld %lld %lld\n", r->x ? r->x : "(null)", r->y ? r->y : "(null)",
                (long long)r->anomaly_count, (long long)r->confirmed_count, (long long)r->failure_count,
                (long long)r->ok_count, (long long)r->measurement_count);
  return 0;
}

static void load(kp_store_t *s) {
  static const char *const cc[] = {"IT", "KZ", "IR", "RU", "MM"};
  static const char *const tn[] = {"web_connectivity", "signal", "telegram", "whatsapp"};
  static const char *const bt[] = {"", "dns", "tcp_ip", "http-diff"};
  enum { N = 3000, B = 500 };
  static char uid[N][32], hash[N][32], inp[N][48], dom[N][24], asn[N][12], body[N][96], key[N][8];
  kp_store_msm_t m[B];
  kp_store_put_result_t r[B];
  uint32_t x = 12345;
  for (int i = 0; i < N; i++) {
    x = x * 1103515245u + 12345u;
    uint32_t v = x >> 8;
    snprintf(uid[i], sizeof uid[i], "u%05d", i);
    /* some duplicates; some signed rows repeat an earlier row's bytes (a signed row's, under
     * another key or another seq, or an unsigned one's): a new chain row over stored bytes */
    if (i && i % 22 == 0) snprintf(hash[i], sizeof hash[i], "%s", hash[i - 11]);
    else if (i && i % 77 == 0) snprintf(hash[i], sizeof hash[i], "%s", hash[i - 1]);
    else snprintf(hash[i], sizeof hash[i], "h%05d", i % 7 == 3 && i % 11 != 0 ? i - 1 : i);
    snprintf(dom[i], sizeof dom[i], "d%u.example", v % 40);
    snprintf(inp[i], sizeof inp[i], "https://d%u.example/%u", v % 40, v % 3);
    snprintf(asn[i], sizeof asn[i], "AS%u", 100 + v % 9);
    snprintf(key[i], sizeof key[i], "k%u", v % 3);
    snprintf(body[i], sizeof body[i], "{\"i\":%d,\"t\":\"a\\tb\"}", i);
    kp_store_msm_t *o = &m[i % B];
    *o = mk(uid[i], hash[i], cc[v % 5], (v >> 3) % 3 == 0, (v >> 5) % 5 == 0, (v >> 7) % 7 == 0,
            1640995200 + (int64_t)(v % (86400 * 40)));
    o->probe_asn = asn[i];
    o->test_name = tn[(v >> 9) % 4];
    o->blocking_type = bt[(v >> 11) % 4];
    o->input = (v >> 13) % 10 == 0 ? NULL : inp[i];
    o->domain = o->input ? dom[i] : NULL;
    o->report_id = (v >> 14) % 9 == 0 ? NULL : "rep";
    o->recv_time = o->start_time + 5;
    o->body = body[i], o->body_len = strlen(body[i]);
    if (i % 11 == 0) { /* signed: chain slots (key, i), some colliding */
      o->key_id = key[i], o->pubkey = "pk", o->sig = "sig", o->prev_hash = "prev";
      o->seq = i % 33 == 0 ? 0 : i;
    }
    if (i % B == B - 1) KP_ASSERT_OK(kp_store_put_batch(s, m, B, r));
  }
  /* a contiguous chain for head checkpoints: key kh, seq 1..20, every third record over bytes
   * stored above */
  static char khu[20][16], khh[20][16];
  for (int q = 0; q < 20; q++) {
    snprintf(khu[q], sizeof khu[q], "kh%02d", q + 1);
    if (q % 3 == 0) snprintf(khh[q], sizeof khh[q], "%.15s", hash[q * 97]);
    else snprintf(khh[q], sizeof khh[q], "hk%02d", q + 1);
    m[q] = mk(khu[q], khh[q], "RU", 0, 0, 0, 1640995200 + q * 600);
    m[q].key_id = "kh", m[q].pubkey = "pk", m[q].sig = "sig", m[q].prev_hash = "prev", m[q].seq = q + 1;
  }
  KP_ASSERT_OK(kp_store_put_batch(s, m, 12, r));
  KP_ASSERT_OK(kp_store_put_batch(s, m + 12, 8, r));
  kp_store_signal_t g[2000];
  int k = 0;
  for (int e = 0; e < 20; e++)
    for (int t = 0; t < 100; t++) {
      static char code[20][8];
      snprintf(code[e], sizeof code[e], "C%02d", e);
      g[k++] = (kp_store_signal_t){e % 2 ? "country" : "asn", code[e], t % 3 ? "ping" : "bgp",
                                   1640995200 + t * 300, 300, (e * 100 + t) / 7.0, t % 13 != 0};
    }
  KP_ASSERT_OK(kp_store_put_signals(s, g, 1000));
  KP_ASSERT_OK(kp_store_put_signals(s, g + 500, 1500)); /* 500 points posted twice */
}

static void answers(kp_store_t *s, kp_buf_t *b) {
  kp_store_filter_t f;
  static const char *const axes[] = {NULL, "measurement_start_day", "probe_cc", "probe_asn", "test_name",
                                     "domain", "input", "blocking_type"};
  static const char *const grains[] = {"hour", "day", "week", "month", "year"};
  for (int q = 0; q < 8; q++) {
    kp_store_filter_init(&f);
    f.with_body = q % 2;
    if (q == 1) f.probe_cc = "KZ", f.anomaly = 1;
    if (q == 2) f.test_name = "signal", f.since = 1641600000, f.until = 1642600000, f.limit = 50, f.offset = 10;
    if (q == 3) f.probe_asn = "AS104", f.confirmed = 0, f.failure = 1;
    if (q == 4) f.domain = "d7.example";
    if (q == 5) f.key_id = "k1", f.order_seq = true;
    if (q == 6) f.order_seq = true, f.limit = 100;
    if (q == 7) f.input = "https://d3.example/2", f.limit = 3;
    kp_buf_printf(b, "== query %d\n", q);
    KP_ASSERT_OK(kp_store_query(s, &f, dump_msm, b));
    int64_t n = -1;
    KP_ASSERT_OK(kp_store_count(s, &f, &n));
    kp_buf_printf(b, "count %lld\n", (long long)n);
  }
  for (int x = 0; x < 8; x++)
    for (int y = 0; y < 8; y++) {
      if (x == y && x) continue;
      for (int gr = 0; gr < 5; gr++) {
        if (gr != 1 && (!axes[x] || strcmp(axes[x], "measurement_start_day")) &&
            (!axes[y] || strcmp(axes[y], "measurement_start_day")))
          continue;
        kp_store_filter_init(&f);
        if ((x + y) % 3 == 0) f.test_name = "web_connectivity";
        kp_store_agg_t a = {axes[x], axes[y], grains[gr]};
        kp_buf_printf(b, "== agg %s %s %s\n", axes[x] ? axes[x] : "-", axes[y] ? axes[y] : "-", grains[gr]);
        KP_ASSERT_OK(kp_store_aggregate(s, &f, &a, dump_agg, b));
      }
    }
  for (int e = 0; e < 20; e++) {
    char code[8];
    snprintf(code, sizeof code, "C%02d", e);
    kp_buf_printf(b, "== signals %s\n", code);
    KP_ASSERT_OK(kp_store_query_signals(s, e % 2 ? "country" : "asn", code, e % 4 ? NULL : "ping", 1640995200 + 3000,
                                        1640995200 + 27000, sig_cb, b));
  }
  kp_buf_puts(b, "== entities\n");
  KP_ASSERT_OK(kp_store_list_entities(s, ent_cb, b));
  kp_buf_puts(b, "== heads\n"); /* statuses of a sequence of puts, then the kept heads */
  static const struct { const char *key, *hash; int64_t seq; } hs[] = {
    {"kh", "hk05", 5}, {"kh", "hk20", 20}, {"kh", "hk21", 21}, {"kh", "hk02", 3}, {"kh", "hk03", 3},
    {"k1", "h00022", 22}, {"kh", "hk08", 8}};
  for (size_t i = 0; i < sizeof hs / sizeof *hs; i++) {
    kp_store_head_t h = {.key_id = hs[i].key, .head_hash = hs[i].hash, .pubkey = "pk", .sig = "sg", .seq = hs[i].seq,
                         .recv_time = 100 + (int64_t)i};
    kp_buf_printf(b, "put %s@%lld %s\n", hs[i].key, (long long)hs[i].seq, kp_strstatus(kp_store_put_head(s, &h)));
  }
  KP_ASSERT_OK(kp_store_query_heads(s, NULL, head_dump_cb, b));
}

/* needs KP_STORE_URL (a ClickHouse store): ch_suite.sh runs it; the ctest entry store_both
 * (SQLite only) excludes it with --exclude, so without the URL it is a failure, not a skip */
KP_TEST(answers_identical) {
  const char *base = getenv("KP_STORE_URL");
  KP_ASSERT_MSG(base && *base, "KP_STORE_URL unset: run through tests/store/ch_suite.sh");
  char url[512];
  kp_store_t *sq = open_fresh(true, url), *ch = open_fresh(false, url);
  load(sq);
  load(ch);
  kp_buf_t a, b;
  kp_buf_init(&a, 256 << 20);
  kp_buf_init(&b, 256 << 20);
  answers(sq, &a);
  answers(ch, &b);
  KP_ASSERT(a.len > 100000); /* the comparison is over real answers */
  if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
    size_t i = 0;
    while (i < a.len && i < b.len && a.data[i] == b.data[i]) i++;
    size_t from = i > 300 ? i - 300 : 0;
    KP_FAIL_AT("answers differ at byte %zu of %zu/%zu:\nsqlite: %.400s\nclickhouse: %.400s", i, a.len, b.len,
               (const char *)a.data + from, (const char *)b.data + from);
  }
  fprintf(stderr, "  %zu bytes of answers identical\n", a.len);
  kp_buf_free(&a);
  kp_buf_free(&b);
  kp_store_close(sq);
  kp_store_close(ch);
}
