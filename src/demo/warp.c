/*
 * warp.c: relabel records from real to simulated time (pure).
 *
 * sim(t) = sim0 + (t - real0) × k with k = 3600 / speed; durations (a signal's step) scale by k.
 * With anchors, piecewise from the last anchor and paused before the next one (demo.h).
 * A signal's t is then snapped down to sim0 + n × step (its series' grid).
 * Only the time fields keepon's records carry are touched: a signal point's "t" and "step"
 * (docs/formats.md); an OONI measurement's "measurement_start_time" and "test_start_time"
 * ("YYYY-MM-DD hh:mm:ss" UTC). Every other key and value is re-serialised unchanged, in order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json.h"
#include "demo/demo.h"

static int64_t warp_t(const kp_demo_warp_t *w, double t) {
  double r = w->real0, s0 = w->sim0, cap = INFINITY;
  if (w->anchors && w->nanchors) {
    size_t lo = 0, hi = w->nanchors; /* first anchor with real > t */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (w->anchors[mid].real <= t) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) r = w->anchors[lo - 1].real, s0 = w->anchors[lo - 1].sim;
    if (lo < w->nanchors) cap = w->anchors[lo].sim - 1;
  }
  double x = s0 + (t - r) * 3600.0 / w->speed;
  if (x > cap) x = cap > s0 ? cap : s0; /* paused before the next (late) action */
  if (!(x > -9e15 && x < 9e15)) return -1; /* out of any sane range (and of int64_t) */
  return (int64_t)llround(x);
}

/* a signal's step in simulated seconds (0 when absent or absurd) */
static int64_t grid_step(const kp_demo_warp_t *w, const kp_json_t *step) {
  if (!kp_json_is(step, KP_JSON_NUMBER)) return 0;
  double x = kp_json_num(step) * 3600.0 / w->speed;
  return x >= 1 && x < 9e15 ? (int64_t)llround(x) : 0;
}

kp_status_t kp_demo_warp_line(const kp_demo_warp_t *w, const void *p, size_t n, kp_buf_t *out) {
  if (!(w->speed > 0)) return KP_ERR_INVAL;
  kp_json_doc_t *doc = NULL;
  kp_status_t st = kp_json_parse(p, n, NULL, &doc, NULL);
  if (st != KP_OK) return KP_ERR_INVAL;
  const kp_json_t *o = kp_json_root(doc);
  if (!kp_json_is(o, KP_JSON_OBJECT)) {
    kp_json_doc_free(doc);
    return KP_ERR_INVAL;
  }
  const char *type = kp_json_get_str(o, "type");
  bool signal = type && strcmp(type, "signal") == 0;
  bool msm = kp_json_get(o, "test_name") != NULL;
  kp_jw_t jw;
  kp_jw_init(&jw, out);
  kp_jw_obj_begin(&jw);
  for (size_t i = 0; i < kp_json_len(o); i++) {
    const char *k = kp_json_key_at(o, i);
    const kp_json_t *v = kp_json_at(o, i);
    kp_jw_key(&jw, k);
    if (signal && kp_json_is(v, KP_JSON_NUMBER) && strcmp(k, "t") == 0) {
      int64_t t = warp_t(w, kp_json_num(v));
      /* snap down to the series' grid (sim0 + k × step): a round that started a second late
         would otherwise put every later point off the grid that the signals API and detect bin
         on; rounds only ever start late, so rounding down puts them back where they belong */
      int64_t step = grid_step(w, kp_json_get(o, "step")), sim0 = (int64_t)llround(w->sim0);
      if (t >= 0 && step > 0 && w->sim0 > 0 && w->sim0 < 9e15) {
        int64_t off = t - sim0, q = off >= 0 ? off / step : -((-off + step - 1) / step); /* floor */
        t = sim0 + q * step;
      }
      kp_jw_int(&jw, t);
    } else if (signal && kp_json_is(v, KP_JSON_NUMBER) && strcmp(k, "step") == 0) {
      double x = kp_json_num(v) * 3600.0 / w->speed;
      kp_jw_int(&jw, x >= 1 && x < 9e15 ? (int64_t)llround(x) : 1);
    } else if (msm && kp_json_is(v, KP_JSON_STRING) &&
               (strcmp(k, "measurement_start_time") == 0 || strcmp(k, "test_start_time") == 0)) {
      time_t t;
      int64_t ws = 0;
      /* only years 1970..9999 fit the 19-character OONI time; anything else stays as it was */
      if (kp_time_parse(kp_json_str(v), &t) == 0 && (ws = warp_t(w, (double)t)) >= 0 && ws <= 253402300799) {
        char s[32] = {0};
        kp_time_ooni((time_t)ws, s);
        kp_jw_str(&jw, s);
      } else {
        kp_jw_node(&jw, v);
      }
    } else {
      kp_jw_node(&jw, v);
    }
  }
  kp_jw_obj_end(&jw);
  st = jw.st;
  if (st == KP_OK) st = kp_buf_putc(out, '\n');
  kp_json_doc_free(doc);
  return st;
}

/* "REAL SIM\n" lines through a bounded scan: strtod on a NUL-terminated copy of each line */
kp_status_t kp_demo_anchors_parse(const void *p, size_t n, kp_demo_anchor_t **out, size_t *nout) {
  *out = NULL, *nout = 0;
  const char *s = p, *end = s + n;
  size_t cap = 0, k = 0;
  kp_demo_anchor_t *a = NULL;
  while (s && s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end;
    size_t len = (size_t)(le - s);
    char line[128];
    if (len >= sizeof line) goto bad;
    memcpy(line, s, len);
    line[len] = 0;
    s = nl ? nl + 1 : end;
    char *q = line, *e1, *e2;
    while (*q == ' ' || *q == '\t' || *q == '\r') q++;
    if (!*q) continue;
    double re = strtod(q, &e1), si = e1 != q ? strtod(e1, &e2) : 0;
    if (e1 == q || e2 == e1 || !(re > 0 && re < 9e15 && si > 0 && si < 9e15)) goto bad;
    while (*e2 == ' ' || *e2 == '\t' || *e2 == '\r') e2++;
    if (*e2) goto bad;
    if (k && (re < a[k - 1].real || si < a[k - 1].sim)) goto bad;
    if (k == cap) {
      size_t nc = cap ? cap * 2 : 16;
      kp_demo_anchor_t *na = realloc(a, nc * sizeof *na);
      if (!na) {
        free(a);
        return KP_ERR_NOMEM;
      }
      a = na, cap = nc;
    }
    a[k].real = re, a[k].sim = si;
    k++;
  }
  *out = a, *nout = k;
  return KP_OK;
bad:
  free(a);
  return KP_ERR_INVAL;
}
