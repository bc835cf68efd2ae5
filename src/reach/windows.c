/*
 * windows.c: windows of keepon_reach measurements (what the report and the demo check read).
 *
 * Measurements of the country are sorted by measurement_start_time; consecutive ones with the
 * same class (and access type) form one window. A window's "worked" list is the intersection of
 * the entries that answered in each of its measurements: what stayed reachable throughout, so
 * one lucky run does not put a service on the list. Pure; untrusted JSON goes through
 * kp_json_parse (bounded).
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/cursor.h"
#include "base/json.h"
#include "reach/reach.h"

typedef struct m {
  int64_t t;
  kp_reach_class_t cls;
  char cc[3], access[8];
  size_t nworked;
  char worked[KP_REACH_MAX][64];
} m_t;

static int cmp_m(const void *a, const void *b) {
  const m_t *x = a, *y = b;
  return x->t < y->t ? -1 : x->t > y->t;
}

static bool one(const char *p, size_t n, const char *cc, m_t *out) {
  kp_json_doc_t *doc = NULL;
  bool ok = false;
  if (kp_json_parse(p, n, NULL, &doc, NULL) != KP_OK) return false;
  const kp_json_t *o = kp_json_root(doc);
  const char *tn = kp_json_get_str(o, "test_name"), *mcc = kp_json_get_str(o, "probe_cc");
  const char *ts = kp_json_get_str(o, "measurement_start_time");
  const kp_json_t *tk = kp_json_get(o, "test_keys"), *rk = kp_json_get(tk, "keepon_reach");
  time_t t;
  if (!tn || strcmp(tn, "keepon_reach") || !mcc || strlen(mcc) != 2 || (cc && strcmp(cc, mcc)) || !ts ||
      kp_time_parse(ts, &t) != 0 || !kp_json_is(rk, KP_JSON_OBJECT))
    goto out;
  memset(out, 0, sizeof *out);
  out->t = (int64_t)t;
  memcpy(out->cc, mcc, 3);
  const char *acc = kp_json_get_str(tk, "keepon_access_type");
  if (acc && strlen(acc) < sizeof out->access) strcpy(out->access, acc);
  out->cls = kp_reach_class_parse(kp_json_get_str(rk, "class"));
  const kp_json_t *tg = kp_json_get(rk, "targets");
  for (size_t i = 0; i < kp_json_len(tg) && out->nworked < KP_REACH_MAX; i++) {
    const kp_json_t *x = kp_json_at(tg, i);
    const char *name = kp_json_get_str(x, "name");
    if (!name || strlen(name) >= 64 || !kp_json_truthy(kp_json_get(x, "ok"))) continue;
    strcpy(out->worked[out->nworked++], name);
  }
  ok = true;
out:
  kp_json_doc_free(doc);
  return ok;
}

static void intersect(kp_reach_window_t *w, const m_t *m) {
  size_t k = 0;
  for (size_t i = 0; i < w->nworked; i++) {
    bool in = false;
    for (size_t j = 0; j < m->nworked && !in; j++) in = !strcmp(w->worked[i], m->worked[j]);
    if (in) memmove(w->worked[k++], w->worked[i], 64);
  }
  w->nworked = k;
}

kp_status_t kp_reach_windows(const void *p, size_t n, const char *cc, kp_reach_windows_t *out) {
  memset(out, 0, sizeof *out);
  size_t cap = 0, nm = 0;
  m_t *ms = NULL;
  kp_status_t st = KP_OK;
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *l;
  size_t len;
  while (kp_cur_line(&c, &l, &len)) {
    if (len && memmem(l, len, "keepon_reach", 12)) {
      if (nm == cap) {
        m_t *v = realloc(ms, (cap ? 2 * cap : 16) * sizeof *v);
        if (!v) {
          st = KP_ERR_NOMEM;
          goto done;
        }
        ms = v;
        cap = cap ? 2 * cap : 16;
      }
      if (one((const char *)l, len, cc, &ms[nm])) nm++;
    }
  }
  if (!nm) goto done;
  qsort(ms, nm, sizeof *ms, cmp_m);
  out->v = calloc(nm, sizeof *out->v);
  if (!out->v) {
    st = KP_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < nm; i++) {
    kp_reach_window_t *w = out->n ? &out->v[out->n - 1] : NULL;
    if (w && w->cls == ms[i].cls && !strcmp(w->access, ms[i].access) && !strcmp(w->cc, ms[i].cc)) {
      w->end = ms[i].t;
      w->nmsmt++;
      intersect(w, &ms[i]);
      continue;
    }
    w = &out->v[out->n++];
    w->start = w->end = ms[i].t;
    w->cls = ms[i].cls;
    w->nmsmt = 1;
    memcpy(w->cc, ms[i].cc, 3);
    memcpy(w->access, ms[i].access, sizeof w->access);
    w->nworked = ms[i].nworked;
    memcpy(w->worked, ms[i].worked, sizeof w->worked);
  }
done:
  free(ms);
  if (st != KP_OK) kp_reach_windows_free(out);
  return st;
}

void kp_reach_windows_free(kp_reach_windows_t *w) {
  free(w->v);
  memset(w, 0, sizeof *w);
}

kp_status_t kp_reach_windows_json(const kp_reach_windows_t *w, kp_buf_t *out) {
  kp_jw_t j;
  kp_jw_init(&j, out);
  kp_jw_arr_begin(&j);
  for (size_t i = 0; i < w->n; i++) {
    const kp_reach_window_t *x = &w->v[i];
    kp_jw_obj_begin(&j);
    kp_jw_kint(&j, "start", x->start);
    kp_jw_kint(&j, "end", x->end);
    kp_jw_kstr(&j, "class", kp_reach_class_name(x->cls));
    kp_jw_kint(&j, "measurements", (int64_t)x->nmsmt);
    kp_jw_kstr(&j, "cc", x->cc);
    kp_jw_kstr(&j, "access_type", x->access[0] ? x->access : NULL);
    kp_jw_key(&j, "worked");
    kp_jw_arr_begin(&j);
    for (size_t k = 0; k < x->nworked; k++) kp_jw_str(&j, x->worked[k]);
    kp_jw_arr_end(&j);
    kp_jw_obj_end(&j);
  }
  kp_jw_arr_end(&j);
  return j.st;
}
