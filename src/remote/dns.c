/*
 * dns.c: `keepon remote dns`, Satellite's method over src/net.
 *
 *   1. controls: every control resolver is asked every test name (A + AAAA); the union of their
 *      addresses and those addresses' ASNs is the control of the name. Controls and listed
 *      resolvers are asked in the same run, so neither waits for the other; a measurement whose
 *      name's control is not complete yet is held (answer + trace) on the name's deferred list
 *      and decided when the last control lookup of that name ends (names go out in order on
 *      every host, at the same rate, so the lists stay short).
 *   2. every listed resolver (policy-checked: refused ones are skipped and counted, nothing is
 *      sent) x every name: a permit (host and AS, kp_rmt_sched over the GCRA limiter), then the
 *      lookup goes out on kp_dnsq (one socket, thousands outstanding), which keeps listening
 *      cfg->window after each first answer (late answers = injection racing the real one) and
 *      retries unanswered queries (each retry under a permit too).
 *   3. Satellite v2: an answered address that matches the control neither by address nor by
 *      ASN is fetched over HTTPS (port 443, SNI = the name, the certificate verified against
 *      cfg->ca_file / the system store), after the policy and a permit for that address; these
 *      few run in a bounded pool after the lookups.
 *   4. kp_rmt_dns_verdict; the measurement keeps the wire events (queries, late answers,
 *      tcp_connect, tls_handshakes) as src/net recorded them, in its own trace.
 * Steps 1 and 2 run on one thread driving kp_dnsq_step; the clock is cfg's injectable one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msmt/msmt.h"
#include "net/net.h"
#include "remote/internal.h"

typedef struct job {
  const kp_rmt_cfg_t *cfg;
  const kp_clock_t *clk;
  kp_rmt_target_t *targets;   /* located copies */
  kp_rmt_control_t *ctl;      /* per name */
  kp_rmt_row_t *rows;         /* ntargets * nnames */
  struct pend *pend;          /* per row: the lookup in flight / waiting for its cert step */
  size_t *ctl_asked, *ctl_nx; /* per name */
  size_t nctl;                /* control resolvers the policy lets us ask */
  size_t *deferred;           /* per name: first row waiting for the name's control (SIZE_MAX = none) */
  size_t *certq, ncert;       /* rows that need the HTTPS step */
  kp_status_t st;
} job_t;

typedef struct pend {
  job_t *j;
  bool control;
  size_t idx;                 /* row (measurement) or resolver * nnames + name (control) */
  uint32_t asn;               /* of the resolver, for retries' permits */
  kp_trace_t *tr;
  int64_t wall, t0, t1;       /* t1: the lookup's end (0 = now), so time spent deferred is not runtime */
  const char *fail;
  kp_rmt_answer_t *ans;       /* kept only for rows waiting for their control or the cert step */
  size_t next_deferred;       /* the name's deferred list */
} pend_t;

#define MAX_INFLIGHT 8192

static void net_cfg(const kp_rmt_cfg_t *cfg, const kp_addr_t *resolver, kp_net_cfg_t *nc) {
  memset(nc, 0, sizeof *nc);
  nc->resolver = *resolver;
  nc->resolver_port = cfg->port;
  nc->ca_file = cfg->ca_file;
  double to = cfg->timeout > 0 ? cfg->timeout : 3.0;
  nc->dns_timeout = nc->connect_timeout = nc->tls_timeout = nc->http_timeout = to;
  nc->dns_window = cfg->window > 0 ? cfg->window : 1.0;
}

static void add_ctl_addr(kp_rmt_control_t *c, const kp_addr_t *a, uint32_t asn) {
  bool have = false;
  for (size_t i = 0; i < c->n; i++) have |= kp_addr_eq(&c->a[i], a);
  if (!have && c->n < 64) c->a[c->n++] = *a;
  if (!asn) return;
  for (size_t i = 0; i < c->nasn; i++)
    if (c->asn[i] == asn) return;
  if (c->nasn < 64) c->asn[c->nasn++] = asn;
}

