/*
 * median.c: sliding-window nearest-rank median in O(log w) per push.
 *
 * The window is a ring of w slots. Each live slot sits in one of two indexed
 * binary heaps: `lo` (max-heap, the smaller half) or `hi` (min-heap). Every
 * slot records its heap and position, so the oldest slot can be deleted from
 * the middle of its heap when the ring wraps.
 *
 * Invariants after every push:
 *   |lo| == ceil(count / 2), |hi| == floor(count / 2), max(lo) <= min(hi).
 * Hence the nearest-rank median (rank ceil(count/2) of the sorted window, the
 * one watchtower-sentry's MovingStat uses) is the top of `lo`.
 * NaN is never pushed (callers skip missing bins).
 */
#include <math.h>
#include <stdlib.h>

#include "detect/detect.h"

struct kp_median {
  size_t w, count, head; /* head: next slot to write (the oldest when full) */
  double *val;
  unsigned char *which;  /* 0 lo, 1 hi */
  size_t *pos;           /* position in its heap */
  size_t *heap[2];
  size_t hn[2];
};

kp_status_t kp_median_new(size_t window, kp_median_t **out) {
  if (window == 0) return KP_ERR_INVAL;
  kp_median_t *m = calloc(1, sizeof *m);
  if (!m) return KP_ERR_NOMEM;
  m->w = window;
  m->val = malloc(window * sizeof *m->val);
  m->which = malloc(window);
  m->pos = malloc(window * sizeof *m->pos);
  m->heap[0] = malloc(window * sizeof(size_t));
  m->heap[1] = malloc(window * sizeof(size_t));
  if (!m->val || !m->which || !m->pos || !m->heap[0] || !m->heap[1]) {
    kp_median_free(m);
    return KP_ERR_NOMEM;
  }
  *out = m;
  return KP_OK;
}

void kp_median_free(kp_median_t *m) {
  if (!m) return;
  free(m->val); free(m->which); free(m->pos); free(m->heap[0]); free(m->heap[1]);
  free(m);
}

void kp_median_clear(kp_median_t *m) { m->count = m->head = m->hn[0] = m->hn[1] = 0; }
size_t kp_median_count(const kp_median_t *m) { return m->count; }
double kp_median_get(const kp_median_t *m) { return m->hn[0] ? m->val[m->heap[0][0]] : NAN; }

/* heap h orders by "a before b": lo = larger first, hi = smaller first */
static inline bool before(const kp_median_t *m, int h, size_t a, size_t b) {
  return h == 0 ? m->val[a] > m->val[b] : m->val[a] < m->val[b];
}

static inline void put(kp_median_t *m, int h, size_t i, size_t slot) {
  m->heap[h][i] = slot;
  m->pos[slot] = i;
  m->which[slot] = (unsigned char)h;
}

static void sift_up(kp_median_t *m, int h, size_t i) {
  size_t s = m->heap[h][i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before(m, h, s, m->heap[h][p])) break;
    put(m, h, i, m->heap[h][p]);
    i = p;
  }
  put(m, h, i, s);
}

static void sift_down(kp_median_t *m, int h, size_t i) {
  size_t n = m->hn[h], s = m->heap[h][i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(m, h, m->heap[h][c + 1], m->heap[h][c])) c++;
    if (!before(m, h, m->heap[h][c], s)) break;
    put(m, h, i, m->heap[h][c]);
    i = c;
  }
  put(m, h, i, s);
}

static void heap_push(kp_median_t *m, int h, size_t slot) {
  put(m, h, m->hn[h]++, slot);
  sift_up(m, h, m->hn[h] - 1);
}

static size_t heap_pop(kp_median_t *m, int h) {
  size_t top = m->heap[h][0];
  size_t last = m->heap[h][--m->hn[h]];
  if (m->hn[h]) {
    put(m, h, 0, last);
    sift_down(m, h, 0);
  }
  return top;
}

static void heap_remove(kp_median_t *m, size_t slot) {
  int h = m->which[slot];
  size_t i = m->pos[slot];
  size_t last = m->heap[h][--m->hn[h]];
  if (i == m->hn[h]) return; /* removed the last element */
  put(m, h, i, last);
  sift_up(m, h, i);
  sift_down(m, h, m->pos[last]);
}

void kp_median_push(kp_median_t *m, double x) {
  size_t slot = m->head;
  if (m->count == m->w) heap_remove(m, slot);
  else m->count++;
  m->head = (m->head + 1) % m->w;
  m->val[slot] = x;
  /* order-preserving placement: <= max(lo) -> lo; >= min(hi) -> hi; in between -> lo */
  if (m->hn[0] && x <= m->val[m->heap[0][0]]) heap_push(m, 0, slot);
  else if (m->hn[1] && x >= m->val[m->heap[1][0]]) heap_push(m, 1, slot);
  else heap_push(m, 0, slot);
  /* rebalance: lo holds ceil(count/2) */
  size_t want = (m->count + 1) / 2;
  while (m->hn[0] > want) heap_push(m, 1, heap_pop(m, 0));
  while (m->hn[0] < want) heap_push(m, 0, heap_pop(m, 1));
}
