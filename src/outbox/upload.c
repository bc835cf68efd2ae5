/*
 * upload.c: deliver pending outbox records to a collector over the control-plane client.
 *
 * Order: records go in seq order, in windows of up to cfg->batch lines (and batch_bytes). The
 * collector re-verifies hash, key and signature of every line. Idempotence: the collector dedups
 * by content hash and answers the uid it already holds, so a retry after a lost reply stores
 * nothing twice; only a 200 with a measurement_uid marks a record delivered (durably, acked.log).
 *
 * Per window:
 *
 *        +-------------------- mode BATCH ----------------------+
 *        | POST <prefix>/batch (all still-pending lines)        |
 *        |   200 + n results -> ack the 200s, drop the refused, |
 *        |                      keep 5xx/408/429 -> retry       |
 *        |   404/405/415/400 -> mode SINGLE for the rest of run |
 *        |   413             -> halve the window, resend        |
 *        |   no answer / 5xx -> retry                           |
 *        +------------------------------------------------------+
 *        mode SINGLE: POST <prefix>/submit per line, same result rules
 *   retry: attempt k waits kp_backoff_ms (full jitter), up to max_attempts per window or the
 *   run's deadline; then the run stops with the rest pending (KP_ERR_BUSY).
 *
 * Checkpoint: after the windows, one POST of the signed head of the delivered prefix to
 * <prefix>/head (head.c), so the collector can later tell a dropped tail from records never
 * sent; one attempt, the next run resends. Records acked by /batch and /submit alike land in
 * acked.log first, and the checkpoint covers exactly the delivered prefix (kp_outbox_checkpoint).
 * Not sent after a run where every attempt failed (the collector is unreachable: no second
 * timeout).
 *
 * Everything goes through one kp_httpc_t, so all requests of a run (checkpoint included) share
 * one kept-alive (TLS) connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "outbox/outbox.h"

#define DEF_BATCH 256
#define MAX_BATCH 1024
#define DEF_BATCH_BYTES ((size_t)4 << 20)

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

int kp_outbox_backoff_ms(const kp_upload_cfg_t *cfg, int k, uint32_t *rng) {
  kp_backoff_t b = {.base_ms = cfg->base_delay_ms, .cap_ms = cfg->max_delay_ms, .rng = *rng};
  int d = kp_backoff_ms(&b, k);
  *rng = b.rng;
  return d;
}

static void sleep_real(void *ctx, int ms) {
  (void)ctx;
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static bool uid_ok(const char *u) { return u && *u && strlen(u) < 128 && !strpbrk(u, " \n\r"); }

kp_status_t kp_upload_parse_batch(const void *p, size_t len, size_t n, int *status, char (*uid)[128], bool *dup) {
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {.max_depth = 8, .max_bytes = 8 * len + 65536};
  kp_status_t st = kp_json_parse(p, len, &lim, &doc, NULL);
  if (st != KP_OK) return st == KP_ERR_NOMEM ? st : KP_ERR_INVAL;
  const kp_json_t *res = kp_json_get(kp_json_root(doc), "results");
  st = kp_json_is(res, KP_JSON_ARRAY) && kp_json_len(res) == n ? KP_OK : KP_ERR_INVAL;
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    const kp_json_t *o = kp_json_at(res, i);
    int64_t s = 0;
    const char *u = kp_json_get_str(o, "measurement_uid");
    if (!kp_json_is(o, KP_JSON_OBJECT) || !kp_json_get_int(o, "status", &s) || s < 100 || s > 599) {
      st = KP_ERR_INVAL;
      break;
    }
    status[i] = (int)s;
    uid[i][0] = 0;
    if (s == 200) {
      if (!uid_ok(u)) {
        st = KP_ERR_INVAL;
        break;
      }
      strcpy(uid[i], u);
    }
    dup[i] = kp_json_truthy(kp_json_get(o, "duplicate"));
  }
  kp_json_doc_free(doc);
  return st;
}

typedef struct run {
  kp_outbox_t *ob;
  const kp_upload_cfg_t *cfg;
  kp_upload_stats_t *stats;
  char url_batch[2048], url_single[2048];
  kp_httpc_resp_t resp;
  kp_buf_t body;
  bool single;          /* the collector has no batch route */
  size_t window;        /* current batch size */
  /* per-window scratch */
  int *status;
  char (*uid)[128];
  bool *dup;
  char (*err)[160]; /* the collector's reason for a refused record ("" when none) */
} run_t;

