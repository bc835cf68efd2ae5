/*
 * run.c: test every entry of a reach list once, under one deadline, and write the result as
 * one OONI-shaped measurement (envelope from src/msmt, event lists from src/net's trace).
 *
 * What "answered" means per kind (the only decision made here; the window's class is rule.c's):
 *   tcp    domestic/foreign: the connection was established.
 *          port (a hole): established OR refused: a RST from the far end proves the path
 *          carried the packets both ways (a network_down drop times out instead).
 *   dns    an answer came back from the resolver (an address, or NXDOMAIN: both are answers).
 *   https  TLS verified and an HTTP status line came back (any status: the site answered).
 * Names are resolved through cfg->resolver over UDP when given (a domestic resolver), else
 * the system's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "msmt/msmt.h"
#include "net/net.h"
#include "reach/reach.h"

typedef struct job {
  const kp_reach_cfg_t *cfg;
  const kp_reach_target_t *t;
  kp_reach_outcome_t *o;
  kp_net_cfg_t nc;
  kp_net_t *net;
  const kp_clock_t *clk;
  bool resolver_udp;
} job_t;

static bool resolve(job_t *j, kp_addrs_t *addrs) {
  kp_addr_t a;
  memset(addrs, 0, sizeof *addrs);
  if (kp_addr_parse(j->t->host, &a) == KP_OK) {
    kp_addrs_add(addrs, &a);
    return true;
  }
  const char *f = NULL;
  if (j->resolver_udp) kp_net_resolve_udp(j->net, j->t->host, addrs, NULL, &f);
  else kp_net_resolve_system(j->net, j->t->host, addrs, &f);
  if (addrs->n) return true;
  j->o->failure = f ? f : KP_FAIL_DNS_NODATA;
  j->o->operation = "resolve";
  return false;
}

static void one(void *arg, size_t i) {
  job_t *j = &((job_t *)arg)[i];
  const kp_reach_target_t *t = j->t;
  kp_reach_outcome_t *o = j->o;
  int64_t t0 = kp_now_mono(j->clk);
  memset(o, 0, sizeof *o);
  if (t->kind == KP_REACH_DNS) {
    kp_addrs_t got;
    const char *f = NULL;
    kp_net_resolve_udp(j->net, t->query, &got, NULL, &f);
    o->ok = got.n > 0 || (f && !strcmp(f, KP_FAIL_NXDOMAIN));
    if (!o->ok) {
      o->failure = f ? f : KP_FAIL_DNS_NODATA;
      o->operation = "dns_query";
    }
  } else {
    kp_addrs_t addrs;
    kp_conn_t *c = NULL;
    const char *f = NULL;
    if (!resolve(j, &addrs)) goto out;
    kp_net_connect(j->net, &addrs, t->port, &c, &f);
    if (!c) {
      o->failure = f ? f : KP_FAIL_TIMEOUT;
      o->operation = "connect";
      o->ok = t->scope == KP_REACH_PORT && !strcmp(o->failure, KP_FAIL_REFUSED);
      goto out;
    }
    if (t->kind == KP_REACH_HTTPS) {
      kp_net_tls(j->net, c, t->host, &f);
      if (f) {
        o->failure = f;
        o->operation = "tls_handshake";
        kp_conn_close(c);
        goto out;
      }
      char url[600];
      snprintf(url, sizeof url, "https://%s%s", t->host, t->query);
      kp_http_req_t req = {.method = "GET", .url = url, .host = t->host, .path = t->query, .body_cap = 4096,
                           .keep_cap = 1024};
      kp_http_result_t hr;
      kp_net_http(j->net, c, &req, &hr);
      o->http_status = hr.status;
      if (!hr.status) {
        o->failure = hr.failure ? hr.failure : KP_FAIL_EOF;
        o->operation = "http_round_trip";
        kp_conn_close(c);
        goto out;
      }
    }
    kp_conn_close(c);
    o->ok = true;
  }
out:
  o->seconds = (double)(kp_now_mono(j->clk) - t0) / 1e9;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

kp_status_t kp_reach_run(const kp_reach_cfg_t *cfg, const kp_reach_list_t *l, const kp_clock_t *clk,
                         kp_reach_run_t *out) {
  memset(out, 0, sizeof *out);
  if (!(cfg->timeout >= 1 && cfg->timeout <= 600) || !l->n || l->n > KP_REACH_MAX) return KP_ERR_INVAL;
  kp_addr_t res = {0};
  bool have_res = cfg->resolver && *cfg->resolver;
  if (have_res && kp_addr_parse(cfg->resolver, &res) != KP_OK) return KP_ERR_INVAL;
  job_t *jobs = calloc(l->n, sizeof *jobs);
  if (!jobs) return KP_ERR_NOMEM;
  /* one trace for the run: the entries' contexts share it (kp_trace locks), written once */
  kp_status_t st = kp_trace_new(clk, &out->trace);
  if (st != KP_OK) {
    free(jobs);
    return st;
  }
  out->start_wall_ns = kp_now_wall(clk);
  int64_t t0 = kp_now_mono(clk);
  double T = cfg->timeout;
  for (size_t i = 0; i < l->n; i++) {
    job_t *j = &jobs[i];
    *j = (job_t){.cfg = cfg, .t = &l->t[i], .o = &out->out[i], .clk = clk, .resolver_udp = have_res};
    j->nc.ca_file = cfg->ca_file;
    j->nc.dns_timeout = clampd(T / 3, 0.5, 5);
    j->nc.connect_timeout = clampd(T / 2, 0.5, 10);
    j->nc.tls_timeout = clampd(T / 3, 0.5, 10);
    j->nc.http_timeout = clampd(T / 3, 0.5, 10);
    j->nc.dns_window = 0.2;
    j->nc.body_cap = 4096;
    j->nc.deadline_ns = t0 + (int64_t)(T * 1e9);
    j->nc.resolver = res;
    if (l->t[i].kind == KP_REACH_DNS) {
      kp_addr_parse(l->t[i].host, &j->nc.resolver);
      j->nc.resolver_port = l->t[i].port;
    }
    if ((st = kp_net_new(&j->nc, clk, out->trace, &j->net)) != KP_OK) goto done;
  }
  st = kp_net_run_pool(l->n, 16, one, jobs);
  out->runtime = (double)(kp_now_mono(clk) - t0) / 1e9;
  kp_reach_tally(l, out);
