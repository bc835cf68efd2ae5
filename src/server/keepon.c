/*
 * keepon.c: the collector's keepon chain routes beyond record submission.
 *
 *   POST /api/v1/keepon/head    a signed head checkpoint (src/outbox/head.c) sent by an uploader
 *                               after its records. Checked: signature, pinned key (when
 *                               --trusted-keys is set), and that this collector holds records
 *                               1..seq of that key with record seq hashing to the head.
 *                               200 {"key_id","seq"} kept (the highest per key); 409 when the
 *                               records are not all here or differ; 403 bad signature/key.
 *   GET  /api/v1/keepon/heads   the kept checkpoints as head lines (NDJSON), ?key_id= to narrow.
 * `keepon verify --server` reads records and heads together: a record missing below a kept head
 * (a dropped tail, a deleted row) is then a problem even though gaps above it are allowed.
 *
 * Pinned keys: with a list, a record or head under any other key is refused (403), so an
 * altered chain re-signed under a fresh key cannot enter the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/codec.h"
#include "base/log.h"
#include "outbox/outbox.h"
#include "server/collector_internal.h"

bool kp_collector_key_trusted(const kp_collector_t *c, const char *key_id) {
  if (!c->ntrusted) return true;
  for (size_t i = 0; i < c->ntrusted; i++)
    if (strcmp(c->trusted[i], key_id) == 0) return true;
  return false;
}

kp_status_t kp_api_keepon_head_post(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  if (!kp_api_is_json_ctype(req, "application/json")) {
    kp_srv_error(resp, 415, "Content-Type must be application/json");
    return KP_OK;
  }
  size_t n = req->body_len;
  while (n && (req->body[n - 1] == '\n' || req->body[n - 1] == '\r')) n--;
  kp_outbox_head_t h;
  const char *why;
  char msg[192];
  if (kp_outbox_head_parse(req->body, n, &h, &why) != KP_OK) {
    snprintf(msg, sizeof msg, "not a keepon head checkpoint: %s", why);
    kp_srv_error(resp, 400, msg);
    return KP_OK;
  }
  if (kp_outbox_head_check(&h, &why) != KP_OK) {
    snprintf(msg, sizeof msg, "rejected: %s", why);
    kp_srv_error(resp, 403, msg);
    return KP_OK;
  }
  if (!kp_collector_key_trusted(c, h.key_id)) {
    kp_srv_error(resp, 403, "rejected: this key is not one of the collector's pinned keys");
    return KP_OK;
  }
  if (h.seq == 0) {
    kp_srv_error(resp, 400, "an empty chain has no head to keep");
    return KP_OK;
  }
  kp_collector_flush(c); /* records still queued are committed before they are counted */
  kp_buf_t hx, pk, sg;
  kp_buf_init(&hx, 256);
  kp_buf_init(&pk, 256);
  kp_buf_init(&sg, 256);
  kp_hex_encode(h.hash, 32, &hx);
  kp_base64_encode(h.pubkey, 32, &pk);
  kp_base64_encode(h.sig, 64, &sg);
  kp_store_head_t sh = {.key_id = h.key_id, .head_hash = kp_buf_str(&hx), .pubkey = kp_buf_str(&pk),
                        .sig = kp_buf_str(&sg), .seq = (int64_t)h.seq, .recv_time = (int64_t)time(NULL)};
  kp_status_t st = kp_store_put_head(c->store, &sh);
  kp_buf_free(&hx);
  kp_buf_free(&pk);
  kp_buf_free(&sg);
  if (st == KP_ERR_NOTFOUND)
    kp_srv_error(resp, 409, "this collector does not hold every record up to the checkpoint; resend them");
  else if (st == KP_ERR_EXISTS)
    kp_srv_error(resp, 409, "the record stored at the checkpoint's seq is not the one it names");
  else if (st == KP_ERR_UNSUPPORTED) { /* a backend without put_head (SQLite and ClickHouse both keep heads) */
    snprintf(msg, sizeof msg, "this collector's %s store keeps no head checkpoints (a SQLite store does)",
             c->store->ops->name);
    kp_srv_error(resp, 501, msg);
  }
  else if (st != KP_OK)
    kp_srv_error(resp, 503, "storage unavailable; retry later");
  else {
    resp->status = 200;
    kp_jw_t w;
    kp_jw_init(&w, &resp->body);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "key_id", h.key_id);
    kp_jw_kint(&w, "seq", (int64_t)h.seq);
    kp_jw_obj_end(&w);
    kp_buf_putc(&resp->body, '\n');
  }
  return KP_OK;
}