static void write_addrs(kp_jw_t *w, const char *key, const kp_addr_t *a, size_t n) {
  char s[KP_ADDR_STRLEN];
  kp_jw_key(w, key);
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < n; i++) kp_jw_str(w, kp_addr_fmt(&a[i], s));
  kp_jw_arr_end(w);
}

/* The measurement line of row p->idx from its answer (the trace is p's). */
static void write_row(job_t *j, pend_t *p, const kp_rmt_answer_t *ans) {
  const kp_rmt_cfg_t *cfg = j->cfg;
  size_t ni = p->idx % cfg->nnames;
  kp_rmt_row_t *row = &j->rows[p->idx];
  const kp_rmt_target_t *t = row->t;
  const char *name = cfg->names[ni].s;
  const kp_rmt_control_t *ctl = &j->ctl[ni];
  kp_rmt_verdict_t v = kp_rmt_dns_verdict(ans, ctl, cfg->lab);
  row->verdict = v.verdict;
  row->technique = v.technique;
  row->wall_s = p->wall / 1000000000;
  kp_jw_t w;
  kp_jw_init(&w, &row->json);
  if (kp_rmt_head(&w, "keepon_remote_dns", t, name, cfg->software_version, p->wall) != KP_OK) goto done;
  char rs[KP_ADDR_STRLEN + 8], s[KP_ADDR_STRLEN];
  snprintf(rs, sizeof rs, t->addr.family == 6 ? "[%s]:%u" : "%s:%u", kp_addr_fmt(&t->addr, s),
           (unsigned)(cfg->port ? cfg->port : 53));
  kp_jw_key(&w, "test_keys");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "resolver", rs);
  kp_jw_kint(&w, "resolver_asn", t->asn);
  kp_jw_kstr(&w, "failure", p->fail);
  write_addrs(&w, "answers", ans->a, ans->n);
  write_addrs(&w, "late_answers", ans->late, ans->nlate);
  kp_jw_key(&w, "answer_cert");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < ans->n; i++) {
    if (ans->cert[i] < 0) kp_jw_null(&w);
    else kp_jw_bool(&w, ans->cert[i] == 1);
  }
  kp_jw_arr_end(&w);
  kp_jw_key(&w, "control");
  kp_jw_obj_begin(&w);
  write_addrs(&w, "addrs", ctl->a, ctl->n);
  kp_jw_key(&w, "asns");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < ctl->nasn; i++) kp_jw_uint(&w, ctl->asn[i]);
  kp_jw_arr_end(&w);
  kp_jw_kbool(&w, "nxdomain", ctl->nxdomain);
  kp_jw_obj_end(&w);
  kp_trace_write(p->tr, &w);
  kp_jw_kstr(&w, "keepon_verdict", v.verdict);
  kp_jw_kstr(&w, "keepon_technique", v.technique);
  kp_jw_kstr(&w, "keepon_reason", v.reason);
  kp_jw_kbool(&w, "keepon_failed", !strcmp(v.verdict, "blocked"));
  kp_jw_obj_end(&w);
  kp_msmt_write_tail(&w, &(kp_msmt_env_t){.test_name = "keepon_remote_dns", .test_version = "0.1.0",
                                          .start_wall_ns = p->wall},
                     (double)((p->t1 ? p->t1 : kp_now_mono(j->clk)) - p->t0) / 1e9);
done:
  if (w.st != KP_OK) {
    j->st = w.st;
    row->verdict = NULL;
  }
  kp_trace_free(p->tr);
  p->tr = NULL;
}

/* A measurement whose control is complete: queued for the cert step, or written now. */
static void decide(job_t *j, pend_t *p, kp_rmt_answer_t *ans) {
  const kp_rmt_cfg_t *cfg = j->cfg;
  size_t ni = p->idx % cfg->nnames;
  bool cert = false;
  for (size_t i = 0; cfg->cert_check && i < ans->n; i++)
    cert |= !kp_rmt_dns_matches(&j->ctl[ni], &ans->a[i], ans->asn[i], cfg->lab) &&
            !kp_rmt_policy_refuse(cfg->policy, &ans->a[i]);
  if (cert && !p->ans && (p->ans = malloc(sizeof *ans)) != NULL) *p->ans = *ans;
  if (cert && p->ans) {
    j->certq[j->ncert++] = p->idx;
    return;
  }
  write_row(j, p, ans);
  free(p->ans);
  p->ans = NULL;
}

