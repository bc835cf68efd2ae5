/*
 * api.c: read routes and the signals ingest.
 *
 *   GET  /api/v1/measurements     OONI-like filters: probe_cc, probe_asn, test_name, input, domain,
 *                                 since, until, anomaly, confirmed, failure, limit (<= 10000), offset
 *   GET  /api/v1/aggregation      OONI's MAT parameters: axis_x, axis_y, time_grain, since, until,
 *                                 the same filters, format=JSON|CSV -> anomaly_count, confirmed_count,
 *                                 failure_count, ok_count, measurement_count
 *   GET  /api/v1/keepon/records   stored keepon records as outbox lines (for `keepon verify --server`),
 *                                 optional key_id, limit (<= 10000, default 1000), offset
 * Every listing is paged: limit + offset, and a page also ends when its body passes the
 * server's page_bytes; when more rows follow, the answer names the next offset (metadata
 * "next_offset" in JSON, header X-Next-Offset everywhere). A listed measurement's input is cut
 * at 4 KiB ("input_truncated": true) so one row cannot be megabytes.
 *   GET  /api/v1/signals/raw/{entityType}/{entityCode}?from&until[&datasource]   IODA's shape
 *   POST /api/v1/signals          JSON Lines of signal points (docs/formats.md); all or nothing
 * Query parameters are parsed with kp_srv_query_get; bad values are 400 with the parameter named.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/clock.h"
#include "base/ioda.h"
#include "base/codec.h"
#include "base/cursor.h"
#include "outbox/outbox.h"
#include "server/collector_internal.h"

static int bad_param(kp_srv_resp_t *resp, const char *name) {
  char msg[128];
  snprintf(msg, sizeof msg, "invalid value for parameter '%s'", name);
  kp_srv_error(resp, 400, msg);
  return -1;
}

bool kp_api_page(const kp_srv_req_t *req, kp_srv_resp_t *resp, long long def_limit, long long *limit,
                 long long *offset) {
  const char *bad = kp_srv_page_query(req->query, def_limit, limit, offset);
  if (bad) bad_param(resp, strcmp(bad, "limit") ? "offset (0 or more)" : "limit (1..10000)");
  return !bad;
}

typedef struct qbuf {
  char cc[8], asn[24], tn[40], input[1024], domain[256], key_id[40];
} qbuf_t;

static int parse_time_param(kp_srv_slice_t q, const char *name, int64_t *out) {
  char v[40];
  if (!kp_srv_query_get(q, name, v, sizeof v)) return 0;
  time_t t;
  if (kp_time_parse(v, &t) != 0) return -1;
  *out = t;
  return 0;
}

static int parse_bool_param(kp_srv_slice_t q, const char *name, int *out) {
  char v[8];
  if (!kp_srv_query_get(q, name, v, sizeof v)) return 0;
  if (strcmp(v, "true") == 0) *out = 1;
  else if (strcmp(v, "false") == 0) *out = 0;
  else return -1;
  return 0;
}

/* fill the common filters; returns -1 after writing a 400 */
static int parse_filter(const kp_srv_req_t *req, kp_srv_resp_t *resp, kp_store_filter_t *f, qbuf_t *b) {
  kp_store_filter_init(f);
  kp_srv_slice_t q = req->query;
  if (kp_srv_query_get(q, "probe_cc", b->cc, sizeof b->cc)) f->probe_cc = b->cc;
  if (kp_srv_query_get(q, "probe_asn", b->asn + 2, sizeof b->asn - 2)) {
    if (strncmp(b->asn + 2, "AS", 2) == 0) f->probe_asn = b->asn + 2;
    else {
      b->asn[0] = 'A', b->asn[1] = 'S';
      f->probe_asn = b->asn;
    }
  }
  if (kp_srv_query_get(q, "test_name", b->tn, sizeof b->tn)) f->test_name = b->tn;
  if (kp_srv_query_get(q, "input", b->input, sizeof b->input)) f->input = b->input;
  if (kp_srv_query_get(q, "domain", b->domain, sizeof b->domain)) f->domain = b->domain;
  if (kp_srv_query_get(q, "key_id", b->key_id, sizeof b->key_id)) f->key_id = b->key_id;
  if (parse_time_param(q, "since", &f->since) < 0) return bad_param(resp, "since");
  if (parse_time_param(q, "until", &f->until) < 0) return bad_param(resp, "until");
  if (parse_bool_param(q, "anomaly", &f->anomaly) < 0) return bad_param(resp, "anomaly");
  if (parse_bool_param(q, "confirmed", &f->confirmed) < 0) return bad_param(resp, "confirmed");
  if (parse_bool_param(q, "failure", &f->failure) < 0) return bad_param(resp, "failure");
  long long limit, offset;
  if (!kp_api_page(req, resp, 100, &limit, &offset)) return -1;
  f->limit = limit;
  f->offset = offset;
  return 0;
}

