/*
 * cusum.c: CUSUM change points on probe failure rates, and the curfew detector.
 *
 * CUSUM (after OONI's changepoint detector: s_pos, s_neg, h). Rates r in [0,1].
 *
 *     OK --s_pos > h--> BLOCKED --s_neg > h--> OK
 *   OK:      s_pos = max(0, s_pos + r - mu0 - k); crossing h opens an event whose
 *            onset is the first of the bins, back from the crossing and no earlier
 *            than where s_pos last left zero, whose rate is at least a third of the
 *            way from mu0 to the crossing bin's rate (and >= mu0 + k).
 *            mu0 starts at `baseline` and follows an EWMA (0.05) of the rates seen
 *            while s_pos is 0, never below `baseline`: a network with 12 % ordinary
 *            failures does not random-walk into a false alarm.
 *   BLOCKED: mu = mean rate since the change point;
 *            s_neg = max(0, s_neg + (mu - r) - k); the event ends where s_neg
 *            last left zero. Data ending while BLOCKED closes the event there.
 *   Bins without data (NaN) or with fewer than min_count measurements are skipped.
 *
 * Curfew: a down/up state per bin (1/0, -1 unknown = keep the previous state); the
 * detector derives it from the IODA rule's verdicts, down = critical.
 *   1. down runs; up gaps shorter than min_up_s are bridged (noise);
 *   2. consecutive runs cluster while the up gap <= max_up_s and the starts are
 *      <= max_cycle_s apart;
 *   3. a cluster with >= min_windows runs whose starts fall on >= max(2, min_windows-1)
 *      distinct UTC days is ONE curfew event carrying its down windows and the
 *      restoration windows between them; daily_fixed when every start is within
 *      tod_tol_s of the first one's time of day.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "detect/internal.h"


static kp_status_t cusum_array(const kp_cusum_params_t *p, const double *rate, const int64_t *cnt, size_t n,
                               int64_t t0, int64_t step, double scale, const kp_series_t *s,
                               kp_event_list_t *out) {
  bool blocked = false;
  double sp = 0, sn = 0, sum = 0, mu0 = p->baseline;
  size_t rise = 0, fall = 0, start = 0, nb = 0, last = 0;
  kp_event_t e;
  for (size_t i = 0; i <= n; i++) {
    bool end = i == n;
    double r = 0;
    if (!end) {
      if (isnan(rate[i]) || (cnt && (double)cnt[i] < p->min_count)) continue;
      r = rate[i] / scale;
      if (r < 0) r = 0;
      if (r > 1) r = 1;
    }
    if (!blocked) {
      if (end) break;
      if (sp == 0) rise = i;
      sp = fmax(0, sp + r - mu0 - p->k);
      /* the reference learns the network's normal failure rate (never below `baseline`),
       * only while nothing accumulates, so a rise in progress is not learnt */
      if (sp == 0) mu0 = fmax(p->baseline, mu0 + 0.05 * (r - mu0));
      if (sp > p->h) {
        blocked = true;
        /* onset: walk back from the crossing over the bins that stand clearly above the
         * reference (>= mu0 + k); noise that lifted s_pos earlier is not the block */
        start = i;
        double mid = mu0 + (r - mu0) / 3;
        for (size_t j = i; j > rise;) {
          j--;
          if (isnan(rate[j]) || (cnt && (double)cnt[j] < p->min_count)) continue;
          if (fmin(1, fmax(0, rate[j] / scale)) < fmax(mid, mu0 + p->k)) break;
          start = j;
        }
        sn = 0;
        sum = 0;
        nb = 0;
        memset(&e, 0, sizeof e);
        e.series = s;
        e.detector = "cusum";
        e.start = t0 + (int64_t)start * step;
        e.history = mu0 * scale;
        for (size_t j = start; j <= i; j++) { /* account the onset bins */
          if (isnan(rate[j]) || (cnt && (double)cnt[j] < p->min_count)) continue;
          double rj = fmin(1, fmax(0, rate[j] / scale));
          sum += rj;
          nb++;
          e.score += rj * 100.0 * (double)step / 60.0;
          if (rj * 100 > e.max_drop) { e.max_drop = rj * 100; e.value = rate[j]; }
          last = j;
        }
      }
      continue;
    }
    if (!end) {
      double mu = nb ? sum / (double)nb : r;
      if (sn == 0) fall = i;
      sn = fmax(0, sn + (mu - r) - p->k);
    }
    if (end || sn > p->h) {
      e.end = end ? t0 + (int64_t)(last + 1) * step : t0 + (int64_t)fall * step;
      /* the bins between `fall` and the crossing belong to the recovery, not the event */
      double mean = nb ? sum / (double)nb : 0;
      e.level = mean >= 0.5 ? KP_LVL_CRITICAL : KP_LVL_WARNING;
      kp_status_t st = kp_events_push(out, &e);
      if (st != KP_OK) return st;
      blocked = false;
      sp = 0;
      if (end) break;
      rise = i;
      continue;
    }
    sum += r;
    nb++;
    last = i;
    e.score += r * 100.0 * (double)step / 60.0;
    if (r * 100 > e.max_drop) { e.max_drop = r * 100; e.value = rate[i]; }
  }
  return KP_OK;
}

