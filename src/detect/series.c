/*
 * series.c: the signal set. Points arrive in any order (several files, tails);
 * each (entity_type, entity_code, datasource) keeps its raw points until
 * kp_sigset_finalize() lays them out as one dense series.
 *
 * Invariants:
 *   - a series' key is unique (open-addressing hash over the key string);
 *   - raw points keep arrival order (seq) so "last value wins" for a bin that
 *     two signal points fill; measurement points accumulate (count, failed);
 *   - a dense series spans [t0, t0 + n*step) with n <= KP_SERIES_MAX_BINS;
 *     its step is the smallest step seen and t0 is a multiple of it;
 *   - evidence is capped per series (KP_SERIES_MAX_EV) so a flood of
 *     measurements cannot grow the incident list without bound.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/cursor.h"
#include "base/ioda.h"
#include "base/json.h"
#include "detect/detect.h"

#define KP_SERIES_MAX_BINS ((size_t)1 << 22)
#define KP_SERIES_MAX_EV 20000
#define KP_SIGSET_MAX_SERIES 200000
#define KP_SIGSET_MAX_TOTAL_BINS ((size_t)1 << 28) /* all dense series together (~2 GiB of values) */

typedef struct raw_pt {
  int64_t t, step;
  double value;
  int64_t n, fail;
  bool has, msm;
} raw_pt_t;

typedef struct raw_tech { int64_t t; char name[KP_DET_TECH_MAX]; int64_t count; } raw_tech_t;
typedef struct raw_ev { int64_t t; char uid[KP_DET_UID_MAX]; char sha256[65]; } raw_ev_t;

typedef struct ser {
  kp_series_t pub;
  raw_pt_t *pts; size_t npts, cpts;
  raw_tech_t *tech; size_t ntech, ctech;
  raw_ev_t *ev; size_t nev, cev;
  bool dirty;
} ser_t;

struct kp_sigset {
  int64_t probe_step;
  char default_cc[3];
  ser_t **v; size_t n, cap;
  size_t *tab; size_t tabcap; /* index+1, 0 = empty */
};

static kp_status_t grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return KP_OK;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *q = realloc(*p, nc * elem);
  if (!q) return KP_ERR_NOMEM;
  *p = q;
  *cap = nc;
  return KP_OK;
}

static uint64_t hkey(const char *a, const char *b, const char *c) {
  uint64_t h = 1469598103934665603ULL;
  const char *parts[3] = {a, b, c};
  for (int i = 0; i < 3; i++) {
    for (const char *s = parts[i]; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
  }
  return h;
}

kp_status_t kp_sigset_new(int64_t probe_step, kp_sigset_t **out) {
  kp_sigset_t *s = calloc(1, sizeof *s);
  if (!s) return KP_ERR_NOMEM;
  s->probe_step = probe_step > 0 ? probe_step : 3600;
  *out = s;
  return KP_OK;
}

void kp_sigset_set_default_cc(kp_sigset_t *s, const char *cc) {
  s->default_cc[0] = 0;
  if (cc && strlen(cc) == 2) memcpy(s->default_cc, cc, 3);
}

void kp_sigset_free(kp_sigset_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    ser_t *e = s->v[i];
    free(e->pts); free(e->tech); free(e->ev);
    free(e->pub.v); free(e->pub.cnt); free(e->pub.tech); free(e->pub.ev);
    free(e);
  }
  free(s->v);
  free(s->tab);
  free(s);
}

static ser_t **slot(const kp_sigset_t *s, const char *et, const char *code, const char *ds) {
  if (!s->tabcap) return NULL;
  size_t i = hkey(et, code, ds) & (s->tabcap - 1);
  for (;; i = (i + 1) & (s->tabcap - 1)) {
    if (!s->tab[i]) return NULL;
    ser_t *e = s->v[s->tab[i] - 1];
    if (!strcmp(e->pub.entity_type, et) && !strcmp(e->pub.entity_code, code) && !strcmp(e->pub.datasource, ds))
      return &s->v[s->tab[i] - 1];
  }
}

