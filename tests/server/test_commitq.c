/*
 * test_commitq.c: the collector's commit pipeline (src/server/commitq.c) against a fake store
 * whose commits the test holds and releases (a gate), fails on demand, and whose clock it owns:
 * batches grow while a commit is slow, a failed batch answers every waiting client 503 and
 * none 2xx, no measurement is answered before its batch returned, none twice, none lost.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kp_test.h"
#include "server/collector_internal.h"
#include "server/commitq.h"

#define NMAX 40000

typedef struct fake {
  struct kp_store base;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int permits;          /* put_batch calls allowed to proceed; -1: any */
  int entered, returned;
  bool fail;
  int stored[NMAX];     /* rows per content hash (the hash is the item number) */
  size_t sizes[4096];   /* batch sizes, in order */
  size_t nbatches;
  uint64_t clock_ms, commit_cost_ms;
  int wakes;
  bool jitter;
} fake_t;

static kp_status_t fake_put(kp_store_t *b, const kp_store_msm_t *m, size_t n, kp_store_put_result_t *res) {
  fake_t *f = (fake_t *)b;
  pthread_mutex_lock(&f->mu);
  f->entered++;
  pthread_cond_broadcast(&f->cv);
  while (f->permits == 0) pthread_cond_wait(&f->cv, &f->mu);
  if (f->permits > 0) f->permits--;
  if (f->nbatches < 4096) f->sizes[f->nbatches] = n;
  f->nbatches++;
  bool fail = f->fail, jit = f->jitter;
  pthread_mutex_unlock(&f->mu);
  if (jit) usleep((useconds_t)(rand() % 3000));
  kp_status_t st = fail ? KP_ERR_IO : KP_OK;
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; !fail && i < n; i++) {
    int h = atoi(m[i].content_hash);
    res[i].status = KP_OK;
    res[i].inserted = f->stored[h] == 0; /* the backend's dedup: a known hash stores nothing */
    if (res[i].inserted) f->stored[h]++;
    snprintf(res[i].uid, sizeof res[i].uid, "uid-%d", h);
  }
  f->clock_ms += f->commit_cost_ms;
  f->returned++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  return st;
}
static const kp_store_ops_t fake_ops = {.name = "fake", .put_batch = fake_put};

static uint64_t fake_now(void *ctx) {
  fake_t *f = ctx;
  pthread_mutex_lock(&f->mu);
  uint64_t t = f->clock_ms;
  pthread_mutex_unlock(&f->mu);
  return t;
}
static void fake_wake(void *ctx) {
  fake_t *f = ctx;
  pthread_mutex_lock(&f->mu);
  f->wakes++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}
static fake_t *fake_new(void) {
  fake_t *f = calloc(1, sizeof *f);
  f->base.ops = &fake_ops;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  return f;
}
static void fake_free(fake_t *f) {
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f);
}
static void release(fake_t *f, int n) {
  pthread_mutex_lock(&f->mu);
  f->permits = n < 0 ? -1 : f->permits + n;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}
