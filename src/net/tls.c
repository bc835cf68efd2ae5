/*
 * tls.c: the step context, the TLS handshake step (OpenSSL) and the HTTP/1.1
 * round-trip step.
 *
 * TLS: the handshake runs with SSL_VERIFY_NONE so it always completes when
 * the network lets it; the verification result (chain to the CA file or the
 * system store, plus the host name) is then read and a failure to verify is
 * recorded as the handshake's failure (OONI's semantics), with the peer chain
 * kept. Handshake state: CONNECTING --WANT_READ/WANT_WRITE--> poll --> CONNECTING
 * ... --> DONE | FAILED(reset/eof/timeout/ssl).
 *
 * HTTP: write the request, then read until the pure parser says the message
 * is complete, the body cap is hit, the peer closes, or the read window ends.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/internal.h"

/* Add every certificate of a PEM text to @p st (roots trusted in addition to the store).
 * @return 1 when at least one was added and none was malformed */
static int add_pem_roots(X509_STORE *st, const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  if (!b) return 0;
  int added = 0;
  X509 *x;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (X509_STORE_add_cert(st, x) == 1) added++;
    X509_free(x);
  }
  unsigned long e = ERR_peek_last_error();
  bool clean_end = ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  BIO_free(b);
  return added > 0 && (clean_end || e == 0) ? 1 : 0;
}

kp_status_t kp_net_new(const kp_net_cfg_t *cfg, const kp_clock_t *clk, kp_trace_t *trace, kp_net_t **out) {
  kp_net_t *n = calloc(1, sizeof *n);
  if (!n) return KP_ERR_NOMEM;
  n->cfg = cfg;
  n->clk = clk;
  n->trace = trace;
  n->ssl = SSL_CTX_new(TLS_client_method());
  if (!n->ssl) {
    free(n);
    return KP_ERR_NOMEM;
  }
  SSL_CTX_set_min_proto_version(n->ssl, TLS1_2_VERSION);
  SSL_CTX_set_verify(n->ssl, SSL_VERIFY_NONE, NULL);
  int ok = cfg->ca_file ? SSL_CTX_load_verify_locations(n->ssl, cfg->ca_file, NULL)
                        : SSL_CTX_set_default_verify_paths(n->ssl);
  if (ok == 1 && cfg->extra_roots_pem) ok = add_pem_roots(SSL_CTX_get_cert_store(n->ssl), cfg->extra_roots_pem);
  if (ok != 1) {
    ERR_clear_error();
    SSL_CTX_free(n->ssl);
    free(n);
    return KP_ERR_INVAL;
  }
  *out = n;
  return KP_OK;
}

void kp_net_free(kp_net_t *n) {
  if (!n) return;
  SSL_CTX_free(n->ssl);
  free(n);
}

void kp_conn_close(kp_conn_t *c) {
  if (!c) return;
  if (c->ssl) SSL_free(c->ssl);
  if (c->fd >= 0) close(c->fd);
  free(c);
}

static const char *verify_failure(long v) {
  switch (v) {
  case X509_V_OK: return NULL;
  case X509_V_ERR_HOSTNAME_MISMATCH: return KP_FAIL_SSL_HOSTNAME;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return KP_FAIL_SSL_AUTHORITY;
  default: return KP_FAIL_SSL_CERT;
  }
}