static kp_status_t rehash(kp_sigset_t *s, size_t cap) {
  size_t *t = calloc(cap, sizeof *t);
  if (!t) return KP_ERR_NOMEM;
  for (size_t k = 0; k < s->n; k++) {
    kp_series_t *p = &s->v[k]->pub;
    size_t i = hkey(p->entity_type, p->entity_code, p->datasource) & (cap - 1);
    while (t[i]) i = (i + 1) & (cap - 1);
    t[i] = k + 1;
  }
  free(s->tab);
  s->tab = t;
  s->tabcap = cap;
  return KP_OK;
}

static kp_status_t get_ser(kp_sigset_t *s, const char *et, const char *code, const char *ds, const char *cc,
                           ser_t **out) {
  ser_t **e = slot(s, et, code, ds);
  if (e) {
    if (cc && cc[0] && !(*e)->pub.cc[0]) memcpy((*e)->pub.cc, cc, 3);
    *out = *e;
    return KP_OK;
  }
  if (strlen(et) >= KP_DET_ETYPE_MAX || strlen(code) >= KP_DET_CODE_MAX || strlen(ds) >= KP_DET_DS_MAX)
    return KP_ERR_RANGE;
  if (s->n >= KP_SIGSET_MAX_SERIES) return KP_ERR_NOMEM;
  if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v) != KP_OK) return KP_ERR_NOMEM;
  if ((s->n + 1) * 2 > s->tabcap && rehash(s, s->tabcap ? s->tabcap * 2 : 64) != KP_OK) return KP_ERR_NOMEM;
  ser_t *n = calloc(1, sizeof *n);
  if (!n) return KP_ERR_NOMEM;
  strcpy(n->pub.entity_type, et);
  strcpy(n->pub.entity_code, code);
  strcpy(n->pub.datasource, ds);
  if (cc && cc[0]) memcpy(n->pub.cc, cc, 3);
  if (!strcmp(et, "country") && strlen(code) == 2) memcpy(n->pub.cc, code, 3);
  if ((!strcmp(et, "region") || !strcmp(et, "domain")) && strlen(code) > 3 && code[2] == '/' && !n->pub.cc[0]) {
    memcpy(n->pub.cc, code, 2);
    n->pub.cc[2] = 0;
  }
  s->v[s->n++] = n;
  kp_status_t st = rehash(s, s->tabcap); /* cheap enough: series are few relative to points */
  if (st != KP_OK) return st;
  *out = n;
  return KP_OK;
}

static kp_status_t add_raw(ser_t *e, const raw_pt_t *p) {
  if (e->npts >= KP_SERIES_MAX_BINS * 4) return KP_ERR_NOMEM;
  if (grow((void **)&e->pts, &e->cpts, e->npts + 1, sizeof *e->pts) != KP_OK) return KP_ERR_NOMEM;
  e->pts[e->npts++] = *p;
  e->dirty = true;
  return KP_OK;
}

static kp_status_t add_tech(ser_t *e, int64_t t, const char *name, int64_t count) {
  if (grow((void **)&e->tech, &e->ctech, e->ntech + 1, sizeof *e->tech) != KP_OK) return KP_ERR_NOMEM;
  raw_tech_t *r = &e->tech[e->ntech++];
  r->t = t;
  snprintf(r->name, sizeof r->name, "%s", name);
  r->count = count;
  return KP_OK;
}

kp_status_t kp_sigset_add_point(kp_sigset_t *s, const kp_signal_point_t *pt) {
  ser_t *e;
  kp_status_t st = get_ser(s, pt->entity_type, pt->entity_code, pt->datasource, pt->cc, &e);
  if (st != KP_OK) return st;
  raw_pt_t r = {.t = pt->t, .step = pt->step, .value = pt->value, .has = pt->has_value, .n = pt->n};
  if ((st = add_raw(e, &r)) != KP_OK) return st;
  for (size_t i = 0; i < pt->ntech; i++)
    if ((st = add_tech(e, pt->t, pt->tech[i].name, pt->tech[i].count)) != KP_OK) return st;
  return KP_OK;
}

