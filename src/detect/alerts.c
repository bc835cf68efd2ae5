/*
 * alerts.c: incident alerts and the webhook client.
 *
 * The alerter remembers (id, level, ongoing) per incident it has announced.
 * Each run's incident set is compared with that memory:
 *
 *   unknown id, ongoing          -> "open"
 *   unknown id, already ended    -> "open" then "close" (seen only after the fact)
 *   known, level differs         -> "level"
 *   known & ongoing, now ended   -> "close"
 *   known & ongoing, id vanished -> "close" (merged into another incident)
 *   known & closed, ongoing again -> "open" (more data continued it)
 *
 * Early warning rides the same stream (risk.c's rule over the same incident set), so a
 * campaigner's webhook hears "apps are blocked in KZ" before the cut, not only the cut:
 *
 *   unknown risk, no outage followed yet  -> "risk"           (level "shutdown risk")
 *   unknown risk, an outage already followed -> "risk" (seen only after the fact; followed_by set)
 *   known risk, an outage now follows it  -> "risk-followed"  (followed_by, lead_s)
 *   known risk, gone from the set         -> nothing (merged into an earlier episode; no all-clear
 *                                            is claimed that the data does not show)
 *
 * A risk is remembered by its id (<CC>-risk-<first precursor start>), the key kp_risk_json writes.
 *
 * The webhook is one POST per alert through the control-plane client (src/httpc:
 * https, --proxy, --ca-file like every other connection keepon makes); a 2xx is
 * delivery, any other answer or no answer is reported to the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "detect/detect.h"
#include "detect/internal.h"

typedef struct mem {
  char id[48];
  kp_level_t level;
  bool ongoing, seen;
  bool risk, followed; /* a risk entry, and whether its "risk-followed" went out */
} mem_t;

struct kp_alert_state { mem_t *v; size_t n, cap; };

kp_status_t kp_alert_state_new(kp_alert_state_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? KP_OK : KP_ERR_NOMEM;
}

void kp_alert_state_free(kp_alert_state_t *st) {
  if (!st) return;
  free(st->v);
  free(st);
}

static kp_status_t emit(kp_buf_t *out, const char *kind, const kp_incident_t *inc, const mem_t *m, size_t *count) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "keepon-alert");
  kp_jw_kstr(&w, "alert", kind);
  if (inc) {
    kp_jw_kstr(&w, "level", kind[0] == 'c' ? "normal" : kp_level_name(inc->level));
    kp_jw_key(&w, "incident");
    kp_incident_json(inc, &w);
  } else {
    kp_jw_kstr(&w, "level", "normal");
    kp_jw_kstr(&w, "incident_id", m->id);
    kp_jw_kstr(&w, "reason", "merged into another incident");
  }
  kp_jw_obj_end(&w);
  if (w.st != KP_OK) return w.st;
  (*count)++;
  return kp_buf_putc(out, '\n');
}

static mem_t *remember(kp_alert_state_t *st, const char *id) {
  if (st->n == st->cap) {
    size_t nc = st->cap ? st->cap * 2 : 16;
    mem_t *v = realloc(st->v, nc * sizeof *v);
    if (!v) return NULL;
    st->v = v;
    st->cap = nc;
  }
  mem_t *m = &st->v[st->n++];
  memset(m, 0, sizeof *m);
  snprintf(m->id, sizeof m->id, "%s", id);
  return m;
}

static kp_status_t emit_risk(kp_buf_t *out, const char *kind, const kp_risk_t *r, size_t *count) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "keepon-alert");
  kp_jw_kstr(&w, "alert", kind);
  kp_jw_kstr(&w, "level", "shutdown risk");
  kp_jw_key(&w, "risk");
  kp_risk_json(r, &w);
  kp_jw_obj_end(&w);
  if (w.st != KP_OK) return w.st;
  (*count)++;
  return kp_buf_putc(out, '\n');
}

