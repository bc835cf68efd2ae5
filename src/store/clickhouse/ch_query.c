/*
 * ch_query.c: the ClickHouse backend's reads, answering exactly what sqlite_store.c answers
 * (tests/store/test_store_both.c runs one suite over both and compares the answers):
 *   listing  ORDER BY measurement_start_time DESC, ingest_seq DESC (SQLite: start_time DESC,
 *            rowid DESC); keepon's chain order reads the chain table (ch_chain.c);
 *   counts   OONI's: anomaly excludes confirmed and failed, confirmed excludes failed;
 *   axes     the same text as SQLite's strftime/date forms (day YYYY-MM-DD, hour
 *            YYYY-MM-DDTHH:00:00Z, week = its Monday, month/year = their first day), UTC;
 *   signals  the newest version of each point: argMax(..., ver) grouped by (datasource, t),
 *            so a re-posted point is answered once even before ReplacingMergeTree merged.
 * Every literal goes through kp_ch_q_str; axis names are checked against a fixed list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/clickhouse/ch_internal.h"

static kp_status_t w_and(kp_buf_t *b, int *n) { return kp_buf_puts(b, (*n)++ ? " AND " : " WHERE "); }

static kp_status_t w_text(kp_buf_t *b, int *n, const char *col, const char *v) {
  if (!v) return KP_OK;
  kp_status_t st = w_and(b, n);
  if (st == KP_OK) st = kp_buf_printf(b, "%s = ", col);
  return st == KP_OK ? kp_ch_q_str(b, v) : st;
}

kp_status_t kp_ch_build_where(kp_buf_t *b, const kp_store_filter_t *f) {
  int n = 0;
  kp_status_t st = w_text(b, &n, "probe_cc", f->probe_cc);
  if (st == KP_OK && f->probe_asn) {
    uint32_t asn;
    if ((st = w_and(b, &n)) == KP_OK)
      st = kp_ch_asn_num(f->probe_asn, &asn) ? kp_buf_printf(b, "probe_asn = %u", asn) : kp_buf_puts(b, "0 = 1");
  }
  if (st == KP_OK) st = w_text(b, &n, "test_name", f->test_name);
  if (st == KP_OK) st = w_text(b, &n, "input", f->input);
  if (st == KP_OK) st = w_text(b, &n, "domain", f->domain);
  if (st == KP_OK) st = w_text(b, &n, "key_id", f->key_id);
  if (st == KP_OK && f->since && (st = w_and(b, &n)) == KP_OK)
    st = f->since > 4294967295LL ? kp_buf_puts(b, "0 = 1")
                                 : kp_buf_printf(b, "measurement_start_time >= toDateTime(%lld)",
                                                 (long long)kp_ch_clamp_time(f->since));
  if (st == KP_OK && f->until && (st = w_and(b, &n)) == KP_OK)
    st = f->until <= 0 ? kp_buf_puts(b, "0 = 1")
                       : kp_buf_printf(b, "measurement_start_time < toDateTime(%lld)",
                                       (long long)kp_ch_clamp_time(f->until));
  const struct { const char *col; int v; } fl[] = {{"anomaly", f->anomaly}, {"confirmed", f->confirmed},
                                                    {"msm_failure", f->failure}};
  for (size_t i = 0; i < 3 && st == KP_OK; i++)
    if (fl[i].v >= 0 && (st = w_and(b, &n)) == KP_OK) st = kp_buf_printf(b, "%s = %d", fl[i].col, fl[i].v ? 1 : 0);
  /* chain order lists keepon records only, as SQLite's chain table does (store.h) */
  if (st == KP_OK && (f->keyed_only || f->order_seq) && (st = w_and(b, &n)) == KP_OK) st = kp_buf_puts(b, "key_id != ''");
  return st;
}

static const char *nul_if_empty(const char *v) { return v && *v ? v : NULL; }

