/*
 * fastpath.h: OONI-fastpath-compatible flags for one measurement.
 *
 * kp_fastpath_score() is a pure function of (measurement JSON, fingerprint
 * table, receive time): it reproduces the per-test scoring of OONI's fastpath
 * (ooni/backend fastpath/core.py, see ../shared/docs/ooni-anchor.md section 5)
 * and derives the same four stored columns:
 *   anomaly   = blocking_general > 0.5
 *   failure   = accuracy < 0.5
 *   confirmed = a fingerprint matched for the probe's country or an isp/nat scope
 *   blocking_type = web_connectivity's "blocking" value when it is an anomaly type
 * so aggregates over keepon's store mean what OONI Explorer's mean.
 */
#ifndef KP_FASTPATH_FASTPATH_H
#define KP_FASTPATH_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/json.h"
#include "base/status.h"

/** Fingerprint table (DNS + HTTP); immutable once loaded, shareable. */
typedef struct kp_fp_db kp_fp_db_t;

/** Parse OONI's fingerprints_dns.json / fingerprints_http.json contents (untrusted bytes). */
kp_status_t kp_fp_db_parse(const void *dns, size_t dns_n, const void *http, size_t http_n,
                           kp_fp_db_t **out);
/** Load <dir>/fingerprints_dns.json and <dir>/fingerprints_http.json. */
kp_status_t kp_fp_db_load_dir(const char *dir, kp_fp_db_t **out);
void kp_fp_db_free(kp_fp_db_t *db);
size_t kp_fp_db_count(const kp_fp_db_t *db);

typedef struct kp_fastpath_flags {
  bool anomaly;
  bool confirmed;
  bool failure;
  /** OONI ignores (does not store) measurements without report_id, or CC ZZ / AS0. */
  bool discard;
  char blocking_type[16];   /* "" unless web_connectivity tcp_ip/dns/http-diff/http-failure */
  double blocking_general;  /* the raw scores OONI derives the flags from */
  double accuracy;
  char fingerprint[64];     /* name of the first confirming fingerprint, "" if none */
} kp_fastpath_flags_t;

/**
 * Score @p msm (the measurement object, not the {"format","content"} wrapper).
 * @param db        fingerprints (NULL: no fingerprint can match)
 * @param recv_time when the collector received it; 0 skips OONI's receive-time
 *                  sanity rule (start time > 1 h in the future or > 1 year old = failure)
 */
void kp_fastpath_score(const kp_json_t *msm, const kp_fp_db_t *db, time_t recv_time,
                       kp_fastpath_flags_t *out);

#endif
