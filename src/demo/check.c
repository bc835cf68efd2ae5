/*
 * check.c: does what detect found match what the demo injected? (pure)
 *
 * Expectations, each one line in the log ("ok ..." or "FAIL ..."):
 *  1. every truth down window is a window of an outage incident (type not service/throttling),
 *     both boundaries within tolerance; a boundary clipped by the replayed span only needs the
 *     detected window to reach it;
 *  2. every blocked app is named by a service-blocking/throttling incident, with its technique
 *     (unless require_techniques is off; the throttled app only with require_throttling);
 *  3. BGP unchanged while active probing drops: the country's "bgp" signal varies by at most
 *     1 % over the span, while its "ping-slash24" mean inside the down windows is below half
 *     its mean outside them;
 *  4. the burst of BGP updates (re-announcements, truth "bgp_update_spikes"): the country's
 *     "bgp-updates" near each spike outnumber those of all other bins;
 *  5. a cut is not an app block: no service-blocking/throttling incident names ip_blackhole
 *     (its techniques, i.e. report.md's technique table, or any app's service_techniques)
 *     unless the truth blocked an app that way: app failures taken while the whole network
 *     was down (the probe's network_down, detect's "unreachable during the shutdown") must
 *     never read as an IP block.
 * Detected outage windows that match no truth window are reported ("note extra"), not failed:
 * a short flap at a boundary is information, not a miss.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/json.h"
#include "demo/demo.h"

typedef struct span {
  int64_t a, b;
  const char *id;
  bool used;
} span_t;

/* a time as Unix seconds (number or ISO text), INT64_MIN when absent or beyond ±10^15 (so that
 * differences of two times never overflow) */
#define T_LIMIT ((int64_t)1000000000000000)
static int64_t num_or_time(const kp_json_t *v) {
  int64_t x = 0;
  time_t t;
  if (kp_json_int(v, &x)) return x >= -T_LIMIT && x <= T_LIMIT ? x : INT64_MIN;
  if (kp_json_str(v) && kp_time_parse(kp_json_str(v), &t) == 0 && t >= -T_LIMIT && t <= T_LIMIT) return (int64_t)t;
  return INT64_MIN;
}

static int64_t inc_time(const kp_json_t *inc, const char *ts_key, const char *key) {
  int64_t t = num_or_time(kp_json_get(inc, ts_key));
  return t != INT64_MIN ? t : num_or_time(kp_json_get(inc, key));
}

static bool is_blocking_type(const char *type) {
  return type && (strstr(type, "service") || strstr(type, "throttl") || strstr(type, "block"));
}

static const kp_json_t *array_of(const kp_json_t *root, const char *key) {
  if (kp_json_is(root, KP_JSON_OBJECT)) root = kp_json_get(root, key);
  return kp_json_is(root, KP_JSON_ARRAY) ? root : NULL;
}

static bool names(const kp_json_t *list, const char *name) {
  if (kp_json_is(list, KP_JSON_OBJECT)) {
    for (size_t i = 0; i < kp_json_len(list); i++)
      if (strcasecmp(kp_json_key_at(list, i), name) == 0) return true;
    return false;
  }
  for (size_t i = 0; i < kp_json_len(list); i++) {
    const kp_json_t *x = kp_json_at(list, i);
    const char *s = kp_json_str(x) ? kp_json_str(x) : kp_json_get_str(x, "name");
    if (s && strcasecmp(s, name) == 0) return true;
  }
  return false;
}

/* ISO time for years 1970..9999, else the number (kp_time_iso needs a 4-digit year) */
static void fmt_t(int64_t t, char out[21]) {
  if (t >= 0 && t <= 253402300799) kp_time_iso((time_t)t, out);
  else snprintf(out, 21, "%lld", (long long)t);
}

/* outage windows of the detected incidents */
static kp_status_t outage_spans(const kp_json_t *incs, span_t **out, size_t *n) {
  size_t cap = 16;
  *n = 0;
  *out = malloc(cap * sizeof **out);
  if (!*out) return KP_ERR_NOMEM;
  for (size_t i = 0; i < kp_json_len(incs); i++) {
    const kp_json_t *inc = kp_json_at(incs, i);
    if (is_blocking_type(kp_json_get_str(inc, "type"))) continue;
    const kp_json_t *wins = kp_json_get(inc, "windows");
    size_t nw = kp_json_len(wins);
    for (size_t k = 0; k < (nw ? nw : 1); k++) {
      const kp_json_t *src = nw ? kp_json_at(wins, k) : inc;
      span_t s = {inc_time(src, "start_ts", "start"), inc_time(src, "end_ts", "end"), kp_json_get_str(inc, "id"), false};
      if (s.a == INT64_MIN || s.b == INT64_MIN) continue;
      if (*n == cap) {
        span_t *v = realloc(*out, 2 * cap * sizeof *v);
        if (!v) return KP_ERR_NOMEM;
        *out = v;
        cap *= 2;
      }
      (*out)[(*n)++] = s;
    }
  }
  return KP_OK;
}

