/* test_schedule.c: the `probe run` loop on a manual clock (schedule.h's timeline). */
#include <string.h>

#include "kp_test.h"
#include "probe/schedule.h"

#define S 1000000000LL

typedef struct world {
  kp_clock_manual_t clk;
  int64_t job_ns;          /* how long each job takes */
  int64_t starts[16];
  uint64_t n;
  int fail_every;          /* job k fails when k % fail_every == 1 */
  int sleeps_allowed;      /* -1 = unlimited */
} world_t;

static bool fake_sleep(void *arg, int64_t ns) {
  world_t *w = arg;
  if (w->sleeps_allowed == 0) return false;
  if (w->sleeps_allowed > 0) w->sleeps_allowed--;
  KP_ASSERT(ns > 0);
  w->clk.now_ns += ns;
  return true;
}

static int fake_job(void *arg, uint64_t run, int64_t wall) {
  world_t *w = arg;
  KP_ASSERT_EQ(run, w->n);
  KP_ASSERT_EQ(wall, w->clk.now_ns);
  if (w->n < 16) w->starts[w->n] = w->clk.now_ns;
  w->n++;
  w->clk.now_ns += w->job_ns;
  return w->fail_every && (int)(run % (uint64_t)w->fail_every) == 1;
}

static void world_init(world_t *w, int64_t job_ns) {
  memset(w, 0, sizeof *w);
  kp_clock_manual_init(&w->clk, 1000 * S);
  w->job_ns = job_ns;
  w->sleeps_allowed = -1;
}

KP_TEST(schedule_every_hour_with_jitter) {
  world_t w;
  world_init(&w, 100 * S);
  kp_sched_cfg_t cfg = {.every = 3600, .jitter = 600, .max_runs = 6, .seed = 7};
  kp_sched_stats_t st;
  KP_ASSERT_OK(kp_sched_run(&cfg, &w.clk.clock, fake_sleep, &w, fake_job, &w, &st));
  KP_ASSERT_EQ(st.runs, 6);
  KP_ASSERT_EQ(st.skipped_slots, 0);
  KP_ASSERT_EQ(w.starts[0], 1000 * S); /* the first run starts at once */
  bool jitters_differ = false;
  for (int k = 1; k < 6; k++) {
    int64_t off = w.starts[k] - 1000 * S - k * 3600 * S; /* inside [slot, slot + jitter) */
    KP_ASSERT_MSG(off >= 0 && off < 600 * S, "run %d at +%lld s into its slot", k, (long long)(off / S));
    if (k > 1 && off != w.starts[1] - 1000 * S - 3600 * S) jitters_differ = true;
  }
  KP_ASSERT(jitters_differ);
  /* the same seed gives the same plan; another seed another */
  world_t w2;
  world_init(&w2, 100 * S);
  KP_ASSERT_OK(kp_sched_run(&cfg, &w2.clk.clock, fake_sleep, &w2, fake_job, &w2, &st));
  KP_ASSERT(memcmp(w.starts, w2.starts, sizeof w.starts) == 0);
  cfg.seed = 8;
  world_init(&w2, 100 * S);
  KP_ASSERT_OK(kp_sched_run(&cfg, &w2.clk.clock, fake_sleep, &w2, fake_job, &w2, &st));
  KP_ASSERT(memcmp(w.starts, w2.starts, sizeof w.starts) != 0);
}

KP_TEST(schedule_long_run_skips_slots_not_queues) {
  world_t w;
  world_init(&w, 8000 * S); /* 2.2 slots long */
  kp_sched_cfg_t cfg = {.every = 3600, .jitter = 0, .max_runs = 3, .seed = 1};
  kp_sched_stats_t st;
  KP_ASSERT_OK(kp_sched_run(&cfg, &w.clk.clock, fake_sleep, &w, fake_job, &w, &st));
  /* run 0 at 0 ends at 8000: slots 1 (3600) and 2 (7200) are gone, run 1 at 10800 */
  KP_ASSERT_EQ(w.starts[1] - w.starts[0], 10800 * S);
  KP_ASSERT_EQ(w.starts[2] - w.starts[0], 21600 * S);
  KP_ASSERT_EQ(st.skipped_slots, 4);
}

KP_TEST(schedule_failures_counted_interrupt_stops) {
  world_t w;
  world_init(&w, 1 * S);
  w.fail_every = 2;
  w.sleeps_allowed = 3;
  kp_sched_cfg_t cfg = {.every = 60, .jitter = 5, .max_runs = 0, .seed = 3};
  kp_sched_stats_t st;
  KP_ASSERT_OK(kp_sched_run(&cfg, &w.clk.clock, fake_sleep, &w, fake_job, &w, &st));
  KP_ASSERT_EQ(st.runs, 4); /* 3 sleeps allowed, the 4th interrupts */
  KP_ASSERT_EQ(st.failed, 2); /* runs 1 and 3 failed, the loop went on */
  KP_ASSERT_EQ(kp_sched_run(&(kp_sched_cfg_t){.every = 60, .jitter = 60}, &w.clk.clock, fake_sleep, &w, fake_job, &w,
                            &st),
               KP_ERR_INVAL);
  KP_ASSERT_EQ(kp_sched_run(&(kp_sched_cfg_t){.every = 0}, &w.clk.clock, fake_sleep, &w, fake_job, &w, &st),
               KP_ERR_INVAL);
}

KP_TEST(schedule_durations) {
  double s;
  KP_ASSERT_OK(kp_sched_parse_duration("1h", &s));
  KP_ASSERT_NEAR(s, 3600, 1e-9);
  KP_ASSERT_OK(kp_sched_parse_duration("15m", &s));
  KP_ASSERT_NEAR(s, 900, 1e-9);
  KP_ASSERT_OK(kp_sched_parse_duration("90", &s));
  KP_ASSERT_NEAR(s, 90, 1e-9);
  KP_ASSERT_OK(kp_sched_parse_duration("1.5h", &s));
  KP_ASSERT_NEAR(s, 5400, 1e-9);
  KP_ASSERT_OK(kp_sched_parse_duration("1d", &s));
  KP_ASSERT_NEAR(s, 86400, 1e-9);
  const char *bad[] = {"", "h", "-1h", "0", "1x", "1hh", "nan", "400d"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    KP_ASSERT_MSG(kp_sched_parse_duration(bad[i], &s) == KP_ERR_INVAL, "'%s' accepted", bad[i]);
}
