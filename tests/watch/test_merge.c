/* test_merge.c: many vantages: the pure merge (health, block rule, agreement), the post parser
 * and the collector's view over a scripted sequence of rounds (the round index is the clock). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_test.h"
#include "watch/watch.h"

#define NB 40
#define BLK(i) (0xC6120000u + ((uint32_t)(i) << 8)) /* 198.18.i.0/24 */

/* one round: vantage v sees block i in st[v][i] */
static size_t fill(kp_vobs_t *o, size_t nv, const uint8_t st[][NB]) {
  size_t k = 0;
  for (size_t v = 0; v < nv; v++)
    for (size_t i = 0; i < NB; i++) o[k++] = (kp_vobs_t){.block = BLK(i), .vantage = (uint16_t)v, .state = st[v][i]};
  return k;
}

KP_TEST(merge_all_agree_up_and_down) {
  uint8_t st[3][NB];
  memset(st, KP_TRI_UP, sizeof st);
  for (int v = 0; v < 3; v++) st[v][7] = KP_TRI_DOWN; /* a real one-block outage */
  kp_vobs_t o[3 * NB];
  kp_merge_block_t mb[3 * NB];
  kp_merge_vstat_t vs[3];
  size_t nm;
  KP_ASSERT_OK(kp_merge_round(o, fill(o, 3, st), 3, mb, &nm, vs));
  KP_ASSERT_EQ(nm, (size_t)NB);
  for (int v = 0; v < 3; v++) {
    KP_ASSERT(vs[v].judged);
    KP_ASSERT(vs[v].healthy);
    KP_ASSERT_EQ(vs[v].ref, (unsigned)NB - 1);
    KP_ASSERT_EQ(vs[v].ref_up, (unsigned)NB - 1);
  }
  for (size_t i = 0; i < nm; i++) {
    KP_ASSERT_EQ(mb[i].block, BLK(i));
    KP_ASSERT_EQ(mb[i].state, i == 7 ? KP_TRI_DOWN : KP_TRI_UP);
    KP_ASSERT_EQ(mb[i].agree, 3);
    KP_ASSERT_EQ(mb[i].healthy, 3);
  }
}

KP_TEST(merge_uplink_loss_is_a_fault_not_an_outage) {
  uint8_t st[3][NB];
  memset(st, KP_TRI_UP, sizeof st);
  memset(st[2], KP_TRI_DOWN, NB);      /* vantage 2 lost its uplink */
  st[2][3] = KP_TRI_UP;                /* ... but one block still answers it (a near path) */
  kp_vobs_t o[3 * NB];
  kp_merge_block_t mb[3 * NB];
  kp_merge_vstat_t vs[3];
  size_t nm;
  KP_ASSERT_OK(kp_merge_round(o, fill(o, 3, st), 3, mb, &nm, vs));
  KP_ASSERT(vs[0].healthy && vs[1].healthy);
  KP_ASSERT(vs[2].judged);
  KP_ASSERT(!vs[2].healthy);
  KP_ASSERT_EQ(vs[2].ref, (unsigned)NB);
  KP_ASSERT_EQ(vs[2].ref_up, 1u);
  for (size_t i = 0; i < nm; i++) {
    KP_ASSERT_EQ(mb[i].state, KP_TRI_UP);
    KP_ASSERT_EQ(mb[i].reported, 3);
    KP_ASSERT_EQ(mb[i].healthy, 2);
    KP_ASSERT_EQ(mb[i].agree, 2);
  }
}

KP_TEST(merge_real_outage_with_a_faulty_vantage_and_a_late_sparse_block) {
  /* the country goes down; vantage 1 still reads one sparse block up for a round: the two
   * that see everything down are not judged (the others see < 20 % up), so no false fault */
  uint8_t st[3][NB];
  memset(st, KP_TRI_DOWN, sizeof st);
  st[1][5] = KP_TRI_UP;
  kp_vobs_t o[3 * NB];
  kp_merge_block_t mb[3 * NB];
  kp_merge_vstat_t vs[3];
  size_t nm;
  KP_ASSERT_OK(kp_merge_round(o, fill(o, 3, st), 3, mb, &nm, vs));
  for (int v = 0; v < 3; v++) KP_ASSERT(vs[v].healthy);
  KP_ASSERT(!vs[0].judged && !vs[2].judged);
  size_t down = 0;
  for (size_t i = 0; i < nm; i++) down += mb[i].state == KP_TRI_DOWN;
  KP_ASSERT_EQ(down, (size_t)NB - 1);
  KP_ASSERT_EQ(mb[5].state, KP_TRI_UP);
  KP_ASSERT_EQ(mb[5].agree, 1);
}

