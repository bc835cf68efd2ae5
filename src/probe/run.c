/*
 * run.c: the IM suite runner: one flow per target (resolve -> connect ->
 * TLS -> HTTP, as OONI's urlgetter), every flow of every app plus the
 * control on one bounded pool under one deadline, then the analysis.
 *
 * Timing: the whole suite gets cfg->timeout seconds (a global deadline on
 * the monotonic clock that every step honours); step timeouts derive from it
 * (DNS T/4 <= 5 s, connect and TLS T/4 <= 10 s, HTTP T/3 <= 15 s, download
 * window T/3 <= 5 s), so a blocked network cannot make the suite overrun.
 * The control flow is queued first: every app's verdict needs it.
 * Each app has its own trace (its measurement's event lists); flows of one
 * app write to it concurrently (the trace is thread-safe).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "geo/geo.h"
#include "probe/probe.h"

typedef struct job {
  kp_net_t *net;
  const kp_app_targets_t *app;
  const kp_target_t *t;
  kp_flow_result_t *res;
  const kp_targets_t *targets;
  double download_window;
  const kp_clock_t *clk;
  const struct kp_geo *geo;
  uint32_t dns_asn;        /* the test's ASN for DNS consistency (0 = none) */
  size_t app_ix;           /* 1 + index of the app in the run; 0 = the control */
  int64_t end_ns;          /* monotonic time the flow finished: each app's test_runtime is its own */
} job_t;

typedef struct sys_arg {
  kp_net_t *net;
  const char *host;
  kp_addrs_t addrs;
  const char *failure;
} sys_arg_t;

static void *sys_resolve(void *p) {
  sys_arg_t *a = p;
  kp_net_resolve_system(a->net, a->host, &a->addrs, &a->failure);
  return NULL;
}

static bool all_expected(const kp_app_targets_t *app, const kp_addrs_t *s) {
  for (size_t i = 0; i < s->n; i++)
    if (!kp_an_addr_expected(app->nets, app->nnets, &s->a[i])) return false;
  return s->n > 0;
}
static bool any_expected(const kp_app_targets_t *app, const kp_addrs_t *s) {
  for (size_t i = 0; i < s->n; i++)
    if (kp_an_addr_expected(app->nets, app->nnets, &s->a[i])) return true;
  return false;
}

static bool match_pattern(const kp_targets_t *tg, const char *body, size_t n) {
  for (size_t p = 0; p < tg->npatterns; p++) {
    size_t pl = strlen(tg->patterns[p]);
    for (size_t i = 0; pl && i + pl <= n; i++)
      if (memcmp(body + i, tg->patterns[p], pl) == 0) return true;
  }
  return false;
}

/* OONI's fbmessenger rule: every answer's ASN is the service's own. -1 when it cannot be told. */
static int asn_consistent(const job_t *j, const kp_addrs_t *s) {
  if (!j->dns_asn || !j->geo || s->n == 0) return -1;
  for (size_t i = 0; i < s->n; i++) {
    kp_geo_info_t gi;
    if (kp_geo_lookup(j->geo, &s->a[i], &gi) != KP_OK || gi.asn != j->dns_asn) return 0;
  }
  return 1;
}