/* kp_dnsq's end of a lookup: a control folds into its name's control (the last one releases the
 * name's deferred measurements); a measurement is decided, or deferred until its control is. */
static void lookup_done(void *ctx, void *tag, const kp_addrs_t *out, const kp_addrs_t *late, const char *fail) {
  (void)ctx;
  pend_t *p = tag;
  job_t *j = p->j;
  const kp_rmt_cfg_t *cfg = j->cfg;
  size_t ni = p->idx % cfg->nnames;
  if (p->control) {
    kp_rmt_control_t *c = &j->ctl[ni];
    j->ctl_asked[ni]++;
    if (fail && !strcmp(fail, KP_FAIL_NXDOMAIN)) j->ctl_nx[ni]++;
    for (size_t i = 0; i < out->n; i++) {
      uint32_t asn = 0;
      char cc[3] = "";
      kp_rmt_locate(cfg, &out->a[i], &asn, cc);
      add_ctl_addr(c, &out->a[i], asn);
    }
    kp_trace_free(p->tr);
    p->tr = NULL;
    if (j->ctl_asked[ni] < j->nctl) return;
    c->nxdomain = j->ctl_nx[ni] == j->ctl_asked[ni];
    for (size_t r = j->deferred[ni]; r != SIZE_MAX;) {
      pend_t *d = &j->pend[r];
      r = d->next_deferred;
      decide(j, d, d->ans);
    }
    j->deferred[ni] = SIZE_MAX;
    return;
  }
  kp_rmt_answer_t ans;
  memset(&ans, 0, sizeof ans);
  p->t1 = kp_now_mono(j->clk);
  ans.failure = p->fail = fail;
  for (size_t i = 0; i < out->n && ans.n < KP_RMT_MAX_ADDRS; i++) {
    char cc[3] = "";
    ans.a[ans.n] = out->a[i];
    kp_rmt_locate(cfg, &out->a[i], &ans.asn[ans.n], cc);
    ans.cert[ans.n++] = -1;
  }
  for (size_t i = 0; i < late->n && ans.nlate < KP_RMT_MAX_ADDRS; i++) {
    char cc[3] = "";
    ans.late[ans.nlate] = late->a[i];
    kp_rmt_locate(cfg, &late->a[i], &ans.late_asn[ans.nlate++], cc);
  }
  if (j->ctl_asked[ni] < j->nctl) {
    if ((p->ans = malloc(sizeof ans)) != NULL) {
      *p->ans = ans;
      p->next_deferred = j->deferred[ni];
      j->deferred[ni] = (size_t)(p - j->pend);
      return;
    }
    j->st = KP_ERR_NOMEM;
    kp_trace_free(p->tr);
    p->tr = NULL;
    return;
  }
  decide(j, p, &ans);
}

/* Satellite v2's HTTPS step for one queued row (in the pool), then its line. */
static void cert_one(void *arg, size_t k) {
  job_t *j = arg;
  const kp_rmt_cfg_t *cfg = j->cfg;
  size_t nc = cfg->ncontrol_resolvers;
  pend_t *p = &j->pend[j->certq[k] + nc * cfg->nnames];
  kp_rmt_answer_t *ans = p->ans;
  const char *name = cfg->names[p->idx % cfg->nnames].s;
  const kp_rmt_control_t *ctl = &j->ctl[p->idx % cfg->nnames];
  kp_net_cfg_t ncfg;
  net_cfg(cfg, &j->rows[p->idx].t->addr, &ncfg);
  kp_net_t *n = NULL;
  if (kp_net_new(&ncfg, j->clk, p->tr, &n) != KP_OK) {
    j->st = KP_ERR_NOMEM;
    return;
  }
  for (size_t i = 0; i < ans->n; i++) {
    if (kp_rmt_dns_matches(ctl, &ans->a[i], ans->asn[i], cfg->lab) || kp_rmt_policy_refuse(cfg->policy, &ans->a[i]))
      continue;
    kp_rl_wait(cfg->rl, &ans->a[i], ans->asn[i]);
    kp_addrs_t one = {.n = 1};
    one.a[0] = ans->a[i];
    kp_conn_t *c = NULL;
    const char *f = NULL;
    kp_net_connect(n, &one, 443, &c, &f);
    if (c) {
      kp_net_tls(n, c, name, &f);
      ans->cert[i] = f ? 0 : 1;
      kp_conn_close(c);
    } else {
      ans->cert[i] = 0;
    }
  }
  kp_net_free(n);
  p->t1 = 0; /* the cert step is part of the measurement */
  write_row(j, p, ans);
}

