/* test_detectors.c: the sliding median and the three detectors on synthetic series with known answers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "kp_test.h"

/* ---- sliding median against brute force ---- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

KP_TEST(median_matches_brute_force) {
  size_t ws[] = {1, 2, 7, 64};
  uint32_t seed = 12345;
  for (size_t wi = 0; wi < 4; wi++) {
    size_t w = ws[wi];
    kp_median_t *m;
    KP_ASSERT_OK(kp_median_new(w, &m));
    double hist[2000], tmp[64];
    for (size_t i = 0; i < 2000; i++) {
      seed = seed * 1103515245u + 12345u;
      hist[i] = (double)((seed >> 16) % 50); /* many ties on purpose */
      kp_median_push(m, hist[i]);
      size_t n = i + 1 < w ? i + 1 : w;
      memcpy(tmp, hist + i + 1 - n, n * sizeof *tmp);
      qsort(tmp, n, sizeof *tmp, cmp_d);
      double want = tmp[(n + 1) / 2 - 1]; /* nearest rank ceil(n/2) */
      KP_ASSERT_EQ(kp_median_count(m), n);
      KP_ASSERT_MSG(kp_median_get(m) == want, "w=%zu i=%zu got %g want %g", w, i, kp_median_get(m), want);
    }
    kp_median_clear(m);
    KP_ASSERT(isnan(kp_median_get(m)));
    kp_median_free(m);
  }
}

/* ---- IODA rule ---- */

static kp_ioda_params_t small_params(void) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  kp_ioda_params_t p = c.active; /* 0.8 / 0.5 */
  p.history = (kp_span_t){48, true};
  p.warmup = (kp_span_t){12, true};
  p.maxduration = (kp_span_t){200, true};
  p.minduration = (kp_span_t){1, true};
  return p;
}

static double *flat(size_t n, double v) {
  double *a = malloc(n * sizeof *a);
  for (size_t i = 0; i < n; i++) a[i] = v + (double)(i % 3); /* 1000..1002: stable median */
  return a;
}

KP_TEST(ioda_critical_drop_exact_bounds_and_score) {
  kp_ioda_params_t p = small_params();
  size_t n = 200;
  double *v = flat(n, 1000);
  for (size_t i = 100; i < 120; i++) v[i] = 300;
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_ioda_run(&p, v, n, 1000000, 600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].start, 1000000 + 100 * 600);
  KP_ASSERT_EQ(ev.v[0].end, 1000000 + 120 * 600);
  KP_ASSERT_EQ(ev.v[0].level, KP_LVL_CRITICAL);
  /* median is 1001; drop% = 701/1001*100 per bin, 10 minutes per bin, 20 bins */
  KP_ASSERT_NEAR(ev.v[0].score, 20 * 10 * 701.0 / 1001.0 * 100.0, 1e-6);
  kp_events_free(&ev);
  free(v);
}

KP_TEST(ioda_warning_level_between_ratios) {
  kp_ioda_params_t p = small_params();
  double *v = flat(150, 1000);
  for (size_t i = 80; i < 90; i++) v[i] = 700; /* 0.7: below 0.8, above 0.5 */
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_ioda_run(&p, v, 150, 0, 300, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].level, KP_LVL_WARNING);
  KP_ASSERT_EQ(ev.v[0].start, 80 * 300);
  kp_events_free(&ev);
  free(v);
}

KP_TEST(ioda_history_frozen_during_long_outage) {
  /* an outage longer than the history window: without inpainting the median would
   * learn the outage level after 24 bins and the event would end early */
  kp_ioda_params_t p = small_params();
  size_t n = 300;
  double *v = flat(n, 1000);
  for (size_t i = 100; i < 200; i++) v[i] = 100;
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_ioda_run(&p, v, n, 0, 600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].start, 100 * 600);
  KP_ASSERT_EQ(ev.v[0].end, 200 * 600);
  kp_events_free(&ev);
  /* ... and with maxduration 30 bins the new level is accepted as normal */
  p.maxduration = (kp_span_t){30, true};
  KP_ASSERT_OK(kp_ioda_run(&p, v, n, 0, 600, &ev));
  KP_ASSERT(ev.n >= 1);
  KP_ASSERT_EQ(ev.v[0].start, 100 * 600);
  KP_ASSERT_EQ(ev.v[0].end, 130 * 600);
  kp_events_free(&ev);
  free(v);
}

