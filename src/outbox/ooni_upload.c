/*
 * ooni_upload.c: deliver the outbox to an OONI collector with OONI's own protocol
 * (what ooni/probe-cli internal/probeservices/collector.go does; rules from ooni/backend):
 *
 *   POST <base>/report      {data_format_version:"0.2.0", format:"json", probe_asn, probe_cc,
 *                            software_name, software_version, test_name, test_start_time,
 *                            test_version}           -> {report_id, supported_formats:[..."json"]}
 *   POST <base>/report/{id} {format:"json", content: <measurement, report_id := id>}
 *                                                     -> {measurement_uid}
 *   POST <base>/report/{id}/close                     (legacy; answered 200, ignored)
 *
 * One report per template (the nine fields above), as probe-cli's Submitter (CanSubmit). The
 * backend drops probe_cc "ZZ" / probe_asn "AS0" (200 {} without a uid), so such records are
 * not sent: they stay pending, counted as refused.
 *
 * State, so that a retry never duplicates: <outbox>/ooni-reports holds "<template sha256> <id>"
 * lines, appended and fsync'd when a report is opened; the same template always reuses its id,
 * so a record re-sent after a lost reply is byte-identical (a collector that dedups by content,
 * as keepon serve does, stores it once). A record is delivered only on 200 with a
 * measurement_uid (acked.log, the outbox's own state), never re-sent after that.
 *
 *   per pending record (seq order):
 *     unattributed (ZZ/AS0) or not JSON -> refused, next
 *     no id for template -> open (retry on transport/5xx) -> remember id (fsync)
 *     submit (retry on transport/5xx/408/429, backoff with full jitter) -> 200+uid: ack
 *                                                                       -> other 4xx: refused
 *   attempts exhausted or deadline -> stop, rest pending (KP_ERR_BUSY)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/file.h"
#include "base/log.h"
#include "msmt/msmt.h"
#include "outbox/outbox.h"

typedef struct orec {
  uint64_t seq;
  char *msm;
  size_t len;
} orec_t;

typedef struct olist {
  orec_t *v;
  size_t n, cap;
  kp_status_t st;
} olist_t;

static int collect(void *ctx, const kp_outbox_rec_t *r, const char *uid) {
  olist_t *l = ctx;
  if (uid) return 0;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 64;
    orec_t *g = realloc(l->v, nc * sizeof *g);
    if (!g) return l->st = KP_ERR_NOMEM, 1;
    l->v = g, l->cap = nc;
  }
  char *m = malloc(r->msm_len + 1);
  if (!m) return l->st = KP_ERR_NOMEM, 1;
  memcpy(m, r->msm, r->msm_len);
  m[r->msm_len] = 0;
  l->v[l->n++] = (orec_t){.seq = r->seq, .msm = m, .len = r->msm_len};
  return 0;
}

/* ---- the report-id state file ---- */
typedef struct rstate {
  char path[4096];
  char (*key)[65];
  char (*id)[160];
  size_t n, cap;
} rstate_t;

static kp_status_t rs_add(rstate_t *s, const char *key, const char *id) {
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 16;
    char(*k)[65] = realloc(s->key, nc * sizeof *k);
    if (!k) return KP_ERR_NOMEM;
    s->key = k;
    char(*i)[160] = realloc(s->id, nc * sizeof *i);
    if (!i) return KP_ERR_NOMEM;
    s->id = i, s->cap = nc;
  }
  snprintf(s->key[s->n], sizeof s->key[s->n], "%s", key);
  snprintf(s->id[s->n], sizeof s->id[s->n], "%s", id);
  s->n++;
  return KP_OK;
}

static kp_status_t rs_load(rstate_t *s, const char *chain_path) {
  const char *sl = strrchr(chain_path, '/');
  int dl = sl ? (int)(sl - chain_path) : 1;
  snprintf(s->path, sizeof s->path, "%.*s/ooni-reports", dl, sl ? chain_path : ".");
  kp_buf_t b;
  kp_buf_init(&b, (size_t)16 << 20);
  kp_status_t st = kp_file_read(s->path, &b);
  if (st != KP_OK) {
    kp_buf_free(&b);
    return KP_OK; /* none yet */
  }
  const char *p = (const char *)b.data, *end = p + b.len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break; /* a torn last line is ignored: that report is simply opened again */
    const char *sp = memchr(p, ' ', (size_t)(nl - p));
    if (sp && sp - p == 64 && nl - sp - 1 > 0 && nl - sp - 1 < 160) {
      char k[65], id[160];
      memcpy(k, p, 64), k[64] = 0;
      memcpy(id, sp + 1, (size_t)(nl - sp - 1)), id[nl - sp - 1] = 0;
      kp_msmt_rid_t r;
      if (kp_msmt_report_id_parse(id, strlen(id), &r) && (st = rs_add(s, k, id)) != KP_OK) break;
    }
    p = nl + 1;
  }
  kp_buf_free(&b);
  return st;
}

