/*
 * incident.c: events -> incidents.
 *
 * Events are keyed by (country, class) where class is "network" (level signals:
 * ping-slash24, bgp, ...) or "service" (probe-* failure rates), then swept in
 * start order: an event starting no later than merge_gap after the group's end
 * joins the group. A curfew event spans its windows, so it pulls the daily
 * outages it covers into one incident.
 *
 * Per incident (docs/detect.md has the table):
 *   type      network: a CRITICAL country-level ping-slash24/bgp event -> full
 *             shutdown when >= KP_INC_FULL_SHARE of the baseline blocks went down at
 *             the deepest bin (ping-slash24, else bgp), else partial shutdown; else
 *             regions -> regional, else ASNs only -> per-network, else (a
 *             warning-level national dip alone) partial shutdown; service -> service
 *             blocking; any technique naming throttling -> throttling
 *   score     IODA overall: product over datasources of each one's largest score
 *   confidence 1 - Π(1 - p_ds) over distinct datasources (ping-slash24 .6, bgp .4,
 *             probe-* .5 each, others .3), rounded to 0.01
 *   windows   the curfew's down windows, else the union of the events' intervals
 *   findings  "BGP visible, traffic down" when active probing dropped for an
 *             entity whose bgp series has data and no overlapping event; a
 *             bgp-updates spike within 1 h of the start (> 5x the day's median)
 *   unreachable  service: failures in probe bins overlapping a national (full or
 *             partial) network incident's down windows are counted here, not as
 *             techniques: a cut is not an app block
 * Everything the incident points to lives in the set's arena, except `events`
 * (borrowed from the caller's event list). Output order: start, cc, id.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/arena.h"
#include "base/json.h"
#include "detect/detect.h"
#include "detect/internal.h"

#define KP_INC_MAX_EVIDENCE 50

struct kp_incset {
  kp_arena_t *arena;
  kp_incident_t *v;
  size_t n;
};

typedef struct item { const kp_event_t *e; char cc[3]; int cls; } item_t;

typedef struct tech_acc { const char *name; int64_t count; } tech_acc_t;
typedef struct svc_tech_acc { const char *service, *name; int64_t count; } svc_tech_acc_t;

/* Adds @p count to (service, name), growing the array; the names are the arena's. */
static bool svc_tech_add(svc_tech_acc_t **v, size_t *n, size_t *cap, const char *service, const char *name,
                         int64_t count) {
  size_t j;
  for (j = 0; j < *n && (strcmp((*v)[j].service, service) || strcmp((*v)[j].name, name)); j++) {}
  if (j == *n) {
    if (*n == *cap) {
      size_t nc = *cap ? *cap * 2 : 8;
      void *p = realloc(*v, nc * sizeof **v);
      if (!p) return false;
      *v = p;
      *cap = nc;
    }
    (*v)[*n] = (svc_tech_acc_t){service, name, 0};
    (*n)++;
  }
  (*v)[j].count += count;
  return true;
}
typedef struct strset { const char **v; size_t n, cap; } strset_t;

static kp_status_t ss_add(strset_t *s, const char *x) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], x)) return KP_OK;
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 8;
    const char **v = realloc(s->v, nc * sizeof *v);
    if (!v) return KP_ERR_NOMEM;
    s->v = v;
    s->cap = nc;
  }
  s->v[s->n++] = x;
  return KP_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* sorted arena copy of a set */
static kp_status_t ss_out(kp_arena_t *a, strset_t *s, const char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!s->n) return KP_OK;
  qsort(s->v, s->n, sizeof *s->v, cmp_str);
  const char **v = kp_arena_alloc(a, s->n * sizeof *v);
  if (!v) return KP_ERR_NOMEM;
  for (size_t i = 0; i < s->n; i++)
    if (!(v[i] = kp_arena_strndup(a, s->v[i], strlen(s->v[i])))) return KP_ERR_NOMEM;
  *out = v;
  *n = s->n;
  return KP_OK;
}

const char *kp_inc_type_name(kp_inc_type_t t) {
  static const char *const names[] = {"full shutdown", "regional", "per-network", "service blocking", "throttling",
                                      "partial shutdown"};
  return (unsigned)t < 6 ? names[t] : "unknown";
}

