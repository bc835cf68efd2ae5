/*
 * httpc.c: the control-plane HTTP client over libcurl's easy interface.
 *
 * Invariants:
 *  - one CURL easy handle per client, reused for every request: curl keeps the connection (and
 *    TLS session) open between requests to the same origin, so a batch upload costs one TCP+TLS
 *    handshake; curl_easy_reset is never called (it would drop nothing but our options, but we
 *    set all per-request options explicitly instead, which keeps the cache);
 *  - verification is never relaxed: CURLOPT_SSL_VERIFYPEER/VERIFYHOST stay at 1/2;
 *  - the body callback refuses to grow resp->body past max_body (curl then aborts the
 *    transfer with CURLE_WRITE_ERROR, reported as KP_HTTPC_FAIL_TOO_LARGE);
 *  - the header callback keeps only the final response's fields (a new status line, e.g. after
 *    a 100 Continue or a proxy's "200 Connection established", resets them);
 *  - curl_global_init runs once per process (pthread_once), before any handle exists.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/log.h"
#include "httpc/httpc.h"

#define DEF_CONNECT_MS 10000
#define DEF_TIMEOUT_MS 30000
#define DEF_MAX_BODY ((size_t)16 << 20)
#define HDR_CAP ((size_t)64 << 10)

struct kp_httpc {
  CURL *h;
  struct curl_slist *base_headers; /* opts.headers, plus "Expect:" */
  struct curl_slist *resolve;
  char *ua, *proxy, *ca_file;
  int connect_ms, timeout_ms;
  size_t max_body;
  bool too_large;                  /* set by the body callback for the current request */
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;
static void global_init(void) { g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

static bool list_add(struct curl_slist **l, const char *s) {
  struct curl_slist *n = curl_slist_append(*l, s);
  if (!n) return false;
  *l = n;
  return true;
}

static bool valid_header_line(const char *s) {
  const char *colon = strchr(s, ':');
  if (!colon || colon == s) return false;
  for (const char *p = s; *p; p++)
    if (*p == '\r' || *p == '\n') return false;
  return true;
}

static bool proxy_ok(const char *p) {
  static const char *const ok[] = {"socks5h://", "socks5://", "socks4a://", "http://", NULL};
  for (int i = 0; ok[i]; i++)
    if (strncasecmp(p, ok[i], strlen(ok[i])) == 0 && p[strlen(ok[i])]) return true;
  return false;
}

kp_status_t kp_httpc_new(const kp_httpc_opts_t *o, kp_httpc_t **out) {
  static const kp_httpc_opts_t none = {0};
  if (!o) o = &none;
  *out = NULL;
  pthread_once(&g_once, global_init);
  if (g_init_rc != CURLE_OK) return KP_ERR_INTERNAL;
  if (o->proxy && *o->proxy && !proxy_ok(o->proxy)) {
    kp_log_warnx("httpc", "proxy must be socks5h://, socks5://, socks4a:// or http://HOST:PORT");
    return KP_ERR_INVAL;
  }
  if (o->ca_file && *o->ca_file && access(o->ca_file, R_OK) != 0) {
    kp_log_warnx("httpc", "cannot read CA file %s", o->ca_file);
    return KP_ERR_INVAL;
  }
  kp_httpc_t *c = calloc(1, sizeof *c);
  if (!c) return KP_ERR_NOMEM;
  kp_status_t st = KP_ERR_NOMEM;
  c->h = curl_easy_init();
  c->ua = strdup(o->user_agent && *o->user_agent ? o->user_agent : KP_HTTPC_DEFAULT_UA);
  c->proxy = dup_or_null(o->proxy);
  c->ca_file = dup_or_null(o->ca_file);
  if (!c->h || !c->ua || (o->proxy && *o->proxy && !c->proxy) || (o->ca_file && *o->ca_file && !c->ca_file))
    goto fail;
  c->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEF_CONNECT_MS;
  c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEF_TIMEOUT_MS;
  c->max_body = o->max_body ? o->max_body : DEF_MAX_BODY;
  if (!list_add(&c->base_headers, "Expect:")) goto fail; /* no 100-continue round trip */
  for (size_t i = 0; o->headers && o->headers[i]; i++) {
    if (!valid_header_line(o->headers[i])) {
      st = KP_ERR_INVAL;
      goto fail;
    }
    if (!list_add(&c->base_headers, o->headers[i])) goto fail;
  }
  for (size_t i = 0; o->resolve && o->resolve[i]; i++)
    if (!list_add(&c->resolve, o->resolve[i])) goto fail;
  *out = c;
  return KP_OK;
fail:
  kp_httpc_free(c);
  return st;
}

void kp_httpc_free(kp_httpc_t *c) {
  if (!c) return;
  if (c->h) curl_easy_cleanup(c->h);
  curl_slist_free_all(c->base_headers);
  curl_slist_free_all(c->resolve);
  free(c->ua);
  free(c->proxy);
  free(c->ca_file);
  free(c);
}

void kp_httpc_resp_init(kp_httpc_resp_t *r) {
  memset(r, 0, sizeof *r);
  kp_buf_init(&r->body, DEF_MAX_BODY);
  kp_buf_init(&r->headers, HDR_CAP);
}

void kp_httpc_resp_free(kp_httpc_resp_t *r) {
  kp_buf_free(&r->body);
  kp_buf_free(&r->headers);
}

typedef struct xfer {
  kp_httpc_t *c;
  kp_httpc_resp_t *r;
} xfer_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  xfer_t *x = ud;
  size_t len = sz * n;
  if (x->r->body.len + len > x->c->max_body || kp_buf_append(&x->r->body, p, len) != KP_OK) {
    x->c->too_large = true;
    return 0;
  }
  return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  xfer_t *x = ud;
  size_t len = sz * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a (new) status line: keep only the last head */
    kp_buf_reset(&x->r->headers);
    return len;
  }
  if (len <= 2) return len; /* the blank line ending the head */
  if (kp_buf_append(&x->r->headers, p, len) != KP_OK) return 0;
  return len;
}

