/* test_watch.c: Trinocular belief vectors (anchors doc §1.4), the engine over the sim driver,
 * census/history/blocklist parsers, ICMP reply parsing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kp_test.h"
#include "watch/watch.h"

/* ---- §1.4 oracle ---- */
typedef struct vec {
  double a;
  unsigned leave_up, to_down, down_to_up, k;
} vec_t;
static const vec_t VECS[] = {
    {0.1, 24, 67, 3, 16}, {0.2, 11, 31, 2, 8}, {0.3, 7, 20, 2, 5},
    {0.5, 4, 10, 2, 3},   {0.8, 2, 5, 2, 1},   {0.9, 2, 3, 2, 1},
};

KP_TEST(belief_vectors_section_1_4) {
  for (size_t i = 0; i < sizeof VECS / sizeof VECS[0]; i++) {
    const vec_t *v = &VECS[i];
    double b = KP_TRI_START_BELIEF;
    unsigned n = 0, leave = 0;
    while (kp_tri_classify(b) != KP_TRI_DOWN) {
      b = kp_tri_update(b, v->a, false);
      n++;
      if (!leave && b <= 0.9) leave = n;
      KP_ASSERT(n < 1000);
    }
    KP_ASSERT_MSG(leave == v->leave_up, "A=%.1f leave UP after %u, want %u", v->a, leave, v->leave_up);
    KP_ASSERT_MSG(n == v->to_down, "A=%.1f DOWN after %u, want %u", v->a, n, v->to_down);
    /* the floor of B(U) is the cap 0.01; count positives back over 0.9 */
    b = 0.01;
    n = 0;
    while (kp_tri_classify(b) != KP_TRI_UP) {
      b = kp_tri_update(b, v->a, true);
      n++;
    }
    KP_ASSERT_EQ(n, v->down_to_up);
    KP_ASSERT_EQ(kp_tri_recovery_k(v->a), v->k);
  }
}

KP_TEST(belief_single_steps_and_caps) {
  KP_ASSERT_NEAR(kp_tri_update(0.5, 0.5, true), 0.99, 1e-12);
  /* away from the caps the loss rate shows: P(p|¬U) = (1 - 0.01) / 256 against A = 0.01 */
  KP_ASSERT_NEAR(kp_tri_update(0.5, 0.01, true), 0.7211267605633802, 1e-9);
  /* k(A) is capped at 64 probes: A = 0.03 needs 53, A = 0.025 would need 64 (63.57), A = 0.01 161 */
  KP_ASSERT_EQ(kp_tri_recovery_k(0.03), 53u);
  KP_ASSERT_EQ(kp_tri_recovery_k(0.025), 64u);
  KP_ASSERT_EQ(kp_tri_recovery_k(0.01), 64u);
  KP_ASSERT_NEAR(kp_tri_update(0.5, 0.5, false), 0.334, 5e-4);
  KP_ASSERT_NEAR(kp_tri_update(0.99, 0.9, true), 0.99, 1e-12);  /* capped above */
  KP_ASSERT_NEAR(kp_tri_update(0.01, 0.9, false), 0.01, 1e-12); /* capped below */
  KP_ASSERT_EQ(kp_tri_classify(0.9), KP_TRI_UNCERTAIN);
  KP_ASSERT_EQ(kp_tri_classify(0.1), KP_TRI_UNCERTAIN);
  KP_ASSERT_EQ(kp_tri_classify(0.0999), KP_TRI_DOWN);
  KP_ASSERT_EQ(kp_tri_classify(0.9001), KP_TRI_UP);
  /* no off-by-one: A = 0.10 -> 16 (trinarkular's table gives 14) */
  KP_ASSERT_EQ(kp_tri_recovery_k(0.10), 16);
  KP_ASSERT_EQ(kp_tri_recovery_k(0.4), 4);
  KP_ASSERT(kp_tri_recovery_round(0) && kp_tri_recovery_round(4) && !kp_tri_recovery_round(5));
  KP_ASSERT(kp_tri_recovery_round(8) && !kp_tri_recovery_round(9) && kp_tri_recovery_round(32));
  KP_ASSERT(!kp_tri_recovery_round(24));
}

