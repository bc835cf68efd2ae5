/*
 * watch_vantage.c: `keepon watch --vantage ID --collector URL`: each round's block states go
 * to the collector's POST /api/v1/watch/blocks (admin token, docs/serve.md "Vantages").
 *
 * A round's body is built while the engine reports its blocks and queued when the round ends;
 * the queue (oldest first, at most VQ_MAX rounds) is sent after every round over one kept-alive
 * connection. A failed send keeps the round for the next try, so a vantage whose reporting path
 * was down delivers its rounds late (the collector merges any round still in its window); a 4xx
 * answer is final for that round (logged, dropped). All the sending after one round shares one
 * budget, a third of a round (at most 10 s): each request gets what is left of it as its timeout
 * and what the budget does not cover waits for the next round (also a request the rest of the
 * budget cut short: that is the budget, not a failing collector, so nothing is warned). So neither a dead collector nor a
 * slow one with a long queue holds the probing past its next round's send window (the engine
 * would skip that round: see kp_watch_round). kp_cli_vant_close tries everything once more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "cli/cli.h"
#include "cli/watch_vantage.h"
#include "httpc/httpc.h"

kp_status_t kp_cli_vant_open(kp_cli_vant_t *v, const kp_cli_httpc_t *hv, const char *vantage, const char *collector,
                             const char *token_file, const kp_wuniv_t *u, double round_s) {
  memset(v, 0, sizeof *v);
  v->vantage = vantage;
  v->u = u;
  size_t cl = strlen(collector);
  while (cl && collector[cl - 1] == '/') cl--;
  snprintf(v->url, sizeof v->url, "%.*s/api/v1/watch/blocks", (int)cl, collector);
  FILE *f = fopen(token_file, "r");
  char tok[512] = "";
  if (!f || !fgets(tok, sizeof tok, f)) {
    if (f) fclose(f);
    fprintf(stderr, "keepon watch: cannot read the token file %s\n", token_file);
    return KP_ERR_IO;
  }
  fclose(f);
  size_t n = strlen(tok);
  while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ')) tok[--n] = 0;
  if (n < 16) {
    fprintf(stderr, "keepon watch: the token in %s is shorter than 16 characters\n", token_file);
    return KP_ERR_INVAL;
  }
  snprintf(v->auth, sizeof v->auth, "Authorization: Bearer %s", tok);
  int to = (int)(round_s * 1000 / 3);
  if (to > 10000) to = 10000;
  if (to < 200) to = 200;
  v->budget_ms = to;
  if (!(v->http = kp_cli_httpc_new(hv, to, to, 1 << 20))) return KP_ERR_INVAL;
  v->nents = kp_wuniv_nentities(u);
  v->ents = calloc(v->nents ? v->nents : 1, sizeof *v->ents);
  if (!v->ents) return KP_ERR_NOMEM;
  for (size_t i = 0; i < v->nents; i++) {
    const char *type, *code = kp_wuniv_entity(u, i, &type);
    size_t len = strlen(type) + strlen(code) + 2;
    if (!(v->ents[i] = malloc(len))) return KP_ERR_NOMEM;
    snprintf(v->ents[i], len, "%s/%s", type, code);
  }
  kp_buf_init(&v->cur, (size_t)256 << 20);
  return KP_OK;
}

void kp_cli_vant_block(kp_cli_vant_t *v, int64_t t_ns, double step, const kp_watch_block_rec_t *r) {
  if (!v->building) {
    kp_buf_reset(&v->cur);
    kp_vpost_header(&v->cur, v->vantage, t_ns / 1000000000, (int64_t)(step < 1 ? 1 : step),
                    (const char *const *)v->ents, v->nents);
    v->building = true;
  }
  uint32_t e[3] = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
  size_t i = kp_wuniv_find(v->u, r->block);
  if (i != SIZE_MAX) {
    uint32_t tup = kp_wuniv_tuple(v->u, i);
    if (tup != UINT32_MAX) kp_wuniv_tuple_ids(v->u, tup, e);
  }
  kp_vpost_block_line(&v->cur, r->block, r->state, e);
}

/* @p budget: share one budget of v->budget_ms over the requests (else each gets the client's) */
static void send_queue(kp_cli_vant_t *v, bool budget) {
  const char *hdr[] = {v->auth, NULL};
  kp_httpc_resp_t resp;
  kp_httpc_resp_init(&resp);
  int64_t t0 = kp_now_mono(kp_clock_system());
  while (v->qn) {
    int left = v->budget_ms - (int)((kp_now_mono(kp_clock_system()) - t0) / 1000000);
    if (budget && left < 50) {
      kp_log_debug("watch", "upload budget of %d ms spent; %zu round(s) wait for the next round", v->budget_ms, v->qn);
      break;
    }
    kp_buf_t *b = &v->q[0];
    kp_httpc_req_t rq = {.method = "POST", .url = v->url, .headers = hdr, .content_type = "application/x-ndjson",
                         .body = b->data, .body_len = b->len, .timeout_ms = budget ? left : 0};
    kp_status_t st = kp_httpc_do(v->http, &rq, &resp);
    if (budget && st == KP_ERR_TIMEOUT && left < v->budget_ms) {
      /* cut by what was left of the budget, not by a collector that fails a whole budget: the
       * round waits like the ones behind it (it may have landed; the collector's merge takes a
       * round again as the same round) */
      kp_log_debug("watch", "upload budget of %d ms spent during a post; %zu round(s) wait for the next round",
                   v->budget_ms, v->qn);
      break;
    }
    if (st == KP_OK && resp.status == 200) {
      v->sent++;
      kp_log_debug("watch", "round posted: %.*s", (int)(resp.body.len > 200 ? 200 : resp.body.len),
                   (const char *)resp.body.data);
    } else if (kp_httpc_retryable(st, &resp)) {
      if (!v->failing)
        kp_log_warnx("watch", "collector %s: %s; %zu round(s) kept for the next try", v->url,
                    st == KP_OK ? "server error" : resp.error[0] ? resp.error : kp_strstatus(st), v->qn);
      v->failing = true;
      break;
    } else {
      v->dropped++;
      kp_log_warnx("watch", "collector refused a round (HTTP %d): %.*s", resp.status,
                  (int)(resp.body.len > 200 ? 200 : resp.body.len), (const char *)resp.body.data);
    }
    if (st == KP_OK && resp.status == 200 && v->failing) {
      kp_log_info("watch", "collector reachable again");
      v->failing = false;
    }
    kp_buf_free(b);
    memmove(&v->q[0], &v->q[1], (v->qn - 1) * sizeof *v->q);
    v->qn--;
  }
  kp_httpc_resp_free(&resp);
}

void kp_cli_vant_round_end(kp_cli_vant_t *v) {
  if (v->building) {
    if (v->qn == VQ_MAX) { /* the oldest round is beyond any use to the merge now */
      kp_buf_free(&v->q[0]);
      memmove(&v->q[0], &v->q[1], (VQ_MAX - 1) * sizeof *v->q);
      v->qn--;
      v->dropped++;
    }
    v->q[v->qn++] = v->cur; /* hand the buffer over */
    kp_buf_init(&v->cur, (size_t)256 << 20);
    v->building = false;
  }
  send_queue(v, true);
}

void kp_cli_vant_close(kp_cli_vant_t *v) {
  if (v->http && v->qn) send_queue(v, false); /* one last try (nothing is queued after a failed open) */
  for (size_t i = 0; i < v->qn; i++) kp_buf_free(&v->q[i]);
  if (v->qn) kp_log_warnx("watch", "%zu round(s) not delivered to the collector", v->qn);
  for (size_t i = 0; v->ents && i < v->nents; i++) free(v->ents[i]);
  free(v->ents);
  kp_buf_free(&v->cur);
  kp_httpc_free(v->http);
  memset(v, 0, sizeof *v);
}
