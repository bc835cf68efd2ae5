/*
 * commitq.c: the collector's commit pipeline. The loop thread gathers measurements while a
 * commit thread stores the previous batch, so a batch holds whatever arrived during one
 * commit: its size follows the arrival rate (at ClickHouse's ~tens of ms per INSERT, thousands
 * a batch under load), where a commit inside the loop holds at most one measurement per client.
 *
 * A batch's states (one gathering batch, at most one in the commit slot):
 *
 *   GATHERING --kp_cq_pump, slot IDLE, n > 0--> COMMITTING --put_batch returned--> DONE
 *   (loop thread: kp_cq_add,     (buffers swapped:        (commit thread: its own     |
 *    up to max_items/max_bytes;   the loop gathers the      store handle; records st   |
 *    full: the caller drains)     next batch at once)       and results, wakes loop)   |
 *        ^                                                                           |
 *        +------- slot IDLE <---- kp_cq_pump delivers: done(tag, st, result) for -----+
 *                                 every item, on the loop thread, exactly once
 *
 * Invariants: a done call comes only after put_batch of the item's batch returned, with that
 * batch's status, so "a 2xx means stored" holds when the caller answers 2xx only on KP_OK; a
 * failed batch delivers its status to every item of it (none is answered 2xx). Batches are
 * committed one at a time, in order, by one thread and one store handle, so the backend's
 * dedup (content hash, chain slots) sees every earlier batch: a retried measurement is
 * answered as a duplicate, never stored twice. Each item is in exactly one buffer (gathering
 * or the slot) until its done call; kp_cq_free delivers whatever is left (KP_ERR_IO for items
 * that never reached the store), so no item is lost without an answer.
 * Threads: the gathering buffer belongs to the loop thread; the slot (state, its buffer, the
 * stats) is under mu; the commit thread touches the slot's buffer only in COMMITTING.
 */
#include "server/commitq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct cq_buf {
  kp_store_msm_t *m;
  void **tag;
  kp_store_put_result_t *res;
  size_t n, bytes;
  kp_status_t st;
} cq_buf_t;

enum { SLOT_IDLE, SLOT_COMMITTING, SLOT_DONE };

struct kp_cq {
  kp_cq_config_t cfg;
  cq_buf_t bufs[2];
  cq_buf_t *gather, *slot;
  int state;
  bool stop, started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t th;
  kp_cq_stats_t stats;
};