/* ---- engine over the sim ---- */
typedef struct rec_log {
  kp_watch_block_rec_t r[64];
  uint64_t round[64];
  size_t n;
  unsigned ent_up, ent_down, ent_unc;
  char ent_last[64];
} rec_log_t;

static void on_block(void *ctx, uint64_t round, int64_t t, const kp_watch_block_rec_t *r) {
  (void)t;
  rec_log_t *l = ctx;
  if (l->n < 64) {
    l->round[l->n] = round;
    l->r[l->n++] = *r;
  }
}
static void on_entity(void *ctx, uint64_t round, int64_t t, const char *type, const char *code,
                      unsigned up, unsigned down, unsigned unc) {
  (void)round;
  (void)t;
  rec_log_t *l = ctx;
  if (strcmp(type, "country") == 0) {
    l->ent_up = up;
    l->ent_down = down;
    l->ent_unc = unc;
    snprintf(l->ent_last, sizeof l->ent_last, "%s", code);
  }
}

static kp_wsim_t *sim_of(const char *json) {
  kp_wsim_t *s = NULL;
  char err[200] = "";
  kp_status_t st = kp_wsim_parse(json, strlen(json), NULL, &s, err, sizeof err);
  KP_ASSERT_MSG(st == KP_OK, "sim model: %s", err);
  return s;
}

KP_TEST(engine_dense_block_goes_down_and_up_within_a_round) {
  /* A = 0.9, no loss; out during [60, 180): rounds of 60 s starting at t = 0 */
  kp_wsim_t *s = sim_of("{\"start\":1641340800,\"seed\":7,\"loss\":0,\"blocks\":["
                        "{\"prefix\":\"198.18.0.0/24\",\"hosts\":100,\"a\":0.9},"
                        "{\"prefix\":\"198.18.1.0/24\",\"hosts\":100,\"a\":0.9}],"
                        "\"outages\":[{\"prefixes\":[\"198.18.0.0/24\"],\"start\":60,\"end\":180}]}");
  kp_wuniv_t *u;
  KP_ASSERT_OK(kp_wuniv_create(&u));
  KP_ASSERT_OK(kp_wsim_universe(s, u, NULL));
  KP_ASSERT_OK(kp_wuniv_seal(u, NULL, "zz", 1));
  KP_ASSERT_EQ(kp_wuniv_count(u), 2);
  kp_watch_config_t cfg = {.round_s = 60, .timeout_s = 3, .spread = 0.5, .seed = 3};
  kp_watch_t *w;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, kp_wsim_driver(s), &w));
  rec_log_t log = {0};
  kp_watch_sinks_t sk = {.block = on_block, .entity = on_entity, .ctx = &log};
  for (int r = 0; r < 5; r++) KP_ASSERT_OK(kp_watch_round(w, &sk));
  KP_ASSERT_EQ(log.n, 10);
  for (size_t i = 0; i < log.n; i++) {
    const kp_watch_block_rec_t *r = &log.r[i];
    bool out = r->block == 0xC6120000u && (log.round[i] == 1 || log.round[i] == 2);
    KP_ASSERT_MSG(r->state == (out ? KP_TRI_DOWN : KP_TRI_UP), "round %llu block %08x state %d",
                  (unsigned long long)log.round[i], r->block, r->state);
    KP_ASSERT(r->pos + r->neg >= 1 && r->pos + r->neg <= KP_TRI_BUDGET);
    if (out && log.round[i] == 1) { /* from 0.99: exactly 3 negatives reach DOWN (A = 0.9) */
      KP_ASSERT_EQ(r->neg, 3);
      KP_ASSERT_EQ(r->pos, 0);
    }
  }
  KP_ASSERT_STREQ(log.ent_last, "ZZ");
  KP_ASSERT_EQ(log.ent_up, 2); /* last round: both back */
  kp_watch_stats_t stx = kp_watch_stats(w);
  KP_ASSERT_EQ(stx.unmatched, 0);
  KP_ASSERT_EQ(stx.sent, stx.replies + stx.timeouts);
  kp_watch_free(w);
  kp_wuniv_free(u);
  kp_wsim_free(s);
}

