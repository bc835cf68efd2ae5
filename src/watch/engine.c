/*
 * engine.c: Trinocular rounds over a universe of /24 blocks, through one driver.
 *
 * Per block (blk_t, 12 bytes) the engine keeps its belief B(U), availability, the stable
 * (last settled) state, this round's positives/negatives, rounds since it was last UP and a
 * round-robin cursor into its shuffled E(b) list (the hosts live in the universe's pool).
 *
 * State diagram of a block (stable state; B = B(U)):
 *
 *            start B = 0.99
 *                  |
 *                  v        negatives push B <= 0.9: UNCERTAIN (probing continues)
 *   +--------->   UP  ------------------------------------------+
 *   |              ^                                            v
 *   | positives    | a positive lifts B > 0.9               UNCERTAIN --(budget of 15 spent)--> B := 0.5
 *   | (B > 0.9)    +--------------------------------------------+  |       (reported uncertain,
 *   |                                                              |        stable state kept)
 *   |                         negatives push B < 0.1               v
 *   +-------------------------------------------------------  DOWN
 *                                          (recovery probes: until k(A) negatives in a row, per eligible round)
 *
 * Who performs the transitions: only on_result(), on a reply (positive) or a timeout
 * (negative). It updates B, classifies it, and moves the stable state when B is settled
 * (UP/DOWN). It asks for another probe of the same block (adaptive probe, FIFO queue) when
 *   - the new state is UNCERTAIN, or
 *   - B moved away from the stable state (stable UP and a negative, stable DOWN and a
 *     positive), or
 *   - the block is DOWN, in a recovery round (rounds_since_up <= 4, == 8 or a multiple of 16),
 *     and has had fewer than k(A) negatives since its last positive this round (k capped at
 *     the budget),
 * as long as it has had fewer than 15 probes this round. With the budget spent and B unsettled,
 * B becomes 0.5. round_end() reports each block (state from B), and counts rounds_since_up.
 *
 * Recovery counts negatives in a row, where Trinocular counts the round's probes. k is chosen
 * so that a block that came back looks down with chance (1 - A)^k <= m; counted as probes, a
 * positive's own probe and the negatives after it (the belief falls back to DOWN after three
 * at A = 0.6: B(U) is floored at 0.01, so one positive lifts it only to ~0.6) use up k: over
 * 4,000 outages of one block at m = 0.01 (watch_schedule) the first round after the outage
 * still looked down 1.75 % of the time at A = 0.6 (k = 6) and 2.08 % at A = 0.626 (k = 5, the
 * lab's medium blocks); counting negatives in a row, 0.65 % and 1.47 % ((1 - A)^k: 0.41 %,
 * 0.73 %). A block that stays down never answers, so it gets the same k probes either way.
 *
 * Round timeline: the periodic probe of every block goes out in a shuffled order (an affine
 * permutation i -> a*i + c mod n, fresh a, c each round), paced evenly over the first
 * `spread` of the round; adaptive probes go first whenever they are queued; nothing is sent
 * after round_end - timeout, so every probe is answered or timed out inside its round.
 * A global token bucket caps packets/s. Each block has at most one probe in flight.
 *
 * Probe matching: a token (32-bit counter) indexes a power-of-two ring of slots in send order,
 * which is also deadline order, so timeouts are found at the ring's head. A reply matches only
 * if its token's slot is live and was sent to exactly the replying address.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/log.h"
#include "watch/watch.h"

#define TAG "watch"
#define BATCH 1024
#define MAX_ENT_COUNT 3

enum { F_STABLE_MASK = 3, F_INFLIGHT = 4, F_RECOVERY = 8, F_PROBED = 16, F_BLOCKED = 32 };

typedef struct blk {
  float belief;      /* B(U) */
  uint16_t avail;    /* A(E(b)) * 10000 (0.1, 0.2, ... are exact) */
  uint16_t rsu;      /* rounds since up, saturating */
  uint8_t pn;        /* positives << 4 | negatives, this round */
  uint8_t flags;     /* stable state (2 bits), F_* */
  uint8_t cursor;    /* next host in E(b) */
  uint8_t rr;        /* low 4 bits: state reported last round (0xF before the first);
                        high 4: negatives since this round's last positive (recovery rule) */
} blk_t;
_Static_assert(sizeof(blk_t) == 12, "per-block state is 12 bytes");

