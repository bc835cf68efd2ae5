/*
 * ioda.c: IODA's alert rule as CAIDA watchtower-sentry implements it, the
 * detector configuration, the event list and the detector driver.
 *
 * Per bin (missing bins are skipped entirely: no verdict, history untouched):
 *   history has < warmup values        -> no verdict, push value
 *   prediction = nearest-rank median of the last `history` pushed values
 *   prediction < minprediction          -> no verdict, push value
 *   ratio = value / prediction -> CRITICAL (< critical), WARNING (< warning), NORMAL
 *   ratio outside [inpaint_lo, inpaint_hi] -> push the PREDICTION (inpainting:
 *        an outage does not teach the history), else push the value.
 *   `maxduration` of continuous inpainting -> the new level is accepted: the
 *        history is rebuilt from the actual values seen while inpainting.
 *
 * Events (state diagram):
 *     NORMAL --non-normal--> PENDING --lasts minduration--> OPEN --normal--> NORMAL (emit)
 *        ^                      |                            | data ends -> emit, ongoing
 *        +-------normal---------+ (too short: dropped)
 *   score = Σ drop% × minutes over the event's bins; drop% = |h - v| / max(h, v) × 100.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "detect/internal.h"

const char *kp_level_name(kp_level_t l) {
  switch (l) {
  case KP_LVL_WARNING: return "warning";
  case KP_LVL_CRITICAL: return "critical";
  default: return "normal";
  }
}

int64_t kp_span_bins(kp_span_t s, int64_t step) {
  if (s.bins || step <= 0) return s.v;
  return (s.v + step - 1) / step;
}

int kp_span_parse(const char *s, kp_span_t *out) {
  char *end;
  if (!s || !*s) return -1;
  long long v = strtoll(s, &end, 10);
  if (end == s || v < 0 || v > 100LL * 365 * 86400) return -1;
  long long mul = 1;
  bool bins = false;
  if (!strcmp(end, "") || !strcmp(end, "s")) mul = 1;
  else if (!strcmp(end, "m")) mul = 60;
  else if (!strcmp(end, "h")) mul = 3600;
  else if (!strcmp(end, "d")) mul = 86400;
  else if (!strcmp(end, "b")) bins = true;
  else return -1;
  out->v = v * mul;
  out->bins = bins;
  return 0;
}

void kp_detect_cfg_default(kp_detect_cfg_t *c) {
  memset(c, 0, sizeof *c);
  kp_ioda_params_t base = {
      .warmup = {3600, false}, .maxduration = {7 * 86400, false}, .minduration = {60, false},
      .minprediction = 20, .inpaint_lo = 0.8, .inpaint_hi = 2.0};
  c->bgp = base;
  c->bgp.warning = 0.99;
  c->bgp.critical = 0.5;
  c->bgp.history = (kp_span_t){86400, false};
  c->active = base;
  c->active.warning = 0.8;
  c->active.critical = 0.5;
  c->active.history = (kp_span_t){7 * 86400, false};
  c->other = c->active;
  c->cusum = (kp_cusum_params_t){.k = 0.15, .h = 2.0, .baseline = 0.05, .min_count = 1};
  c->curfew = (kp_curfew_params_t){.min_windows = 3, .max_up_s = 20 * 3600, .min_up_s = 1800,
                                   .max_cycle_s = 36 * 3600, .tod_tol_s = 3600};
  c->merge_gap_s = 3600;
}

void kp_events_free(kp_event_list_t *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].win);
    free(l->v[i].up);
  }
  free(l->v);
  memset(l, 0, sizeof *l);
}

kp_status_t kp_events_push(kp_event_list_t *l, const kp_event_t *e) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 16;
    kp_event_t *v = realloc(l->v, nc * sizeof *v);
    if (!v) return KP_ERR_NOMEM;
    l->v = v;
    l->cap = nc;
  }
  l->v[l->n++] = *e;
  return KP_OK;
}

kp_status_t kp_ioda_levels(const kp_ioda_params_t *p, const double *v, size_t n, int64_t step, int8_t *lvl,
                           double *pred) {
  int64_t hb = kp_span_bins(p->history, step), wb = kp_span_bins(p->warmup, step);
  int64_t mb = kp_span_bins(p->maxduration, step);
  if (hb > (int64_t)n) hb = (int64_t)n; /* a window longer than the series never fills */
  if (hb < 1) hb = 1;
  if (wb > hb) wb = hb;
  kp_median_t *m = NULL;
  kp_status_t st = kp_median_new((size_t)hb, &m);
  if (st != KP_OK) return st;
  double *recent = malloc((size_t)hb * sizeof *recent); /* ring of actual values while inpainting */
  if (!recent) {
    kp_median_free(m);
    return KP_ERR_NOMEM;
  }
  int64_t inpaint = 0;
  for (size_t i = 0; i < n; i++) {
    double x = v[i];
    lvl[i] = -1;
    if (pred) pred[i] = NAN;
    if (isnan(x)) continue;
    if ((int64_t)kp_median_count(m) < (wb > 0 ? wb : 1)) {
      kp_median_push(m, x);
      continue;
    }
    double h = kp_median_get(m);
    if (pred) pred[i] = h;
    if (h < p->minprediction || h <= 0) {
      kp_median_push(m, x);
      inpaint = 0;
      continue;
    }
    double r = x / h;
    lvl[i] = r < p->critical ? KP_LVL_CRITICAL : r < p->warning ? KP_LVL_WARNING : KP_LVL_NORMAL;
    if (r < p->inpaint_lo || r > p->inpaint_hi) {
      recent[inpaint % hb] = x;
      inpaint++;
      kp_median_push(m, h);
      if (mb > 0 && inpaint >= mb) { /* a new normal: rebuild history from what was seen */
        kp_median_clear(m);
        int64_t k = inpaint < hb ? inpaint : hb;
        for (int64_t j = inpaint - k; j < inpaint; j++) kp_median_push(m, recent[j % hb]);
        inpaint = 0;
      }
    } else {
      inpaint = 0;
      kp_median_push(m, x);
    }
  }
  free(recent);
  kp_median_free(m);
  return KP_OK;
}