static kp_status_t msm_into_step(kp_sigset_t *s, const kp_msm_t *m, const char *et, const char *code, const char *ds,
                                 int64_t step) {
  ser_t *e;
  kp_status_t st = get_ser(s, et, code, ds, m->cc, &e);
  if (st != KP_OK) return st;
  int64_t t = m->t - m->t % step;
  raw_pt_t r = {.t = t, .step = step, .n = 1, .fail = m->failed, .has = true, .msm = true};
  if ((st = add_raw(e, &r)) != KP_OK) return st;
  if (m->failed && m->technique[0] && (st = add_tech(e, t, m->technique, 1)) != KP_OK) return st;
  if (m->failed && e->nev < KP_SERIES_MAX_EV) {
    if (grow((void **)&e->ev, &e->cev, e->nev + 1, sizeof *e->ev) != KP_OK) return KP_ERR_NOMEM;
    raw_ev_t *v = &e->ev[e->nev++];
    v->t = t;
    memcpy(v->uid, m->uid, sizeof v->uid);
    memcpy(v->sha256, m->sha256, sizeof v->sha256);
  }
  return KP_OK;
}

static kp_status_t msm_into(kp_sigset_t *s, const kp_msm_t *m, const char *et, const char *code, const char *ds) {
  return msm_into_step(s, m, et, code, ds, s->probe_step);
}

/* The access split (docs/detect.md "Mobile and fixed"): a measurement whose probe knows its
 * access type also lands in entity "access" CC/mobile|fixed: its probe-<test> series (the same
 * failure rate as the country's) and "access-down", the share of its measurements whose
 * network was down (keepon_technique network_down), in hourly bins (finer than probe bins: the
 * hour a network went down is the finding). Country, asn and domain series are unchanged. */
static kp_status_t access_into(kp_sigset_t *s, const kp_msm_t *m, const char *ds) {
  char code[KP_DET_CODE_MAX];
  if (!m->access[0]) return KP_OK;
  snprintf(code, sizeof code, "%s/%s", m->cc, m->access);
  kp_status_t st = ds ? msm_into(s, m, "access", code, ds) : KP_OK;
  if (st != KP_OK) return st;
  kp_msm_t d = *m;
  d.failed = m->net_down;
  strcpy(d.technique, m->net_down ? "network_down" : "");
  return msm_into_step(s, &d, "access", code, KP_ACCESS_DS, s->probe_step < 3600 ? s->probe_step : 3600);
}

kp_status_t kp_sigset_add_netdown(kp_sigset_t *s, const kp_msm_t *m) {
  return m->net_down ? access_into(s, m, NULL) : KP_OK;
}

kp_status_t kp_sigset_add_msm(kp_sigset_t *s, const kp_msm_t *m) {
  char ds[KP_DET_DS_MAX], code[KP_DET_CODE_MAX];
  bool web = strcmp(m->test_name, "web_connectivity") == 0;
  snprintf(ds, sizeof ds, "probe-%s", web ? "web" : m->test_name);
  kp_status_t st = msm_into(s, m, "country", m->cc, ds);
  if (st == KP_OK && m->asn[0]) st = msm_into(s, m, "asn", m->asn, ds);
  if (st == KP_OK) st = access_into(s, m, ds);
  if (st == KP_OK && web && m->domain[0]) {
    if (snprintf(code, sizeof code, "%s/%s", m->cc, m->domain) >= (int)sizeof code) return KP_OK;
    st = msm_into(s, m, "domain", code, ds);
  }
  return st;
}

static void note_bad(kp_read_stats_t *st, size_t line) {
  st->bad++;
  if (st->nfirst_bad < sizeof st->first_bad / sizeof st->first_bad[0]) st->first_bad[st->nfirst_bad++] = line;
}