static void wait_wakes(fake_t *f, int n) {
  pthread_mutex_lock(&f->mu);
  while (f->wakes < n) pthread_cond_wait(&f->cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
}
static void wait_entered(fake_t *f, int n) {
  pthread_mutex_lock(&f->mu);
  while (f->entered < n) pthread_cond_wait(&f->cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
}

/* one client's measurement: its hash names the content, answers are counted per item */
typedef struct item {
  char hash[16];
  kp_store_msm_t m;
  int answers;
  kp_status_t st;
  bool inserted;
  int stored_when_answered; /* the fake's rows for this hash at the answer */
} item_t;

typedef struct ctx {
  fake_t *f;
  int delivered;
} ctx_t;

static void on_done(void *cx, void *tag, kp_status_t st, const kp_store_put_result_t *r) {
  ctx_t *c = cx;
  item_t *it = tag;
  it->answers++;
  it->st = st;
  it->inserted = st == KP_OK && r->inserted;
  pthread_mutex_lock(&c->f->mu);
  it->stored_when_answered = c->f->stored[atoi(it->hash)];
  pthread_mutex_unlock(&c->f->mu);
  c->delivered++;
}

static item_t *items_new(int n, int first_hash) {
  item_t *v = calloc((size_t)n, sizeof *v);
  for (int i = 0; i < n; i++) {
    snprintf(v[i].hash, sizeof v[i].hash, "%d", first_hash + i);
    v[i].m = (kp_store_msm_t){.content_hash = v[i].hash, .body = "{}", .body_len = 2, .seq = -1};
  }
  return v;
}

static kp_cq_t *cq_new(fake_t *f, size_t max_items, size_t max_bytes) {
  kp_cq_config_t qc = {.store = &f->base, .max_items = max_items, .max_bytes = max_bytes, .wake = fake_wake,
                       .wake_ctx = f, .now_ms = fake_now, .clock_ctx = f};
  kp_cq_t *q = NULL;
  return kp_cq_new(&qc, &q) == KP_OK ? q : NULL;
}

KP_TEST(batches_grow_while_a_commit_is_slow) {
  fake_t *f = fake_new();
  f->commit_cost_ms = 250;
  kp_cq_t *q = cq_new(f, 1000, 0);
  KP_ASSERT(q != NULL);
  ctx_t c = {.f = f};
  item_t *a = items_new(1, 0), *b = items_new(300, 1);
  KP_ASSERT_OK(kp_cq_add(q, &a[0].m, &a[0]));
  KP_ASSERT_EQ(kp_cq_pump(q, on_done, &c), 0u); /* batch 1 handed over, held at the gate */
  wait_entered(f, 1);
  for (int i = 0; i < 300; i++) KP_ASSERT_OK(kp_cq_add(q, &b[i].m, &b[i])); /* the loop keeps gathering */
  for (int k = 0; k < 5; k++) KP_ASSERT_EQ(kp_cq_pump(q, on_done, &c), 0u); /* nothing answered: not stored yet */
  KP_ASSERT_EQ(a[0].answers, 0);
  KP_ASSERT_EQ(kp_cq_waiting(q), 301u);
  release(f, 1);
  wait_wakes(f, 1);
  KP_ASSERT_EQ(kp_cq_pump(q, on_done, &c), 1u); /* batch 1 answered, the 300 handed over as one batch */
  KP_ASSERT_EQ(a[0].answers, 1);
  KP_ASSERT_EQ(a[0].stored_when_answered, 1);
  KP_ASSERT_EQ(b[0].answers, 0);
  release(f, -1);
  kp_cq_drain(q, on_done, &c);
  KP_ASSERT_EQ(c.delivered, 301);
  KP_ASSERT_EQ(f->nbatches, 2u);
  KP_ASSERT_EQ(f->sizes[0], 1u);
  KP_ASSERT_EQ(f->sizes[1], 300u); /* the batch followed what arrived during the slow commit */
  for (int i = 0; i < 300; i++) {
    KP_ASSERT_EQ(b[i].answers, 1);
    KP_ASSERT_EQ(b[i].st, KP_OK);
    KP_ASSERT(b[i].inserted);
    KP_ASSERT_EQ(b[i].stored_when_answered, 1);
  }
  kp_cq_stats_t s;
  kp_cq_stats(q, &s);
  KP_ASSERT_EQ(s.batches, 2u);
  KP_ASSERT_EQ(s.items, 301u);
  KP_ASSERT_EQ(s.max_batch, 300u);
  KP_ASSERT_EQ(s.last_commit_ms, 250u); /* timed on the injected clock */
  kp_cq_free(q, on_done, &c);
  KP_ASSERT_EQ(c.delivered, 301);
  free(a), free(b), fake_free(f);
}

KP_TEST(failed_batch_answers_every_waiting_client_503) {
  fake_t *f = fake_new();
  kp_cq_t *q = cq_new(f, 1000, 0);
  ctx_t c = {.f = f};
  item_t *v = items_new(50, 100);
  f->fail = true;
  release(f, -1);
  for (int i = 0; i < 20; i++) KP_ASSERT_OK(kp_cq_add(q, &v[i].m, &v[i]));
  kp_cq_pump(q, on_done, &c);
  for (int i = 20; i < 50; i++) KP_ASSERT_OK(kp_cq_add(q, &v[i].m, &v[i])); /* a second failing batch */
  kp_cq_drain(q, on_done, &c);
  KP_ASSERT_EQ(c.delivered, 50);
  int n503 = 0, n2xx = 0;
  for (int i = 0; i < 50; i++) {
    KP_ASSERT_EQ(v[i].answers, 1);
    KP_ASSERT(v[i].st != KP_OK);
    kp_srv_resp_t r = {.status = 200};
    kp_buf_init(&r.body, 4096);
    r.deferred = true;
    kp_store_put_result_t none = {0};
    kp_collector_answer(&r, v[i].st, &none);
    n503 += r.status == 503;
    n2xx += r.status / 100 == 2;
    KP_ASSERT(!r.deferred);
    kp_buf_free(&r.body);
    KP_ASSERT_EQ(f->stored[100 + i], 0);
  }
  KP_ASSERT_EQ(n503, 50);
  KP_ASSERT_EQ(n2xx, 0);
  /* the clients retry: every measurement is stored once, and a second retry is a duplicate */
  f->fail = false;
  for (int round = 0; round < 2; round++) {
    memset(&c, 0, sizeof c), c.f = f;
    for (int i = 0; i < 50; i++) {
      v[i].answers = 0;
      KP_ASSERT_OK(kp_cq_add(q, &v[i].m, &v[i]));
    }
    kp_cq_drain(q, on_done, &c);
    for (int i = 0; i < 50; i++) {
      KP_ASSERT_EQ(v[i].answers, 1);
      KP_ASSERT_EQ(v[i].st, KP_OK);
      KP_ASSERT_EQ(v[i].inserted, round == 0);
      KP_ASSERT_EQ(f->stored[100 + i], 1);
    }
  }
  kp_cq_stats_t s;
  kp_cq_stats(q, &s);
  KP_ASSERT_EQ(s.failed_batches, 2u);
  kp_cq_free(q, on_done, &c);
  free(v), fake_free(f);
}

KP_TEST(a_retry_during_the_commit_is_a_duplicate_not_a_second_row) {
  fake_t *f = fake_new();
  kp_cq_t *q = cq_new(f, 1000, 0);
  ctx_t c = {.f = f};
  item_t *first = items_new(1, 7), *retry = items_new(1, 7); /* same content, a second request */
  KP_ASSERT_OK(kp_cq_add(q, &first[0].m, &first[0]));
  kp_cq_pump(q, on_done, &c);
  wait_entered(f, 1);
  KP_ASSERT_OK(kp_cq_add(q, &retry[0].m, &retry[0])); /* the client timed out and re-sent */
  release(f, -1);
  kp_cq_drain(q, on_done, &c);
  KP_ASSERT_EQ(first[0].answers, 1);
  KP_ASSERT_EQ(retry[0].answers, 1);
  KP_ASSERT(first[0].inserted);
  KP_ASSERT(!retry[0].inserted); /* batches are serial: the second sees the first */
  KP_ASSERT_EQ(f->stored[7], 1);
  kp_cq_free(q, on_done, &c);
  free(first), free(retry), fake_free(f);
}

KP_TEST(gathering_caps_items_and_bytes) {
  fake_t *f = fake_new();
  kp_cq_t *q = cq_new(f, 4, 10);
  ctx_t c = {.f = f};
  item_t *v = items_new(6, 0);
  for (int i = 0; i < 4; i++) v[i].m.body_len = 2;
  for (int i = 0; i < 4; i++) KP_ASSERT_OK(kp_cq_add(q, &v[i].m, &v[i])); /* 8 bytes */
  KP_ASSERT(kp_cq_full(q, 1));
  KP_ASSERT_EQ(kp_cq_add(q, &v[4].m, &v[4]), KP_ERR_RANGE);
  release(f, -1);
  kp_cq_drain(q, on_done, &c);
  KP_ASSERT(!kp_cq_full(q, 2));
  v[4].m.body_len = 9;
  KP_ASSERT_OK(kp_cq_add(q, &v[4].m, &v[4]));
  KP_ASSERT(kp_cq_full(q, 2)); /* 9 + 2 > 10 bytes */
  KP_ASSERT(!kp_cq_full(q, 1));
  v[5].m.body_len = 50;
  kp_cq_drain(q, on_done, &c);
  KP_ASSERT(!kp_cq_full(q, 50)); /* one item alone may exceed the byte cap (the server caps bodies) */
  KP_ASSERT_OK(kp_cq_add(q, &v[5].m, &v[5]));
  kp_cq_drain(q, on_done, &c);
  KP_ASSERT_EQ(c.delivered, 6);
  kp_cq_free(q, on_done, &c);
  free(v), fake_free(f);
}

KP_TEST(free_answers_what_is_left) {
  fake_t *f = fake_new();
  kp_cq_t *q = cq_new(f, 100, 0);
  ctx_t c = {.f = f};
  item_t *v = items_new(8, 200);
  for (int i = 0; i < 3; i++) KP_ASSERT_OK(kp_cq_add(q, &v[i].m, &v[i]));
  kp_cq_pump(q, on_done, &c);
  wait_entered(f, 1);
  for (int i = 3; i < 8; i++) KP_ASSERT_OK(kp_cq_add(q, &v[i].m, &v[i]));
  release(f, 1); /* the batch in commit finishes; the gathered five never reach the store */
  kp_cq_free(q, on_done, &c);
  KP_ASSERT_EQ(c.delivered, 8);
  for (int i = 0; i < 8; i++) {
    KP_ASSERT_EQ(v[i].answers, 1);
    KP_ASSERT_EQ(v[i].st == KP_OK, i < 3);
    KP_ASSERT_EQ(f->stored[200 + i], i < 3);
  }
  free(v), fake_free(f);
}

/* many items, a jittery store, the loop adding and pumping as a server would */
KP_TEST(stress_each_item_answered_once_after_it_was_stored) {
  fake_t *f = fake_new();
  f->jitter = true;
  release(f, -1);
  kp_cq_t *q = cq_new(f, 512, 0);
  ctx_t c = {.f = f};
  int n = 20000;
  item_t *v = items_new(n, 0);
  srand(3);
  for (int i = 0; i < n; i++) {
    if (kp_cq_full(q, 2)) kp_cq_drain(q, on_done, &c);
    KP_ASSERT_OK(kp_cq_add(q, &v[i].m, &v[i]));
    if (i % 7 == 0) kp_cq_pump(q, on_done, &c);
  }
  kp_cq_drain(q, on_done, &c);
  KP_ASSERT_EQ(c.delivered, n);
  for (int i = 0; i < n; i++) {
    KP_ASSERT_EQ(v[i].answers, 1);
    KP_ASSERT_EQ(v[i].stored_when_answered, 1);
  }
  kp_cq_stats_t s;
  kp_cq_stats(q, &s);
  KP_ASSERT(s.batches < (uint64_t)n / 7); /* gathered, not one commit per pump */
  KP_ASSERT(s.max_batch > 7);
  kp_cq_free(q, on_done, &c);
  free(v), fake_free(f);
}

KP_TEST(answer_maps_results_to_status) {
  kp_srv_resp_t r = {0};
  kp_buf_init(&r.body, 4096);
  kp_store_put_result_t res = {.status = KP_OK, .inserted = true};
  snprintf(res.uid, sizeof res.uid, "20260101_IT_webconnectivity_x");
  kp_collector_answer(&r, KP_OK, &res);
  KP_ASSERT_EQ(r.status, 200);
  KP_ASSERT(strstr(kp_buf_str(&r.body), "20260101_IT_webconnectivity_x") != NULL);
  KP_ASSERT(strstr(kp_buf_str(&r.body), "duplicate") == NULL);
  res.inserted = false;
  kp_collector_answer(&r, KP_OK, &res);
  KP_ASSERT(strstr(kp_buf_str(&r.body), "\"duplicate\":true") != NULL);
  res.status = KP_ERR_EXISTS;
  kp_collector_answer(&r, KP_OK, &res);
  KP_ASSERT_EQ(r.status, 409);
  res.status = KP_OK;
  kp_collector_answer(&r, KP_ERR_IO, &res);
  KP_ASSERT_EQ(r.status, 503);
  kp_buf_free(&r.body);
}