#define LIST_INPUT_MAX 4096
#define SIG_T_MAX ((int64_t)253402300800) /* 10000-01-01: far beyond any signal, far from INT64_MAX */

typedef struct page {
  kp_jw_t *w;
  kp_buf_t *body;
  size_t budget;
  int64_t rows;
  bool cut; /* stopped at the byte budget */
} page_t;

static void next_offset_header(kp_srv_resp_t *resp, int64_t next) {
  kp_buf_printf(&resp->headers, "X-Next-Offset: %lld\r\n", (long long)next);
}

static int msm_row(void *ctx, const kp_store_msm_t *m) {
  page_t *pg = ctx;
  kp_jw_t *w = pg->w;
  if (pg->rows > 0 && pg->body->len >= pg->budget) {
    pg->cut = true;
    return 1;
  }
  pg->rows++;
  char t[21];
  kp_time_iso((time_t)m->start_time, t);
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "measurement_uid", m->uid);
  kp_jw_kstr(w, "report_id", m->report_id);
  kp_jw_kstr(w, "probe_cc", m->probe_cc);
  kp_jw_kstr(w, "probe_asn", m->probe_asn);
  kp_jw_kstr(w, "test_name", m->test_name);
  if (m->input && strlen(m->input) > LIST_INPUT_MAX) {
    char cut[LIST_INPUT_MAX + 1];
    size_t n = LIST_INPUT_MAX;
    while (n && ((unsigned char)m->input[n] & 0xC0) == 0x80) n--; /* not inside a UTF-8 sequence */
    memcpy(cut, m->input, n);
    cut[n] = 0;
    kp_jw_kstr(w, "input", cut);
    kp_jw_kbool(w, "input_truncated", true);
  } else {
    kp_jw_kstr(w, "input", m->input);
  }
  kp_jw_kstr(w, "measurement_start_time", t);
  kp_jw_kbool(w, "anomaly", m->anomaly);
  kp_jw_kbool(w, "confirmed", m->confirmed);
  kp_jw_kbool(w, "failure", m->failure);
  kp_jw_kstr(w, "blocking_type", m->blocking_type && *m->blocking_type ? m->blocking_type : NULL);
  kp_jw_kstr(w, "key_id", m->key_id);
  if (m->seq >= 0) kp_jw_kint(w, "seq", m->seq);
  kp_jw_obj_end(w);
  return w->st != KP_OK;
}