kp_status_t kp_net_verify_chain(kp_net_t *n, const uint8_t *const *der, const size_t *len, size_t ncerts,
                                const char *host, int64_t at, const char **failure, long *code) {
  *failure = KP_FAIL_SSL_CERT;
  if (code) *code = -1;
  if (!n || !der || !len || ncerts == 0) return KP_ERR_INVAL;
  STACK_OF(X509) *rest = sk_X509_new_null();
  X509 *leaf = NULL;
  kp_status_t st = rest ? KP_OK : KP_ERR_NOMEM;
  for (size_t i = 0; st == KP_OK && i < ncerts; i++) {
    const unsigned char *p = der[i];
    X509 *x = len[i] <= (size_t)INT32_MAX ? d2i_X509(NULL, &p, (long)len[i]) : NULL;
    if (!x || p != der[i] + len[i]) {
      X509_free(x);
      st = KP_ERR_INVAL;
    } else if (i == 0) {
      leaf = x;
    } else if (!sk_X509_push(rest, x)) {
      X509_free(x);
      st = KP_ERR_NOMEM;
    }
  }
  X509_STORE_CTX *ctx = st == KP_OK ? X509_STORE_CTX_new() : NULL;
  if (st == KP_OK && (!ctx || X509_STORE_CTX_init(ctx, SSL_CTX_get_cert_store(n->ssl), leaf, rest) != 1))
    st = KP_ERR_NOMEM;
  if (st == KP_OK) {
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
    if (host) X509_VERIFY_PARAM_set1_host(vp, host, 0);
    if (at > 0) X509_VERIFY_PARAM_set_time(vp, (time_t)at);
    (void)X509_verify_cert(ctx);
    long v = X509_STORE_CTX_get_error(ctx);
    if (code) *code = v;
    *failure = verify_failure(v);
  }
  X509_STORE_CTX_free(ctx);
  X509_free(leaf);
  sk_X509_pop_free(rest, X509_free);
  ERR_clear_error();
  return st;
}

/* Failure of an SSL I/O call; errno must be the one right after the call. */
static const char *ssl_io_failure(SSL *s, int ret, int saved_errno, bool *retry_read, bool *retry_write) {
  int e = SSL_get_error(s, ret);
  *retry_read = e == SSL_ERROR_WANT_READ;
  *retry_write = e == SSL_ERROR_WANT_WRITE;
  if (*retry_read || *retry_write) return NULL;
  if (saved_errno == ECONNRESET) return KP_FAIL_RESET;
  if (e == SSL_ERROR_ZERO_RETURN) return KP_FAIL_EOF;
  if (e == SSL_ERROR_SYSCALL) return saved_errno == 0 ? KP_FAIL_EOF : (saved_errno == ETIMEDOUT ? KP_FAIL_TIMEOUT : KP_FAIL_RESET);
  unsigned long le = ERR_peek_error();
  if (ERR_GET_REASON(le) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return KP_FAIL_EOF;
  return KP_FAIL_SSL_GENERIC;
}

/* The first bytes the server sends during the handshake, copied as OpenSSL reads them, so the
 * pure record parser can say what came back (a ServerHello, an alert, or not TLS at all). */
typedef struct capture {
  uint8_t buf[4096];
  size_t len;
} capture_t;

static long capture_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                       size_t *processed) {
  (void)len;
  (void)argi;
  (void)argl;
  if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && processed && argp) {
    capture_t *cap = (capture_t *)BIO_get_callback_arg(b);
    size_t room = sizeof cap->buf - cap->len, take = *processed < room ? *processed : room;
    memcpy(cap->buf + cap->len, argp, take);
    cap->len += take;
  }
  return ret;
}