KP_TEST(merge_threshold_edges) {
  /* vantage 1 sees exactly half of what vantage 0 sees up: healthy (>= 0.5); one block fewer:
   * a fault. Vantage 0 is then the only healthy one and decides alone. */
  for (int fewer = 0; fewer < 2; fewer++) {
    uint8_t st[2][NB];
    memset(st, KP_TRI_UP, sizeof st);
    for (int i = 0; i < NB / 2 + fewer; i++) st[1][i] = KP_TRI_DOWN;
    kp_vobs_t o[2 * NB];
    kp_merge_block_t mb[2 * NB];
    kp_merge_vstat_t vs[2];
    size_t nm;
    KP_ASSERT_OK(kp_merge_round(o, fill(o, 2, st), 2, mb, &nm, vs));
    KP_ASSERT_EQ(vs[1].ref, (unsigned)NB);
    KP_ASSERT_EQ(vs[1].healthy, fewer == 0);
    /* with vantage 1 healthy a block it sees down is still up (vantage 0 sees it up) */
    KP_ASSERT_EQ(mb[0].state, KP_TRI_UP);
    KP_ASSERT_EQ(mb[0].agree, 1);
    KP_ASSERT_EQ(mb[0].healthy, fewer ? 1 : 2);
  }
}

KP_TEST(merge_down_needs_every_healthy_vantage) {
  uint8_t st[3][NB];
  memset(st, KP_TRI_UP, sizeof st);
  st[0][9] = st[1][9] = KP_TRI_DOWN;
  st[2][9] = KP_TRI_UNCERTAIN;          /* not DOWN: not an outage yet */
  st[0][10] = st[1][10] = st[2][10] = KP_TRI_UNCERTAIN;
  kp_vobs_t o[3 * NB + 1];
  kp_merge_block_t mb[3 * NB + 1];
  kp_merge_vstat_t vs[3];
  size_t n = fill(o, 3, st), nm;
  o[n++] = (kp_vobs_t){.block = BLK(9), .vantage = 2, .state = KP_TRI_DOWN}; /* duplicate: ignored */
  KP_ASSERT_OK(kp_merge_round(o, n, 3, mb, &nm, vs));
  KP_ASSERT_EQ(nm, (size_t)NB);
  KP_ASSERT_EQ(mb[9].state, KP_TRI_UNCERTAIN);
  KP_ASSERT_EQ(mb[9].reported, 3);
  KP_ASSERT_EQ(mb[10].state, KP_TRI_UNCERTAIN);
  KP_ASSERT_EQ(mb[10].agree, 3);
  /* bad input */
  o[0].vantage = 3;
  KP_ASSERT_EQ(kp_merge_round(o, n, 3, mb, &nm, vs), KP_ERR_INVAL);
  KP_ASSERT_EQ(kp_merge_round(o, n, 0, mb, &nm, vs), KP_ERR_INVAL);
}

/* ---- posts and the view ---- */
static kp_vpost_t *mkpost(const char *id, int64_t t, int64_t step, const uint8_t *st) {
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  const char *ents[] = {"country/LB", "region/LB/Lab-East"};
  kp_vpost_header(&b, id, t, step, ents, 2);
  for (int i = 0; i < NB; i++) {
    uint32_t e[3] = {0, i < 8 ? 1u : UINT32_MAX, UINT32_MAX};
    kp_vpost_block_line(&b, BLK(i), (kp_tri_state_t)st[i], e);
  }
  kp_vpost_t *p = NULL;
  char err[128];
  kp_status_t s = kp_vpost_parse(b.data, b.len, &p, err, sizeof err);
  kp_buf_free(&b);
  return s == KP_OK ? p : NULL;
}