KP_TEST(ioda_warmup_minprediction_minduration_missing) {
  kp_ioda_params_t p = small_params();
  double *v = flat(100, 1000);
  v[5] = 0; /* inside warm-up: no verdict */
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_ioda_run(&p, v, 100, 0, 600, &ev));
  KP_ASSERT_EQ(ev.n, 0);
  /* small series: prediction below minprediction (20) is never judged */
  double low[100];
  for (int i = 0; i < 100; i++) low[i] = i >= 60 && i < 70 ? 0 : 10;
  KP_ASSERT_OK(kp_ioda_run(&p, low, 100, 0, 600, &ev));
  KP_ASSERT_EQ(ev.n, 0);
  /* minduration 3 bins: a 2-bin dip is dropped, a 3-bin dip is kept */
  p.minduration = (kp_span_t){1800, false};
  for (int i = 0; i < 100; i++) v[i] = 1000;
  v[40] = v[41] = 100;
  v[70] = v[71] = v[72] = 100;
  v[50] = NAN; /* missing bins neither open nor close anything */
  KP_ASSERT_OK(kp_ioda_run(&p, v, 100, 0, 600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].start, 70 * 600);
  KP_ASSERT_EQ(ev.v[0].end, 73 * 600);
  kp_events_free(&ev);
  free(v);
}

KP_TEST(ioda_event_open_at_end_of_data) {
  kp_ioda_params_t p = small_params();
  double *v = flat(100, 1000);
  for (int i = 90; i < 100; i++) v[i] = 0;
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_ioda_run(&p, v, 100, 0, 600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].end, 100 * 600);
  kp_events_free(&ev);
  free(v);
}

KP_TEST(span_parse) {
  kp_span_t s;
  KP_ASSERT_EQ(kp_span_parse("7d", &s), 0);
  KP_ASSERT_EQ(s.v, 604800);
  KP_ASSERT(!s.bins);
  KP_ASSERT_EQ(kp_span_bins(s, 300), 2016);
  KP_ASSERT_EQ(kp_span_parse("288b", &s), 0);
  KP_ASSERT(s.bins);
  KP_ASSERT_EQ(kp_span_bins(s, 600), 288);
  KP_ASSERT_NE(kp_span_parse("3x", &s), 0);
  KP_ASSERT_NE(kp_span_parse("-1h", &s), 0);
}

/* ---- CUSUM ---- */

KP_TEST(cusum_step_change_found_at_onset) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  double r[300];
  for (int i = 0; i < 300; i++) r[i] = (i >= 100 && i < 150) ? 0.9 : (i % 2 ? 0.0 : 0.06);
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, NULL, 300, 0, 3600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].start, 100 * 3600);
  KP_ASSERT_EQ(ev.v[0].end, 150 * 3600);
  KP_ASSERT_EQ(ev.v[0].level, KP_LVL_CRITICAL);
  kp_events_free(&ev);
}

KP_TEST(cusum_learns_a_noisy_normal) {
  /* 4 measurements per bin, each failing with p = 0.12: a zero-drift random walk against a
   * fixed 0.05 baseline would cross h; the learnt reference keeps it quiet for 5,000 bins,
   * and a real block (0.9) is still found at its onset */
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  size_t n = 5000;
  double *r = malloc(n * sizeof *r);
  uint32_t seed = 99;
  for (size_t i = 0; i < n; i++) {
    int f = 0;
    for (int k = 0; k < 4; k++) {
      seed = seed * 1103515245u + 12345u;
      f += ((seed >> 16) % 100) < 12;
    }
    r[i] = f / 4.0;
  }
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, NULL, n, 0, 3600, &ev));
  KP_ASSERT_EQ(ev.n, 0);
  for (size_t i = 4000; i < 4100; i++) r[i] = 0.9;
  KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, NULL, n, 0, 3600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_MSG(llabs(ev.v[0].start - 4000 * 3600) <= 3 * 3600, "onset %lld", (long long)ev.v[0].start / 3600);
  KP_ASSERT(llabs(ev.v[0].end - 4100 * 3600) <= 2 * 3600);
  kp_events_free(&ev);
  free(r);
}

KP_TEST(cusum_noise_is_quiet_and_partial_blocking_is_warning) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  double r[400];
  uint32_t seed = 7;
  for (int i = 0; i < 400; i++) {
    seed = seed * 1103515245u + 12345u;
    r[i] = (double)((seed >> 16) % 100) / 1000.0; /* 0..0.1 */
  }
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, NULL, 400, 0, 3600, &ev));
  KP_ASSERT_EQ(ev.n, 0);
  for (int i = 200; i < 260; i++) r[i] = 0.35;
  int64_t cnt[400];
  for (int i = 0; i < 400; i++) cnt[i] = i == 230 ? 0 : 5; /* one empty bin is skipped */
  r[230] = 1.0;
  KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, cnt, 400, 0, 3600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].level, KP_LVL_WARNING);
  KP_ASSERT(llabs(ev.v[0].start - 200 * 3600) <= 3600);
  KP_ASSERT(llabs(ev.v[0].end - 260 * 3600) <= 3600);
  kp_events_free(&ev);
}

