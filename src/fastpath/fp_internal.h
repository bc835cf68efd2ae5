/* fp_internal.h: the fingerprint table shared by fingerprints.c and fastpath.c (module-private). */
#ifndef KP_FASTPATH_FP_INTERNAL_H
#define KP_FASTPATH_FP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "fastpath/fastpath.h"

typedef enum { KP_FP_DNS, KP_FP_BODY, KP_FP_HEADER } kp_fp_loc_t;
typedef enum { KP_FP_FULL, KP_FP_PREFIX, KP_FP_OTHER } kp_fp_ptype_t;

typedef struct kp_fp {
  char *name, *scope;
  char *header;     /* lower-case header name for KP_FP_HEADER */
  char *pattern;
  size_t pattern_len;
  char *countries;  /* "AU,DE" normalized */
  kp_fp_loc_t loc;
  kp_fp_ptype_t ptype;
} kp_fp_t;

struct kp_fp_db {
  kp_fp_t *fps;
  size_t n;
};

#define KP_FP_MAX_MATCHES 32
typedef struct kp_fp_match {
  const kp_fp_t *fp[KP_FP_MAX_MATCHES];
  size_t n;
} kp_fp_match_t;

/** Match DNS answers and HTTP responses of @p tk. @return false on a malformed base64 body. */
bool kp_fp_match(const kp_fp_db_t *db, const struct kp_json *tk, kp_fp_match_t *m);
bool kp_fp_confirms(const kp_fp_t *f, const char *probe_cc);

#endif