kp_status_t kp_ch_query_rows(kp_store_t *b, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  if (f->order_seq) return kp_ch_query_chain_rows(b, f, cb, ctx); /* keepon chains: ch_chain.c */
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT measurement_uid, content_hash, report_id, probe_cc, probe_asn, test_name,"
                                 " input, domain, toInt64(measurement_start_time), toInt64(recv_time), anomaly,"
                                 " confirmed, msm_failure, blocking_type, key_id, pubkey, sig, prev_hash, seq, %s"
                                 " FROM %s.measurements",
                                 f->with_body ? "raw" : "''", s->u.db);
  if (st == KP_OK) st = kp_ch_build_where(&s->sql, f);
  if (st == KP_OK)
    st = kp_buf_printf(&s->sql, " ORDER BY measurement_start_time DESC, ingest_seq DESC LIMIT %lld, %lld"
                                " FORMAT TabSeparated",
                       (long long)(f->offset > 0 ? f->offset : 0),
                       (long long)(f->limit > 0 ? f->limit : 1000000000000000000LL));
  if (st == KP_OK) st = kp_ch_sql(s);
  size_t off = 0;
  kp_ch_row_t r;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &r)) == KP_OK) {
    if (r.ncol != 20) return KP_ERR_INVAL;
    char asn[16];
    snprintf(asn, sizeof asn, "AS%s", r.col[4]);
    const char *kid = nul_if_empty(r.col[14]);
    kp_store_msm_t m = {
      .uid = r.col[0], .content_hash = r.col[1], .report_id = nul_if_empty(r.col[2]), .probe_cc = r.col[3],
      .probe_asn = asn, .test_name = r.col[5], .input = nul_if_empty(r.col[6]), .domain = nul_if_empty(r.col[7]),
      .start_time = strtoll(r.col[8], NULL, 10), .recv_time = strtoll(r.col[9], NULL, 10),
      .anomaly = r.col[10][0] == '1', .confirmed = r.col[11][0] == '1', .failure = r.col[12][0] == '1',
      .blocking_type = r.col[13], .key_id = kid, .pubkey = nul_if_empty(r.col[15]),
      .sig = nul_if_empty(r.col[16]), .prev_hash = nul_if_empty(r.col[17]),
      .seq = kid ? strtoll(r.col[18], NULL, 10) : -1,
      .body = f->with_body ? r.col[19] : NULL, .body_len = f->with_body ? r.len[19] : 0};
    if (cb(ctx, &m) != 0) return KP_OK;
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}

kp_status_t kp_ch_count_rows(kp_store_t *b, const kp_store_filter_t *f, int64_t *out) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql, "SELECT count() FROM %s.measurements", s->u.db);
  if (st == KP_OK) st = kp_ch_build_where(&s->sql, f);
  if (st == KP_OK) st = kp_buf_puts(&s->sql, " FORMAT TabSeparated");
  if (st == KP_OK) st = kp_ch_sql(s);
  if (st == KP_OK) *out = strtoll(kp_buf_str(&s->ans), NULL, 10);
  return st;
}

/* an axis as ClickHouse SQL with SQLite's text (names validated first) */
static const char *axis_expr(const char *axis, const char *grain) {
  if (!axis) return "''";
  if (strcmp(axis, "measurement_start_day") == 0) {
    if (grain && strcmp(grain, "hour") == 0) return "formatDateTime(measurement_start_time, '%Y-%m-%dT%H:00:00Z', 'UTC')";
    if (grain && strcmp(grain, "week") == 0) return "toString(toMonday(toDate(measurement_start_time, 'UTC')))";
    if (grain && strcmp(grain, "month") == 0) return "toString(toStartOfMonth(toDate(measurement_start_time, 'UTC')))";
    if (grain && strcmp(grain, "year") == 0) return "toString(toStartOfYear(toDate(measurement_start_time, 'UTC')))";
    return "toString(toDate(measurement_start_time, 'UTC'))";
  }
  if (strcmp(axis, "probe_asn") == 0) return "concat('AS', toString(probe_asn))";
  static const char *const cols[] = {"probe_cc", "test_name", "domain", "input", "blocking_type"};
  for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
    if (strcmp(axis, cols[i]) == 0) return cols[i];
  return "''";
}

