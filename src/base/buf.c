#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kp_buf_init(kp_buf_t *b, size_t cap_limit) {
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  b->cap_limit = cap_limit ? cap_limit : KP_BUF_DEFAULT_CAP;
}

void kp_buf_free(kp_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->alloc = 0;
}

void kp_buf_reset(kp_buf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = 0;
}

kp_status_t kp_buf_reserve(kp_buf_t *b, size_t extra) {
  if (extra > b->cap_limit - b->len) return KP_ERR_NOMEM;
  size_t need = b->len + extra + 1; /* +1 for the NUL */
  if (need <= b->alloc) return KP_OK;
  size_t n = b->alloc ? b->alloc : 64;
  while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
  if (n > b->cap_limit + 1) n = b->cap_limit + 1;
  uint8_t *p = realloc(b->data, n);
  if (!p) return KP_ERR_NOMEM;
  b->data = p;
  b->alloc = n;
  return KP_OK;
}

kp_status_t kp_buf_append(kp_buf_t *b, const void *p, size_t n) {
  kp_status_t st = kp_buf_reserve(b, n);
  if (st != KP_OK) return st;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return KP_OK;
}

kp_status_t kp_buf_putc(kp_buf_t *b, char ch) { return kp_buf_append(b, &ch, 1); }

kp_status_t kp_buf_puts(kp_buf_t *b, const char *s) { return kp_buf_append(b, s, strlen(s)); }

kp_status_t kp_buf_vprintf(kp_buf_t *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return KP_ERR_INVAL;
  kp_status_t st = kp_buf_reserve(b, (size_t)n);
  if (st != KP_OK) return st;
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return KP_OK;
}

kp_status_t kp_buf_printf(kp_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kp_status_t st = kp_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return st;
}

void kp_buf_consume(kp_buf_t *b, size_t n) {
  if (n >= b->len) {
    kp_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = 0;
}

const char *kp_buf_str(const kp_buf_t *b) { return b->data ? (const char *)b->data : ""; }

char *kp_buf_steal(kp_buf_t *b) {
  char *p = (char *)b->data;
  b->data = NULL;
  b->len = b->alloc = 0;
  return p;
}
