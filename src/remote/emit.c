/*
 * emit.c: what remote measurement writes: the OONI-shaped envelope, the measurements,
 * summaries per server and per AS, and signal points.
 *
 * Envelope: probe_cc / probe_asn name the MEASURED server's country and AS (the resolver or
 * web server the vantage asked); keepon's own host is never written (probe_ip stays
 * 127.0.0.1), so the privacy defaults of src/msmt hold. resolver_ip is the measured resolver.
 * Summary line: {"type":"remote_summary","test":..,"scope":"server"|"asn","code":..,"cc":..,
 *   "measured":n,"blocked":n,"no_verdict":n,"techniques":{name:count}}
 * Signal point (docs/formats.md): per bin of cfg->bin_step, entity country/<cc> and asn/AS<n>
 *   (with "cc"), datasource remote-dns / remote-http, value = blocked * 1000 / (blocked + ok),
 *   "n" and "techniques" as probe-* points carry them, so detect joins them the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "msmt/msmt.h"
#include "remote/internal.h"

void kp_rmt_locate(const kp_rmt_cfg_t *cfg, const kp_addr_t *a, uint32_t *asn, char cc[3]) {
  kp_geo_info_t gi;
  if (cfg->geo && kp_geo_lookup(cfg->geo, a, &gi) == KP_OK) {
    if (!*asn) *asn = gi.asn;
    if (!cc[0] && gi.cc[0]) memcpy(cc, gi.cc, 3);
  }
}

kp_status_t kp_rmt_head(kp_jw_t *w, const char *test, const kp_rmt_target_t *t, const char *input, const char *sw,
                        int64_t start_wall_ns) {
  char asn[16], ip[KP_ADDR_STRLEN];
  snprintf(asn, sizeof asn, "AS%u", (unsigned)t->asn);
  kp_msmt_env_t env = {.test_name = test, .test_version = "0.1.0", .input = input,
                       .probe_cc = t->cc[0] ? t->cc : NULL, .probe_asn = t->asn ? asn : NULL,
                       .resolver_ip = t->role == KP_RMT_RESOLVER ? kp_addr_fmt(&t->addr, ip) : NULL,
                       .resolver_asn = t->role == KP_RMT_RESOLVER && t->asn ? asn : NULL,
                       .software_version = sw, .start_wall_ns = start_wall_ns};
  return kp_msmt_write_head(w, &env);
}

typedef struct agg {
  char code[KP_ADDR_STRLEN + 8];
  char cc[3];
  const char *scope;
  int64_t bin;                /* signals only */
  size_t measured, blocked, nv;
  const char *tech[16];
  size_t tcount[16];
  size_t ntech;
} agg_t;

typedef struct aggs { agg_t *v; size_t n, cap; } aggs_t;

static agg_t *agg_get(aggs_t *a, const char *scope, const char *code, const char *cc, int64_t bin) {
  for (size_t i = a->n; i-- > 0;)
    if (a->v[i].scope == scope && a->v[i].bin == bin && !strcmp(a->v[i].code, code)) return &a->v[i];
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    agg_t *nv = realloc(a->v, nc * sizeof *nv);
    if (!nv) return NULL;
    a->v = nv;
    a->cap = nc;
  }
  agg_t *g = &a->v[a->n++];
  memset(g, 0, sizeof *g);
  snprintf(g->code, sizeof g->code, "%s", code);
  memcpy(g->cc, cc, 3);
  g->scope = scope;
  g->bin = bin;
  return g;
}

static void agg_add(agg_t *g, const kp_rmt_row_t *r) {
  g->measured++;
  if (!strcmp(r->verdict, "no_verdict")) g->nv++;
  if (strcmp(r->verdict, "blocked") || !r->technique) return;
  g->blocked++;
  size_t j = 0;
  while (j < g->ntech && strcmp(g->tech[j], r->technique)) j++;
  if (j == g->ntech) {
    if (j == 16) return;
    g->tech[g->ntech++] = r->technique;
  }
  g->tcount[j]++;
}

static void write_tech(kp_jw_t *w, const agg_t *g) {
  kp_jw_key(w, "techniques");
  kp_jw_obj_begin(w);
  for (size_t j = 0; j < g->ntech; j++) kp_jw_kint(w, g->tech[j], (int64_t)g->tcount[j]);
  kp_jw_obj_end(w);
}