kp_status_t kp_api_measurements(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  kp_store_filter_t f;
  qbuf_t b;
  if (parse_filter(req, resp, &f, &b) < 0) return KP_OK;
  int64_t total = 0;
  kp_status_t st = kp_store_count(c->store, &f, &total);
  if (st != KP_OK) return st;
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "results");
  kp_jw_arr_begin(&w);
  page_t pg = {.w = &w, .body = &resp->body, .budget = resp->page_bytes ? resp->page_bytes : ((size_t)1 << 20)};
  st = kp_store_query(c->store, &f, msm_row, &pg);
  kp_jw_arr_end(&w);
  int64_t next = f.offset + pg.rows;
  bool more = pg.cut || next < total;
  kp_jw_key(&w, "metadata");
  kp_jw_obj_begin(&w);
  kp_jw_kint(&w, "count", total);
  kp_jw_kint(&w, "limit", f.limit);
  kp_jw_kint(&w, "offset", f.offset);
  if (more) kp_jw_kint(&w, "next_offset", next);
  kp_jw_obj_end(&w);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
  if (more) next_offset_header(resp, next);
  resp->status = 200;
  return st != KP_OK ? st : w.st;
}

typedef struct agg_out {
  const kp_store_agg_t *a;
  kp_jw_t w;
  kp_buf_t *csv, *body;
  int rows;
  int64_t skip, limit, emitted, next; /* paging over the grouped rows; next = -1: none */
  size_t budget;
} agg_out_t;

/* axis values come from uploaders: one CSV writer with the formula guard (base/codec) */
static void csv_field(kp_buf_t *b, const char *s) { (void)kp_csv_cell(b, s); }

static int agg_row(void *ctx, const kp_store_agg_row_t *r) {
  agg_out_t *o = ctx;
  o->rows++;
  if (o->rows <= o->skip) return 0;
  if (o->limit && (o->emitted >= o->limit || (o->emitted > 0 && o->body->len >= o->budget))) {
    o->next = o->skip + o->emitted;
    return 1;
  }
  o->emitted++;
  if (o->csv) {
    if (o->a->axis_x) csv_field(o->csv, r->x), kp_buf_putc(o->csv, ',');
    if (o->a->axis_y) csv_field(o->csv, r->y), kp_buf_putc(o->csv, ',');
    kp_buf_printf(o->csv, "%lld,%lld,%lld,%lld,%lld\r\n", (long long)r->anomaly_count,
                  (long long)r->confirmed_count, (long long)r->failure_count, (long long)r->ok_count,
                  (long long)r->measurement_count);
    return 0;
  }
  kp_jw_t *w = &o->w;
  kp_jw_obj_begin(w);
  kp_jw_kint(w, "anomaly_count", r->anomaly_count);
  kp_jw_kint(w, "confirmed_count", r->confirmed_count);
  kp_jw_kint(w, "failure_count", r->failure_count);
  kp_jw_kint(w, "ok_count", r->ok_count);
  kp_jw_kint(w, "measurement_count", r->measurement_count);
  if (o->a->axis_x) kp_jw_kstr(w, o->a->axis_x, r->x);
  if (o->a->axis_y) kp_jw_kstr(w, o->a->axis_y, r->y);
  kp_jw_obj_end(w);
  return w->st != KP_OK;
}

