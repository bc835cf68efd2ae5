/*
 * risk.c: early warning. An alert level "shutdown risk" for a country where
 * precursors of a shutdown appear while it has no national outage (yet), as in
 * Kazakhstan 2022: WhatsApp, Telegram and Signal blocked on January 4, the
 * national cut on January 5.
 *
 * Precursors, read from the incident set (so they carry detect's evidence):
 *   apps        a service-blocking incident whose services include a messaging app
 *   throttling  a throttling incident
 *   dns         DNS tampering (an incident technique named dns*) that is NEW: no incident
 *               of the country had a DNS technique in the lookback before it
 * "No outage yet": no national (full shutdown) incident of the country overlaps
 * [precursor start - lookback, precursor start]. A regional or per-network
 * outage does not count: the warning is about the national cut.
 *
 * Episodes (one alert each): a country's precursor incidents sorted by start;
 * one joins the open episode when it starts at most `gap` after the episode's
 * end and before the national outage that ended the episode, if any. An episode
 * runs from its first precursor's start to the latest precursor end, cut at the
 * start of the first national outage at or after its start; that outage's id and
 * the lead time (outage start - episode start) are recorded.
 *
 *   quiet --precursor, no national outage in lookback--> RISK --national outage starts--> followed
 *                                                         |--precursors end, gap passes--> ended
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "detect/detect.h"

void kp_risk_params_default(kp_risk_params_t *p) {
  p->lookback_s = 7 * 86400;
  p->gap_s = 24 * 3600;
}

const char *kp_precursor_name(kp_precursor_t p) {
  switch (p) {
  case KP_PRE_APPS: return "messaging apps blocked";
  case KP_PRE_THROTTLING: return "throttling";
  case KP_PRE_DNS: return "new DNS tampering";
  }
  return "unknown";
}

/* keepon's messaging-app tests (probe-<name>) and OONI's names for the same apps */
static bool messaging(const char *svc) {
  static const char *const apps[] = {"whatsapp", "telegram", "signal", "facebook_messenger", "viber", "wechat",
                                     "line", "imo", "skype", "threema", "messenger"};
  for (size_t i = 0; i < sizeof apps / sizeof *apps; i++)
    if (!strcmp(svc, apps[i])) return true;
  return false;
}

static bool has_dns(const kp_incident_t *c) {
  for (size_t i = 0; i < c->ntechniques; i++)
    if (!strncmp(c->techniques[i].name, "dns", 3)) return true;
  return false;
}

static bool overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1) { return a0 <= b1 && b0 <= a1; }

/* the precursors incident i shows (KP_PRE_* bits) */
static unsigned kinds(const kp_risk_params_t *p, const kp_incset_t *is, const kp_incident_t *c) {
  unsigned k = 0;
  if (c->type == KP_INC_SERVICE)
    for (size_t j = 0; j < c->nservices; j++)
      if (messaging(c->services[j])) k |= KP_PRE_APPS;
  if (c->type == KP_INC_THROTTLING) k |= KP_PRE_THROTTLING;
  if (has_dns(c)) {
    bool seen = false;
    for (size_t j = 0; j < kp_incset_count(is) && !seen; j++) {
      const kp_incident_t *o = kp_incset_at(is, j);
      seen = o != c && !strcmp(o->cc, c->cc) && has_dns(o) && o->start < c->start && o->end > c->start - p->lookback_s;
    }
    if (!seen) k |= KP_PRE_DNS;
  }
  return k;
}

static const kp_incident_t *national_outage_near(const kp_risk_params_t *p, const kp_incset_t *is, const char *cc,
                                                 int64_t t) {
  for (size_t j = 0; j < kp_incset_count(is); j++) {
    const kp_incident_t *o = kp_incset_at(is, j);
    if (o->type == KP_INC_FULL && !strcmp(o->cc, cc) && overlaps(o->start, o->end, t - p->lookback_s, t)) return o;
  }
  return NULL;
}

static const kp_incident_t *next_outage(const kp_incset_t *is, const char *cc, int64_t t) {
  const kp_incident_t *best = NULL;
  for (size_t j = 0; j < kp_incset_count(is); j++) {
    const kp_incident_t *o = kp_incset_at(is, j);
    if (o->type == KP_INC_FULL && !strcmp(o->cc, cc) && o->start >= t && (!best || o->start < best->start)) best = o;
  }
  return best;
}

static void append(char *dst, size_t cap, const char *s) {
  if (strstr(dst, s)) return; /* names are unique in a list: a substring test is enough for ids/apps */
  size_t l = strlen(dst);
  snprintf(dst + l, cap - l, "%s%s", l ? ", " : "", s);
}

static int cmp_start(const void *a, const void *b) {
  const kp_incident_t *x = *(const kp_incident_t *const *)a, *y = *(const kp_incident_t *const *)b;
  int c = strcmp(x->cc, y->cc);
  if (c) return c;
  return x->start < y->start ? -1 : x->start > y->start;
}

