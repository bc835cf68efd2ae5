/*
 * sched.c: which (host, job) may be sent now under the rate limiter (kp_rmt_sched_t).
 *
 * Each host has `per` jobs (its names) handed out in order. Hosts wait in a min-heap by the
 * time they are next worth asking the limiter about (ready). kp_rmt_sched_next pops the
 * earliest host; if its ready time has come it asks kp_rl_try (host AND AS bucket): granted ->
 * the host's next job is handed out and the host stays ready now (the limiter answers its next
 * wait); refused -> ready = now + the limiter's exact wait, and the next host is tried. So the
 * limiter alone decides what is sent (the cap stays exactly GCRA's: nothing is granted outside
 * kp_rl_try) and no permit is taken that is not used at once: the caller sends each job it is
 * handed. Hosts of one AS that are all waiting on the AS bucket wake together; one wins, the
 * others are re-armed with the AS's next slot, so a grant costs at most one try per such host;
 * ties go to the host with the most jobs left, which keeps the run as short as the binding cap
 * allows (tests/remote/test_remote.c: sched_hands_out_at_exactly_the_cap).
 */
#include <stdlib.h>
#include <string.h>

#include "remote/internal.h"

static void hswap(kp_rmt_sched_t *s, size_t i, size_t j) {
  size_t t = s->heap[i];
  s->heap[i] = s->heap[j];
  s->heap[j] = t;
}

/* Earlier ready first; on a tie the host with more jobs left (else one host whose ties are
 * always lost would be left alone at the end, its own interval then making the run longer). */
static bool before(const kp_rmt_sched_t *s, size_t a, size_t b) {
  if (s->ready[a] != s->ready[b]) return s->ready[a] < s->ready[b];
  if (s->next[a] != s->next[b]) return s->next[a] < s->next[b];
  return a < b;
}

static void down(kp_rmt_sched_t *s, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < s->nheap && before(s, s->heap[l], s->heap[m])) m = l;
    if (r < s->nheap && before(s, s->heap[r], s->heap[m])) m = r;
    if (m == i) return;
    hswap(s, i, m);
    i = m;
  }
}

kp_status_t kp_rmt_sched_init(kp_rmt_sched_t *s, kp_rl_t *rl, const kp_addr_t *addr, const uint32_t *asn,
                              const bool *skip, size_t nh, size_t per, int64_t now) {
  memset(s, 0, sizeof *s);
  s->rl = rl;
  s->per = per;
  s->addr = addr;
  s->asn = asn;
  s->next = calloc(nh ? nh : 1, sizeof *s->next);
  s->ready = calloc(nh ? nh : 1, sizeof *s->ready);
  s->heap = calloc(nh ? nh : 1, sizeof *s->heap);
  if (!s->next || !s->ready || !s->heap) {
    kp_rmt_sched_free(s);
    return KP_ERR_NOMEM;
  }
  for (size_t i = 0; i < nh && per; i++)
    if (!skip || !skip[i]) {
      s->ready[i] = now;
      s->heap[s->nheap++] = i; /* all equal: already a heap */
    }
  return KP_OK;
}

void kp_rmt_sched_free(kp_rmt_sched_t *s) {
  free(s->next);
  free(s->ready);
  free(s->heap);
  s->next = NULL;
  s->ready = NULL;
  s->heap = NULL;
}

int kp_rmt_sched_next(kp_rmt_sched_t *s, int64_t now, size_t *host, size_t *job, int64_t *wait_ns) {
  while (s->nheap) {
    size_t h = s->heap[0];
    if (s->ready[h] > now) {
      *wait_ns = s->ready[h] - now;
      return 0;
    }
    int64_t w = kp_rl_try(s->rl, &s->addr[h], s->asn[h]);
    if (w > 0) {
      s->ready[h] = now + w;
      down(s, 0);
      continue;
    }
    *host = h;
    *job = s->next[h]++;
    if (s->next[h] == s->per) /* done: drop from the heap */
      s->heap[0] = s->heap[--s->nheap];
    down(s, 0); /* fewer jobs left: it may lose a tie now */
    return 1;
  }
  return -1;
}
