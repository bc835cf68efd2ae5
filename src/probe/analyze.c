/*
 * analyze.c: keepon's verdict for OONI measurements (`keepon analyze`).
 *
 * OONI's event lists (queries, tcp_connect, tls_handshakes, requests) from
 * any probe version are reduced back to flows, as keepon's probe runs them:
 *   1. one flow per requests[] entry (URL from request.url, else its Host
 *      header); it claims the TCP connects to its host's answers (or IP) on
 *      its port and the TLS handshakes with its server name. Its failed step
 *      is the first that failed: resolve (every query of the name failed),
 *      connect (every claimed connect failed), TLS, else the request.
 *   2. one flow per tcp_connect[] entry no request claimed
 *      (tcpconnect://<name>:<port>, the name being the first query whose
 *      answers hold the IP: WhatsApp's endpoints, Facebook's services);
 *   3. one flow per queried name no flow covered (dnslookup://<name>: a
 *      lookup-only target, or a name whose DNS failed before any connect).
 * Old measurements carry no transaction ids, so the join is by name, IP and
 * port. Roles follow the test (whatsapp endpoint/registration/web, telegram
 * dc/web, signal backend/dnslookup, facebook_messenger service/dnslookup;
 * any other test: "web"), then kp_an_classify decides as for the probe.
 *
 * The control: OONI's IM tests measure none, so analyze assumes the network
 * worked (dns_ok, reach_ok): it never says network_down, and NXDOMAIN is
 * dns_nxdomain. Expected networks and blockpage patterns are the target
 * file's (the compiled-in defaults unless the caller gives others).
 *
 * State of one input file: WHOLE (try the bytes as one JSON value: an object
 * is one measurement, an array a list) --not one value--> LINES (JSONL, each
 * line on its own; a line that is not a measurement is counted and skipped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "msmt/msmt.h"
#include "probe/probe.h"

#define AN_MAX_FLOWS 128
#define AN_MAX_HOSTS 64

typedef struct host {
  const char *name;
  size_t nq, nfailed;
  const char *failure;     /* first failure */
  size_t nans;
  kp_addr_t ans[32];
  bool covered;
} host_t;

typedef struct flow {
  char name[300];
  char host[256];
  kp_an_flow_t f;
  char role[32];
  const char *failure;
} flow_t;

typedef struct ctx {
  const kp_msmt_t *m;
  const char *test;
  const kp_app_targets_t *app; /* expected networks (may be NULL) */
  const kp_targets_t *tg;
  host_t hosts[AN_MAX_HOSTS];
  size_t nhosts;
  flow_t *flows;
  size_t nflows;
  bool tcp_used[512];
} ctx_t;

static host_t *host_get(ctx_t *c, const char *name, bool add) {
  for (size_t i = 0; i < c->nhosts; i++)
    if (strcmp(c->hosts[i].name, name) == 0) return &c->hosts[i];
  if (!add || c->nhosts >= AN_MAX_HOSTS) return NULL;
  host_t *h = &c->hosts[c->nhosts++];
  memset(h, 0, sizeof *h);
  h->name = name;
  return h;
}

static bool host_has(const host_t *h, const kp_addr_t *a) {
  for (size_t i = 0; h && i < h->nans; i++)
    if (kp_addr_eq(&h->ans[i], a)) return true;
  return false;
}

static void load_queries(ctx_t *c) {
  const kp_msmt_view_t *v = kp_msmt_view(c->m);
  for (size_t i = 0; i < v->nqueries; i++) {
    kp_msmt_query_t q;
    if (kp_msmt_query(c->m, i, &q) != KP_OK || !q.hostname) continue;
    host_t *h = host_get(c, q.hostname, true);
    if (!h) continue;
    h->nq++;
    if (q.failure) {
      h->nfailed++;
      if (!h->failure) h->failure = q.failure;
    }
    for (size_t k = 0; k < q.nanswers && h->nans < 32; k++) {
      kp_addr_t a;
      if (q.answer[k] && kp_addr_parse(q.answer[k], &a) == KP_OK && !host_has(h, &a)) h->ans[h->nans++] = a;
    }
  }
}

