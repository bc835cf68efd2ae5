/*
 * cursor.h: the bounded read cursor through which every untrusted byte is parsed.
 *
 * Invariant: off <= len at all times. Every fetch checks the remaining length
 * first and, on failure, leaves the cursor unchanged and returns false. A
 * parser saves `off` (kp_cur_tag) before a speculative read and restores it
 * (kp_cur_rollback) to back up. The cursor never owns the bytes.
 */
#ifndef KP_BASE_CURSOR_H
#define KP_BASE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kp_cur {
  const uint8_t *p; /* borrowed */
  size_t len;
  size_t off;
} kp_cur_t;

static inline kp_cur_t kp_cur_make(const void *p, size_t len) {
  kp_cur_t c = {(const uint8_t *)p, len, 0};
  return c;
}
static inline size_t kp_cur_left(const kp_cur_t *c) { return c->len - c->off; }
static inline const uint8_t *kp_cur_ptr(const kp_cur_t *c) { return c->p + c->off; }
static inline size_t kp_cur_tag(const kp_cur_t *c) { return c->off; }
static inline void kp_cur_rollback(kp_cur_t *c, size_t tag) { if (tag <= c->len) c->off = tag; }

bool kp_cur_u8(kp_cur_t *c, uint8_t *v);
bool kp_cur_be16(kp_cur_t *c, uint16_t *v);
bool kp_cur_be32(kp_cur_t *c, uint32_t *v);
bool kp_cur_be64(kp_cur_t *c, uint64_t *v);
bool kp_cur_le16(kp_cur_t *c, uint16_t *v);
bool kp_cur_le32(kp_cur_t *c, uint32_t *v);
/** Copy @p n bytes into @p dst. */
bool kp_cur_bytes(kp_cur_t *c, void *dst, size_t n);
/** Borrow @p n bytes: *out points into the cursor's buffer. */
bool kp_cur_borrow(kp_cur_t *c, const uint8_t **out, size_t n);
bool kp_cur_skip(kp_cur_t *c, size_t n);
/** Split off the next @p n bytes as a sub-cursor and advance past them. */
bool kp_cur_sub(kp_cur_t *c, size_t n, kp_cur_t *sub);
/** Peek a byte without advancing. */
bool kp_cur_peek(const kp_cur_t *c, uint8_t *v);
/**
 * Take the next line of text: *line borrows it without its '\n' and without one '\r' before
 * it, *len is what is left. The last line needs no '\n'; "a\n" is one line, "a\n\n" two
 * (the second empty). False, with the cursor unchanged, once nothing is left. Every line
 * splitter of the project goes through here, so a CRLF file reads the same everywhere.
 */
bool kp_cur_line(kp_cur_t *c, const uint8_t **line, size_t *len);

#endif
