/*
 * http.c: HTTP/1.x response parser (RFC 9112), pure.
 *
 * The whole response seen so far is re-parsed on each call (callers read in
 * chunks and ask again), so the parser keeps no state between calls: it is a
 * function of (bytes, eof, cap). Lines end in CRLF (a bare LF is accepted);
 * header lines are capped at KP_HTTP_MAX_HEADERS; the body is framed by
 * chunked transfer coding, else Content-Length, else connection close. The
 * decoded body is copied into the caller's buffer up to body_cap; reaching
 * the cap completes the parse with body_truncated set.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/cursor.h"
#include "net/net.h"

/* Find the end of a line starting at c->off; sets *eol (line end) and advances past the terminator. */
static bool next_line(kp_cur_t *c, size_t *start, size_t *eol) {
  *start = c->off;
  for (size_t i = c->off; i < c->len; i++) {
    if (c->p[i] == '\n') {
      *eol = (i > *start && c->p[i - 1] == '\r') ? i - 1 : i;
      c->off = i + 1;
      return true;
    }
  }
  return false;
}

static bool lname_eq(const uint8_t *p, size_t n, const char *s) {
  return strlen(s) == n && strncasecmp((const char *)p, s, n) == 0;
}

const char *kp_http_header(const kp_http_resp_t *r, const uint8_t *p, const char *name, size_t *len) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (lname_eq(p + r->h[i].name_off, r->h[i].name_len, name)) {
      if (len) *len = r->h[i].value_len;
      return (const char *)p + r->h[i].value_off;
    }
  return NULL;
}

static kp_status_t body_put(kp_buf_t *body, size_t cap, const uint8_t *p, size_t n, kp_http_resp_t *r) {
  size_t room = cap > body->len ? cap - body->len : 0;
  if (n > room) {
    n = room;
    r->body_truncated = true;
  }
  if (n && kp_buf_append(body, p, n) != KP_OK) return KP_ERR_NOMEM;
  return KP_OK;
}

static kp_status_t parse_chunked(kp_cur_t *c, size_t cap, kp_http_resp_t *r, kp_buf_t *body) {
  for (;;) {
    size_t s, e;
    if (!next_line(c, &s, &e)) return KP_ERR_TRUNC;
    uint64_t sz = 0;
    size_t i = s, digits = 0;
    for (; i < e && isxdigit(c->p[i]); i++, digits++) {
      if (sz > (UINT64_MAX >> 4)) return KP_ERR_INVAL;
      int ch = tolower(c->p[i]);
      sz = (sz << 4) | (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    if (!digits || (i < e && c->p[i] != ';' && c->p[i] != ' ' && c->p[i] != '\t')) return KP_ERR_INVAL;
    if (sz == 0) { /* trailers until an empty line */
      for (;;) {
        if (!next_line(c, &s, &e)) return KP_ERR_TRUNC;
        if (s == e) return KP_OK;
      }
    }
    size_t have = kp_cur_left(c);
    size_t take = sz < have ? (size_t)sz : have;
    if (body_put(body, cap, kp_cur_ptr(c), take, r) != KP_OK) return KP_ERR_NOMEM;
    if (r->body_truncated) return KP_OK;
    if (take < sz) return KP_ERR_TRUNC;
    kp_cur_skip(c, take);
    if (!next_line(c, &s, &e)) return KP_ERR_TRUNC;
    if (s != e) return KP_ERR_INVAL; /* chunk data must be followed by CRLF */
  }
}

kp_status_t kp_http_parse(const uint8_t *p, size_t n, bool eof, size_t body_cap, kp_http_resp_t *r,
                          kp_buf_t *body) {
  memset(r, 0, sizeof *r);
  r->content_length = -1;
  kp_buf_reset(body);
  kp_cur_t c = kp_cur_make(p, n);
  size_t s, e;
  if (!next_line(&c, &s, &e)) return n > 8192 ? KP_ERR_INVAL : KP_ERR_TRUNC;
  /* HTTP/1.x SP 3DIGIT [SP reason] */
  if (e - s < 12 || memcmp(p + s, "HTTP/1.", 7) != 0 || !isdigit(p[s + 7]) || p[s + 8] != ' ')
    return KP_ERR_INVAL;
  r->minor = p[s + 7] - '0';
  for (int i = 0; i < 3; i++) {
    if (!isdigit(p[s + 9 + i])) return KP_ERR_INVAL;
    r->status = r->status * 10 + (p[s + 9 + i] - '0');
  }
  if (r->status < 100 || (e - s > 12 && p[s + 12] != ' ')) return KP_ERR_INVAL;
  r->reason_off = e - s > 12 ? s + 13 : e;
  r->reason_len = e - r->reason_off;
  for (;;) {
    if (!next_line(&c, &s, &e)) return c.off > 65536 || n > 65536 ? KP_ERR_INVAL : KP_ERR_TRUNC;
    if (s == e) break;
    if (p[s] == ' ' || p[s] == '\t') return KP_ERR_INVAL; /* obsolete folding */
    size_t colon = s;
    while (colon < e && p[colon] != ':') colon++;
    if (colon == e || colon == s) return KP_ERR_INVAL;
    for (size_t i = s; i < colon; i++)
      if (p[i] <= ' ' || p[i] >= 127) return KP_ERR_INVAL;
    size_t vs = colon + 1, ve = e;
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t')) vs++;
    while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) ve--;
    if (r->nheaders >= KP_HTTP_MAX_HEADERS) continue; /* extra headers are skipped, not kept */
    kp_http_hdr_t *h = &r->h[r->nheaders++];
    h->name_off = s;
    h->name_len = colon - s;
    h->value_off = vs;
    h->value_len = ve - vs;
    if (lname_eq(p + s, colon - s, "transfer-encoding")) {
      if (ve - vs >= 7 && strncasecmp((const char *)p + ve - 7, "chunked", 7) == 0) r->chunked = true;
    } else if (lname_eq(p + s, colon - s, "content-length")) {
      int64_t v = 0;
      if (vs == ve) return KP_ERR_INVAL;
      for (size_t i = vs; i < ve; i++) {
        if (!isdigit(p[i]) || v > (INT64_MAX - 9) / 10) return KP_ERR_INVAL;
        v = v * 10 + (p[i] - '0');
      }
      if (r->content_length >= 0 && r->content_length != v) return KP_ERR_INVAL;
      r->content_length = v;
    }
  }
  r->head_len = c.off;
  size_t cap = body_cap;
  kp_status_t st = KP_OK;
  if (r->status < 200 || r->status == 204 || r->status == 304) {
    /* no body */
  } else if (r->chunked) {
    st = parse_chunked(&c, cap, r, body);
    if (st == KP_ERR_TRUNC && eof) st = KP_ERR_INVAL;
  } else if (r->content_length >= 0) {
    size_t have = kp_cur_left(&c);
    uint64_t want = (uint64_t)r->content_length;
    size_t take = want < have ? (size_t)want : have;
    if (body_put(body, cap, kp_cur_ptr(&c), take, r) != KP_OK) return KP_ERR_NOMEM;
    kp_cur_skip(&c, take);
    if (!r->body_truncated && take < want) st = eof ? KP_ERR_INVAL : KP_ERR_TRUNC;
  } else {
    size_t have = kp_cur_left(&c);
    if (body_put(body, cap, kp_cur_ptr(&c), have, r) != KP_OK) return KP_ERR_NOMEM;
    kp_cur_skip(&c, have);
    if (!r->body_truncated && !eof) st = KP_ERR_TRUNC;
  }
  r->wire_len = c.off;
  return st;
}