done:
  for (size_t i = 0; i < l->n; i++) kp_net_free(jobs[i].net);
  free(jobs);
  return st;
}

void kp_reach_run_free(kp_reach_run_t *r) {
  kp_trace_free(r->trace);
  r->trace = NULL;
}

static const char *scope_name(kp_reach_scope_t s) {
  return s == KP_REACH_DOMESTIC ? "domestic" : s == KP_REACH_FOREIGN ? "foreign" : "port";
}
static const char *kind_name(kp_reach_kind_t k) { return k == KP_REACH_TCP ? "tcp" : k == KP_REACH_DNS ? "dns" : "https"; }

kp_status_t kp_reach_write(const kp_reach_cfg_t *cfg, const kp_reach_list_t *l, const kp_reach_run_t *r,
                           kp_buf_t *out) {
  kp_msmt_env_t env = {.test_name = "keepon_reach", .test_version = "0.1.0", .probe_cc = cfg->probe_cc,
                       .probe_asn = cfg->probe_asn, .probe_network_name = cfg->probe_network_name,
                       .resolver_ip = cfg->resolver, .software_version = cfg->software_version,
                       .start_wall_ns = r->start_wall_ns};
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_status_t st = kp_msmt_write_head(&w, &env);
  if (st != KP_OK) return st;
  kp_jw_key(&w, "test_keys");
  kp_jw_obj_begin(&w);
  if (r->trace) kp_trace_write(r->trace, &w);
  if (cfg->access_type) kp_jw_kstr(&w, "keepon_access_type", cfg->access_type);
  kp_jw_key(&w, "keepon_reach");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "class", kp_reach_class_name(r->cls));
  const kp_reach_counts_t *c = &r->counts;
  kp_jw_kint(&w, "domestic_ok", (int64_t)c->dom_ok);
  kp_jw_kint(&w, "domestic_tested", (int64_t)c->dom_n);
  kp_jw_kint(&w, "foreign_ok", (int64_t)c->for_ok);
  kp_jw_kint(&w, "foreign_tested", (int64_t)c->for_n);
  kp_jw_kint(&w, "port_ok", (int64_t)c->port_ok);
  kp_jw_kint(&w, "port_tested", (int64_t)c->port_n);
  kp_jw_key(&w, "targets");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < l->n; i++) {
    const kp_reach_target_t *t = &l->t[i];
    const kp_reach_outcome_t *o = &r->out[i];
    char tgt[300];
    if (strchr(t->host, ':')) snprintf(tgt, sizeof tgt, "[%s]:%u", t->host, t->port);
    else snprintf(tgt, sizeof tgt, "%s:%u", t->host, t->port);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "name", t->name);
    kp_jw_kstr(&w, "scope", scope_name(t->scope));
    kp_jw_kstr(&w, "kind", kind_name(t->kind));
    kp_jw_kstr(&w, "target", tgt);
    kp_jw_kbool(&w, "ok", o->ok);
    kp_jw_kstr(&w, "failure", o->failure);
    kp_jw_kstr(&w, "failed_operation", o->ok ? NULL : o->operation);
    if (o->http_status) kp_jw_kint(&w, "http_status", o->http_status);
    kp_jw_kdouble(&w, "t", o->seconds);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  kp_jw_obj_end(&w);
  kp_msmt_write_tail(&w, &env, r->runtime);
  return w.st;
}