/* the "error" of each of the @p n results of a batch answer (already checked by
 * kp_upload_parse_batch) into err[0..n), or (@p n == 0) of a single answer into err[at]: what
 * the probe's operator is told when a record is refused */
static void fill_errors(run_t *r, size_t n, size_t at) {
  kp_json_doc_t *doc = NULL;
  for (size_t i = 0; i < (n ? n : 1); i++) r->err[n ? i : at][0] = 0;
  if (kp_json_parse(r->resp.body.data, r->resp.body.len, NULL, &doc, NULL) != KP_OK) return;
  const kp_json_t *root = kp_json_root(doc), *res = n ? kp_json_get(root, "results") : NULL;
  for (size_t i = 0; i < (n ? n : 1); i++) {
    const char *e = kp_json_get_str(n ? kp_json_at(res, i) : root, "error");
    if (e) snprintf(r->err[n ? i : at], sizeof r->err[0], "%s", e);
  }
  kp_json_doc_free(doc);
}

enum { R_RETRY = 0, R_DONE = 1 }; /* result of one try on a window */

/* apply per-record outcomes of idx[0..m) (status/uid/dup filled); compacts idx to what stays to retry */
static kp_status_t apply(run_t *r, pending_t *v, size_t *idx, size_t *m) {
  uint64_t seqs[MAX_BATCH];
  const char *uids[MAX_BATCH];
  size_t nd = 0, keep = 0;
  for (size_t i = 0; i < *m; i++) {
    int s = r->status[i];
    if (s == 200) {
      seqs[nd] = v[idx[i]].seq, uids[nd] = r->uid[i], nd++;
      r->stats->delivered++;
      if (r->dup[i]) r->stats->duplicates++;
    } else if (s == 408 || s == 425 || s == 429 || s >= 500) {
      idx[keep++] = idx[i];
    } else {
      kp_log_warnx("upload", "seq %llu refused by the collector (HTTP %d)%s%s", (unsigned long long)v[idx[i]].seq, s,
                   r->err[i][0] ? ": " : "", r->err[i]);
      r->stats->rejected++;
    }
  }
  *m = keep;
  return nd ? kp_outbox_mark_delivered_many(r->ob, seqs, uids, nd) : KP_OK;
}

static kp_status_t try_single(run_t *r, pending_t *v, size_t *idx, size_t *m) {
  int tmo = r->cfg->timeout_ms > 0 ? r->cfg->timeout_ms : 10000;
  for (size_t i = 0; i < *m; i++) {
    kp_httpc_req_t q = {.method = "POST", .url = r->url_single, .body = v[idx[i]].line,
                        .body_len = v[idx[i]].len, .timeout_ms = tmo};
    r->stats->attempts++;
    r->stats->requests_single++;
    kp_status_t hs = kp_httpc_do(r->cfg->http, &q, &r->resp);
    r->uid[i][0] = 0;
    r->dup[i] = false;
    if (hs != KP_OK) {
      r->status[i] = 503; /* no answer: retry this and the rest later */
      for (size_t j = i + 1; j < *m; j++) r->status[j] = 503;
      break;
    }
    r->status[i] = r->resp.status;
    r->err[i][0] = 0;
    if (r->resp.status != 200) fill_errors(r, 0, i);
    if (r->resp.status == 200) {
      kp_json_doc_t *doc = NULL;
      const char *u = NULL;
      if (kp_json_parse(r->resp.body.data, r->resp.body.len, NULL, &doc, NULL) == KP_OK)
        u = kp_json_get_str(kp_json_root(doc), "measurement_uid");
      if (uid_ok(u)) {
        strcpy(r->uid[i], u);
        r->dup[i] = kp_json_truthy(kp_json_get(kp_json_root(doc), "duplicate"));
      } else {
        r->status[i] = 502; /* a 200 without a uid is not an ack */
      }
      kp_json_doc_free(doc);
    }
  }
  return apply(r, v, idx, m);
}

