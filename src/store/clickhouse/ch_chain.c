/*
 * ch_chain.c: keepon's evidence chains on ClickHouse (schema migration 4): chain rows per
 * (key_id, seq), chain-order listings, and signed head checkpoints -- what sqlite_store.c
 * keeps in `chain` and `chain_heads`, with the same answers (tests/store/test_store_both.c).
 *
 * chain rows: a signed record whose measurement bytes are new gets its chain row from
 * chain_mv inside the measurements INSERT (ch_schema.c). One whose bytes are already stored
 * -- by another key, by an unsigned OONI upload, or earlier in the same batch -- gets a row
 * written here (kp_ch_chain_write), pointing at the stored uid and carrying the stored
 * measurement's index columns (fetched by uid, or taken from the batch row that sends them):
 * a chain-order listing is then exactly SQLite's `chain JOIN measurements`.
 * Re-sending a chain row is harmless: identical rows fold (ORDER BY key_id, seq,
 * content_hash) and every read takes one row per (key_id, seq) (LIMIT 1 BY, first by
 * ingest_seq), so the INSERT is simply retried.
 *
 * Head checkpoints (state per key):  none --put(seq=N, records 1..N present, record N
 * hashes to H)--> N --put(M > N, same check)--> M.  A put with M <= N changes nothing and
 * succeeds (heads only move forward); a failed check changes nothing (KP_ERR_NOTFOUND:
 * records missing, KP_ERR_EXISTS: record N is another one). chain_heads is
 * ReplacingMergeTree(seq) by key_id and reads take argMax(..., seq), so the answer is the
 * highest head also before a merge.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/log.h"
#include "store/clickhouse/ch_internal.h"

#define CHAIN_COLS                                                                                    \
  "key_id,seq,content_hash,measurement_uid,prev_hash,pubkey,sig,recv_time,ingest_seq,report_id,"      \
  "input,probe_cc,probe_asn,test_name,measurement_start_time,anomaly,confirmed,msm_failure,domain,"   \
  "blocking_type"
#define IN_CHUNK 1000 /* literals per IN (...) list: well inside max_query_size */

/* the stored measurement's index columns, as fetched by uid (strings point into an answer) */
typedef struct stored {
  const char *uid, *report_id, *input, *probe_cc, *test_name, *domain, *blocking_type;
  uint32_t asn;
  int64_t start_time;
  bool anomaly, confirmed, failure;
} stored_t;

static int by_uid(const void *a, const void *b) { return strcmp(((const stored_t *)a)->uid, ((const stored_t *)b)->uid); }

static void chain_json(kp_jw_t *w, const kp_store_msm_t *r, const char *uid, const stored_t *m, uint64_t seq) {
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "key_id", r->key_id);
  kp_jw_kint(w, "seq", r->seq);
  kp_jw_kstr(w, "content_hash", r->content_hash);
  kp_jw_kstr(w, "measurement_uid", uid);
  kp_jw_kstr(w, "prev_hash", r->prev_hash ? r->prev_hash : "");
  kp_jw_kstr(w, "pubkey", r->pubkey ? r->pubkey : "");
  kp_jw_kstr(w, "sig", r->sig ? r->sig : "");
  kp_jw_kint(w, "recv_time", kp_ch_clamp_time(r->recv_time));
  kp_jw_key(w, "ingest_seq");
  kp_jw_uint(w, seq);
  kp_jw_kstr(w, "report_id", m->report_id);
  kp_jw_kstr(w, "input", m->input);
  kp_jw_kstr(w, "probe_cc", m->probe_cc);
  kp_jw_kint(w, "probe_asn", m->asn);
  kp_jw_kstr(w, "test_name", m->test_name);
  kp_jw_kint(w, "measurement_start_time", kp_ch_clamp_time(m->start_time));
  kp_jw_kint(w, "anomaly", m->anomaly);
  kp_jw_kint(w, "confirmed", m->confirmed);
  kp_jw_kint(w, "msm_failure", m->failure);
  kp_jw_kstr(w, "domain", m->domain);
  kp_jw_kstr(w, "blocking_type", m->blocking_type);
  kp_jw_obj_end(w);
}