static int64_t admit_retry(void *ctx, const kp_addr_t *res, void *tag) {
  job_t *j = ctx;
  return kp_rl_try(j->cfg->rl, res, ((pend_t *)tag)->asn);
}

/*
 * The lookups: hosts are the control resolvers, then the listed resolvers; host h's name k is
 * pend[h * nnames + k] (a measurement's row is that minus the controls'). Every granted
 * (host, name) goes out at once; the loop sleeps in kp_dnsq_step until the next permit is due
 * or an answer / timer needs it.
 */
static kp_status_t run_lookups(job_t *j, kp_dnsq_t *q, const kp_addr_t *addr, const uint32_t *asn, const bool *skip,
                               size_t nh) {
  const kp_rmt_cfg_t *cfg = j->cfg;
  size_t nc = cfg->ncontrol_resolvers;
  kp_rmt_sched_t s;
  kp_status_t st = kp_rmt_sched_init(&s, cfg->rl, addr, asn, skip, nh, cfg->nnames, kp_now_mono(j->clk));
  if (st != KP_OK) return st;
  for (;;) {
    int r = 0;
    int64_t wait = 0;
    while (st == KP_OK && kp_dnsq_inflight(q) < MAX_INFLIGHT) {
      size_t h, k;
      r = kp_rmt_sched_next(&s, kp_now_mono(j->clk), &h, &k, &wait);
      if (r != 1) break;
      pend_t *p = &j->pend[h * cfg->nnames + k];
      memset(p, 0, sizeof *p);
      p->j = j;
      p->control = h < nc;
      p->idx = h < nc ? k : (h - nc) * cfg->nnames + k;
      p->asn = asn[h];
      p->wall = kp_now_wall(j->clk);
      p->t0 = kp_now_mono(j->clk);
      if (kp_trace_new(j->clk, &p->tr) != KP_OK) st = KP_ERR_NOMEM;
      else st = kp_dnsq_submit(q, &addr[h], cfg->port, cfg->names[k].s, p->tr, p);
    }
    if (st != KP_OK || j->st != KP_OK) break;
    if (r == -1 && kp_dnsq_inflight(q) == 0) break;
    int ms = 50;
    if (r == 0 && kp_dnsq_inflight(q) < MAX_INFLIGHT) {
      int64_t wm = (wait + 999999) / 1000000;
      if (wm < ms) ms = (int)wm;
    }
    st = kp_dnsq_step(q, ms);
  }
  kp_rmt_sched_free(&s);
  return st != KP_OK ? st : j->st;
}

