/*
 * config.c: detector settings from text ("active.history=2016b,merge_gap=1h")
 * and reading input files into a signal set.
 *
 * Keys: {bgp,active,other}.{warning,critical,history,warmup,maxduration,
 * minduration,minprediction,inpaint_lo,inpaint_hi}, cusum.{k,h,baseline,min_count},
 * curfew.{min_windows,max_up,min_up,max_cycle,tod_tol}, merge_gap.
 * Spans take s/m/h/d or b (bins) suffixes (kp_span_parse). A bad key or value
 * leaves the configuration unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "detect/detect.h"

static bool num(const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= lo && d <= hi)) return false;
  *out = d;
  return true;
}

static bool secs(const char *v, int64_t *out) {
  kp_span_t s;
  if (kp_span_parse(v, &s) != 0 || s.bins) return false;
  *out = s.v;
  return true;
}

static bool set_one(kp_detect_cfg_t *c, const char *k, const char *v) {
  kp_ioda_params_t *p = NULL;
  const char *f = NULL;
  if (!strncmp(k, "bgp.", 4)) { p = &c->bgp; f = k + 4; }
  else if (!strncmp(k, "active.", 7)) { p = &c->active; f = k + 7; }
  else if (!strncmp(k, "other.", 6)) { p = &c->other; f = k + 6; }
  double d;
  if (p) {
    kp_span_t *sp = !strcmp(f, "history") ? &p->history : !strcmp(f, "warmup") ? &p->warmup
                  : !strcmp(f, "maxduration") ? &p->maxduration : !strcmp(f, "minduration") ? &p->minduration : NULL;
    if (sp) return kp_span_parse(v, sp) == 0;
    double *dp = !strcmp(f, "warning") ? &p->warning : !strcmp(f, "critical") ? &p->critical
               : !strcmp(f, "minprediction") ? &p->minprediction : !strcmp(f, "inpaint_lo") ? &p->inpaint_lo
               : !strcmp(f, "inpaint_hi") ? &p->inpaint_hi : NULL;
    if (!dp || !num(v, 0, 1e12, &d)) return false;
    *dp = d;
    return true;
  }
  if (!strncmp(k, "cusum.", 6)) {
    f = k + 6;
    double *dp = !strcmp(f, "k") ? &c->cusum.k : !strcmp(f, "h") ? &c->cusum.h
               : !strcmp(f, "baseline") ? &c->cusum.baseline : !strcmp(f, "min_count") ? &c->cusum.min_count : NULL;
    if (!dp || !num(v, 0, 1e9, &d)) return false;
    *dp = d;
    return true;
  }
  if (!strncmp(k, "curfew.", 7)) {
    f = k + 7;
    if (!strcmp(f, "min_windows")) {
      if (!num(v, 2, 1000, &d)) return false;
      c->curfew.min_windows = (size_t)d;
      return true;
    }
    int64_t *ip = !strcmp(f, "max_up") ? &c->curfew.max_up_s : !strcmp(f, "min_up") ? &c->curfew.min_up_s
                : !strcmp(f, "max_cycle") ? &c->curfew.max_cycle_s : !strcmp(f, "tod_tol") ? &c->curfew.tod_tol_s : NULL;
    return ip && secs(v, ip);
  }
  if (!strcmp(k, "merge_gap")) return secs(v, &c->merge_gap_s);
  return false;
}

kp_status_t kp_detect_cfg_tune(kp_detect_cfg_t *c, const char *spec, char *err, size_t errcap) {
  kp_detect_cfg_t tmp = *c;
  char item[256];
  for (const char *s = spec; s && *s;) {
    size_t n = strcspn(s, ",");
    if (n >= sizeof item) n = sizeof item - 1;
    memcpy(item, s, n);
    item[n] = 0;
    s += strcspn(s, ",");
    if (*s == ',') s++;
    if (!item[0]) continue;
    char *eq = strchr(item, '=');
    if (!eq || !set_one(&tmp, (*eq = 0, item), eq + 1)) {
      if (eq) *eq = '=';
      snprintf(err, errcap, "bad setting '%s'", item);
      return KP_ERR_INVAL;
    }
  }
  *c = tmp;
  return KP_OK;
}

kp_status_t kp_detect_load_file(kp_sigset_t *s, const char *path, kp_read_stats_t *st) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)4 << 30);
  kp_status_t r = kp_file_read(path, &b);
  if (r == KP_OK) r = kp_sigset_add_jsonl(s, b.data, b.len, st);
  kp_buf_free(&b);
  return r;
}
