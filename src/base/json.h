/*
 * json.h: JSON reader (a bounded DOM over untrusted bytes) and writer.
 *
 * Reader: kp_json_parse() is a pure function of (ptr, len): strict RFC 8259
 * grammar, depth and size caps, no I/O. The document owns every node and
 * string (one arena); nodes are borrowed and live until kp_json_doc_free().
 * Lookups on a NULL or wrong-typed node return NULL/0/false, so chains like
 * kp_json_get_str(kp_json_get(root, "test_keys"), "failure") are safe.
 *
 * Writer: kp_jw_* append compact JSON to a kp_buf_t; the writer tracks commas.
 * Strings are written as valid UTF-8 (invalid bytes become U+FFFD).
 */
#ifndef KP_BASE_JSON_H
#define KP_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

typedef enum kp_json_type {
  KP_JSON_NULL = 0,
  KP_JSON_FALSE,
  KP_JSON_TRUE,
  KP_JSON_NUMBER,
  KP_JSON_STRING,
  KP_JSON_ARRAY,
  KP_JSON_OBJECT,
} kp_json_type_t;

typedef struct kp_json_doc kp_json_doc_t;
typedef struct kp_json kp_json_t;

/** Deepest nesting the reader accepts (a smaller max_depth may be asked for). */
#define KP_JSON_MAX_DEPTH 128

typedef struct kp_json_limits {
  size_t max_depth; /* 0 or more than KP_JSON_MAX_DEPTH = KP_JSON_MAX_DEPTH */
  size_t max_bytes; /* arena cap, 0 = 16 * input length + 64 KiB */
} kp_json_limits_t;

/**
 * Parse one JSON value (surrounding whitespace allowed, nothing else).
 * @param[out] out     the document, owned by the caller
 * @param[out] err_off byte offset of the first error (may be NULL)
 * Strict: a duplicate key in one object, or \u0000 in a key, is KP_ERR_INVAL.
 * @return KP_OK, KP_ERR_INVAL (syntax), KP_ERR_TRUNC, KP_ERR_RANGE (depth), KP_ERR_NOMEM
 */
kp_status_t kp_json_parse(const void *p, size_t n, const kp_json_limits_t *lim,
                          kp_json_doc_t **out, size_t *err_off);
void kp_json_doc_free(kp_json_doc_t *doc);
const kp_json_t *kp_json_root(const kp_json_doc_t *doc);

kp_json_type_t kp_json_type(const kp_json_t *v); /* NULL -> KP_JSON_NULL */
bool kp_json_is(const kp_json_t *v, kp_json_type_t t);
/** Object member by key (keys are unique), or NULL. */
const kp_json_t *kp_json_get(const kp_json_t *obj, const char *key);
/** Element count of an array or object, 0 otherwise. */
size_t kp_json_len(const kp_json_t *v);
/** i-th array element or i-th object value. */
const kp_json_t *kp_json_at(const kp_json_t *v, size_t i);
/** i-th object key. */
const char *kp_json_key_at(const kp_json_t *obj, size_t i);
/** String contents (NUL-terminated; may hold embedded NULs, see kp_json_strlen), or NULL. */
const char *kp_json_str(const kp_json_t *v);
size_t kp_json_strlen(const kp_json_t *v);
/** String contents as a C string: NULL when not a string or when it holds \u0000. */
const char *kp_json_cstr(const kp_json_t *v);
/** Number value (0 when not a number). */
double kp_json_num(const kp_json_t *v);
/** Exact integer value when the number is integral and fits. */
bool kp_json_int(const kp_json_t *v, int64_t *out);
/** Original text of a number. */
const char *kp_json_numtext(const kp_json_t *v);
bool kp_json_truthy(const kp_json_t *v); /* true only for JSON true */

/* Shorthands: member of the given type or NULL/default (get_str: as kp_json_cstr). */
const char *kp_json_get_str(const kp_json_t *obj, const char *key);
bool kp_json_get_int(const kp_json_t *obj, const char *key, int64_t *out);

/* ---- writer ---- */
/* Above the reader's cap, with room for envelopes around a parsed document:
 * a document kp_json_parse accepted is always re-serialized (a 70-deep
 * measurement is accepted or refused by the reader, never by the writer). */
#define KP_JW_MAX_DEPTH (KP_JSON_MAX_DEPTH + 16)
typedef struct kp_jw {
  kp_buf_t *out;       /* borrowed */
  int depth;
  bool need_comma[KP_JW_MAX_DEPTH + 1];
  bool after_key;
  kp_status_t st;      /* first error, sticky */
} kp_jw_t;

void kp_jw_init(kp_jw_t *w, kp_buf_t *out);
void kp_jw_obj_begin(kp_jw_t *w);
void kp_jw_obj_end(kp_jw_t *w);
void kp_jw_arr_begin(kp_jw_t *w);
void kp_jw_arr_end(kp_jw_t *w);
void kp_jw_key(kp_jw_t *w, const char *k);
void kp_jw_str(kp_jw_t *w, const char *s);        /* NULL -> null */
void kp_jw_strn(kp_jw_t *w, const char *s, size_t n);
void kp_jw_int(kp_jw_t *w, int64_t v);
void kp_jw_uint(kp_jw_t *w, uint64_t v);
void kp_jw_double(kp_jw_t *w, double v);           /* shortest round-trip form; non-finite -> null */
void kp_jw_fixed(kp_jw_t *w, double v, int decimals);
void kp_jw_bool(kp_jw_t *w, bool v);
void kp_jw_null(kp_jw_t *w);
/** Append pre-serialized JSON text as one value (caller guarantees validity). */
void kp_jw_raw(kp_jw_t *w, const char *json, size_t n);
/** Re-serialize a parsed node. */
void kp_jw_node(kp_jw_t *w, const kp_json_t *v);
/**
 * OONI MaybeBinaryValue: a plain string when @p p is valid UTF-8, otherwise
 * {"format":"base64","data":...}.
 */
void kp_jw_maybe_binary(kp_jw_t *w, const uint8_t *p, size_t n);
/* key + value shorthands */
void kp_jw_kstr(kp_jw_t *w, const char *k, const char *s);
void kp_jw_kint(kp_jw_t *w, const char *k, int64_t v);
void kp_jw_kdouble(kp_jw_t *w, const char *k, double v);
void kp_jw_kbool(kp_jw_t *w, const char *k, bool v);
void kp_jw_knull(kp_jw_t *w, const char *k);

/** True when @p p..n is valid UTF-8 (no overlongs, no surrogates). */
bool kp_utf8_valid(const uint8_t *p, size_t n);

#endif