static bool is_probe(const kp_series_t *s) { return s && kp_det_is_service_ds(s->datasource); }

static void event_cc(const kp_sigset_t *set, const kp_event_t *e, char cc[3]) {
  cc[0] = 0;
  const kp_series_t *s = e->series;
  if (!s) return;
  const char *c = s->cc[0] ? s->cc : kp_sigset_cc_of(set, s->entity_type, s->entity_code);
  if (c) memcpy(cc, c, 3);
  else memcpy(cc, "ZZ", 3); /* unknown country: kept apart, never merged with a real one */
}

static int cmp_item(const void *a, const void *b) {
  const item_t *x = a, *y = b;
  int c = strcmp(x->cc, y->cc);
  if (c) return c;
  if (x->cls != y->cls) return x->cls - y->cls;
  if (x->e->start != y->e->start) return x->e->start < y->e->start ? -1 : 1;
  if (x->e->end != y->e->end) return x->e->end < y->e->end ? -1 : 1;
  c = strcmp(x->e->series->entity_code, y->e->series->entity_code);
  if (c) return c;
  c = strcmp(x->e->series->datasource, y->e->series->datasource);
  return c ? c : strcmp(x->e->detector, y->e->detector);
}

static int cmp_win(const void *a, const void *b) {
  const kp_window_t *x = a, *y = b;
  return (x->start > y->start) - (x->start < y->start);
}

static double ds_weight(const char *ds) {
  if (!strcmp(ds, "ping-slash24")) return 0.6;
  if (!strcmp(ds, "bgp")) return 0.4;
  if (kp_det_is_service_ds(ds)) return 0.5;
  return 0.3;
}

static bool overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1) { return a0 < b1 && b0 < a1; }

static bool tech_throttle(const char *name) { return strstr(name, "throttl") != NULL; }

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Largest bgp-updates bin within ±1 h of @p t that is > 5× the median of the day before and
 * exceeds it by at least 10. */
static bool bgp_update_spike(const kp_series_t *u, int64_t t, int64_t *at, double *peak, double *med) {
  double hist[2048];
  size_t nh = 0;
  for (int64_t x = t - 86400; x < t - 3600 && nh < 2048; x += u->step) {
    if (x < u->t0) continue;
    size_t b = (size_t)((x - u->t0) / u->step);
    if (b < u->n && !isnan(u->v[b])) hist[nh++] = u->v[b];
  }
  if (nh < 4) return false;
  qsort(hist, nh, sizeof *hist, cmp_dbl);
  *med = hist[(nh + 1) / 2 - 1];
  *peak = 0;
  for (int64_t x = t - 3600; x <= t + 3600; x += u->step) {
    if (x < u->t0) continue;
    size_t b = (size_t)((x - u->t0) / u->step);
    if (b < u->n && !isnan(u->v[b]) && u->v[b] > *peak) {
      *peak = u->v[b];
      *at = u->t0 + (int64_t)b * u->step;
    }
  }
  return *peak > 5 * *med && *peak >= *med + 10;
}

/* The national network incident of @p cc (full or partial shutdown, built before the country's
 * service incidents: items sort network first) whose down windows overlap [t, t + step). */
static const kp_incident_t *national_outage_at(const kp_incident_t *done, size_t ndone, const char *cc, int64_t t,
                                               int64_t step) {
  for (size_t i = 0; i < ndone; i++) {
    const kp_incident_t *o = &done[i];
    if (strcmp(o->cc, cc) || (o->type != KP_INC_FULL && o->type != KP_INC_PARTIAL)) continue;
    for (size_t w = 0; w < o->nwindows; w++)
      if (overlaps(t, t + step, o->windows[w].start, o->windows[w].end)) return o;
  }
  return NULL;
}

