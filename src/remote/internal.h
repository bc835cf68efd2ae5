/* internal.h: what the runners of src/remote share (not exported). */
#ifndef KP_REMOTE_INTERNAL_H
#define KP_REMOTE_INTERNAL_H

#include "base/json.h"
#include "remote/remote.h"

/* One finished measurement, reduced to what summaries and signals need. */
typedef struct kp_rmt_row {
  const kp_rmt_target_t *t;   /* its server (asn/cc filled) */
  const char *verdict, *technique;
  int64_t wall_s;
  kp_buf_t json;              /* the measurement line (no newline) */
} kp_rmt_row_t;

/** The target's ASN / country: the list's, else src/geo's, else 0 / "". */
void kp_rmt_locate(const kp_rmt_cfg_t *cfg, const kp_addr_t *a, uint32_t *asn, char cc[3]);
/** Envelope head of a remote measurement: the measured server's cc/asn, never keepon's host. */
kp_status_t kp_rmt_head(kp_jw_t *w, const char *test, const kp_rmt_target_t *t, const char *input,
                        const char *sw, int64_t start_wall_ns);
/** Append rows' lines, per-target and per-AS summaries and signals (datasource @p ds). */
kp_status_t kp_rmt_emit(const kp_rmt_cfg_t *cfg, const char *ds, kp_rmt_row_t *rows, size_t n, kp_buf_t *msmts,
                        kp_buf_t *summary, kp_buf_t *signals, kp_rmt_stats_t *st);

#endif
