/*
 * check_access.c: mobile and fixed apart, against the truth (pure; `keepon demo check
 * --measurements`).
 *
 * The truth's "access" list says when each access type's network went down (mobile with the
 * app blocking on Jan 4, fixed with the nationwide cut on Jan 5). The measurements go through
 * detect's own access split (kp_sigset_add_jsonl, kp_access_summaries), so what is checked is
 * what the report's "Mobile and fixed" section prints:
 *   - each truth type was found down, its first down hour in [truth - tolerance,
 *     truth + one probe bin + tolerance] (the first run after the cut opens it; a probe bin is
 *     8 simulated hours at 1 s/h, the demo's `--probe-step`, at least 1 h);
 *   - when the truth has mobile strictly before fixed, so do the findings;
 *   - every national shutdown incident (full or partial) carries detect's access label of the
 *     types down in it: "both" when the truth's mobile cut began before it.
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/json.h"
#include "demo/demo.h"
#include "detect/detect.h"

#define LOG(...) (void)kp_buf_printf(log, __VA_ARGS__)

static const kp_access_summary_t *find(const kp_access_summary_t *v, size_t n, const char *type) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i].access, type)) return &v[i];
  return NULL;
}

kp_status_t kp_demo_check_access(const kp_demo_check_opts_t *o, const void *truth, size_t ntruth, const void *msmts,
                                 size_t nmsmt, const void *incidents, size_t ninc, kp_buf_t *log, size_t *failures) {
  *failures = 0;
  kp_json_doc_t *td = NULL, *id = NULL;
  kp_sigset_t *s = NULL;
  kp_status_t st = kp_json_parse(truth, ntruth, NULL, &td, NULL);
  if (st != KP_OK) return st;
  const kp_json_t *tr = kp_json_root(td), *acc = kp_json_get(tr, "access");
  const char *cc = kp_json_get_str(tr, "cc");
  double speed = kp_json_num(kp_json_get(tr, "speed"));
  if (!cc || strlen(cc) != 2) {
    st = KP_ERR_INVAL;
    goto done;
  }
  if (!kp_json_len(acc)) goto done; /* nothing to check */
  int64_t bin = speed > 0 ? (int64_t)(8 * 3600 / speed) : 3600;
  if (bin < 3600) bin = 3600;
  if ((st = kp_sigset_new(3600, &s)) != KP_OK) goto done;
  kp_read_stats_t rs = {0};
  if ((st = kp_sigset_add_jsonl(s, msmts, nmsmt, &rs)) != KP_OK || (st = kp_sigset_finalize(s)) != KP_OK) goto done;
  kp_access_summary_t v[2];
  size_t nv = kp_access_summaries(s, cc, v, 2);
  int64_t want_mobile = -1, want_fixed = -1;
  for (size_t i = 0; i < kp_json_len(acc); i++) {
    const kp_json_t *a = kp_json_at(acc, i);
    const char *type = kp_json_get_str(a, "type");
    int64_t from = 0;
    if (!type || !kp_json_get_int(a, "down_from", &from)) {
      st = KP_ERR_INVAL;
      goto done;
    }
    if (!strcmp(type, "mobile")) want_mobile = from;
    if (!strcmp(type, "fixed")) want_fixed = from;
    char tw[21], tg[21];
    kp_time_iso((time_t)from, tw);
    const kp_access_summary_t *g = find(v, nv, type);
    if (!g || g->first_down < 0) {
      (*failures)++;
      LOG("FAIL access %s: network down from %s in the truth, but %s\n", type, tw,
          g ? "no hour of its measurements reads down" : "no measurement carries that access type");
      continue;
    }
    kp_time_iso((time_t)g->first_down, tg);
    int64_t off = g->first_down - from;
    if (off < -o->tolerance_s || off > bin + o->tolerance_s) {
      (*failures)++;
      LOG("FAIL access %s: network down from %s, the truth is %s (%+lld s, allowed -%lld .. +%lld)\n", type, tg, tw,
          (long long)off, (long long)o->tolerance_s, (long long)(bin + o->tolerance_s));
    } else {
      LOG("ok   access %s: network down from %s (truth %s, %+lld s; %lld of %lld measurements found no network)\n", type,
          tg, tw, (long long)off, (long long)g->down_measurements, (long long)g->measurements);
    }
  }
  const kp_access_summary_t *gm = find(v, nv, "mobile"), *gf = find(v, nv, "fixed");
  if (want_mobile >= 0 && want_fixed >= 0 && want_mobile < want_fixed) {
    if (gm && gf && gm->first_down >= 0 && gf->first_down >= 0 && gm->first_down < gf->first_down) {
      LOG("ok   access: mobile went down %lld h before fixed (truth %lld h)\n",
          (long long)((gf->first_down - gm->first_down) / 3600), (long long)((want_fixed - want_mobile) / 3600));
    } else {
      (*failures)++;
      LOG("FAIL access: the truth has mobile down before fixed, the measurements do not\n");
    }
  }
  /* the national shutdown incidents' access labels */
  if ((st = kp_json_parse(incidents, ninc, NULL, &id, NULL)) != KP_OK) goto done;
  const kp_json_t *inc = kp_json_root(id);
  for (size_t i = 0; i < kp_json_len(inc); i++) {
    const kp_json_t *x = kp_json_at(inc, i);
    const char *type = kp_json_get_str(x, "type"), *icc = kp_json_get_str(x, "cc");
    const char *iid = kp_json_get_str(x, "id");
    if (!type || (strcmp(type, "full shutdown") && strcmp(type, "partial shutdown")) || (icc && strcmp(icc, cc)))
      continue;
    const char *label = kp_json_get_str(kp_json_get(x, "access"), "label");
    const char *want = want_mobile >= 0 && want_fixed >= 0 ? "both" : want_fixed >= 0 ? "fixed" : "mobile";
    if (label && (!strcmp(label, want) || (!strcmp(want, "fixed") && !strcmp(label, "fixed_only")))) {
      LOG("ok   access: incident %s (%s) affects %s\n", iid ? iid : "?", type, label);
    } else {
      (*failures)++;
      LOG("FAIL access: incident %s (%s) is labelled %s, want %s\n", iid ? iid : "?", type, label ? label : "nothing",
          want);
    }
  }
done:
  kp_sigset_free(s);
  kp_json_doc_free(id);
  kp_json_doc_free(td);
  return st;
}
