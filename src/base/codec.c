#include "base/codec.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

kp_status_t kp_base64_encode(const uint8_t *p, size_t n, kp_buf_t *out) {
  kp_status_t st = kp_buf_reserve(out, (n + 2) / 3 * 4);
  if (st != KP_OK) return st;
  char q[4];
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
    q[0] = b64[v >> 18]; q[1] = b64[(v >> 12) & 63]; q[2] = b64[(v >> 6) & 63]; q[3] = b64[v & 63];
    kp_buf_append(out, q, 4);
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    q[0] = b64[v >> 18]; q[1] = b64[(v >> 12) & 63]; q[2] = '='; q[3] = '=';
    kp_buf_append(out, q, 4);
  } else if (n - i == 2) {
    uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
    q[0] = b64[v >> 18]; q[1] = b64[(v >> 12) & 63]; q[2] = b64[(v >> 6) & 63]; q[3] = '=';
    kp_buf_append(out, q, 4);
  }
  return KP_OK;
}

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

kp_status_t kp_base64_decode(const char *s, size_t n, kp_buf_t *out) {
  uint32_t acc = 0;
  int bits = 0;
  bool pad = false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') { pad = true; continue; }
    if (pad) return KP_ERR_INVAL;
    int v = b64val(c);
    if (v < 0) return KP_ERR_INVAL;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      uint8_t b = (uint8_t)(acc >> bits);
      kp_status_t st = kp_buf_append(out, &b, 1);
      if (st != KP_OK) return st;
    }
  }
  return KP_OK;
}

kp_status_t kp_hex_encode(const uint8_t *p, size_t n, kp_buf_t *out) {
  static const char hx[] = "0123456789abcdef";
  kp_status_t st = kp_buf_reserve(out, n * 2);
  if (st != KP_OK) return st;
  for (size_t i = 0; i < n; i++) {
    char t[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
    kp_buf_append(out, t, 2);
  }
  return KP_OK;
}

static int hv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

kp_status_t kp_hex_decode(const char *s, size_t n, uint8_t *dst, size_t dst_cap) {
  if (n % 2) return KP_ERR_INVAL;
  if (n / 2 > dst_cap) return KP_ERR_RANGE;
  for (size_t i = 0; i < n; i += 2) {
    int a = hv(s[i]), b = hv(s[i + 1]);
    if (a < 0 || b < 0) return KP_ERR_INVAL;
    dst[i / 2] = (uint8_t)(a << 4 | b);
  }
  return KP_OK;
}

void kp_sha256(const void *p, size_t n, uint8_t out[32]) {
  unsigned int len = 32;
  EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void kp_sha256_hex(const void *p, size_t n, char out[65]) {
  static const char hx[] = "0123456789abcdef";
  uint8_t d[32];
  kp_sha256(p, n, d);
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hx[d[i] >> 4];
    out[2 * i + 1] = hx[d[i] & 15];
  }
  out[64] = 0;
}

static bool csv_formula_start(const char *s) {
  if (s[0] == '\t' || s[0] == '\r') return true;
  while (*s == ' ') s++;
  return *s == '=' || *s == '+' || *s == '-' || *s == '@';
}

kp_status_t kp_csv_cell(kp_buf_t *out, const char *s) {
  bool guard = csv_formula_start(s);
  bool quote = guard || strpbrk(s, ",\"\r\n") != NULL;
  kp_status_t st = KP_OK;
  if (quote) st = kp_buf_putc(out, '"');
  if (st == KP_OK && guard) st = kp_buf_putc(out, '\'');
  for (const char *r = s; st == KP_OK && *r;) {
    size_t k = strcspn(r, "\"");
    st = kp_buf_append(out, r, k);
    r += k;
    if (st == KP_OK && *r == '"') st = kp_buf_append(out, "\"\"", 2), r++;
  }
  if (st == KP_OK && quote) st = kp_buf_putc(out, '"');
  return st;
}