kp_status_t kp_cusum_run(const kp_cusum_params_t *p, const double *rate, const int64_t *cnt, size_t n,
                         int64_t t0, int64_t step, kp_event_list_t *out) {
  return cusum_array(p, rate, cnt, n, t0, step, 1.0, NULL, out);
}

static bool cusum_applies(const kp_series_t *s) { return kp_det_is_service_ds(s->datasource); }

static kp_status_t cusum_detector_run(const kp_detect_cfg_t *c, const kp_series_t *s, kp_event_list_t *out) {
  return cusum_array(&c->cusum, s->v, s->cnt, s->n, s->t0, s->step, 1000.0, s, out);
}

const kp_detector_t kp_detector_cusum = {.name = "cusum", .applies = cusum_applies, .run = cusum_detector_run};

/* ------------------------------------------------------------------ curfew */

static int64_t day_of(int64_t t) { return t >= 0 ? t / 86400 : (t - 86399) / 86400; }

static kp_status_t emit_cluster(const kp_curfew_params_t *p, const kp_window_t *runs, size_t nr,
                                const kp_series_t *s, kp_event_list_t *out) {
  size_t days = 1;
  for (size_t i = 1; i < nr; i++)
    if (day_of(runs[i].start) != day_of(runs[i - 1].start)) days++;
  size_t need = p->min_windows > 2 ? p->min_windows - 1 : 2;
  if (nr < p->min_windows || days < need) return KP_OK;
  kp_event_t e = {.series = s, .detector = "curfew", .level = KP_LVL_CRITICAL,
                  .start = runs[0].start, .end = runs[nr - 1].end, .daily_fixed = true};
  e.win = malloc(nr * sizeof *e.win);
  e.up = nr > 1 ? malloc((nr - 1) * sizeof *e.up) : NULL;
  if (!e.win || (nr > 1 && !e.up)) {
    free(e.win);
    free(e.up);
    return KP_ERR_NOMEM;
  }
  int64_t tod0 = runs[0].start % 86400;
  for (size_t i = 0; i < nr; i++) {
    e.win[i] = runs[i];
    e.score += (double)(runs[i].end - runs[i].start) / 60.0 * 100.0;
    int64_t d = llabs(runs[i].start % 86400 - tod0);
    if (d > 43200) d = 86400 - d;
    if (d > p->tod_tol_s) e.daily_fixed = false;
    if (i) e.up[i - 1] = (kp_window_t){runs[i - 1].end, runs[i].start};
  }
  e.nwin = nr;
  e.nup = nr - 1;
  e.max_drop = 100;
  kp_status_t st = kp_events_push(out, &e);
  if (st != KP_OK) {
    free(e.win);
    free(e.up);
  }
  return st;
}

