/*
 * probe_services.c: the OONI probe-services routes a stock OONI Probe calls before and while
 * measuring (read from ooni/probe-cli internal/probeservices: bouncer.go, checkin.go,
 * collector.go, register.go, login.go; shapes from internal/model/ooapi.go), so that a probe
 * pointed at `keepon serve` can bootstrap and submit (the collector routes are collector.c's):
 *
 *   GET  /api/v1/test-helpers      {"web-connectivity":[{"address":..,"type":"https"},...]}
 *   POST /api/v1/check-in          {v:1, probe_cc, probe_asn, utc_time, conf:{features:{},
 *                                   test_helpers:{..}}, tests:{web_connectivity:{report_id, urls}}}
 *   GET  /api/v1/collectors        [{"address":<public url>,"type":"https"}]
 *   GET  /api/v1/test-list/urls    ?probe_cc=&limit=&offset= -> {metadata:{count,..}, results:[..]}
 *   POST /api/v1/register          {client_id}  (random; nothing about the probe is kept)
 *   POST /api/v1/login             {token, expire} (random; no route here needs it)
 *
 * The URL list is the operator's (--test-list: "url[,category_code]" lines), answered in
 * pages of at most 1000. Request bodies may be zstd (Content-Encoding: zstd), inflated to at
 * most KP_PS_MAX_INFLATE bytes (a bomb is refused with 413 before it is expanded further).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zstd.h>

#include "base/cursor.h"
#include "base/file.h"
#include "msmt/msmt.h"
#include "server/collector_internal.h"

#define KP_PS_MAX_URLS 100000
#define KP_PS_PAGE_MAX 1000

typedef struct ps_url {
  char *url, *cat;
} ps_url_t;

struct kp_ps {
  char **th;
  size_t nth;
  char *public_url;
  ps_url_t *urls;
  size_t nurls;
};

kp_status_t kp_ps_inflate(const kp_srv_req_t *req, kp_buf_t *out, int *http_status) {
  kp_srv_slice_t ce = kp_srv_header(req, "content-encoding");
  *http_status = 0;
  if (!ce.p || kp_srv_slice_ieq(ce, "identity")) {
    kp_buf_append(out, req->body, req->body_len);
    return KP_OK;
  }
  if (!kp_srv_slice_ieq(ce, "zstd")) {
    *http_status = 415;
    return KP_ERR_UNSUPPORTED;
  }
  ZSTD_DCtx *d = ZSTD_createDCtx();
  if (!d) return KP_ERR_NOMEM;
  ZSTD_inBuffer in = {req->body, req->body_len, 0};
  uint8_t chunk[65536];
  kp_status_t st = KP_OK;
  size_t last = 1;
  while (st == KP_OK && (in.pos < in.size || last != 0)) {
    ZSTD_outBuffer ob = {chunk, sizeof chunk, 0};
    size_t before = in.pos;
    last = ZSTD_decompressStream(d, &ob, &in);
    if (ZSTD_isError(last)) st = KP_ERR_INVAL, *http_status = 400;
    else if (out->len + ob.pos > KP_PS_MAX_INFLATE) st = KP_ERR_RANGE, *http_status = 413; /* checked before the append */
    else if (ob.pos) kp_buf_append(out, chunk, ob.pos);
    else if (in.pos == before && in.pos == in.size && last != 0) st = KP_ERR_INVAL, *http_status = 400; /* truncated */
  }
  ZSTD_freeDCtx(d);
  return st;
}

static void rnd_token(char *out, size_t n) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  uint8_t r[64];
  if (n > sizeof r + 1) n = sizeof r + 1;
  if (getrandom(r, n - 1, 0) != (ssize_t)(n - 1)) memset(r, 0, sizeof r);
  for (size_t i = 0; i + 1 < n; i++) out[i] = al[r[i] % 62];
  out[n - 1] = 0;
}

static void write_th(const kp_ps_t *ps, kp_jw_t *w) {
  kp_jw_obj_begin(w);
  kp_jw_key(w, "web-connectivity");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < ps->nth; i++) {
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "address", ps->th[i]);
    kp_jw_kstr(w, "type", strncmp(ps->th[i], "https://", 8) == 0 ? "https" : "http");
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
  kp_jw_obj_end(w);
}

static void write_urls(const kp_ps_t *ps, kp_jw_t *w, const char *cc, size_t off, size_t lim) {
  kp_jw_arr_begin(w);
  for (size_t i = off; i < ps->nurls && i < off + lim; i++) {
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "category_code", ps->urls[i].cat);
    kp_jw_kstr(w, "country_code", cc && *cc ? cc : "XX");
    kp_jw_kstr(w, "url", ps->urls[i].url);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
}

