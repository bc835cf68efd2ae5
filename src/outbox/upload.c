/*
 * upload.c: deliver pending outbox records to a collector.
 *
 * Order: records go in seq order, one POST each to /api/v1/keepon/submit with
 * the record line as the body (the collector re-verifies hash, key and
 * signature). Idempotence: the collector dedups by content hash and answers
 * the uid it already holds, so a retry after a lost reply stores nothing
 * twice; only a 200 with a measurement_uid marks a record delivered (durably,
 * acked.log). Checkpoint: after the records, one POST of the signed head of the
 * delivered prefix to /api/v1/keepon/head (head.c), so the collector can later
 * tell a dropped tail from records never sent; one attempt, the next run resends.
 * Backoff: attempt k waits uniform[0, min(max, base * 2^k)] ms
 * ("full jitter"), so many probes coming back online at once spread out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "outbox/outbox.h"

typedef struct pending {
  uint64_t seq;
  char *line;
  size_t len;
} pending_t;

typedef struct collect {
  pending_t *v;
  size_t n, cap;
  kp_status_t st;
} collect_t;

static int collect_cb(void *ctx, const kp_outbox_rec_t *r, const char *uid) {
  collect_t *c = ctx;
  if (uid) return 0;
  kp_buf_t b;
  kp_buf_init(&b, r->msm_len * 6 + 4096);
  if (kp_outbox_rec_write(r, &b) != KP_OK) {
    kp_buf_free(&b);
    c->st = KP_ERR_NOMEM;
    return 1;
  }
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    pending_t *g = realloc(c->v, c->cap * sizeof *g);
    if (!g) {
      kp_buf_free(&b);
      c->st = KP_ERR_NOMEM;
      return 1;
    }
    c->v = g;
  }
  c->v[c->n].seq = r->seq;
  c->v[c->n].len = b.len;
  c->v[c->n].line = kp_buf_steal(&b);
  c->n++;
  return 0;
}

static uint32_t xorshift(uint32_t *s) {
  uint32_t x = *s ? *s : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

int kp_outbox_backoff_ms(const kp_upload_cfg_t *cfg, int k, uint32_t *rng) {
  int64_t base = cfg->base_delay_ms > 0 ? cfg->base_delay_ms : 500;
  int64_t cap = cfg->max_delay_ms > 0 ? cfg->max_delay_ms : 60000;
  int64_t d = base;
  for (int i = 0; i < k && d < cap; i++) d *= 2;
  if (d > cap) d = cap;
  return (int)(xorshift(rng) % (uint32_t)(d + 1));
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* one attempt: 1 delivered, 0 retry later, -1 refused by the collector */
static int submit(const kp_upload_cfg_t *cfg, const pending_t *p, char uid[128], bool *dup) {
  kp_buf_t resp;
  kp_buf_init(&resp, 64 * 1024);
  int status = 0, ret = 0;
  kp_status_t st = kp_outbox_http_request(cfg->url, "POST", "/api/v1/keepon/submit", "application/json", p->line,
                                   p->len, cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000, &status, &resp);
  if (st != KP_OK) {
    kp_log_debug("upload", "seq %llu: %s", (unsigned long long)p->seq, kp_strstatus(st));
  } else if (status == 200) {
    kp_json_doc_t *doc = NULL;
    if (kp_json_parse(resp.data, resp.len, NULL, &doc, NULL) == KP_OK) {
      const char *u = kp_json_get_str(kp_json_root(doc), "measurement_uid");
      if (u && strlen(u) < 128 && !strchr(u, ' ')) {
        strcpy(uid, u);
        *dup = kp_json_truthy(kp_json_get(kp_json_root(doc), "duplicate"));
        ret = 1;
      }
    }
    kp_json_doc_free(doc);
  } else if (status >= 400 && status < 500 && status != 408 && status != 429) {
    kp_log_warnx("upload", "seq %llu refused by the collector (%d): %s", (unsigned long long)p->seq, status,
                 kp_buf_str(&resp));
    ret = -1;
  } else {
    kp_log_debug("upload", "seq %llu: HTTP %d", (unsigned long long)p->seq, status);
  }
  kp_buf_free(&resp);
  return ret;
}

/* the head of the delivered prefix; 200 = the collector holds 1..seq and keeps the head */
static void send_checkpoint(kp_outbox_t *ob, const kp_upload_cfg_t *cfg, kp_upload_stats_t *stats) {
  kp_outbox_head_t h;
  if (kp_outbox_checkpoint(ob, true, &h) != KP_OK || h.seq == 0) return;
  kp_buf_t line, resp;
  kp_buf_init(&line, 4096);
  kp_buf_init(&resp, 64 * 1024);
  int status = 0;
  if (kp_outbox_head_write(&h, &line) == KP_OK &&
      kp_outbox_http_request(cfg->url, "POST", "/api/v1/keepon/head", "application/json", line.data, line.len,
                             cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000, &status, &resp) == KP_OK) {
    if (status == 200) stats->checkpoint_seq = h.seq;
    else
      kp_log_warnx("upload", "collector refused the head checkpoint at seq %llu (%d): %s", (unsigned long long)h.seq,
                   status, kp_buf_str(&resp));
  }
  kp_buf_free(&line);
  kp_buf_free(&resp);
}

kp_status_t kp_outbox_upload(kp_outbox_t *ob, const kp_upload_cfg_t *cfg, kp_upload_stats_t *stats) {
  memset(stats, 0, sizeof *stats);
  collect_t c = {0};
  kp_status_t st = kp_outbox_list(ob, collect_cb, &c);
  if (st == KP_OK) st = c.st;
  uint32_t rng = cfg->seed ? cfg->seed : (uint32_t)mono_ms() ^ 0xa5a5a5a5u;
  int max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 8;
  int64_t start = mono_ms();
  size_t i = 0;
  for (; st == KP_OK && i < c.n; i++) {
    int k = 0;
    for (;;) {
      char uid[128];
      bool dup = false;
      stats->attempts++;
      int r = submit(cfg, &c.v[i], uid, &dup);
      if (r == 1) {
        st = kp_outbox_mark_delivered(ob, c.v[i].seq, uid);
        stats->delivered++;
        if (dup) stats->duplicates++;
        break;
      }
      if (r < 0) {
        stats->rejected++;
        break;
      }
      if (++k >= max_attempts || (cfg->deadline_ms > 0 && mono_ms() - start >= cfg->deadline_ms)) goto out;
      int d = kp_outbox_backoff_ms(cfg, k - 1, &rng);
      if (cfg->deadline_ms > 0 && mono_ms() - start + d > cfg->deadline_ms)
        d = (int)(cfg->deadline_ms - (mono_ms() - start)) + 1;
      sleep_ms(d);
    }
  }
out:
  /* not after a run where every attempt failed: the collector is unreachable, don't wait again */
  if (stats->delivered || c.n == 0) send_checkpoint(ob, cfg, stats);
  for (size_t j = 0; j < c.n; j++) free(c.v[j].line);
  free(c.v);
  stats->remaining = kp_outbox_pending(ob);
  if (st == KP_OK && stats->remaining) st = KP_ERR_BUSY;
  return st;
}