static kp_status_t build(const kp_sigset_t *set, const kp_event_list_t *all, kp_arena_t *a, const item_t *it,
                         size_t n, const kp_incident_t *done, size_t ndone, kp_incident_t *inc) {
  kp_status_t st = KP_ERR_NOMEM;
  strset_t src = {0}, reg = {0}, asn = {0}, svc = {0}, fnd = {0};
  tech_acc_t *tech = NULL;
  size_t ntech = 0, ctech = 0;
  svc_tech_acc_t *stech = NULL;
  size_t nstech = 0, cstech = 0;
  kp_window_t *win = NULL;
  size_t nwin = 0;
  memset(inc, 0, sizeof *inc);
  memcpy(inc->cc, it[0].cc, 3);
  int cls = it[0].cls;
  inc->start = it[0].e->start;
  inc->end = it[0].e->end;
  inc->down_share = -1;
  double share_bgp = -1;
  bool country_level = false, country_any = false, has_region = false;
  const kp_event_t *curf = NULL;
  inc->events = kp_arena_alloc(a, n * sizeof *inc->events);
  if (!inc->events) goto out;
  inc->nevents = n;
  for (size_t i = 0; i < n; i++) {
    const kp_event_t *e = it[i].e;
    const kp_series_t *s = e->series;
    inc->events[i] = e;
    if (e->start < inc->start) inc->start = e->start;
    if (e->end > inc->end) inc->end = e->end;
    if (e->level > inc->level) inc->level = e->level;
    if (e->end >= s->t0 + (int64_t)s->n * s->step) inc->ongoing = true;
    if (ss_add(&src, s->datasource) != KP_OK) goto out;
    bool country = !strcmp(s->entity_type, "country");
    if (!strcmp(s->entity_type, "region")) { has_region = true; if (ss_add(&reg, s->entity_code)) goto out; }
    if (!strcmp(s->entity_type, "asn") && ss_add(&asn, s->entity_code)) goto out;
    if (country && (!strcmp(s->datasource, "ping-slash24") || !strcmp(s->datasource, "bgp"))) {
      country_any = true;
      if (e->level == KP_LVL_CRITICAL) country_level = true;
      /* share of the baseline down at the deepest bin: max_drop = (prediction - value) / prediction */
      double sh = fmin(1.0, fmax(0.0, e->max_drop / 100.0));
      double *acc = !strcmp(s->datasource, "ping-slash24") ? &inc->down_share : &share_bgp;
      if (sh > *acc) *acc = sh;
    }
    if (e->nwin && (!curf || (country && strcmp(curf->series->entity_type, "country")))) curf = e;
    if (is_probe(s)) {
      const char *name = s->datasource + 6;
      if (!strcmp(s->entity_type, "domain")) {
        const char *slash = strchr(s->entity_code, '/');
        name = slash ? slash + 1 : s->entity_code;
      }
      if (strcmp(name, "web") && ss_add(&svc, name)) goto out;
    }
  }
  /* techniques and measurement evidence: country-level probe series only, so one
   * measurement (which feeds country, asn and domain series) counts once */
  size_t nev = 0;
  inc->evidence = kp_arena_alloc(a, KP_INC_MAX_EVIDENCE * sizeof *inc->evidence);
  if (!inc->evidence) goto out;
  for (size_t i = 0; i < n; i++) {
    const kp_event_t *e = it[i].e;
    const kp_series_t *s = e->series;
    bool seen = false;
    for (size_t j = 0; j < i; j++) seen |= it[j].e->series == s;
    if (seen) continue;
    if (!is_probe(s)) {
      if (nev < KP_INC_MAX_EVIDENCE) {
        char ref[300];
        snprintf(ref, sizeof ref, "signals/raw/%s/%s?datasource=%s&from=%lld&until=%lld", s->entity_type,
                 s->entity_code, s->datasource, (long long)inc->start, (long long)inc->end);
        kp_inc_evidence_t *v = &inc->evidence[nev++];
        v->kind = "signal";
        v->ref = kp_arena_strndup(a, ref, strlen(ref));
        v->hash = "";
        if (!v->ref) goto out;
      }
      continue;
    }
    if (strcmp(s->entity_type, "country")) continue;
    for (size_t k = 0; k < s->ntech; k++) {
      int64_t t = s->t0 + (int64_t)s->tech[k].bin * s->step;
      if (t < inc->start || t >= inc->end) continue;
      /* a failure in a bin that overlaps the national shutdown says the network was gone, not how
       * the service was blocked: counted as unreachable, never as a technique */
      const kp_incident_t *cut = cls == 1 ? national_outage_at(done, ndone, inc->cc, t, s->step) : NULL;
      if (cut) {
        inc->unreachable += s->tech[k].count;
        if (!inc->unreachable_in) inc->unreachable_in = kp_arena_strndup(a, cut->id, strlen(cut->id));
        if (!inc->unreachable_in) goto out;
        continue;
      }
      size_t j;
      for (j = 0; j < ntech && strcmp(tech[j].name, s->tech[k].name); j++) {}
      if (j == ntech) {
        if (ntech == ctech) {
          size_t nc = ctech ? ctech * 2 : 8;
          void *p = realloc(tech, nc * sizeof *tech);
          if (!p) goto out;
          tech = p;
          ctech = nc;
        }
        tech[ntech].name = kp_arena_strndup(a, s->tech[k].name, strlen(s->tech[k].name));
        if (!tech[ntech].name) goto out;
        tech[ntech++].count = 0;
      }
      tech[j].count += s->tech[k].count;
      if (!svc_tech_add(&stech, &nstech, &cstech, s->datasource + 6, tech[j].name, s->tech[k].count)) goto out;
    }
    for (size_t k = 0; k < s->nev && nev < KP_INC_MAX_EVIDENCE; k++) {
      int64_t t = s->t0 + (int64_t)s->ev[k].bin * s->step;
      if (t < inc->start || t >= inc->end) continue;
      kp_inc_evidence_t *v = &inc->evidence[nev++];
      v->kind = "measurement";
      v->ref = kp_arena_strndup(a, s->ev[k].uid, strlen(s->ev[k].uid));
      v->hash = kp_arena_strndup(a, s->ev[k].sha256, strlen(s->ev[k].sha256));
      if (!v->ref || !v->hash) goto out;
    }
  }
  inc->nevidence = nev;
  /* throttling only when every technique seen is a slowdown: one throttled app among blocked
   * ones is still service blocking (the throttled app shows in service_techniques) */
  bool throttled = ntech > 0;
  for (size_t j = 0; j < ntech; j++) throttled &= tech_throttle(tech[j].name);
  for (size_t j = 1; j < ntech; j++) /* sort techniques: count desc, name */
    for (size_t k = j; k > 0 && (tech[k].count > tech[k - 1].count ||
                                 (tech[k].count == tech[k - 1].count && strcmp(tech[k].name, tech[k - 1].name) < 0)); k--) {
      tech_acc_t x = tech[k]; tech[k] = tech[k - 1]; tech[k - 1] = x;
    }
  if (cls == 1) inc->type = throttled ? KP_INC_THROTTLING : KP_INC_SERVICE;
  else if (throttled) inc->type = KP_INC_THROTTLING;
  else if (country_level) /* full vs partial: the share of the baseline blocks that went dark */
    inc->type = (inc->down_share >= 0 ? inc->down_share : share_bgp) >= KP_INC_FULL_SHARE ? KP_INC_FULL : KP_INC_PARTIAL;
  else if (has_region) inc->type = KP_INC_REGIONAL;
  else if (inc->nevents && !country_any) inc->type = KP_INC_NETWORK;
  else inc->type = KP_INC_PARTIAL; /* only a warning-level national dip: under half the blocks went down */
  if (inc->down_share < 0) inc->down_share = share_bgp;
  /* windows */
  if (curf) {
    inc->curfew = true;
    inc->daily_fixed = curf->daily_fixed;
    nwin = curf->nwin;
    win = malloc(nwin * sizeof *win);
    if (!win) goto out;
    memcpy(win, curf->win, nwin * sizeof *win);
  } else {
    win = malloc(n * sizeof *win);
    if (!win) goto out;
    for (size_t i = 0; i < n; i++) win[i] = (kp_window_t){it[i].e->start, it[i].e->end};
    qsort(win, n, sizeof *win, cmp_win);
    for (size_t i = 0; i < n; i++) {
      if (nwin && win[i].start <= win[nwin - 1].end) {
        if (win[i].end > win[nwin - 1].end) win[nwin - 1].end = win[i].end;
      } else {
        win[nwin++] = win[i];
      }
    }
  }
  inc->windows = kp_arena_alloc(a, (nwin ? nwin : 1) * sizeof *inc->windows);
  if (!inc->windows) goto out;
  memcpy(inc->windows, win, nwin * sizeof *win);
  inc->nwindows = nwin;
  /* score and confidence */
  double prod = 1, miss = 1;
  for (size_t k = 0; k < src.n; k++) {
    double best = 0;
    for (size_t i = 0; i < n; i++)
      if (!strcmp(it[i].e->series->datasource, src.v[k]) && it[i].e->score > best) best = it[i].e->score;
    prod *= best;
    miss *= 1 - ds_weight(src.v[k]);
  }
  inc->score = round(prod * 100) / 100;
  inc->confidence = round((1 - miss) * 100) / 100;
  /* findings */
  char buf[200];
  for (size_t i = 0; i < n; i++) {
    const kp_series_t *s = it[i].e->series;
    /* country and region level only: the finding describes the national picture, and
     * checking every ASN against every event would be quadratic in large deployments */
    if (strcmp(s->datasource, "ping-slash24") || (strcmp(s->entity_type, "country") && strcmp(s->entity_type, "region")))
      continue;
    const kp_series_t *b = kp_sigset_find(set, s->entity_type, s->entity_code, "bgp");
    if (!b) continue;
    bool bgp_event = false, bgp_data = false;
    for (size_t k = 0; k < all->n && !bgp_event; k++)
      bgp_event = all->v[k].series == b && overlaps(all->v[k].start, all->v[k].end, it[i].e->start, it[i].e->end);
    for (int64_t t = it[i].e->start; t < it[i].e->end && !bgp_data; t += b->step) {
      if (t < b->t0) continue;
      size_t bi = (size_t)((t - b->t0) / b->step);
      bgp_data = bi < b->n && !isnan(b->v[bi]);
    }
    if (bgp_event || !bgp_data) continue;
    snprintf(buf, sizeof buf, "BGP visible, traffic down (%s %s)", s->entity_type, s->entity_code);
    const char *f = kp_arena_strndup(a, buf, strlen(buf));
    if (!f || ss_add(&fnd, f)) goto out;
  }
  if (cls == 0) { /* a burst of BGP updates near the start is a weak hint (Kazakhstan: 10:45 UTC) */
    const kp_series_t *u = kp_sigset_find(set, "country", inc->cc, "bgp-updates");
    int64_t at = 0;
    double peak = 0, med = 0;
    if (u && bgp_update_spike(u, inc->start, &at, &peak, &med)) {
      char ts[24];
      time_t tt = (time_t)at;
      struct tm tm;
      gmtime_r(&tt, &tm);
      strftime(ts, sizeof ts, "%Y-%m-%d %H:%M", &tm);
      snprintf(buf, sizeof buf, "BGP update spike at %s UTC (%.0f updates, day median %.0f)", ts, peak, med);
      const char *f = kp_arena_strndup(a, buf, strlen(buf));
      if (!f || ss_add(&fnd, f)) goto out;
    }
  }
  if (inc->curfew) {
    snprintf(buf, sizeof buf, "curfew-style: %zu outage windows with connectivity restored %s", nwin,
             inc->daily_fixed ? "at the same time each day" : "in varying daily windows");
    const char *f = kp_arena_strndup(a, buf, strlen(buf));
    if (!f || ss_add(&fnd, f)) goto out;
  }
  if (ss_out(a, &src, &inc->sources, &inc->nsources) || ss_out(a, &reg, &inc->regions, &inc->nregions) ||
      ss_out(a, &asn, &inc->asns, &inc->nasns) || ss_out(a, &svc, &inc->services, &inc->nservices) ||
      ss_out(a, &fnd, &inc->findings, &inc->nfindings))
    goto out;
  if (ntech) {
    inc->techniques = kp_arena_alloc(a, ntech * sizeof *inc->techniques);
    if (!inc->techniques) goto out;
    for (size_t j = 0; j < ntech; j++) {
      inc->techniques[j].name = tech[j].name;
      inc->techniques[j].count = tech[j].count;
    }
    inc->ntechniques = ntech;
  }
  if (nstech) {
    inc->service_techniques = kp_arena_alloc(a, nstech * sizeof *inc->service_techniques);
    if (!inc->service_techniques) goto out;
    for (size_t j = 0; j < nstech; j++) {
      inc->service_techniques[j].service = kp_arena_strndup(a, stech[j].service, strlen(stech[j].service));
      if (!inc->service_techniques[j].service) goto out;
      inc->service_techniques[j].name = stech[j].name;
      inc->service_techniques[j].count = stech[j].count;
    }
    inc->nservice_techniques = nstech;
  }
  char ts[32];
  time_t t0 = (time_t)inc->start;
  struct tm tm;
  gmtime_r(&t0, &tm);
  strftime(ts, sizeof ts, "%Y%m%dT%H%MZ", &tm);
  snprintf(inc->id, sizeof inc->id, "%s-%s-%s", inc->cc, cls ? "svc" : "net", ts);
  st = KP_OK;
out:
  free(src.v); free(reg.v); free(asn.v); free(svc.v); free(fnd.v);
  free(tech);
  free(stech);
  free(win);
  return st;
}