static kp_status_t json_body(const kp_srv_req_t *req, kp_srv_resp_t *resp, kp_json_doc_t **doc) {
  kp_buf_t b;
  kp_buf_init(&b, KP_PS_MAX_INFLATE);
  int hs = 0;
  kp_status_t st = kp_ps_inflate(req, &b, &hs);
  if (st == KP_OK && kp_json_parse(b.data, b.len, NULL, doc, NULL) == KP_OK &&
      kp_json_is(kp_json_root(*doc), KP_JSON_OBJECT)) {
    kp_buf_free(&b);
    return KP_OK;
  }
  kp_json_doc_free(*doc);
  *doc = NULL;
  kp_buf_free(&b);
  kp_srv_error(resp, hs ? hs : 400, hs == 413 ? "body too large once inflated" : "body must be a JSON object");
  return KP_ERR_INVAL;
}

static kp_status_t check_in(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_ps_t *ps = ctx;
  kp_json_doc_t *doc = NULL;
  if (json_body(req, resp, &doc) != KP_OK) return KP_OK;
  const kp_json_t *o = kp_json_root(doc);
  const char *cc = kp_json_get_str(o, "probe_cc"), *asn = kp_json_get_str(o, "probe_asn");
  /* OONI's backend answers ZZ/AS0 probes too (it cannot target them); malformed ones get 400 */
  if (!kp_msmt_valid_cc(cc) || !kp_msmt_valid_asn(asn)) {
    kp_json_doc_free(doc);
    kp_srv_error(resp, 400, "invalid probe_cc or probe_asn");
    return KP_OK;
  }
  char rid[160], now[32];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (kp_msmt_report_id((int64_t)ts.tv_sec * 1000000000, "web_connectivity", cc, asn, rid, sizeof rid) != KP_OK) {
    kp_json_doc_free(doc);
    return KP_ERR_IO;
  }
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  resp->status = 200;
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "conf");
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "features");
  kp_jw_obj_begin(&w);
  kp_jw_obj_end(&w);
  kp_jw_key(&w, "test_helpers");
  write_th(ps, &w);
  kp_jw_obj_end(&w);
  kp_jw_kstr(&w, "probe_asn", asn);
  kp_jw_kstr(&w, "probe_cc", cc);
  kp_jw_key(&w, "tests");
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "web_connectivity");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "report_id", rid);
  kp_jw_key(&w, "urls");
  write_urls(ps, &w, cc, 0, 100); /* OONI's check-in answers a short list */
  kp_jw_obj_end(&w);
  kp_jw_obj_end(&w);
  kp_jw_kstr(&w, "utc_time", now);
  kp_jw_kint(&w, "v", 1);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
  kp_json_doc_free(doc);
  return w.st;
}

static kp_status_t test_helpers(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_jw_t w;
  resp->status = 200;
  kp_jw_init(&w, &resp->body);
  write_th(ctx, &w);
  kp_buf_putc(&resp->body, '\n');
  return w.st;
}

static kp_status_t collectors(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_ps_t *ps = ctx;
  kp_jw_t w;
  resp->status = 200;
  kp_jw_init(&w, &resp->body);
  kp_jw_arr_begin(&w);
  if (ps->public_url) {
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "address", ps->public_url);
    kp_jw_kstr(&w, "type", strncmp(ps->public_url, "https://", 8) == 0 ? "https" : "http");
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_buf_putc(&resp->body, '\n');
  return w.st;
}

static kp_status_t test_list(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_ps_t *ps = ctx;
  char cc[8] = "", v[24];
  size_t lim = 100, off = 0;
  if (kp_srv_query_get(req->query, "probe_cc", v, sizeof v) && kp_msmt_valid_cc(v)) memcpy(cc, v, 3);
  if (kp_srv_query_get(req->query, "limit", v, sizeof v)) lim = strtoul(v, NULL, 10);
  if (kp_srv_query_get(req->query, "offset", v, sizeof v)) off = strtoul(v, NULL, 10);
  if (lim == 0 || lim > KP_PS_PAGE_MAX) lim = KP_PS_PAGE_MAX;
  if (off > ps->nurls) off = ps->nurls;
  size_t n = ps->nurls - off < lim ? ps->nurls - off : lim;
  kp_jw_t w;
  resp->status = 200;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "metadata");
  kp_jw_obj_begin(&w);
  kp_jw_kint(&w, "count", (int64_t)n);
  kp_jw_kint(&w, "total", (int64_t)ps->nurls);
  kp_jw_kint(&w, "offset", (int64_t)off);
  kp_jw_kint(&w, "limit", (int64_t)lim);
  kp_jw_obj_end(&w);
  kp_jw_key(&w, "results");
  write_urls(ps, &w, cc, off, lim);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
  return w.st;
}

