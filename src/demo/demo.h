/*
 * demo.h: the Kazakhstan January 2022 replay (`keepon demo kz2022`, docs/demo.md).
 *
 * Three pure pieces the demo script (lab/demo/kz2022.sh) drives through `keepon demo`:
 *  - the schedule: the injected truth (app blocking with techniques, the nationwide cut and its
 *    daily connectivity windows, restoration) in simulated UTC time, clipped to a day range,
 *    written as timed lab actions and as truth JSON;
 *  - the time warp: components run in real time against the lab; their records (signal points,
 *    OONI measurements) are relabelled from real to simulated time,
 *    sim = sim0 + (real - real0) × 3600 / speed, so detect sees January 2022;
 *  - the check: detected incidents (detect's JSON) and the signals against the truth: every
 *    down window found with both boundaries within a tolerance (one probing round), every
 *    blocked app named with its technique, BGP flat while active probing drops.
 */
#ifndef KP_DEMO_DEMO_H
#define KP_DEMO_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/** Default replay speed, real seconds per simulated hour: the whole week (162 simulated hours)
 *  replays in 162 s, so `keepon demo kz2022` shows its result in about 3 minutes (docs/demo.md;
 *  --speed 10 is the 28-minute version with 12-minute watch rounds). */
#define KP_DEMO_SPEED_DEFAULT 1.0

/** The replayed span: whole days of January 2022 (first 4..11, last first..11). */
typedef struct kp_demo_span {
  int first_day, last_day;
  int64_t sim_start, sim_end; /* Unix seconds: Jan first 12:00 (day 4) or 00:00; Jan last+1 00:00 (day 11: 06:00) */
} kp_demo_span_t;

/** Parse "4-11", "4-6" or "5" into a span. @return KP_OK or KP_ERR_INVAL */
kp_status_t kp_demo_span_parse(const char *s, kp_demo_span_t *out);

/**
 * The lab actions inside @p span as JSONL, one per line, in time order:
 *   {"sim":T,"at":SECONDS_AFTER_START,"action":"censor","tech":"tls_sni_reset","target":"whatsapp","on":true}
 *   {"sim":T,"at":S,"action":"outage","on":true}            (network_down + watch responder outage)
 * States already in force at the span's start are emitted with at = 0.
 * @param speed real seconds per simulated hour (> 0)
 */
kp_status_t kp_demo_actions(const kp_demo_span_t *span, double speed, kp_buf_t *out);

/** The truth JSON: {"cc","sim_start","sim_end","speed","blocking":[{app,technique,start,end}],
 *  "outages":[{start,end,clipped_start,clipped_end}],"bgp":"unchanged"} (clipped to the span). */
kp_status_t kp_demo_truth(const kp_demo_span_t *span, double speed, kp_buf_t *out);

/** One point where the replay's clock is pinned: the lab action of simulated time @c sim took
 *  effect at real time @c real (the replay slid its schedule to @c real because the action ran
 *  late). */
typedef struct kp_demo_anchor {
  double real, sim; /* Unix seconds */
} kp_demo_anchor_t;

/** Time warp parameters.
 *
 * Without anchors: sim(t) = sim0 + (t - real0) x 3600 / speed.
 * With anchors (sorted, real and sim both non-decreasing) the clock pauses while a late action
 * runs: from the last anchor a at or before t, sim(t) = a.sim + (t - a.real) x 3600 / speed, but
 * never at or past the next anchor's sim (records taken while that action was still running, or
 * while the schedule waited to realign on a round, land one second before it: they saw the state
 * before the action). Each boundary the truth injects then lands on its own simulated time
 * however long the machine took to apply it.
 */
typedef struct kp_demo_warp {
  double real0, sim0; /* Unix seconds */
  double speed;       /* real seconds per simulated hour */
  const kp_demo_anchor_t *anchors; /* optional, may be NULL */
  size_t nanchors;
} kp_demo_warp_t;

/** Parse anchors, one "REAL SIM" pair per line (blank lines ignored), into @p out (malloc'd).
 *  @return KP_OK, KP_ERR_INVAL (bad line, or real/sim decreasing), KP_ERR_NOMEM */
kp_status_t kp_demo_anchors_parse(const void *p, size_t n, kp_demo_anchor_t **out, size_t *nout);

/**
 * Relabel one JSONL record (a signal point: "t","step"; a measurement:
 * "measurement_start_time","test_start_time") into simulated time; other records pass
 * unchanged. Appends the line (with '\n') to @p out. Pure.
 * @return KP_OK, KP_ERR_INVAL (not a JSON object)
 */
kp_status_t kp_demo_warp_line(const kp_demo_warp_t *w, const void *p, size_t n, kp_buf_t *out);

/** Check results: one human-readable line per finding in @p log. */
typedef struct kp_demo_check_opts {
  int64_t tolerance_s;     /* boundary tolerance (one probing round), sim seconds */
  bool require_techniques; /* apps must be named with their technique */
  bool require_throttling; /* the throttled app must be found too */
} kp_demo_check_opts_t;

/**
 * Compare detect's incidents (JSON array) and the signals (JSONL, sim time) with the truth.
 * @param[out] failures number of failed expectations (0 = the demo matched the truth)
 */
kp_status_t kp_demo_check(const kp_demo_check_opts_t *o, const void *truth, size_t ntruth,
                          const void *incidents, size_t ninc, const void *signals, size_t nsig,
                          kp_buf_t *log, size_t *failures);

/**
 * What stayed reachable: the keepon_reach measurements (JSONL, simulated time) against the
 * truth's "reach" windows (class and what worked), over each window's core (check_reach.c).
 * @param[out] failures number of failed expectations
 */
kp_status_t kp_demo_check_reach(const kp_demo_check_opts_t *o, const void *truth, size_t ntruth, const void *msmts,
                                size_t nmsmt, kp_buf_t *log, size_t *failures);
/**
 * Mobile and fixed apart (check_access.c): each truth "access" type's network found down by
 * detect's access split of @p msmts (kp_access_summaries) no earlier than the truth's time
 * minus the tolerance and no later than one probe bin (8 simulated hours at 1 s/h, >= 1 h)
 * plus the tolerance after it; mobile before fixed when the truth says so; and every national
 * shutdown incident of @p incidents labelled with the access types down in it.
 */
kp_status_t kp_demo_check_access(const kp_demo_check_opts_t *o, const void *truth, size_t ntruth, const void *msmts,
                                 size_t nmsmt, const void *incidents, size_t ninc, kp_buf_t *log, size_t *failures);

#endif
