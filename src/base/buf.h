/*
 * buf.h: a growable byte buffer with a hard size cap (after curl's dynbuf).
 *
 * Invariants: len <= cap_limit; when data != NULL, data[len] == '\0' (so the
 * contents can be used as a C string when they hold text). Appending past
 * cap_limit fails with KP_ERR_NOMEM and leaves the buffer unchanged.
 * The struct is transparent so it can be embedded; touch fields read-only.
 */
#ifndef KP_BASE_BUF_H
#define KP_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct kp_buf {
  uint8_t *data;    /* owned; NULL until the first append */
  size_t len;
  size_t alloc;
  size_t cap_limit; /* largest len allowed */
} kp_buf_t;

#define KP_BUF_DEFAULT_CAP ((size_t)64 << 20)

void kp_buf_init(kp_buf_t *b, size_t cap_limit);
void kp_buf_free(kp_buf_t *b);
/** Keep the allocation, forget the contents. */
void kp_buf_reset(kp_buf_t *b);
kp_status_t kp_buf_reserve(kp_buf_t *b, size_t extra);
kp_status_t kp_buf_append(kp_buf_t *b, const void *p, size_t n);
kp_status_t kp_buf_putc(kp_buf_t *b, char ch);
kp_status_t kp_buf_puts(kp_buf_t *b, const char *s);
kp_status_t kp_buf_printf(kp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
kp_status_t kp_buf_vprintf(kp_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/** Drop the first @p n bytes (n > len drops everything). */
void kp_buf_consume(kp_buf_t *b, size_t n);
/** Text view: never NULL ("" when empty). */
const char *kp_buf_str(const kp_buf_t *b);
/** Hand the allocation to the caller (NUL-terminated, may be NULL if empty) and reset. */
char *kp_buf_steal(kp_buf_t *b);

#endif