static kp_status_t reg_or_login(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_json_doc_t *doc = NULL;
  if (json_body(req, resp, &doc) != KP_OK) return KP_OK;
  kp_json_doc_free(doc);
  bool login = kp_srv_slice_eq(req->path, "/api/v1/login");
  char tok[33];
  rnd_token(tok, sizeof tok);
  kp_jw_t w;
  resp->status = 200;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  if (login) {
    char exp[32];
    time_t t = time(NULL) + 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    kp_jw_kstr(&w, "expire", exp);
    kp_jw_kstr(&w, "token", tok);
  } else {
    kp_jw_kstr(&w, "client_id", tok);
  }
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
  return w.st;
}

static kp_status_t load_list(kp_ps_t *ps, const char *path) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)64 << 20);
  kp_status_t st = kp_file_read(path, &b);
  if (st != KP_OK) {
    kp_buf_free(&b);
    return st;
  }
  /* a test-list CSV: url,category_code,... (the header line and anything else that is not an
   * http(s) URL is skipped) */
  kp_cur_t c = kp_cur_make(b.data, b.len);
  const uint8_t *l;
  size_t len;
  while (st == KP_OK && ps->nurls < KP_PS_MAX_URLS && kp_cur_line(&c, &l, &len)) {
    const char *p = (const char *)l, *comma = memchr(p, ',', len);
    size_t ul = comma ? (size_t)(comma - p) : len;
    while (ul && (p[ul - 1] == '\r' || p[ul - 1] == ' ')) ul--;
    bool http = (ul > 7 && memcmp(p, "http://", 7) == 0) || (ul > 8 && memcmp(p, "https://", 8) == 0);
    if (!http || ul >= 2048) continue;
    ps_url_t *g = realloc(ps->urls, (ps->nurls + 1) * sizeof *g);
    if (!g) {
      st = KP_ERR_NOMEM;
      break;
    }
    ps->urls = g;
    const char *cat = comma ? comma + 1 : p + len;
    size_t cl = (size_t)(p + len - cat);
    const char *ce = memchr(cat, ',', cl);
    if (ce) cl = (size_t)(ce - cat);
    while (cl && cat[cl - 1] == '\r') cl--;
    g[ps->nurls].url = strndup(p, ul);
    g[ps->nurls].cat = cl && cl < 16 ? strndup(cat, cl) : strdup("MISC");
    if (!g[ps->nurls].url || !g[ps->nurls].cat) st = KP_ERR_NOMEM;
    ps->nurls++;
  }
  kp_buf_free(&b);
  return st;
}

kp_status_t kp_ps_mount(kp_srv_t *srv, const kp_ps_config_t *cfg, kp_ps_t **out) {
  *out = NULL;
  kp_ps_t *ps = calloc(1, sizeof *ps);
  if (!ps) return KP_ERR_NOMEM;
  kp_status_t st = KP_OK;
  ps->th = calloc(cfg->nth ? cfg->nth : 1, sizeof *ps->th);
  if (!ps->th) st = KP_ERR_NOMEM;
  for (size_t i = 0; st == KP_OK && i < cfg->nth; i++)
    if (!(ps->th[ps->nth++] = strdup(cfg->th[i]))) st = KP_ERR_NOMEM;
  if (st == KP_OK && cfg->public_url && !(ps->public_url = strdup(cfg->public_url))) st = KP_ERR_NOMEM;
  if (st == KP_OK && cfg->test_list) st = load_list(ps, cfg->test_list);
  const kp_srv_route_t routes[] = {
    {.method = "POST", .prefix = "/api/v1/check-in", .fn = check_in, .ctx = ps, .flags = KP_SRV_OPEN_WRITE},
    {.method = "GET", .prefix = "/api/v1/test-helpers", .fn = test_helpers, .ctx = ps},
    {.method = "GET", .prefix = "/api/v1/collectors", .fn = collectors, .ctx = ps},
    {.method = "GET", .prefix = "/api/v1/test-list/urls", .fn = test_list, .ctx = ps},
    {.method = "POST", .prefix = "/api/v1/register", .fn = reg_or_login, .ctx = ps, .flags = KP_SRV_OPEN_WRITE},
    {.method = "POST", .prefix = "/api/v1/login", .fn = reg_or_login, .ctx = ps, .flags = KP_SRV_OPEN_WRITE},
  };
  if (st == KP_OK) st = kp_srv_add_routes(srv, routes, sizeof routes / sizeof *routes);
  if (st != KP_OK) {
    kp_ps_free(ps);
    return st;
  }
  *out = ps;
  return KP_OK;
}

void kp_ps_free(kp_ps_t *ps) {
  if (!ps) return;
  for (size_t i = 0; i < ps->nth; i++) free(ps->th[i]);
  free(ps->th);
  for (size_t i = 0; i < ps->nurls; i++) free(ps->urls[i].url), free(ps->urls[i].cat);
  free(ps->urls);
  free(ps->public_url);
  free(ps);
}
