/*
 * ch_http.c: ClickHouse's HTTP interface, the backend's only network code.
 *
 * MERGE NOTE: this is a stand-in. The project's control-plane HTTP client (src/httpc,
 * kp_httpc, libcurl) is being written in parallel; when it lands, kp_ch_http_post() becomes a
 * thin call into it and this file's libcurl code goes away. Nothing else in the backend
 * knows about HTTP or libcurl.
 *
 * One easy handle per node, reused for every request, so libcurl keeps the TCP connection
 * alive between batches. No proxy (ClickHouse is reached directly), no "Expect:
 * 100-continue" round trip before large inserts, connect timeout 5 s, whole request 300 s
 * (a big aggregation may run long; ClickHouse's own max_execution_time is the real limit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/log.h"
#include "store/clickhouse/ch_internal.h"

struct kp_ch_http {
  CURL *h;
  struct curl_slist *hdr;
  char base[128]; /* http://host:port/? */
};

kp_status_t kp_ch_http_open(const char *host, uint16_t port, kp_ch_http_t **out) {
  /* no curl_global_init here: curl_easy_init does it (thread-safe since libcurl 7.84) */
  kp_ch_http_t *c = calloc(1, sizeof *c);
  if (!c) return KP_ERR_NOMEM;
  int n = snprintf(c->base, sizeof c->base, strchr(host, ':') ? "http://[%s]:%u/?" : "http://%s:%u/?", host,
                   (unsigned)port);
  c->h = curl_easy_init();
  c->hdr = curl_slist_append(NULL, "Expect:");
  if (n <= 0 || (size_t)n >= sizeof c->base || !c->h || !c->hdr) {
    kp_ch_http_close(c);
    return KP_ERR_NOMEM;
  }
  *out = c;
  return KP_OK;
}

void kp_ch_http_close(kp_ch_http_t *c) {
  if (!c) return;
  if (c->h) curl_easy_cleanup(c->h);
  curl_slist_free_all(c->hdr);
  free(c);
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ctx) {
  kp_buf_t *b = ctx;
  return kp_buf_append(b, p, sz * nm) == KP_OK ? sz * nm : 0; /* 0 aborts: the cap was hit */
}

kp_status_t kp_ch_http_post(kp_ch_http_t *c, const char *params, const void *body, size_t n, kp_buf_t *out) {
  kp_buf_reset(out);
  kp_buf_t url;
  kp_buf_init(&url, 1 << 16);
  if (kp_buf_puts(&url, c->base) != KP_OK || kp_buf_puts(&url, params ? params : "") != KP_OK) {
    kp_buf_free(&url);
    return KP_ERR_NOMEM;
  }
  CURL *h = c->h;
  curl_easy_reset(h); /* keeps the connection cache */
  curl_easy_setopt(h, CURLOPT_URL, kp_buf_str(&url));
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300000L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdr);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  kp_status_t st = KP_OK;
  if (rc != CURLE_OK) {
    kp_log_warnx("store", "clickhouse %s: %s", c->base, curl_easy_strerror(rc));
    st = rc == CURLE_WRITE_ERROR ? KP_ERR_NOMEM : KP_ERR_IO;
  } else if (code < 200 || code > 299) {
    kp_log_warnx("store", "clickhouse %s: HTTP %ld: %.300s", c->base, code, kp_buf_str(out));
    st = KP_ERR_IO;
  }
  kp_buf_free(&url);
  return st;
}