typedef struct slot {
  uint32_t token;
  uint32_t block;
  int64_t deadline;
  uint32_t addr;
  uint32_t live;
} slot_t;

struct kp_watch {
  kp_watch_config_t cfg;
  const kp_wuniv_t *u;
  kp_wdriver_t drv;
  const kp_clock_t *clk;
  size_t n;
  blk_t *st;
  slot_t *slots;
  uint32_t mask, head, tail;
  uint32_t *q;
  size_t qcap, qhead, qlen;
  uint64_t round;
  bool scheduled;          /* the schedule's origin is fixed (by the first round) */
  uint64_t slot;           /* next scheduled round (slots skipped count) */
  int64_t g0_mono, g0_wall; /* start of slot 0 on either clock */
  uint64_t rng;
  double tokens;
  int64_t tb_last;
  kp_watch_stats_t stats;
  uint32_t (*tcount)[3];   /* per tuple: up, down, uncertain */
  uint32_t (*ecount)[3];   /* per entity */
  kp_wreply_t rep[BATCH];
};

size_t kp_watch_state_bytes(void) { return sizeof(blk_t); }

static double avail_of(const blk_t *b) { return b->avail / 10000.0; }

kp_status_t kp_watch_create(const kp_watch_config_t *cfg, const kp_wuniv_t *u, kp_wdriver_t drv,
                            kp_watch_t **out) {
  *out = NULL;
  if (cfg->round_s <= 0 || cfg->timeout_s <= 0 || cfg->timeout_s * 2 > cfg->round_s ||
      cfg->spread <= 0 || cfg->spread > 1 || cfg->rate < 0)
    return KP_ERR_INVAL;
  kp_watch_t *w = calloc(1, sizeof *w);
  if (!w) return KP_ERR_NOMEM;
  w->cfg = *cfg;
  w->u = u;
  w->drv = drv;
  w->clk = drv.ops->clock(drv.ctx);
  w->n = kp_wuniv_count(u);
  w->rng = cfg->seed ^ 0x6B656570u;
  /* slots: enough for the periodic pace plus adaptive bursts over one timeout, x2 */
  double pace = (double)w->n / (cfg->spread * cfg->round_s);
  if (cfg->rate > 0 && cfg->rate > pace) pace = cfg->rate;
  double want = (pace * 2 + 1000) * cfg->timeout_s * 2;
  if (cfg->rate > 0 && want > cfg->rate * cfg->timeout_s * 2 + 1024)
    want = cfg->rate * cfg->timeout_s * 2 + 1024;
  uint32_t cap = 1024;
  while (cap < want && cap < (1u << 24)) cap <<= 1;
  w->mask = cap - 1;
  w->qcap = 1024;
  w->st = calloc(w->n ? w->n : 1, sizeof *w->st);
  w->slots = calloc(cap, sizeof *w->slots);
  w->q = malloc(w->qcap * sizeof *w->q);
  w->tcount = calloc(kp_wuniv_ntuples(u) + 1, sizeof *w->tcount);
  w->ecount = calloc(kp_wuniv_nentities(u) + 1, sizeof *w->ecount);
  if (!w->st || !w->slots || !w->q || !w->tcount || !w->ecount) {
    kp_watch_free(w);
    return KP_ERR_NOMEM;
  }
  for (size_t i = 0; i < w->n; i++) {
    blk_t *b = &w->st[i];
    b->belief = (float)KP_TRI_START_BELIEF;
    double a = kp_wuniv_avail(u, i);
    b->avail = (uint16_t)lround(a * 10000.0);
    b->flags = KP_TRI_UP;
    b->rr = 0x0F;
    if (cfg->blocklist && kp_wblock_covers_block(cfg->blocklist, kp_wuniv_block(u, i)))
      b->flags |= F_BLOCKED;
  }
  *out = w;
  return KP_OK;
}

void kp_watch_free(kp_watch_t *w) {
  if (!w) return;
  free(w->st);
  free(w->slots);
  free(w->q);
  free(w->tcount);
  free(w->ecount);
  free(w);
}

kp_watch_stats_t kp_watch_stats(const kp_watch_t *w) { return w->stats; }
double kp_watch_belief(const kp_watch_t *w, size_t i) { return w->st[i].belief; }

