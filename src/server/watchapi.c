/*
 * watchapi.c: many watch vantages, one collector (docs/serve.md "Vantages").
 *
 *   POST /api/v1/watch/blocks   one vantage's block states of one round (kp_vpost_parse format);
 *                               admin token (Authorization: Bearer), JSON Lines
 *   GET  /api/v1/watch/blocks?t=UNIX  the merged blocks of the round holding t, paged like faults:
 *                               state, and how many vantages reported / were healthy / agree
 *   GET  /api/v1/watch/faults   vantage faults of the kept rounds, paged (?limit=1..10000,
 *                               default 1000, &offset=K; X-Next-Offset when more follow)
 *
 * A post replaces that vantage's states for its round (rounded start, vview.c) and re-merges the
 * round; the round's merged per-entity points go into the store at once, replacing the previous
 * merge of the same round: datasource ping-slash24 (value = merged up blocks, what detect and the
 * dashboard read) and vantage-agreement (value = % of the entity's blocks on which every healthy
 * vantage agrees; an annotation, detect runs no detector on it). A vantage fault is never an
 * outage: the faulty vantage's states decide nothing (merge.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/json.h"
#include "server/collector_internal.h"
#include "watch/watch.h"

typedef struct sig_acc {
  kp_store_signal_t *s;
  size_t n, cap;
  unsigned vantages, healthy;
  bool nomem;
} sig_acc_t;

static int on_sig(void *ctx, const kp_vsignal_t *v) {
  sig_acc_t *a = ctx;
  if (a->n + 2 > a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    kp_store_signal_t *g = realloc(a->s, nc * sizeof *g);
    if (!g) {
      a->nomem = true;
      return 1;
    }
    a->s = g;
    a->cap = nc;
  }
  a->vantages = v->vantages;
  a->healthy = v->healthy;
  kp_store_signal_t base = {.entity_type = v->entity_type, .entity_code = v->entity_code, .t = v->t,
                            .step = v->step, .has_value = true};
  a->s[a->n] = base;
  a->s[a->n].datasource = "ping-slash24";
  a->s[a->n++].value = v->up;
  a->s[a->n] = base;
  a->s[a->n].datasource = "vantage-agreement";
  a->s[a->n++].value = v->agree_pct;
  return 0;
}

kp_status_t kp_api_watch_blocks_post(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  kp_vpost_t *p = NULL;
  char err[200] = "";
  kp_status_t st = kp_vpost_parse(req->body, req->body_len, &p, err, sizeof err);
  if (st == KP_ERR_NOMEM) return st;
  if (st != KP_OK) {
    kp_srv_error(resp, 400, err);
    return KP_OK;
  }
  char vantage[KP_VANTAGE_ID_MAX + 1];
  memcpy(vantage, p->vantage, sizeof vantage);
  int64_t t = p->t, step = p->step;
  size_t nblocks = p->nblocks;
  st = kp_vview_put(c->vview, p); /* consumes p on KP_OK */
  if (st != KP_OK) {
    kp_vpost_free(p);
    if (st == KP_ERR_NOMEM) return st;
    kp_srv_error(resp, 409, st == KP_ERR_RANGE ? "round outside the kept window, another step for this round, "
                                                 "or too many vantages"
                                               : "post refused");
    return KP_OK;
  }
  sig_acc_t a = {0};
  kp_vview_signals(c->vview, t, on_sig, &a);
  if (a.nomem) st = KP_ERR_NOMEM;
  else if (a.n) st = kp_store_put_signals(c->store, a.s, a.n);
  int64_t key = kp_vview_round_key(t, step);
  if (st == KP_OK) {
    /* the faults of this round, as the merge sees it now */
    kp_vfault_t f[KP_MERGE_MAX_VANTAGES];
    size_t total = kp_vview_faults(c->vview, 0, 0, NULL, NULL), nf = 0; /* <= rounds x vantages */
    resp->status = 200;
    kp_jw_t w;
    kp_jw_init(&w, &resp->body);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "vantage", vantage);
    kp_jw_kint(&w, "round", key);
    kp_jw_kint(&w, "blocks", (int64_t)nblocks);
    kp_jw_kint(&w, "stored", (int64_t)a.n);
    kp_jw_kint(&w, "vantages", a.vantages);
    kp_jw_kint(&w, "healthy", a.healthy);
    kp_jw_key(&w, "faults");
    kp_jw_arr_begin(&w);
    for (size_t off = 0; off < total; off += nf) {
      kp_vview_faults(c->vview, off, KP_MERGE_MAX_VANTAGES, f, &nf);
      if (!nf) break;
      for (size_t k = 0; k < nf; k++)
        if (f[k].t == key) kp_jw_str(&w, f[k].vantage);
    }
    kp_jw_arr_end(&w);
    kp_jw_obj_end(&w);
    kp_buf_putc(&resp->body, '\n');
  }
  free(a.s);
  return st;
}