static kp_httpc_fail_t classify(CURLcode rc, bool too_large) {
  switch (rc) {
  case CURLE_OK: return KP_HTTPC_FAIL_NONE;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT: return KP_HTTPC_FAIL_URL;
  case CURLE_COULDNT_RESOLVE_HOST: return KP_HTTPC_FAIL_DNS;
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_PROXY: return KP_HTTPC_FAIL_PROXY;
  case CURLE_COULDNT_CONNECT: return KP_HTTPC_FAIL_REFUSED;
  case CURLE_OPERATION_TIMEDOUT: return KP_HTTPC_FAIL_TIMEOUT;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR: return KP_HTTPC_FAIL_CERT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER: return KP_HTTPC_FAIL_TLS;
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE: return KP_HTTPC_FAIL_RESET;
  case CURLE_WRITE_ERROR: return too_large ? KP_HTTPC_FAIL_TOO_LARGE : KP_HTTPC_FAIL_OTHER;
  default: return KP_HTTPC_FAIL_OTHER;
  }
}

static kp_status_t fail_status(kp_httpc_fail_t f) {
  switch (f) {
  case KP_HTTPC_FAIL_NONE: return KP_OK;
  case KP_HTTPC_FAIL_URL: return KP_ERR_INVAL;
  case KP_HTTPC_FAIL_TIMEOUT: return KP_ERR_TIMEOUT;
  case KP_HTTPC_FAIL_TOO_LARGE: return KP_ERR_RANGE;
  case KP_HTTPC_FAIL_CERT: return KP_ERR_PERM;
  default: return KP_ERR_IO;
  }
}

bool kp_httpc_is_https(const char *url) { return url && strncasecmp(url, "https://", 8) == 0; }

static bool scheme_ok(const char *url) {
  return url && ((strncasecmp(url, "http://", 7) == 0 && url[7]) || (kp_httpc_is_https(url) && url[8]));
}

