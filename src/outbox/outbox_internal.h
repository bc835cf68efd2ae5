/*
 * outbox_internal.h: what record.c and head.c share and nobody else uses: the two field readers
 * of a signed line (record or head checkpoint). Both are bounded: a hex field must be exactly 64
 * digits, a base64 field at most 128 characters and decode to exactly @p want bytes.
 */
#ifndef KP_OUTBOX_INTERNAL_H
#define KP_OUTBOX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/json.h"

bool kp_outbox_field_hex32(const kp_json_t *o, const char *k, uint8_t out[32]);
bool kp_outbox_field_b64(const kp_json_t *o, const char *k, uint8_t *out, size_t want);

#endif
