/* test_schedule.c: the watch engine's round schedule (kp_watch_round, engine.c "The schedule").
 *
 * A driver with its own clock (monotonic and wall readings apart, as on a real machine) answers
 * every probe at once and jumps the clock to each poll deadline. Between rounds the test moves the
 * clock the way a caller's output and a stalled upload do, and checks where each round landed. */
#include <string.h>

#include "kp_test.h"
#include "watch/watch.h"

#define S 1000000000LL
#define MAXR 32

typedef struct tdrv {
  kp_clock_t clock;
  int64_t mono, wall_off; /* wall = mono + wall_off */
  kp_wreply_t q[64];
  size_t nq;
  int cur;                 /* round being run (set by the test) */
  int64_t first[MAXR], last[MAXR];
  unsigned sent[MAXR];
} tdrv_t;

static int64_t t_mono(void *c) { return ((tdrv_t *)c)->mono; }
static int64_t t_wall(void *c) { return ((tdrv_t *)c)->mono + ((tdrv_t *)c)->wall_off; }

static kp_status_t t_send(void *ctx, uint32_t addr, uint32_t token) {
  tdrv_t *d = ctx;
  if (d->nq == 64) return KP_ERR_BUSY;
  d->q[d->nq++] = (kp_wreply_t){.token = token, .addr = addr};
  if (d->cur >= 0 && d->cur < MAXR) {
    if (!d->sent[d->cur]++) d->first[d->cur] = d->mono;
    d->last[d->cur] = d->mono;
  }
  return KP_OK;
}
static size_t t_poll(void *ctx, kp_wreply_t *out, size_t max, int64_t deadline) {
  tdrv_t *d = ctx;
  if (!d->nq) {
    if (deadline > d->mono) d->mono = deadline;
    return 0;
  }
  size_t k = d->nq < max ? d->nq : max;
  memcpy(out, d->q, k * sizeof *out);
  memmove(d->q, d->q + k, (d->nq - k) * sizeof *d->q);
  d->nq -= k;
  return k;
}
static const kp_clock_t *t_clock(void *ctx) { return &((tdrv_t *)ctx)->clock; }
static const kp_wdriver_ops_t T_OPS = {.name = "test", .send = t_send, .poll = t_poll, .clock = t_clock};

typedef struct rounds {
  int64_t t[MAXR];
  unsigned pos[MAXR];
  int n;
} rounds_t;
static void on_blk(void *ctx, uint64_t round, int64_t t, const kp_watch_block_rec_t *r) {
  rounds_t *l = ctx;
  if (round < MAXR) {
    l->t[round] = t;
    l->pos[round] += r->pos ? 1 : 0;
    if ((int)round + 1 > l->n) l->n = (int)round + 1;
  }
}

static kp_wuniv_t *two_blocks(void) {
  kp_wuniv_t *u;
  KP_ASSERT_OK(kp_wuniv_create(&u));
  uint8_t hosts[20];
  for (int i = 0; i < 20; i++) hosts[i] = (uint8_t)(i + 1);
  kp_wuniv_limits_t lim = {.min_hosts = 15, .min_avail = 0.1};
  KP_ASSERT_OK(kp_wuniv_add(u, &lim, 0xC6120000u, hosts, 20, 0.9));
  KP_ASSERT_OK(kp_wuniv_add(u, &lim, 0xC6120100u, hosts, 20, 0.9));
  KP_ASSERT_OK(kp_wuniv_seal(u, NULL, "zz", 1));
  return u;
}

/* run one round as round @p idx after the caller spent @p gap_ns; the round must end on a slot end */
static void run(kp_watch_t *w, tdrv_t *d, rounds_t *l, int idx, int64_t gap_ns) {
  d->mono += gap_ns;
  d->cur = idx;
  kp_watch_sinks_t sk = {.block = on_blk, .ctx = l};
  KP_ASSERT_OK(kp_watch_round(w, &sk));
}

