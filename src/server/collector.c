/*
 * collector.c: ingest routes and the group commit.
 *
 *   POST /report                 open (OONI): validates the metadata, mints a report id
 *                                YYYYMMDDThhmmssZ_<testname>_<CC>_<asn>_n1_<random>
 *   POST /report/{id}            submit (OONI): {"format":"json","content":{...}}; probe_cc,
 *                                probe_asn, test_name must agree with the id -> measurement_uid
 *   POST /report/{id}/close      legacy no-op (OONI), 200 {}
 *   POST /api/v1/keepon/submit   keepon's signed record (outbox line): hash, key id and
 *                                signature re-verified, key pinned when --trusted-keys is set;
 *                                stored with seq, prev, sig, key; dedup per (key_id, hash)
 *   POST /api/v1/keepon/batch    up to 1024 such lines (NDJSON), one result per line, same checks
 *   POST /api/v1/keepon/head, GET /api/v1/keepon/heads: signed head checkpoints (keepon.c)
 * Validation follows OONI's backend (reports.py): CC two upper-case letters or digits, ASN
 * "AS<n>" without leading zero (3..12 chars), test_name lower-case [a-z_] 2..30; CC ZZ or AS0
 * are answered 200 {} and dropped, like OONI. keepon adds: measurement_start_time must parse,
 * body must be JSON (Content-Type application/json), body size capped by the server.
 *
 * Group commit: a valid measurement is queued with a deferred response and completed only
 * after the batch holding it was stored: no 2xx before the data is durable. A store failure
 * answers 503 to the whole batch (clients retry). The content hash (SHA-256 of the measurement
 * bytes) is the dedup key, so a retry answers the uid stored the first time. Two modes:
 *  - pipelined (kp_collector_config_t.commit_store set; `keepon serve`): the responses are
 *    deferred+async, the items go to the commit pipeline (commitq.c, its state diagram there):
 *    a commit thread stores batch k on its own store handle while the loop gathers batch k+1;
 *    the flush hook (once per loop round, and when the commit thread wakes the loop) answers a
 *    committed batch and hands the gathered one over. A full gathering buffer (max_batch, or
 *    64 MiB of bodies) makes the loop wait for the commit in flight: back-pressure.
 *  - synchronous (no commit_store): the flush hook stores the queue on the loop's handle in
 *    one put_batch (or the queue flushes itself at max_batch) and answers it.
 * kp_collector_flush() is "commit and answer everything queued now" in both modes (blocking).
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/codec.h"
#include "base/cursor.h"
#include "base/log.h"
#include "msmt/msmt.h"
#include "outbox/outbox.h"
#include "server/collector_internal.h"
#include "server/commitq.h"
#include "watch/watch.h"

#ifndef KP_SERVER_VERSION
#define KP_SERVER_VERSION "0.1.0"
#endif

bool kp_api_is_json_ctype(const kp_srv_req_t *req, const char *want) {
  kp_srv_slice_t ct = kp_srv_header(req, "content-type");
  if (!ct.p) return false;
  size_t wl = strlen(want);
  if (ct.n < wl || strncasecmp(ct.p, want, wl) != 0) return false;
  return ct.n == wl || ct.p[wl] == ';' || ct.p[wl] == ' ';
}

static void ok_json(kp_srv_resp_t *resp, const char *k, const char *v) {
  resp->status = 200;
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  if (k) kp_jw_kstr(&w, k, v);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
}

static kp_status_t parse_body(const kp_srv_req_t *req, kp_srv_resp_t *resp, kp_json_doc_t **doc) {
  if (!kp_api_is_json_ctype(req, "application/json")) {
    kp_srv_error(resp, 415, "Content-Type must be application/json");
    return KP_ERR_INVAL;
  }
  kp_buf_t raw; /* identity or zstd (as OONI's backend), inflation bounded */
  kp_buf_init(&raw, KP_PS_MAX_INFLATE);
  int hs = 0;
  if (kp_ps_inflate(req, &raw, &hs) != KP_OK) {
    kp_buf_free(&raw);
    kp_srv_error(resp, hs ? hs : 500, hs == 415 ? "Content-Encoding must be zstd or identity" : "cannot inflate the body");
    return KP_ERR_INVAL;
  }
  size_t off = 0;
  kp_status_t st = kp_json_parse(raw.data, raw.len, NULL, doc, &off);
  kp_buf_free(&raw);
  if (st != KP_OK) {
    char msg[96];
    snprintf(msg, sizeof msg, "malformed JSON at byte %zu", off);
    kp_srv_error(resp, 400, msg);
    return st;
  }
  if (!kp_json_is(kp_json_root(*doc), KP_JSON_OBJECT)) {
    kp_json_doc_free(*doc);
    *doc = NULL;
    kp_srv_error(resp, 400, "body must be a JSON object");
    return KP_ERR_INVAL;
  }
  return KP_OK;
}