/* the index columns of stored measurements by uid, sorted by uid into @p out[*n] (strings
 * point into @p ans). A uid repeated by a re-sent identical row is answered once. */
static kp_status_t fetch_stored(kp_ch_store_t *s, const kp_ch_chain_new_t *c, size_t n, kp_buf_t *ans,
                                stored_t *out, size_t *nout) {
  kp_buf_t sql;
  kp_buf_init(&sql, (size_t)64 << 20);
  kp_status_t st = kp_buf_printf(&sql,
                                 "SELECT measurement_uid, report_id, input, probe_cc, probe_asn, test_name,"
                                 " toInt64(measurement_start_time), anomaly, confirmed, msm_failure, domain,"
                                 " blocking_type FROM %s.measurements WHERE measurement_uid IN (", s->u.db);
  size_t k = 0;
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    if (c[i].bytes) continue;
    if (k++) st = kp_buf_putc(&sql, ',');
    if (st == KP_OK) st = kp_ch_q_str(&sql, c[i].uid);
  }
  *nout = 0;
  if (st == KP_OK && k)
    if ((st = kp_buf_puts(&sql, ") LIMIT 1 BY measurement_uid FORMAT TabSeparated")) == KP_OK)
      st = kp_ch_http_post(s->node[0], "", sql.data, sql.len, ans);
  kp_buf_free(&sql);
  size_t off = 0;
  kp_ch_row_t r;
  while (st == KP_OK && k && (st = kp_ch_tsv_next(ans->data, ans->len, &off, &r)) == KP_OK) {
    if (r.ncol != 12 || *nout >= n) return KP_ERR_INVAL;
    out[(*nout)++] = (stored_t){.uid = r.col[0], .report_id = r.col[1], .input = r.col[2], .probe_cc = r.col[3],
                                .asn = (uint32_t)strtoul(r.col[4], NULL, 10), .test_name = r.col[5],
                                .start_time = strtoll(r.col[6], NULL, 10), .anomaly = r.col[7][0] == '1',
                                .confirmed = r.col[8][0] == '1', .failure = r.col[9][0] == '1', .domain = r.col[10],
                                .blocking_type = r.col[11]};
  }
  if (st == KP_ERR_NOTFOUND) st = KP_OK;
  if (st == KP_OK) qsort(out, *nout, sizeof *out, by_uid);
  return st;
}

kp_status_t kp_ch_chain_write(kp_ch_store_t *s, const kp_ch_chain_new_t *c, size_t n) {
  if (!n) return KP_OK;
  stored_t *got = calloc(n, sizeof *got);
  kp_buf_t ans, rows;
  kp_buf_init(&ans, (size_t)1 << 30);
  kp_buf_init(&rows, (size_t)1 << 30);
  size_t ngot = 0;
  kp_status_t st = got ? KP_OK : KP_ERR_NOMEM;
  for (size_t i = 0; i < n && st == KP_OK; i += IN_CHUNK) { /* fetch in chunks, build rows per chunk */
    size_t m = n - i < IN_CHUNK ? n - i : IN_CHUNK;
    if ((st = fetch_stored(s, c + i, m, &ans, got, &ngot)) != KP_OK) break;
    for (size_t j = i; j < i + m && st == KP_OK; j++) {
      stored_t own, key = {.uid = c[j].uid}, *hit = NULL;
      if (c[j].bytes) { /* sent earlier in this batch: its own columns are the stored ones */
        const kp_store_msm_t *b = c[j].bytes;
        own = (stored_t){.uid = c[j].uid, .report_id = b->report_id ? b->report_id : "", .input = b->input ? b->input : "",
                         .probe_cc = b->probe_cc ? b->probe_cc : "", .test_name = b->test_name ? b->test_name : "",
                         .start_time = b->start_time, .anomaly = b->anomaly, .confirmed = b->confirmed,
                         .failure = b->failure, .domain = b->domain ? b->domain : "",
                         .blocking_type = b->blocking_type ? b->blocking_type : ""};
        (void)kp_ch_asn_num(b->probe_asn, &own.asn);
        hit = &own;
      } else {
        hit = bsearch(&key, got, ngot, sizeof *got, by_uid);
      }
      if (!hit) { /* msm_key names a uid measurements does not hold: never acknowledge over it */
        kp_log_warnx("store", "clickhouse: measurement %s (content hash %s) is indexed but not stored", c[j].uid,
                     c[j].rec->content_hash);
        st = KP_ERR_IO;
        break;
      }
      kp_jw_t w;
      kp_jw_init(&w, &rows);
      chain_json(&w, c[j].rec, c[j].uid, hit, kp_ch_next_seq(s));
      st = kp_buf_putc(&rows, '\n');
    }
  }
  for (int attempt = 0; st == KP_OK; attempt++) { /* identical rows again: harmless (above) */
    if ((st = kp_ch_insert(s, "chain", CHAIN_COLS, &rows)) == KP_OK || attempt == 2) break;
    struct timespec d = {0, attempt ? 400000000L : 100000000L};
    nanosleep(&d, NULL);
    st = KP_OK;
  }
  free(got);
  kp_buf_free(&ans);
  kp_buf_free(&rows);
  return st;
}