static kp_status_t q_push(kp_watch_t *w, uint32_t b) {
  if (w->qlen == w->qcap) {
    size_t nc = w->qcap * 2;
    uint32_t *nq = malloc(nc * sizeof *nq);
    if (!nq) return KP_ERR_NOMEM;
    for (size_t i = 0; i < w->qlen; i++) nq[i] = w->q[(w->qhead + i) % w->qcap];
    free(w->q);
    w->q = nq;
    w->qcap = nc;
    w->qhead = 0;
  }
  w->q[(w->qhead + w->qlen) % w->qcap] = b;
  w->qlen++;
  return KP_OK;
}

static uint32_t q_pop(kp_watch_t *w) {
  uint32_t b = w->q[w->qhead];
  w->qhead = (w->qhead + 1) % w->qcap;
  w->qlen--;
  return b;
}

/* The one place where a block's belief and stable state change (see the diagram above). */
static void on_result(kp_watch_t *w, uint32_t bi, bool positive) {
  blk_t *b = &w->st[bi];
  b->flags &= (uint8_t)~F_INFLIGHT;
  unsigned pos = b->pn >> 4, neg = b->pn & 15;
  if (positive && pos < 15) pos++;
  if (!positive && neg < 15) neg++;
  b->pn = (uint8_t)(pos << 4 | neg);
  unsigned run = positive ? 0 : (b->rr >> 4) + ((b->rr >> 4) < 15);
  b->rr = (uint8_t)(run << 4 | (b->rr & 15));
  double a = avail_of(b);
  double nb = kp_tri_update(b->belief, a, positive);
  kp_tri_state_t s = kp_tri_classify(nb);
  kp_tri_state_t stable = (kp_tri_state_t)(b->flags & F_STABLE_MASK);
  bool want;
  if (s == KP_TRI_UNCERTAIN) {
    want = true;
  } else if (s != stable) {
    b->flags = (uint8_t)((b->flags & ~F_STABLE_MASK) | s);
    want = false;
  } else {
    want = (s == KP_TRI_UP && !positive) || (s == KP_TRI_DOWN && positive);
  }
  unsigned probes = pos + neg;
  if (!want && s == KP_TRI_DOWN && (b->flags & F_STABLE_MASK) == KP_TRI_DOWN &&
      (b->flags & F_RECOVERY)) {
    unsigned k = kp_tri_recovery_k_miss(a, w->cfg.recovery_miss);
    if (k > KP_TRI_BUDGET) k = KP_TRI_BUDGET;
    want = run < k; /* k negatives in a row, not k probes: see the header */
  }
  if (want) {
    if (probes < KP_TRI_BUDGET) {
      if (q_push(w, bi) != KP_OK) kp_log_warnx(TAG, "adaptive queue: out of memory");
    } else if (s == KP_TRI_UNCERTAIN) {
      nb = 0.5;
    }
  }
  b->belief = (float)nb;
}

static void expire(kp_watch_t *w, int64_t now, bool all) {
  while (w->head != w->tail) {
    slot_t *s = &w->slots[w->head & w->mask];
    if (s->live) {
      if (!all && s->deadline > now) break;
      s->live = 0;
      w->stats.timeouts++;
      on_result(w, s->block, false);
    }
    w->head++;
  }
}

static void refill(kp_watch_t *w, int64_t now) {
  if (w->cfg.rate <= 0) return;
  double burst = w->cfg.rate / 100.0 + 1.0;
  w->tokens += (double)(now - w->tb_last) * 1e-9 * w->cfg.rate;
  if (w->tokens > burst) w->tokens = burst;
  w->tb_last = now;
}

