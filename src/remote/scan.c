/*
 * scan.c: `keepon remote scan`, a polite search of a CIDR list for infrastructure resolvers.
 *
 * Censored Planet's rule (Iris, Pearce et al. 2017; kept by Satellite): use only open resolvers
 * that are Internet infrastructure, never end-user devices (a home router that answers DNS is a
 * person). So the order is chosen so that nothing is sent to an address before it is known to
 * be named as a name server:
 *   1. every address of the list (policy first: reserved / outside-lab / opt-out addresses get
 *      nothing, not even a PTR query about them) is looked up in reverse DNS through OUR
 *      resolver (cfg->ptr_resolver, its own limiter): no packet reaches the address itself;
 *   2. only addresses whose PTR name's first label is ns / nameserver, optionally followed by
 *      digits (kp_rmt_scan_infra_ptr), are asked anything, under the per-host and per-AS
 *      limiter: the control name (must answer cfg->control_answer) and a name that does not
 *      exist (must be NXDOMAIN: a resolver that answers everything is a forger or a captive
 *      portal, useless as a vantage);
 *   3. the ones that pass are written as a target list ("ADDR resolver [asn=N] [cc=CC] # ptr=..."),
 *      which `keepon remote dns --targets` reads. Nothing else is stored.
 * Both rounds go through kp_dnsq and kp_rmt_sched, as remote dns does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "net/net.h"
#include "remote/internal.h"

#define MAX_INFLIGHT 4096

typedef struct res {
  kp_addr_t a;
  uint32_t asn;
  char cc[3];
  bool refused, infra, ctl_ok, nx_ok, wildcard, silent;
  char ptr[KP_DNS_NAME_MAX + 1];
} res_t;

typedef struct tag {
  struct scan *s;
  size_t i;       /* res index */
  int job;        /* 0 PTR, 1 control name, 2 non-existent name */
  kp_trace_t *tr;
} tag_t;

typedef struct scan {
  const kp_rmt_scan_cfg_t *cfg;
  const kp_clock_t *clk;
  res_t *r;
  tag_t *tags;
  size_t *order;  /* the round's host index (round 2) or job index (round 1) -> res index */
} scan_t;

bool kp_rmt_scan_infra_ptr(const char *ptr) {
  const char *p = ptr;
  if (!strncmp(p, "nameserver", 10)) p += 10;
  else if (!strncmp(p, "ns", 2)) p += 2;
  else return false;
  while (*p >= '0' && *p <= '9') p++;
  return *p == '.' && p[1] != 0; /* a label of its own, inside some domain */
}

static void on_answer(void *ctx, void *tagp, const kp_dns_msg_t *m, bool late) {
  (void)ctx;
  tag_t *t = tagp;
  res_t *r = &t->s->r[t->i];
  if (late) return;
  if (t->job == 0) {
    for (size_t k = 0; m->rcode == KP_DNS_NOERROR && k < m->nanswers; k++)
      if (m->an[k].type == KP_DNS_PTR) {
        snprintf(r->ptr, sizeof r->ptr, "%s", m->an[k].target);
        break;
      }
  } else if (t->job == 1) {
    for (size_t k = 0; m->rcode == KP_DNS_NOERROR && k < m->nanswers; k++)
      r->ctl_ok |= m->an[k].type == KP_DNS_A && kp_addr_eq(&m->an[k].addr, t->s->cfg->control_answer);
  } else {
    r->nx_ok = m->rcode == KP_DNS_NXDOMAIN;
    for (size_t k = 0; k < m->nanswers; k++) r->wildcard |= m->an[k].type == KP_DNS_A;
  }
}

static void on_done(void *ctx, void *tagp, const kp_addrs_t *out, const kp_addrs_t *late, const char *fail) {
  (void)ctx;
  (void)out;
  (void)late;
  tag_t *t = tagp;
  if (t->job && fail && !strcmp(fail, KP_FAIL_TIMEOUT)) t->s->r[t->i].silent = true;
  kp_trace_free(t->tr);
  t->tr = NULL;
}