/* CUSUM's constants pinned (issue 13.7): h = 2.0 (a block at 0.7 climbs 0.5 per bin against the
 * 0.05 baseline and k = 0.15: 4 bins reach 2.0, not above it; 5 cross), a mean of exactly 0.5 is
 * critical and 0.49 a warning, and the reference follows an EWMA of 0.05 (its value at the
 * onset is the event's history). */
KP_TEST(cusum_constants_pinned) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  KP_ASSERT_NEAR(c.cusum.h, 2.0, 1e-12);
  double r[200];
  kp_event_list_t ev = {0};
  for (int len = 4; len <= 5; len++) {
    for (int i = 0; i < 200; i++) r[i] = i >= 100 && i < 100 + len ? 0.7 : 0.0;
    KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, NULL, 200, 0, 3600, &ev));
    KP_ASSERT_MSG(ev.n == (size_t)(len - 4), "a %d-bin block at 0.7: %zu events", len, ev.n);
    kp_events_free(&ev);
    memset(&ev, 0, sizeof ev);
  }
  for (int k = 0; k < 2; k++) {
    double v = k ? 0.49 : 0.5;
    for (int i = 0; i < 200; i++) r[i] = i >= 100 ? v : 0.0; /* open at the end: no recovery bins in the mean */
    KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, NULL, 200, 0, 3600, &ev));
    KP_ASSERT_EQ(ev.n, 1);
    KP_ASSERT_MSG(ev.v[0].level == (k ? KP_LVL_WARNING : KP_LVL_CRITICAL), "mean %.2f: level %d", v, ev.v[0].level);
    kp_events_free(&ev);
    memset(&ev, 0, sizeof ev);
  }
  /* 20 bins at 0.15 (below mu0 + k, so nothing accumulates): mu0 = 0.15 - 0.10 * 0.95^20 */
  for (int i = 0; i < 200; i++) r[i] = i < 80 ? 0.0 : i < 100 ? 0.15 : i < 150 ? 0.9 : 0.0;
  KP_ASSERT_OK(kp_cusum_run(&c.cusum, r, NULL, 200, 0, 3600, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_MSG(fabs(ev.v[0].history - (0.15 - 0.10 * pow(0.95, 20))) < 1e-9, "history %.6f", ev.v[0].history);
  kp_events_free(&ev);
}

/* ---- curfew ---- */

static int64_t ts(int day, int h, int m) { return 1640995200LL /* 2022-01-01 */ + (day - 1) * 86400LL + h * 3600 + m * 60; }

/* The Kazakhstan table (anchors §0): down from Jan 5 11:00 to Jan 11 02:15 except the windows. */
static const struct { int d, h0, m0, h1, m1; } kz_up[] = {
    {5, 17, 30, 22, 0}, {6, 10, 30, 14, 0}, {7, 2, 30, 6, 0}, {8, 2, 30, 10, 0}, {9, 2, 30, 6, 0}};

KP_TEST(curfew_kazakhstan_replay) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  int64_t t0 = ts(4, 0, 0), step = 300;
  size_t n = (size_t)((ts(12, 0, 0) - t0) / step);
  int8_t *down = malloc(n);
  for (size_t i = 0; i < n; i++) {
    int64_t t = t0 + (int64_t)i * step;
    int d = t >= ts(5, 11, 0) && t < ts(11, 2, 15);
    for (int k = 0; k < 5; k++)
      if (t >= ts(kz_up[k].d, kz_up[k].h0, kz_up[k].m0) && t < ts(kz_up[k].d, kz_up[k].h1, kz_up[k].m1)) d = 0;
    down[i] = (int8_t)d;
  }
  down[100] = -1; /* unknown bins are bridged */
  down[900] = 0;  /* a 5-minute blip inside an outage is noise */
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_curfew_find(&c.curfew, down, n, t0, step, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  kp_event_t *e = &ev.v[0];
  KP_ASSERT_EQ(e->start, ts(5, 11, 0));
  KP_ASSERT_EQ(e->end, ts(11, 2, 15));
  KP_ASSERT_EQ(e->nwin, 6);
  KP_ASSERT_EQ(e->nup, 5);
  for (int k = 0; k < 5; k++) {
    KP_ASSERT_EQ(e->up[k].start, ts(kz_up[k].d, kz_up[k].h0, kz_up[k].m0));
    KP_ASSERT_EQ(e->up[k].end, ts(kz_up[k].d, kz_up[k].h1, kz_up[k].m1));
  }
  KP_ASSERT(!e->daily_fixed); /* Kazakhstan's windows varied */
  kp_events_free(&ev);
  free(down);
}

KP_TEST(curfew_fixed_schedule_and_negatives) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  int64_t t0 = ts(1, 0, 0), step = 600;
  size_t n = 10 * 144;
  int8_t *down = calloc(n, 1);
  for (size_t i = 0; i < n; i++) {
    int64_t t = t0 + (int64_t)i * step, tod = t % 86400;
    down[i] = i >= 2 * 144 && i < 7 * 144 && tod >= 3600 && tod < 9 * 3600; /* 01:00-09:00, 5 nights */
  }
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_curfew_find(&c.curfew, down, n, t0, step, &ev));
  KP_ASSERT_EQ(ev.n, 1);
  KP_ASSERT_EQ(ev.v[0].nwin, 5);
  KP_ASSERT(ev.v[0].daily_fixed);
  KP_ASSERT_EQ(ev.v[0].win[0].start, ts(3, 1, 0));
  KP_ASSERT_EQ(ev.v[0].win[4].end, ts(7, 9, 0));
  kp_events_free(&ev);
  /* two nights are not a schedule; neither is one long outage */
  memset(down, 0, n);
  for (size_t i = 0; i < n; i++) {
    int64_t tod = (t0 + (int64_t)i * step) % 86400;
    down[i] = i >= 2 * 144 && i < 4 * 144 && tod >= 3600 && tod < 9 * 3600;
  }
  KP_ASSERT_OK(kp_curfew_find(&c.curfew, down, n, t0, step, &ev));
  KP_ASSERT_EQ(ev.n, 0);
  memset(down, 0, n);
  memset(down + 100, 1, 600);
  KP_ASSERT_OK(kp_curfew_find(&c.curfew, down, n, t0, step, &ev));
  KP_ASSERT_EQ(ev.n, 0);
  /* many short flaps within one day are not a daily schedule */
  memset(down, 0, n);
  for (size_t i = 300; i < 420; i++) down[i] = (i / 6) % 2;
  KP_ASSERT_OK(kp_curfew_find(&c.curfew, down, n, t0, step, &ev));
  KP_ASSERT_EQ(ev.n, 0);
  free(down);
}