/* POST /report */
static kp_status_t open_report(kp_collector_t *c, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_json_doc_t *doc = NULL;
  if (parse_body(req, resp, &doc) != KP_OK) return KP_OK;
  const kp_json_t *o = kp_json_root(doc);
  const char *cc = kp_json_get_str(o, "probe_cc"), *asn = kp_json_get_str(o, "probe_asn");
  const char *tn = kp_json_get_str(o, "test_name"), *fmt = kp_json_get_str(o, "format");
  if (fmt && strcmp(fmt, "json") != 0) kp_srv_error(resp, 400, "only format \"json\" is supported");
  else if (!kp_msmt_valid_cc(cc)) kp_srv_error(resp, 400, "invalid probe_cc");
  else if (!kp_msmt_valid_asn(asn)) kp_srv_error(resp, 400, "invalid probe_asn");
  else if (!kp_msmt_valid_test_name(tn)) kp_srv_error(resp, 400, "invalid test_name");
  else if (!kp_json_get_str(o, "software_name") || !kp_json_get_str(o, "software_version"))
    kp_srv_error(resp, 400, "missing software_name or software_version");
  else {
    char rid[160];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (kp_msmt_report_id((int64_t)now.tv_sec * 1000000000, tn, cc, asn, rid, sizeof rid) != KP_OK) {
      kp_json_doc_free(doc);
      return KP_ERR_IO;
    }
    resp->status = 200;
    kp_jw_t w;
    kp_jw_init(&w, &resp->body);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "backend_version", "keepon-" KP_SERVER_VERSION);
    kp_jw_kstr(&w, "report_id", rid);
    kp_jw_key(&w, "supported_formats");
    kp_jw_arr_begin(&w);
    kp_jw_str(&w, "json");
    kp_jw_arr_end(&w);
    kp_jw_obj_end(&w);
    kp_buf_putc(&resp->body, '\n');
  }
  kp_json_doc_free(doc);
  return KP_OK;
}

