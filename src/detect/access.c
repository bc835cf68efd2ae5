/*
 * access.c: mobile and fixed apart (issue 16 item 3; docs/detect.md "Mobile and fixed").
 *
 * Input: the access split of series.c, entity "access" CC/mobile|fixed, built from the
 * measurements whose probe knew its access type (test_keys.keepon_access_type, or OONI's
 * annotations.network_type "mobile"). Two uses, neither of which raises an event:
 *
 *   kp_access_summaries   per (country, access type): when its network went down, from the
 *                         hourly access-down series. A bin with measurements is down when at
 *                         least half of them found the network down (>= 500 per 1000); a
 *                         period is a run of down bins, bins without measurements bridged
 *                         (no data is not "up"), ended by the first up bin.
 *   kp_access_label       which access types an incident affects: a network incident those
 *                         with a down period overlapping its windows; a service incident those
 *                         whose probe-<service> split failed (>= 500 per 1000 in a bin) inside
 *                         it. "measured" = the types with any measurement inside the incident,
 *                         so "mobile only" is said only when fixed was measured and was not hit;
 *                         for a service incident a type whose network was down in most of its
 *                         measured hours inside it is not "measured" (no network, no verdict on
 *                         the apps: Kazakhstan's mobile data went with the app blocking).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect/detect.h"

#define DOWN_PERMILLE 500.0

static unsigned access_bit(const char *code, const char *cc) {
  if (strncmp(code, cc, 2) || code[2] != '/') return 0;
  if (!strcmp(code + 3, "mobile")) return KP_ACCESS_BIT_MOBILE;
  if (!strcmp(code + 3, "fixed")) return KP_ACCESS_BIT_FIXED;
  return 0;
}

static bool bin_has(const kp_series_t *s, size_t b) { return s->cnt && s->cnt[b] > 0 && !isnan(s->v[b]); }

static void summarise(const kp_series_t *s, kp_access_summary_t *o) {
  o->first_down = -1;
  bool open = false;
  for (size_t b = 0; b < s->n; b++) {
    if (!bin_has(s, b)) continue;
    int64_t t = s->t0 + (int64_t)b * s->step;
    o->measurements += s->cnt[b];
    o->down_measurements += (int64_t)llround(s->v[b] * (double)s->cnt[b] / 1000.0);
    bool down = s->v[b] >= DOWN_PERMILLE;
    if (down && !open) {
      if (o->first_down < 0) o->first_down = t;
      if (o->nperiods < KP_ACCESS_MAX_PERIODS) {
        o->periods[o->nperiods++] = (kp_window_t){t, t + s->step};
        open = true;
      }
    } else if (down) {
      o->periods[o->nperiods - 1].end = t + s->step;
    } else {
      open = false;
    }
  }
}

size_t kp_access_summaries(const kp_sigset_t *s, const char *cc, kp_access_summary_t *out, size_t cap) {
  size_t n = 0;
  for (unsigned bit = KP_ACCESS_BIT_MOBILE; bit <= KP_ACCESS_BIT_FIXED && n < cap; bit <<= 1) {
    const char *name = bit == KP_ACCESS_BIT_MOBILE ? "mobile" : "fixed";
    char code[16];
    snprintf(code, sizeof code, "%.2s/%s", cc, name);
    const kp_series_t *se = kp_sigset_find(s, "access", code, KP_ACCESS_DS);
    if (!se) continue;
    kp_access_summary_t *o = &out[n];
    memset(o, 0, sizeof *o);
    memcpy(o->cc, cc, 2);
    strcpy(o->access, name);
    summarise(se, o);
    if (o->measurements) n++;
  }
  return n;
}

/* any bin of @p s overlapping [a, b) with measurements (*measured) and >= 500 per 1000 (return) */
static bool failed_in(const kp_series_t *s, int64_t a, int64_t b, bool *measured) {
  bool hit = false;
  for (size_t k = 0; s && k < s->n; k++) {
    int64_t t = s->t0 + (int64_t)k * s->step;
    if (t + s->step <= a || t >= b || !bin_has(s, k)) continue;
    *measured = true;
    hit |= s->v[k] >= DOWN_PERMILLE;
  }
  return hit;
}

/* hours of @p s (access-down) inside [a, b) with measurements, and how many of them were down */
static void down_hours(const kp_series_t *s, int64_t a, int64_t b, size_t *hours, size_t *down) {
  *hours = *down = 0;
  for (size_t k = 0; s && k < s->n; k++) {
    int64_t t = s->t0 + (int64_t)k * s->step;
    if (t + s->step <= a || t >= b || !bin_has(s, k)) continue;
    (*hours)++;
    *down += s->v[k] >= DOWN_PERMILLE;
  }
}

void kp_access_label(const kp_sigset_t *s, const kp_incident_t *inc, unsigned *affected, unsigned *measured) {
  *affected = *measured = 0;
  bool service = inc->type == KP_INC_SERVICE || inc->type == KP_INC_THROTTLING;
  for (size_t i = 0; i < kp_sigset_count(s); i++) {
    const kp_series_t *se = kp_sigset_at(s, i);
    unsigned bit;
    if (strcmp(se->entity_type, "access") || !(bit = access_bit(se->entity_code, inc->cc))) continue;
    bool m = false, hit = false;
    if (!service && !strcmp(se->datasource, KP_ACCESS_DS)) {
      if (inc->nwindows) {
        for (size_t w = 0; w < inc->nwindows; w++) hit |= failed_in(se, inc->windows[w].start, inc->windows[w].end, &m);
      } else {
        hit = failed_in(se, inc->start, inc->end, &m);
      }
    } else if (service && !strncmp(se->datasource, "probe-", 6)) {
      const char *svc = se->datasource + 6;
      bool named = false;
      for (size_t k = 0; k < inc->nservices && !named; k++)
        named = !strcmp(inc->services[k], svc) || (!strcmp(svc, "web") && strchr(inc->services[k], '.'));
      if (!named) continue;
      hit = failed_in(se, inc->start, inc->end, &m);
    } else {
      continue;
    }
    if (m) *measured |= bit;
    if (hit) *affected |= bit;
  }
  if (!service) return;
  for (unsigned bit = KP_ACCESS_BIT_MOBILE; bit <= KP_ACCESS_BIT_FIXED; bit <<= 1) {
    char code[16];
    snprintf(code, sizeof code, "%.2s/%s", inc->cc, bit == KP_ACCESS_BIT_MOBILE ? "mobile" : "fixed");
    size_t h, d;
    down_hours(kp_sigset_find(s, "access", code, KP_ACCESS_DS), inc->start, inc->end, &h, &d);
    if (h && 2 * d > h && !(*affected & bit)) *measured &= ~bit;
  }
}

const char *kp_access_label_name(unsigned affected, unsigned measured) {
  if (!affected) return NULL;
  if (affected == (KP_ACCESS_BIT_MOBILE | KP_ACCESS_BIT_FIXED)) return "both";
  unsigned other = affected ^ (KP_ACCESS_BIT_MOBILE | KP_ACCESS_BIT_FIXED);
  if (measured & other) return affected == KP_ACCESS_BIT_MOBILE ? "mobile_only" : "fixed_only";
  return affected == KP_ACCESS_BIT_MOBILE ? "mobile" : "fixed";
}