typedef struct sigstat {
  double bgp_min, bgp_max;
  size_t bgp_n;
  double upd_near, upd_far; /* bgp-updates within / beyond the tolerance of a truth spike */
  size_t upd_n;
  double in_sum, out_sum;
  size_t in_n, out_n;
} sigstat_t;

static bool in_truth_outage(const kp_json_t *outs, int64_t t, int64_t step) {
  for (size_t i = 0; i < kp_json_len(outs); i++) {
    const kp_json_t *o = kp_json_at(outs, i);
    int64_t a = num_or_time(kp_json_get(o, "start")), b = num_or_time(kp_json_get(o, "end"));
    if (a != INT64_MIN && b != INT64_MIN && t >= a && t + step <= b) return true;
  }
  return false;
}
static bool near_truth_boundary(const kp_json_t *outs, int64_t t, int64_t step) {
  for (size_t i = 0; i < kp_json_len(outs); i++) {
    const kp_json_t *o = kp_json_at(outs, i);
    int64_t a = num_or_time(kp_json_get(o, "start")), b = num_or_time(kp_json_get(o, "end"));
    if (a == INT64_MIN || b == INT64_MIN) continue;
    if ((t < a && t + step > a) || (t < b && t + step > b)) return true;
  }
  return false;
}

static bool near_spike(const kp_json_t *spikes, int64_t t, int64_t step, int64_t tol) {
  for (size_t i = 0; i < kp_json_len(spikes); i++) {
    int64_t x = num_or_time(kp_json_at(spikes, i));
    if (x != INT64_MIN && t <= x + tol && t + step > x - tol) return true;
  }
  return false;
}

static void scan_signals(const char *cc, const kp_json_t *outs, const kp_json_t *spikes, int64_t tol, int64_t s0,
                         int64_t s1, const char *p, size_t n, sigstat_t *st) {
  *st = (sigstat_t){.bgp_min = INFINITY, .bgp_max = -INFINITY};
  const char *end = p + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    kp_json_doc_t *doc = NULL;
    if (le > p && kp_json_parse(p, (size_t)(le - p), NULL, &doc, NULL) == KP_OK) {
      const kp_json_t *o = kp_json_root(doc);
      const char *et = kp_json_get_str(o, "entity_type"), *ec = kp_json_get_str(o, "entity_code");
      const char *ds = kp_json_get_str(o, "datasource");
      int64_t t = 0, step = 0;
      const kp_json_t *v = kp_json_get(o, "value");
      if (et && ec && ds && strcmp(et, "country") == 0 && strcmp(ec, cc) == 0 && kp_json_get_int(o, "t", &t) &&
          kp_json_get_int(o, "step", &step) && step > 0 && step < T_LIMIT && kp_json_is(v, KP_JSON_NUMBER) &&
          t >= s0 && t < s1 && t > -T_LIMIT && t < T_LIMIT) {
        double x = kp_json_num(v);
        if (strcmp(ds, "bgp") == 0) {
          st->bgp_min = fmin(st->bgp_min, x);
          st->bgp_max = fmax(st->bgp_max, x);
          st->bgp_n++;
        } else if (strcmp(ds, "bgp-updates") == 0) {
          if (near_spike(spikes, t, step, tol)) st->upd_near += x;
          else st->upd_far += x;
          st->upd_n++;
        } else if (strcmp(ds, "ping-slash24") == 0 && !near_truth_boundary(outs, t, step)) {
          if (in_truth_outage(outs, t, step)) {
            st->in_sum += x;
            st->in_n++;
          } else {
            st->out_sum += x;
            st->out_n++;
          }
        }
      }
    }
    kp_json_doc_free(doc);
    p = nl ? nl + 1 : end;
  }
}

#define LOG(...) (void)kp_buf_printf(log, __VA_ARGS__)