kp_status_t kp_sigset_add_jsonl(kp_sigset_t *s, const void *p, size_t n, kp_read_stats_t *st) {
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *l;
  size_t len;
  while (kp_cur_line(&c, &l, &len)) {
    const char *q = (const char *)l;
    st->lines++;
    size_t lineno = st->lines;
    while (len && (q[len - 1] == '\r' || q[len - 1] == ' ' || q[len - 1] == '\t')) len--;
    if (len == 0) continue;
    if (len > KP_DET_LINE_MAX) { note_bad(st, lineno); continue; }
    /* cheap sniff: a signal point names its type; anything else is tried as a measurement */
    kp_status_t r;
    bool sig = memmem(q, len, "\"type\"", 6) && memmem(q, len, "\"signal\"", 8);
    if (sig) {
      kp_signal_point_t pt;
      r = kp_signal_parse(q, len, &pt);
      if (r == KP_OK) {
        r = kp_sigset_add_point(s, &pt);
        if (r == KP_ERR_NOMEM) return r;
        if (r == KP_OK) { st->signals++; continue; }
      }
      if (r != KP_ERR_INVAL && r != KP_ERR_RANGE && r != KP_ERR_TRUNC) return r;
    }
    kp_msm_t m;
    r = kp_msm_parse(q, len, &m);
    if (r == KP_OK) {
      if ((r = kp_sigset_add_msm(s, &m)) == KP_ERR_NOMEM) return r;
      st->measurements++;
      continue;
    }
    if (r == KP_ERR_NOTFOUND) { /* no verdict: not counted in rates, but a down network counts per access */
      if ((r = kp_sigset_add_netdown(s, &m)) == KP_ERR_NOMEM) return r;
      st->measurements++;
      continue;
    }
    if (r == KP_ERR_NOMEM && len < (1u << 20)) return r;
    note_bad(st, lineno);
  }
  return KP_OK;
}

static kp_status_t finalize_one(ser_t *e) {
  kp_series_t *p = &e->pub;
  free(p->v); free(p->cnt); free(p->tech); free(p->ev);
  p->v = NULL; p->cnt = NULL; p->tech = NULL; p->ev = NULL;
  p->n = p->ntech = p->nev = 0;
  e->dirty = false;
  if (!e->npts) return KP_OK;
  int64_t step = 0, tmin = INT64_MAX, tmax = INT64_MIN;
  bool any_msm = false;
  for (size_t i = 0; i < e->npts; i++) {
    const raw_pt_t *r = &e->pts[i];
    if (!step || r->step < step) step = r->step;
    if (r->t < tmin) tmin = r->t;
    if (r->t > tmax) tmax = r->t;
    any_msm |= r->msm || r->n > 0;
  }
  int64_t t0 = tmin - (tmin % step);
  size_t n = (size_t)((tmax - t0) / step) + 1;
  if (n > KP_SERIES_MAX_BINS) return KP_ERR_RANGE;
  /* points are placed by bin in arrival order, so no sort is needed */
  p->v = malloc(n * sizeof *p->v);
  int64_t *fail = calloc(n, sizeof *fail);
  if (any_msm) p->cnt = calloc(n, sizeof *p->cnt);
  if (!p->v || !fail || (any_msm && !p->cnt)) { free(fail); return KP_ERR_NOMEM; }
  for (size_t i = 0; i < n; i++) p->v[i] = NAN;
  bool *msmbin = calloc(n, sizeof *msmbin);
  if (!msmbin) { free(fail); return KP_ERR_NOMEM; }
  for (size_t i = 0; i < e->npts; i++) { /* arrival order: last signal value wins */
    const raw_pt_t *r = &e->pts[i];
    size_t b = (size_t)((r->t - t0) / step);
    if (r->msm) {
      msmbin[b] = true;
      p->cnt[b] += r->n;
      fail[b] += r->fail;
    } else if (r->has) {
      p->v[b] = r->value;
      if (p->cnt && r->n > 0) p->cnt[b] = r->n;
    }
  }
  for (size_t b = 0; b < n; b++)
    if (msmbin[b] && p->cnt[b] > 0) p->v[b] = 1000.0 * (double)fail[b] / (double)p->cnt[b];
  free(msmbin);
  free(fail);
  p->t0 = t0;
  p->step = step;
  p->n = n;
  /* techniques: merge (bin, name) */
  if (e->ntech) {
    p->tech = calloc(e->ntech, sizeof *p->tech);
    if (!p->tech) return KP_ERR_NOMEM;
    for (size_t i = 0; i < e->ntech; i++) {
      size_t b = (size_t)((e->tech[i].t - t0) / step);
      size_t j = 0;
      for (j = p->ntech; j > 0; j--) {
        kp_tech_count_t *c = &p->tech[j - 1];
        if (c->bin != b) { j = 0; break; }
        if (!strcmp(c->name, e->tech[i].name)) break;
      }
      if (j > 0) { p->tech[j - 1].count += e->tech[i].count; continue; }
      p->tech[p->ntech].bin = b;
      memcpy(p->tech[p->ntech].name, e->tech[i].name, KP_DET_TECH_MAX);
      p->tech[p->ntech++].count = e->tech[i].count;
    }
  }
  if (e->nev) {
    p->ev = calloc(e->nev, sizeof *p->ev);
    if (!p->ev) return KP_ERR_NOMEM;
    for (size_t i = 0; i < e->nev; i++) {
      p->ev[i].bin = (size_t)((e->ev[i].t - t0) / step);
      memcpy(p->ev[i].uid, e->ev[i].uid, KP_DET_UID_MAX);
      memcpy(p->ev[i].sha256, e->ev[i].sha256, 65);
    }
    p->nev = e->nev;
  }
  return KP_OK;
}