kp_status_t kp_net_tls(kp_net_t *n, kp_conn_t *c, const char *sni, const char **failure) {
  kp_tlsobs_t h;
  memset(&h, 0, sizeof h);
  h.txid = c->txid;
  h.verify_result = -1;
  kp_conn_peer(c, h.address);
  snprintf(h.server_name, sizeof h.server_name, "%s", sni);
  h.t0 = kp_trace_now(n->trace);
  kp_net_event(n, c->txid, "tls_handshake_start", h.address, NULL, -1);
  c->ssl = SSL_new(n->ssl);
  if (!c->ssl) return KP_ERR_NOMEM;
  SSL_set_fd(c->ssl, c->fd);
  capture_t *cap = calloc(1, sizeof *cap);
  BIO *rbio = SSL_get_rbio(c->ssl);
  if (cap && rbio) {
    BIO_set_callback_arg(rbio, (char *)cap);
    BIO_set_callback_ex(rbio, capture_cb);
  }
  SSL_set_tlsext_host_name(c->ssl, sni);
  SSL_set1_host(c->ssl, sni);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1);
  int64_t deadline = kp_net_deadline(n, n->cfg->tls_timeout);
  const char *fail = NULL;
  ERR_clear_error();
  for (;;) {
    errno = 0;
    int r = SSL_connect(c->ssl);
    int saved = errno;
    if (r == 1) break;
    bool rr, rw;
    fail = ssl_io_failure(c->ssl, r, saved, &rr, &rw);
    if (fail) break;
    int ms = kp_net_ms_left(n, deadline);
    if (ms == 0) {
      fail = KP_FAIL_TIMEOUT;
      break;
    }
    struct pollfd pf = {.fd = c->fd, .events = (short)(rr ? POLLIN : POLLOUT)};
    int pr = poll(&pf, 1, ms);
    if (pr == 0 && kp_net_ms_left(n, deadline) == 0) {
      fail = KP_FAIL_TIMEOUT;
      break;
    }
  }
  ERR_clear_error();
  if (cap && rbio) {
    BIO_set_callback_ex(rbio, NULL);
    BIO_set_callback_arg(rbio, NULL);
    h.server_bytes = cap->len;
    kp_status_t pst = kp_tls_parse(cap->buf, cap->len, &h.server);
    h.server_not_tls = cap->len > 0 && pst == KP_ERR_INVAL;
  }
  free(cap);
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);
  for (int i = 0; chain && i < sk_X509_num(chain) && h.ncerts < KP_TRACE_MAX_CERTS; i++) {
    unsigned char *der = NULL;
    int len = i2d_X509(sk_X509_value(chain, i), &der);
    if (len <= 0) continue;
    h.cert[h.ncerts] = malloc((size_t)len);
    if (h.cert[h.ncerts]) {
      memcpy(h.cert[h.ncerts], der, (size_t)len);
      h.cert_len[h.ncerts++] = (size_t)len;
    }
    OPENSSL_free(der);
  }
  if (!fail) {
    h.verify_result = SSL_get_verify_result(c->ssl);
    fail = verify_failure(h.verify_result);
    const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
    snprintf(h.cipher, sizeof h.cipher, "%s", ci ? SSL_CIPHER_standard_name(ci) : "");
    snprintf(h.version, sizeof h.version, "%s", SSL_get_version(c->ssl));
    const unsigned char *ap = NULL;
    unsigned int al = 0;
    SSL_get0_alpn_selected(c->ssl, &ap, &al);
    if (ap && al < sizeof h.alpn) {
      memcpy(h.alpn, ap, al);
      h.alpn[al] = 0;
    }
  }
  h.failure = fail;
  h.t = kp_trace_now(n->trace);
  kp_net_event(n, c->txid, "tls_handshake_done", h.address, fail, -1);
  kp_trace_add_tls(n->trace, &h);
  *failure = fail;
  return KP_OK;
}

/* ---- HTTP ---- */

/* Write all of p[0..len) before the deadline. */
static const char *conn_write(kp_net_t *n, kp_conn_t *c, const char *p, size_t len, int64_t deadline) {
  size_t off = 0;
  char scratch[96];
  while (off < len) {
    bool want_read = false;
    ssize_t w;
    int saved;
    if (c->ssl) {
      errno = 0;
      int r = SSL_write(c->ssl, p + off, (int)(len - off));
      saved = errno;
      if (r > 0) {
        w = r;
      } else {
        bool rr, rw;
        const char *f = ssl_io_failure(c->ssl, r, saved, &rr, &rw);
        ERR_clear_error();
        if (f) return f;
        want_read = rr;
        w = -1;
      }
    } else {
      w = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
      saved = errno;
      if (w < 0 && saved != EAGAIN && saved != EINTR) return kp_net_failure_errno(saved, scratch, sizeof scratch);
    }
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    int ms = kp_net_ms_left(n, deadline);
    if (ms == 0) return KP_FAIL_TIMEOUT;
    struct pollfd pf = {.fd = c->fd, .events = (short)(want_read ? POLLIN : POLLOUT)};
    poll(&pf, 1, ms);
  }
  return NULL;
}