kp_status_t kp_rmt_dns_run(const kp_rmt_cfg_t *cfg, const kp_clock_t *clk, kp_buf_t *msmts, kp_buf_t *summary,
                           kp_buf_t *signals, kp_rmt_stats_t *st) {
  memset(st, 0, sizeof *st);
  if (!cfg->policy || !cfg->rl || cfg->nnames == 0 || cfg->ncontrol_resolvers == 0) return KP_ERR_INVAL;
  int64_t t0 = kp_now_mono(clk);
  job_t j = {.cfg = cfg, .clk = clk, .st = KP_OK};
  size_t total = cfg->ntargets * cfg->nnames, nc = cfg->ncontrol_resolvers, nh = nc + cfg->ntargets;
  size_t npend = nh * cfg->nnames;
  j.targets = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof *j.targets);
  j.ctl = calloc(cfg->nnames, sizeof *j.ctl);
  j.rows = calloc(total ? total : 1, sizeof *j.rows);
  j.pend = calloc(npend, sizeof *j.pend);
  j.ctl_asked = calloc(cfg->nnames, sizeof *j.ctl_asked);
  j.ctl_nx = calloc(cfg->nnames, sizeof *j.ctl_nx);
  j.deferred = malloc(cfg->nnames * sizeof *j.deferred);
  j.certq = calloc(total ? total : 1, sizeof *j.certq);
  kp_addr_t *addr = calloc(nh, sizeof *addr);
  uint32_t *asn = calloc(nh, sizeof *asn);
  bool *skip = calloc(nh, sizeof *skip);
  kp_dnsq_t *q = NULL;
  kp_status_t rc = KP_ERR_NOMEM;
  if (!j.targets || !j.ctl || !j.rows || !j.pend || !j.ctl_asked || !j.ctl_nx || !j.deferred || !j.certq || !addr ||
      !asn || !skip)
    goto out;
  for (size_t k = 0; k < cfg->nnames; k++) j.deferred[k] = SIZE_MAX;
  kp_dnsq_cfg_t qc = {.timeout = cfg->timeout > 0 ? cfg->timeout : 3.0, .retries = cfg->dns_retries,
                      .window = cfg->window > 0 ? cfg->window : 1.0, .admit = admit_retry, .admit_ctx = &j,
                      .done = lookup_done, .done_ctx = &j};
  if ((rc = kp_dnsq_new(&qc, clk, &q)) != KP_OK) goto out;
  for (size_t r = 0; r < nc; r++) {
    char cc[3] = "";
    addr[r] = cfg->control_resolvers[r];
    kp_rmt_locate(cfg, &addr[r], &asn[r], cc);
    skip[r] = kp_rmt_policy_refuse(cfg->policy, &addr[r]) != NULL;
    j.nctl += !skip[r];
  }
  for (size_t i = 0; i < cfg->ntargets; i++) {
    j.targets[i] = cfg->targets[i];
    kp_rmt_locate(cfg, &j.targets[i].addr, &j.targets[i].asn, j.targets[i].cc);
    addr[nc + i] = j.targets[i].addr;
    asn[nc + i] = j.targets[i].asn;
    skip[nc + i] = cfg->targets[i].role != KP_RMT_RESOLVER || kp_rmt_policy_refuse(cfg->policy, &cfg->targets[i].addr);
    if (cfg->targets[i].role == KP_RMT_RESOLVER && skip[nc + i]) st->refused++;
  }
  for (size_t i = 0; i < total; i++) {
    j.rows[i].t = &j.targets[i / cfg->nnames];
    kp_buf_init(&j.rows[i].json, 4 << 20);
  }
  if ((rc = run_lookups(&j, q, addr, asn, skip, nh)) != KP_OK) goto out;
  /* Satellite v2's certificate step for the answers that matched nothing */
  kp_net_run_pool(j.ncert, cfg->parallel ? cfg->parallel : 64, cert_one, &j);
  rc = j.st;
  size_t refused = st->refused;
  if (rc == KP_OK) rc = kp_rmt_emit(cfg, "remote-dns", j.rows, total, msmts, summary, signals, st);
  st->refused = refused;
  st->seconds = (double)(kp_now_mono(clk) - t0) / 1e9;
out:
  kp_dnsq_free(q);
  if (j.pend)
    for (size_t i = 0; i < npend; i++) {
      kp_trace_free(j.pend[i].tr);
      free(j.pend[i].ans);
    }
  if (j.rows)
    for (size_t i = 0; i < total; i++) kp_buf_free(&j.rows[i].json);
  free(j.rows);
  free(j.ctl);
  free(j.targets);
  free(j.pend);
  free(j.ctl_asked);
  free(j.ctl_nx);
  free(j.deferred);
  free(j.certq);
  free(addr);
  free(asn);
  free(skip);
  return rc;
}