static kp_status_t rs_append(rstate_t *s, const char *key, const char *id) {
  int fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return KP_ERR_IO;
  char line[256];
  int n = snprintf(line, sizeof line, "%s %s\n", key, id);
  bool ok = n > 0 && (size_t)n < sizeof line && write(fd, line, (size_t)n) == n && fdatasync(fd) == 0;
  close(fd);
  return ok ? rs_add(s, key, id) : KP_ERR_IO;
}

static const char *rs_find(const rstate_t *s, const char *key) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->key[i], key) == 0) return s->id[i];
  return NULL;
}

/* ---- one run ---- */
typedef struct orun {
  const kp_upload_cfg_t *cfg;
  kp_upload_stats_t *stats;
  kp_httpc_resp_t resp;
  char base[2048];
  const kp_clock_t *clk;
  void (*sleep_fn)(void *, int);
  int64_t t0;
  uint32_t rng;
  int max_attempts;
} orun_t;

static void sleep_real(void *ctx, int ms) {
  (void)ctx;
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* POST with retries; KP_OK = a final answer in r->resp (any non-retryable status), KP_ERR_BUSY = gave up */
static kp_status_t post(orun_t *r, const char *url, const kp_buf_t *body) {
  int tmo = r->cfg->timeout_ms > 0 ? r->cfg->timeout_ms : 10000;
  for (int k = 0;; k++) {
    kp_httpc_req_t q = {.method = "POST", .url = url, .body = body->data, .body_len = body->len,
                        .timeout_ms = tmo};
    r->stats->attempts++;
    kp_status_t hs = kp_httpc_do(r->cfg->http, &q, &r->resp);
    if (!kp_httpc_retryable(hs, &r->resp)) return hs == KP_OK ? KP_OK : hs;
    int64_t el = (kp_now_mono(r->clk) - r->t0) / 1000000;
    if (k + 1 >= r->max_attempts || (r->cfg->deadline_ms > 0 && el >= r->cfg->deadline_ms)) return KP_ERR_BUSY;
    r->sleep_fn(r->cfg->sleep_ctx, kp_outbox_backoff_ms(r->cfg, k, &r->rng));
  }
}

static kp_status_t answer_str(const kp_httpc_resp_t *resp, const char *key, char *out, size_t cap) {
  kp_json_doc_t *d = NULL;
  out[0] = 0;
  if (kp_json_parse(resp->body.data, resp->body.len, NULL, &d, NULL) != KP_OK) return KP_ERR_INVAL;
  const char *s = kp_json_get_str(kp_json_root(d), key);
  kp_status_t st = s && *s && strlen(s) < cap && !strpbrk(s, " \n\r/") ? KP_OK : KP_ERR_INVAL;
  if (st == KP_OK) memcpy(out, s, strlen(s) + 1);
  if (st == KP_OK && strcmp(key, "report_id") == 0) { /* the collector must support "json" */
    const kp_json_t *f = kp_json_get(kp_json_root(d), "supported_formats");
    bool json = false;
    for (size_t i = 0; kp_json_is(f, KP_JSON_ARRAY) && i < kp_json_len(f); i++)
      json |= kp_json_str(kp_json_at(f, i)) && strcmp(kp_json_str(kp_json_at(f, i)), "json") == 0;
    if (!json) st = KP_ERR_INVAL;
  }
  kp_json_doc_free(d);
  return st;
}

static const char *const tmpl_keys[] = {"probe_asn", "probe_cc", "software_name", "software_version",
                                        "test_name", "test_start_time", "test_version"};

kp_status_t kp_ooni_report_template(const kp_json_t *m, kp_buf_t *out, char key[65]) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "data_format_version", "0.2.0");
  kp_jw_kstr(&w, "format", "json");
  for (size_t i = 0; i < sizeof tmpl_keys / sizeof *tmpl_keys; i++) {
    const char *v = kp_json_get_str(m, tmpl_keys[i]);
    if (!v) return KP_ERR_INVAL;
    kp_jw_kstr(&w, tmpl_keys[i], v);
  }
  kp_jw_obj_end(&w);
  if (w.st != KP_OK) return w.st;
  kp_sha256_hex(out->data, out->len, key);
  return KP_OK;
}

kp_status_t kp_ooni_submit_body(const kp_json_t *m, const char *report_id, kp_buf_t *out) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "format", "json");
  kp_jw_key(&w, "content");
  kp_jw_obj_begin(&w);
  bool had = false;
  for (size_t i = 0; i < kp_json_len(m); i++) {
    const char *k = kp_json_key_at(m, i);
    kp_jw_key(&w, k);
    if (strcmp(k, "report_id") == 0) kp_jw_str(&w, report_id), had = true;
    else kp_jw_node(&w, kp_json_at(m, i));
  }
  if (!had) kp_jw_kstr(&w, "report_id", report_id);
  kp_jw_obj_end(&w);
  kp_jw_obj_end(&w);
  return w.st;
}

