/*
 * ch_http.c: ClickHouse's HTTP interface, the backend's only network code.
 *
 * Goes through the project's one control-plane client (src/httpc, libcurl): one kp_httpc
 * client per node, reused for every request, so the TCP connection stays alive between
 * batches. No proxy (ClickHouse is reached directly on the operator's network), no
 * "Expect: 100-continue" round trip (httpc never sends it), connect timeout 5 s, whole
 * request 300 s (a big aggregation may run long; ClickHouse's own max_execution_time is the
 * real limit). A non-2xx answer is an error whose body (ClickHouse's message) is logged.
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

kp_status_t kp_ch_http_post(kp_ch_http_t *c, const char *params, const void *body, size_t n, kp_buf_t *out) {
  kp_buf_reset(out);
  kp_buf_t url;
  kp_buf_init(&url, 1 << 16);
  if (kp_buf_puts(&url, c->base) != KP_OK || kp_buf_puts(&url, params ? params : "") != KP_OK) {
    kp_buf_free(&url);
    return KP_ERR_NOMEM;
  }
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  kp_status_t st = kp_httpc_post(c->c, kp_buf_str(&url), "text/plain; charset=utf-8", body ? body : "", n, &r);
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