static int cmp_inc(const void *a, const void *b) {
  const kp_incident_t *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  int c = strcmp(x->cc, y->cc);
  return c ? c : strcmp(x->id, y->id);
}

/* a service incident says whether the network was up meanwhile */
static kp_status_t service_context(kp_incset_t *is) {
  for (size_t i = 0; i < is->n; i++) {
    kp_incident_t *s = &is->v[i];
    if (strstr(s->id, "-svc-") == NULL) continue;
    const char *with = NULL;
    for (size_t j = 0; j < is->n && !with; j++) {
      const kp_incident_t *o = &is->v[j];
      if (j != i && !strcmp(o->cc, s->cc) && strstr(o->id, "-net-") && overlaps(o->start, o->end, s->start, s->end))
        with = o->id;
    }
    char buf[200];
    if (s->unreachable)
      snprintf(buf, sizeof buf, "%lld failed measurement(s) unreachable during the shutdown %s (not counted as a technique)",
               (long long)s->unreachable, s->unreachable_in);
    else if (with) snprintf(buf, sizeof buf, "overlaps network incident %s", with);
    else snprintf(buf, sizeof buf, "network up while services failed");
    const char **f = kp_arena_alloc(is->arena, (s->nfindings + 1) * sizeof *f);
    if (!f) return KP_ERR_NOMEM;
    if (s->nfindings) memcpy(f, s->findings, s->nfindings * sizeof *f);
    if (!(f[s->nfindings] = kp_arena_strndup(is->arena, buf, strlen(buf)))) return KP_ERR_NOMEM;
    s->findings = f;
    s->nfindings++;
  }
  return KP_OK;
}