/* One read: >0 bytes, 0 EOF, -1 would block (*fail NULL) or failure (*fail set). */
static ssize_t conn_read(kp_conn_t *c, uint8_t *buf, size_t cap, const char **fail, bool *want_write) {
  static __thread char scratch[96];
  *fail = NULL;
  *want_write = false;
  if (c->ssl) {
    errno = 0;
    int r = SSL_read(c->ssl, buf, (int)cap);
    int saved = errno;
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    bool rr, rw;
    const char *f = ssl_io_failure(c->ssl, r, saved, &rr, &rw);
    ERR_clear_error();
    if (rr || rw) {
      *want_write = rw;
      return -1;
    }
    if (f && strcmp(f, KP_FAIL_EOF) == 0) return 0; /* unclean close: treat as EOF, framing decides */
    *fail = f;
    return -1;
  }
  ssize_t r = recv(c->fd, buf, cap, 0);
  if (r >= 0) return r;
  if (errno == EAGAIN || errno == EINTR) return -1;
  *fail = kp_net_failure_errno(errno, scratch, sizeof scratch);
  return -1;
}

kp_status_t kp_net_exchange(kp_net_t *n, kp_conn_t *c, const void *req, size_t len, void *got, size_t cap, size_t want,
                            double seconds, size_t *have, const char **failure) {
  char addr[KP_ADDR_STRLEN + 8];
  kp_conn_peer(c, addr);
  *have = 0;
  int64_t deadline = kp_net_deadline(n, seconds);
  const char *fail = conn_write(n, c, req, len, deadline);
  kp_net_event(n, c->txid, "write", addr, fail, fail ? 0 : (int64_t)len);
  if (want > cap) want = cap;
  while (!fail && *have < want) {
    bool ww;
    const char *rf;
    ssize_t r = conn_read(c, (uint8_t *)got + *have, cap - *have, &rf, &ww);
    if (r > 0) {
      *have += (size_t)r;
      kp_net_event(n, c->txid, "read", addr, NULL, r);
      continue;
    }
    if (r == 0) break; /* the peer closed before `want`: what came is the result */
    if (rf) {
      fail = rf;
      kp_net_event(n, c->txid, "read", addr, rf, 0);
      break;
    }
    int ms = kp_net_ms_left(n, deadline);
    if (ms == 0) {
      fail = KP_FAIL_TIMEOUT;
      kp_net_event(n, c->txid, "read", addr, fail, 0);
      break;
    }
    struct pollfd pf = {.fd = c->fd, .events = (short)(ww ? POLLOUT : POLLIN)};
    poll(&pf, 1, ms);
  }
  *failure = fail && strncmp(fail, "unknown", 7) == 0 ? "unknown_failure" : fail;
  return KP_OK;
}