typedef struct sigs {
  kp_vsignal_t c, r;
  int n;
} sigs_t;
static int on_sig(void *ctx, const kp_vsignal_t *s) {
  sigs_t *x = ctx;
  if (!strcmp(s->entity_type, "country") && !strcmp(s->entity_code, "LB")) x->c = *s;
  if (!strcmp(s->entity_type, "region") && !strcmp(s->entity_code, "LB/Lab-East")) x->r = *s;
  x->n++;
  return 0;
}

KP_TEST(view_rounds_fault_then_real_outage) {
  kp_vview_t *v;
  KP_ASSERT_OK(kp_vview_create(&v));
  const int64_t t0 = 1641362400, step = 3;
  uint8_t up[NB], down[NB];
  memset(up, KP_TRI_UP, NB);
  memset(down, KP_TRI_DOWN, NB);
  /* rounds 0-3: all up; rounds 4-7: v3 lost its uplink; rounds 8-9: the country is down */
  for (int r = 0; r < 10; r++) {
    int64_t t = t0 + r * step;
    for (int vi = 0; vi < 3; vi++) {
      const uint8_t *st = r >= 8 ? down : (vi == 2 && r >= 4) ? down : up;
      char id[8];
      snprintf(id, sizeof id, "v%d", vi + 1);
      /* clocks and posting differ by up to 1 s: still one round */
      kp_vpost_t *p = mkpost(id, t + (vi - 1), step, st);
      KP_ASSERT(p != NULL);
      KP_ASSERT_OK(kp_vview_put(v, p));
    }
    sigs_t s = {0};
    KP_ASSERT_OK(kp_vview_signals(v, t, on_sig, &s));
    KP_ASSERT_EQ(s.n, 2);
    kp_merge_block_t mb[8];
    size_t nb;
    KP_ASSERT_EQ(kp_vview_blocks(v, t, NB - 3, 8, mb, &nb), (size_t)NB); /* the last page */
    KP_ASSERT_EQ(nb, (size_t)3);
    KP_ASSERT_EQ(mb[2].block, BLK(NB - 1));
    KP_ASSERT_EQ(mb[2].reported, 3);
    KP_ASSERT_EQ(mb[2].healthy, (r >= 4 && r < 8) ? 2 : 3);
    KP_ASSERT_EQ(mb[2].agree, mb[2].healthy);
    KP_ASSERT_EQ(mb[2].state, r >= 8 ? KP_TRI_DOWN : KP_TRI_UP);
    KP_ASSERT_EQ(s.c.t, t);
    KP_ASSERT_EQ(s.c.vantages, 3u);
    if (r < 8) {
      KP_ASSERT_EQ(s.c.up, (unsigned)NB);   /* never the country's outage */
      KP_ASSERT_EQ(s.r.up, 8u);
      KP_ASSERT_EQ(s.c.agree_pct, 100u);     /* the healthy ones agree */
      KP_ASSERT_EQ(s.c.healthy, r >= 4 ? 2u : 3u);
    } else {
      KP_ASSERT_EQ(s.c.up, 0u);              /* found in the round it happened */
      KP_ASSERT_EQ(s.c.down, (unsigned)NB);
      KP_ASSERT_EQ(s.c.healthy, 3u);
    }
  }
  kp_vfault_t f[8];
  size_t nf;
  size_t total = kp_vview_faults(v, 0, 8, f, &nf);
  KP_ASSERT_EQ(total, (size_t)4);
  for (size_t i = 0; i < nf; i++) {
    KP_ASSERT_STREQ(f[i].vantage, "v3");
    KP_ASSERT_EQ(f[i].t, t0 + (int64_t)(4 + i) * step);
    KP_ASSERT_EQ(f[i].ref, (unsigned)NB);
    KP_ASSERT_EQ(f[i].ref_up, 0u);
  }
  KP_ASSERT_EQ(kp_vview_faults(v, 3, 8, f, &nf), (size_t)4);
  KP_ASSERT_EQ(nf, (size_t)1);
  KP_ASSERT_EQ(f[0].t, t0 + 7 * step);
  /* a round with another step is refused; an unknown round is not found */
  kp_vpost_t *p = mkpost("v1", t0, 5, up);
  KP_ASSERT_EQ(kp_vview_put(v, p), KP_ERR_RANGE);
  kp_vpost_free(p);
  sigs_t s = {0};
  KP_ASSERT_EQ(kp_vview_signals(v, t0 - 100, on_sig, &s), KP_ERR_NOTFOUND);
  kp_vview_free(v);
}

