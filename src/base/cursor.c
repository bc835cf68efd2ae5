#include "base/cursor.h"

#include <string.h>

bool kp_cur_u8(kp_cur_t *c, uint8_t *v) {
  if (kp_cur_left(c) < 1) return false;
  *v = c->p[c->off++];
  return true;
}

bool kp_cur_be16(kp_cur_t *c, uint16_t *v) {
  if (kp_cur_left(c) < 2) return false;
  const uint8_t *p = c->p + c->off;
  *v = (uint16_t)((p[0] << 8) | p[1]);
  c->off += 2;
  return true;
}

bool kp_cur_be32(kp_cur_t *c, uint32_t *v) {
  if (kp_cur_left(c) < 4) return false;
  const uint8_t *p = c->p + c->off;
  *v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
  c->off += 4;
  return true;
}

bool kp_cur_be64(kp_cur_t *c, uint64_t *v) {
  uint32_t hi, lo;
  size_t tag = kp_cur_tag(c);
  if (!kp_cur_be32(c, &hi) || !kp_cur_be32(c, &lo)) {
    kp_cur_rollback(c, tag);
    return false;
  }
  *v = ((uint64_t)hi << 32) | lo;
  return true;
}

bool kp_cur_le16(kp_cur_t *c, uint16_t *v) {
  if (kp_cur_left(c) < 2) return false;
  const uint8_t *p = c->p + c->off;
  *v = (uint16_t)(p[0] | (p[1] << 8));
  c->off += 2;
  return true;
}

bool kp_cur_le32(kp_cur_t *c, uint32_t *v) {
  if (kp_cur_left(c) < 4) return false;
  const uint8_t *p = c->p + c->off;
  *v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
  c->off += 4;
  return true;
}

bool kp_cur_bytes(kp_cur_t *c, void *dst, size_t n) {
  if (kp_cur_left(c) < n) return false;
  if (n) memcpy(dst, c->p + c->off, n);
  c->off += n;
  return true;
}

bool kp_cur_borrow(kp_cur_t *c, const uint8_t **out, size_t n) {
  if (kp_cur_left(c) < n) return false;
  *out = c->p + c->off;
  c->off += n;
  return true;
}

bool kp_cur_skip(kp_cur_t *c, size_t n) {
  if (kp_cur_left(c) < n) return false;
  c->off += n;
  return true;
}

bool kp_cur_sub(kp_cur_t *c, size_t n, kp_cur_t *sub) {
  if (kp_cur_left(c) < n) return false;
  *sub = kp_cur_make(c->p + c->off, n);
  c->off += n;
  return true;
}

bool kp_cur_peek(const kp_cur_t *c, uint8_t *v) {
  if (kp_cur_left(c) < 1) return false;
  *v = c->p[c->off];
  return true;
}

bool kp_cur_line(kp_cur_t *c, const uint8_t **line, size_t *len) {
  size_t left = kp_cur_left(c);
  if (left == 0) return false;
  const uint8_t *p = kp_cur_ptr(c), *nl = memchr(p, '\n', left);
  size_t n = nl ? (size_t)(nl - p) : left;
  c->off += nl ? n + 1 : n;
  if (n > 0 && p[n - 1] == '\r') n--;
  *line = p;
  *len = n;
  return true;
}