/* host of "scheme://host[:port]/..." lower-cased, or NULL */
static void input_domain(const char *in, char *out, size_t cap) {
  out[0] = 0;
  const char *p = in ? strstr(in, "://") : NULL;
  if (!p) return;
  p += 3;
  size_t n = strcspn(p, ":/?#");
  if (*p == '[') n = strcspn(p, "]/") + (p[strcspn(p, "]/")] == ']');
  if (n == 0 || n >= cap) return;
  for (size_t i = 0; i < n; i++) out[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
  out[n] = 0;
}

/* queue a measurement (content = the measurement bytes as stored) */
static kp_status_t enqueue(kp_collector_t *c, const kp_json_t *msm, const char *content, size_t clen,
                           const uint8_t hash[32], const kp_outbox_rec_t *rec, kp_srv_resp_t *resp) {
  kp_msmt_meta_t mm;
  kp_msmt_meta(msm, &mm);
  const char *cc = mm.probe_cc, *asn = mm.probe_asn, *tn = mm.test_name, *rid = mm.report_id, *input = mm.input;
  time_t start = mm.start;
  if (start < 0) {
    kp_srv_error(resp, 400, "missing or invalid measurement_start_time");
    return KP_OK;
  }
  /* indexed and listed fields stay small: a listing row cannot be megabytes (URLs are short;
   * OONI's own report ids are < 100 bytes) */
  if ((input && strlen(input) > 4096) || (rid && strlen(rid) > 256)) {
    kp_srv_error(resp, 400, "input longer than 4096 bytes or report_id longer than 256");
    return KP_OK;
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  kp_fastpath_flags_t fl;
  kp_fastpath_score(msm, c->fp, now.tv_sec, &fl);
  /* uid: <recv YYYYmmddHHMMSS.ffffff>_<CC>_<testname>_<sha512(content)[:16]> as OONI */
  uint8_t h512[64];
  unsigned int hl = 0;
  EVP_Digest(content, clen, h512, &hl, EVP_sha512(), NULL);
  char tsq[32], uid[96], hex[65], dom[256];
  kp_msmt_squash(tn, tsq, sizeof tsq);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  char ts[20];
  strftime(ts, sizeof ts, "%Y%m%d%H%M%S", &tm);
  snprintf(uid, sizeof uid, "%s.%06ld_%s_%s_%02x%02x%02x%02x%02x%02x%02x%02x", ts, now.tv_nsec / 1000, cc, tsq,
           h512[0], h512[1], h512[2], h512[3], h512[4], h512[5], h512[6], h512[7]);
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) hex[2 * i] = hx[hash[i] >> 4], hex[2 * i + 1] = hx[hash[i] & 15];
  hex[64] = 0;
  input_domain(input, dom, sizeof dom);

  if (c->cq ? kp_cq_full(c->cq, clen) : c->npend == c->max_batch) kp_collector_flush(c);
  pending_t *p = calloc(1, sizeof *p);
  if (!p) return KP_ERR_NOMEM;
  kp_buf_t sb;
  kp_buf_init(&sb, KP_BUF_DEFAULT_CAP);
  /* one allocation for all strings: offsets first, pointers after (the buffer may move) */
  size_t o_uid = sb.len;
  kp_buf_append(&sb, uid, strlen(uid) + 1);
  size_t o_hash = sb.len;
  kp_buf_append(&sb, hex, 65);
  size_t o_rid = sb.len;
  kp_buf_append(&sb, rid ? rid : "", strlen(rid ? rid : "") + 1);
  size_t o_cc = sb.len;
  kp_buf_append(&sb, cc, strlen(cc) + 1);
  size_t o_asn = sb.len;
  kp_buf_append(&sb, asn, strlen(asn) + 1);
  size_t o_tn = sb.len;
  kp_buf_append(&sb, tn, strlen(tn) + 1);
  size_t o_in = sb.len;
  kp_buf_append(&sb, input ? input : "", strlen(input ? input : "") + 1);
  size_t o_dom = sb.len;
  kp_buf_append(&sb, dom, strlen(dom) + 1);
  size_t o_bt = sb.len;
  kp_buf_append(&sb, fl.blocking_type, strlen(fl.blocking_type) + 1);
  size_t o_kid = 0, o_pk = 0, o_sig = 0, o_prev = 0;
  if (rec) {
    kp_buf_t t;
    kp_buf_init(&t, 1024);
    o_kid = sb.len;
    kp_buf_append(&sb, rec->key_id, 33);
    kp_base64_encode(rec->pubkey, 32, &t);
    o_pk = sb.len;
    kp_buf_append(&sb, t.data, t.len + 1);
    kp_buf_reset(&t);
    kp_base64_encode(rec->sig, 64, &t);
    o_sig = sb.len;
    kp_buf_append(&sb, t.data, t.len + 1);
    kp_buf_reset(&t);
    kp_hex_encode(rec->prev, 32, &t);
    o_prev = sb.len;
    kp_buf_append(&sb, t.data, t.len + 1);
    kp_buf_free(&t);
  }
  p->body = malloc(clen ? clen : 1);
  if (!p->body || !sb.data) {
    free(p->body);
    free(p);
    kp_buf_free(&sb);
    return KP_ERR_NOMEM;
  }
  memcpy(p->body, content, clen);
  p->strs = kp_buf_steal(&sb);
  kp_store_msm_t *m = &p->m;
  m->uid = p->strs + o_uid, m->content_hash = p->strs + o_hash;
  m->report_id = rid ? p->strs + o_rid : NULL;
  m->probe_cc = p->strs + o_cc, m->probe_asn = p->strs + o_asn, m->test_name = p->strs + o_tn;
  m->input = input ? p->strs + o_in : NULL;
  m->domain = dom[0] ? p->strs + o_dom : NULL;
  m->start_time = start;
  m->recv_time = now.tv_sec;
  m->anomaly = fl.anomaly, m->confirmed = fl.confirmed, m->failure = fl.failure;
  m->blocking_type = p->strs + o_bt;
  m->seq = -1;
  if (rec) {
    m->key_id = p->strs + o_kid, m->pubkey = p->strs + o_pk, m->sig = p->strs + o_sig;
    m->prev_hash = p->strs + o_prev, m->seq = (int64_t)rec->seq;
  }
  m->body = p->body;
  m->body_len = clen;
  p->resp = resp;
  if (c->cq) {
    kp_status_t st = kp_cq_add(c->cq, m, p); /* cannot be full: flushed above */
    if (st != KP_OK) {
      free(p->strs), free(p->body), free(p);
      return st;
    }
    resp->async = true; /* completed by a later round's flush hook */
  } else {
    c->pend[c->npend++] = p;
  }
  resp->deferred = true;
  return KP_OK;
}

void kp_collector_answer(kp_srv_resp_t *r, kp_status_t st, const kp_store_put_result_t *res) {
  r->deferred = false;
  kp_buf_reset(&r->body);
  if (st != KP_OK) {
    kp_srv_error(r, 503, "storage unavailable; retry later");
  } else if (res->status == KP_ERR_EXISTS) {
    kp_srv_error(r, 409, "this chain position already holds a different measurement");
  } else {
    r->status = 200;
    kp_jw_t w;
    kp_jw_init(&w, &r->body);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "measurement_uid", res->uid);
    if (!res->inserted) kp_jw_kbool(&w, "duplicate", true);
    kp_jw_obj_end(&w);
    kp_buf_putc(&r->body, '\n');
  }
}

