/*
 * ratelimit.c: the per-host and per-AS rate limiter (GCRA in integer nanoseconds).
 *
 * Each key (a host address, an AS number) has a theoretical arrival time tat. With interval
 * T = 1e9 / rate ns and tolerance tau = (burst - 1) * T, a permit at time t is allowed when
 * tat - tau <= t, and then tat = max(tat, t) + T. This is a token bucket of depth `burst`
 * refilled at `rate`, but exact: no floating point accumulates, so over any window of W ns a
 * key gets at most burst + floor(W / T) permits (tests/remote/test_remote.c checks the figure).
 * A permit charges the host AND its AS together, or neither (the check of both comes first).
 * Keys live in open-addressed tables (linear probing, grown at half full) under one mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remote/remote.h"

typedef struct slot { bool used; uint8_t key[17]; int64_t tat; } slot_t;
typedef struct table { slot_t *s; size_t cap, n; } table_t;

struct kp_rl {
  const kp_clock_t *clk;
  int64_t host_T, host_tau, as_T, as_tau;
  pthread_mutex_t mu;
  table_t hosts, ases;
  uint64_t granted;
  void (*sleep)(void *ctx, int64_t ns);
  void *sleep_ctx;
};

static uint64_t hash_key(const uint8_t k[17]) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < 17; i++) h = (h ^ k[i]) * 1099511628211ull;
  return h;
}

static slot_t *find(table_t *t, const uint8_t k[17], bool add) {
  if (add && (t->n + 1) * 2 > t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 64;
    slot_t *ns = calloc(nc, sizeof *ns);
    if (!ns) return NULL;
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->s[i].used) continue;
      size_t j = hash_key(t->s[i].key) & (nc - 1);
      while (ns[j].used) j = (j + 1) & (nc - 1);
      ns[j] = t->s[i];
    }
    free(t->s);
    t->s = ns;
    t->cap = nc;
  }
  if (!t->cap) return NULL;
  size_t j = hash_key(k) & (t->cap - 1);
  while (t->s[j].used) {
    if (!memcmp(t->s[j].key, k, 17)) return &t->s[j];
    j = (j + 1) & (t->cap - 1);
  }
  if (!add) return NULL;
  t->s[j].used = true;
  memcpy(t->s[j].key, k, 17);
  t->s[j].tat = INT64_MIN / 2;
  t->n++;
  return &t->s[j];
}

kp_status_t kp_rl_new(const kp_rl_cfg_t *cfg, const kp_clock_t *clk, kp_rl_t **out) {
  *out = NULL;
  if (!cfg || !clk || !(cfg->host_rate > 0) || !(cfg->as_rate > 0) || cfg->host_rate > 1e9 || cfg->as_rate > 1e9 ||
      cfg->host_burst < 1 || cfg->as_burst < 1)
    return KP_ERR_INVAL;
  kp_rl_t *rl = calloc(1, sizeof *rl);
  if (!rl) return KP_ERR_NOMEM;
  rl->clk = clk;
  rl->host_T = (int64_t)(1e9 / cfg->host_rate + 0.5);
  rl->as_T = (int64_t)(1e9 / cfg->as_rate + 0.5);
  if (rl->host_T < 1) rl->host_T = 1;
  if (rl->as_T < 1) rl->as_T = 1;
  rl->host_tau = (int64_t)(cfg->host_burst - 1) * rl->host_T;
  rl->as_tau = (int64_t)(cfg->as_burst - 1) * rl->as_T;
  rl->sleep = cfg->sleep;
  rl->sleep_ctx = cfg->sleep_ctx;
  pthread_mutex_init(&rl->mu, NULL);
  *out = rl;
  return KP_OK;
}

void kp_rl_free(kp_rl_t *rl) {
  if (!rl) return;
  pthread_mutex_destroy(&rl->mu);
  free(rl->hosts.s);
  free(rl->ases.s);
  free(rl);
}

int64_t kp_rl_try(kp_rl_t *rl, const kp_addr_t *host, uint32_t asn) {
  uint8_t hk[17] = {0}, ak[17] = {0};
  hk[0] = host->family;
  memcpy(hk + 1, host->b, 16);
  ak[0] = 0xff;
  memcpy(ak + 1, &asn, 4);
  pthread_mutex_lock(&rl->mu);
  int64_t now = kp_now_mono(rl->clk);
  int64_t wait = 0;
  slot_t *h = find(&rl->hosts, hk, true), *a = h ? find(&rl->ases, ak, true) : NULL;
  if (!h || !a) {
    wait = 1000000; /* out of memory: refuse for now (never grant unmetered) */
  } else {
    int64_t hw = h->tat - rl->host_tau - now, aw = a->tat - rl->as_tau - now;
    if (hw > 0 || aw > 0) {
      wait = hw > aw ? hw : aw;
    } else {
      h->tat = (h->tat > now ? h->tat : now) + rl->host_T;
      a->tat = (a->tat > now ? a->tat : now) + rl->as_T;
      rl->granted++;
    }
  }
  pthread_mutex_unlock(&rl->mu);
  return wait;
}

void kp_rl_wait(kp_rl_t *rl, const kp_addr_t *host, uint32_t asn) {
  for (;;) {
    int64_t w = kp_rl_try(rl, host, asn);
    if (w == 0) return;
    if (rl->sleep) {
      rl->sleep(rl->sleep_ctx, w); /* injected (tests advance a manual clock) */
    } else {
      struct timespec ts = {w / 1000000000, w % 1000000000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
  }
}

uint64_t kp_rl_granted(const kp_rl_t *rl) {
  pthread_mutex_lock((pthread_mutex_t *)&rl->mu);
  uint64_t g = rl->granted;
  pthread_mutex_unlock((pthread_mutex_t *)&rl->mu);
  return g;
}
