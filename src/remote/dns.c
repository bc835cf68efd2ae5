/*
 * dns.c: `keepon remote dns`, Satellite's method over src/net.
 *
 *   1. controls: every control resolver is asked every test name (A + AAAA, kp_net_resolve_udp);
 *      the union of their addresses and those addresses' ASNs is the control of the name.
 *   2. for each listed resolver (policy-checked: refused ones are skipped and counted, nothing is
 *      sent) x each name, in a bounded pool: wait for a permit (host and AS), ask, keep listening
 *      cfg->window after the first answer (late answers = injection racing the real one).
 *   3. Satellite v2: an answered address that matches the control neither by address nor by
 *      ASN is fetched over HTTPS (port 443, SNI = the name, the certificate verified against
 *      cfg->ca_file / the system store), after the policy and a permit for that address.
 *   4. kp_rmt_dns_verdict; the measurement keeps the wire events (queries, late answers,
 *      tcp_connect, tls_handshakes) as src/net recorded them.
 * Each measurement has its own trace and net context (the resolver is in the context's cfg).
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
  kp_status_t st;
} job_t;

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

static void control_one(void *arg, size_t k) {
  job_t *j = arg;
  const kp_rmt_cfg_t *cfg = j->cfg;
  kp_rmt_control_t *c = &j->ctl[k];
  size_t nx = 0, asked = 0;
  for (size_t r = 0; r < cfg->ncontrol_resolvers; r++) {
    const kp_addr_t *res = &cfg->control_resolvers[r];
    if (kp_rmt_policy_refuse(cfg->policy, res)) continue;
    kp_net_cfg_t nc;
    net_cfg(cfg, res, &nc);
    kp_trace_t *tr = NULL;
    kp_net_t *n = NULL;
    if (kp_trace_new(j->clk, &tr) != KP_OK || kp_net_new(&nc, j->clk, tr, &n) != KP_OK) {
      kp_trace_free(tr);
      j->st = KP_ERR_NOMEM;
      return;
    }
    uint32_t rasn = 0;
    char rcc[3] = "";
    kp_rmt_locate(cfg, res, &rasn, rcc);
    kp_rl_wait(cfg->rl, res, rasn);
    kp_addrs_t out, late;
    const char *fail = NULL;
    kp_net_resolve_udp(n, cfg->names[k].s, &out, &late, &fail);
    asked++;
    if (fail && !strcmp(fail, KP_FAIL_NXDOMAIN)) nx++;
    for (size_t i = 0; i < out.n; i++) {
      uint32_t asn = 0;
      char cc[3] = "";
      kp_rmt_locate(cfg, &out.a[i], &asn, cc);
      add_ctl_addr(c, &out.a[i], asn);
    }
    kp_net_free(n);
    kp_trace_free(tr);
  }
  c->nxdomain = asked > 0 && nx == asked;
}

static void write_addrs(kp_jw_t *w, const char *key, const kp_addr_t *a, size_t n) {
  char s[KP_ADDR_STRLEN];
  kp_jw_key(w, key);
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < n; i++) kp_jw_str(w, kp_addr_fmt(&a[i], s));
  kp_jw_arr_end(w);
}

static void measure_one(void *arg, size_t idx) {
  job_t *j = arg;
  const kp_rmt_cfg_t *cfg = j->cfg;
  size_t ti = idx / cfg->nnames, ni = idx % cfg->nnames;
  kp_rmt_target_t *t = &j->targets[ti];
  kp_rmt_row_t *row = &j->rows[idx];
  row->t = t;
  kp_buf_init(&row->json, 4 << 20);
  if (t->role != KP_RMT_RESOLVER || kp_rmt_policy_refuse(cfg->policy, &t->addr)) return;
  const char *name = cfg->names[ni].s;
  kp_net_cfg_t nc;
  net_cfg(cfg, &t->addr, &nc);
  kp_trace_t *tr = NULL;
  kp_net_t *n = NULL;
  if (kp_trace_new(j->clk, &tr) != KP_OK || kp_net_new(&nc, j->clk, tr, &n) != KP_OK) {
    kp_trace_free(tr);
    j->st = KP_ERR_NOMEM;
    return;
  }
  int64_t wall = kp_now_wall(j->clk), t0 = kp_now_mono(j->clk);
  kp_rl_wait(cfg->rl, &t->addr, t->asn);
  kp_addrs_t out, late;
  const char *fail = NULL;
  kp_net_resolve_udp(n, name, &out, &late, &fail);
  kp_rmt_answer_t ans;
  memset(&ans, 0, sizeof ans);
  ans.failure = fail;
  for (size_t i = 0; i < out.n && ans.n < KP_RMT_MAX_ADDRS; i++) {
    char cc[3] = "";
    ans.a[ans.n] = out.a[i];
    kp_rmt_locate(cfg, &out.a[i], &ans.asn[ans.n], cc);
    ans.cert[ans.n++] = -1;
  }
  for (size_t i = 0; i < late.n && ans.nlate < KP_RMT_MAX_ADDRS; i++) {
    char cc[3] = "";
    ans.late[ans.nlate] = late.a[i];
    kp_rmt_locate(cfg, &late.a[i], &ans.late_asn[ans.nlate++], cc);
  }
  const kp_rmt_control_t *ctl = &j->ctl[ni];
  /* Satellite v2: fetch what matches nothing, over HTTPS with the name as SNI */
  for (size_t i = 0; cfg->cert_check && i < ans.n; i++) {
    if (kp_rmt_dns_matches(ctl, &ans.a[i], ans.asn[i], cfg->lab) || kp_rmt_policy_refuse(cfg->policy, &ans.a[i]))
      continue;
    kp_rl_wait(cfg->rl, &ans.a[i], ans.asn[i]);
    kp_addrs_t one = {.n = 1};
    one.a[0] = ans.a[i];
    kp_conn_t *c = NULL;
    const char *f = NULL;
    kp_net_connect(n, &one, 443, &c, &f);
    if (c) {
      kp_net_tls(n, c, name, &f);
      ans.cert[i] = f ? 0 : 1;
      kp_conn_close(c);
    } else {
      ans.cert[i] = 0;
    }
  }
  kp_rmt_verdict_t v = kp_rmt_dns_verdict(&ans, ctl, cfg->lab);
  row->verdict = v.verdict;
  row->technique = v.technique;
  row->wall_s = wall / 1000000000;
  kp_jw_t w;
  kp_jw_init(&w, &row->json);
  if (kp_rmt_head(&w, "keepon_remote_dns", t, name, cfg->software_version, wall) != KP_OK) goto done;
  char rs[KP_ADDR_STRLEN + 8], s[KP_ADDR_STRLEN];
  snprintf(rs, sizeof rs, t->addr.family == 6 ? "[%s]:%u" : "%s:%u", kp_addr_fmt(&t->addr, s),
           (unsigned)(cfg->port ? cfg->port : 53));
  kp_jw_key(&w, "test_keys");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "resolver", rs);
  kp_jw_kint(&w, "resolver_asn", t->asn);
  kp_jw_kstr(&w, "failure", fail);
  write_addrs(&w, "answers", ans.a, ans.n);
  write_addrs(&w, "late_answers", ans.late, ans.nlate);
  kp_jw_key(&w, "answer_cert");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < ans.n; i++) {
    if (ans.cert[i] < 0) kp_jw_null(&w);
    else kp_jw_bool(&w, ans.cert[i] == 1);
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
  kp_trace_write(tr, &w);
  kp_jw_kstr(&w, "keepon_verdict", v.verdict);
  kp_jw_kstr(&w, "keepon_technique", v.technique);
  kp_jw_kstr(&w, "keepon_reason", v.reason);
  kp_jw_kbool(&w, "keepon_failed", !strcmp(v.verdict, "blocked"));
  kp_jw_obj_end(&w);
  kp_msmt_write_tail(&w, &(kp_msmt_env_t){.test_name = "keepon_remote_dns", .test_version = "0.1.0",
                                          .start_wall_ns = wall},
                     (double)(kp_now_mono(j->clk) - t0) / 1e9);
done:
  if (w.st != KP_OK) {
    j->st = w.st;
    row->verdict = NULL;
  }
  kp_net_free(n);
  kp_trace_free(tr);
}