kp_status_t kp_api_aggregation(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  kp_store_filter_t f;
  qbuf_t b;
  if (parse_filter(req, resp, &f, &b) < 0) return KP_OK;
  f.limit = 0;
  f.offset = 0;
  char ax[32], ay[32], grain[16] = "day", fmt[8] = "JSON";
  kp_store_agg_t a = {0};
  if (kp_srv_query_get(req->query, "axis_x", ax, sizeof ax)) {
    if (!kp_store_axis_valid(ax)) return (void)bad_param(resp, "axis_x"), KP_OK;
    a.axis_x = ax;
  }
  if (kp_srv_query_get(req->query, "axis_y", ay, sizeof ay)) {
    if (!kp_store_axis_valid(ay) || (a.axis_x && strcmp(ax, ay) == 0)) return (void)bad_param(resp, "axis_y"), KP_OK;
    a.axis_y = ay;
  }
  if (kp_srv_query_get(req->query, "time_grain", grain, sizeof grain)) {
    if (strcmp(grain, "hour") && strcmp(grain, "day") && strcmp(grain, "week") && strcmp(grain, "month") &&
        strcmp(grain, "year") && strcmp(grain, "auto"))
      return (void)bad_param(resp, "time_grain"), KP_OK;
  }
  a.time_grain = grain;
  if (kp_srv_query_get(req->query, "format", fmt, sizeof fmt) && strcasecmp(fmt, "JSON") && strcasecmp(fmt, "CSV"))
    return (void)bad_param(resp, "format"), KP_OK;
  bool csv = strcasecmp(fmt, "CSV") == 0;
  agg_out_t o = {.a = &a, .csv = csv ? &resp->body : NULL, .body = &resp->body, .next = -1,
                 .budget = resp->page_bytes ? resp->page_bytes : ((size_t)1 << 20)};
  if (a.axis_x || a.axis_y) { /* a grouped result is a listing: paged like the others */
    long long limit, skip;
    if (!kp_api_page(req, resp, 10000, &limit, &skip)) return KP_OK;
    o.limit = limit;
    o.skip = skip;
  }
  kp_status_t st;
  resp->status = 200;
  if (csv) {
    resp->content_type = "text/csv";
    if (a.axis_x) kp_buf_printf(&resp->body, "%s,", a.axis_x);
    if (a.axis_y) kp_buf_printf(&resp->body, "%s,", a.axis_y);
    kp_buf_puts(&resp->body, "anomaly_count,confirmed_count,failure_count,ok_count,measurement_count\r\n");
    st = kp_store_aggregate(c->store, &f, &a, agg_row, &o);
    if (!a.axis_x && !a.axis_y && o.rows == 0) kp_buf_puts(&resp->body, "0,0,0,0,0\r\n");
    if (o.next >= 0) next_offset_header(resp, o.next);
    return st;
  }
  kp_jw_init(&o.w, &resp->body);
  kp_jw_obj_begin(&o.w);
  kp_jw_kint(&o.w, "v", 0);
  kp_jw_kint(&o.w, "dimension_count", (a.axis_x != NULL) + (a.axis_y != NULL));
  kp_jw_key(&o.w, "result");
  if (a.axis_x || a.axis_y) {
    kp_jw_arr_begin(&o.w);
    st = kp_store_aggregate(c->store, &f, &a, agg_row, &o);
    kp_jw_arr_end(&o.w);
    if (o.next >= 0) {
      kp_jw_kint(&o.w, "next_offset", o.next);
      next_offset_header(resp, o.next);
    }
  } else {
    /* no axis: one object (OONI's shape) */
    st = kp_store_aggregate(c->store, &f, &a, agg_row, &o);
    if (o.rows == 0) {
      kp_store_agg_row_t zero = {0};
      agg_row(&o, &zero);
    }
  }
  kp_jw_obj_end(&o.w);
  kp_buf_putc(&resp->body, '\n');
  return st != KP_OK ? st : o.w.st;
}

typedef struct rec_out {
  kp_buf_t *out;
  size_t budget;
  int64_t rows;
  bool full, cut;
} rec_out_t;

static int rec_row(void *ctx, const kp_store_msm_t *m) {
  rec_out_t *ro = ctx;
  kp_buf_t *out = ro->out;
  if (ro->rows > 0 && out->len >= ro->budget) {
    ro->cut = true;
    return 1;
  }
  ro->rows++; /* counted even when unverifiable, so offsets follow the store's rows */
  if (!m->key_id || m->seq < 1 || !m->pubkey || !m->sig || !m->prev_hash) return 0;
  kp_outbox_rec_t r = {.seq = (uint64_t)m->seq, .msm = m->body, .msm_len = m->body_len};
  snprintf(r.key_id, sizeof r.key_id, "%s", m->key_id);
  kp_buf_t t;
  kp_buf_init(&t, 1024);
  bool ok = kp_hex_decode(m->content_hash, 64, r.hash, 32) == KP_OK &&
            kp_hex_decode(m->prev_hash, 64, r.prev, 32) == KP_OK &&
            kp_base64_decode(m->pubkey, strlen(m->pubkey), &t) == KP_OK && t.len == 32;
  if (ok) memcpy(r.pubkey, t.data, 32);
  kp_buf_reset(&t);
  ok = ok && kp_base64_decode(m->sig, strlen(m->sig), &t) == KP_OK && t.len == 64;
  if (ok) memcpy(r.sig, t.data, 64);
  kp_buf_free(&t);
  if (ok && kp_outbox_rec_write(&r, out) != KP_OK) { /* response cap reached */
    ro->full = true;
    return 1;
  }
  return 0;
}