/* ---------- chain-order listing ---------- */

typedef struct body {
  const char *uid, *raw;
  size_t len;
} body_t;
static int body_by_uid(const void *a, const void *b) { return strcmp(((const body_t *)a)->uid, ((const body_t *)b)->uid); }

static const char *nul_if_empty(const char *v) { return v && *v ? v : NULL; }

/* deliver rows[0..n) (chain answer rows, 20 columns), with their bodies when asked; a chain
 * row whose measurement is not stored is not listed (SQLite's inner join). 1: the callback
 * stopped. */
static int deliver(kp_ch_store_t *s, kp_ch_row_t *rows, size_t n, bool with_body, kp_store_msm_cb cb, void *ctx,
                   kp_status_t *st) {
  body_t *bodies = NULL;
  size_t nb = 0;
  kp_buf_t ans;
  kp_buf_init(&ans, (size_t)1 << 30);
  *st = KP_OK;
  if (with_body && n) { /* the page's bodies: uid with its start time, so the primary key serves it */
    kp_buf_t sql;
    kp_buf_init(&sql, (size_t)64 << 20);
    *st = kp_buf_printf(&sql, "SELECT measurement_uid, raw FROM %s.measurements WHERE measurement_start_time IN (",
                        s->u.db);
    for (size_t i = 0; i < n && *st == KP_OK; i++) *st = kp_buf_printf(&sql, "%s%s", i ? "," : "", rows[i].col[8]);
    if (*st == KP_OK) *st = kp_buf_puts(&sql, ") AND measurement_uid IN (");
    for (size_t i = 0; i < n && *st == KP_OK; i++)
      if ((*st = i ? kp_buf_putc(&sql, ',') : KP_OK) == KP_OK) *st = kp_ch_q_str(&sql, rows[i].col[0]);
    if (*st == KP_OK) *st = kp_buf_puts(&sql, ") LIMIT 1 BY measurement_uid FORMAT TabSeparated");
    if (*st == KP_OK) *st = kp_ch_http_post(s->node[0], "", sql.data, sql.len, &ans);
    kp_buf_free(&sql);
    if (*st == KP_OK && !(bodies = calloc(n, sizeof *bodies))) *st = KP_ERR_NOMEM;
    size_t off = 0;
    kp_ch_row_t r;
    while (*st == KP_OK && (*st = kp_ch_tsv_next(ans.data, ans.len, &off, &r)) == KP_OK) {
      if (r.ncol != 2 || nb >= n) *st = KP_ERR_INVAL;
      else bodies[nb++] = (body_t){.uid = r.col[0], .raw = r.col[1], .len = r.len[1]};
    }
    if (*st == KP_ERR_NOTFOUND) *st = KP_OK;
    if (*st == KP_OK) qsort(bodies, nb, sizeof *bodies, body_by_uid);
  }
  int stop = 0;
  for (size_t i = 0; i < n && *st == KP_OK && !stop; i++) {
    kp_ch_row_t *r = &rows[i];
    body_t key = {.uid = r->col[0]}, *b = NULL;
    if (with_body && !(b = bsearch(&key, bodies, nb, sizeof *bodies, body_by_uid))) continue;
    char asn[16];
    snprintf(asn, sizeof asn, "AS%s", r->col[4]);
    kp_store_msm_t m = {
      .uid = r->col[0], .content_hash = r->col[1], .report_id = nul_if_empty(r->col[2]), .probe_cc = r->col[3],
      .probe_asn = asn, .test_name = r->col[5], .input = nul_if_empty(r->col[6]), .domain = nul_if_empty(r->col[7]),
      .start_time = strtoll(r->col[8], NULL, 10), .recv_time = strtoll(r->col[9], NULL, 10),
      .anomaly = r->col[10][0] == '1', .confirmed = r->col[11][0] == '1', .failure = r->col[12][0] == '1',
      .blocking_type = r->col[13], .key_id = r->col[14], .pubkey = nul_if_empty(r->col[15]),
      .sig = nul_if_empty(r->col[16]), .prev_hash = nul_if_empty(r->col[17]), .seq = strtoll(r->col[18], NULL, 10),
      .body = b ? b->raw : NULL, .body_len = b ? b->len : 0};
    stop = cb(ctx, &m) != 0;
  }
  free(bodies);
  kp_buf_free(&ans);
  return stop;
}