/* issue 13.7: the shipped decision thresholds, each pinned from both sides. A series with a
 * stable median of 1001 drops for 10 bins to ratio r; the event's level (or its absence)
 * must change exactly at the configured ratio. Moving bgp.critical from 0.5 to 0.8 made no
 * test fail before. */
static int level_at_ratio(kp_ioda_params_t p, double r) {
  p.history = (kp_span_t){48, true};
  p.warmup = (kp_span_t){12, true};
  p.maxduration = (kp_span_t){200, true};
  p.minduration = (kp_span_t){1, true};
  double *v = flat(150, 1000);
  for (size_t i = 80; i < 90; i++) v[i] = r * 1001.0;
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_ioda_run(&p, v, 150, 0, 300, &ev));
  int lvl = ev.n ? (int)ev.v[0].level : -1;
  if (ev.n) KP_ASSERT_EQ(ev.v[0].start, 80 * 300);
  kp_events_free(&ev);
  free(v);
  return lvl;
}

KP_TEST(ioda_default_thresholds_pinned_both_sides) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  /* BGP: critical below 0.5, warning below 0.99 */
  KP_ASSERT_EQ(level_at_ratio(c.bgp, 0.49), KP_LVL_CRITICAL);
  KP_ASSERT_EQ(level_at_ratio(c.bgp, 0.51), KP_LVL_WARNING);
  KP_ASSERT_EQ(level_at_ratio(c.bgp, 0.985), KP_LVL_WARNING);
  KP_ASSERT_EQ(level_at_ratio(c.bgp, 0.995), -1);
  /* active probing (and "other"): critical below 0.5, warning below 0.8 */
  KP_ASSERT_EQ(level_at_ratio(c.active, 0.49), KP_LVL_CRITICAL);
  KP_ASSERT_EQ(level_at_ratio(c.active, 0.51), KP_LVL_WARNING);
  KP_ASSERT_EQ(level_at_ratio(c.active, 0.79), KP_LVL_WARNING);
  KP_ASSERT_EQ(level_at_ratio(c.active, 0.81), -1);
  KP_ASSERT_EQ(level_at_ratio(c.other, 0.49), KP_LVL_CRITICAL);
  KP_ASSERT_EQ(level_at_ratio(c.other, 0.81), -1);
}