kp_status_t kp_api_keepon_records(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  kp_store_filter_t f;
  kp_store_filter_init(&f);
  char kid[40];
  if (kp_srv_query_get(req->query, "key_id", kid, sizeof kid)) f.key_id = kid;
  f.with_body = true;
  f.order_seq = true;
  long long limit, offset;
  if (!kp_api_page(req, resp, 1000, &limit, &offset)) return KP_OK;
  f.limit = limit;
  f.offset = offset;
  f.keyed_only = true; /* only keepon records: rows without a key are not listed */
  resp->status = 200;
  resp->content_type = "application/x-ndjson";
  rec_out_t ro = {.out = &resp->body, .budget = resp->page_bytes ? resp->page_bytes : ((size_t)1 << 20)};
  kp_status_t st = kp_store_query(c->store, &f, rec_row, &ro);
  if (st == KP_OK && ro.full) kp_srv_error(resp, 500, "a record does not fit one response");
  else if (st == KP_OK && (ro.cut || ro.rows == f.limit)) next_offset_header(resp, f.offset + ro.rows);
  return st;
}

/* ---- signals ---- */
static bool valid_entity_type(const char *t) {
  static const char *const ok[] = {"country", "region", "asn", "domain", "block", "access"};
  for (size_t i = 0; t && i < sizeof ok / sizeof *ok; i++)
    if (strcmp(t, ok[i]) == 0) return true;
  return false;
}

static bool valid_code(const char *s, size_t max) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20) return false;
  return true;
}