KP_TEST(view_window_evicts_the_oldest) {
  kp_vview_t *v;
  KP_ASSERT_OK(kp_vview_create(&v));
  uint8_t up[NB];
  memset(up, KP_TRI_UP, NB);
  for (int r = 0; r < KP_VVIEW_ROUNDS + 5; r++) KP_ASSERT_OK(kp_vview_put(v, mkpost("a", 600 * (r + 10), 600, up)));
  kp_vpost_t *p = mkpost("a", 600 * 10, 600, up);  /* older than the window */
  KP_ASSERT_EQ(kp_vview_put(v, p), KP_ERR_RANGE);
  kp_vpost_free(p);
  sigs_t s = {0};
  KP_ASSERT_EQ(kp_vview_signals(v, 600 * 14, on_sig, &s), KP_ERR_NOTFOUND);
  KP_ASSERT_OK(kp_vview_signals(v, 600 * 15, on_sig, &s));
  kp_vview_free(v);
}

KP_TEST(view_memory_cap_drops_old_rounds) {
  kp_vview_t *v;
  KP_ASSERT_OK(kp_vview_create(&v));
  kp_vview_set_max_obs(v, 3 * NB); /* three posts of NB blocks */
  uint8_t up[NB];
  memset(up, KP_TRI_UP, NB);
  for (int r = 0; r < 3; r++) KP_ASSERT_OK(kp_vview_put(v, mkpost("a", 600 * (r + 10), 600, up)));
  sigs_t s = {0};
  KP_ASSERT_OK(kp_vview_signals(v, 600 * 10, on_sig, &s));
  /* a second vantage's round 12 passes the cap: round 10, the oldest, goes; 11 and 12 stay */
  KP_ASSERT_OK(kp_vview_put(v, mkpost("b", 600 * 12, 600, up)));
  KP_ASSERT_EQ(kp_vview_signals(v, 600 * 10, on_sig, &s), KP_ERR_NOTFOUND);
  KP_ASSERT_OK(kp_vview_signals(v, 600 * 11, on_sig, &s));
  memset(&s, 0, sizeof s);
  KP_ASSERT_OK(kp_vview_signals(v, 600 * 12, on_sig, &s));
  KP_ASSERT_EQ(s.c.vantages, 2u);
  /* an old round that would pass the cap finds only newer rounds to drop: refused, and nothing
   * newer is dropped for it; replacing a kept post of the same size fits */
  kp_vpost_t *p = mkpost("b", 600 * 11, 600, up);
  KP_ASSERT_EQ(kp_vview_put(v, p), KP_ERR_RANGE);
  kp_vpost_free(p);
  p = mkpost("c", 600 * 5, 600, up);
  KP_ASSERT_EQ(kp_vview_put(v, p), KP_ERR_RANGE);
  kp_vpost_free(p);
  KP_ASSERT_OK(kp_vview_signals(v, 600 * 12, on_sig, &s));
  KP_ASSERT_EQ(kp_vview_signals(v, 600 * 5, on_sig, &s), KP_ERR_NOTFOUND);
  KP_ASSERT_OK(kp_vview_put(v, mkpost("a", 600 * 12, 600, up)));
  kp_vview_free(v);
}