/* Role of a flow by the test's rules (module comment). */
static const char *role_for(const char *test, const char *host, kp_scheme_t scheme, const char *method) {
  if (strcmp(test, "whatsapp") == 0) {
    if (strncmp(host, "e", 1) == 0 && strstr(host, ".whatsapp.net") && strspn(host + 1, "0123456789") > 0)
      return "endpoint";
    if (strcmp(host, "v.whatsapp.net") == 0) return "registration";
    return "web";
  }
  if (strcmp(test, "telegram") == 0) {
    kp_addr_t a;
    if (strcmp(host, "web.telegram.org") == 0) return "web";
    return (method && strcmp(method, "POST") == 0) || kp_addr_parse(host, &a) == KP_OK ? "dc" : "web";
  }
  if (strcmp(test, "signal") == 0) return scheme == KP_SCHEME_DNS ? "dnslookup" : "backend";
  if (strcmp(test, "facebook_messenger") == 0) return scheme == KP_SCHEME_DNS ? "dnslookup" : "service";
  return "web";
}

static flow_t *flow_new(ctx_t *c, const char *name, const char *host, kp_scheme_t scheme, const char *method) {
  if (c->nflows >= AN_MAX_FLOWS) return NULL;
  flow_t *fl = &c->flows[c->nflows++];
  memset(fl, 0, sizeof *fl);
  snprintf(fl->name, sizeof fl->name, "%s", name);
  snprintf(fl->host, sizeof fl->host, "%s", host);
  snprintf(fl->role, sizeof fl->role, "%s", role_for(c->test, host, scheme, method));
  fl->f.name = fl->name;
  fl->f.role = fl->role;
  fl->f.counts = true;
  return fl;
}

/* DNS facts of a named flow. @return false when the name's every query failed (the flow stops there) */
static bool dns_facts(ctx_t *c, flow_t *fl) {
  kp_addr_t a;
  if (kp_addr_parse(fl->host, &a) == KP_OK) return true;
  host_t *h = host_get(c, fl->host, false);
  if (!h || h->nq == 0) return true; /* old probes did not record the lookup */
  h->covered = true;
  fl->f.resolved_name = true;
  if (h->nans == 0 && h->nfailed) {
    fl->f.dns_failure = fl->f.sys_failure = h->failure ? h->failure : "dns_no_answer";
    fl->failure = fl->f.dns_failure;
    return false;
  }
  bool any_expected = false;
  for (size_t i = 0; i < h->nans; i++)
    if (kp_an_addr_expected(c->app ? c->app->nets : NULL, c->app ? c->app->nnets : 0, &h->ans[i])) any_expected = true;
  fl->f.dns_unexpected = h->nans > 0 && !any_expected;
  return true;
}

static bool body_matches(const kp_targets_t *tg, const kp_json_t *body) {
  const char *s = kp_json_str(body);
  if (!s) s = kp_json_get_str(body, "data"); /* {format: base64, data}: patterns are text, so this rarely hits */
  for (size_t p = 0; s && tg && p < tg->npatterns; p++)
    if (tg->patterns[p][0] && strstr(s, tg->patterns[p])) return true;
  return false;
}