kp_status_t kp_api_signals_post(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  if (!kp_api_is_json_ctype(req, "application/x-ndjson") && !kp_api_is_json_ctype(req, "application/jsonl") &&
      !kp_api_is_json_ctype(req, "application/json")) {
    kp_srv_error(resp, 415, "Content-Type must be application/x-ndjson (JSON Lines)");
    return KP_OK;
  }
  kp_store_signal_t *sig = NULL;
  kp_json_doc_t **docs = NULL;
  size_t n = 0, cap = 0, line = 0;
  kp_status_t st = KP_OK;
  char msg[160] = "";
  kp_cur_t cur = kp_cur_make(req->body, req->body_len);
  const uint8_t *p;
  size_t len;
  while (!msg[0] && kp_cur_line(&cur, &p, &len)) {
    line++;
    while (len && (p[len - 1] == '\r' || p[len - 1] == ' ')) len--;
    if (len == 0) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      kp_store_signal_t *g = realloc(sig, cap * sizeof *g);
      kp_json_doc_t **gd = realloc(docs, cap * sizeof *gd);
      if (g) sig = g;
      if (gd) docs = gd;
      if (!g || !gd) {
        st = KP_ERR_NOMEM;
        break;
      }
    }
    kp_json_doc_t *d = NULL;
    if (kp_json_parse(p, len, NULL, &d, NULL) != KP_OK) {
      snprintf(msg, sizeof msg, "line %zu: malformed JSON", line);
      break;
    }
    docs[n] = d;
    const kp_json_t *o = kp_json_root(d);
    kp_store_signal_t *g = &sig[n++];
    memset(g, 0, sizeof *g);
    const kp_json_t *v = kp_json_get(o, "value");
    g->entity_type = kp_json_get_str(o, "entity_type");
    g->entity_code = kp_json_get_str(o, "entity_code");
    g->datasource = kp_json_get_str(o, "datasource");
    const char *type = kp_json_get_str(o, "type");
    if (!type || strcmp(type, "signal") != 0) snprintf(msg, sizeof msg, "line %zu: type must be \"signal\"", line);
    else if (!valid_entity_type(g->entity_type)) snprintf(msg, sizeof msg, "line %zu: invalid entity_type", line);
    else if (!valid_code(g->entity_code, 128)) snprintf(msg, sizeof msg, "line %zu: invalid entity_code", line);
    else if (!valid_code(g->datasource, 64)) snprintf(msg, sizeof msg, "line %zu: invalid datasource", line);
    else if (!kp_json_get_int(o, "t", &g->t) || g->t < 0 || g->t > SIG_T_MAX)
      snprintf(msg, sizeof msg, "line %zu: invalid t", line);
    else if (!kp_json_get_int(o, "step", &g->step) || g->step < 1 || g->step > 86400 * 31)
      snprintf(msg, sizeof msg, "line %zu: invalid step", line);
    else if (!v || (!kp_json_is(v, KP_JSON_NUMBER) && kp_json_type(v) != KP_JSON_NULL))
      snprintf(msg, sizeof msg, "line %zu: value must be a number or null", line);
    else {
      g->has_value = kp_json_is(v, KP_JSON_NUMBER);
      g->value = kp_json_num(v);
      if (!isfinite(g->value)) snprintf(msg, sizeof msg, "line %zu: value out of range", line);
    }
  }
  if (st == KP_OK && msg[0]) kp_srv_error(resp, 400, msg);
  else if (st == KP_OK && (st = kp_store_put_signals(c->store, sig, n)) == KP_OK) {
    resp->status = 200;
    kp_buf_printf(&resp->body, "{\"stored\":%zu}\n", n);
  }
  for (size_t i = 0; i < n; i++) kp_json_doc_free(docs[i]);
  free(docs);
  free(sig);
  return st;
}

typedef struct series {
  kp_jw_t *w;
  const char *et, *ec;
  int64_t from, until;
  char ds[72];
  int64_t step, next_t; /* next bin to emit */
  bool open;
  size_t emitted;
} series_t;

static void series_close(series_t *s) {
  if (!s->open) return;
  for (; s->next_t < s->until && s->emitted < 100000; s->next_t += s->step, s->emitted++) kp_jw_null(s->w);
  kp_jw_arr_end(s->w);
  kp_jw_obj_end(s->w);
  s->open = false;
}

static int sig_row(void *ctx, const kp_store_signal_t *g) {
  series_t *s = ctx;
  if (!s->open || strcmp(s->ds, g->datasource) != 0) {
    series_close(s);
    snprintf(s->ds, sizeof s->ds, "%s", g->datasource);
    s->step = g->step;
    int64_t first = s->from - ((s->from - g->t) % g->step + g->step) % g->step; /* align to the data's bins */
    if (first < s->from) first += g->step;
    s->next_t = first;
    s->emitted = 0;
    s->open = true;
    kp_jw_t *w = s->w;
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "entityType", s->et);
    kp_jw_kstr(w, "entityCode", kp_ioda_code_out(s->et, s->ec)); /* asn: IODA's bare number */
    kp_jw_kstr(w, "entityName", s->ec);
    kp_jw_kstr(w, "datasource", g->datasource);
    kp_jw_kstr(w, "subtype", "");
    kp_jw_kint(w, "from", first);
    kp_jw_kint(w, "until", s->until);
    kp_jw_kint(w, "step", g->step);
    kp_jw_kint(w, "nativeStep", g->step);
    kp_jw_key(w, "values");
    kp_jw_arr_begin(w);
  }
  if (g->t < s->next_t || (g->t - s->next_t) % s->step) return 0; /* off-grid point: skip */
  for (; s->next_t < g->t && s->emitted < 100000; s->next_t += s->step, s->emitted++) kp_jw_null(s->w);
  if (s->emitted >= 100000) return 0;
  if (g->has_value) kp_jw_double(s->w, g->value);
  else kp_jw_null(s->w);
  s->next_t += s->step;
  s->emitted++;
  return 0;
}

