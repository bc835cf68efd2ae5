/*
 * check_reach.c: what stayed reachable, against the truth (pure; `keepon demo check
 * --measurements`).
 *
 * For each truth "reach" entry (a down window, its class, what worked) the keepon_reach
 * measurements of the country, grouped into windows by kp_reach_windows, are read over the
 * window's core [start + tolerance, end - tolerance] (runs near a boundary may see either
 * state):
 *   - every reach window overlapping the core has the truth's class (a whitelist window is
 *     never read as a full cut, nor a full cut as a whitelist);
 *   - at least one does;
 *   - their "worked" lists (what answered in every run) equal the truth's, as sets.
 * A core shorter than one run (empty) is noted, not failed.
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/json.h"
#include "demo/demo.h"
#include "reach/reach.h"

#define LOG(...) (void)kp_buf_printf(log, __VA_ARGS__)

static bool same_set(const kp_reach_window_t *w, const kp_json_t *want) {
  if (kp_json_len(want) != w->nworked) return false;
  for (size_t i = 0; i < kp_json_len(want); i++) {
    const char *s = kp_json_str(kp_json_at(want, i));
    bool in = false;
    for (size_t k = 0; s && k < w->nworked && !in; k++) in = !strcmp(s, w->worked[k]);
    if (!in) return false;
  }
  return true;
}

static void list(const kp_reach_window_t *w, char *out, size_t cap) {
  size_t n = 0;
  out[0] = 0;
  for (size_t k = 0; k < w->nworked && n + 1 < cap; k++) {
    int m = snprintf(out + n, cap - n, "%s%s", k ? " " : "", w->worked[k]);
    if (m < 0 || (size_t)m >= cap - n) break;
    n += (size_t)m;
  }
}

kp_status_t kp_demo_check_reach(const kp_demo_check_opts_t *o, const void *truth, size_t ntruth, const void *msmts,
                                size_t nmsmt, kp_buf_t *log, size_t *failures) {
  *failures = 0;
  kp_json_doc_t *td = NULL;
  kp_status_t st = kp_json_parse(truth, ntruth, NULL, &td, NULL);
  if (st != KP_OK) return st;
  const kp_json_t *tr = kp_json_root(td), *reach = kp_json_get(tr, "reach");
  const char *cc = kp_json_get_str(tr, "cc");
  kp_reach_windows_t ws = {0};
  if (!cc) {
    st = KP_ERR_INVAL;
    goto done;
  }
  if (!kp_json_len(reach)) goto done; /* nothing to check */
  if ((st = kp_reach_windows(msmts, nmsmt, cc, &ws)) != KP_OK) goto done;
  for (size_t i = 0; i < kp_json_len(reach); i++) {
    const kp_json_t *r = kp_json_at(reach, i);
    int64_t a = 0, b = 0;
    const char *want = kp_json_get_str(r, "class");
    const kp_json_t *worked = kp_json_get(r, "worked");
    if (!kp_json_get_int(r, "start", &a) || !kp_json_get_int(r, "end", &b) || !want) {
      st = KP_ERR_INVAL;
      goto done;
    }
    char ta[21], tb[21];
    kp_time_iso((time_t)a, ta);
    kp_time_iso((time_t)b, tb);
    int64_t ca = a + o->tolerance_s, cb = b - o->tolerance_s;
    size_t seen = 0, wrong = 0, bad_list = 0;
    char got[512] = "";
    for (size_t k = 0; k < ws.n; k++) {
      const kp_reach_window_t *w = &ws.v[k];
      if (w->end < ca || w->start > cb) continue;
      seen++;
      if (strcmp(kp_reach_class_name(w->cls), want)) {
        wrong++;
        LOG("FAIL reach %s .. %s: a run of %zu measurement(s) reads %s, the truth is %s\n", ta, tb, w->nmsmt,
            kp_reach_class_name(w->cls), want);
      } else if (!same_set(w, worked)) {
        bad_list++;
        list(w, got, sizeof got);
        LOG("FAIL reach %s .. %s: %s, but what worked was [%s]\n", ta, tb, want, got);
      } else {
        list(w, got, sizeof got);
      }
    }
    if (cb <= ca) LOG("note reach %s .. %s: shorter than twice the tolerance, not checked\n", ta, tb);
    else if (!seen) {
      (*failures)++;
      LOG("FAIL reach %s .. %s: no keepon_reach measurement inside the window\n", ta, tb);
    } else if (wrong || bad_list) {
      (*failures)++;
    } else {
      LOG("ok   reach %s .. %s: %s, what stayed reachable: %s\n", ta, tb, want, got[0] ? got : "nothing");
    }
  }
done:
  kp_reach_windows_free(&ws);
  kp_json_doc_free(td);
  return st;
}