static void request_flows(ctx_t *c) {
  const kp_msmt_view_t *v = kp_msmt_view(c->m);
  const kp_json_t *reqs = kp_msmt_key(c->m, "requests");
  for (size_t i = 0; i < v->nrequests; i++) {
    kp_msmt_request_t rq;
    if (kp_msmt_request(c->m, i, &rq) != KP_OK) continue;
    char url[300];
    if (rq.url) {
      snprintf(url, sizeof url, "%s", rq.url);
    } else { /* old probes: no url, the Host header says where the request went */
      const char *hosthdr = kp_json_get_str(kp_json_get(kp_json_get(kp_json_at(reqs, i), "request"), "headers"), "Host");
      if (!hosthdr) continue;
      snprintf(url, sizeof url, "http://%s/", hosthdr);
    }
    kp_target_t t;
    if (kp_target_url_parse(url, &t) != KP_OK || (t.scheme != KP_SCHEME_HTTP && t.scheme != KP_SCHEME_HTTPS)) continue;
    flow_t *fl = flow_new(c, url, t.host, t.scheme, rq.method);
    if (!fl) return;
    if (!dns_facts(c, fl)) continue;
    /* connects to the host's addresses on the URL's port */
    host_t *h = host_get(c, t.host, false);
    bool any_ok = false;
    const char *cfail = NULL;
    for (size_t k = 0; k < v->ntcp_connect && k < 512; k++) {
      kp_msmt_tcp_t tc;
      kp_addr_t a;
      if (kp_msmt_tcp(c->m, k, &tc) != KP_OK || !tc.ip || kp_addr_parse(tc.ip, &a) != KP_OK || tc.port != t.port) continue;
      if (!(t.host_is_ip ? kp_addr_eq(&a, &t.ip) : host_has(h, &a))) continue;
      c->tcp_used[k] = true;
      fl->f.connect_tried = true;
      if (tc.success) any_ok = true;
      else if (!cfail) cfail = tc.failure ? tc.failure : "unknown_failure";
    }
    if (fl->f.connect_tried && !any_ok) {
      fl->f.connect_failure = fl->failure = cfail;
      continue;
    }
    if (t.scheme == KP_SCHEME_HTTPS) {
      bool tls_ok = false;
      const char *tfail = NULL;
      for (size_t k = 0; k < v->ntls_handshakes; k++) {
        kp_msmt_tls_t th;
        if (kp_msmt_tls(c->m, k, &th) != KP_OK || !th.server_name || strcmp(th.server_name, t.host) != 0) continue;
        fl->f.tls_tried = true;
        if (!th.failure) tls_ok = true;
        else if (!tfail) tfail = th.failure;
      }
      if (fl->f.tls_tried && !tls_ok) {
        fl->f.tls_failure = fl->failure = tfail;
        continue;
      }
    }
    if (!fl->f.connect_tried && !fl->f.resolved_name) fl->f.connect_tried = true; /* the request ran: it connected */
    fl->f.http_tried = true;
    fl->f.http_status = rq.status;
    fl->f.blockpage_match = rq.status && body_matches(c->tg, rq.body);
    if (rq.failure) fl->f.http_failure = fl->failure = rq.failure;
  }
}

static void tcp_flows(ctx_t *c) {
  const kp_msmt_view_t *v = kp_msmt_view(c->m);
  for (size_t k = 0; k < v->ntcp_connect && k < 512; k++) {
    kp_msmt_tcp_t tc;
    kp_addr_t a;
    if (c->tcp_used[k] || kp_msmt_tcp(c->m, k, &tc) != KP_OK || !tc.ip || kp_addr_parse(tc.ip, &a) != KP_OK) continue;
    const char *name = tc.ip;
    for (size_t i = 0; i < c->nhosts; i++)
      if (host_has(&c->hosts[i], &a)) {
        if (name == tc.ip) name = c->hosts[i].name;
        c->hosts[i].covered = true; /* shared (anycast) answers: every name holding the IP was connected */
      }
    char url[300];
    snprintf(url, sizeof url, "tcpconnect://%s:%d", name, tc.port);
    flow_t *fl = flow_new(c, url, name, KP_SCHEME_TCP, NULL);
    if (!fl) return;
    dns_facts(c, fl);
    fl->f.connect_tried = true;
    if (!tc.success) fl->f.connect_failure = fl->failure = tc.failure ? tc.failure : "unknown_failure";
  }
}

static void dns_flows(ctx_t *c) {
  for (size_t i = 0; i < c->nhosts; i++) {
    if (c->hosts[i].covered) continue;
    char url[300];
    snprintf(url, sizeof url, "dnslookup://%s", c->hosts[i].name);
    flow_t *fl = flow_new(c, url, c->hosts[i].name, KP_SCHEME_DNS, NULL);
    if (!fl) return;
    dns_facts(c, fl);
  }
}