static int cmp_tech(const void *a, const void *b) {
  const kp_tech_count_t *x = a, *y = b;
  if (x->bin != y->bin) return x->bin < y->bin ? -1 : 1;
  return strcmp(x->name, y->name);
}
static int cmp_ev(const void *a, const void *b) {
  const kp_evidence_t *x = a, *y = b;
  if (x->bin != y->bin) return x->bin < y->bin ? -1 : 1;
  return strcmp(x->uid, y->uid);
}
static int cmp_ser(const void *a, const void *b) {
  const kp_series_t *x = &(*(ser_t *const *)a)->pub, *y = &(*(ser_t *const *)b)->pub;
  int c = strcmp(x->entity_type, y->entity_type);
  if (!c) c = strcmp(x->entity_code, y->entity_code);
  if (!c) c = strcmp(x->datasource, y->datasource);
  return c;
}

kp_status_t kp_sigset_finalize(kp_sigset_t *s) {
  size_t total = 0;
  for (size_t i = 0; i < s->n; i++) {
    ser_t *e = s->v[i];
    if (!e->dirty) {
      total += e->pub.n;
      continue;
    }
    kp_status_t st = finalize_one(e);
    if (st != KP_OK) return st;
    if (!e->pub.cc[0] && s->default_cc[0]) memcpy(e->pub.cc, s->default_cc, 3);
    total += e->pub.n;
    if (total > KP_SIGSET_MAX_TOTAL_BINS) return KP_ERR_RANGE; /* sparse hostile spans: refuse, don't swap */
    if (e->pub.ntech) {
      /* finalize_one merges a (bin, name) only with the run of its own bin at the end; records in
         no time order (probe runs appended out of order) leave repeats: one entry per (bin, name),
         or the points written from it carry a duplicate key (which serve rightly refuses) */
      qsort(e->pub.tech, e->pub.ntech, sizeof *e->pub.tech, cmp_tech);
      size_t k = 0;
      for (size_t q = 0; q < e->pub.ntech; q++) {
        if (k && !cmp_tech(&e->pub.tech[k - 1], &e->pub.tech[q])) e->pub.tech[k - 1].count += e->pub.tech[q].count;
        else e->pub.tech[k++] = e->pub.tech[q];
      }
      e->pub.ntech = k;
    }
    if (e->pub.nev) qsort(e->pub.ev, e->pub.nev, sizeof *e->pub.ev, cmp_ev);
  }
  /* deterministic order for every consumer (report, JSON): by key */
  if (s->n) qsort(s->v, s->n, sizeof *s->v, cmp_ser);
  return s->n ? rehash(s, s->tabcap) : KP_OK;
}

size_t kp_sigset_count(const kp_sigset_t *s) { return s->n; }
const kp_series_t *kp_sigset_at(const kp_sigset_t *s, size_t i) { return i < s->n ? &s->v[i]->pub : NULL; }

const kp_series_t *kp_sigset_find(const kp_sigset_t *s, const char *et, const char *code, const char *ds) {
  ser_t **e = slot(s, et, code, ds);
  return e ? &(*e)->pub : NULL;
}

const char *kp_sigset_cc_of(const kp_sigset_t *s, const char *et, const char *code) {
  for (size_t i = 0; i < s->n; i++) {
    const kp_series_t *p = &s->v[i]->pub;
    if (p->cc[0] && !strcmp(p->entity_type, et) && !strcmp(p->entity_code, code)) return p->cc;
  }
  return NULL;
}