kp_status_t kp_rmt_emit(const kp_rmt_cfg_t *cfg, const char *ds, kp_rmt_row_t *rows, size_t n, kp_buf_t *msmts,
                        kp_buf_t *summary, kp_buf_t *signals, kp_rmt_stats_t *st) {
  kp_status_t rc = KP_OK;
  aggs_t sum = {0}, sig = {0};
  static const char *const S_SERVER = "server", *const S_ASN = "asn", *const S_CC = "country";
  int64_t step = cfg->bin_step > 0 ? cfg->bin_step : 3600;
  const char *test = !strcmp(ds, "remote-dns") ? "keepon_remote_dns" : "keepon_remote_http";
  for (size_t i = 0; i < n && rc == KP_OK; i++) {
    kp_rmt_row_t *r = &rows[i];
    if (!r->verdict) continue; /* refused target: nothing was sent */
    st->measured++;
    if (!strcmp(r->verdict, "blocked")) st->blocked++;
    if (!strcmp(r->verdict, "no_verdict")) st->no_verdict++;
    if (msmts && ((rc = kp_buf_append(msmts, r->json.data, r->json.len)) != KP_OK || (rc = kp_buf_putc(msmts, '\n')) != KP_OK))
      break;
    char ip[KP_ADDR_STRLEN], as[16];
    kp_addr_fmt(&r->t->addr, ip);
    snprintf(as, sizeof as, "AS%u", (unsigned)r->t->asn);
    const char *cc = r->t->cc[0] ? r->t->cc : "ZZ";
    agg_t *a = agg_get(&sum, S_SERVER, ip, cc, 0), *b = agg_get(&sum, S_ASN, as, cc, 0);
    int64_t bin = r->wall_s - r->wall_s % step;
    agg_t *c = agg_get(&sig, S_CC, cc, cc, bin), *d = r->t->asn ? agg_get(&sig, S_ASN, as, cc, bin) : NULL;
    if (!a || !b || !c || (r->t->asn && !d)) { rc = KP_ERR_NOMEM; break; }
    agg_add(a, r);
    agg_add(b, r);
    agg_add(c, r);
    if (d) agg_add(d, r);
  }
  kp_buf_t line;
  kp_buf_init(&line, 1 << 20);
  for (size_t i = 0; summary && rc == KP_OK && i < sum.n; i++) {
    const agg_t *g = &sum.v[i];
    kp_jw_t w;
    kp_buf_reset(&line);
    kp_jw_init(&w, &line);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "type", "remote_summary");
    kp_jw_kstr(&w, "test", test);
    kp_jw_kstr(&w, "scope", g->scope);
    kp_jw_kstr(&w, "code", g->code);
    kp_jw_kstr(&w, "cc", g->cc);
    kp_jw_kint(&w, "measured", (int64_t)g->measured);
    kp_jw_kint(&w, "blocked", (int64_t)g->blocked);
    kp_jw_kint(&w, "no_verdict", (int64_t)g->nv);
    write_tech(&w, g);
    kp_jw_obj_end(&w);
    if ((rc = w.st) == KP_OK) rc = kp_buf_printf(summary, "%s\n", kp_buf_str(&line));
  }
  for (size_t i = 0; signals && rc == KP_OK && i < sig.n; i++) {
    const agg_t *g = &sig.v[i];
    size_t verdicts = g->measured - g->nv;
    kp_jw_t w;
    kp_buf_reset(&line);
    kp_jw_init(&w, &line);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "type", "signal");
    kp_jw_kstr(&w, "entity_type", g->scope);
    kp_jw_kstr(&w, "entity_code", g->code);
    kp_jw_kstr(&w, "datasource", ds);
    kp_jw_kint(&w, "t", g->bin);
    kp_jw_kint(&w, "step", step);
    if (verdicts) kp_jw_kint(&w, "value", (int64_t)(g->blocked * 1000 / verdicts));
    else kp_jw_knull(&w, "value");
    kp_jw_kint(&w, "n", (int64_t)verdicts);
    kp_jw_kstr(&w, "cc", g->cc);
    write_tech(&w, g);
    kp_jw_obj_end(&w);
    if ((rc = w.st) == KP_OK) rc = kp_buf_printf(signals, "%s\n", kp_buf_str(&line));
  }
  kp_buf_free(&line);
  free(sum.v);
  free(sig.v);
  return rc;
}
