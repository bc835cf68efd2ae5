/* schedule.c: the unattended loop (state diagram in schedule.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "probe/schedule.h"

kp_status_t kp_sched_parse_duration(const char *s, double *seconds) {
  if (!s || !*s) return KP_ERR_INVAL;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s || !(v > 0) || !isfinite(v)) return KP_ERR_INVAL;
  double mul = 1;
  if (*end == 's') mul = 1, end++;
  else if (*end == 'm') mul = 60, end++;
  else if (*end == 'h') mul = 3600, end++;
  else if (*end == 'd') mul = 86400, end++;
  if (*end) return KP_ERR_INVAL;
  *seconds = v * mul;
  return *seconds <= 366.0 * 86400 ? KP_OK : KP_ERR_INVAL;
}

kp_status_t kp_sched_run(const kp_sched_cfg_t *cfg, const kp_clock_t *clk, kp_sched_sleep_fn sleep_fn,
                         void *sleep_arg, kp_sched_job_fn job, void *job_arg, kp_sched_stats_t *stats) {
  if (!cfg || !clk || !sleep_fn || !job || !stats || !(cfg->every > 0) || !(cfg->jitter >= 0) ||
      cfg->jitter >= cfg->every)
    return KP_ERR_INVAL;
  memset(stats, 0, sizeof *stats);
  uint64_t rng = cfg->seed;
  int64_t every_ns = (int64_t)(cfg->every * 1e9);
  int64_t t0 = kp_now_mono(clk);
  uint64_t slot = 0;
  for (;;) {
    stats->last_start_ns = kp_now_mono(clk);
    if (job(job_arg, stats->runs, kp_now_wall(clk)) != 0) stats->failed++;
    stats->runs++;
    if (cfg->max_runs && stats->runs >= cfg->max_runs) return KP_OK;
    int64_t now = kp_now_mono(clk);
    uint64_t next = (uint64_t)((now - t0) / every_ns) + 1; /* first slot starting after now */
    if (next > slot + 1) stats->skipped_slots += next - slot - 1;
    slot = next;
    int64_t at = t0 + (int64_t)slot * every_ns + (int64_t)(kp_rand_unit(&rng) * cfg->jitter * 1e9);
    if (at > now && !sleep_fn(sleep_arg, at - now)) return KP_OK;
  }
}