/* @return KP_OK sent (or skipped), KP_ERR_BUSY driver full: retry this block later */
static kp_status_t send_probe(kp_watch_t *w, uint32_t bi, int64_t now) {
  blk_t *b = &w->st[bi];
  const uint8_t *hosts;
  size_t nh = kp_wuniv_hosts(w->u, bi, &hosts);
  uint8_t cur = b->cursor;
  uint32_t addr = kp_wuniv_block(w->u, bi) | hosts[cur % nh];
  if (w->cfg.blocklist && kp_wblock_contains(w->cfg.blocklist, addr)) {
    /* skip this host for good this round; the block simply gets one probe fewer */
    b->cursor = (uint8_t)((cur + 1) % nh);
    w->stats.blocked++;
    return KP_OK;
  }
  uint32_t token = w->tail;
  kp_status_t st = w->drv.ops->send(w->drv.ctx, addr, token);
  if (st == KP_ERR_BUSY) return st;
  b->cursor = (uint8_t)((cur + 1) % nh);
  b->flags |= F_INFLIGHT | F_PROBED;
  if (w->cfg.rate > 0) w->tokens -= 1.0;
  /* any other send error is a lost probe: it times out like one */
  slot_t *s = &w->slots[token & w->mask];
  s->token = token;
  s->block = bi;
  s->addr = addr;
  s->deadline = now + (int64_t)(w->cfg.timeout_s * 1e9);
  s->live = 1;
  w->tail++;
  w->stats.sent++;
  return KP_OK;
}

static void on_reply(kp_watch_t *w, const kp_wreply_t *r) {
  slot_t *s = &w->slots[r->token & w->mask];
  if (!s->live || s->token != r->token || s->addr != r->addr) {
    w->stats.unmatched++;
    return;
  }
  s->live = 0;
  w->stats.replies++;
  on_result(w, s->block, true);
}

static void round_begin(kp_watch_t *w) {
  for (size_t i = 0; i < w->n; i++) {
    blk_t *b = &w->st[i];
    b->pn = 0;
    b->rr &= 15;
    b->flags &= (uint8_t)~(F_RECOVERY | F_PROBED | F_INFLIGHT);
    if ((b->flags & F_STABLE_MASK) == KP_TRI_DOWN && kp_tri_recovery_round(b->rsu))
      b->flags |= F_RECOVERY;
  }
  w->qlen = 0;
  w->qhead = 0;
}

static void round_end(kp_watch_t *w, const kp_watch_sinks_t *sk, int64_t t_wall) {
  size_t nt = kp_wuniv_ntuples(w->u), ne = kp_wuniv_nentities(w->u);
  memset(w->tcount, 0, (nt + 1) * sizeof *w->tcount);
  memset(w->ecount, 0, (ne + 1) * sizeof *w->ecount);
  for (size_t i = 0; i < w->n; i++) {
    blk_t *b = &w->st[i];
    if (b->flags & F_BLOCKED) continue;
    kp_tri_state_t s = kp_tri_classify(b->belief);
    if (!(b->flags & F_PROBED)) w->stats.unprobed++;
    if ((b->flags & F_STABLE_MASK) == KP_TRI_UP) b->rsu = 0;
    else if (b->rsu < UINT16_MAX) b->rsu++;
    bool changed = (b->rr & 15) != (uint8_t)s;
    unsigned col = s == KP_TRI_UP ? 0 : s == KP_TRI_DOWN ? 1 : 2;
    w->tcount[kp_wuniv_tuple(w->u, i)][col]++;
    if (sk && sk->block) {
      kp_watch_block_rec_t r = {.block = kp_wuniv_block(w->u, i), .belief = b->belief,
                                .state = s, .pos = b->pn >> 4, .neg = b->pn & 15,
                                .changed = changed};
      sk->block(sk->ctx, w->round, t_wall, &r);
    }
    b->rr = (uint8_t)((b->rr & 0xF0) | (uint8_t)s);
  }
  for (size_t t = 0; t < nt; t++) {
    uint32_t ids[3];
    kp_wuniv_tuple_ids(w->u, (uint32_t)t, ids);
    for (int k = 0; k < MAX_ENT_COUNT; k++) {
      if (ids[k] == UINT32_MAX) continue;
      for (int c = 0; c < 3; c++) w->ecount[ids[k]][c] += w->tcount[t][c];
    }
  }
  if (sk && sk->entity)
    for (size_t e = 0; e < ne; e++) {
      const char *type;
      const char *code = kp_wuniv_entity(w->u, e, &type);
      sk->entity(sk->ctx, w->round, t_wall, type, code, w->ecount[e][0], w->ecount[e][1],
                 w->ecount[e][2]);
    }
}