static uint64_t mono_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *commit_thread(void *arg) {
  kp_cq_t *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (q->state != SLOT_COMMITTING && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
    if (q->state != SLOT_COMMITTING) break; /* stop, and nothing in the slot */
    cq_buf_t *b = q->slot;
    pthread_mutex_unlock(&q->mu);
    memset(b->res, 0, b->n * sizeof *b->res);
    uint64_t t0 = q->cfg.now_ms(q->cfg.clock_ctx);
    kp_status_t st = kp_store_put_batch(q->cfg.store, b->m, b->n, b->res);
    uint64_t dt = q->cfg.now_ms(q->cfg.clock_ctx) - t0;
    pthread_mutex_lock(&q->mu);
    b->st = st;
    q->state = SLOT_DONE;
    q->stats.batches++;
    q->stats.items += b->n;
    if (st != KP_OK) q->stats.failed_batches++;
    q->stats.last_batch = b->n;
    if (b->n > q->stats.max_batch) q->stats.max_batch = b->n;
    q->stats.last_commit_ms = dt;
    if (dt > q->stats.max_commit_ms) q->stats.max_commit_ms = dt;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (q->cfg.wake) q->cfg.wake(q->cfg.wake_ctx);
    pthread_mutex_lock(&q->mu);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

static void buf_free(cq_buf_t *b) {
  free(b->m);
  free(b->tag);
  free(b->res);
}

kp_status_t kp_cq_new(const kp_cq_config_t *cfg, kp_cq_t **out) {
  if (!cfg || !cfg->store) return KP_ERR_INVAL;
  kp_cq_t *q = calloc(1, sizeof *q);
  if (!q) return KP_ERR_NOMEM;
  q->cfg = *cfg;
  if (!q->cfg.max_items) q->cfg.max_items = 8192;
  if (!q->cfg.max_bytes) q->cfg.max_bytes = (size_t)64 << 20;
  if (!q->cfg.now_ms) q->cfg.now_ms = mono_ms;
  bool ok = true;
  for (int i = 0; i < 2; i++) {
    cq_buf_t *b = &q->bufs[i];
    b->m = calloc(q->cfg.max_items, sizeof *b->m);
    b->tag = calloc(q->cfg.max_items, sizeof *b->tag);
    b->res = calloc(q->cfg.max_items, sizeof *b->res);
    ok = ok && b->m && b->tag && b->res;
  }
  q->gather = &q->bufs[0];
  q->slot = &q->bufs[1];
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  if (ok && pthread_create(&q->th, NULL, commit_thread, q) == 0) q->started = true;
  if (!q->started) {
    for (int i = 0; i < 2; i++) buf_free(&q->bufs[i]);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
    return ok ? KP_ERR_IO : KP_ERR_NOMEM;
  }
  *out = q;
  return KP_OK;
}

static void deliver(cq_buf_t *b, kp_status_t st, kp_cq_done_fn done, void *ctx) {
  for (size_t i = 0; i < b->n; i++) done(ctx, b->tag[i], st, &b->res[i]);
  b->n = b->bytes = 0;
}

void kp_cq_free(kp_cq_t *q, kp_cq_done_fn done, void *ctx) {
  if (!q) return;
  pthread_mutex_lock(&q->mu);
  q->stop = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->th, NULL); /* finishes a batch in commit first */
  if (q->state == SLOT_DONE) deliver(q->slot, q->slot->st, done, ctx);
  memset(q->gather->res, 0, q->gather->n * sizeof *q->gather->res);
  deliver(q->gather, KP_ERR_IO, done, ctx); /* never reached the store */
  for (int i = 0; i < 2; i++) buf_free(&q->bufs[i]);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  free(q);
}

bool kp_cq_full(const kp_cq_t *q, size_t body_len) {
  const cq_buf_t *g = q->gather;
  return g->n == q->cfg.max_items || (g->n > 0 && g->bytes + body_len > q->cfg.max_bytes);
}

kp_status_t kp_cq_add(kp_cq_t *q, const kp_store_msm_t *m, void *tag) {
  if (kp_cq_full(q, m->body_len)) return KP_ERR_RANGE;
  cq_buf_t *g = q->gather;
  g->m[g->n] = *m;
  g->tag[g->n] = tag;
  g->bytes += m->body_len;
  g->n++;
  return KP_OK;
}

size_t kp_cq_pump(kp_cq_t *q, kp_cq_done_fn done, void *ctx) {
  size_t nd = 0;
  pthread_mutex_lock(&q->mu);
  int state = q->state;
  pthread_mutex_unlock(&q->mu);
  if (state == SLOT_DONE) { /* the commit thread no longer touches the slot */
    nd = q->slot->n;
    deliver(q->slot, q->slot->st, done, ctx);
    state = SLOT_IDLE;
  }
  if (state == SLOT_IDLE) {
    pthread_mutex_lock(&q->mu);
    q->state = SLOT_IDLE;
    if (q->gather->n) {
      cq_buf_t *t = q->slot;
      q->slot = q->gather;
      q->gather = t;
      q->state = SLOT_COMMITTING;
      pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
  }
  return nd;
}

void kp_cq_drain(kp_cq_t *q, kp_cq_done_fn done, void *ctx) {
  for (;;) {
    pthread_mutex_lock(&q->mu);
    while (q->state == SLOT_COMMITTING) pthread_cond_wait(&q->cv, &q->mu);
    bool empty = q->state == SLOT_IDLE && q->gather->n == 0;
    pthread_mutex_unlock(&q->mu);
    if (empty) return;
    kp_cq_pump(q, done, ctx);
  }
}

size_t kp_cq_waiting(const kp_cq_t *q) {
  kp_cq_t *w = (kp_cq_t *)q; /* the lock is not part of the value */
  pthread_mutex_lock(&w->mu);
  size_t n = q->gather->n + (q->state != SLOT_IDLE ? q->slot->n : 0);
  pthread_mutex_unlock(&w->mu);
  return n;
}

void kp_cq_stats(const kp_cq_t *q, kp_cq_stats_t *out) {
  kp_cq_t *w = (kp_cq_t *)q;
  pthread_mutex_lock(&w->mu);
  *out = q->stats;
  pthread_mutex_unlock(&w->mu);
}