kp_status_t kp_risk_assess(const kp_risk_params_t *p, const kp_incset_t *is, kp_risk_list_t *out) {
  out->v = NULL;
  out->n = 0;
  size_t n = kp_incset_count(is), np = 0;
  const kp_incident_t **pre = malloc((n + 1) * sizeof *pre);
  unsigned *pk = malloc((n + 1) * sizeof *pk);
  if (!pre || !pk) {
    free(pre);
    free(pk);
    return KP_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const kp_incident_t *c = kp_incset_at(is, i);
    if (kinds(p, is, c) && !national_outage_near(p, is, c->cc, c->start)) pre[np++] = c;
  }
  qsort(pre, np, sizeof *pre, cmp_start);
  for (size_t i = 0; i < np; i++) pk[i] = kinds(p, is, pre[i]);
  kp_status_t st = KP_OK;
  kp_risk_t *cur = NULL;
  for (size_t i = 0; i < np && st == KP_OK; i++) {
    const kp_incident_t *c = pre[i];
    bool join = cur && !strcmp(cur->cc, c->cc) && c->start <= cur->end + p->gap_s &&
                (!cur->outage[0] || c->start < cur->end);
    if (!join) {
      kp_risk_t *v = realloc(out->v, (out->n + 1) * sizeof *v);
      if (!v) { st = KP_ERR_NOMEM; break; }
      out->v = v;
      cur = &v[out->n++];
      memset(cur, 0, sizeof *cur);
      memcpy(cur->cc, c->cc, 3);
      cur->start = c->start;
      cur->end = c->end;
      for (unsigned b = 1; b <= KP_PRE_DNS; b <<= 1)
        if (pk[i] & b) { cur->first = (kp_precursor_t)b; break; }
    }
    cur->precursors |= pk[i];
    if (c->end > cur->end) cur->end = c->end;
    append(cur->incidents, sizeof cur->incidents, c->id);
    if (pk[i] & KP_PRE_APPS)
      for (size_t j = 0; j < c->nservices; j++)
        if (messaging(c->services[j])) append(cur->services, sizeof cur->services, c->services[j]);
    const kp_incident_t *o = next_outage(is, cur->cc, cur->start);
    cur->outage[0] = 0;
    cur->lead_s = 0;
    if (o && o->start <= cur->end + p->gap_s) { /* the cut followed while the risk stood */
      snprintf(cur->outage, sizeof cur->outage, "%s", o->id);
      cur->lead_s = o->start - cur->start;
      if (cur->end > o->start) cur->end = o->start;
    }
  }
  free(pre);
  free(pk);
  if (st != KP_OK) kp_risks_free(out);
  return st;
}

void kp_risks_free(kp_risk_list_t *l) {
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static void utc(int64_t t, bool compact, char *out, size_t cap) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || !strftime(out, cap, compact ? "%Y%m%dT%H%MZ" : "%Y-%m-%dT%H:%M:%SZ", &tm)) out[0] = 0;
}

void kp_risk_json(const kp_risk_t *r, void *jwp) {
  kp_jw_t *w = jwp;
  char stamp[24], id[48], a[32], b[32];
  utc(r->start, true, stamp, sizeof stamp);
  utc(r->start, false, a, sizeof a);
  utc(r->end, false, b, sizeof b);
  snprintf(id, sizeof id, "%s-risk-%s", r->cc, stamp); /* like incident ids: <CC>-<kind>-<start> */
  kp_jw_obj_begin(w);
  /* the fields of detect's incident record where they mean the same (id, type, cc, start,
   * end, services), so incident lists and the dashboard can carry alerts beside incidents */
  kp_jw_kstr(w, "id", id);
  kp_jw_kstr(w, "type", "shutdown risk");
  kp_jw_kstr(w, "level", "shutdown risk");
  kp_jw_kstr(w, "cc", r->cc);
  kp_jw_kstr(w, "start", a);
  kp_jw_kstr(w, "end", b);
  kp_jw_kint(w, "start_ts", r->start);
  kp_jw_kint(w, "end_ts", r->end);
  kp_jw_key(w, "precursors");
  kp_jw_arr_begin(w);
  for (unsigned bit = 1; bit <= KP_PRE_DNS; bit <<= 1)
    if (r->precursors & bit) kp_jw_str(w, kp_precursor_name((kp_precursor_t)bit));
  kp_jw_arr_end(w);
  kp_jw_kstr(w, "first", kp_precursor_name(r->first));
  static const struct { const char *key; size_t off; } lists[] = {{"services", offsetof(kp_risk_t, services)},
                                                                  {"incidents", offsetof(kp_risk_t, incidents)}};
  for (size_t l = 0; l < 2; l++) { /* ", "-separated -> array */
    kp_jw_key(w, lists[l].key);
    kp_jw_arr_begin(w);
    for (const char *p = (const char *)r + lists[l].off, *q; *p; p = *q ? q + 2 : q) {
      q = strstr(p, ", ");
      if (!q) q = p + strlen(p);
      kp_jw_strn(w, p, (size_t)(q - p));
    }
    kp_jw_arr_end(w);
  }
  kp_jw_key(w, "followed_by");
  if (r->outage[0]) kp_jw_str(w, r->outage);
  else kp_jw_null(w);
  kp_jw_key(w, "lead_s");
  if (r->outage[0]) kp_jw_int(w, r->lead_s);
  else kp_jw_null(w);
  kp_jw_obj_end(w);
}