/* the early-warning half of the diff (the state table above) */
static kp_status_t diff_risks(kp_alert_state_t *st, const kp_incset_t *now, kp_buf_t *out, size_t *count) {
  kp_risk_params_t p;
  kp_risk_params_default(&p);
  kp_risk_list_t rl = {0};
  kp_status_t r = kp_risk_assess(&p, now, &rl);
  for (size_t i = 0; i < rl.n && r == KP_OK; i++) {
    char id[48], stamp[24];
    time_t tt = (time_t)rl.v[i].start;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%dT%H%MZ", &tm)) stamp[0] = 0;
    snprintf(id, sizeof id, "%s-risk-%s", rl.v[i].cc, stamp); /* kp_risk_json's id */
    bool followed = rl.v[i].outage[0] != 0;
    mem_t *m = NULL;
    for (size_t k = 0; k < st->n && !m; k++)
      if (st->v[k].risk && !strcmp(st->v[k].id, id)) m = &st->v[k];
    if (!m) {
      if (!(m = remember(st, id))) { r = KP_ERR_NOMEM; break; }
      m->risk = true;
      m->followed = followed;
      r = emit_risk(out, "risk", &rl.v[i], count);
    } else if (followed && !m->followed) {
      m->followed = true;
      r = emit_risk(out, "risk-followed", &rl.v[i], count);
    }
  }
  kp_risks_free(&rl);
  return r;
}

kp_status_t kp_alerts_diff(kp_alert_state_t *st, const kp_incset_t *now, kp_buf_t *out, size_t *count) {
  *count = 0;
  kp_status_t r = KP_OK;
  for (size_t i = 0; i < st->n; i++) st->v[i].seen = false;
  for (size_t i = 0; i < kp_incset_count(now) && r == KP_OK; i++) {
    const kp_incident_t *inc = kp_incset_at(now, i);
    mem_t *m = NULL;
    for (size_t k = 0; k < st->n && !m; k++)
      if (!st->v[k].risk && !strcmp(st->v[k].id, inc->id)) m = &st->v[k];
    if (!m) {
      if (!(m = remember(st, inc->id))) return KP_ERR_NOMEM;
      m->level = inc->level;
      m->ongoing = inc->ongoing;
      m->seen = true;
      r = emit(out, "open", inc, m, count);
      if (r == KP_OK && !inc->ongoing) r = emit(out, "close", inc, m, count);
      continue;
    }
    m->seen = true;
    if (!m->ongoing) {
      if (inc->ongoing) { /* data arrived that continues it (a curfew's next window): reopen */
        r = emit(out, "open", inc, m, count);
        m->level = inc->level;
        m->ongoing = true;
      }
      continue;
    }
    if (inc->level != m->level) r = emit(out, "level", inc, m, count);
    if (r == KP_OK && !inc->ongoing) r = emit(out, "close", inc, m, count);
    m->level = inc->level;
    m->ongoing = inc->ongoing;
  }
  for (size_t i = 0; i < st->n && r == KP_OK; i++) {
    if (st->v[i].risk || st->v[i].seen || !st->v[i].ongoing) continue;
    r = emit(out, "close", NULL, &st->v[i], count);
    st->v[i].ongoing = false;
  }
  if (r == KP_OK) r = diff_risks(st, now, out, count);
  return r;
}

kp_status_t kp_webhook_post(kp_httpc_t *http, const char *url, const void *body, size_t n, int timeout_ms,
                            int *http_code) {
  *http_code = 0;
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  kp_httpc_req_t q = {.method = "POST", .url = url, .body = body ? body : "", .body_len = n, .timeout_ms = timeout_ms};
  kp_status_t st = kp_httpc_do(http, &q, &r);
  if (st == KP_OK) {
    *http_code = r.status;
    st = r.status >= 200 && r.status < 300 ? KP_OK : KP_ERR_PERM;
  }
  kp_httpc_resp_free(&r);
  return st;
}