/* One flow. Never fails: what went wrong is in res. */
static void run_flow(job_t *j) {
  const kp_target_t *t = j->t;
  kp_flow_result_t *r = j->res;
  kp_an_flow_t *f = &r->facts;
  memset(r, 0, sizeof *r);
  r->target = t;
  f->name = t->url;
  f->role = t->role;
  f->counts = strcmp(t->role, "http_check") != 0;
  f->blockpage_only = !f->counts;
  f->download = strcmp(t->role, "download") == 0;
  f->min_kbps = t->min_kbps;
  kp_addrs_t addrs = {0};
  if (!t->host_is_ip) {
    f->resolved_name = true;
    sys_arg_t sa = {.net = j->net, .host = t->host};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, sys_resolve, &sa) == 0;
    if (!threaded) sys_resolve(&sa);
    kp_addrs_t first, late;
    kp_net_resolve_udp(j->net, t->host, &first, &late, &f->dns_failure);
    if (threaded) pthread_join(th, NULL);
    f->sys_failure = sa.failure;
    for (size_t i = 0; i < first.n; i++) kp_addrs_add(&addrs, &first.a[i]);
    for (size_t i = 0; i < sa.addrs.n; i++) kp_addrs_add(&addrs, &sa.addrs.a[i]);
    f->dns_unexpected = addrs.n > 0 && !any_expected(j->app, &addrs);
    f->dns_injected = first.n > 0 && !all_expected(j->app, &first) && any_expected(j->app, &late);
    r->dns_consistent = all_expected(j->app, &addrs);
    r->asn_consistent = asn_consistent(j, &addrs);
    if (addrs.n == 0) {
      r->failure = f->dns_failure ? f->dns_failure : f->sys_failure;
      r->failed_operation = "resolve";
      return;
    }
  } else {
    kp_addrs_add(&addrs, &t->ip);
    r->dns_consistent = true;
    r->asn_consistent = -1;
  }
  if (t->scheme == KP_SCHEME_DNS) return;
  kp_conn_t *c = NULL;
  f->connect_tried = true;
  kp_net_connect(j->net, &addrs, t->port, &c, &f->connect_failure);
  if (!c) {
    r->failure = f->connect_failure ? f->connect_failure : KP_FAIL_TIMEOUT;
    f->connect_failure = r->failure;
    r->failed_operation = "connect";
    return;
  }
  r->connect_ok = true;
  if (t->scheme == KP_SCHEME_TLS || t->scheme == KP_SCHEME_HTTPS) {
    f->tls_tried = true;
    kp_net_tls(j->net, c, t->host, &f->tls_failure);
    if (f->tls_failure) {
      r->failure = f->tls_failure;
      r->failed_operation = "tls_handshake";
      kp_conn_close(c);
      return;
    }
  }
  if (t->scheme == KP_SCHEME_HTTP || t->scheme == KP_SCHEME_HTTPS) {
    f->http_tried = true;
    kp_http_req_t req = {.method = t->method, .url = t->url, .host = t->host, .path = t->path};
    if (f->download) {
      req.body_cap = t->max_bytes ? t->max_bytes : 262144;
      req.keep_cap = 1024;
      req.max_seconds = j->download_window;
    }
    kp_http_result_t hr;
    kp_net_http(j->net, c, &req, &hr);
    f->http_failure = hr.failure;
    f->http_status = hr.status;
    f->bytes = f->download ? hr.wire_bytes : hr.bytes; /* goodput counts every byte that got through */
    f->seconds = hr.seconds;
    f->cut = f->download && hr.failure && strcmp(hr.failure, KP_FAIL_TIMEOUT) == 0;
    f->blockpage_match = hr.status && match_pattern(j->targets, hr.head, hr.head_len);
    r->http_status = hr.status;
    /* a download cut by its window after bytes flowed is a measurement, not a failure */
    if (hr.failure && !(f->download && hr.wire_bytes > 0 && strcmp(hr.failure, KP_FAIL_TIMEOUT) == 0)) {
      r->failure = hr.failure;
      r->failed_operation = "http_round_trip";
    }
    if (!r->failure) f->http_failure = NULL;
  }
  kp_conn_close(c);
}

typedef struct runctx {
  job_t *jobs;
} runctx_t;

static void pool_fn(void *arg, size_t i) {
  job_t *j = &((runctx_t *)arg)->jobs[i];
  run_flow(j);
  j->end_ns = kp_now_mono(j->clk);
}