static kp_status_t curfew_array(const kp_curfew_params_t *p, const int8_t *down, size_t n, int64_t t0,
                                int64_t step, const kp_series_t *s, kp_event_list_t *out) {
  kp_window_t *runs = NULL;
  size_t nr = 0, cap = 0;
  int cur = 0;
  int64_t rs = 0;
  for (size_t i = 0; i <= n; i++) { /* 1. down runs, unknown bins keep the state */
    int d = i < n ? down[i] : 0;
    if (d < 0) continue;
    int64_t t = t0 + (int64_t)i * step;
    if (d && !cur) rs = t;
    if (!d && cur) {
      if (nr && rs - runs[nr - 1].end < p->min_up_s) {
        runs[nr - 1].end = t; /* bridge a short up blip */
      } else {
        if (nr == cap) {
          size_t nc = cap ? cap * 2 : 16;
          kp_window_t *r = realloc(runs, nc * sizeof *r);
          if (!r) { free(runs); return KP_ERR_NOMEM; }
          runs = r;
          cap = nc;
        }
        runs[nr++] = (kp_window_t){rs, t};
      }
    }
    cur = d;
  }
  kp_status_t st = KP_OK;
  size_t c0 = 0; /* 2-3. clusters */
  for (size_t i = 1; i <= nr && st == KP_OK; i++) {
    bool brk = i == nr || runs[i].start - runs[i - 1].end > p->max_up_s ||
               runs[i].start - runs[i - 1].start > p->max_cycle_s;
    if (!brk) continue;
    st = emit_cluster(p, runs + c0, i - c0, s, out);
    c0 = i;
  }
  free(runs);
  return st;
}

kp_status_t kp_curfew_find(const kp_curfew_params_t *p, const int8_t *down, size_t n, int64_t t0, int64_t step,
                           kp_event_list_t *out) {
  return curfew_array(p, down, n, t0, step, NULL, out);
}

/* Curfews are looked for in the level signals, from the IODA rule's verdicts. */
static bool curfew_applies(const kp_series_t *s) {
  return !strcmp(s->datasource, "ping-slash24") || !strcmp(s->datasource, "bgp");
}

static kp_status_t curfew_detector_run(const kp_detect_cfg_t *c, const kp_series_t *s, kp_event_list_t *out) {
  if (!s->n) return KP_OK;
  int8_t *lvl = malloc(s->n);
  double *pred = malloc(s->n * sizeof *pred);
  kp_status_t st = KP_ERR_NOMEM;
  if (lvl && pred && (st = kp_ioda_levels(kp_detect_params_for(c, s), s->v, s->n, s->step, lvl, pred)) == KP_OK) {
    /* down = critical: a curfew cuts connectivity; a warning-level dip (one region pulling a
     * country's count down) is not a curfew of that entity */
    for (size_t i = 0; i < s->n; i++) lvl[i] = lvl[i] < 0 ? -1 : lvl[i] == KP_LVL_CRITICAL;
    size_t before = out->n;
    st = curfew_array(&c->curfew, lvl, s->n, s->t0, s->step, s, out);
    for (size_t k = before; st == KP_OK && k < out->n; k++) { /* drop-based score like IODA */
      kp_event_t *e = &out->v[k];
      e->score = 0;
      for (size_t w = 0; w < e->nwin; w++)
        for (int64_t t = e->win[w].start; t < e->win[w].end; t += s->step) {
          size_t b = (size_t)((t - s->t0) / s->step);
          if (b >= s->n || isnan(pred[b]) || isnan(s->v[b])) continue;
          double d = fabs(pred[b] - s->v[b]) / fmax(pred[b], s->v[b]) * 100.0;
          e->score += d * (double)s->step / 60.0;
        }
    }
  }
  free(lvl);
  free(pred);
  return st;
}

const kp_detector_t kp_detector_curfew = {.name = "curfew", .applies = curfew_applies, .run = curfew_detector_run};
