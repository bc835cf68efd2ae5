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

/*
 * Rate-limited hand-out of (host, job) pairs: host i has jobs 0..per-1; a pair is handed out
 * only when kp_rl_try granted host i (and its AS) a permit for it, and it must be sent at once.
 * See sched.c. addr/asn are borrowed.
 */
typedef struct kp_rmt_sched {
  kp_rl_t *rl;
  const kp_addr_t *addr;
  const uint32_t *asn;
  size_t per, nheap;
  size_t *next, *heap;
  int64_t *ready;
} kp_rmt_sched_t;
/** @p skip (optional): hosts that get nothing. */
kp_status_t kp_rmt_sched_init(kp_rmt_sched_t *s, kp_rl_t *rl, const kp_addr_t *addr, const uint32_t *asn,
                              const bool *skip, size_t nh, size_t per, int64_t now);
void kp_rmt_sched_free(kp_rmt_sched_t *s);
/** 1: (host, job) granted now; 0: nothing before *wait_ns from @p now; -1: every job handed out. */
int kp_rmt_sched_next(kp_rmt_sched_t *s, int64_t now, size_t *host, size_t *job, int64_t *wait_ns);

#endif