kp_status_t kp_net_http(kp_net_t *n, kp_conn_t *c, const kp_http_req_t *req, kp_http_result_t *res) {
  memset(res, 0, sizeof *res);
  res->status = 0;
  kp_httpobs_t o;
  memset(&o, 0, sizeof o);
  o.txid = c->txid;
  o.method = req->method;
  snprintf(o.url, sizeof o.url, "%s", req->url);
  snprintf(o.host, sizeof o.host, "%s", req->host);
  size_t cap = req->body_cap ? req->body_cap : (n->cfg->body_cap ? n->cfg->body_cap : (size_t)1 << 20);
  kp_buf_init(&o.head, 65536);
  kp_buf_init(&o.body, cap + 1);
  kp_buf_t raw, msg;
  kp_buf_init(&raw, cap + 131072);
  kp_buf_init(&msg, 8192);
  char addr[KP_ADDR_STRLEN + 8];
  kp_conn_peer(c, addr);
  o.t0 = kp_trace_now(n->trace);
  double window = req->max_seconds > 0 ? req->max_seconds : n->cfg->http_timeout;
  int64_t deadline = kp_net_deadline(n, window);
  kp_status_t st = kp_buf_printf(&msg,
                                 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
                                 "Connection: close\r\n%s\r\n",
                                 req->method, req->path, req->host,
                                 n->cfg->user_agent ? n->cfg->user_agent : KP_NET_USER_AGENT,
                                 strcmp(req->method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
  if (st != KP_OK) goto out;
  const char *fail = conn_write(n, c, kp_buf_str(&msg), msg.len, deadline);
  kp_net_event(n, c->txid, "write", addr, fail, fail ? 0 : (int64_t)msg.len);
  int64_t t_req = kp_now_mono(n->clk), t_last = t_req;
  kp_http_resp_t r;
  bool eof = false, done = false;
  kp_status_t pst = KP_ERR_TRUNC;
  uint8_t chunk[16384];
  while (!fail && !done) {
    bool ww;
    const char *rf;
    ssize_t got = conn_read(c, chunk, sizeof chunk, &rf, &ww);
    if (got > 0) {
      o.bytes_received += (uint64_t)got;
      if (!o.t_first_byte) o.t_first_byte = kp_trace_now(n->trace);
      t_last = kp_now_mono(n->clk);
      kp_net_event(n, c->txid, "read", addr, NULL, got);
      size_t room = raw.cap_limit - raw.len;
      if (kp_buf_append(&raw, chunk, (size_t)got < room ? (size_t)got : room) != KP_OK) {
        st = KP_ERR_NOMEM;
        goto out;
      }
    } else if (got == 0) {
      eof = true;
    } else if (rf) {
      fail = rf;
      kp_net_event(n, c->txid, "read", addr, rf, 0);
      break;
    }
    if (got != -1) {
      pst = kp_http_parse(raw.data ? raw.data : (const uint8_t *)"", raw.len, eof, cap, &r, &o.body);
      if (pst == KP_OK || pst == KP_ERR_INVAL || eof || raw.len >= raw.cap_limit) done = true;
      continue;
    }
    int ms = kp_net_ms_left(n, deadline);
    if (ms == 0) {
      fail = KP_FAIL_TIMEOUT;
      break;
    }
    struct pollfd pf = {.fd = c->fd, .events = (short)(ww ? POLLOUT : POLLIN)};
    poll(&pf, 1, ms);
  }
  if (!fail && pst != KP_OK) fail = (eof && raw.len == 0) ? KP_FAIL_EOF : KP_FAIL_HTTP_BAD;
  /* keep what arrived, even after a failure (a blockpage cut short is still evidence) */
  if (pst != KP_OK && raw.len) {
    kp_status_t p2 = kp_http_parse(raw.data, raw.len, true, cap, &r, &o.body);
    if (p2 != KP_OK && p2 != KP_ERR_INVAL) p2 = KP_ERR_INVAL;
    if (p2 == KP_OK || r.head_len) pst = KP_OK;
  }
  if (pst == KP_OK && r.head_len) {
    o.status = r.status;
    o.body_truncated = r.body_truncated;
    size_t keep = req->keep_cap ? req->keep_cap : 65536;
    res->head_len = o.body.len < sizeof res->head ? o.body.len : sizeof res->head;
    if (res->head_len) memcpy(res->head, o.body.data, res->head_len);
    res->bytes = o.body.len;
    if (o.body.len > keep) {
      o.body.len = keep;
      o.body.data[keep] = 0;
      o.body_truncated = true;
    }
    kp_buf_append(&o.head, raw.data, r.head_len < 65536 ? r.head_len : 65535);
  }
  o.failure = fail;
  o.t = kp_trace_now(n->trace);
  res->status = o.status;
  res->seconds = (double)(t_last - t_req) / 1e9;
  res->wire_bytes = o.bytes_received;
  res->complete = fail == NULL;
  res->failure = fail && strncmp(fail, "unknown", 7) == 0 ? "unknown_failure" : fail;
  kp_trace_add_http(n->trace, &o);
out:
  kp_buf_free(&o.head);
  kp_buf_free(&o.body);
  kp_buf_free(&raw);
  kp_buf_free(&msg);
  return st;
}
