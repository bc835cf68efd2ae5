/*
 * jsonw.c: the compact JSON writer declared in json.h.
 * Invariant: need_comma[depth] is true once a value was written at that depth;
 * a key sets after_key so the following value takes no comma.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/codec.h"

void kp_jw_init(kp_jw_t *w, kp_buf_t *out) {
  memset(w, 0, sizeof *w);
  w->out = out;
}

static void put(kp_jw_t *w, const char *s, size_t n) {
  if (w->st != KP_OK) return;
  w->st = kp_buf_append(w->out, s, n);
}

static void pre_value(kp_jw_t *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (w->need_comma[w->depth]) put(w, ",", 1);
  w->need_comma[w->depth] = true;
}

static void open_(kp_jw_t *w, char ch) {
  pre_value(w);
  put(w, &ch, 1);
  if (w->depth >= KP_JW_MAX_DEPTH) {
    if (w->st == KP_OK) w->st = KP_ERR_RANGE;
    return;
  }
  w->depth++;
  w->need_comma[w->depth] = false;
}

static void close_(kp_jw_t *w, char ch) {
  put(w, &ch, 1);
  if (w->depth > 0) w->depth--;
}

void kp_jw_obj_begin(kp_jw_t *w) { open_(w, '{'); }
void kp_jw_obj_end(kp_jw_t *w) { close_(w, '}'); }
void kp_jw_arr_begin(kp_jw_t *w) { open_(w, '['); }
void kp_jw_arr_end(kp_jw_t *w) { close_(w, ']'); }

/* Length of the valid UTF-8 sequence at p (0 if invalid). */
static size_t utf8_seq(const uint8_t *p, size_t n) {
  uint8_t c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return len;
}

bool kp_utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t l = utf8_seq(p + i, n - i);
    if (!l) return false;
    i += l;
  }
  return true;
}

/* Printable ASCII other than '"' and '\\': copied as is. */
static inline bool plain_ascii(uint8_t c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

/*
 * Writes s[0..n) as a JSON string. Runs of bytes that need no escape (ASCII
 * and valid UTF-8) are appended with one kp_buf_append each; the output is the
 * same byte for byte as escaping one byte at a time: the short escapes for
 * '"' '\\' \n \r \t, \u00XX (lower-case hex) for the other controls and DEL,
 * U+FFFD for each byte that does not start a valid UTF-8 sequence.
 * Every read is at i < n; a failed append sets w->st and later puts are no-ops.
 */
static void put_escaped(kp_jw_t *w, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const uint8_t *p = (const uint8_t *)s;
  put(w, "\"", 1);
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    for (;;) {
      while (i < n && plain_ascii(p[i])) i++;
      if (i < n && p[i] >= 0x80) {
        size_t l = utf8_seq(p + i, n - i);
        if (l) { i += l; continue; }
      }
      break;
    }
    if (i > start) put(w, s + start, i - start);
    if (i >= n) break;
    uint8_t c = p[i++];
    char tmp[6];
    switch (c) {
    case '"': put(w, "\\\"", 2); break;
    case '\\': put(w, "\\\\", 2); break;
    case '\n': put(w, "\\n", 2); break;
    case '\r': put(w, "\\r", 2); break;
    case '\t': put(w, "\\t", 2); break;
    default:
      if (c >= 0x80) { put(w, "\xEF\xBF\xBD", 3); break; }
      tmp[0] = '\\'; tmp[1] = 'u'; tmp[2] = '0'; tmp[3] = '0';
      tmp[4] = hex[c >> 4]; tmp[5] = hex[c & 15];
      put(w, tmp, sizeof tmp);
    }
  }
  put(w, "\"", 1);
}

void kp_jw_key(kp_jw_t *w, const char *k) {
  if (w->need_comma[w->depth]) put(w, ",", 1);
  w->need_comma[w->depth] = true;
  put_escaped(w, k, strlen(k));
  put(w, ":", 1);
  w->after_key = true;
}

