/*
 * codec.h: hex and base64 (RFC 4648) encode/decode, hashing shorthands, and
 * the one CSV cell writer.
 * Decoders are pure functions over untrusted bytes.
 */
#ifndef KP_BASE_CODEC_H
#define KP_BASE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

kp_status_t kp_base64_encode(const uint8_t *p, size_t n, kp_buf_t *out);
/** Accepts padded or unpadded standard alphabet; ignores ASCII whitespace. */
kp_status_t kp_base64_decode(const char *s, size_t n, kp_buf_t *out);
kp_status_t kp_hex_encode(const uint8_t *p, size_t n, kp_buf_t *out);
/** Writes n/2 bytes into @p dst (dst_cap must be >= n/2). */
kp_status_t kp_hex_decode(const char *s, size_t n, uint8_t *dst, size_t dst_cap);
/** SHA-256 of p..n into out[32]. */
void kp_sha256(const void *p, size_t n, uint8_t out[32]);
/** Lower-case hex of SHA-256 into out[65]. */
void kp_sha256_hex(const void *p, size_t n, char out[65]);

/**
 * One CSV cell (RFC 4180) appended to @p out: quoted when it holds , " CR LF
 * or needs the formula guard. Formula guard (CSV injection, OWASP): a cell
 * whose first byte is = + - @ TAB or CR, or whose first non-space byte is
 * = + - @, gets a leading apostrophe inside quotes, so a spreadsheet shows
 * it as text instead of evaluating it. Every spreadsheet-bound CSV uses this.
 */
kp_status_t kp_csv_cell(kp_buf_t *out, const char *s);

#endif