kp_status_t kp_ch_aggregate_rows(kp_store_t *b, const kp_store_filter_t *f, const kp_store_agg_t *a,
                                 kp_store_agg_cb cb, void *ctx) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  if ((a->axis_x && !kp_store_axis_valid(a->axis_x)) || (a->axis_y && !kp_store_axis_valid(a->axis_y)))
    return KP_ERR_INVAL;
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT %s AS ax, %s AS ay,"
                                 " countIf(anomaly = 1 AND confirmed = 0 AND msm_failure = 0),"
                                 " countIf(confirmed = 1 AND msm_failure = 0), countIf(msm_failure = 1),"
                                 " countIf(anomaly = 0 AND confirmed = 0 AND msm_failure = 0), count()"
                                 " FROM %s.measurements",
                                 axis_expr(a->axis_x, a->time_grain), axis_expr(a->axis_y, a->time_grain), s->u.db);
  if (st == KP_OK) st = kp_ch_build_where(&s->sql, f);
  if (st == KP_OK) st = kp_buf_puts(&s->sql, " GROUP BY ax, ay ORDER BY ax, ay FORMAT TabSeparated");
  if (st == KP_OK) st = kp_ch_sql(s);
  size_t off = 0;
  kp_ch_row_t r;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &r)) == KP_OK) {
    if (r.ncol != 7) return KP_ERR_INVAL;
    kp_store_agg_row_t row = {
      .x = a->axis_x ? r.col[0] : NULL, .y = a->axis_y ? r.col[1] : NULL,
      .anomaly_count = strtoll(r.col[2], NULL, 10), .confirmed_count = strtoll(r.col[3], NULL, 10),
      .failure_count = strtoll(r.col[4], NULL, 10), .ok_count = strtoll(r.col[5], NULL, 10),
      .measurement_count = strtoll(r.col[6], NULL, 10)};
    if (row.measurement_count == 0) continue;
    if (cb(ctx, &row) != 0) return KP_OK;
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}

kp_status_t kp_ch_query_signal_rows(kp_store_t *b, const char *et, const char *ec, const char *ds, int64_t from,
                                    int64_t until, kp_store_signal_cb cb, void *ctx) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  if (until <= 0 || from > 4294967295LL || from >= until) return KP_OK; /* nothing in DateTime's range */
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT datasource, toInt64(t), argMax(step, ver), argMax(value, ver),"
                                 " argMax(has_value, ver) FROM %s.signals WHERE entity_type = ", s->u.db);
  if (st == KP_OK) st = kp_ch_q_str(&s->sql, et);
  if (st == KP_OK) st = kp_buf_puts(&s->sql, " AND entity_code = ");
  if (st == KP_OK) st = kp_ch_q_str(&s->sql, ec);
  if (st == KP_OK && ds && (st = kp_buf_puts(&s->sql, " AND datasource = ")) == KP_OK) st = kp_ch_q_str(&s->sql, ds);
  if (st == KP_OK)
    st = kp_buf_printf(&s->sql,
                       " AND t >= toDateTime(%lld) AND t < toDateTime(%lld) GROUP BY datasource, t"
                       " ORDER BY datasource, t FORMAT TabSeparated",
                       (long long)kp_ch_clamp_time(from), (long long)kp_ch_clamp_time(until));
  if (st == KP_OK) st = kp_ch_sql(s);
  size_t off = 0;
  kp_ch_row_t r;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &r)) == KP_OK) {
    if (r.ncol != 5) return KP_ERR_INVAL;
    bool has = r.col[4][0] == '1';
    kp_store_signal_t g = {.entity_type = et, .entity_code = ec, .datasource = r.col[0],
                           .t = strtoll(r.col[1], NULL, 10), .step = strtoll(r.col[2], NULL, 10),
                           .value = has ? strtod(r.col[3], NULL) : 0, .has_value = has};
    if (cb(ctx, &g) != 0) return KP_OK;
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}

kp_status_t kp_ch_list_entity_rows(kp_store_t *b, kp_store_entity_cb cb, void *ctx) {
  kp_ch_store_t *s = (kp_ch_store_t *)b;
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT entity_type, entity_code, min(toInt64(t)), max(toInt64(t) + step)"
                                 " FROM %s.signals GROUP BY entity_type, entity_code"
                                 " ORDER BY entity_type, entity_code FORMAT TabSeparated", s->u.db);
  if (st == KP_OK) st = kp_ch_sql(s);
  size_t off = 0;
  kp_ch_row_t r;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &r)) == KP_OK) {
    if (r.ncol != 4) return KP_ERR_INVAL;
    kp_store_entity_t e = {.entity_type = r.col[0], .entity_code = r.col[1],
                           .t_min = strtoll(r.col[2], NULL, 10), .t_max = strtoll(r.col[3], NULL, 10)};
    if (cb(ctx, &e) != 0) return KP_OK;
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}