KP_TEST(engine_budget_and_rate_cap) {
  /* a sparse block (A = 0.1) that is out: 15 probes, never DOWN in one round, belief 0.5 */
  kp_wsim_t *s = sim_of("{\"seed\":1,\"blocks\":[{\"prefix\":\"198.18.0.0/22\",\"hosts\":40,\"a\":0.1}],"
                        "\"outages\":[{\"prefixes\":[\"198.18.0.0/22\"],\"start\":0,\"end\":99999}]}");
  kp_wuniv_t *u;
  KP_ASSERT_OK(kp_wuniv_create(&u));
  KP_ASSERT_OK(kp_wsim_universe(s, u, NULL));
  KP_ASSERT_OK(kp_wuniv_seal(u, NULL, NULL, 1));
  kp_watch_config_t cfg = {.round_s = 100, .timeout_s = 3, .spread = 0.2, .rate = 2, .seed = 3};
  kp_watch_t *w;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, kp_wsim_driver(s), &w));
  rec_log_t log = {0};
  kp_watch_sinks_t sk = {.block = on_block, .ctx = &log};
  KP_ASSERT_OK(kp_watch_round(w, &sk));
  /* 4 blocks x up to 15 probes = 60 > what 2 pps allows in 97 s: the cap binds */
  kp_watch_stats_t st = kp_watch_stats(w);
  KP_ASSERT(st.sent <= 2 * 97 + 2);
  KP_ASSERT(st.sent >= 4);
  for (size_t i = 0; i < log.n; i++) KP_ASSERT(log.r[i].state != KP_TRI_DOWN);
  kp_watch_free(w);
  cfg.rate = 0;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, kp_wsim_driver(s), &w));
  log.n = 0;
  KP_ASSERT_OK(kp_watch_round(w, &sk));
  KP_ASSERT_EQ(log.n, 4);
  for (size_t i = 0; i < log.n; i++) {
    /* A = 0.1 needs 24 negatives to leave UP: the budget of 15 ends the round still UP */
    KP_ASSERT_EQ(log.r[i].neg, KP_TRI_BUDGET);
    KP_ASSERT_EQ(log.r[i].state, KP_TRI_UP);
    KP_ASSERT(log.r[i].belief < 0.99 && log.r[i].belief > 0.9);
  }
  log.n = 0;
  KP_ASSERT_OK(kp_watch_round(w, &sk));
  for (size_t i = 0; i < log.n; i++) {
    /* 30 negatives in all: UNCERTAIN when the budget runs out, so B is reset to 0.5 */
    KP_ASSERT_EQ(log.r[i].neg, KP_TRI_BUDGET);
    KP_ASSERT_NEAR(log.r[i].belief, 0.5, 1e-9);
    KP_ASSERT_EQ(log.r[i].state, KP_TRI_UNCERTAIN);
  }
  kp_watch_free(w);
  kp_wuniv_free(u);
  kp_wsim_free(s);
}

KP_TEST(sim_rejects_bad_models) {
  const char *bad[] = {
      "[]", "{}", "{\"blocks\":[]}", "{\"blocks\":[{\"prefix\":\"198.18.0.0/24\",\"a\":2}]}",
      "{\"blocks\":[{\"prefix\":\"2001:db8::/32\"}]}",
      "{\"blocks\":[{\"prefix\":\"198.18.0.0/24\"}],\"outages\":[{\"prefixes\":[\"x\"],\"start\":0,\"end\":1}]}",
      "{\"blocks\":[{\"prefix\":\"198.18.0.0/24\"}],\"outages\":[{\"prefixes\":[],\"start\":5,\"end\":1}]}",
      "{\"blocks\":[{\"file\":\"kz.cidr\"}]}", /* files need a base folder */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kp_wsim_t *s = NULL;
    char err[200];
    KP_ASSERT_MSG(kp_wsim_parse(bad[i], strlen(bad[i]), NULL, &s, err, sizeof err) != KP_OK,
                  "accepted %s", bad[i]);
    KP_ASSERT(s == NULL);
  }
}