/* one measurement's outcome (both modes): answer, count, free */
static void complete(void *ctx, void *tag, kp_status_t st, const kp_store_put_result_t *res) {
  kp_collector_t *c = ctx;
  pending_t *p = tag;
  kp_collector_answer(p->resp, st, res);
  if (st == KP_OK && res->status != KP_ERR_EXISTS) {
    if (res->inserted) c->stored++;
    else c->duplicates++;
  }
  if (st != KP_OK && !c->failed_logged) kp_log_warnx("serve", "a batch was not stored: %s (answered 503)", kp_strstatus(st));
  c->failed_logged = st != KP_OK;
  free(p->strs);
  free(p->body);
  free(p);
}

static void flush_sync(kp_collector_t *c) {
  if (!c->npend) return;
  kp_store_put_result_t *res = calloc(c->npend, sizeof *res);
  kp_store_msm_t *ms = malloc(c->npend * sizeof *ms);
  kp_status_t st = res && ms ? KP_OK : KP_ERR_NOMEM;
  for (size_t i = 0; st == KP_OK && i < c->npend; i++) ms[i] = c->pend[i]->m;
  if (st == KP_OK) st = kp_store_put_batch(c->store, ms, c->npend, res);
  static const kp_store_put_result_t none;
  for (size_t i = 0; i < c->npend; i++) complete(c, c->pend[i], st, res ? &res[i] : &none);
  c->npend = 0;
  free(res);
  free(ms);
}

/* the server's hook: never blocks in the pipelined mode */
static void flush_hook(void *ctx) {
  kp_collector_t *c = ctx;
  if (c->cq) kp_cq_pump(c->cq, complete, c);
  else flush_sync(c);
}

void kp_collector_flush(void *ctx) {
  kp_collector_t *c = ctx;
  if (c->cq) kp_cq_drain(c->cq, complete, c);
  else flush_sync(c);
}

static void wake_loop(void *ctx) { kp_srv_wake(ctx); }

