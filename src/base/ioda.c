/* ioda.c: IODA API v2 envelope and entity codes (see ioda.h for the definitions followed). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/ioda.h"

static void iso(kp_jw_t *w, const char *k, int64_t t) {
  char b[40];
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || !strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S+00:00", &tm)) b[0] = 0;
  kp_jw_kstr(w, k, b);
}

void kp_ioda_env_begin(kp_jw_t *w, const char *type, int64_t request_time, int64_t response_time,
                       const kp_ioda_signals_params_t *p, const char *error) {
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "type", type);
  kp_jw_key(w, "metadata");
  kp_jw_obj_begin(w);
  iso(w, "requestTime", request_time);
  iso(w, "responseTime", response_time);
  kp_jw_obj_end(w);
  kp_jw_key(w, "requestParameters");
  kp_jw_obj_begin(w);
  if (p) {
    kp_jw_kint(w, "from", p->from);
    kp_jw_kint(w, "until", p->until);
    kp_jw_kstr(w, "datasource", p->datasource); /* NULL -> null */
    kp_jw_knull(w, "sourceParams");
    if (p->max_points) kp_jw_kint(w, "maxPoints", p->max_points);
    else kp_jw_knull(w, "maxPoints");
  }
  kp_jw_obj_end(w);
  kp_jw_kstr(w, "error", error);
  kp_jw_knull(w, "perf");
  kp_jw_key(w, "data");
}

void kp_ioda_env_end(kp_jw_t *w) {
  kp_jw_kstr(w, "copyright", KP_IODA_COPYRIGHT);
  kp_jw_obj_end(w);
}

static bool digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

const char *kp_ioda_code_out(const char *etype, const char *code) {
  if (etype && code && !strcmp(etype, "asn") && (code[0] == 'A' || code[0] == 'a') && (code[1] == 'S' || code[1] == 's') &&
      digits(code + 2))
    return code + 2;
  return code;
}

int kp_ioda_code_in(const char *etype, const char *code, char *out, size_t cap) {
  int n;
  if (!strcmp(etype, "asn")) {
    const char *num = kp_ioda_code_out(etype, code);
    if (!digits(num) || strlen(num) > 10) return -1;
    n = snprintf(out, cap, "AS%s", num);
  } else {
    n = snprintf(out, cap, "%s", code);
  }
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}