/* One round: host h's job k is sent under a permit; submit() knows what it is. */
typedef kp_status_t (*submit_fn)(scan_t *s, kp_dnsq_t *q, size_t h, size_t k);
static kp_status_t round_run(scan_t *s, kp_dnsq_t *q, kp_rmt_sched_t *sch, const kp_clock_t *clk, submit_fn fn) {
  kp_status_t st = KP_OK;
  for (;;) {
    int r = 0;
    int64_t wait = 0;
    while (st == KP_OK && kp_dnsq_inflight(q) < MAX_INFLIGHT) {
      size_t h, k;
      r = kp_rmt_sched_next(sch, kp_now_mono(clk), &h, &k, &wait);
      if (r != 1) break;
      st = fn(s, q, h, k);
    }
    if (st != KP_OK) return st;
    if (r == -1 && kp_dnsq_inflight(q) == 0) return KP_OK;
    int ms = 50;
    if (r == 0 && kp_dnsq_inflight(q) < MAX_INFLIGHT) {
      int64_t wm = (wait + 999999) / 1000000;
      if (wm < ms) ms = (int)wm;
    }
    if ((st = kp_dnsq_step(q, ms)) != KP_OK) return st;
  }
}

static kp_status_t submit_ptr(scan_t *s, kp_dnsq_t *q, size_t h, size_t k) {
  (void)h;
  size_t i = s->order[k];
  tag_t *t = &s->tags[2 * i];
  const uint8_t *b = s->r[i].a.b;
  char name[64];
  snprintf(name, sizeof name, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
  *t = (tag_t){.s = s, .i = i, .job = 0};
  if (kp_trace_new(s->clk, &t->tr) != KP_OK) return KP_ERR_NOMEM;
  return kp_dnsq_submit_one(q, s->cfg->ptr_resolver, s->cfg->ptr_port, name, KP_DNS_PTR, t->tr, t);
}

static kp_status_t submit_probe(scan_t *s, kp_dnsq_t *q, size_t h, size_t k) {
  size_t i = s->order[h];
  tag_t *t = &s->tags[2 * i + k];
  *t = (tag_t){.s = s, .i = i, .job = (int)k + 1};
  if (kp_trace_new(s->clk, &t->tr) != KP_OK) return KP_ERR_NOMEM;
  return kp_dnsq_submit_one(q, &s->r[i].a, s->cfg->port, k == 0 ? s->cfg->control_name : s->cfg->nx_name, KP_DNS_A,
                            t->tr, t);
}

kp_status_t kp_rmt_scan_run(const kp_rmt_scan_cfg_t *cfg, const kp_clock_t *clk, kp_buf_t *list,
                            kp_rmt_scan_stats_t *st) {
  memset(st, 0, sizeof *st);
  if (!cfg->policy || !cfg->rl || !cfg->ptr_rl || !cfg->ptr_resolver || !cfg->control_name || !cfg->control_answer ||
      !cfg->nx_name)
    return KP_ERR_INVAL;
  size_t max = cfg->max_addrs ? cfg->max_addrs : 65536, n = 0;
  for (size_t c = 0; c < cfg->ncidrs; c++) {
    if (cfg->cidrs[c].addr.family != 4 || cfg->cidrs[c].len > 32) return KP_ERR_INVAL;
    n += (size_t)1 << (32 - cfg->cidrs[c].len);
    if (n > max) return KP_ERR_INVAL; /* a scan this polite is for a country's list, not the Internet */
  }
  int64_t t0 = kp_now_mono(clk);
  scan_t s = {.cfg = cfg, .clk = clk};
  s.r = calloc(n ? n : 1, sizeof *s.r);
  s.tags = calloc(2 * (n ? n : 1), sizeof *s.tags);
  size_t *order = calloc(n ? n : 1, sizeof *order);
  kp_addr_t *haddr = calloc(n ? n : 1, sizeof *haddr);
  uint32_t *hasn = calloc(n ? n : 1, sizeof *hasn);
  kp_dnsq_t *q = NULL;
  kp_status_t rc = KP_ERR_NOMEM;
  if (!s.r || !s.tags || !order || !haddr || !hasn) goto out;
  s.order = order;
  size_t k = 0;
  for (size_t c = 0; c < cfg->ncidrs; c++) {
    uint32_t base = kp_addr_v4_u32(&cfg->cidrs[c].addr), cnt = (uint32_t)1 << (32 - cfg->cidrs[c].len);
    base &= cfg->cidrs[c].len ? ~(uint32_t)0 << (32 - cfg->cidrs[c].len) : 0;
    for (uint32_t o = 0; o < cnt; o++) {
      if (cnt >= 4 && (o == 0 || o == cnt - 1)) continue; /* network and broadcast */
      res_t *r = &s.r[k++];
      r->a = kp_addr_v4(base + o);
      r->refused = kp_rmt_policy_refuse(cfg->policy, &r->a) != NULL;
    }
  }
  n = k;
  kp_dnsq_cfg_t qc = {.timeout = cfg->timeout > 0 ? cfg->timeout : 3.0, .retries = cfg->retries, .window = 0.2,
                      .done = on_done, .answer = on_answer, .done_ctx = &s};
  if ((rc = kp_dnsq_new(&qc, clk, &q)) != KP_OK) goto out;
  /* round 1: reverse DNS through our resolver, for the addresses the policy allows */
  size_t nptr = 0;
  for (size_t i = 0; i < n; i++) {
    st->addrs++;
    if (s.r[i].refused) st->refused++;
    else order[nptr++] = i;
  }
  uint32_t pasn = 0;
  kp_rmt_sched_t sch;
  if ((rc = kp_rmt_sched_init(&sch, cfg->ptr_rl, cfg->ptr_resolver, &pasn, NULL, nptr ? 1 : 0, nptr,
                              kp_now_mono(clk))) != KP_OK)
    goto out;
  rc = round_run(&s, q, &sch, clk, submit_ptr);
  kp_rmt_sched_free(&sch);
  if (rc != KP_OK) goto out;
  /* round 2: only the ones named as name servers are asked anything */
  size_t nc = 0;
  kp_rmt_cfg_t loc = {.geo = cfg->geo};
  for (size_t j = 0; j < nptr; j++) {
    res_t *r = &s.r[order[j]];
    if (!r->ptr[0]) { st->no_ptr++; continue; }
    if (!(r->infra = kp_rmt_scan_infra_ptr(r->ptr))) { st->not_infra++; continue; }
    kp_rmt_locate(&loc, &r->a, &r->asn, r->cc);
    haddr[nc] = r->a;
    hasn[nc] = r->asn;
    order[nc++] = order[j];
  }
  st->asked = nc;
  if ((rc = kp_rmt_sched_init(&sch, cfg->rl, haddr, hasn, NULL, nc, 2, kp_now_mono(clk))) != KP_OK) goto out;
  rc = round_run(&s, q, &sch, clk, submit_probe);
  kp_rmt_sched_free(&sch);
  if (rc != KP_OK) goto out;
  char as[KP_ADDR_STRLEN];
  for (size_t j = 0; j < nc; j++) {
    res_t *r = &s.r[order[j]];
    if (r->silent) st->silent++;
    else if (r->wildcard) st->wildcard++;
    else if (!r->ctl_ok || !r->nx_ok) st->wrong++;
    if (r->silent || r->wildcard || !r->ctl_ok || !r->nx_ok) continue;
    st->kept++;
    if (!list) continue;
    kp_buf_printf(list, "%s resolver", kp_addr_fmt(&r->a, as));
    if (r->asn) kp_buf_printf(list, " asn=%u", (unsigned)r->asn);
    if (r->cc[0]) kp_buf_printf(list, " cc=%s", r->cc);
    if ((rc = kp_buf_printf(list, " # ptr=%s\n", r->ptr)) != KP_OK) goto out;
  }
  rc = KP_OK;
  st->seconds = (double)(kp_now_mono(clk) - t0) / 1e9;
out:
  kp_dnsq_free(q);
  if (s.tags)
    for (size_t i = 0; i < 2 * (n ? n : 1); i++) kp_trace_free(s.tags[i].tr);
  free(s.r);
  free(s.tags);
  free(order);
  free(haddr);
  free(hasn);
  return rc;
}