/* one try on the window; *m shrinks to the records still to retry */
static kp_status_t try_window(run_t *r, pending_t *v, size_t *idx, size_t *m) {
  if (r->single) return try_single(r, v, idx, m);
  kp_buf_reset(&r->body);
  for (size_t i = 0; i < *m; i++)
    if (kp_buf_append(&r->body, v[idx[i]].line, v[idx[i]].len) != KP_OK) return KP_ERR_NOMEM;
  kp_httpc_req_t q = {.method = "POST", .url = r->url_batch, .content_type = "application/x-ndjson",
                      .body = r->body.data, .body_len = r->body.len,
                      .timeout_ms = r->cfg->timeout_ms > 0 ? r->cfg->timeout_ms : 10000};
  r->stats->attempts++;
  r->stats->requests_batch++;
  kp_status_t hs = kp_httpc_do(r->cfg->http, &q, &r->resp);
  if (hs != KP_OK) {
    kp_log_debug("upload", "batch of %zu: %s", *m, r->resp.error);
    return KP_OK; /* nothing acked: retry the whole window */
  }
  int s = r->resp.status;
  if (s == 404 || s == 405 || s == 415 || s == 400) {
    kp_log_info("upload", "collector has no batch route (HTTP %d): one request per record", s);
    r->single = true;
    return try_single(r, v, idx, m);
  }
  if (s == 413 && *m > 1) {
    r->window = *m / 2;
    return KP_OK;
  }
  for (size_t i = 0; i < *m; i++) r->err[i][0] = 0;
  if (s != 200) {
    for (size_t i = 0; i < *m; i++) r->status[i] = s;
  } else if (kp_upload_parse_batch(r->resp.body.data, r->resp.body.len, *m, r->status, r->uid, r->dup) != KP_OK) {
    kp_log_warnx("upload", "malformed batch answer; retrying");
    for (size_t i = 0; i < *m; i++) r->status[i] = 502;
  } else {
    fill_errors(r, *m, 0);
  }
  return apply(r, v, idx, m);
}

/* the head of the delivered prefix; 200 = the collector holds 1..seq and keeps the head */
static void send_checkpoint(run_t *r, const char *pre, int pl) {
  kp_outbox_head_t h;
  if (kp_outbox_checkpoint(r->ob, true, &h) != KP_OK || h.seq == 0) return;
  const kp_upload_cfg_t *cfg = r->cfg;
  char url[2048];
  size_t ul = strlen(cfg->url);
  while (ul && cfg->url[ul - 1] == '/') ul--;
  int n = snprintf(url, sizeof url, "%.*s%.*s/head", (int)ul, cfg->url, pl, pre);
  if (n < 0 || (size_t)n >= sizeof url) return;
  kp_buf_t line;
  kp_buf_init(&line, 4096);
  if (kp_outbox_head_write(&h, &line) == KP_OK) {
    kp_httpc_req_t q = {.method = "POST", .url = url, .body = line.data, .body_len = line.len,
                        .timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000};
    if (kp_httpc_do(cfg->http, &q, &r->resp) != KP_OK)
      kp_log_debug("upload", "head checkpoint at seq %llu: %s", (unsigned long long)h.seq, r->resp.error);
    else if (r->resp.status == 200)
      r->stats->checkpoint_seq = h.seq;
    else
      kp_log_warnx("upload", "collector refused the head checkpoint at seq %llu (%d): %s", (unsigned long long)h.seq,
                   r->resp.status, kp_buf_str(&r->resp.body));
  }
  kp_buf_free(&line);
}