/* POST /report/{id}[/close] */
static kp_status_t submit_report(kp_collector_t *c, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  const char *id = req->path.p + 8; /* after "/report/" */
  size_t idn = req->path.n - 8;
  bool close_rq = idn > 6 && memcmp(id + idn - 6, "/close", 6) == 0;
  if (close_rq) idn -= 6;
  kp_msmt_rid_t rid;
  if (idn == 0 || memchr(id, '/', idn) || !kp_msmt_report_id_parse(id, idn, &rid)) {
    kp_srv_error(resp, 400, "invalid report id");
    return KP_OK;
  }
  if (close_rq) {
    ok_json(resp, NULL, NULL);
    return KP_OK;
  }
  kp_json_doc_t *doc = NULL;
  if (parse_body(req, resp, &doc) != KP_OK) return KP_OK;
  const kp_json_t *o = kp_json_root(doc);
  const char *fmt = kp_json_get_str(o, "format");
  const kp_json_t *content = kp_json_get(o, "content");
  kp_msmt_meta_t mm;
  kp_msmt_meta(content, &mm);
  const char *cc = mm.probe_cc, *asn = mm.probe_asn, *tn = mm.test_name;
  char tsq[32] = "";
  if (tn) kp_msmt_squash(tn, tsq, sizeof tsq);
  if (!fmt || strcmp(fmt, "json") != 0) kp_srv_error(resp, 400, "format must be \"json\"");
  else if (!kp_json_is(content, KP_JSON_OBJECT)) kp_srv_error(resp, 400, "content must be a JSON object");
  else if (!cc || !asn || !tn) kp_srv_error(resp, 400, "content lacks probe_cc, probe_asn or test_name");
  else if (strcmp(cc, rid.cc) != 0 || strcmp(asn, rid.asn) != 0 || strcmp(tsq, rid.tn) != 0)
    kp_srv_error(resp, 400, "Inconsistent measurement: probe_cc, probe_asn or test_name differ from the report id");
  else if (kp_msmt_unattributed(cc, asn))
    ok_json(resp, NULL, NULL); /* OONI: accepted and discarded */
  else if (!kp_msmt_valid_test_name(tn)) kp_srv_error(resp, 400, "invalid test_name");
  else {
    kp_buf_t cb;
    /* a limit, not an allocation: the (maybe zstd-inflated) body, every byte re-escaped at worst */
    kp_buf_init(&cb, KP_PS_MAX_INFLATE * 6 + 64);
    kp_jw_t w;
    kp_jw_init(&w, &cb);
    kp_jw_node(&w, content);
    uint8_t h[32];
    kp_sha256(cb.data, cb.len, h);
    kp_status_t st = KP_OK;
    if (w.st != KP_OK) /* the writer refuses what the parser took (nesting, size): the input's fault */
      kp_srv_error(resp, 400, "measurement cannot be stored: nested too deeply or too large");
    else st = enqueue(c, content, (const char *)cb.data, cb.len, h, NULL, resp);
    kp_buf_free(&cb);
    kp_json_doc_free(doc);
    return st;
  }
  kp_json_doc_free(doc);
  return KP_OK;
}

static kp_status_t report_route(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  if (kp_srv_slice_eq(req->path, "/report")) return open_report(c, req, resp);
  return submit_report(c, req, resp);
}

/* one outbox record line -> queued (deferred resp) or an error in resp */
static kp_status_t keepon_one(kp_collector_t *c, const uint8_t *body, size_t n, kp_srv_resp_t *resp) {
  while (n && (body[n - 1] == '\n' || body[n - 1] == '\r')) n--;
  kp_json_doc_t *rdoc = NULL, *mdoc = NULL;
  kp_outbox_rec_t rec;
  const char *why;
  char msg[192];
  if (kp_outbox_rec_parse(body, n, &rdoc, &rec, &why) != KP_OK) {
    snprintf(msg, sizeof msg, "not a keepon record: %s", why);
    kp_srv_error(resp, 400, msg);
    return KP_OK;
  }
  kp_status_t st = KP_OK;
  if (kp_outbox_rec_check(&rec, &why) != KP_OK) {
    snprintf(msg, sizeof msg, "rejected: %s", why);
    kp_srv_error(resp, 403, msg);
  } else if (!kp_collector_key_trusted(c, rec.key_id)) {
    kp_srv_error(resp, 403, "rejected: this key is not one of the collector's pinned keys");
  } else if (kp_json_parse(rec.msm, rec.msm_len, NULL, &mdoc, NULL) != KP_OK ||
             !kp_json_is(kp_json_root(mdoc), KP_JSON_OBJECT)) {
    kp_srv_error(resp, 400, "the signed measurement is not a JSON object");
  } else {
    const kp_json_t *m = kp_json_root(mdoc);
    kp_msmt_meta_t mm;
    kp_msmt_meta(m, &mm);
    if (!kp_msmt_valid_cc(mm.probe_cc)) kp_srv_error(resp, 400, "invalid probe_cc");
    else if (!kp_msmt_valid_asn(mm.probe_asn)) kp_srv_error(resp, 400, "invalid probe_asn");
    else if (!kp_msmt_valid_test_name(mm.test_name)) kp_srv_error(resp, 400, "invalid test_name");
    else st = enqueue(c, m, rec.msm, rec.msm_len, rec.hash, &rec, resp);
  }
  kp_json_doc_free(mdoc);
  kp_json_doc_free(rdoc);
  return st;
}

