/*
 * ch_http.c: ClickHouse's HTTP interface, the backend's only network code.
 *
 * Goes through the project's one control-plane client (src/httpc, libcurl): one kp_httpc
 * client per node, reused for every request, so the TCP connection stays alive between
 * batches. No proxy (ClickHouse is reached directly on the operator's network), no
 * "Expect: 100-continue" round trip (httpc never sends it), connect timeout 5 s, whole
 * request 300 s (a big aggregation may run long; ClickHouse's own max_execution_time is the
 * real limit). A non-2xx answer is an error whose body (ClickHouse's message) is logged.
 *
 * External data (kp_ch_http_query_ext): a query's long IN set travels as a table in a
 * multipart/form-data part, not as SQL literals. The SQL text stays a few hundred bytes
 * whatever the batch size (18.16's max_query_size of 256 KiB made a literal list of ~3,900
 * content hashes a syntax error, and parsing it cost more than the lookup), and the query and
 * the table's structure go in the URL, percent-encoded. The boundary is checked against the
 * data and changed until it does not occur in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "httpc/httpc.h"
#include "store/clickhouse/ch_internal.h"

/* the largest answer any query may return (the caller's buffer may cap it lower) */
#define CH_MAX_ANSWER ((size_t)1 << 31)

struct kp_ch_http {
  kp_httpc_t *c;
  char base[128]; /* http://host:port/? */
};

kp_status_t kp_ch_http_open(const char *host, uint16_t port, kp_ch_http_t **out) {
  kp_ch_http_t *c = calloc(1, sizeof *c);
  if (!c) return KP_ERR_NOMEM;
  int n = snprintf(c->base, sizeof c->base, strchr(host, ':') ? "http://[%s]:%u/?" : "http://%s:%u/?", host,
                   (unsigned)port);
  const kp_httpc_opts_t o = {.connect_timeout_ms = 5000, .timeout_ms = 300000, .max_body = CH_MAX_ANSWER};
  if (n <= 0 || (size_t)n >= sizeof c->base || kp_httpc_new(&o, &c->c) != KP_OK) {
    kp_ch_http_close(c);
    return KP_ERR_NOMEM;
  }
  *out = c;
  return KP_OK;
}

void kp_ch_http_close(kp_ch_http_t *c) {
  if (!c) return;
  kp_httpc_free(c->c);
  free(c);
}

static kp_status_t post_ct(kp_ch_http_t *c, const char *params, const char *ctype, const void *body, size_t n,
                           kp_buf_t *out) {
  kp_buf_reset(out);
  kp_buf_t url;
  kp_buf_init(&url, 1 << 16);
  if (kp_buf_puts(&url, c->base) != KP_OK || kp_buf_puts(&url, params ? params : "") != KP_OK) {
    kp_buf_free(&url);
    return KP_ERR_NOMEM;
  }
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  kp_status_t st = kp_httpc_post(c->c, kp_buf_str(&url), ctype, body ? body : "", n, &r);
  if (st != KP_OK) {
    kp_log_warnx("store", "clickhouse %s: %s", c->base, r.error[0] ? r.error : kp_strstatus(st));
    st = st == KP_ERR_RANGE ? KP_ERR_NOMEM : KP_ERR_IO;
  } else if (kp_buf_append(out, r.body.data ? r.body.data : (const uint8_t *)"", r.body.len) != KP_OK) {
    st = KP_ERR_NOMEM; /* the caller's cap was hit */
  } else if (r.status < 200 || r.status > 299) {
    kp_log_warnx("store", "clickhouse %s: HTTP %d: %.300s", c->base, r.status, kp_buf_str(out));
    st = KP_ERR_IO;
  }
  kp_httpc_resp_free(&r);
  kp_buf_free(&url);
  return st;
}

kp_status_t kp_ch_http_post(kp_ch_http_t *c, const char *params, const void *body, size_t n, kp_buf_t *out) {
  return post_ct(c, params, "text/plain; charset=utf-8", body, n, out);
}

/* RFC 3986 unreserved characters stay, everything else is %XX */
static kp_status_t put_pct(kp_buf_t *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  kp_status_t st = KP_OK;
  for (const unsigned char *p = (const unsigned char *)s; *p && st == KP_OK; p++) {
    unsigned char ch = *p;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
        ch == '.' || ch == '~')
      st = kp_buf_putc(b, (char)ch);
    else
      st = kp_buf_printf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
  }
  return st;
}

kp_status_t kp_ch_http_query_ext(kp_ch_http_t *c, const char *sql, const char *name, const char *structure,
                                 const kp_buf_t *tsv, kp_buf_t *out) {
  const char *data = tsv->data ? (const char *)tsv->data : "";
  char bnd[48];
  for (unsigned k = 0;; k++) { /* "\r\n--" + boundary must not occur in the part's data */
    if (k == 64) return KP_ERR_INVAL;
    snprintf(bnd, sizeof bnd, "kp-ext-%u-%08x", k, (unsigned)(tsv->len * 2654435761u + k));
    if (!memmem(data, tsv->len, bnd, strlen(bnd))) break;
  }
  kp_buf_t params, body;
  kp_buf_init(&params, 1 << 16);
  kp_buf_init(&body, tsv->len + 1024);
  kp_status_t st = kp_buf_printf(&params, "%s_structure=", name);
  if (st == KP_OK) st = put_pct(&params, structure);
  if (st == KP_OK) st = kp_buf_puts(&params, "&query=");
  if (st == KP_OK) st = put_pct(&params, sql);
  if (st == KP_OK)
    st = kp_buf_printf(&body,
                       "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n",
                       bnd, name, name);
  if (st == KP_OK) st = kp_buf_append(&body, data, tsv->len);
  if (st == KP_OK) st = kp_buf_printf(&body, "\r\n--%s--\r\n", bnd);
  char ctype[96];
  snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%s", bnd);
  if (st == KP_OK) st = post_ct(c, kp_buf_str(&params), ctype, body.data, body.len, out);
  kp_buf_free(&params);
  kp_buf_free(&body);
  return st;
}