static bool key_is(const kp_msmt_t *m, const char *k, const char *want) {
  const char *s = kp_json_str(kp_msmt_key(m, k));
  return s && strcmp(s, want) == 0;
}
static bool key_true(const kp_msmt_t *m, const char *k) { return kp_json_truthy(kp_msmt_key(m, k)); }

/* OONI's own anomaly rule for the test (its SummaryKeys), from its status keys. */
static int ooni_anomaly(const kp_msmt_t *m, const char *test) {
  if (strcmp(test, "whatsapp") == 0)
    return key_is(m, "whatsapp_endpoints_status", "blocked") || key_is(m, "registration_server_status", "blocked") ||
           key_is(m, "whatsapp_web_status", "blocked");
  if (strcmp(test, "telegram") == 0)
    return key_true(m, "telegram_http_blocking") || key_true(m, "telegram_tcp_blocking") ||
           key_is(m, "telegram_web_status", "blocked");
  if (strcmp(test, "signal") == 0) return key_is(m, "signal_backend_status", "blocked");
  if (strcmp(test, "facebook_messenger") == 0)
    return key_true(m, "facebook_dns_blocking") || key_true(m, "facebook_tcp_blocking");
  if (strcmp(test, "web_connectivity") == 0) {
    const kp_json_t *b = kp_msmt_key(m, "blocking");
    if (kp_json_type(b) == KP_JSON_FALSE) return 0;
    return kp_json_type(b) == KP_JSON_STRING ? 1 : -1;
  }
  return -1;
}

static void write_keys(kp_jw_t *w, const kp_an_result_t *v, const flow_t *fl, size_t n, const kp_tech_t *outcome) {
  kp_jw_kstr(w, "keepon_verdict", kp_verdict_name(v->verdict));
  if (v->tech == KP_TECH_NONE) kp_jw_knull(w, "keepon_technique");
  else kp_jw_kstr(w, "keepon_technique", kp_tech_name(v->tech));
  kp_jw_kstr(w, "keepon_evidence", v->evidence);
  kp_jw_kdouble(w, "keepon_reachable_fraction", v->reachable_fraction);
  kp_jw_kint(w, "keepon_blocked_endpoints", (int64_t)v->n_tech);
  kp_jw_kint(w, "keepon_total_endpoints", (int64_t)v->n_counting);
  kp_jw_kstr(w, "keepon_analysis", "keepon analyze: flows rebuilt from OONI's event lists; no control measured");
  kp_jw_key(w, "keepon_endpoints");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < n; i++) {
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "target", fl[i].name);
    kp_jw_kstr(w, "role", fl[i].role);
    kp_jw_kstr(w, "outcome", outcome[i] != KP_TECH_NONE ? kp_tech_name(outcome[i])
                             : kp_an_flow_ok(&fl[i].f) ? "ok"
                                                       : "failed");
    kp_jw_kstr(w, "failure", fl[i].failure);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
}