/* one record; KP_OK (delivered or refused), KP_ERR_BUSY (stop the run), other = broken run */
static kp_status_t one(orun_t *r, kp_outbox_t *ob, rstate_t *rs, const orec_t *rec) {
  kp_json_doc_t *d = NULL;
  kp_buf_t tb, bb;
  kp_buf_init(&tb, 1 << 16);
  kp_buf_init(&bb, rec->len * 2 + 4096);
  kp_status_t st = KP_OK;
  char key[65], rid[160], uid[160], url[2300];
  kp_msmt_meta_t mm;
  if (kp_json_parse(rec->msm, rec->len, NULL, &d, NULL) != KP_OK || !kp_msmt_meta(kp_json_root(d), &mm) ||
      !kp_msmt_valid_cc(mm.probe_cc) || !kp_msmt_valid_asn(mm.probe_asn) || kp_msmt_unattributed(mm.probe_cc, mm.probe_asn) ||
      kp_ooni_report_template(kp_json_root(d), &tb, key) != KP_OK) {
    kp_log_warnx("upload", "seq %llu not sent to OONI: no valid probe_cc/probe_asn (ZZ/AS0 are dropped by OONI) or template",
                 (unsigned long long)rec->seq);
    r->stats->rejected++;
    goto out;
  }
  const char *id = rs_find(rs, key);
  if (!id) {
    snprintf(url, sizeof url, "%s/report", r->base);
    if ((st = post(r, url, &tb)) != KP_OK) goto out;
    if (r->resp.status != 200 || answer_str(&r->resp, "report_id", rid, sizeof rid) != KP_OK) {
      kp_log_warnx("upload", "seq %llu: the collector refused to open a report (HTTP %d)", (unsigned long long)rec->seq,
                   r->resp.status);
      r->stats->rejected++;
      goto out;
    }
    if ((st = rs_append(rs, key, rid)) != KP_OK) goto out;
    id = rs_find(rs, key);
  }
  if ((st = kp_ooni_submit_body(kp_json_root(d), id, &bb)) != KP_OK) goto out;
  snprintf(url, sizeof url, "%s/report/%s", r->base, id);
  if ((st = post(r, url, &bb)) != KP_OK) goto out;
  if (r->resp.status == 200 && answer_str(&r->resp, "measurement_uid", uid, sizeof uid) == KP_OK) {
    r->stats->delivered++;
    st = kp_outbox_mark_delivered(ob, rec->seq, uid);
  } else {
    kp_log_warnx("upload", "seq %llu refused by the OONI collector (HTTP %d)", (unsigned long long)rec->seq,
                 r->resp.status);
    r->stats->rejected++;
  }
out:
  kp_json_doc_free(d);
  kp_buf_free(&tb);
  kp_buf_free(&bb);
  return st;
}

kp_status_t kp_outbox_upload_ooni(kp_outbox_t *ob, const kp_upload_cfg_t *cfg, kp_upload_stats_t *stats) {
  memset(stats, 0, sizeof *stats);
  if (!cfg->http || !cfg->url) return KP_ERR_INVAL;
  orun_t r = {.cfg = cfg, .stats = stats, .clk = cfg->clock ? cfg->clock : kp_clock_system(),
              .sleep_fn = cfg->sleep_ms ? cfg->sleep_ms : sleep_real,
              .max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 8};
  const char *u = strncmp(cfg->url, "ooni+", 5) == 0 ? cfg->url + 5 : cfg->url;
  size_t ul = strlen(u);
  while (ul && u[ul - 1] == '/') ul--;
  if (ul >= sizeof r.base) return KP_ERR_INVAL;
  memcpy(r.base, u, ul);
  r.base[ul] = 0;
  r.t0 = kp_now_mono(r.clk);
  r.rng = cfg->seed ? cfg->seed : (uint32_t)r.t0 ^ 0x5a5a5a5au;
  rstate_t rs = {0};
  olist_t l = {0};
  kp_status_t st = rs_load(&rs, kp_outbox_chain_path(ob));
  if (st == KP_OK) st = kp_outbox_list(ob, collect, &l);
  if (st == KP_OK) st = l.st;
  kp_httpc_resp_init(&r.resp);
  size_t i = 0;
  for (; st == KP_OK && i < l.n; i++) st = one(&r, ob, &rs, &l.v[i]);
  /* close the reports this outbox knows (legacy no-op on OONI's side; one try each, result ignored) */
  for (size_t k = 0; st == KP_OK && k < rs.n; k++) {
    char url[2300];
    snprintf(url, sizeof url, "%s/report/%s/close", r.base, rs.id[k]);
    kp_httpc_req_t q = {.method = "POST", .url = url, .body = "", .body_len = 0};
    (void)kp_httpc_do(cfg->http, &q, &r.resp);
  }
  kp_httpc_resp_free(&r.resp);
  stats->remaining = kp_outbox_pending(ob);
  for (size_t k = 0; k < l.n; k++) free(l.v[k].msm);
  free(l.v);
  free(rs.key);
  free(rs.id);
  if (st != KP_OK) return st;
  return stats->remaining ? KP_ERR_BUSY : KP_OK;
}