static int entity_rank(const char *et) {
  return !strcmp(et, "country") ? 3 : !strcmp(et, "region") ? 2 : !strcmp(et, "asn") ? 1 : 0;
}

/* A curfew event bridges the gaps between its windows when merging, unless a curfew of a
 * broader entity (country > region > asn) in the same country overlaps it: then the broad
 * one speaks for the incident, and a narrower entity's earlier unrelated outage (which its
 * own curfew cluster may have swallowed) does not drag the incident's start back. */
static bool curfew_dominated(const kp_sigset_t *s, const kp_event_list_t *ev, size_t i) {
  const kp_event_t *e = &ev->v[i];
  if (!e->nwin) return false;
  char cc[3], cc2[3];
  event_cc(s, e, cc);
  int r = entity_rank(e->series->entity_type);
  for (size_t k = 0; k < ev->n; k++) {
    const kp_event_t *o = &ev->v[k];
    if (k == i || !o->nwin || !o->series || entity_rank(o->series->entity_type) <= r) continue;
    if (!overlaps(o->start, o->end, e->start, e->end)) continue;
    event_cc(s, o, cc2);
    if (!strcmp(cc, cc2)) return true;
  }
  return false;
}

kp_status_t kp_incidents_merge(const kp_detect_cfg_t *cfg, const kp_sigset_t *s, const kp_event_list_t *ev,
                               kp_incset_t **out) {
  kp_incset_t *is = calloc(1, sizeof *is);
  item_t *it = ev->n ? calloc(ev->n, sizeof *it) : NULL;
  kp_status_t st = KP_ERR_NOMEM;
  if (!is || (ev->n && !it) || !(is->arena = kp_arena_create(0))) goto fail;
  size_t ni = 0;
  for (size_t i = 0; i < ev->n; i++) {
    if (!ev->v[i].series || curfew_dominated(s, ev, i)) continue;
    it[ni].e = &ev->v[i];
    event_cc(s, &ev->v[i], it[ni].cc);
    it[ni].cls = is_probe(ev->v[i].series) ? 1 : 0;
    ni++;
  }
  if (ni) qsort(it, ni, sizeof *it, cmp_item);
  if (ni && !(is->v = kp_arena_alloc(is->arena, ni * sizeof *is->v))) goto fail;
  for (size_t i = 0; i < ni;) {
    size_t j = i + 1;
    int64_t end = it[i].e->end;
    while (j < ni && !strcmp(it[j].cc, it[i].cc) && it[j].cls == it[i].cls && it[j].e->start <= end + cfg->merge_gap_s) {
      if (it[j].e->end > end) end = it[j].e->end;
      j++;
    }
    if ((st = build(s, ev, is->arena, it + i, j - i, is->v, is->n, &is->v[is->n])) != KP_OK) goto fail;
    is->n++;
    i = j;
  }
  if (is->n) qsort(is->v, is->n, sizeof *is->v, cmp_inc);
  if ((st = service_context(is)) != KP_OK) goto fail;
  for (size_t i = 0; i < is->n; i++) kp_access_label(s, &is->v[i], &is->v[i].access_affected, &is->v[i].access_measured);
  free(it);
  *out = is;
  return KP_OK;
fail:
  free(it);
  kp_incset_free(is);
  return st;
}