static void page_meta(kp_jw_t *w, size_t n, size_t total, long long limit, long long offset) {
  kp_jw_key(w, "metadata");
  kp_jw_obj_begin(w);
  kp_jw_kint(w, "count", (int64_t)n);
  kp_jw_kint(w, "total", (int64_t)total);
  kp_jw_kint(w, "limit", limit);
  kp_jw_kint(w, "offset", offset);
  if ((size_t)offset + n < total) kp_jw_kint(w, "next_offset", offset + (long long)n);
  kp_jw_obj_end(w);
}

kp_status_t kp_api_watch_blocks_get(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  long long limit, offset;
  char v[24];
  int64_t t = -1;
  if (kp_srv_query_get(req->query, "t", v, sizeof v)) {
    char *e;
    t = strtoll(v, &e, 10);
    if (*e || t < 0) t = -1;
  }
  if (t < 0) {
    kp_srv_error(resp, 400, "bad parameter: t (Unix seconds inside a kept round)");
    return KP_OK;
  }
  if (!kp_api_page(req, resp, 1000, &limit, &offset)) return KP_OK;
  kp_merge_block_t *b = malloc((size_t)limit * sizeof *b);
  if (!b) return KP_ERR_NOMEM;
  size_t n = 0, total = kp_vview_blocks(c->vview, t, (size_t)offset, (size_t)limit, b, &n);
  if (!total) {
    free(b);
    kp_srv_error(resp, 404, "no kept round holds t");
    return KP_OK;
  }
  resp->status = 200;
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  page_meta(&w, n, total, limit, offset);
  kp_jw_key(&w, "results");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < n; i++) {
    char a[KP_ADDR_STRLEN], pfx[KP_ADDR_STRLEN + 4];
    kp_addr_t ad = kp_addr_v4(b[i].block);
    snprintf(pfx, sizeof pfx, "%s/24", kp_addr_fmt(&ad, a));
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "block", pfx);
    kp_jw_kstr(&w, "state", kp_tri_state_name((kp_tri_state_t)b[i].state));
    kp_jw_kint(&w, "reported", b[i].reported);
    kp_jw_kint(&w, "healthy", b[i].healthy);
    kp_jw_kint(&w, "agree", b[i].agree);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
  if ((size_t)offset + n < total) kp_buf_printf(&resp->headers, "X-Next-Offset: %lld\r\n", offset + (long long)n);
  free(b);
  return KP_OK;
}

kp_status_t kp_api_watch_faults(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  long long limit, offset;
  if (!kp_api_page(req, resp, 1000, &limit, &offset)) return KP_OK;
  kp_vfault_t *f = malloc((size_t)limit * sizeof *f);
  if (!f) return KP_ERR_NOMEM;
  size_t nf = 0, total = kp_vview_faults(c->vview, (size_t)offset, (size_t)limit, f, &nf);
  resp->status = 200;
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  page_meta(&w, nf, total, limit, offset);
  kp_jw_key(&w, "results");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < nf; i++) {
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "type", "vantage_fault");
    kp_jw_kstr(&w, "vantage", f[i].vantage);
    kp_jw_kint(&w, "t", f[i].t);
    kp_jw_kint(&w, "step", f[i].step);
    kp_jw_kint(&w, "ref", f[i].ref);
    kp_jw_kint(&w, "ref_up", f[i].ref_up);
    kp_jw_key(&w, "reach");
    kp_jw_fixed(&w, f[i].ref ? (double)f[i].ref_up / f[i].ref : 0, 3);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
  if ((size_t)offset + nf < total) kp_buf_printf(&resp->headers, "X-Next-Offset: %lld\r\n", offset + (long long)nf);
  free(f);
  return KP_OK;
}