kp_status_t kp_demo_check(const kp_demo_check_opts_t *o, const void *truth, size_t ntruth, const void *incidents,
                          size_t ninc, const void *signals, size_t nsig, kp_buf_t *log, size_t *failures) {
  *failures = 0;
  kp_json_doc_t *td = NULL, *id = NULL;
  span_t *sp = NULL;
  size_t nsp = 0;
  kp_status_t st = kp_json_parse(truth, ntruth, NULL, &td, NULL);
  if (st != KP_OK) goto done;
  st = kp_json_parse(incidents, ninc, NULL, &id, NULL);
  if (st != KP_OK) goto done;
  const kp_json_t *tr = kp_json_root(td);
  const kp_json_t *incs = array_of(kp_json_root(id), "incidents");
  const kp_json_t *outs = kp_json_get(tr, "outages"), *blocks = kp_json_get(tr, "blocking");
  const char *cc = kp_json_get_str(tr, "cc");
  int64_t s0 = 0, s1 = 0;
  s0 = num_or_time(kp_json_get(tr, "sim_start"));
  s1 = num_or_time(kp_json_get(tr, "sim_end"));
  if (!incs || !cc || s0 == INT64_MIN || s1 == INT64_MIN) {
    st = KP_ERR_INVAL;
    goto done;
  }
  st = outage_spans(incs, &sp, &nsp);
  if (st != KP_OK) goto done;
  int64_t tol = o->tolerance_s;
  /* 1. down windows */
  for (size_t i = 0; i < kp_json_len(outs); i++) {
    const kp_json_t *w = kp_json_at(outs, i);
    int64_t a = num_or_time(kp_json_get(w, "start")), b = num_or_time(kp_json_get(w, "end"));
    if (a == INT64_MIN || b == INT64_MIN) {
      st = KP_ERR_INVAL; /* a truth window without its times: the truth file is broken */
      goto done;
    }
    bool ca = kp_json_truthy(kp_json_get(w, "clipped_start")), cb = kp_json_truthy(kp_json_get(w, "clipped_end"));
    char ta[21], tb[21];
    fmt_t(a, ta);
    fmt_t(b, tb);
    size_t best = nsp;
    int64_t best_err = INT64_MAX;
    for (size_t k = 0; k < nsp; k++) {
      if (sp[k].b <= a || sp[k].a >= b) continue; /* no overlap */
      int64_t ea = ca ? (sp[k].a <= a + tol ? 0 : sp[k].a - a) : llabs(sp[k].a - a);
      int64_t eb = cb ? (sp[k].b >= b - tol ? 0 : b - sp[k].b) : llabs(sp[k].b - b);
      int64_t err = ea > eb ? ea : eb;
      if (err < best_err) {
        best_err = err;
        best = k;
      }
    }
    if (best < nsp && best_err <= tol) {
      sp[best].used = true;
      LOG("ok   outage %s .. %s found (%s: start %+lld s, end %+lld s; tolerance %lld s)\n", ta, tb,
          sp[best].id ? sp[best].id : "?", (long long)(sp[best].a - a), (long long)(sp[best].b - b), (long long)tol);
    } else if (best < nsp) {
      sp[best].used = true;
      (*failures)++;
      LOG("FAIL outage %s .. %s: nearest detected window is off by %lld s (start %+lld s, end %+lld s; tolerance %lld s)\n",
          ta, tb, (long long)best_err, (long long)(sp[best].a - a), (long long)(sp[best].b - b), (long long)tol);
    } else {
      (*failures)++;
      LOG("FAIL outage %s .. %s: not detected\n", ta, tb);
    }
  }
  for (size_t k = 0; k < nsp; k++) {
    if (sp[k].used) continue;
    char ta[21], tb[21];
    fmt_t(sp[k].a, ta);
    fmt_t(sp[k].b, tb);
    LOG("note extra detected outage window %s .. %s (%s)\n", ta, tb, sp[k].id ? sp[k].id : "?");
  }
  /* 2. apps and techniques */
  for (size_t i = 0; i < kp_json_len(blocks); i++) {
    const kp_json_t *b = kp_json_at(blocks, i);
    const char *app = kp_json_get_str(b, "app"), *tech = kp_json_get_str(b, "technique");
    if (!app || !tech) continue;
    bool throttle = strcmp(tech, "throttled") == 0;
    bool named = false, with_tech = false;
    for (size_t k = 0; k < kp_json_len(incs); k++) {
      const kp_json_t *inc = kp_json_at(incs, k);
      if (!is_blocking_type(kp_json_get_str(inc, "type")) || !names(kp_json_get(inc, "services"), app)) continue;
      named = true;
      /* the app's own techniques when detect splits them by service, else the incident's */
      const kp_json_t *own = kp_json_get(kp_json_get(inc, "service_techniques"), app);
      if (names(own ? own : kp_json_get(inc, "techniques"), tech)) with_tech = true;
    }
    bool required = !throttle || o->require_throttling;
    bool good = named && (with_tech || !o->require_techniques);
    if (good) LOG("ok   %s blocked, named%s\n", app, with_tech ? " with its technique" : " (technique not named)");
    else if (!required) LOG("note %s (%s) not found; not required\n", app, tech);
    else {
      (*failures)++;
      LOG("FAIL %s blocked by %s: %s\n", app, tech, named ? "technique not named" : "no incident names the app");
    }
  }
  /* 5. no ip_blackhole out of the cut windows */
  bool truth_hole = false;
  for (size_t i = 0; i < kp_json_len(blocks); i++) {
    const char *tech = kp_json_get_str(kp_json_at(blocks, i), "technique");
    truth_hole |= tech && !strcmp(tech, "ip_blackhole");
  }
  if (!truth_hole) {
    size_t bad = 0;
    for (size_t k = 0; k < kp_json_len(incs); k++) {
      const kp_json_t *inc = kp_json_at(incs, k), *per = kp_json_get(inc, "service_techniques");
      if (!is_blocking_type(kp_json_get_str(inc, "type"))) continue;
      bool hole = names(kp_json_get(inc, "techniques"), "ip_blackhole");
      for (size_t j = 0; kp_json_is(per, KP_JSON_OBJECT) && j < kp_json_len(per); j++)
        hole |= names(kp_json_at(per, j), "ip_blackhole");
      if (hole) {
        bad++;
        LOG("FAIL %s names ip_blackhole, which nobody injected (a cut read as an app block)\n",
            kp_json_get_str(inc, "id") ? kp_json_get_str(inc, "id") : "?");
      }
    }
    if (bad) (*failures)++;
    else LOG("ok   no app technique ip_blackhole from the cut windows\n");
  }
  /* 3. BGP flat while active probing drops */
  sigstat_t ss;
  const kp_json_t *spikes = kp_json_get(tr, "bgp_update_spikes");
  scan_signals(cc, outs, spikes, tol, s0, s1, signals, nsig, &ss);
  if (!ss.bgp_n) {
    (*failures)++;
    LOG("FAIL no bgp signal for %s\n", cc);
  } else if (ss.bgp_max - ss.bgp_min > 0.01 * fabs(ss.bgp_max)) {
    (*failures)++;
    LOG("FAIL bgp changed: %g .. %g over %zu points\n", ss.bgp_min, ss.bgp_max, ss.bgp_n);
  } else {
    LOG("ok   bgp unchanged: %g .. %g over %zu points\n", ss.bgp_min, ss.bgp_max, ss.bgp_n);
  }
  /* the update burst: more updates near each truth spike than in all the other bins together
     (the initial announcements are before the replay's start) */
  if (kp_json_len(spikes)) {
    if (ss.upd_n && ss.upd_near > 0 && ss.upd_near > ss.upd_far)
      LOG("ok   bgp update spike seen: %g updates near it, %g elsewhere\n", ss.upd_near, ss.upd_far);
    else {
      (*failures)++;
      LOG("FAIL no bgp update spike: %g updates near it, %g elsewhere (%zu bgp-updates points)\n", ss.upd_near,
          ss.upd_far, ss.upd_n);
    }
  }
  if (kp_json_len(outs)) {
    double in = ss.in_n ? ss.in_sum / (double)ss.in_n : NAN, out = ss.out_n ? ss.out_sum / (double)ss.out_n : NAN;
    if (ss.in_n && ss.out_n && in < 0.5 * out)
      LOG("ok   active probing dropped: ping-slash24 mean %.1f in the down windows vs %.1f outside\n", in, out);
    else {
      (*failures)++;
      LOG("FAIL active probing did not drop: ping-slash24 mean %.1f in (%zu bins) vs %.1f out (%zu bins)\n", in,
          ss.in_n, out, ss.out_n);
    }
  }
done:
  free(sp);
  kp_json_doc_free(td);
  kp_json_doc_free(id);
  return st;
}