kp_status_t kp_probe_cfg_check(const kp_probe_cfg_t *cfg, char *err, size_t cap) {
  kp_addr_t a;
  char host[KP_ADDR_STRLEN];
  uint16_t port;
  if (!cfg->resolver || (kp_addr_parse(cfg->resolver, &a) != KP_OK &&
                         (kp_hostport_parse(cfg->resolver, host, sizeof host, &port) != KP_OK ||
                          kp_addr_parse(host, &a) != KP_OK || port == 0))) {
    snprintf(err, cap, "bad resolver address '%s' (want IP or IP:port)", cfg->resolver ? cfg->resolver : "");
    return KP_ERR_INVAL;
  }
  if (cfg->ca_file) {
    FILE *f = fopen(cfg->ca_file, "r");
    if (!f) {
      snprintf(err, cap, "cannot read CA file '%s'", cfg->ca_file);
      return KP_ERR_INVAL;
    }
    fclose(f);
  }
  if (!(cfg->timeout >= 1 && cfg->timeout <= 3600)) {
    snprintf(err, cap, "timeout must be 1..3600 s");
    return KP_ERR_INVAL;
  }
  return KP_OK;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void kp_probe_im_run_free(kp_im_run_t *r) {
  for (size_t i = 0; i < r->napps; i++) {
    if (!r->app[i]) continue;
    kp_trace_free(r->app[i]->trace);
    free(r->app[i]);
  }
  memset(r, 0, sizeof *r);
}

kp_status_t kp_probe_im_run(const kp_probe_cfg_t *cfg, const kp_targets_t *targets, const char *const *apps,
                            const kp_clock_t *clk, kp_im_run_t *out) {
  memset(out, 0, sizeof *out);
  char err[256];
  kp_status_t st = kp_probe_cfg_check(cfg, err, sizeof err);
  if (st != KP_OK) return st;
  kp_net_cfg_t nc = {0};
  char host[KP_ADDR_STRLEN];
  uint16_t port = 53;
  if (kp_addr_parse(cfg->resolver, &nc.resolver) != KP_OK) {
    kp_hostport_parse(cfg->resolver, host, sizeof host, &port);
    kp_addr_parse(host, &nc.resolver);
  }
  kp_addr_fmt(&nc.resolver, out->resolver_ip);
  nc.resolver_port = port;
  nc.ca_file = cfg->ca_file;
  double T = cfg->timeout;
  nc.dns_timeout = clampd(T / 4, 0.5, 5);
  nc.connect_timeout = clampd(T / 4, 0.5, 10);
  nc.tls_timeout = clampd(T / 4, 0.5, 10);
  nc.http_timeout = clampd(T / 3, 0.5, 15);
  nc.dns_window = 0.5;
  nc.body_cap = 1 << 20;
  nc.deadline_ns = kp_now_mono(clk) + (int64_t)(T * 1e9);
  double download_window = clampd(T / 3, 0.5, 5);

  size_t napps = 0;
  for (; apps[napps]; napps++)
    if (napps >= KP_PROBE_MAX_APPS || !kp_targets_app(targets, apps[napps]) || !kp_im_test_find(apps[napps]))
      return KP_ERR_INVAL;
  kp_trace_t *ctl_trace = NULL;
  kp_net_t *nets[KP_PROBE_MAX_APPS + 1] = {0};
  kp_flow_result_t ctl_res;
  kp_net_cfg_t app_nc[KP_PROBE_MAX_APPS]; /* per app: nc plus the app's extra roots; outlive the run */
  job_t *jobs = calloc(1 + napps * KP_PROBE_MAX_TARGETS, sizeof *jobs);
  size_t nj = 0;
  if (!jobs || (st = kp_trace_new(clk, &ctl_trace)) != KP_OK || (st = kp_net_new(&nc, clk, ctl_trace, &nets[0])) != KP_OK)
    goto fail;
  jobs[nj++] = (job_t){.net = nets[0], .app = &targets->control, .t = &targets->control.t[0], .res = &ctl_res,
                       .targets = targets, .download_window = download_window, .clk = clk};
  for (size_t a = 0; a < napps; a++) {
    kp_im_app_result_t *r = calloc(1, sizeof *r);
    if (!r) {
      st = KP_ERR_NOMEM;
      goto fail;
    }
    out->app[out->napps++] = r;
    r->test = kp_im_test_find(apps[a]);
    r->app = kp_targets_app(targets, apps[a]);
    r->start_wall_ns = kp_now_wall(clk);
    app_nc[a] = nc;
    app_nc[a].extra_roots_pem = r->test->extra_roots ? r->test->extra_roots() : NULL;
    if ((st = kp_trace_new(clk, &r->trace)) != KP_OK ||
        (st = kp_net_new(&app_nc[a], clk, r->trace, &nets[a + 1])) != KP_OK)
      goto fail;
    r->nflows = r->app->ntargets;
    for (size_t i = 0; i < r->nflows; i++)
      jobs[nj++] = (job_t){.geo = cfg->geo, .dns_asn = r->test->dns_asn, .app_ix = a + 1, .net = nets[a + 1], .app = r->app, .t = &r->app->t[i], .res = &r->flow[i],
                           .targets = targets, .download_window = download_window, .clk = clk};
  }
  int64_t t_start = kp_now_mono(clk);
  runctx_t rc = {.jobs = jobs};
  st = kp_net_run_pool(nj, cfg->parallel ? cfg->parallel : 32, pool_fn, &rc);
  if (st != KP_OK) goto fail;

  out->control.dns_ok = !ctl_res.facts.resolved_name || ctl_res.failed_operation == NULL ||
                        strcmp(ctl_res.failed_operation, "resolve") != 0;
  out->control.reach_ok = ctl_res.connect_ok;
  for (size_t a = 0; a < out->napps; a++) {
    kp_im_app_result_t *r = out->app[a];
    int64_t last = t_start; /* from the pool's start to the app's own last flow */
    for (size_t k = 0; k < nj; k++)
      if (jobs[k].app_ix == a + 1 && jobs[k].end_ns > last) last = jobs[k].end_ns;
    r->runtime = (double)(last - t_start) / 1e9;
    kp_an_flow_t facts[KP_PROBE_MAX_TARGETS];
    for (size_t i = 0; i < r->nflows; i++) facts[i] = r->flow[i].facts;
    kp_an_classify(facts, r->nflows, &out->control, &r->verdict, r->outcome);
  }
  st = KP_OK;
  goto done;
fail:
  kp_probe_im_run_free(out);
done:
  for (size_t i = 0; i <= napps; i++) kp_net_free(nets[i]);
  kp_trace_free(ctl_trace);
  free(jobs);
  return st;
}