kp_status_t kp_httpc_do(kp_httpc_t *c, const kp_httpc_req_t *req, kp_httpc_resp_t *r) {
  kp_buf_reset(&r->body);
  kp_buf_reset(&r->headers);
  r->body.cap_limit = c->max_body;
  r->status = 0;
  r->fail = KP_HTTPC_FAIL_NONE;
  r->error[0] = 0;
  r->reused = false;
  r->total_us = 0;
  if (!scheme_ok(req->url)) {
    r->fail = KP_HTTPC_FAIL_URL;
    snprintf(r->error, sizeof r->error, "URL must start with http:// or https://");
    return KP_ERR_INVAL;
  }
  struct curl_slist *hdrs = NULL;
  kp_status_t st = KP_ERR_NOMEM;
  for (struct curl_slist *l = c->base_headers; l; l = l->next)
    if (!list_add(&hdrs, l->data)) goto out;
  char ct[160];
  if (req->body) {
    snprintf(ct, sizeof ct, "Content-Type: %s", req->content_type ? req->content_type : "application/json");
    if (!valid_header_line(ct) || !list_add(&hdrs, ct)) goto out;
  }
  for (size_t i = 0; req->headers && req->headers[i]; i++) {
    if (!valid_header_line(req->headers[i])) {
      st = KP_ERR_INVAL;
      r->fail = KP_HTTPC_FAIL_URL;
      snprintf(r->error, sizeof r->error, "bad header line");
      goto out;
    }
    if (!list_add(&hdrs, req->headers[i])) goto out;
  }
  const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
  CURL *h = c->h;
  xfer_t x = {c, r};
  char errbuf[CURL_ERROR_SIZE] = "";
  c->too_large = false;
  int tmo = req->timeout_ms > 0 ? req->timeout_ms : c->timeout_ms;
  curl_easy_setopt(h, CURLOPT_URL, req->url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file); /* NULL = libcurl's built-in system bundle */
  curl_easy_setopt(h, CURLOPT_PROXY, c->proxy ? c->proxy : ""); /* "" = no proxy, env ignored */
  curl_easy_setopt(h, CURLOPT_NOPROXY, c->proxy ? "" : "*");
  curl_easy_setopt(h, CURLOPT_USERAGENT, c->ua);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_RESOLVE, c->resolve);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)tmo);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
  if (req->body) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") ? method : NULL);
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL); /* hdrs is freed below */
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
  curl_off_t tt = 0;
  long nconn = 0;
  curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &tt);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn); /* new connections this transfer made */
  r->total_us = (int64_t)tt;
  r->reused = rc == CURLE_OK && nconn == 0;
  if (rc == CURLE_FILESIZE_EXCEEDED) c->too_large = true, rc = CURLE_WRITE_ERROR;
  r->fail = classify(rc, c->too_large);
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    r->status = (int)code;
    if (code == 0) r->fail = KP_HTTPC_FAIL_RESET; /* nothing HTTP came back */
  } else {
    snprintf(r->error, sizeof r->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    kp_log_debug("httpc", "%s %s: %s", method, req->url, r->error);
  }
  st = fail_status(r->fail);
out:
  curl_slist_free_all(hdrs);
  return st;
}

kp_status_t kp_httpc_get(kp_httpc_t *c, const char *url, kp_httpc_resp_t *resp) {
  kp_httpc_req_t q = {.method = "GET", .url = url};
  return kp_httpc_do(c, &q, resp);
}

kp_status_t kp_httpc_post(kp_httpc_t *c, const char *url, const char *ctype, const void *body, size_t n,
                          kp_httpc_resp_t *resp) {
  kp_httpc_req_t q = {.method = "POST", .url = url, .content_type = ctype, .body = body ? body : "", .body_len = n};
  return kp_httpc_do(c, &q, resp);
}

bool kp_httpc_resp_header(const kp_httpc_resp_t *r, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  const char *p = (const char *)r->headers.data, *end = p ? p + r->headers.len : NULL;
  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    if ((size_t)(le - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
      const char *v = p + nl + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      const char *ve = le;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      size_t vn = (size_t)(ve - v);
      if (vn >= cap) return false;
      memcpy(out, v, vn);
      out[vn] = 0;
      return true;
    }
    p = eol ? eol + 1 : end;
  }
  return false;
}

const char *kp_httpc_fail_name(kp_httpc_fail_t f) {
  switch (f) {
  case KP_HTTPC_FAIL_NONE: return NULL;
  case KP_HTTPC_FAIL_URL: return "unknown_failure: invalid URL";
  case KP_HTTPC_FAIL_DNS: return "dns_lookup_error";
  case KP_HTTPC_FAIL_REFUSED: return "connection_refused";
  case KP_HTTPC_FAIL_TIMEOUT: return "generic_timeout_error";
  case KP_HTTPC_FAIL_RESET: return "connection_reset";
  case KP_HTTPC_FAIL_TLS: return "ssl_failed_handshake";
  case KP_HTTPC_FAIL_CERT: return "ssl_invalid_certificate";
  case KP_HTTPC_FAIL_PROXY: return "unknown_failure: proxy";
  case KP_HTTPC_FAIL_TOO_LARGE: return "unknown_failure: response too large";
  default: return "unknown_failure";
  }
}

bool kp_httpc_retryable(kp_status_t st, const kp_httpc_resp_t *r) {
  if (st != KP_OK) return r->fail != KP_HTTPC_FAIL_URL && r->fail != KP_HTTPC_FAIL_TOO_LARGE && st != KP_ERR_NOMEM;
  return r->status == 408 || r->status == 425 || r->status == 429 || r->status >= 500;
}

static uint32_t xorshift(uint32_t *s) {
  uint32_t x = *s ? *s : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

int kp_backoff_ms(kp_backoff_t *b, int k) {
  int64_t base = b->base_ms > 0 ? b->base_ms : 500;
  int64_t cap = b->cap_ms > 0 ? b->cap_ms : 60000;
  int64_t d = base;
  for (int i = 0; i < k && d < cap; i++) d *= 2;
  if (d > cap) d = cap;
  return (int)(xorshift(&b->rng) % (uint32_t)(d + 1));
}
