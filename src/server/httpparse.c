/*
 * httpparse.c: pure HTTP/1.1 request/response head parsers over kp_cur_t.
 *
 * (Control-plane clients use libcurl, src/httpc; measurements parse replies in src/net.)
 * Strict on purpose (RFC 9112): CRLF line ends, token methods and header
 * names, no obs-fold, no whitespace before ':', Content-Length digits only and
 * consistent if repeated, Content-Length together with Transfer-Encoding is
 * rejected (the request-smuggling shape). The head is located first (the
 * blank line within max_head bytes); parsing never reads past it, so a
 * truncated input is KP_ERR_TRUNC, never a read past the end.
 * Views in the result borrow the input buffer.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "base/cursor.h"
#include "server/server.h"

static bool is_tchar(uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* find "\r\n\r\n" in p..n; return head length or 0 */
static size_t find_head_end(const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 3 < n; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') return i + 4;
  return 0;
}

/* read bytes up to (not including) CRLF; the line must not contain bare CR/LF or NUL */
static bool take_line(kp_cur_t *c, kp_cur_t *line) {
  size_t start = kp_cur_tag(c);
  const uint8_t *p = kp_cur_ptr(c);
  size_t left = kp_cur_left(c);
  for (size_t i = 0; i + 1 < left; i++) {
    if (p[i] == '\r') {
      if (p[i + 1] != '\n') return false;
      *line = kp_cur_make(p, i);
      kp_cur_skip(c, i + 2);
      return true;
    }
    if (p[i] == '\n' || p[i] == 0) return false;
  }
  kp_cur_rollback(c, start);
  return false;
}

static kp_srv_slice_t trim(const uint8_t *p, size_t n) {
  while (n && (p[0] == ' ' || p[0] == '\t')) p++, n--;
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  kp_srv_slice_t s = {(const char *)p, n};
  return s;
}

bool kp_srv_slice_eq(kp_srv_slice_t s, const char *lit) {
  size_t l = strlen(lit);
  return s.p && s.n == l && memcmp(s.p, lit, l) == 0;
}
bool kp_srv_slice_ieq(kp_srv_slice_t s, const char *lit) {
  size_t l = strlen(lit);
  return s.p && s.n == l && strncasecmp(s.p, lit, l) == 0;
}

static bool slice_icontains(kp_srv_slice_t s, const char *lit) {
  size_t l = strlen(lit);
  for (size_t i = 0; s.p && i + l <= s.n; i++)
    if (strncasecmp(s.p + i, lit, l) == 0) return true;
  return false;
}

static kp_status_t parse_clen(kp_srv_slice_t v, int64_t *out) {
  if (v.n == 0 || v.n > 15) return KP_ERR_INVAL;
  int64_t x = 0;
  for (size_t i = 0; i < v.n; i++) {
    if (v.p[i] < '0' || v.p[i] > '9') return KP_ERR_INVAL;
    x = x * 10 + (v.p[i] - '0');
  }
  *out = x;
  return KP_OK;
}

/* name: value lines until the blank line; shared by requests and responses */
static kp_status_t parse_fields(kp_cur_t *c, kp_srv_slice_t *names, kp_srv_slice_t *values, size_t *count,
                                int64_t *clen, bool *chunked, int *conn /* 1 close, 2 keep-alive */) {
  *count = 0;
  *clen = -1;
  *chunked = false;
  *conn = 0;
  bool has_te = false;
  for (;;) {
    kp_cur_t line;
    if (!take_line(c, &line)) return KP_ERR_INVAL;
    if (line.len == 0) break;
    const uint8_t *p = line.p;
    size_t i = 0;
    while (i < line.len && is_tchar(p[i])) i++;
    if (i == 0 || i >= line.len || p[i] != ':') return KP_ERR_INVAL; /* also rejects obs-fold */
    for (size_t k = i + 1; k < line.len; k++)
      if (p[k] < 0x20 && p[k] != '\t') return KP_ERR_INVAL;
    kp_srv_slice_t name = {(const char *)p, i};
    kp_srv_slice_t val = trim(p + i + 1, line.len - i - 1);
    if (*count >= KP_SRV_MAX_HEADERS) return KP_ERR_RANGE;
    names[*count] = name;
    values[*count] = val;
    (*count)++;
    if (kp_srv_slice_ieq(name, "content-length")) {
      int64_t v;
      if (parse_clen(val, &v) != KP_OK) return KP_ERR_INVAL;
      if (*clen >= 0 && *clen != v) return KP_ERR_INVAL;
      *clen = v;
    } else if (kp_srv_slice_ieq(name, "transfer-encoding")) {
      has_te = true;
      if (slice_icontains(val, "chunked")) *chunked = true;
    } else if (kp_srv_slice_ieq(name, "connection")) {
      if (slice_icontains(val, "close")) *conn = 1;
      else if (slice_icontains(val, "keep-alive")) *conn = 2;
    }
  }
  if (has_te && *clen >= 0) return KP_ERR_INVAL;
  if (has_te && !*chunked) return KP_ERR_INVAL; /* unknown coding: cannot frame the body */
  return KP_OK;
}