kp_status_t kp_sigset_write_probe_points(const kp_sigset_t *s, kp_buf_t *out) {
  for (size_t i = 0; i < s->n; i++) {
    const kp_series_t *p = &s->v[i]->pub;
    if ((strncmp(p->datasource, "probe-", 6) != 0 && strcmp(p->datasource, KP_ACCESS_DS) != 0) || !p->cnt) continue;
    size_t ti = 0;
    for (size_t b = 0; b < p->n; b++) {
      if (p->cnt[b] <= 0 || isnan(p->v[b])) continue;
      kp_jw_t w;
      kp_jw_init(&w, out);
      kp_jw_obj_begin(&w);
      kp_jw_kstr(&w, "type", "signal");
      kp_jw_kstr(&w, "entity_type", p->entity_type);
      kp_jw_kstr(&w, "entity_code", p->entity_code);
      kp_jw_kstr(&w, "datasource", p->datasource);
      kp_jw_kint(&w, "t", p->t0 + (int64_t)b * p->step);
      kp_jw_kint(&w, "step", p->step);
      kp_jw_kint(&w, "value", (int64_t)llround(p->v[b]));
      kp_jw_kint(&w, "n", p->cnt[b]);
      if (p->cc[0]) kp_jw_kstr(&w, "cc", p->cc);
      while (ti < p->ntech && p->tech[ti].bin < b) ti++;
      if (ti < p->ntech && p->tech[ti].bin == b) {
        kp_jw_key(&w, "techniques");
        kp_jw_obj_begin(&w);
        for (; ti < p->ntech && p->tech[ti].bin == b; ti++) kp_jw_kint(&w, p->tech[ti].name, p->tech[ti].count);
        kp_jw_obj_end(&w);
      }
      kp_jw_obj_end(&w);
      if (w.st != KP_OK) return w.st;
      kp_status_t st = kp_buf_putc(out, '\n');
      if (st != KP_OK) return st;
    }
  }
  return KP_OK;
}

kp_status_t kp_sigset_signals_raw(const kp_sigset_t *s, const char *et, const char *code, const char *ds,
                                  int64_t from, int64_t until, kp_buf_t *out) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  /* no request behind it: both times are the window's end, so the output is reproducible */
  kp_ioda_signals_params_t rp = {.from = from, .until = until, .datasource = ds};
  kp_ioda_env_begin(&w, "signals", until, until, &rp, NULL);
  kp_jw_arr_begin(&w);
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < s->n; i++) {
    const kp_series_t *p = &s->v[i]->pub;
    if (strcmp(p->entity_type, et) || strcmp(p->entity_code, code)) continue;
    if (ds && strcmp(p->datasource, ds)) continue;
    int64_t a = from > p->t0 ? from : p->t0, end = p->t0 + (int64_t)p->n * p->step;
    int64_t z = until < end ? until : end;
    size_t b0 = a > p->t0 ? (size_t)((a - p->t0 + p->step - 1) / p->step) : 0;
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "entityType", et);
    kp_jw_kstr(&w, "entityCode", kp_ioda_code_out(et, code));
    kp_jw_kstr(&w, "entityName", code);
    kp_jw_kstr(&w, "datasource", p->datasource);
    kp_jw_kstr(&w, "subtype", "");
    kp_jw_kint(&w, "from", p->t0 + (int64_t)b0 * p->step);
    kp_jw_kint(&w, "until", z > a ? z : a);
    kp_jw_kint(&w, "step", p->step);
    kp_jw_kint(&w, "nativeStep", p->step);
    kp_jw_key(&w, "values");
    kp_jw_arr_begin(&w);
    for (size_t b = b0; b < p->n && p->t0 + (int64_t)b * p->step < z; b++) {
      double x = p->v[b];
      if (isnan(x)) kp_jw_null(&w);
      else if (x == floor(x) && fabs(x) < 9e15) kp_jw_int(&w, (int64_t)x);
      else kp_jw_double(&w, x);
    }
    kp_jw_arr_end(&w);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_arr_end(&w);
  kp_ioda_env_end(&w);
  return w.st;
}
