/*
 * guard.c: what a request must show before its handler runs (pure; no I/O).
 *
 * Order of checks (kp_srv_guard), each answered with its own status:
 *   1. Host in the allowed list ............................ 421 (DNS rebinding: a page on
 *      attacker.example whose name now resolves to 127.0.0.1 sends Host: attacker.example)
 *   2. writes (any method but GET/HEAD):
 *      Origin, when sent, names the same authority as Host;
 *      Sec-Fetch-Site, when sent, is not cross-site ......... 403 (a hostile page posting
 *      through the operator's browser: browsers always send Origin on cross-origin POSTs)
 *   3. writes on routes without KP_SRV_OPEN_WRITE:
 *      a server without a token refuses them ............... 403
 *      Authorization: Bearer <token> ....................... 401 + WWW-Authenticate
 *      Content-Type application/json or JSON Lines ......... 415 (text/plain is what a
 *      form or a no-preflight fetch() can send; a JSON type forces a CORS preflight,
 *      which this server never answers positively)
 * The token comparison hashes both sides with SHA-256 and compares the digests with
 * CRYPTO_memcmp, so its time depends neither on where they differ nor on the token length.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"

const char kp_srv_security_headers[] =
  "X-Content-Type-Options: nosniff\r\n"
  "X-Frame-Options: DENY\r\n"
  "Referrer-Policy: no-referrer\r\n"
  "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n";

/* host part of an authority "name[:port]" / "[v6]:port" (brackets and a trailing dot dropped) */
static kp_srv_slice_t authority_host(kp_srv_slice_t a) {
  kp_srv_slice_t h = a;
  if (h.n && h.p[0] == '[') {
    const char *e = memchr(h.p, ']', h.n);
    if (!e) return (kp_srv_slice_t){NULL, 0};
    h.p++;
    h.n = (size_t)(e - h.p);
  } else {
    const char *c = memchr(h.p, ':', h.n);
    if (c) h.n = (size_t)(c - h.p);
  }
  if (h.n && h.p[h.n - 1] == '.') h.n--;
  return h;
}

/* A "*" entry anywhere in the list is "any Host", as "*" alone is, also for a request with no
 * usable host name (fuzz_guard found "*" and "a,*" disagreeing on Host ":80"). */
bool kp_srv_host_allowed(const char *list, kp_srv_slice_t host) {
  if (!list) return true;
  kp_srv_slice_t h = host.p ? authority_host(host) : host;
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    const char *q = p;
    size_t m = n;
    while (m && *q == ' ') q++, m--;
    while (m && q[m - 1] == ' ') m--;
    if ((m == 1 && *q == '*') || (h.p && h.n && m == h.n && strncasecmp(q, h.p, m) == 0)) return true;
    p += n + (p[n] == ',');
  }
  return false;
}

/* authority without a default port (":80" / ":443") */
static kp_srv_slice_t strip_default_port(kp_srv_slice_t a) {
  if (a.n > 3 && memcmp(a.p + a.n - 3, ":80", 3) == 0) a.n -= 3;
  else if (a.n > 4 && memcmp(a.p + a.n - 4, ":443", 4) == 0) a.n -= 4;
  return a;
}

bool kp_srv_origin_same(kp_srv_slice_t origin, kp_srv_slice_t host) {
  if (!origin.p || !host.p) return false;
  const char *sep = origin.n > 3 ? memchr(origin.p, ':', origin.n) : NULL;
  if (!sep || (size_t)(origin.p + origin.n - sep) < 4 || sep[1] != '/' || sep[2] != '/') return false;
  kp_srv_slice_t auth = {sep + 3, (size_t)(origin.p + origin.n - (sep + 3))};
  auth = strip_default_port(auth);
  host = strip_default_port(host);
  return auth.n == host.n && strncasecmp(auth.p, host.p, auth.n) == 0;
}

bool kp_srv_bearer_ok(const char *token, kp_srv_slice_t az) {
  if (!token || !*token || !az.p || az.n < 8 || strncasecmp(az.p, "Bearer ", 7) != 0) return false;
  const char *t = az.p + 7;
  size_t n = az.n - 7;
  while (n && *t == ' ') t++, n--;
  uint8_t a[32], b[32];
  unsigned la = 0, lb = 0;
  if (!EVP_Digest(token, strlen(token), a, &la, EVP_sha256(), NULL) || !EVP_Digest(t, n, b, &lb, EVP_sha256(), NULL))
    return false;
  return la == 32 && lb == 32 && CRYPTO_memcmp(a, b, 32) == 0;
}

static bool is_json_type(const kp_srv_req_t *req) {
  static const char *const ok[] = {"application/json", "application/x-ndjson", "application/jsonl"};
  kp_srv_slice_t ct = kp_srv_header(req, "content-type");
  for (size_t i = 0; ct.p && i < sizeof ok / sizeof *ok; i++) {
    size_t wl = strlen(ok[i]);
    if (ct.n >= wl && strncasecmp(ct.p, ok[i], wl) == 0 && (ct.n == wl || ct.p[wl] == ';' || ct.p[wl] == ' '))
      return true;
  }
  return false;
}

bool kp_srv_guard(const kp_srv_config_t *cfg, const kp_srv_req_t *req, unsigned flags, kp_srv_resp_t *resp) {
  kp_srv_slice_t host = kp_srv_header(req, "host");
  if (!kp_srv_host_allowed(cfg->allowed_hosts, host)) {
    kp_srv_error(resp, 421, "this server does not answer for that Host");
    return false;
  }
  bool write = !kp_srv_slice_eq(req->method, "GET") && !kp_srv_slice_eq(req->method, "HEAD");
  if (!write) return true;
  kp_srv_slice_t origin = kp_srv_header(req, "origin"), site = kp_srv_header(req, "sec-fetch-site");
  if ((origin.p && !kp_srv_origin_same(origin, host)) || (site.p && kp_srv_slice_ieq(site, "cross-site"))) {
    kp_srv_error(resp, 403, "cross-origin writes are refused");
    return false;
  }
  if (flags & KP_SRV_OPEN_WRITE) return true;
  if (!cfg->admin_token || !*cfg->admin_token) {
    kp_srv_error(resp, 403, "writes are disabled: start the server with an admin token");
    return false;
  }
  if (!kp_srv_bearer_ok(cfg->admin_token, kp_srv_header(req, "authorization"))) {
    kp_srv_error(resp, 401, "this route needs Authorization: Bearer <admin token>");
    kp_buf_puts(&resp->headers, "WWW-Authenticate: Bearer\r\n");
    return false;
  }
  if (!is_json_type(req)) {
    kp_srv_error(resp, 415, "Content-Type must be application/json or application/x-ndjson");
    return false;
  }
  return true;
}