KP_TEST(census_and_history_parsers_apply_limits) {
  kp_wuniv_t *u;
  KP_ASSERT_OK(kp_wuniv_create(&u));
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  uint8_t hosts[20];
  for (int i = 0; i < 20; i++) hosts[i] = (uint8_t)(i * 3);
  KP_ASSERT_OK(kp_wuniv_census_line(&b, 0xC6120005u, hosts, 20, 0.5));
  KP_ASSERT_OK(kp_wuniv_census_line(&b, 0xC6120100u, hosts, 10, 0.9));  /* |E| < 15 */
  KP_ASSERT_OK(kp_wuniv_census_line(&b, 0xC6120200u, hosts, 20, 0.05)); /* A < 0.1 */
  kp_wuniv_limits_t lim = {0};
  size_t line = 0;
  KP_ASSERT_OK(kp_wuniv_parse_census(u, &lim, b.data, b.len, &line));
  KP_ASSERT_EQ(kp_wuniv_count(u), 1);
  KP_ASSERT_EQ(kp_wuniv_rejected(u), 2);
  KP_ASSERT_EQ(kp_wuniv_block(u, 0), 0xC6120000u);
  KP_ASSERT_NEAR(kp_wuniv_avail(u, 0), 0.5, 1e-9);
  const char *bad = "{\"block\":\"198.18.0.0/24\",\"a\":0.5,\"hosts\":[1,2]}\n"
                    "{\"block\":\"198.18.1.0/23\",\"a\":0.5,\"hosts\":[1]}\n";
  KP_ASSERT_EQ(kp_wuniv_parse_census(u, &lim, bad, strlen(bad), &line), KP_ERR_INVAL);
  KP_ASSERT_EQ(line, 2);
  /* history: 16 addresses with history 0xF (e=1) and 16 with 0x3 (e=0.5) -> A = 0.75 */
  kp_buf_reset(&b);
  for (int i = 1; i <= 32; i++)
    kp_buf_printf(&b, "c61203%02x 198.18.3.%d %x 99\n", i, i, i <= 16 ? 0xF : 0x3);
  kp_buf_printf(&b, "c6120401 198.18.4.1 0 0\n");
  kp_wuniv_t *h;
  KP_ASSERT_OK(kp_wuniv_create(&h));
  lim.min_hosts = 20;
  KP_ASSERT_OK(kp_wuniv_parse_history(h, &lim, b.data, b.len, &line));
  KP_ASSERT_OK(kp_wuniv_seal(h, NULL, NULL, 9));
  KP_ASSERT_EQ(kp_wuniv_count(h), 1);
  KP_ASSERT_NEAR(kp_wuniv_avail(h, 0), 0.75, 1e-9);
  const uint8_t *hp;
  KP_ASSERT_EQ(kp_wuniv_hosts(h, 0, &hp), 32);
  KP_ASSERT_EQ(kp_wuniv_find(h, 0xC6120377u), 0);
  KP_ASSERT_EQ(kp_wuniv_find(h, 0xC6120477u), SIZE_MAX);
  kp_wuniv_free(h);
  kp_wuniv_free(u);
  kp_buf_free(&b);
}

