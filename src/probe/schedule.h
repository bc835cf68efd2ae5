/*
 * schedule.h: the unattended loop of `keepon probe run` (schedule.c): run a
 * job every `every` seconds with a random delay, on an injectable clock and
 * sleep so tests drive time.
 *
 * Timeline (slot k starts at t0 + k*every; run 0 starts at once):
 *   RUN(k) --done--> next slot j = the first slot whose start is after now
 *          (slots a long run overlapped are skipped and counted, never
 *          queued) --> SLEEP until start(j) + jitter_j --> RUN(j) ...
 * jitter_j is uniform in [0, jitter) from a seeded generator (probes that
 * start together spread out; tests fix the seed). Stops after max_runs runs
 * (0 = never) or when sleep() reports an interruption. A failed job is
 * counted and the loop goes on: one bad network hour is a result.
 */
#ifndef KP_PROBE_SCHEDULE_H
#define KP_PROBE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/status.h"

typedef struct kp_sched_cfg {
  double every;      /* seconds between slot starts (> 0) */
  double jitter;     /* random extra delay per slot, seconds, [0, every) */
  uint64_t max_runs; /* 0 = run until interrupted */
  uint64_t seed;     /* jitter generator */
} kp_sched_cfg_t;

typedef struct kp_sched_stats {
  uint64_t runs, failed, skipped_slots;
  int64_t last_start_ns; /* monotonic */
} kp_sched_stats_t;

/** One run; @return 0 when it succeeded. */
typedef int (*kp_sched_job_fn)(void *arg, uint64_t run, int64_t wall_ns);
/** Sleep @p ns on the loop's clock; @return false when interrupted (the loop stops). */
typedef bool (*kp_sched_sleep_fn)(void *arg, int64_t ns);

kp_status_t kp_sched_run(const kp_sched_cfg_t *cfg, const kp_clock_t *clk, kp_sched_sleep_fn sleep_fn,
                         void *sleep_arg, kp_sched_job_fn job, void *job_arg, kp_sched_stats_t *stats);

/** Parse a duration: "90", "90s", "15m", "1h", "1.5h", "1d". @return KP_ERR_INVAL otherwise */
kp_status_t kp_sched_parse_duration(const char *s, double *seconds);

#endif