/* Turn per-bin verdicts into events (the state diagram above). */
static kp_status_t levels_to_events(const kp_ioda_params_t *p, const double *v, const int8_t *lvl,
                                    const double *pred, size_t n, int64_t t0, int64_t step,
                                    const kp_series_t *s, kp_event_list_t *out) {
  int64_t mind = kp_span_bins(p->minduration, step);
  if (mind < 1) mind = 1;
  kp_event_t e;
  bool in = false;
  int64_t bad = 0;
  size_t last = 0;
  for (size_t i = 0; i <= n; i++) {
    int l = i < n ? lvl[i] : KP_LVL_NORMAL;
    if (i < n && l < 0) continue;
    if (l > KP_LVL_NORMAL) {
      if (!in) {
        memset(&e, 0, sizeof e);
        e.series = s;
        e.detector = "ioda";
        e.start = t0 + (int64_t)i * step;
        bad = 0;
        in = true;
      }
      bad++;
      last = i;
      if (l > (int)e.level) e.level = (kp_level_t)l;
      double d = fabs(pred[i] - v[i]) / fmax(pred[i], v[i]) * 100.0;
      e.score += d * (double)step / 60.0;
      if (d > e.max_drop || bad == 1) {
        e.max_drop = d;
        e.value = v[i];
        e.history = pred[i];
      }
      continue;
    }
    if (in) { /* a normal bin, or the end of the data */
      in = false;
      if (bad < mind) continue;
      e.end = i < n ? t0 + (int64_t)i * step : t0 + (int64_t)(last + 1) * step;
      kp_status_t st = kp_events_push(out, &e);
      if (st != KP_OK) return st;
    }
  }
  return KP_OK;
}

static kp_status_t ioda_array(const kp_ioda_params_t *p, const double *v, size_t n, int64_t t0, int64_t step,
                              const kp_series_t *s, kp_event_list_t *out) {
  if (n == 0) return KP_OK;
  int8_t *lvl = malloc(n);
  double *pred = malloc(n * sizeof *pred);
  kp_status_t st = KP_ERR_NOMEM;
  if (lvl && pred && (st = kp_ioda_levels(p, v, n, step, lvl, pred)) == KP_OK)
    st = levels_to_events(p, v, lvl, pred, n, t0, step, s, out);
  free(lvl);
  free(pred);
  return st;
}

kp_status_t kp_ioda_run(const kp_ioda_params_t *p, const double *v, size_t n, int64_t t0, int64_t step,
                        kp_event_list_t *out) {
  return ioda_array(p, v, n, t0, step, NULL, out);
}

const kp_ioda_params_t *kp_detect_params_for(const kp_detect_cfg_t *c, const kp_series_t *s) {
  if (!strncmp(s->datasource, "bgp", 3)) return &c->bgp;
  if (!strncmp(s->datasource, "ping-slash24", 12)) return &c->active;
  return &c->other;
}

/* the IODA rule watches level signals: everything except probe failure rates, update counts and
 * the collector's annotations of merged watch vantages (vantage-agreement: how many vantages
 * agree is not a level of the network; a vantage fault must never become an outage event) */
static bool ioda_applies(const kp_series_t *s) {
  return !kp_det_is_service_ds(s->datasource) && strcmp(s->datasource, "bgp-updates") != 0 &&
         strncmp(s->datasource, "vantage-", 8) != 0;
}

static kp_status_t ioda_detector_run(const kp_detect_cfg_t *c, const kp_series_t *s, kp_event_list_t *out) {
  return ioda_array(kp_detect_params_for(c, s), s->v, s->n, s->t0, s->step, s, out);
}

const kp_detector_t kp_detector_ioda = {.name = "ioda", .applies = ioda_applies, .run = ioda_detector_run};

const kp_detector_t *const kp_detectors[] = {&kp_detector_ioda, &kp_detector_cusum, &kp_detector_curfew, NULL};

kp_status_t kp_detect_run(const kp_detect_cfg_t *cfg, const kp_sigset_t *s, kp_event_list_t *out) {
  for (size_t i = 0; i < kp_sigset_count(s); i++) {
    const kp_series_t *se = kp_sigset_at(s, i);
    /* the access split labels incidents (access.c); it raises no event of its own, so the
     * country's incidents are what they were without it */
    if (!strcmp(se->entity_type, "access")) continue;
    for (const kp_detector_t *const *d = kp_detectors; *d; d++) {
      if (!(*d)->applies(se)) continue;
      kp_status_t st = (*d)->run(cfg, se, out);
      if (st != KP_OK) return st;
    }
  }
  return KP_OK;
}