void kp_jw_strn(kp_jw_t *w, const char *s, size_t n) {
  pre_value(w);
  if (!s) put(w, "null", 4);
  else put_escaped(w, s, n);
}

void kp_jw_str(kp_jw_t *w, const char *s) { kp_jw_strn(w, s, s ? strlen(s) : 0); }

void kp_jw_int(kp_jw_t *w, int64_t v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
  pre_value(w);
  put(w, tmp, (size_t)n);
}

void kp_jw_uint(kp_jw_t *w, uint64_t v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
  pre_value(w);
  put(w, tmp, (size_t)n);
}

void kp_jw_double(kp_jw_t *w, double v) {
  pre_value(w);
  if (!isfinite(v)) {
    put(w, "null", 4);
    return;
  }
  char tmp[40];
  int n = 0;
  for (int prec = 1; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  put(w, tmp, (size_t)n);
}

void kp_jw_fixed(kp_jw_t *w, double v, int decimals) {
  pre_value(w);
  if (!isfinite(v)) {
    put(w, "null", 4);
    return;
  }
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
  put(w, tmp, (size_t)n);
}

void kp_jw_bool(kp_jw_t *w, bool v) {
  pre_value(w);
  put(w, v ? "true" : "false", v ? 4 : 5);
}

void kp_jw_null(kp_jw_t *w) {
  pre_value(w);
  put(w, "null", 4);
}

void kp_jw_raw(kp_jw_t *w, const char *json, size_t n) {
  pre_value(w);
  put(w, json, n);
}

void kp_jw_node(kp_jw_t *w, const kp_json_t *v) {
  switch (kp_json_type(v)) {
  case KP_JSON_NULL: kp_jw_null(w); break;
  case KP_JSON_FALSE: kp_jw_bool(w, false); break;
  case KP_JSON_TRUE: kp_jw_bool(w, true); break;
  case KP_JSON_NUMBER: kp_jw_raw(w, kp_json_numtext(v), strlen(kp_json_numtext(v))); break;
  case KP_JSON_STRING: kp_jw_strn(w, kp_json_str(v), kp_json_strlen(v)); break;
  case KP_JSON_ARRAY:
    kp_jw_arr_begin(w);
    for (size_t i = 0; i < kp_json_len(v); i++) kp_jw_node(w, kp_json_at(v, i));
    kp_jw_arr_end(w);
    break;
  case KP_JSON_OBJECT:
    kp_jw_obj_begin(w);
    for (size_t i = 0; i < kp_json_len(v); i++) {
      kp_jw_key(w, kp_json_key_at(v, i));
      kp_jw_node(w, kp_json_at(v, i));
    }
    kp_jw_obj_end(w);
    break;
  }
}

void kp_jw_maybe_binary(kp_jw_t *w, const uint8_t *p, size_t n) {
  if (kp_utf8_valid(p, n)) {
    kp_jw_strn(w, (const char *)p, n);
    return;
  }
  kp_buf_t b;
  kp_buf_init(&b, 0);
  if (kp_base64_encode(p, n, &b) != KP_OK) {
    if (w->st == KP_OK) w->st = KP_ERR_NOMEM;
    kp_buf_free(&b);
    return;
  }
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "format", "base64");
  kp_jw_key(w, "data");
  kp_jw_strn(w, kp_buf_str(&b), b.len);
  kp_jw_obj_end(w);
  kp_buf_free(&b);
}

void kp_jw_kstr(kp_jw_t *w, const char *k, const char *s) { kp_jw_key(w, k); kp_jw_str(w, s); }
void kp_jw_kint(kp_jw_t *w, const char *k, int64_t v) { kp_jw_key(w, k); kp_jw_int(w, v); }
void kp_jw_kdouble(kp_jw_t *w, const char *k, double v) { kp_jw_key(w, k); kp_jw_double(w, v); }
void kp_jw_kbool(kp_jw_t *w, const char *k, bool v) { kp_jw_key(w, k); kp_jw_bool(w, v); }
void kp_jw_knull(kp_jw_t *w, const char *k) { kp_jw_key(w, k); kp_jw_null(w); }