void kp_incset_free(kp_incset_t *is) {
  if (!is) return;
  kp_arena_destroy(is->arena);
  free(is);
}
size_t kp_incset_count(const kp_incset_t *is) { return is ? is->n : 0; }
const kp_incident_t *kp_incset_at(const kp_incset_t *is, size_t i) { return i < is->n ? &is->v[i] : NULL; }

static void jw_iso(kp_jw_t *w, const char *k, int64_t t) {
  char b[32];
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  kp_jw_kstr(w, k, b);
}

static void jw_strs(kp_jw_t *w, const char *k, const char *const *v, size_t n) {
  kp_jw_key(w, k);
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < n; i++) kp_jw_str(w, v[i]);
  kp_jw_arr_end(w);
}

void kp_incident_json(const kp_incident_t *inc, void *jwp) {
  kp_jw_t *w = jwp;
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "id", inc->id);
  kp_jw_kstr(w, "cc", inc->cc);
  kp_jw_kstr(w, "type", kp_inc_type_name(inc->type));
  kp_jw_kstr(w, "level", kp_level_name(inc->level));
  jw_iso(w, "start", inc->start);
  jw_iso(w, "end", inc->end);
  kp_jw_kint(w, "start_ts", inc->start);
  kp_jw_kint(w, "end_ts", inc->end);
  kp_jw_kbool(w, "ongoing", inc->ongoing);
  kp_jw_key(w, "score");
  kp_jw_fixed(w, inc->score, 2);
  kp_jw_key(w, "confidence");
  kp_jw_fixed(w, inc->confidence, 2);
  kp_jw_kbool(w, "curfew", inc->curfew);
  kp_jw_kbool(w, "daily_fixed", inc->daily_fixed);
  if (inc->down_share >= 0) {
    kp_jw_key(w, "down_share");
    kp_jw_fixed(w, inc->down_share, 3);
  }
  if (inc->unreachable) {
    kp_jw_kint(w, "unreachable_during_shutdown", inc->unreachable);
    kp_jw_kstr(w, "unreachable_in", inc->unreachable_in);
  }
  jw_strs(w, "sources", inc->sources, inc->nsources);
  jw_strs(w, "regions", inc->regions, inc->nregions);
  jw_strs(w, "asns", inc->asns, inc->nasns);
  jw_strs(w, "services", inc->services, inc->nservices);
  kp_jw_key(w, "techniques");
  kp_jw_obj_begin(w);
  for (size_t i = 0; i < inc->ntechniques; i++) kp_jw_kint(w, inc->techniques[i].name, inc->techniques[i].count);
  kp_jw_obj_end(w);
  kp_jw_key(w, "service_techniques"); /* {"whatsapp": {"tls_sni_reset": 12}, ...} */
  kp_jw_obj_begin(w);
  for (size_t i = 0; i < inc->nservice_techniques; i++) {
    const char *svc = inc->service_techniques[i].service;
    bool first = true;
    for (size_t j = 0; j < i; j++) first &= strcmp(inc->service_techniques[j].service, svc) != 0;
    if (!first) continue;
    kp_jw_key(w, svc);
    kp_jw_obj_begin(w);
    for (size_t j = i; j < inc->nservice_techniques; j++)
      if (!strcmp(inc->service_techniques[j].service, svc))
        kp_jw_kint(w, inc->service_techniques[j].name, inc->service_techniques[j].count);
    kp_jw_obj_end(w);
  }
  kp_jw_obj_end(w);
  kp_jw_key(w, "windows");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < inc->nwindows; i++) {
    kp_jw_obj_begin(w);
    jw_iso(w, "start", inc->windows[i].start);
    jw_iso(w, "end", inc->windows[i].end);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
  jw_strs(w, "findings", inc->findings, inc->nfindings);
  if (inc->access_measured) { /* mobile and fixed apart: only when the split is known */
    kp_jw_key(w, "access");
    kp_jw_obj_begin(w);
    const char *lab = kp_access_label_name(inc->access_affected, inc->access_measured);
    if (lab) kp_jw_kstr(w, "label", lab);
    else kp_jw_knull(w, "label");
    for (int k = 0; k < 2; k++) {
      unsigned m = k ? inc->access_measured : inc->access_affected;
      kp_jw_key(w, k ? "measured" : "affected");
      kp_jw_arr_begin(w);
      if (m & KP_ACCESS_BIT_MOBILE) kp_jw_str(w, "mobile");
      if (m & KP_ACCESS_BIT_FIXED) kp_jw_str(w, "fixed");
      kp_jw_arr_end(w);
    }
    kp_jw_obj_end(w);
  }
  kp_jw_key(w, "events");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < inc->nevents; i++) {
    const kp_event_t *e = inc->events[i];
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "detector", e->detector);
    kp_jw_kstr(w, "entity_type", e->series->entity_type);
    kp_jw_kstr(w, "entity_code", e->series->entity_code);
    kp_jw_kstr(w, "datasource", e->series->datasource);
    jw_iso(w, "start", e->start);
    jw_iso(w, "end", e->end);
    kp_jw_kstr(w, "level", kp_level_name(e->level));
    kp_jw_key(w, "score");
    kp_jw_fixed(w, e->score, 2);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
  kp_jw_key(w, "evidence");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < inc->nevidence; i++) {
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "kind", inc->evidence[i].kind);
    kp_jw_kstr(w, "ref", inc->evidence[i].ref);
    if (inc->evidence[i].hash[0]) kp_jw_kstr(w, "sha256", inc->evidence[i].hash);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
  kp_jw_obj_end(w);
}

kp_status_t kp_incidents_json(const kp_incset_t *is, kp_buf_t *out) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < kp_incset_count(is); i++) kp_incident_json(&is->v[i], &w);
  kp_jw_arr_end(&w);
  if (w.st == KP_OK) return kp_buf_putc(out, '\n');
  return w.st;
}