/* POST /api/v1/keepon/submit: one outbox record line */
static kp_status_t keepon_submit(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  if (!kp_api_is_json_ctype(req, "application/json")) {
    kp_srv_error(resp, 415, "Content-Type must be application/json");
    return KP_OK;
  }
  return keepon_one(ctx, (const uint8_t *)req->body, req->body_len, resp);
}

/*
 * POST /api/v1/keepon/batch (application/x-ndjson): up to KP_BATCH_MAX record lines, each
 * handled exactly as /submit (same checks, same content-hash dedup, so a retried batch is
 * idempotent). The batch is stored by a synchronous group commit before the answer, which is
 * 200 {"results":[{"status":S,"measurement_uid":U[,"duplicate":true]} | {"status":S,"error":E}]}
 * with one result per line, in order: every record is acked (or refused) individually.
 */
#define KP_BATCH_MAX 1024
static kp_status_t keepon_batch(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_collector_t *c = ctx;
  if (!kp_api_is_json_ctype(req, "application/x-ndjson")) {
    kp_srv_error(resp, 415, "Content-Type must be application/x-ndjson");
    return KP_OK;
  }
  kp_cur_t cur = kp_cur_make(req->body, req->body_len);
  const uint8_t *q;
  size_t ln, nl = 0;
  while (kp_cur_line(&cur, &q, &ln)) nl++;
  if (nl == 0 || nl > KP_BATCH_MAX) {
    kp_srv_error(resp, nl ? 413 : 400, nl ? "too many records in one batch" : "empty batch");
    return KP_OK;
  }
  kp_srv_resp_t *rs = calloc(nl, sizeof *rs);
  if (!rs) return KP_ERR_NOMEM;
  kp_status_t st = KP_OK;
  size_t k = 0;
  cur = kp_cur_make(req->body, req->body_len);
  for (; st == KP_OK && kp_cur_line(&cur, &q, &ln); k++) {
    kp_buf_init(&rs[k].body, 4096);
    kp_buf_init(&rs[k].headers, 1024);
    rs[k].status = 200;
    st = keepon_one(c, q, ln, &rs[k]);
  }
  kp_collector_flush(c); /* durable before we answer; completes every deferred rs[] */
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "results");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < k; i++) {
    kp_json_doc_t *d = NULL;
    kp_jw_obj_begin(&w);
    kp_jw_kint(&w, "status", rs[i].status);
    if (kp_json_parse(rs[i].body.data ? rs[i].body.data : (const uint8_t *)"{}", rs[i].body.len ? rs[i].body.len : 2,
                      NULL, &d, NULL) == KP_OK) {
      const kp_json_t *o = kp_json_root(d);
      const char *u = kp_json_get_str(o, "measurement_uid"), *er = kp_json_get_str(o, "error");
      if (u) kp_jw_kstr(&w, "measurement_uid", u);
      if (kp_json_truthy(kp_json_get(o, "duplicate"))) kp_jw_kbool(&w, "duplicate", true);
      if (er) kp_jw_kstr(&w, "error", er);
    }
    kp_json_doc_free(d);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
  for (size_t i = 0; i < nl; i++) kp_buf_free(&rs[i].body), kp_buf_free(&rs[i].headers);
  free(rs);
  return st == KP_OK ? w.st : st;
}

static kp_status_t health(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  (void)ctx, (void)req;
  ok_json(resp, "status", "ok");
  return KP_OK;
}

