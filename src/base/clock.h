/*
 * clock.h: injectable clock. Logic that depends on time (probing rounds,
 * timeouts, detection windows) takes a kp_clock_t so tests can drive it.
 */
#ifndef KP_BASE_CLOCK_H
#define KP_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct kp_clock {
  /** Monotonic nanoseconds. */
  int64_t (*mono_ns)(void *ctx);
  /** Wall-clock nanoseconds since the Unix epoch. */
  int64_t (*wall_ns)(void *ctx);
  void *ctx;
} kp_clock_t;

/** The system clock (CLOCK_MONOTONIC / CLOCK_REALTIME). */
const kp_clock_t *kp_clock_system(void);

/** A manual clock for tests: both readings return *(int64_t *)ctx. */
typedef struct kp_clock_manual {
  kp_clock_t clock;
  int64_t now_ns;
} kp_clock_manual_t;
void kp_clock_manual_init(kp_clock_manual_t *m, int64_t start_ns);

static inline int64_t kp_now_mono(const kp_clock_t *c) { return c->mono_ns(c->ctx); }
static inline int64_t kp_now_wall(const kp_clock_t *c) { return c->wall_ns(c->ctx); }

/** "YYYY-MM-DD hh:mm:ss" in UTC (OONI's time format) into out[20]. */
void kp_time_ooni(time_t t, char out[20]);
/** "YYYY-MM-DDThh:mm:ssZ" into out[21]. */
void kp_time_iso(time_t t, char out[21]);
/** Parse "YYYY-MM-DD hh:mm:ss", "YYYY-MM-DDThh:mm:ss[Z]" or "YYYY-MM-DD" as UTC. @return 0 on success */
int kp_time_parse(const char *s, time_t *out);

#endif