kp_status_t kp_analyze_one(const void *json, size_t n, const kp_targets_t *tg, kp_buf_t *out, kp_analysis_t *res,
                           char *err, size_t cap) {
  kp_msmt_t *m = NULL;
  kp_status_t st = kp_msmt_parse(json, n, &m, err, cap);
  if (st != KP_OK) return st;
  ctx_t *c = calloc(1, sizeof *c);
  flow_t *flows = calloc(AN_MAX_FLOWS, sizeof *flows);
  if (!c || !flows) {
    st = KP_ERR_NOMEM;
    goto out;
  }
  c->m = m;
  c->flows = flows;
  c->test = kp_msmt_view(m)->test_name;
  c->tg = tg;
  c->app = tg ? kp_targets_app(tg, c->test) : NULL;
  load_queries(c);
  request_flows(c);
  tcp_flows(c);
  dns_flows(c);
  kp_an_flow_t facts[AN_MAX_FLOWS];
  kp_tech_t outcome[AN_MAX_FLOWS];
  for (size_t i = 0; i < c->nflows; i++) facts[i] = flows[i].f;
  kp_an_control_t ctl = {.dns_ok = true, .reach_ok = true};
  kp_analysis_t r;
  memset(&r, 0, sizeof r);
  snprintf(r.test_name, sizeof r.test_name, "%s", c->test);
  r.nflows = c->nflows;
  r.ooni_anomaly = ooni_anomaly(m, c->test);
  if ((st = kp_an_classify(facts, c->nflows, &ctl, &r.verdict, outcome)) != KP_OK) goto out;
  /* the measurement as it came, keepon's keys added to test_keys (replacing any earlier ones) */
  const kp_json_t *root = kp_msmt_root(m);
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  for (size_t i = 0; i < kp_json_len(root); i++) {
    const char *k = kp_json_key_at(root, i);
    const kp_json_t *val = kp_json_at(root, i);
    kp_jw_key(&w, k);
    if (strcmp(k, "test_keys") != 0) {
      kp_jw_node(&w, val);
      continue;
    }
    kp_jw_obj_begin(&w);
    for (size_t j = 0; j < kp_json_len(val); j++) {
      const char *tk = kp_json_key_at(val, j);
      if (strncmp(tk, "keepon_", 7) == 0) continue;
      kp_jw_key(&w, tk);
      kp_jw_node(&w, kp_json_at(val, j));
    }
    write_keys(&w, &r.verdict, flows, c->nflows, outcome);
    kp_jw_obj_end(&w);
  }
  kp_jw_obj_end(&w);
  st = w.st;
  if (st == KP_OK && res) *res = r;
out:
  free(flows);
  free(c);
  kp_msmt_free(m);
  return st;
}

static void note_bad(kp_analyze_stats_t *st, size_t line, const char *why) {
  if (!st->bad++) {
    st->first_bad_line = line;
    snprintf(st->first_bad, sizeof st->first_bad, "%s", why);
  }
}

static kp_status_t one(const void *p, size_t n, const kp_targets_t *tg, kp_buf_t *out, kp_analyze_stats_t *st,
                       size_t line) {
  char err[160] = "";
  size_t mark = out->len;
  kp_status_t s = kp_analyze_one(p, n, tg, out, NULL, err, sizeof err);
  if (s == KP_OK) {
    st->measurements++;
    return kp_buf_putc(out, '\n');
  }
  out->len = mark; /* drop what was half written */
  if (s == KP_ERR_NOMEM) return s;
  note_bad(st, line, err[0] ? err : kp_strstatus(s));
  return KP_OK;
}

kp_status_t kp_analyze_text(const void *p, size_t n, const kp_targets_t *tg, kp_buf_t *out, kp_analyze_stats_t *st) {
  memset(st, 0, sizeof *st);
  const char *s = p;
  kp_json_doc_t *doc = NULL;
  if (n && kp_json_parse(s, n, NULL, &doc, NULL) == KP_OK) {
    const kp_json_t *root = kp_json_root(doc);
    kp_status_t r = KP_OK;
    if (kp_json_is(root, KP_JSON_ARRAY)) {
      kp_buf_t one_b;
      kp_buf_init(&one_b, n + 64);
      for (size_t i = 0; i < kp_json_len(root) && r == KP_OK; i++) {
        one_b.len = 0;
        kp_jw_t w;
        kp_jw_init(&w, &one_b);
        kp_jw_node(&w, kp_json_at(root, i));
        r = w.st == KP_OK ? one(one_b.data, one_b.len, tg, out, st, i + 1) : w.st;
      }
      kp_buf_free(&one_b);
    } else {
      r = one(s, n, tg, out, st, 1);
    }
    kp_json_doc_free(doc);
    return r;
  }
  kp_cur_t c = kp_cur_make(s, n);
  const uint8_t *l;
  size_t len, line = 0;
  while (kp_cur_line(&c, &l, &len)) {
    line++;
    size_t b = 0, e = len;
    while (b < e && (l[b] == ' ' || l[b] == '\t' || l[b] == '\r')) b++;
    while (e > b && (l[e - 1] == ' ' || l[e - 1] == '\t' || l[e - 1] == '\r')) e--;
    if (e > b) {
      kp_status_t r = one(l + b, e - b, tg, out, st, line);
      if (r != KP_OK) return r;
    }
  }
  return KP_OK;
}