KP_TEST(blocklist_zmap_format) {
  const char *t = "# zmap style\n10.0.0.0/8   # rfc1918\n198.18.5.7\n\n198.18.6.0/24\n2001:db8::/32\n";
  kp_wblock_t *b;
  size_t line;
  KP_ASSERT_OK(kp_wblock_parse(t, strlen(t), &b, &line));
  KP_ASSERT(kp_wblock_contains(b, 0x0A010203u));
  KP_ASSERT(kp_wblock_contains(b, 0xC6120507u));
  KP_ASSERT(!kp_wblock_contains(b, 0xC6120508u));
  KP_ASSERT(kp_wblock_hits_block(b, 0xC6120500u));
  KP_ASSERT(!kp_wblock_covers_block(b, 0xC6120500u));
  KP_ASSERT(kp_wblock_covers_block(b, 0xC6120600u));
  kp_wblock_free(b);
  const char *bad = "198.18.0.0/24\nnot-an-address\n";
  KP_ASSERT_EQ(kp_wblock_parse(bad, strlen(bad), &b, &line), KP_ERR_INVAL);
  KP_ASSERT_EQ(line, 2);
}

KP_TEST(engine_honours_blocklist_in_dry_run) {
  kp_wsim_t *s = sim_of("{\"blocks\":[{\"prefix\":\"198.18.0.0/23\",\"hosts\":256,\"a\":1}]}");
  kp_wuniv_t *u;
  KP_ASSERT_OK(kp_wuniv_create(&u));
  KP_ASSERT_OK(kp_wsim_universe(s, u, NULL));
  KP_ASSERT_OK(kp_wuniv_seal(u, NULL, NULL, 1));
  const char *bl = "198.18.1.0/24\n";
  kp_wblock_t *b;
  KP_ASSERT_OK(kp_wblock_parse(bl, strlen(bl), &b, NULL));
  kp_watch_config_t cfg = {.round_s = 60, .timeout_s = 3, .spread = 0.5, .dry_run = true,
                           .blocklist = b};
  kp_watch_t *w;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, kp_wsim_driver(s), &w));
  KP_ASSERT_OK(kp_watch_round(w, NULL));
  KP_ASSERT_EQ(kp_wsim_sent(s), 0);
  kp_watch_free(w);
  cfg.dry_run = false;
  KP_ASSERT_OK(kp_watch_create(&cfg, u, kp_wsim_driver(s), &w));
  KP_ASSERT_OK(kp_watch_round(w, NULL));
  KP_ASSERT_EQ(kp_wsim_sent(s), 1); /* only the allowed block's periodic probe (A = 1) */
  kp_watch_free(w);
  kp_wblock_free(b);
  kp_wuniv_free(u);
  kp_wsim_free(s);
}