/* paging over the kept heads: skip `offset`, emit up to `limit` or until the byte budget */
typedef struct heads_page {
  kp_buf_t *out;
  int64_t skip, limit, rows;
  size_t budget;
  bool more;
} heads_page_t;

static int head_row(void *ctx, const kp_store_head_t *sh) {
  heads_page_t *pg = ctx;
  if (pg->skip > 0) {
    pg->skip--;
    return 0;
  }
  if (pg->rows >= pg->limit || (pg->rows > 0 && pg->out->len >= pg->budget)) {
    pg->more = true;
    return 1;
  }
  kp_outbox_head_t h = {.seq = (uint64_t)sh->seq};
  snprintf(h.key_id, sizeof h.key_id, "%s", sh->key_id);
  kp_buf_t t;
  kp_buf_init(&t, 1024);
  bool ok = sh->seq >= 0 && kp_hex_decode(sh->head_hash, 64, h.hash, 32) == KP_OK &&
            kp_base64_decode(sh->pubkey, strlen(sh->pubkey), &t) == KP_OK && t.len == 32;
  if (ok) memcpy(h.pubkey, t.data, 32);
  kp_buf_reset(&t);
  ok = ok && kp_base64_decode(sh->sig, strlen(sh->sig), &t) == KP_OK && t.len == 64;
  if (ok) memcpy(h.sig, t.data, 64);
  kp_buf_free(&t);
  if (!ok) return 0; /* a row that is not a head: not listed (verify then misses it, never trusts it) */
  if (kp_outbox_head_write(&h, pg->out) != KP_OK) return 1; /* the response cap is reached */
  pg->rows++;
  return 0;
}

/* GET /api/v1/keepon/heads[?key_id=][&limit=N (1..10000, default 1000)][&offset=K]: paged like
 * /records; X-Next-Offset names the next page when rows follow */
kp_status_t kp_api_keepon_heads(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  char kid[40];
  const char *key = kp_srv_query_get(req->query, "key_id", kid, sizeof kid) ? kid : NULL;
  heads_page_t pg = {.out = &resp->body,
                     .budget = resp->page_bytes ? resp->page_bytes : ((size_t)1 << 20)};
  long long limit, skip;
  if (!kp_api_page(req, resp, 1000, &limit, &skip)) return KP_OK;
  pg.limit = limit;
  pg.skip = skip;
  int64_t offset = pg.skip;
  resp->status = 200;
  resp->content_type = "application/x-ndjson";
  kp_status_t st = kp_store_query_heads(c->store, key, head_row, &pg);
  if (st == KP_ERR_UNSUPPORTED) st = KP_OK; /* a backend without heads: an empty list */
  if (st == KP_OK && pg.more) kp_buf_printf(&resp->headers, "X-Next-Offset: %lld\r\n", (long long)(offset + pg.rows));
  return st;
}

kp_status_t kp_collector_load_trusted(kp_collector_t *c, const char *path) {
  kp_status_t st = kp_outbox_load_key_ids(path, &c->trusted, &c->ntrusted);
  if (st != KP_OK) kp_log_warnx("serve", "%s: not a list of key ids (32 hex digits a line): %s", path, kp_strstatus(st));
  else kp_log_info("serve", "keepon records accepted only from the %zu key(s) pinned in %s", c->ntrusted, path);
  return st;
}