/*
 * The schedule. Slot k is the interval [g0 + k*R, g0 + (k+1)*R); its probes may go out until
 * R - timeout into it. g0 is the first call's time, or with cfg.align the next multiple of R
 * on the wall clock (vantages keyed by wall-clock rounds then share slots).
 *   - without align, slots are kept on the monotonic clock: g0_mono + k*R;
 *   - with align, each slot's start is taken from the wall clock at the call (mono = now_mono
 *     + (start_wall - now_wall)), so the grid follows the clock the vantages share. A wall
 *     clock stepped forward passes slots over (skipped, below); one stepped back by up to a
 *     round makes the next round wait for its slot (round times stay increasing). Stepped back
 *     further (the next slot more than R away: no caller's timing does that), waiting would
 *     stall the watch for as long as the step, an hour for a clock set back an hour: the grid
 *     is re-anchored at the next multiple of R after the new wall time (stats.reanchored,
 *     stats.step_back_ns), and round times already reported will repeat.
 * The next slot is the first not yet run whose send window is still open at the call; the ones
 * passed over are counted in stats.skipped. Rounds never overlap and never start early, and
 * nothing the caller does between rounds moves a later slot: the drift a per-round "start now"
 * accumulated (output, a stalled upload) is what made vantages' rounds fall on the wrong key.
 */
static void next_slot(kp_watch_t *w, int64_t round_ns, int64_t timeout_ns, int64_t *start_mono,
                      int64_t *start_wall) {
  int64_t mono = kp_now_mono(w->clk), wall = kp_now_wall(w->clk);
  if (!w->scheduled) {
    w->scheduled = true;
    w->slot = 0;
    w->g0_wall = wall;
    if (w->cfg.align) {
      int64_t r = wall % round_ns;
      if (r < 0) r += round_ns;
      if (r) w->g0_wall += round_ns - r;
    }
    w->g0_mono = mono + (w->g0_wall - wall);
  }
  if (w->cfg.align) {
    int64_t ahead = w->g0_wall + (int64_t)w->slot * round_ns - wall; /* next slot's start - now */
    if (ahead > round_ns) { /* the wall clock went back by more than a round */
      int64_t r = wall % round_ns;
      if (r < 0) r += round_ns;
      w->stats.reanchored++;
      w->stats.step_back_ns = ahead - (r ? round_ns - r : 0);
      w->g0_wall = wall + (r ? round_ns - r : 0);
      w->slot = 0;
    }
  }
  int64_t base = w->cfg.align ? mono + (w->g0_wall - wall) : w->g0_mono; /* slot 0, mono */
  int64_t late = mono - base - (round_ns - timeout_ns); /* >= 0: slot 0's window is closed */
  uint64_t k = late < 0 ? 0 : (uint64_t)(late / round_ns) + 1;
  if (k > w->slot) {
    w->stats.skipped += k - w->slot;
    w->slot = k;
  }
  *start_mono = base + (int64_t)w->slot * round_ns;
  *start_wall = w->g0_wall + (int64_t)w->slot * round_ns;
  w->slot++;
}