KP_TEST(icmp_reply_parse) {
  uint8_t p[36] = {0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 9, 198, 19, 1, 2,
                   0, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 0, 0, 0, 7, 'k', 'p', 'w', '1'};
  /* checksum over the ICMP part */
  uint32_t sum = 0;
  for (int i = 20; i < 36; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  p[22] = (uint8_t)(~sum >> 8);
  p[23] = (uint8_t)~sum;
  kp_wreply_t r;
  KP_ASSERT(kp_wicmp_parse_reply(p, sizeof p, 0x1234, &r));
  KP_ASSERT_EQ(r.token, 7);
  KP_ASSERT_EQ(r.addr, 0xC6120009u);
  KP_ASSERT(!kp_wicmp_parse_reply(p, sizeof p, 0x1235, &r)); /* another process */
  KP_ASSERT(!kp_wicmp_parse_reply(p, 30, 0x1234, &r));       /* truncated */
  p[35] ^= 1;
  KP_ASSERT(!kp_wicmp_parse_reply(p, sizeof p, 0x1234, &r)); /* bad checksum/magic */
}

/* issue 13: the built-in reserved-range blocklist, the explicit opt-in, and the user's list winning */
static uint32_t v4(int a, int b, int c, int d) { return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | (uint32_t)d; }

KP_TEST(reserved_ranges_blocked_by_default_opt_in_never_beats_user_list) {
  kp_wblock_t *bl = NULL;
  KP_ASSERT_OK(kp_wblock_with_reserved(&bl, NULL));
  static const int blocked[][4] = {{0, 1, 2, 3},     {10, 0, 0, 1},     {100, 64, 0, 1},  {100, 127, 255, 255},
                                   {127, 0, 0, 1},   {169, 254, 169, 254}, {172, 16, 0, 1}, {172, 31, 255, 255},
                                   {192, 0, 0, 9},   {192, 0, 2, 1},    {192, 88, 99, 1}, {192, 168, 1, 1},
                                   {198, 18, 0, 1},  {198, 19, 255, 255}, {198, 51, 100, 7}, {203, 0, 113, 9},
                                   {224, 0, 0, 1},   {239, 255, 255, 250}, {240, 0, 0, 1}, {255, 255, 255, 255}};
  for (size_t i = 0; i < sizeof blocked / sizeof *blocked; i++)
    KP_ASSERT_MSG(kp_wblock_contains(bl, v4(blocked[i][0], blocked[i][1], blocked[i][2], blocked[i][3])),
                  "%d.%d.%d.%d not blocked", blocked[i][0], blocked[i][1], blocked[i][2], blocked[i][3]);
  /* the neighbours of each range stay probeable */
  static const int open_[][4] = {{1, 0, 0, 1},     {9, 255, 255, 255}, {11, 0, 0, 0},   {100, 63, 255, 255},
                                 {100, 128, 0, 0}, {172, 15, 255, 255}, {172, 32, 0, 0}, {192, 0, 1, 1},
                                 {198, 17, 255, 255}, {198, 20, 0, 0}, {223, 255, 255, 255}, {8, 8, 8, 8}};
  for (size_t i = 0; i < sizeof open_ / sizeof *open_; i++)
    KP_ASSERT_MSG(!kp_wblock_contains(bl, v4(open_[i][0], open_[i][1], open_[i][2], open_[i][3])),
                  "%d.%d.%d.%d blocked", open_[i][0], open_[i][1], open_[i][2], open_[i][3]);
  kp_wblock_free(bl);
  /* the lab's opt-in opens exactly 198.18.0.0/15; the user's list still wins inside it */
  const char user[] = "198.18.1.0/24\n";
  KP_ASSERT_OK(kp_wblock_parse(user, sizeof user - 1, &bl, NULL));
  KP_ASSERT_OK(kp_wblock_with_reserved(&bl, "198.18.0.0/15"));
  KP_ASSERT(!kp_wblock_contains(bl, v4(198, 18, 0, 1)));
  KP_ASSERT(!kp_wblock_contains(bl, v4(198, 19, 255, 255)));
  KP_ASSERT(kp_wblock_contains(bl, v4(198, 18, 1, 7)));
  KP_ASSERT(kp_wblock_contains(bl, v4(10, 0, 0, 1)));
  KP_ASSERT(kp_wblock_contains(bl, v4(192, 168, 0, 1)));
  kp_wblock_free(bl);
  /* opening part of a range splits it; several prefixes; malformed lists refused */
  bl = NULL;
  KP_ASSERT_OK(kp_wblock_with_reserved(&bl, "10.1.0.0/16,192.168.7.0/24"));
  KP_ASSERT(kp_wblock_contains(bl, v4(10, 0, 255, 255)));
  KP_ASSERT(!kp_wblock_contains(bl, v4(10, 1, 2, 3)));
  KP_ASSERT(kp_wblock_contains(bl, v4(10, 2, 0, 0)));
  KP_ASSERT(!kp_wblock_contains(bl, v4(192, 168, 7, 9)));
  KP_ASSERT(kp_wblock_contains(bl, v4(192, 168, 8, 0)));
  kp_wblock_free(bl);
  bl = NULL;
  KP_ASSERT_EQ(kp_wblock_with_reserved(&bl, "198.18.0.0/33"), KP_ERR_INVAL);
  KP_ASSERT_EQ(kp_wblock_with_reserved(&bl, "198.18.0.0/15,,"), KP_ERR_INVAL);
  KP_ASSERT_EQ(kp_wblock_with_reserved(&bl, "2001:db8::/32"), KP_ERR_INVAL);
  KP_ASSERT(bl == NULL);
}
