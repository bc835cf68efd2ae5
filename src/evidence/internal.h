/* internal.h: pieces of the evidence module shared by bundle.c and verify.c (module-private). */
#ifndef KP_EVIDENCE_INTERNAL_H
#define KP_EVIDENCE_INTERNAL_H

#include "base/buf.h"
#include "base/codec.h"
#include "evidence/evidence.h"

/* the files of a bundle, inside its top folder */
#define KP_EV_MANIFEST "manifest.sha256"
#define KP_EV_TSR "manifest.tsr"
#define KP_EV_TSA_CA "tsa-ca.pem"

typedef struct kp_ev_ts_info {
  char time[32];   /* genTime, ISO 8601 UTC */
  int64_t unix_time;
  char tsa[256];
} kp_ev_ts_info_t;

kp_status_t kp_ev_ts_query(const uint8_t *data, size_t n, kp_buf_t *der, uint8_t nonce[8]);
kp_status_t kp_ev_ts_check(const uint8_t *tsr, size_t tsr_len, const uint8_t *data, size_t n, const uint8_t *anchor_pem,
                           size_t anchor_len, const uint8_t *nonce, kp_ev_ts_info_t *info, char *why, size_t why_cap);

/* ustar (tar.c) */
kp_status_t kp_ev_tar_add(kp_buf_t *out, const char *name, const void *data, size_t n, int64_t mtime);
kp_status_t kp_ev_tar_end(kp_buf_t *out);

#endif