kp_status_t kp_collector_mount(kp_srv_t *srv, struct kp_store *store, const struct kp_fp_db *fp,
                               const kp_collector_config_t *cfg, kp_collector_t **out) {
  kp_collector_t *c = calloc(1, sizeof *c);
  if (!c) return KP_ERR_NOMEM;
  c->srv = srv;
  c->store = store;
  c->fp = fp;
  c->max_batch = cfg && cfg->max_batch ? cfg->max_batch : cfg && cfg->commit_store ? 8192 : 512;
  c->pend = calloc(c->max_batch, sizeof *c->pend);
  if (!c->pend) {
    free(c);
    return KP_ERR_NOMEM;
  }
  if (cfg && cfg->commit_store) {
    kp_cq_config_t qc = {.store = cfg->commit_store, .max_items = c->max_batch, .wake = wake_loop, .wake_ctx = srv};
    kp_status_t qs = kp_cq_new(&qc, &c->cq);
    if (qs != KP_OK) {
      free(c->pend);
      free(c);
      return qs;
    }
  }
  if (cfg && cfg->trusted_keys && kp_collector_load_trusted(c, cfg->trusted_keys) != KP_OK) {
    kp_collector_free(c);
    return KP_ERR_INVAL;
  }
  if (kp_vview_create(&c->vview) != KP_OK) {
    kp_collector_free(c);
    return KP_ERR_NOMEM;
  }
  const char *kp = cfg && cfg->keepon_prefix && *cfg->keepon_prefix ? cfg->keepon_prefix : "/api/v1/keepon";
  size_t kl = strlen(kp);
  bool kp_ok = kp[0] == '/' && kl <= 100 && kp[kl - 1] != '/';
  for (size_t i = 0; kp_ok && i < kl; i++)
    kp_ok = isalnum((unsigned char)kp[i]) || strchr("._~/-", kp[i]);
  if (!kp_ok) {
    kp_collector_free(c);
    return KP_ERR_INVAL;
  }
  static const char *const kname[5] = {"submit", "batch", "records", "head", "heads"};
  for (size_t i = 0; i < 5; i++) snprintf(c->kroute[i], sizeof c->kroute[i], "%s/%s", kp, kname[i]);
  const kp_srv_route_t routes[] = {
    /* uploads stay open, as OONI's collector is; every other write needs the admin token */
    {.method = "POST", .prefix = "/report", .fn = report_route, .ctx = c, .flags = KP_SRV_OPEN_WRITE},
    {.method = "POST", .prefix = c->kroute[0], .fn = keepon_submit, .ctx = c, .flags = KP_SRV_OPEN_WRITE},
    {.method = "POST", .prefix = c->kroute[1], .fn = keepon_batch, .ctx = c, .flags = KP_SRV_OPEN_WRITE},
    {.method = "GET", .prefix = c->kroute[2], .fn = kp_api_keepon_records, .ctx = c},
    /* signed by the probe key (verified, pinned with --trusted-keys): an open write like submit */
    {.method = "POST", .prefix = c->kroute[3], .fn = kp_api_keepon_head_post, .ctx = c,
     .flags = KP_SRV_OPEN_WRITE},
    {.method = "GET", .prefix = c->kroute[4], .fn = kp_api_keepon_heads, .ctx = c},
    {.method = "GET", .prefix = "/api/v1/measurements", .fn = kp_api_measurements, .ctx = c},
    {.method = "GET", .prefix = "/api/v1/aggregation", .fn = kp_api_aggregation, .ctx = c},
    {.method = "GET", .prefix = "/api/v1/signals/raw/", .fn = kp_api_signals_raw, .ctx = c},
    {.method = "POST", .prefix = "/api/v1/signals", .fn = kp_api_signals_post, .ctx = c},
    {.method = "POST", .prefix = "/api/v1/watch/blocks", .fn = kp_api_watch_blocks_post, .ctx = c},
    {.method = "GET", .prefix = "/api/v1/watch/blocks", .fn = kp_api_watch_blocks_get, .ctx = c},
    {.method = "GET", .prefix = "/api/v1/watch/faults", .fn = kp_api_watch_faults, .ctx = c},
    {.method = "GET", .prefix = "/api/v1/health", .fn = health, .ctx = c},
  };
  kp_status_t st = kp_srv_add_routes(srv, routes, sizeof routes / sizeof *routes);
  if (st != KP_OK) {
    kp_collector_free(c);
    return st;
  }
  kp_srv_set_flush(srv, flush_hook, c);
  *out = c;
  return KP_OK;
}

void kp_collector_free(kp_collector_t *c) {
  if (!c) return;
  if (c->cq) {
    kp_cq_stats_t qs;
    kp_cq_stats(c->cq, &qs);
    if (qs.batches)
      kp_log_info("serve", "%llu measurements in %llu batches (largest %zu, %llu failed), commit max %llu ms",
                  (unsigned long long)qs.items, (unsigned long long)qs.batches, qs.max_batch,
                  (unsigned long long)qs.failed_batches, (unsigned long long)qs.max_commit_ms);
  }
  kp_cq_free(c->cq, complete, c); /* whatever is left is answered (stored or 503), then freed */
  static const kp_store_put_result_t none;
  for (size_t i = 0; i < c->npend; i++) complete(c, c->pend[i], KP_ERR_IO, &none);
  free(c->pend);
  free(c->trusted);
  kp_vview_free(c->vview);
  free(c);
}