kp_status_t kp_outbox_upload(kp_outbox_t *ob, const kp_upload_cfg_t *cfg, kp_upload_stats_t *stats) {
  memset(stats, 0, sizeof *stats);
  if (!cfg->http || !cfg->url) return KP_ERR_INVAL;
  const kp_clock_t *clk = cfg->clock ? cfg->clock : kp_clock_system();
  void (*sleep_fn)(void *, int) = cfg->sleep_ms ? cfg->sleep_ms : sleep_real;
  run_t r = {.ob = ob, .cfg = cfg, .stats = stats};
  const char *pre = cfg->path_prefix ? cfg->path_prefix : KP_UPLOAD_DEFAULT_PREFIX;
  size_t ul = strlen(cfg->url);
  while (ul && cfg->url[ul - 1] == '/') ul--;
  size_t pl = strlen(pre);
  while (pl && pre[pl - 1] == '/') pl--;
  if (ul + pl + 16 > sizeof r.url_batch || (pl && pre[0] != '/')) return KP_ERR_INVAL;
  snprintf(r.url_batch, sizeof r.url_batch, "%.*s%.*s/batch", (int)ul, cfg->url, (int)pl, pre);
  snprintf(r.url_single, sizeof r.url_single, "%.*s%.*s/submit", (int)ul, cfg->url, (int)pl, pre);
  int bmax = cfg->batch > 0 ? (cfg->batch > MAX_BATCH ? MAX_BATCH : cfg->batch) : DEF_BATCH;
  size_t bbytes = cfg->batch_bytes ? cfg->batch_bytes : DEF_BATCH_BYTES;
  r.single = bmax == 1;
  r.window = (size_t)bmax;
  collect_t c = {0};
  kp_status_t st = kp_outbox_list(ob, collect_cb, &c);
  if (st == KP_OK) st = c.st;
  kp_httpc_resp_init(&r.resp);
  kp_buf_init(&r.body, bbytes + ((size_t)1 << 20));
  r.status = calloc(MAX_BATCH, sizeof *r.status);
  r.uid = calloc(MAX_BATCH, sizeof *r.uid);
  r.dup = calloc(MAX_BATCH, sizeof *r.dup);
  r.err = calloc(MAX_BATCH, sizeof *r.err);
  size_t *idx = calloc(MAX_BATCH, sizeof *idx);
  if (st == KP_OK && (!r.status || !r.uid || !r.dup || !r.err || !idx)) st = KP_ERR_NOMEM;
  uint32_t rng = cfg->seed ? cfg->seed : (uint32_t)kp_now_mono(clk) ^ 0xa5a5a5a5u;
  int max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 8;
  int64_t start = kp_now_mono(clk);
#define ELAPSED_MS() ((kp_now_mono(clk) - start) / 1000000)
  size_t next = 0;
  while (st == KP_OK && next < c.n) {
    /* the window: up to r.window records and bbytes bytes (at least one record) */
    size_t m = 0, bytes = 0;
    while (next + m < c.n && m < r.window && (m == 0 || bytes + c.v[next + m].len <= bbytes)) {
      bytes += c.v[next + m].len;
      idx[m] = next + m;
      m++;
    }
    size_t span = m;
    int k = 0;
    bool gave_up = false;
    for (;;) {
      size_t before = r.window;
      st = try_window(&r, c.v, idx, &m);
      if (st != KP_OK || m == 0) break;
      if (r.window < before) { /* 413: shrink and resend this window from its start */
        span = 0;
        m = 0;
        break;
      }
      if (++k >= max_attempts || (cfg->deadline_ms > 0 && ELAPSED_MS() >= cfg->deadline_ms)) {
        gave_up = true;
        break;
      }
      int d = kp_outbox_backoff_ms(cfg, k - 1, &rng);
      if (cfg->deadline_ms > 0 && ELAPSED_MS() + d > cfg->deadline_ms)
        d = (int)(cfg->deadline_ms - ELAPSED_MS()) + 1;
      sleep_fn(cfg->sleep_ctx, d);
    }
    if (gave_up) break;
    next += span;
  }
#undef ELAPSED_MS
  /* not after a run where every attempt failed: the collector is unreachable, don't wait again */
  if (st == KP_OK && (stats->delivered || c.n == 0)) send_checkpoint(&r, pre, (int)pl);
  for (size_t j = 0; j < c.n; j++) free(c.v[j].line);
  free(c.v);
  free(r.status);
  free(r.uid);
  free(r.dup);
  free(r.err);
  free(idx);
  kp_buf_free(&r.body);
  kp_httpc_resp_free(&r.resp);
  stats->remaining = kp_outbox_pending(ob);
  if (st == KP_OK && stats->remaining) st = KP_ERR_BUSY;
  return st;
}