kp_status_t kp_rmt_dns_run(const kp_rmt_cfg_t *cfg, const kp_clock_t *clk, kp_buf_t *msmts, kp_buf_t *summary,
                           kp_buf_t *signals, kp_rmt_stats_t *st) {
  memset(st, 0, sizeof *st);
  if (!cfg->policy || !cfg->rl || cfg->nnames == 0 || cfg->ncontrol_resolvers == 0) return KP_ERR_INVAL;
  int64_t t0 = kp_now_mono(clk);
  job_t j = {.cfg = cfg, .clk = clk, .st = KP_OK};
  size_t total = cfg->ntargets * cfg->nnames;
  j.targets = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof *j.targets);
  j.ctl = calloc(cfg->nnames, sizeof *j.ctl);
  j.rows = calloc(total ? total : 1, sizeof *j.rows);
  kp_status_t rc = KP_ERR_NOMEM;
  if (!j.targets || !j.ctl || !j.rows) goto out;
  for (size_t i = 0; i < cfg->ntargets; i++) {
    j.targets[i] = cfg->targets[i];
    kp_rmt_locate(cfg, &j.targets[i].addr, &j.targets[i].asn, j.targets[i].cc);
    if (cfg->targets[i].role == KP_RMT_RESOLVER && kp_rmt_policy_refuse(cfg->policy, &cfg->targets[i].addr))
      st->refused++;
  }
  size_t par = cfg->parallel ? cfg->parallel : 64;
  kp_net_run_pool(cfg->nnames, par, control_one, &j);
  if (j.st == KP_OK) kp_net_run_pool(total, par, measure_one, &j);
  rc = j.st;
  size_t refused = st->refused;
  if (rc == KP_OK) rc = kp_rmt_emit(cfg, "remote-dns", j.rows, total, msmts, summary, signals, st);
  st->refused = refused;
  st->seconds = (double)(kp_now_mono(clk) - t0) / 1e9;
out:
  if (j.rows)
    for (size_t i = 0; i < total; i++) kp_buf_free(&j.rows[i].json);
  free(j.rows);
  free(j.ctl);
  free(j.targets);
  return rc;
}