KP_TEST(view_vantage_registry_reuses_retired_ids) {
  kp_vview_t *v;
  KP_ASSERT_OK(kp_vview_create(&v));
  uint8_t up[NB];
  memset(up, KP_TRI_UP, NB);
  char id[16];
  /* 32 vantages in round 10; a 33rd is refused while all 32 have posts in the window */
  for (int i = 0; i < KP_MERGE_MAX_VANTAGES; i++) {
    snprintf(id, sizeof id, "v%d", i);
    KP_ASSERT_OK(kp_vview_put(v, mkpost(id, 6000, 600, up)));
  }
  kp_vpost_t *p = mkpost("new", 6600, 600, up);
  KP_ASSERT_EQ(kp_vview_put(v, p), KP_ERR_RANGE);
  kp_vpost_free(p);
  /* 64 rounds later round 10 has left the window: the 32 ids are free again */
  for (int r = 0; r < KP_VVIEW_ROUNDS; r++) KP_ASSERT_OK(kp_vview_put(v, mkpost("v0", 6600 + 600 * r, 600, up)));
  KP_ASSERT_OK(kp_vview_put(v, mkpost("new", 6600 + 600 * 63, 600, up)));
  sigs_t s = {0};
  KP_ASSERT_OK(kp_vview_signals(v, 6600 + 600 * 63, on_sig, &s));
  KP_ASSERT_EQ(s.c.vantages, 2u);
  kp_vfault_t f[1];
  size_t nf;
  KP_ASSERT_EQ(kp_vview_faults(v, 0, 1, f, &nf), (size_t)0);
  kp_vview_free(v);
}

KP_TEST(vpost_parse_rejects) {
  static const struct {
    const char *body, *err;
  } bad[] = {
      {"", "line 1: empty post"},
      {"{\"type\":\"signal\"}\n", "line 1: the first line"},
      {"{\"type\":\"vantage\",\"vantage\":\"a b\",\"t\":1,\"step\":1}", "line 1: vantage must"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":-1,\"step\":1}", "line 1: invalid t"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":1,\"step\":0}", "line 1: invalid step"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":1,\"step\":1,\"entities\":[\"city/X\"]}", "line 1: entity 0"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":1,\"step\":1}\n{\"block\":\"198.18.1.1/24\",\"state\":\"up\"}", "line 2: block"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":1,\"step\":1}\n\n{\"block\":\"198.18.1.0/24\",\"state\":\"gone\"}", "line 3: state"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":1,\"step\":1,\"entities\":[\"asn/AS1\"]}\n{\"block\":\"198.18.1.0/24\",\"state\":\"up\",\"e\":[1]}", "line 2: e[0]"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":1,\"step\":1}\n{\"block\":\"198.18.1.0/24\",\"state\":\"up\",\"e\":[0,0,0,0]}", "line 2: e must"},
      {"{\"type\":\"vantage\",\"vantage\":\"a\",\"t\":1,\"step\":1}\n{\"block\":", "line 2: malformed"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kp_vpost_t *p = (kp_vpost_t *)1;
    char err[160] = "";
    KP_ASSERT_EQ(kp_vpost_parse(bad[i].body, strlen(bad[i].body), &p, err, sizeof err), KP_ERR_INVAL);
    KP_ASSERT(p == NULL);
    KP_ASSERT_MSG(!strncmp(err, bad[i].err, strlen(bad[i].err)), "case %zu: %s", i, err);
  }
  const char *ok = "{\"type\":\"vantage\",\"vantage\":\"fra-1\",\"t\":1641362400,\"step\":600,\"entities\":[\"country/KZ\",\"asn/AS9198\"]}\r\n"
                   "{\"block\":\"198.18.1.0/24\",\"state\":\"down\",\"e\":[1,0]}\n";
  kp_vpost_t *p = NULL;
  KP_ASSERT_OK(kp_vpost_parse(ok, strlen(ok), &p, NULL, 0));
  KP_ASSERT_STREQ(p->vantage, "fra-1");
  KP_ASSERT_EQ(p->nblocks, (size_t)1);
  KP_ASSERT_EQ(p->blocks[0].block, 0xC6120100u);
  KP_ASSERT_EQ(p->blocks[0].state, KP_TRI_DOWN);
  KP_ASSERT_EQ(p->blocks[0].e[0], 1u);
  KP_ASSERT_EQ(p->blocks[0].e[2], UINT32_MAX);
  KP_ASSERT_STREQ(p->entities[1], "asn/AS9198");
  kp_vpost_free(p);
}