kp_status_t kp_watch_round(kp_watch_t *w, const kp_watch_sinks_t *sk) {
  const kp_clock_t *clk = w->clk;
  int64_t round_ns = (int64_t)(w->cfg.round_s * 1e9);
  int64_t timeout_ns = (int64_t)(w->cfg.timeout_s * 1e9);
  int64_t t0 = kp_now_mono(clk), t_wall = kp_now_wall(clk), t_end = t0 + round_ns;
  if (!w->cfg.dry_run) {
    int64_t start;
    next_slot(w, round_ns, timeout_ns, &start, &t_wall);
    t_end = start + round_ns;
    while ((t0 = kp_now_mono(clk)) < start) { /* early: wait for the slot, taking stray replies */
      if (w->cfg.stop && *w->cfg.stop) {
        w->slot--; /* not run: a later call may still take it */
        return KP_ERR_TIMEOUT;
      }
      size_t k = w->drv.ops->poll(w->drv.ctx, w->rep, BATCH, start);
      for (size_t i = 0; i < k; i++) on_reply(w, &w->rep[i]);
    }
    w->stats.lag_ns = t0 - start;
  }
  int64_t cutoff = t_end - timeout_ns;
  double spread_ns = w->cfg.spread * (double)round_ns;
  if (t0 + (int64_t)spread_ns > cutoff) spread_ns = (double)(cutoff - t0);
  kp_perm_t perm = kp_perm_make(&w->rng, w->n);
  round_begin(w);
  w->tb_last = t0;
  if (w->cfg.rate > 0 && w->tokens < 1) w->tokens = 1;

  if (w->cfg.dry_run) { /* the periodic probe of each block, in round order; nothing sent */
    for (size_t i = 0; i < w->n; i++) {
      uint32_t bi = (uint32_t)kp_perm_at(&perm, i);
      blk_t *b = &w->st[bi];
      if (b->flags & F_BLOCKED) continue;
      const uint8_t *hosts;
      size_t nh = kp_wuniv_hosts(w->u, bi, &hosts);
      uint32_t addr = kp_wuniv_block(w->u, bi) | hosts[b->cursor % nh];
      b->cursor = (uint8_t)((b->cursor + 1) % nh);
      if (w->cfg.blocklist && kp_wblock_contains(w->cfg.blocklist, addr)) continue;
      if (sk && sk->would_send) sk->would_send(sk->ctx, addr);
    }
    w->round++;
    return KP_OK;
  }

  size_t next = 0;            /* next periodic index */
  uint32_t retry = UINT32_MAX; /* a block whose send got KP_ERR_BUSY */
  for (;;) {
    /* replies already waiting count before anything is declared timed out (a descheduled
     * prober must not turn late processing into negatives) */
    size_t got = w->drv.ops->poll(w->drv.ctx, w->rep, BATCH, kp_now_mono(clk));
    for (size_t i = 0; i < got; i++) on_reply(w, &w->rep[i]);
    int64_t now = kp_now_mono(clk);
    if (now >= t_end) break;
    if (w->cfg.stop && *w->cfg.stop) {
      expire(w, 0, true);
      w->qlen = 0;
      return KP_ERR_TIMEOUT;
    }
    expire(w, now, false);
    bool busy = false;
    if (now < cutoff) {
      refill(w, now);
      while ((w->cfg.rate <= 0 || w->tokens >= 1.0) && w->tail - w->head <= w->mask) {
        uint32_t bi;
        if (retry != UINT32_MAX) {
          bi = retry;
          retry = UINT32_MAX;
        } else if (w->qlen) {
          bi = q_pop(w);
        } else if (next < w->n &&
                   t0 + (int64_t)(spread_ns * (double)next / (double)w->n) <= now) {
          bi = (uint32_t)kp_perm_at(&perm, next++);
          if (w->st[bi].flags & F_BLOCKED) continue;
        } else {
          break;
        }
        if (send_probe(w, bi, now) == KP_ERR_BUSY) {
          retry = bi;
          busy = true;
          break;
        }
      }
    }
    /* sleep until the next thing to do */
    int64_t wake = t_end;
    if (w->head != w->tail) {
      const slot_t *s = &w->slots[w->head & w->mask];
      if (s->live && s->deadline < wake) wake = s->deadline;
      if (!s->live) wake = now; /* freed slots at the head: advance them now */
    }
    bool pending = w->qlen || retry != UINT32_MAX;
    if (now < cutoff && (pending || next < w->n)) {
      int64_t due = next < w->n ? t0 + (int64_t)(spread_ns * (double)next / (double)w->n) : t_end;
      if (busy) {
        if (now + 200000 < wake) wake = now + 200000;
      } else if (w->cfg.rate > 0 && w->tokens < 1.0) {
        int64_t t = now + (int64_t)((1.0 - w->tokens) / w->cfg.rate * 1e9) + 1;
        if (!pending && due > t) t = due;
        if (t < wake) wake = t;
      } else if (w->tail - w->head <= w->mask) { /* room in the ring */
        if (pending) wake = now;
        else if (due < wake) wake = due;
      }
      if (wake > cutoff) wake = cutoff;
    }
    if (wake < now) wake = now;
    size_t k = w->drv.ops->poll(w->drv.ctx, w->rep, BATCH, wake);
    for (size_t i = 0; i < k; i++) on_reply(w, &w->rep[i]);
  }
  expire(w, 0, true); /* probes sent just before the cutoff that are still open */
  round_end(w, sk, t_wall);
  w->round++;
  return KP_OK;
}