kp_status_t kp_api_signals_raw(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  /* /api/v1/signals/raw/{entityType}/{entityCode} */
  const char *p = req->path.p + strlen("/api/v1/signals/raw/");
  size_t n = req->path.n - strlen("/api/v1/signals/raw/");
  const char *slash = memchr(p, '/', n);
  char et[32], ec[160], ds[72];
  if (!slash || (size_t)(slash - p) >= sizeof et || n - (size_t)(slash - p) - 1 >= sizeof ec ||
      (size_t)(slash - p) == 0 || n - (size_t)(slash - p) - 1 == 0) {
    kp_srv_error(resp, 404, "use /api/v1/signals/raw/{entityType}/{entityCode}");
    return KP_OK;
  }
  memcpy(et, p, (size_t)(slash - p));
  et[slash - p] = 0;
  size_t cl = n - (size_t)(slash - p) - 1;
  memcpy(ec, slash + 1, cl);
  ec[cl] = 0;
  /* entity codes may be percent-encoded (regions contain '/' and spaces) */
  kp_srv_slice_t fake = {NULL, 0};
  char qs[200], dec[160];
  snprintf(qs, sizeof qs, "c=%s", ec);
  fake.p = qs, fake.n = strlen(qs);
  if (!kp_srv_query_get(fake, "c", dec, sizeof dec) || !valid_entity_type(et)) {
    kp_srv_error(resp, 400, "invalid entity type or code");
    return KP_OK;
  }
  char v[24];
  int64_t from = 0, until = 0;
  char *e;
  /* bounded far from INT64_MAX so bin arithmetic (next_t + step, step <= 31 days) cannot overflow */
  if (!kp_srv_query_get(req->query, "from", v, sizeof v) || (from = strtoll(v, &e, 10), *e) || from < 0 ||
      from > SIG_T_MAX)
    return (void)bad_param(resp, "from"), KP_OK;
  if (!kp_srv_query_get(req->query, "until", v, sizeof v) || (until = strtoll(v, &e, 10), *e) || until <= from ||
      until > SIG_T_MAX)
    return (void)bad_param(resp, "until"), KP_OK;
  bool has_ds = kp_srv_query_get(req->query, "datasource", ds, sizeof ds);
  char code[160]; /* keepon's code: an asn may come as IODA writes it ("9198") or as "AS9198" */
  if (kp_ioda_code_in(et, dec, code, sizeof code) != 0) {
    kp_srv_error(resp, 400, "invalid entity type or code");
    return KP_OK;
  }
  /* IODA's envelope (base/ioda.h), its series inside */
  int64_t now = kp_clock_system()->wall_ns(kp_clock_system()->ctx) / 1000000000;
  kp_ioda_signals_params_t rp = {.from = from, .until = until, .datasource = has_ds ? ds : NULL};
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_ioda_env_begin(&w, "signals", now, now, &rp, NULL);
  kp_jw_arr_begin(&w);
  kp_jw_arr_begin(&w);
  series_t s = {.w = &w, .et = et, .ec = code, .from = from, .until = until};
  kp_status_t st = kp_store_query_signals(c->store, et, code, has_ds ? ds : NULL, from, until, sig_row, &s);
  series_close(&s);
  kp_jw_arr_end(&w);
  kp_jw_arr_end(&w);
  kp_ioda_env_end(&w);
  kp_buf_putc(&resp->body, '\n');
  resp->status = 200;
  return st != KP_OK ? st : w.st;
}