kp_status_t kp_srv_parse_head(const uint8_t *p, size_t n, size_t max_head, kp_srv_req_t *req,
                               size_t *head_len) {
  memset(req, 0, sizeof *req);
  size_t lim = n < max_head ? n : max_head;
  size_t hl = find_head_end(p, lim);
  if (!hl) return n >= max_head ? KP_ERR_RANGE : KP_ERR_TRUNC;
  kp_cur_t c = kp_cur_make(p, hl), line;
  if (!take_line(&c, &line)) return KP_ERR_INVAL;
  /* method SP target SP HTTP/1.x */
  size_t i = 0;
  while (i < line.len && is_tchar(line.p[i])) i++;
  if (i == 0 || i > 16 || i >= line.len || line.p[i] != ' ') return KP_ERR_INVAL;
  req->method = (kp_srv_slice_t){(const char *)line.p, i};
  size_t t0 = ++i;
  while (i < line.len && line.p[i] > 0x20 && line.p[i] < 0x7f) i++;
  if (i == t0 || i >= line.len || line.p[i] != ' ') return KP_ERR_INVAL;
  req->target = (kp_srv_slice_t){(const char *)line.p + t0, i - t0};
  if (req->target.p[0] != '/') return KP_ERR_INVAL; /* origin-form only */
  i++;
  if (line.len - i != 8 || memcmp(line.p + i, "HTTP/1.", 7) != 0) {
    if (line.len - i >= 5 && memcmp(line.p + i, "HTTP/", 5) == 0) return KP_ERR_UNSUPPORTED;
    return KP_ERR_INVAL;
  }
  uint8_t mv = line.p[i + 7];
  if (mv != '0' && mv != '1') return KP_ERR_UNSUPPORTED;
  req->version_minor = mv - '0';
  const char *q = memchr(req->target.p, '?', req->target.n);
  req->path = (kp_srv_slice_t){req->target.p, q ? (size_t)(q - req->target.p) : req->target.n};
  req->query = q ? (kp_srv_slice_t){q + 1, req->target.n - req->path.n - 1} : (kp_srv_slice_t){"", 0};
  int conn = 0;
  kp_status_t st = parse_fields(&c, req->hname, req->hvalue, &req->nheaders, &req->content_length,
                                &req->chunked, &conn);
  if (st != KP_OK) return st;
  req->keep_alive = req->version_minor == 1 ? conn != 1 : conn == 2;
  *head_len = hl;
  return KP_OK;
}

kp_srv_slice_t kp_srv_header(const kp_srv_req_t *req, const char *name) {
  for (size_t i = 0; i < req->nheaders; i++)
    if (kp_srv_slice_ieq(req->hname[i], name)) return req->hvalue[i];
  kp_srv_slice_t none = {NULL, 0};
  return none;
}

static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* the raw value of the first parameter called @p name: [*v, *e), empty for "name" alone.
 * false when no key is @p name */
static bool query_find(kp_srv_slice_t query, const char *name, const char **v, const char **e) {
  size_t nl = strlen(name);
  const char *p = query.p, *end = query.p + query.n;
  while (p && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    const char *ke = eq ? eq : pe;
    if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0) {
      *v = eq ? eq + 1 : pe;
      *e = pe;
      return true;
    }
    p = amp ? amp + 1 : end;
  }
  return false;
}

bool kp_srv_query_get(kp_srv_slice_t query, const char *name, char *out, size_t cap) {
  const char *v, *e;
  if (!query_find(query, name, &v, &e)) return false;
  size_t o = 0;
  for (; v < e; v++) {
    char ch = *v;
    if (ch == '+') ch = ' ';
    else if (ch == '%') {
      if (e - v < 3 || hexv(v[1]) < 0 || hexv(v[2]) < 0) return false;
      ch = (char)(hexv(v[1]) * 16 + hexv(v[2]));
      v += 2;
    }
    if (ch == 0 || o + 1 >= cap) return false;
    out[o++] = ch;
  }
  out[o] = 0;
  return true;
}

/* true when @p name appears as a key in the query, whatever its value */
static bool query_has(kp_srv_slice_t query, const char *name) {
  const char *v, *e;
  return query_find(query, name, &v, &e);
}

/* a paging number: 1..18 decimal digits (no sign, no blanks), within [lo, hi] */
static bool page_number(kp_srv_slice_t query, const char *name, long long lo, long long hi,
                        long long *out) {
  char v[24];
  if (!kp_srv_query_get(query, name, v, sizeof v) || !v[0] || strlen(v) > 18) return false;
  long long x = 0;
  for (const char *c = v; *c; c++) {
    if (*c < '0' || *c > '9') return false;
    x = x * 10 + (*c - '0');
  }
  if (x < lo || x > hi) return false;
  *out = x;
  return true;
}

const char *kp_srv_page_query(kp_srv_slice_t query, long long def_limit, long long *limit,
                              long long *offset) {
  *limit = def_limit;
  *offset = 0;
  if (query_has(query, "limit") && !page_number(query, "limit", 1, 10000, limit)) return "limit";
  if (query_has(query, "offset") && !page_number(query, "offset", 0, LLONG_MAX, offset))
    return "offset";
  return NULL;
}