KP_TEST(aligned_rounds_stay_on_the_wall_grid_after_slow_uploads) {
  /* R = 2 s, timeout 0.2 s: a round's probes may go out until 1.8 s into its slot.
   * Wall 1000.3 s at mono 5.3 s: the grid is 1002, 1004, ... */
  tdrv_t d = {.mono = 5300000000LL, .wall_off = 995 * S, .cur = -1};
  d.clock = (kp_clock_t){.mono_ns = t_mono, .wall_ns = t_wall, .ctx = &d};
  kp_wuniv_t *u = two_blocks();
  kp_watch_config_t cfg = {.round_s = 2, .timeout_s = 0.2, .spread = 0.5, .seed = 3, .align = true};
  kp_watch_t *w;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, (kp_wdriver_t){.ops = &T_OPS, .ctx = &d}, &w));
  rounds_t l = {0};
  /* gaps after each round: none, a 666 ms upload timeout, 50 ms, one past the send window
   * (1.85 s > 1.8 s: that slot is skipped), none */
  static const int64_t gap[] = {0, 666000000LL, 50000000LL, 1850000000LL, 0};
  static const int64_t want_t[] = {1002, 1004, 1006, 1010, 1012};
  static const uint64_t want_skipped[] = {0, 0, 0, 1, 1};
  for (int r = 0; r < 5; r++) {
    run(w, &d, &l, r, gap[r]);
    KP_ASSERT_MSG(l.t[r] == want_t[r] * S, "round %d keyed %lld ns, want %lld s", r, (long long)l.t[r],
                  (long long)want_t[r]);
    KP_ASSERT_MSG(d.mono + d.wall_off == (want_t[r] + 2) * S, "round %d ended at wall %lld ns", r,
                  (long long)(d.mono + d.wall_off));
    KP_ASSERT_EQ(kp_watch_stats(w).skipped, want_skipped[r]);
    /* nothing before the slot, nothing after its send window, every block probed */
    KP_ASSERT(d.sent[r] >= 2);
    KP_ASSERT(d.first[r] + d.wall_off >= want_t[r] * S);
    KP_ASSERT(d.last[r] + d.wall_off <= want_t[r] * S + 1800000000LL);
    KP_ASSERT_EQ(l.pos[r], 2);
  }
  KP_ASSERT_EQ(kp_watch_stats(w).lag_ns, 0);
  /* round 1 began 666 ms into its slot: shortened, not shifted */
  KP_ASSERT(d.first[1] + d.wall_off >= 1004666000000LL);
  /* the wall clock steps forward 10 s (NTP): the grid follows the wall clock; the 5 slots it
   * jumped over count as skipped */
  d.wall_off += 10 * S;
  run(w, &d, &l, 5, 0);
  KP_ASSERT_EQ(l.t[5], 1024 * S);
  KP_ASSERT_EQ(kp_watch_stats(w).skipped, 6);
  KP_ASSERT_EQ(l.n, 6); /* round numbers count rounds run */
  /* set back 1 s (wall 1025 s at the call): within a round, the next round waits for 1026 s */
  d.wall_off -= 1 * S;
  int64_t m0 = d.mono;
  run(w, &d, &l, 6, 0);
  KP_ASSERT_EQ(l.t[6], 1026 * S);
  KP_ASSERT_EQ(d.mono - m0, 3 * S);
  KP_ASSERT_EQ(kp_watch_stats(w).reanchored, 0);
  /* set back 600.5 s (wall 427.5 s): waiting for 1028 s would stall the watch 10 minutes; the
   * grid is re-anchored at 428 s, and the next round starts half a second later */
  d.wall_off -= 600500000000LL;
  m0 = d.mono;
  run(w, &d, &l, 7, 0);
  KP_ASSERT_MSG(l.t[7] == 428 * S, "after the step back round 7 keyed %lld ns", (long long)l.t[7]);
  KP_ASSERT_EQ(d.mono - m0, 2500000000LL);
  KP_ASSERT_EQ(kp_watch_stats(w).reanchored, 1);
  KP_ASSERT_EQ(kp_watch_stats(w).step_back_ns, 600 * S);
  KP_ASSERT_EQ(kp_watch_stats(w).skipped, 6);
  KP_ASSERT_EQ(l.pos[7], 2);
  run(w, &d, &l, 8, 0);
  KP_ASSERT_EQ(l.t[8], 430 * S);
  KP_ASSERT_EQ(kp_watch_stats(w).reanchored, 1);
  kp_watch_free(w);
  kp_wuniv_free(u);
}

KP_TEST(unaligned_rounds_keep_their_period_on_the_monotonic_clock) {
  tdrv_t d = {.mono = 5300000000LL, .wall_off = 995 * S, .cur = -1};
  d.clock = (kp_clock_t){.mono_ns = t_mono, .wall_ns = t_wall, .ctx = &d};
  kp_wuniv_t *u = two_blocks();
  kp_watch_config_t cfg = {.round_s = 2, .timeout_s = 0.2, .spread = 0.5, .seed = 3};
  kp_watch_t *w;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, (kp_wdriver_t){.ops = &T_OPS, .ctx = &d}, &w));
  rounds_t l = {0};
  /* starts at once (1000.3 s); 0.9 s of output after each round shortens the next, never shifts it */
  for (int r = 0; r < 4; r++) {
    run(w, &d, &l, r, r ? 900000000LL : 0);
    KP_ASSERT_EQ(l.t[r], 1000300000000LL + r * 2 * S);
    KP_ASSERT_EQ(d.mono, 5300000000LL + (r + 1) * 2 * S);
    KP_ASSERT_EQ(l.pos[r], 2);
  }
  KP_ASSERT_EQ(kp_watch_stats(w).lag_ns, 900000000LL);
  /* a wall step does not move a monotonic schedule */
  d.wall_off -= 30 * S;
  run(w, &d, &l, 4, 0);
  KP_ASSERT_EQ(l.t[4], 1008300000000LL);
  KP_ASSERT_EQ(kp_watch_stats(w).skipped, 0);
  /* a stop request while an aligned round waits for its slot (wall 980.3 s, slot at 982 s)
   * ends it at once, before anything is sent */
  volatile int stop = 1;
  kp_watch_free(w);
  cfg.stop = &stop;
  cfg.align = true;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, (kp_wdriver_t){.ops = &T_OPS, .ctx = &d}, &w));
  int64_t before = d.mono;
  d.cur = 5;
  KP_ASSERT_EQ(kp_watch_round(w, NULL), KP_ERR_TIMEOUT);
  KP_ASSERT_EQ(d.mono, before);
  KP_ASSERT_EQ(d.sent[5], 0);
  /* the slot it gave up is still the next one: called again, it runs it */
  stop = 0;
  run(w, &d, &l, 5, 0);
  KP_ASSERT_EQ(l.t[0], 982 * S);
  KP_ASSERT_EQ(kp_watch_stats(w).reanchored, 0);
  KP_ASSERT_EQ(kp_watch_stats(w).skipped, 0);
  kp_watch_free(w);
  kp_wuniv_free(u);
}