kp_status_t kp_ch_query_chain_rows(kp_store_t *b, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT measurement_uid, content_hash, report_id, probe_cc, probe_asn, test_name,"
                                 " input, domain, toInt64(measurement_start_time), toInt64(recv_time), anomaly,"
                                 " confirmed, msm_failure, blocking_type, key_id, pubkey, sig, prev_hash, seq, ''"
                                 " FROM %s.chain", s->u.db);
  if (st == KP_OK) st = kp_ch_build_where(&s->sql, f);
  if (st == KP_OK)
    st = kp_buf_printf(&s->sql, " ORDER BY key_id, seq, ingest_seq LIMIT 1 BY key_id, seq LIMIT %lld, %lld"
                                " FORMAT TabSeparated",
                       (long long)(f->offset > 0 ? f->offset : 0),
                       (long long)(f->limit > 0 ? f->limit : 1000000000000000000LL));
  if (st == KP_OK) st = kp_ch_sql(s);
  kp_ch_row_t *rows = st == KP_OK ? calloc(IN_CHUNK, sizeof *rows) : NULL;
  if (st == KP_OK && !rows) st = KP_ERR_NOMEM;
  size_t off = 0, n = 0;
  int stop = 0;
  while (st == KP_OK && !stop) { /* the answer stays in s->ans; bodies come per chunk of rows */
    kp_status_t rs = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &rows[n]);
    if (rs == KP_OK && rows[n].ncol != 20) rs = KP_ERR_INVAL;
    if (rs == KP_OK && ++n < IN_CHUNK) continue;
    if (rs != KP_OK && rs != KP_ERR_NOTFOUND) st = rs;
    if (st == KP_OK) stop = deliver(s, rows, n, f->with_body, cb, ctx, &st);
    n = 0;
    if (rs == KP_ERR_NOTFOUND) break;
  }
  free(rows);
  return st;
}

/* ---------- head checkpoints ---------- */

kp_status_t kp_ch_put_head(kp_store_t *b, const kp_store_head_t *h) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  kp_buf_reset(&s->sql);
  /* records 1..seq all present (one row per seq, twins folded by uniqExact), record seq = the head */
  kp_status_t st = kp_buf_printf(&s->sql, "SELECT uniqExact(seq), max(seq = %lld AND content_hash = ",
                                 (long long)h->seq);
  if (st == KP_OK) st = kp_ch_q_str(&s->sql, h->head_hash);
  if (st == KP_OK) st = kp_buf_printf(&s->sql, ") FROM %s.chain WHERE key_id = ", s->u.db);
  if (st == KP_OK) st = kp_ch_q_str(&s->sql, h->key_id);
  if (st == KP_OK) st = kp_buf_printf(&s->sql, " AND seq <= %lld FORMAT TabSeparated", (long long)h->seq);
  if (st == KP_OK) st = kp_ch_sql(s);
  size_t off = 0;
  kp_ch_row_t r;
  if (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &r)) == KP_OK && r.ncol != 2)
    st = KP_ERR_INVAL;
  if (st == KP_ERR_NOTFOUND) st = KP_ERR_INVAL; /* an aggregate always answers one row */
  if (st != KP_OK) return st;
  if (strtoll(r.col[0], NULL, 10) != h->seq) return KP_ERR_NOTFOUND;
  if (strcmp(r.col[1], "1") != 0) return KP_ERR_EXISTS;
  /* the kept head: a put at or below it changes nothing */
  kp_buf_reset(&s->sql);
  st = kp_buf_printf(&s->sql, "SELECT count(), max(seq) FROM %s.chain_heads WHERE key_id = ", s->u.db);
  if (st == KP_OK) st = kp_ch_q_str(&s->sql, h->key_id);
  if (st == KP_OK) st = kp_buf_puts(&s->sql, " FORMAT TabSeparated");
  if (st == KP_OK) st = kp_ch_sql(s);
  off = 0;
  if (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &r)) == KP_OK && r.ncol != 2)
    st = KP_ERR_INVAL;
  if (st == KP_ERR_NOTFOUND) st = KP_ERR_INVAL;
  if (st != KP_OK) return st;
  if (strtoll(r.col[0], NULL, 10) > 0 && strtoll(r.col[1], NULL, 10) >= h->seq) return KP_OK;
  kp_buf_t row;
  kp_buf_init(&row, 1 << 16);
  kp_jw_t w;
  kp_jw_init(&w, &row);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "key_id", h->key_id);
  kp_jw_kint(&w, "seq", h->seq);
  kp_jw_kstr(&w, "head_hash", h->head_hash);
  kp_jw_kstr(&w, "pubkey", h->pubkey);
  kp_jw_kstr(&w, "sig", h->sig);
  kp_jw_kint(&w, "recv_time", kp_ch_clamp_time(h->recv_time));
  kp_jw_obj_end(&w);
  st = kp_buf_putc(&row, '\n');
  for (int attempt = 0; st == KP_OK; attempt++) { /* the same row again: folded */
    if ((st = kp_ch_insert(s, "chain_heads", "key_id,seq,head_hash,pubkey,sig,recv_time", &row)) == KP_OK ||
        attempt == 2)
      break;
    struct timespec d = {0, attempt ? 400000000L : 100000000L};
    nanosleep(&d, NULL);
    st = KP_OK;
  }
  kp_buf_free(&row);
  return st;
}

kp_status_t kp_ch_query_heads(kp_store_t *b, const char *key_id, kp_store_head_cb cb, void *ctx) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT key_id, max(seq), argMax(head_hash, seq), argMax(pubkey, seq),"
                                 " argMax(sig, seq), toInt64(argMax(recv_time, seq)) FROM %s.chain_heads", s->u.db);
  if (st == KP_OK && key_id && (st = kp_buf_puts(&s->sql, " WHERE key_id = ")) == KP_OK)
    st = kp_ch_q_str(&s->sql, key_id);
  if (st == KP_OK) st = kp_buf_puts(&s->sql, " GROUP BY key_id ORDER BY key_id FORMAT TabSeparated");
  if (st == KP_OK) st = kp_ch_sql(s);
  size_t off = 0;
  kp_ch_row_t r;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &r)) == KP_OK) {
    if (r.ncol != 6) return KP_ERR_INVAL;
    kp_store_head_t h = {.key_id = r.col[0], .seq = strtoll(r.col[1], NULL, 10), .head_hash = r.col[2],
                         .pubkey = r.col[3], .sig = r.col[4], .recv_time = strtoll(r.col[5], NULL, 10)};
    if (cb(ctx, &h) != 0) return KP_OK;
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}
